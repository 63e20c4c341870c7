//! A clustered broker, for real: three NATS nodes with JetStream and MQTT, the gateway given
//! all three (`mqtt.failover_hosts`). The node it is connected to is killed mid-stream and
//! brought back: every scan reaches a subscriber on another node, and a scan that arrives
//! twice (a batch resent after the loss) carries the same eventID both times.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::support::nats::NatsCluster;
use crate::support::{
    Daemon, Received, Subscriber, TestConfig, codes, scan_in_background, serial_scanner,
};
use tracegate_drivers::sim::VirtualSerialPort;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_connected_node_loses_no_event() {
    let mut cluster = NatsCluster::start(3).await;
    let ports: Vec<u16> = cluster.nodes.iter().map(|n| n.mqtt_port).collect();
    let pty = VirtualSerialPort::new().unwrap();
    let config = TestConfig::with_mqtt(
        ports[0],
        &format!(
            "failover_hosts = [\"127.0.0.1:{}\", \"127.0.0.1:{}\"]",
            ports[1], ports[2]
        ),
        "",
        &serial_scanner("scanner-1", pty.path()),
    );
    // The platform's subscriber is on the third node: the one killed is the gateway's.
    let mut sub = Subscriber::connect(ports[2], &["tracegate/gw-test/events"]).await;
    let daemon = Daemon::start(&config.path);
    daemon.wait_devices_up().await;
    daemon
        .wait_status(
            Duration::from_secs(20),
            "connected to the first node",
            |s| s["broker"]["connected"] == true && s["broker"]["port"] == ports[0],
        )
        .await;

    let sent = codes("CLUSTER", 3000);
    let (scanner, _stop) = scan_in_background(pty, sent.clone(), 1000.0);
    let mut got = Received::default();
    got.collect_until(&mut sub, Duration::from_secs(30), |r| {
        r.distinct_reads() >= 500
    })
    .await;

    cluster.kill(0);
    let killed = Instant::now();
    daemon
        // NATS elects new leaders for the streams the dead node led first: 4 to 12 s here.
        .wait_status(Duration::from_secs(60), "connected to another node", |s| {
            s["broker"]["connected"] == true && s["broker"]["port"] != ports[0]
        })
        .await;
    eprintln!(
        "failover: connected to another node {:?} after the kill",
        killed.elapsed()
    );
    cluster.restart(0);

    got.collect_until(&mut sub, Duration::from_secs(90), |r| {
        r.distinct_reads() >= sent.len()
    })
    .await;
    scanner.await.unwrap();
    let mut arrived = got.first_arrivals();
    arrived.sort();
    let mut wanted = sent.clone();
    wanted.sort();
    assert_eq!(arrived, wanted, "every scan, once at least");
    // A scan received twice is the same event: one eventID per scan.
    let mut ids = HashMap::new();
    for e in &got.events {
        let raw = e["tg:rawData"].as_str().unwrap().to_string();
        let id = e["eventID"].as_str().unwrap().to_string();
        assert_eq!(ids.entry(raw).or_insert_with(|| id.clone()), &id);
    }
    daemon
        .wait_status(Duration::from_secs(10), "nothing left undelivered", |s| {
            s["queue"]["undelivered"] == 0
        })
        .await;
    let log = daemon.log();
    assert!(log.contains("trying the next broker node"), "{log}");
}
