//! The Prometheus endpoint, scraped over HTTP as Prometheus does and parsed as Prometheus
//! text: per-device reads and rejects, outbox depth and bytes, commit latency histogram,
//! uplink figures, RSS — and the same figures in the retained status message.

use std::time::Duration;

use crate::support::prometheus::{http_get, parse_strictly, value};
use crate::support::{
    Broker, Daemon, Received, Subscriber, TestConfig, free_port, scan, serial_scanner,
};
use prometheus_parse::Value;
use serde_json::Value as Json;
use tracegate_drivers::sim::VirtualSerialPort;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_scrape_parses_and_matches_the_status_message() {
    let broker = Broker::start();
    let mut pty = VirtualSerialPort::new().unwrap();
    let port = free_port();
    let rest = format!(
        "[metrics]\nlisten = \"127.0.0.1:{port}\"\n\n{}",
        serial_scanner("scanner-1", pty.path())
    );
    let config = TestConfig::new(broker.port, "", &rest);
    let mut sub = Subscriber::connect(
        broker.port,
        &["tracegate/gw-test/events", "tracegate/gw-test/status"],
    )
    .await;
    let daemon = Daemon::start(&config.path);
    daemon.wait_devices_up().await;

    // Five good reads and two with a wrong GTIN check digit (refused at capture).
    let mut codes: Vec<String> = (0..5)
        .map(|n| format!("]d20109506000134352217{n:03}"))
        .collect();
    codes.push("]d20109506000134353".into());
    codes.push("]d20109506000134353217999".into());
    scan(&mut pty, &codes).await;
    daemon
        .wait_status(Duration::from_secs(30), "7 reads, 5 delivered", |s| {
            s["devices"][0]["reads_total"] == 7 && s["queue"]["delivered_total"] == 5
        })
        .await;

    let (code, headers, body) = http_get(port, "/metrics");
    assert_eq!(code, 200, "{body}");
    assert!(
        headers["content-type"].starts_with("text/plain; version=0.0.4"),
        "{headers:?}"
    );
    let scrape = parse_strictly(&body);
    let device = [("device", "scanner-1"), ("kind", "serial-scanner")];
    assert_eq!(value(&scrape, "tracegate_device_reads_total", &device), 7.0);
    assert_eq!(
        value(&scrape, "tracegate_device_rejects_total", &device),
        2.0
    );
    assert_eq!(value(&scrape, "tracegate_device_up", &device), 1.0);
    assert_eq!(
        value(&scrape, "tracegate_outbox_undelivered_events", &[]),
        0.0
    );
    assert_eq!(value(&scrape, "tracegate_outbox_delivered_total", &[]), 5.0);
    assert!(value(&scrape, "tracegate_outbox_db_bytes", &[]) > 0.0);
    assert_eq!(
        value(
            &scrape,
            "tracegate_outbox_oldest_undelivered_age_seconds",
            &[]
        ),
        0.0
    );
    assert_eq!(value(&scrape, "tracegate_mqtt_connected", &[]), 1.0);
    assert_eq!(value(&scrape, "tracegate_uplink_offline_seconds", &[]), 0.0);
    assert!(value(&scrape, "tracegate_capture_rate_per_hour", &[]) >= 0.0);
    assert_eq!(
        value(&scrape, "tracegate_mqtt_events_acked_total", &[]),
        5.0
    );
    assert!(value(&scrape, "tracegate_mqtt_events_published_total", &[]) >= 5.0);
    assert_eq!(value(&scrape, "tracegate_mqtt_reconnects_total", &[]), 0.0);
    let rss = value(&scrape, "process_resident_memory_bytes", &[]);
    assert!(rss > 1e6 && rss < 1e9, "RSS {rss}");
    // The commit latency histogram: cumulative buckets ending in +Inf = _count.
    let histogram = scrape
        .samples
        .iter()
        .find(|s| s.metric == "tracegate_outbox_commit_duration_seconds")
        .expect("commit duration histogram");
    let Value::Histogram(buckets) = &histogram.value else {
        panic!("not a histogram")
    };
    let count = value(
        &scrape,
        "tracegate_outbox_commit_duration_seconds_count",
        &[],
    );
    // Reads that reach the writer together share one transaction, so a loaded machine may
    // commit the five reads in fewer than five: at least one commit is all that is certain.
    assert!(count >= 1.0, "the five reads were committed: {count}");
    assert_eq!(buckets.last().unwrap().less_than, f64::INFINITY);
    assert_eq!(buckets.last().unwrap().count, count);
    assert!(buckets.windows(2).all(|w| w[0].count <= w[1].count));

    // Anything else is a clear 404.
    let (code, _, body) = http_get(port, "/");
    assert_eq!(code, 404);
    assert!(body.contains("/metrics"));

    // The retained status message carries the same figures.
    let mut got = Received::default();
    got.collect_until(&mut sub, Duration::from_secs(20), |r| {
        r.statuses
            .iter()
            .any(|s| s["devices"][0]["reads_total"] == 7 && s["queue"]["delivered_total"] == 5)
    })
    .await;
    let status: &Json = got
        .statuses
        .iter()
        .rev()
        .find(|s| s["devices"][0]["reads_total"] == 7)
        .unwrap();
    assert_eq!(status["devices"][0]["rejects_total"], 2);
    assert!(status["daemon"]["rss_bytes"].as_u64().unwrap() > 1_000_000);
    assert!(status["queue"]["commit_latency"]["count"].as_u64().unwrap() >= 1);
    assert!(
        status["queue"]["commit_latency"]["p99_ms"]
            .as_f64()
            .is_some()
    );
    assert_eq!(status["broker"]["reconnects_total"], 0);
    assert!(status["broker"]["publish_rate_per_s"].is_number());
}
