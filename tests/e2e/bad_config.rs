//! Bad config files: one clear message naming file, line and key, and exit code 2, from both
//! `check-config` and `run`.

use crate::support::tracegate;

const GOOD: &str =
    "[gateway]\nid = \"gw\"\n[store]\npath = \"outbox.db\"\n[mqtt]\nhost = \"127.0.0.1\"\n";

fn check(text: &str, line: usize, needle: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tracegate.toml");
    std::fs::write(&path, text).unwrap();
    let path = path.to_str().unwrap();
    for args in [vec!["check-config", path], vec!["run", "--config", path]] {
        let (code, out, err) = tracegate(&args);
        assert_eq!(code, 2, "{args:?}: exit code; stderr: {err}");
        assert!(out.is_empty(), "{out}");
        assert_eq!(err.lines().count(), 1, "one message: {err}");
        assert!(
            err.starts_with(&format!("error: {path}:{line}:")),
            "names file and line: {err}"
        );
        assert!(err.contains(needle), "{err}");
    }
}

#[test]
fn unknown_key() {
    check(
        &format!(
            "{GOOD}[[devices]]\nid = \"s1\"\nkind = \"serial-scanner\"\nport = \"/dev/ttyACM0\"\nspeed = 9600\n"
        ),
        11,
        "unknown key `speed`",
    );
    check(
        &GOOD.replace("[mqtt]", "[mqtt]\nhots = \"x\""),
        6,
        "unknown field `hots`",
    );
}

#[test]
fn wrong_type() {
    check(
        &format!(
            "{GOOD}[[devices]]\nid = \"s1\"\nkind = \"serial-scanner\"\nport = \"/dev/ttyACM0\"\nbaud = \"9600\"\n"
        ),
        11,
        "expected u32",
    );
    check(
        &GOOD.replace("[store]", "[store]\nmax_events = \"many\""),
        4,
        "max_events",
    );
}

#[test]
fn missing_device_settings() {
    check(
        &format!("{GOOD}[[devices]]\nid = \"s1\"\nkind = \"serial-scanner\"\n"),
        7,
        "devices[0] (id \"s1\", kind serial-scanner): missing field `port`",
    );
}

#[test]
fn unreadable_password_file() {
    check(
        &GOOD.replace(
            "host = \"127.0.0.1\"",
            "host = \"127.0.0.1\"\nusername = \"gw\"\npassword_file = \"no-such-secret\"",
        ),
        8,
        "mqtt.password_file: cannot read",
    );
}

#[test]
fn missing_file_is_a_usage_error() {
    let (code, _, err) = tracegate(&["check-config", "/nonexistent/tracegate.toml"]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot read the config file"), "{err}");
}

#[test]
fn a_good_file_passes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.toml");
    std::fs::write(&path, GOOD).unwrap();
    let (code, out, _) = tracegate(&["check-config", path.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(out.contains("ok"));
}
