//! The first start on a machine, as a newcomer or a fresh gateway meets it: a store directory
//! that does not exist yet, one that is not writable, a key file configured in a directory that
//! does not exist, and a broker that refuses the gateway's credentials.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::time::Duration;

use crate::support::{Broker, Daemon, TestConfig, free_port, tracegate_command};

/// A config whose store lives in `store_dir` (relative to the config file), with `extra`.
fn config_with_store(port: u16, store_path: &str, extra: &str) -> TestConfig {
    let config = TestConfig::new(port, "", extra);
    let text = std::fs::read_to_string(&config.path)
        .unwrap()
        .replace("path = \"outbox.db\"", &format!("path = \"{store_path}\""));
    std::fs::write(&config.path, text).unwrap();
    config
}

/// Runs `tracegate run` on `config` until it exits by itself (it must fail at start), as
/// `uid` when given; returns (exit code, stderr).
fn run_until_exit(config: &std::path::Path, uid: Option<u32>) -> (Option<i32>, String) {
    let mut command = tracegate_command();
    command
        .args(["run", "--config"])
        .arg(config)
        .env("TRACEGATE_LOG", "info");
    if let Some(uid) = uid {
        command.uid(uid).gid(uid);
    }
    let out = command.output().expect("run tracegate");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn first_start_creates_the_store_directory_and_the_key_in_it() {
    let broker = Broker::start();
    let config = config_with_store(broker.port, "state/nested/outbox.db", "");
    let store_dir = config.dir.path().join("state/nested");
    assert!(!store_dir.exists());
    let mut daemon = Daemon::start(&config.path);
    daemon
        .wait_status(Duration::from_secs(20), "the daemon answers", |s| {
            s["broker"]["connected"] == true
        })
        .await;
    assert!(store_dir.join("outbox.db").exists());
    let key = store_dir.join("gateway.key");
    let text = std::fs::read_to_string(&key).expect("the key is made beside the outbox");
    assert!(text.starts_with("ed25519:"), "{text}");
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::metadata(&store_dir).unwrap().permissions().mode() & 0o007,
        0,
        "the store directory is not open to other users"
    );
    assert!(
        std::fs::read_dir(&store_dir)
            .unwrap()
            .filter_map(Result::ok)
            .all(|e| !e
                .file_name()
                .to_string_lossy()
                .starts_with(".gateway.key.new")),
        "no temporary key left behind"
    );
    assert!(daemon.terminate().success(), "{}", daemon.log());
}

#[test]
fn a_store_directory_that_cannot_be_created_is_named() {
    // A path through a regular file cannot be made a directory, even by root.
    let config = config_with_store(free_port(), "blocker/outbox.db", "");
    std::fs::write(config.dir.path().join("blocker"), b"not a directory").unwrap();
    let (code, err) = run_until_exit(&config.path, None);
    assert_ne!(code, Some(0), "{err}");
    assert!(
        err.contains("cannot create the store directory") && err.contains("blocker"),
        "names the directory: {err}"
    );
    assert!(err.contains("store.path"), "names the key: {err}");
}

#[test]
fn a_store_directory_that_is_not_writable_is_named() {
    let config = config_with_store(free_port(), "readonly/outbox.db", "");
    let dir = config.dir.path().join("readonly");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555)).unwrap();
    // Root writes everywhere: as root the daemon runs as `nobody`, who may read the config
    // (the temporary directory is made world-readable for it) but not write in `readonly/`.
    let uid = (unsafe { libc::geteuid() } == 0).then_some(65534);
    if uid.is_some() {
        std::fs::set_permissions(config.dir.path(), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        std::fs::set_permissions(&config.path, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let (code, err) = run_until_exit(&config.path, uid);
    assert_ne!(code, Some(0), "{err}");
    assert!(
        err.contains("is not writable by this user") && err.contains("readonly"),
        "says the directory is not writable: {err}"
    );
    assert!(err.contains("store.path"), "names the key: {err}");
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        0,
        "nothing written in it"
    );
}

#[test]
fn a_key_file_in_a_missing_directory_is_named_and_nothing_is_half_written() {
    let config = config_with_store(
        free_port(),
        "outbox.db",
        "[integrity]\nkey_file = \"keys/missing/gateway.key\"\n",
    );
    let (code, err) = run_until_exit(&config.path, None);
    assert_ne!(code, Some(0), "{err}");
    assert!(
        err.contains("cannot create the gateway key")
            && err.contains("keys/missing")
            && err.contains("does not exist"),
        "names the key file and its missing directory: {err}"
    );
    assert!(err.contains("integrity.key_file"), "names the key: {err}");
    assert!(!config.dir.path().join("keys").exists(), "nothing created");
}

#[tokio::test]
async fn a_wrong_broker_password_reads_as_a_refusal_not_an_outage() {
    let dir = tempfile::tempdir().unwrap();
    let passwords = dir.path().join("passwords");
    let made = std::process::Command::new(crate::support::require("mosquitto_passwd"))
        .args(["-c", "-b"])
        .arg(&passwords)
        .args(["gw-test", "the-right-one"])
        .status()
        .expect("mosquitto_passwd");
    assert!(made.success());
    let broker = Broker::start_with(&format!(
        "allow_anonymous false\npassword_file {}\n",
        passwords.display()
    ));
    let config = TestConfig::with_mqtt(
        broker.port,
        "username = \"gw-test\"\npassword_file = \"mqtt.secret\"",
        "",
        "",
    );
    // The broker's config said `allow_anonymous true` first; the later line wins, as in
    // mosquitto's own config reading.
    std::fs::write(config.dir.path().join("mqtt.secret"), "a-wrong-one\n").unwrap();
    let daemon = Daemon::start(&config.path);
    let status = daemon
        .wait_status(Duration::from_secs(20), "the refusal in status", |s| {
            s["broker"]["refused"]["reason"].is_string()
        })
        .await;
    assert_eq!(status["broker"]["connected"], false);
    assert_eq!(
        status["broker"]["refused"]["reason"], "not_authorized",
        "{status}"
    );
    assert!(status["broker"]["connect_refusals_total"].as_u64() >= Some(1));
    daemon
        .wait_log(
            Duration::from_secs(10),
            "the broker REFUSED the connection: not authorised",
        )
        .await;
    let log = daemon.log();
    assert!(log.contains("mqtt.password_file"), "{log}");
    assert!(
        !log.contains("cannot reach the broker"),
        "a refusal is not an outage: {log}"
    );
    assert!(!log.contains("a-wrong-one"), "the secret is never logged");

    // `tracegate status` says the same in words.
    let out = tracegate_command()
        .args(["status", "--config"])
        .arg(&config.path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("REFUSED the connection: not authorised") && text.contains("mqtt.username"),
        "{text}"
    );

    // And the metrics.
    let report: tracegate::ops::status::StatusReport =
        serde_json::from_value(status.clone()).unwrap();
    let metrics = tracegate::ops::metrics::encode::render(report);
    assert!(
        metrics.contains("tracegate_mqtt_refused 1"),
        "the refusal gauge: {metrics}"
    );
}
