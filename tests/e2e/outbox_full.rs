//! A full outbox under each `when_full` policy, with the uplink down: the documented behaviour,
//! counted, and visible in `tracegate status --json`; the kept events go out when the broker
//! appears.

use std::time::Duration;

use crate::support::{
    Broker, Daemon, Proxy, Received, Subscriber, TestConfig, codes, free_port, scan_in_background,
    serial_scanner, tracegate,
};
use tracegate::outbox::store::OutboxReader;
use tracegate_drivers::sim::VirtualSerialPort;

/// The uplink: the gateway talks to the broker's future port through a proxy that starts cut,
/// so the test decides when the kept events may go out (after its subscriber is listening).
struct Uplink {
    proxy: Proxy,
    broker_port: u16,
}

async fn fill(policy: &str) -> (TestConfig, Daemon, Uplink, Vec<String>) {
    let broker_port = free_port(); // no broker yet
    let proxy = Proxy::start(broker_port).await;
    proxy.cut();
    let pty = VirtualSerialPort::new().unwrap();
    let config = TestConfig::new(
        proxy.port,
        &format!("max_events = 50\nwhen_full = \"{policy}\""),
        &serial_scanner("scanner-1", pty.path()),
    );
    let daemon = Daemon::start(&config.path);
    daemon.wait_devices_up().await;
    let sent = codes("FULL", 80);
    let (scanner, _stop) = scan_in_background(pty, sent.clone(), 0.0);
    std::mem::forget(scanner.await.unwrap()); // keep the scanner plugged in
    daemon
        .wait_status(Duration::from_secs(20), "outbox full", |s| {
            s["queue"]["refused_total"].as_u64().unwrap()
                + s["queue"]["dropped_total"].as_u64().unwrap()
                >= 30
        })
        .await;
    let uplink = Uplink { proxy, broker_port };
    (config, daemon, uplink, sent)
}

fn status_json(config: &TestConfig) -> serde_json::Value {
    let (code, out, err) = tracegate(&[
        "status",
        "--json",
        "--config",
        config.path.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap()
}

fn kept(config: &TestConfig) -> Vec<String> {
    let mut reader = OutboxReader::open(&config.outbox()).unwrap();
    reader
        .tail(1000, true)
        .unwrap()
        .iter()
        .map(|row| {
            serde_json::from_str::<serde_json::Value>(&row.body).unwrap()["tg:rawData"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuse_new_keeps_the_first_events_and_refuses_the_rest() {
    let (config, mut daemon, uplink, sent) = fill("refuse-new").await;
    let status = status_json(&config);
    assert_eq!(status["queue"]["undelivered"], 50);
    assert_eq!(status["queue"]["refused_total"], 30);
    assert_eq!(status["queue"]["dropped_total"], 0);
    assert_eq!(status["queue"]["full"], true);
    assert_eq!(status["queue"]["when_full"], "refuse-new");
    assert_eq!(
        status["devices"][0]["errors_total"], 30,
        "refusals show on the device too"
    );
    assert_eq!(kept(&config), sent[..50]);
    assert!(daemon.log().contains("OUTBOX FULL"), "logged, not silent");

    // The broker appears and the link comes back: what was kept goes out. The subscriber is
    // listening before the gateway can reach the broker; events are not retained, so a
    // subscriber that came later would miss them.
    let _broker = Broker::start_on(uplink.broker_port, "");
    let mut sub = Subscriber::connect(uplink.broker_port, &["tracegate/gw-test/events"]).await;
    uplink.proxy.restore();
    let mut got = Received::default();
    got.collect_until(&mut sub, Duration::from_secs(30), |r| {
        r.distinct_reads() >= 50
    })
    .await;
    assert_eq!(got.first_arrivals(), sent[..50]);
    assert!(daemon.terminate().success());
    // Counters survive a restart: read from the file with no daemon.
    let offline = status_json(&config);
    assert_eq!(offline["daemon"]["running"], false);
    assert_eq!(offline["queue"]["refused_total"], 30);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_oldest_keeps_the_newest_events_and_counts_drops() {
    let (config, mut daemon, _uplink, sent) = fill("drop-oldest").await;
    let status = status_json(&config);
    assert_eq!(status["queue"]["undelivered"], 50);
    assert_eq!(status["queue"]["dropped_total"], 30);
    assert_eq!(status["queue"]["refused_total"], 0);
    assert_eq!(status["queue"]["when_full"], "drop-oldest");
    assert_eq!(kept(&config), sent[30..]);
    assert!(daemon.log().contains("dropped"), "logged, not silent");
    assert!(daemon.terminate().success());
}
