//! Reload without losing an event: devices added, removed and changed while a scanner that
//! stays keeps scanning; every code arrives at a real subscriber, each in the context that
//! was in force when it was read. A config that does not load is refused with the
//! check-config message and the running configuration carries on.

use std::time::Duration;

use crate::support::{
    Broker, Daemon, Received, Subscriber, TestConfig, codes, scan, scan_in_background,
    send_command, serial_scanner, signal, tracegate,
};
use serde_json::json;
use tracegate_drivers::sim::VirtualSerialPort;

/// `id`'s device section with a business step.
fn scanner_at(id: &str, pty: &VirtualSerialPort, biz_step: &str) -> String {
    format!(
        "{}biz_step = \"{biz_step}\"\n",
        serial_scanner(id, pty.path())
    )
}

/// Rewrites the config's device sections (everything after the `[clock]` table).
fn rewrite_devices(config: &TestConfig, devices: &str) {
    let text = std::fs::read_to_string(&config.path).unwrap();
    let head = text.split("[[devices]]").next().unwrap();
    std::fs::write(&config.path, format!("{head}{devices}")).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_under_traffic_adds_removes_and_changes_devices_without_losing_a_read() {
    let broker = Broker::start();
    let steady = VirtualSerialPort::new().unwrap();
    let mut changed = VirtualSerialPort::new().unwrap();
    let removed = VirtualSerialPort::new().unwrap();
    let mut added = VirtualSerialPort::new().unwrap();
    let before = format!(
        "{}{}{}[[devices]]\nid = \"light\"\nkind = \"sim-output\"\nlines = [\"red\"]\n",
        scanner_at("steady", &steady, "receiving"),
        scanner_at("changed", &changed, "receiving"),
        scanner_at("removed", &removed, "receiving"),
    );
    let config = TestConfig::new(broker.port, "", &before);
    let mut sub = Subscriber::connect(
        broker.port,
        &[
            "tracegate/gw-test/events",
            "tracegate/gw-test/reply/+",
            "tracegate/gw-test/status",
        ],
    )
    .await;
    let daemon = Daemon::start(&config.path);
    daemon.wait_devices_up().await;
    sub.wait_online(daemon.pid()).await;

    // The steady scanner scans throughout the reload.
    let steady_codes = codes("STEADY", 1500);
    let (steady_scanning, _stop) = scan_in_background(steady, steady_codes.clone(), 500.0);
    let old_codes = codes("OLD", 20);
    scan(&mut changed, &old_codes).await;
    let mut got = Received::default();
    got.collect_until(&mut sub, Duration::from_secs(20), |r| {
        old_codes.iter().all(|c| r.has_read(c))
    })
    .await;

    // Changed: a new business step; removed: gone; added: a new scanner; the light gets a
    // second line.
    let text = std::fs::read_to_string(&config.path).unwrap();
    let steady_section = text
        .split("[[devices]]")
        .find(|s| s.contains("id = \"steady\""))
        .unwrap()
        .to_string();
    rewrite_devices(
        &config,
        &format!(
            "[[devices]]{steady_section}{}{}[[devices]]\nid = \"light\"\nkind = \"sim-output\"\nlines = [\"red\", \"green\"]\n",
            scanner_at("changed", &changed, "shipping"),
            scanner_at("added", &added, "shipping"),
        ),
    );
    send_command(&sub, "reload", "r1", json!({})).await;
    got.collect_until(&mut sub, Duration::from_secs(20), |r| {
        r.final_reply("r1").is_some()
    })
    .await;
    let report = &got.final_reply("r1").unwrap()["result"];
    assert_eq!(report["added"], json!(["added"]), "{report}");
    assert_eq!(report["removed"], json!(["removed"]), "{report}");
    assert_eq!(report["restarted"], json!(["changed", "light"]), "{report}");
    assert_eq!(report["unchanged"], json!(["steady"]), "{report}");
    assert_eq!(report["restart_required"], json!([]), "{report}");

    daemon
        .wait_status(Duration::from_secs(20), "new devices up", |s| {
            let devices = s["devices"].as_array().unwrap();
            let ids: Vec<&str> = devices.iter().map(|d| d["id"].as_str().unwrap()).collect();
            ids == ["steady", "changed", "added", "light"]
                && devices.iter().all(|d| d["state"] == "up")
        })
        .await;
    let new_codes = codes("NEW", 20);
    let added_codes = codes("ADDED", 20);
    scan(&mut changed, &new_codes).await;
    scan(&mut added, &added_codes).await;
    steady_scanning.await.unwrap();

    got.collect_until(&mut sub, Duration::from_secs(60), |r| {
        [&steady_codes, &new_codes, &added_codes]
            .iter()
            .all(|set| set.iter().all(|c| r.has_read(c)))
    })
    .await;
    let step = |code: &str| -> String {
        let event = got.events.iter().find(|e| e["tg:rawData"] == code).unwrap();
        event["bizStep"].as_str().unwrap().to_string()
    };
    for code in &old_codes {
        assert_eq!(step(code), "receiving", "{code} was read before the reload");
    }
    for code in new_codes.iter().chain(&added_codes) {
        assert_eq!(step(code), "shipping", "{code} was read after the reload");
    }
    // The steady scanner's reads all arrived, in order, none lost while others restarted.
    let steady_arrived: Vec<String> = got
        .first_arrivals()
        .into_iter()
        .filter(|c| c.starts_with("STEADY"))
        .collect();
    assert_eq!(steady_arrived, steady_codes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_that_does_not_load_is_refused_and_the_running_one_carries_on() {
    let broker = Broker::start();
    let mut pty = VirtualSerialPort::new().unwrap();
    let config = TestConfig::new(broker.port, "", &serial_scanner("door", pty.path()));
    let mut sub = Subscriber::connect(broker.port, &["tracegate/gw-test/events"]).await;
    let daemon = Daemon::start(&config.path);
    daemon.wait_devices_up().await;

    let text = std::fs::read_to_string(&config.path).unwrap();
    std::fs::write(&config.path, format!("{text}bauds = 9600\n")).unwrap();
    let (_, _, expected) = tracegate(&["check-config", config.path.to_str().unwrap()]);
    let expected = expected.trim().trim_start_matches("error: ").to_string();
    assert!(expected.contains("unknown key `bauds`"), "{expected}");

    // By SIGHUP: refused in the log with the check-config message.
    signal(daemon.pid(), libc::SIGHUP);
    daemon
        .wait_log(Duration::from_secs(10), "reload refused")
        .await;
    assert!(daemon.log().contains(&expected), "{}", daemon.log());

    // By command: refused in the reply, the same message.
    let (code, out, err) = tracegate(&["cmd", "--config", config.path.to_str().unwrap(), "reload"]);
    assert_eq!(code, 1, "{out}");
    assert!(err.contains(&expected), "{err}");

    // The running config carries on.
    let sent = codes("STILL", 50);
    scan(&mut pty, &sent).await;
    let mut got = Received::default();
    got.collect_until(&mut sub, Duration::from_secs(20), |r| {
        r.distinct_reads() >= sent.len()
    })
    .await;
    assert_eq!(got.first_arrivals(), sent);
}
