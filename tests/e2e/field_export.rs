//! The field kit's carry path end to end, with the real binary: a gateway offline captures
//! scans, `tracegate export --to` writes them to a "stick" while the daemon runs, `tracegate
//! verify` passes it with the key the daemon publishes in its status and names the file of a
//! tampered copy; the daemon killed (SIGKILL) and restarted continues the same chain, which
//! `tracegate verify outbox.db` checks; the link comes back and everything is delivered, the
//! retained status carrying the public key.

use std::time::Duration;

use crate::support::{
    Broker, Daemon, Proxy, Received, Subscriber, TestConfig, free_port, scan, serial_scanner,
    tracegate,
};
use tracegate_drivers::sim::VirtualSerialPort;

fn codes(prefix: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("]C1010950600013435221{prefix}{i:04}"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_backlog_is_exported_verified_and_still_delivered() {
    // The kit is in the field: its uplink is cut until the end.
    let broker = Broker::start();
    let uplink = Proxy::start(broker.port).await;
    uplink.cut();
    let mut pty = VirtualSerialPort::new().unwrap();
    let config = TestConfig::new(uplink.port, "", &serial_scanner("stick-1", pty.path()));
    let mut daemon = Daemon::start(&config.path);
    daemon.wait_devices_up().await;
    scan(&mut pty, &codes("A", 30)).await;
    let status = daemon
        .wait_status(Duration::from_secs(20), "30 captured", |s| {
            s["queue"]["undelivered"] == 30
        })
        .await;
    let key = status["integrity"]["public_key"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(status["integrity"]["algorithm"], "ed25519");
    let config_arg = config.path.to_str().unwrap().to_string();

    // Export while the daemon runs.
    let stick = config.dir.path().join("stick");
    let stick_arg = stick.to_str().unwrap().to_string();
    let (code, out, err) = tracegate(&["export", "--config", &config_arg, "--to", &stick_arg]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("exported 30 events"), "{out}");
    assert!(
        out.contains("30 events marked exported; they still go out"),
        "{out}"
    );
    let status = daemon
        .wait_status(Duration::from_secs(10), "marked exported", |s| {
            s["queue"]["exported_total"] == 30
        })
        .await;
    assert_eq!(
        status["queue"]["undelivered"], 30,
        "exported, not delivered"
    );
    let (code, out, err) = tracegate(&["verify", &stick_arg, "--key", &key]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("OK: export 30 events"), "{out}");

    // A copy with one event edited: refused, naming the file and the event.
    let copy = config.dir.path().join("copy");
    std::fs::create_dir(&copy).unwrap();
    for entry in std::fs::read_dir(&stick).unwrap().flatten() {
        std::fs::copy(entry.path(), copy.join(entry.file_name())).unwrap();
    }
    let file = copy.join("events-000001.json");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replacen("A0007", "B0007", 1)).unwrap();
    let (code, out, _) = tracegate(&["verify", copy.to_str().unwrap(), "--key", &key]);
    assert_eq!(code, 1, "{out}");
    assert!(out.starts_with("FAILED"), "{out}");
    assert!(out.contains("events-000001.json event 8 (seq 8"), "{out}");

    // SIGKILL, restart, more reads: one chain, intact.
    daemon.kill();
    let mut daemon = Daemon::start(&config.path);
    daemon.wait_devices_up().await;
    scan(&mut pty, &codes("C", 10)).await;
    daemon
        .wait_status(Duration::from_secs(20), "40 captured", |s| {
            s["queue"]["undelivered"] == 40
        })
        .await;
    let outbox = config.outbox();
    let (code, out, err) = tracegate(&["verify", outbox.to_str().unwrap(), "--key", &key]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("OK: outbox 40 events"), "{out}");

    // The link comes back: the exported events still go out (the platform drops duplicates
    // by eventID), with the rest. The platform listens before the kit can reach it.
    let mut sub = Subscriber::connect(
        broker.port,
        &["tracegate/gw-test/events", "tracegate/gw-test/status"],
    )
    .await;
    uplink.restore();
    let mut got = Received::default();
    got.collect_until(&mut sub, Duration::from_secs(30), |r| r.events.len() >= 40)
        .await;
    assert!(
        got.statuses
            .iter()
            .any(|s| s["integrity"]["public_key"] == key.as_str()),
        "the retained status carries the gateway's public key"
    );
    daemon.terminate();
}

/// The office end: a field kit's stick imported by another gateway with a link, published on
/// the field kit's own topic once, eventIDs unchanged; the same stick again adds nothing; a
/// tampered stick is refused whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_field_export_is_imported_at_the_office_once() {
    // The field kit: offline, 20 reads, exported.
    let mut pty = VirtualSerialPort::new().unwrap();
    let field = TestConfig::new(free_port(), "", &serial_scanner("stick-1", pty.path()));
    let mut field_daemon = Daemon::start(&field.path);
    field_daemon.wait_devices_up().await;
    scan(&mut pty, &codes("F", 20)).await;
    let status = field_daemon
        .wait_status(Duration::from_secs(20), "20 captured", |s| {
            s["queue"]["undelivered"] == 20
        })
        .await;
    let key = status["integrity"]["public_key"]
        .as_str()
        .unwrap()
        .to_string();
    let stick = field.dir.path().join("stick");
    let (code, out, err) = tracegate(&[
        "export",
        "--config",
        field.path.to_str().unwrap(),
        "--to",
        stick.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    field_daemon.terminate();
    let exported: Vec<String> = {
        let text = std::fs::read_to_string(stick.join("events-000001.json")).unwrap();
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        doc["epcisBody"]["eventList"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["eventID"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(exported.len(), 20);

    // The office gateway, online.
    let broker = Broker::start();
    let office = TestConfig::new(broker.port, "", "");
    let text = std::fs::read_to_string(&office.path)
        .unwrap()
        .replace("id = \"gw-test\"", "id = \"gw-office\"");
    std::fs::write(&office.path, text).unwrap();
    // Only the field kit's topic: every event received there went out under its id.
    let mut sub = Subscriber::connect(broker.port, &["tracegate/gw-test/events"]).await;
    let office_daemon = Daemon::start(&office.path);
    office_daemon
        .wait_status(Duration::from_secs(20), "online", |s| s["online"] == true)
        .await;
    let office_arg = office.path.to_str().unwrap().to_string();
    let stick_arg = stick.to_str().unwrap().to_string();
    let import = || {
        let (office_arg, stick_arg, key) = (office_arg.clone(), stick_arg.clone(), key.clone());
        tokio::task::spawn_blocking(move || {
            tracegate(&["import", &stick_arg, "--key", &key, "--config", &office_arg])
        })
    };
    let (code, out, err) = import().await.unwrap();
    assert_eq!(code, 0, "{out}{err}");
    let reply: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (reply["new"].as_u64(), reply["skipped"].as_u64()),
        (Some(20), Some(0)),
        "{reply}"
    );
    let mut got = Received::default();
    got.collect_event_ids(&mut sub, Duration::from_secs(30), exported.clone())
        .await;
    assert!(
        got.events.len() == 20,
        "the field kit's 20 events, on its own topic: {}",
        got.events.len()
    );

    // The same stick again: nothing new.
    let (code, out, err) = import().await.unwrap();
    assert_eq!(code, 0, "{out}{err}");
    let reply: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (reply["new"].as_u64(), reply["skipped"].as_u64()),
        (Some(0), Some(20)),
        "{reply}"
    );
    let status = office_daemon
        .wait_status(Duration::from_secs(10), "the imports counted", |s| {
            s["imports"]["gw-test"]["skipped"] == 20
        })
        .await;
    assert_eq!(status["imports"]["gw-test"]["new"], 20, "{status}");
    assert_eq!(status["queue"]["undelivered"], 0, "{status}");

    // A tampered stick: refused whole, saying why.
    let file = stick.join("events-000001.json");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replacen("F0003", "G0003", 1)).unwrap();
    let (code, out, err) = import().await.unwrap();
    assert_eq!(code, 1, "{out}");
    assert!(
        err.contains("does not verify, nothing was imported"),
        "{err}"
    );
    assert!(err.contains("events-000001.json"), "{err}");
}
