//! 10,000 scans from a simulated serial scanner on a pty reach an MQTT subscriber: every one,
//! in order, none missing — through the real serial driver, outbox and broker.

use std::time::Duration;

use crate::support::{
    Broker, Daemon, Proxy, Received, Subscriber, TestConfig, scan, serial_scanner,
};
use tracegate_drivers::sim::VirtualSerialPort;

const SCANS: usize = 10_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_scans_arrive_in_order_none_missing() {
    let broker = Broker::start();
    let mut pty = VirtualSerialPort::new().unwrap();
    let config = TestConfig::new(broker.port, "", &serial_scanner("scanner-1", pty.path()));
    let mut sub = Subscriber::connect(
        broker.port,
        &["tracegate/gw-test/events", "tracegate/gw-test/status"],
    )
    .await;
    let mut daemon = Daemon::start(&config.path);
    daemon.wait_devices_up().await;

    // Real GS1 DataMatrix reads (AIM ]d2, GTIN + serial), so each passes the decode layer.
    let codes: Vec<String> = (0..SCANS)
        .map(|n| format!("]d20109506000134352217{n:06}"))
        .collect();
    scan(&mut pty, &codes).await;

    let mut got = Received::default();
    got.collect_until(&mut sub, Duration::from_secs(120), |r| {
        r.distinct_reads() >= SCANS
    })
    .await;
    assert_eq!(got.first_arrivals(), codes, "every scan, in scan order");
    // How many events share a message here depends on how fast the broker acknowledges
    // relative to the scan rate; batching itself is asserted exactly below.

    // Everything acknowledged is marked delivered in the outbox.
    let status = daemon
        .wait_status(Duration::from_secs(20), "outbox drained", |s| {
            s["queue"]["undelivered"] == 0
        })
        .await;
    assert_eq!(status["queue"]["delivered_total"], SCANS as u64);
    assert_eq!(status["devices"][0]["reads_total"], SCANS as u64);
    assert_eq!(status["broker"]["connected"], true);
    assert!(daemon.terminate().success());

    // SIGTERM is a clean shutdown: the gateway said goodbye itself (no Last Will).
    got.collect_until(&mut sub, Duration::from_secs(10), |r| {
        r.statuses.last().is_some_and(|s| s["online"] == false)
    })
    .await;
    assert_eq!(got.statuses.last().unwrap()["reason"], "shutdown");
}

/// A backlog — 1,000 scans captured while the uplink is cut — goes out in full batches of
/// `mqtt.batch_max_events` (200 by default), not one message per event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_goes_out_in_full_batches() {
    const BACKLOG: usize = 1000;
    let broker = Broker::start();
    let proxy = Proxy::start(broker.port).await;
    proxy.cut();
    let mut pty = VirtualSerialPort::new().unwrap();
    let config = TestConfig::new(proxy.port, "", &serial_scanner("scanner-1", pty.path()));
    let mut sub = Subscriber::connect(broker.port, &["tracegate/gw-test/events"]).await;
    let daemon = Daemon::start(&config.path);
    daemon.wait_devices_up().await;

    let codes: Vec<String> = (0..BACKLOG)
        .map(|n| format!("]d20109506000134352218{n:06}"))
        .collect();
    scan(&mut pty, &codes).await;
    daemon
        .wait_status(Duration::from_secs(30), "backlog committed", |s| {
            s["queue"]["undelivered"] == BACKLOG as u64
        })
        .await;

    proxy.restore();
    let mut got = Received::default();
    got.collect_until(&mut sub, Duration::from_secs(60), |r| {
        r.distinct_reads() >= BACKLOG
    })
    .await;
    assert_eq!(got.first_arrivals(), codes);
    assert_eq!(got.batch_sizes, vec![200; BACKLOG / 200]);
}
