//! The durable print queue end to end: a daemon with a `label-printer` on a simulated ZPL
//! printer (loopback TCP, started by the test so that it counts what it printed), jobs
//! submitted as `print` commands over a real Mosquitto broker, labels counted at the printer.
//!
//! - a job is rendered from its template, printed, confirmed, and a resubmission with the
//!   same key is answered with the same job and not printed again;
//! - a job with a missing variable is refused before a byte reaches the printer;
//! - paper out holds a job without sending it, and it prints once the roll is loaded;
//! - SIGKILL while a job is printing: after the restart the job is `unknown`, never
//!   reprinted by itself, and holds the printer's queue until an operator decides; a reprint
//!   carries the reprint mark on the label, and the job queued behind it prints after.

use std::time::Duration;

use crate::support::prometheus::{http_get, parse_strictly, value};
use crate::support::{Broker, Daemon, Received, Subscriber, TestConfig, free_port, send_command};
use serde_json::{Value, json};
use tracegate_drivers::printer::Fault;
use tracegate_drivers::sim::{SimPrinter, SimPrinterConfig};

const TEMPLATE: &str = "^XA\n^FO50,50^A0N,40,40^FDLOT {{ lot }}{% if reprint %} REPRINT{% endif %}^FS\n^PQ{{ copies }}\n^XZ\n";

fn config(broker: u16, printer: &SimPrinter, metrics: u16) -> TestConfig {
    let devices = format!(
        "[metrics]\nlisten = \"127.0.0.1:{metrics}\"\n\n[printing]\ntemplates = \"labels\"\n\n\
         [[devices]]\nid = \"line-printer\"\nkind = \"label-printer\"\nlanguage = \"zpl\"\naddress = \"{}\"\nstatus_interval_ms = 1000\n",
        printer.addr.unwrap()
    );
    let config = TestConfig::new(broker, "", &devices);
    let labels = config.dir.path().join("labels");
    std::fs::create_dir(&labels).unwrap();
    std::fs::write(labels.join("case.zpl"), TEMPLATE).unwrap();
    config
}

/// Sends `print` for `key`, and returns the request id used.
async fn print(sub: &Subscriber, key: &str, lot: &str, copies: u32) -> String {
    let id = format!("p-{key}-{lot}");
    send_command(
        sub,
        "print",
        &id,
        json!({"device": "line-printer", "template": "case", "vars": {"lot": lot},
               "copies": copies, "key": key}),
    )
    .await;
    id
}

async fn final_reply(got: &mut Received, sub: &mut Subscriber, id: &str) -> Value {
    got.collect_until(sub, Duration::from_secs(30), |r| {
        r.final_reply(id).is_some()
    })
    .await;
    got.final_reply(id).unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_print_once_per_key_and_bad_ones_never_reach_the_printer() {
    let broker = Broker::start();
    let printer = SimPrinter::start_zpl(SimPrinterConfig::default())
        .await
        .unwrap();
    let metrics = free_port();
    let config = config(broker.port, &printer, metrics);
    let mut sub = Subscriber::connect(
        broker.port,
        &["tracegate/gw-test/reply/+", "tracegate/gw-test/status"],
    )
    .await;
    let daemon = Daemon::start(&config.path);
    daemon.wait_devices_up().await;
    // Commands sent before the daemon has subscribed would be lost (a clean session).
    sub.wait_online(daemon.pid()).await;
    let mut got = Received::default();

    let id = print(&sub, "order-881-case-1", "A17", 2).await;
    let reply = final_reply(&mut got, &mut sub, &id).await;
    assert_eq!(reply["state"], "done", "{reply}");
    assert_eq!(reply["result"]["state"], "confirmed", "{reply}");
    assert_eq!(reply["result"]["fresh"], true);
    let states: Vec<&Value> = got.replies[&id].iter().map(|r| &r["state"]).collect();
    assert_eq!(
        states.first().copied(),
        Some(&json!("received")),
        "{states:?}"
    );
    assert!(states.contains(&&json!("progress")), "{states:?}");
    assert_eq!(printer.printed(), 2);
    let sent = String::from_utf8(printer.received()).unwrap();
    assert!(sent.contains("^FDLOT A17^FS\n^PQ2\n^XZ"), "{sent}");

    // The same key again (a platform retrying after a lost reply): the same job, no label.
    send_command(
        &sub,
        "print",
        "again",
        json!({"device": "line-printer", "template": "case", "vars": {"lot": "A17"},
               "copies": 2, "key": "order-881-case-1"}),
    )
    .await;
    let reply = final_reply(&mut got, &mut sub, "again").await;
    assert_eq!(reply["result"]["state"], "confirmed");
    assert_eq!(reply["result"]["fresh"], false);
    assert_eq!(printer.jobs(), 1, "printed once");

    // A missing variable and a value that would end its field: refused, nothing sent.
    send_command(
        &sub,
        "print",
        "novars",
        json!({"device": "line-printer", "template": "case", "key": "k-novars"}),
    )
    .await;
    let reply = final_reply(&mut got, &mut sub, "novars").await;
    assert_eq!(reply["state"], "failed");
    assert!(
        reply["error"].as_str().unwrap().contains("not given"),
        "{reply}"
    );
    let id = print(&sub, "k-inject", "A^XZ", 1).await;
    let reply = final_reply(&mut got, &mut sub, &id).await;
    assert!(reply["error"].as_str().unwrap().contains("'^'"), "{reply}");
    assert_eq!(printer.jobs(), 1);

    // Paper out: the job waits unsent, and prints when the roll is loaded.
    printer.set_fault(Fault::PaperOut, true);
    daemon
        .wait_status(Duration::from_secs(10), "printer out of paper", |s| {
            s["devices"][0]["printer"]["faults"] == json!(["paper_out"])
        })
        .await;
    let id = print(&sub, "order-881-case-2", "A18", 1).await;
    daemon
        .wait_status(Duration::from_secs(10), "the job waits", |s| {
            s["print"]["submitted"] == 1
        })
        .await;
    assert_eq!(printer.jobs(), 1, "nothing sent to a printer out of paper");
    printer.set_fault(Fault::PaperOut, false);
    let reply = final_reply(&mut got, &mut sub, &id).await;
    assert_eq!(reply["result"]["state"], "confirmed", "{reply}");
    assert_eq!(printer.jobs(), 2);
    assert_eq!(printer.printed(), 3);
    let (_, _, body) = http_get(metrics, "/metrics");
    let scrape = parse_strictly(&body);
    assert_eq!(
        value(&scrape, "tracegate_print_jobs", &[("state", "confirmed")]),
        2.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_killed_mid_print_is_held_for_a_decision_and_never_reprinted_blindly() {
    let broker = Broker::start();
    // One label on the roll: a job of three runs out after the first and stays `sent`.
    let printer = SimPrinter::start_zpl(SimPrinterConfig {
        roll: Some(1),
        ..SimPrinterConfig::default()
    })
    .await
    .unwrap();
    let config = config(broker.port, &printer, free_port());
    let mut sub = Subscriber::connect(
        broker.port,
        &["tracegate/gw-test/reply/+", "tracegate/gw-test/status"],
    )
    .await;
    let mut daemon = Daemon::start(&config.path);
    daemon.wait_devices_up().await;
    // Commands sent before the daemon has subscribed would be lost (a clean session).
    sub.wait_online(daemon.pid()).await;
    print(&sub, "k1", "B1", 3).await;
    daemon
        .wait_status(Duration::from_secs(10), "the job is printing", |s| {
            s["print"]["sent"] == 1 && s["devices"][0]["printer"]["faults"] == json!(["paper_out"])
        })
        .await;
    assert_eq!(printer.jobs(), 1);
    daemon.kill();
    // The operator loads a roll; the printer finishes the batch it had.
    printer.load_roll(None);
    assert_eq!(printer.printed(), 3);

    let daemon = Daemon::start(&config.path);
    daemon.wait_devices_up().await;
    // Commands sent before the daemon has subscribed would be lost (a clean session).
    sub.wait_online(daemon.pid()).await;
    daemon
        .wait_status(Duration::from_secs(10), "k1 is undecided", |s| {
            s["print"]["unknown"] == 1 && s["print"]["undecided"] == json!(["k1"])
        })
        .await;
    let mut got = Received::default();
    // A job behind it waits: the printer's queue is held until a decision.
    print(&sub, "k2", "B2", 1).await;
    send_command(&sub, "print-status", "st1", json!({"key": "k1"})).await;
    let status = final_reply(&mut got, &mut sub, "st1").await;
    assert_eq!(status["result"]["state"], "unknown", "{status}");
    assert!(
        status["result"]["reason"]
            .as_str()
            .unwrap()
            .contains("daemon stopped"),
        "{status}"
    );
    daemon
        .wait_status(Duration::from_secs(10), "k2 waits behind k1", |s| {
            s["print"]["submitted"] == 1
        })
        .await;
    assert_eq!(printer.jobs(), 1, "nothing printed while k1 is undecided");

    // The operator finds the labels smudged and decides to reprint: marked as a reprint.
    send_command(
        &sub,
        "print-decide",
        "d1",
        json!({"key": "k1", "decision": "reprint"}),
    )
    .await;
    let decided = final_reply(&mut got, &mut sub, "d1").await;
    assert_eq!(decided["result"]["reprints"], 1, "{decided}");
    daemon
        .wait_status(Duration::from_secs(20), "both printed", |s| {
            s["print"]["confirmed"] == 2
        })
        .await;
    assert_eq!(printer.jobs(), 3, "k1, its reprint, k2");
    let sent = String::from_utf8(printer.received()).unwrap();
    assert_eq!(sent.matches("LOT B1 REPRINT").count(), 1, "{sent}");
    assert_eq!(sent.matches("LOT B1^FS").count(), 1, "{sent}");

    // A second decision on a settled job is refused.
    send_command(
        &sub,
        "print-decide",
        "d2",
        json!({"key": "k1", "decision": "void"}),
    )
    .await;
    let refused = final_reply(&mut got, &mut sub, "d2").await;
    assert!(
        refused["error"].as_str().unwrap().contains("is confirmed"),
        "{refused}"
    );
}
