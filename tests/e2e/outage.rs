//! The uplink goes away mid-stream — the broker is stopped and restarted, or the network link
//! is cut — while scans keep coming: every event still arrives, in order, and the retained
//! status topic shows the gateway offline, then online again.

use std::time::Duration;

use crate::support::{
    Broker, Daemon, Proxy, Received, Subscriber, TestConfig, codes, scan_in_background,
    serial_scanner,
};
use tracegate_drivers::sim::VirtualSerialPort;

fn online_then_offline_then_online(statuses: &[serde_json::Value]) -> bool {
    let online = |s: &serde_json::Value| s["online"] == true;
    let Some(first_on) = statuses.iter().position(online) else {
        return false;
    };
    let Some(off) = statuses[first_on..]
        .iter()
        .position(|s| s["online"] == false)
    else {
        return false;
    };
    statuses[first_on + off..].iter().any(online)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_restart_mid_stream_loses_nothing() {
    let mut broker = Broker::start();
    let pty = VirtualSerialPort::new().unwrap();
    let config = TestConfig::new(broker.port, "", &serial_scanner("scanner-1", pty.path()));
    let mut sub = Subscriber::connect(
        broker.port,
        &["tracegate/gw-test/events", "tracegate/gw-test/status"],
    )
    .await;
    let daemon = Daemon::start(&config.path);
    daemon.wait_devices_up().await;

    let sent = codes("OUTAGE", 3000);
    let (scanner, _stop) = scan_in_background(pty, sent.clone(), 1000.0);
    let mut got = Received::default();
    got.collect_until(&mut sub, Duration::from_secs(30), |r| {
        r.distinct_reads() >= 500
    })
    .await;

    broker.stop();
    daemon
        .wait_status(Duration::from_secs(20), "broker seen gone", |s| {
            s["broker"]["connected"] == false
        })
        .await;
    broker.restart();

    got.collect_until(&mut sub, Duration::from_secs(90), |r| {
        r.distinct_reads() >= sent.len() && online_then_offline_then_online(&r.statuses)
    })
    .await;
    scanner.await.unwrap();
    assert_eq!(got.first_arrivals(), sent, "every scan, in scan order");
    let offline = got.statuses.iter().find(|s| s["online"] == false).unwrap();
    assert_eq!(offline["gateway"], "gw-test");
    assert_eq!(offline["reason"], "connection lost");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uplink_cut_publishes_last_will_and_resumes() {
    let broker = Broker::start();
    let proxy = Proxy::start(broker.port).await;
    let pty = VirtualSerialPort::new().unwrap();
    let config = TestConfig::new(proxy.port, "", &serial_scanner("scanner-1", pty.path()));
    let mut sub = Subscriber::connect(
        broker.port,
        &["tracegate/gw-test/events", "tracegate/gw-test/status"],
    )
    .await;
    let daemon = Daemon::start(&config.path);
    daemon.wait_devices_up().await;

    let sent = codes("CUT", 2000);
    let (scanner, _stop) = scan_in_background(pty, sent.clone(), 1000.0);
    let mut got = Received::default();
    got.collect_until(&mut sub, Duration::from_secs(30), |r| {
        r.distinct_reads() >= 300
    })
    .await;

    proxy.cut();
    got.collect_until(&mut sub, Duration::from_secs(30), |r| {
        r.statuses.iter().any(|s| s["online"] == false)
    })
    .await;
    // The broker sees the cut at once and publishes the will; the gateway learns of it from
    // its own socket, a moment later on a slow machine (under qemu, it came after the will).
    daemon
        .wait_status(Duration::from_secs(20), "cut seen by the gateway", |s| {
            s["broker"]["connected"] == false
        })
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    proxy.restore();

    got.collect_until(&mut sub, Duration::from_secs(60), |r| {
        r.distinct_reads() >= sent.len() && online_then_offline_then_online(&r.statuses)
    })
    .await;
    scanner.await.unwrap();
    assert_eq!(got.first_arrivals(), sent);
    // Resent events are the same events: one id per scan.
    let mut ids = std::collections::HashMap::new();
    for e in &got.events {
        let raw = e["tg:rawData"].as_str().unwrap().to_string();
        let id = e["eventID"].as_str().unwrap().to_string();
        assert_eq!(ids.entry(raw).or_insert_with(|| id.clone()), &id);
    }
}
