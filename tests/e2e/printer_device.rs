//! A label printer in the daemon: a simulated ZPL printer on loopback TCP, driven by the real
//! printer driver, reports ready in status; a job sent to it through the MQTT command topic
//! runs its roll out mid-batch, and the daemon's status and metrics show the fault with the
//! labels left, and a `printer-fault` feedback rule turns the line's stack light red — what an
//! operator and a monitoring system see at a packing line.

use std::time::Duration;

use crate::support::prometheus::{http_get, parse_strictly, value};
use crate::support::{Broker, Daemon, Received, Subscriber, TestConfig, free_port, send_command};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_printer_fault_mid_batch_shows_in_status_and_metrics() {
    let broker = Broker::start();
    let metrics = free_port();
    let devices = format!(
        "[metrics]\nlisten = \"127.0.0.1:{metrics}\"\n\n\
         [[devices]]\nid = \"line-printer\"\nkind = \"sim-label-printer\"\nlanguage = \"zpl\"\nroll = 2\nstatus_interval_ms = 1000\n\n\
         [[devices]]\nid = \"light\"\nkind = \"sim-output\"\nlines = [\"red\", \"green\"]\n\n\
         [[feedback]]\non = \"printer-fault\"\noutput = \"light\"\nline = \"red\"\npattern = \"blink 500ms\"\n"
    );
    let config = TestConfig::new(broker.port, "", &devices);
    let mut sub = Subscriber::connect(
        broker.port,
        &["tracegate/gw-test/reply/+", "tracegate/gw-test/status"],
    )
    .await;
    let daemon = Daemon::start(&config.path);
    daemon.wait_devices_up().await;
    // Commands sent before the daemon has subscribed would be lost (a clean session).
    sub.wait_online(daemon.pid()).await;
    daemon
        .wait_status(Duration::from_secs(10), "printer ready", |s| {
            s["devices"][0]["printer"]["ready"] == true
        })
        .await;

    // Three labels on a roll of two: the printer runs out with one left in the batch.
    send_command(
        &sub,
        "send",
        "job-1",
        json!({"device": "line-printer", "data": "^XA^FO50,50^A0N,40,40^FDlot 42^FS^PQ3^XZ"}),
    )
    .await;
    let mut got = Received::default();
    got.collect_until(&mut sub, Duration::from_secs(10), |r| {
        r.final_reply("job-1").is_some()
    })
    .await;
    let reply = got.final_reply("job-1").unwrap();
    assert_eq!(reply["ok"], true, "{reply}");

    let status = daemon
        .wait_status(Duration::from_secs(15), "paper out", |s| {
            s["devices"][0]["printer"]["faults"] == json!(["paper_out"])
        })
        .await;
    let printer = &status["devices"][0]["printer"];
    assert_eq!(printer["ready"], false);
    assert_eq!(printer["labels_remaining"], 1);
    assert_eq!(printer["faults_total"], 1);
    assert!(
        printer["state"]
            .as_str()
            .unwrap()
            .contains("load a new roll"),
        "{printer}"
    );

    let (code, _, body) = http_get(metrics, "/metrics");
    assert_eq!(code, 200);
    let scrape = parse_strictly(&body);
    let labels = [("device", "line-printer")];
    assert_eq!(value(&scrape, "tracegate_printer_ready", &labels), 0.0);
    assert_eq!(
        value(&scrape, "tracegate_printer_faults_total", &labels),
        1.0
    );
    daemon
        .wait_log(Duration::from_secs(5), "out of labels")
        .await;
}
