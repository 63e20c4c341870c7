//! The packing line end to end: `config/packing-line.toml` as shipped, its Zebra pointed at a
//! simulated ZPL printer on loopback TCP (started by the test, so it counts every label), its
//! scanner at a pty, its stack light simulated, its broker a real Mosquitto.
//!
//! - a serialised case label printed from an MQTT `print` command and one from `tracegate
//!   print` on the command line: each printed once (counted at the printer), each label's
//!   GS1-128 carrying exactly the AIs it was given, and each confirmed label's commissioning
//!   ObjectEvent (the SGTIN, lot and expiry as ILMD, the job's key) at a real subscriber;
//! - SIGKILL while a job waits (submitted), and right after a label is confirmed: after each
//!   restart no label is printed twice and no commissioning event is lost or doubled;
//! - a job killed mid-print and voided by the operator: its decommissioning event arrives.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use crate::support::{Broker, Daemon, Received, Subscriber, send_command_to, tracegate};
use serde_json::{Value, json};
use tracegate_drivers::printer::Fault;
use tracegate_drivers::sim::{SimPrinter, SimPrinterConfig, VirtualSerialPort};

const GTIN: &str = "04012345000016";

/// `config/packing-line.toml` with its broker, outbox, printer, scanner and light moved onto
/// this machine.
fn packing_line(
    dir: &Path,
    broker: u16,
    printer: &SimPrinter,
    scanner: &Path,
) -> std::path::PathBuf {
    let shipped = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../config/packing-line.toml"
    ))
    .unwrap();
    let labels = concat!(env!("CARGO_MANIFEST_DIR"), "/../config/labels");
    let text = shipped
        .replace("path = \"/var/lib/tracegate/outbox.db\"", "path = \"outbox.db\"")
        .replace("templates = \"labels\"", &format!("templates = \"{labels}\""))
        .replace(
            "host = \"10.20.0.5\"\nport = 1883",
            &format!(
                "host = \"127.0.0.1\"\nport = {broker}\nkeep_alive_s = 5\nreconnect_min_ms = 100\nreconnect_max_s = 1\nstatus_interval_s = 1"
            ),
        )
        .replace("address = \"10.20.3.40:9100\"", &format!("address = \"{}\"", printer.addr.unwrap()))
        .replace("port = \"/dev/ttyUSB0\"", &format!("port = \"{}\"", scanner.display()))
        .replace(
            "kind = \"gpio-output\"\nlines = [{ name = \"red\", pin = 17 }, { name = \"green\", pin = 27 }]",
            "kind = \"sim-output\"\nlines = [\"red\", \"green\"]",
        )
        // This host has no NTP daemon: trust its clock (see the README, [clock]).
        .replacen("[[devices]]", "[clock]\nsync_check = \"trust\"\n\n[[devices]]", 1);
    for moved in [
        format!("port = {broker}"),
        printer.addr.unwrap().to_string(),
        "sim-output".into(),
        labels.into(),
    ] {
        assert!(
            text.contains(&moved),
            "packing-line.toml has changed: {moved} not placed"
        );
    }
    let path = dir.join("tracegate.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The line's topic prefix and gateway (`config/packing-line.toml`).
const PREFIX: &str = "plant-2/trace/gw-line-3";

/// A packing line on this machine: a broker, the simulated Zebra, the scanner's pty and
/// `config/packing-line.toml` pointed at them.
struct Line {
    broker: Broker,
    printer: SimPrinter,
    _scanner: VirtualSerialPort,
    _dir: tempfile::TempDir,
    config: std::path::PathBuf,
}

impl Line {
    async fn start(printer: SimPrinterConfig) -> Line {
        let broker = Broker::start();
        let printer = SimPrinter::start_zpl(printer).await.unwrap();
        let scanner = VirtualSerialPort::new().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let config = packing_line(dir.path(), broker.port, &printer, scanner.path());
        Line {
            broker,
            printer,
            _scanner: scanner,
            _dir: dir,
            config,
        }
    }

    /// A platform subscriber (events, replies, status) and the daemon, online: commands sent
    /// from now on reach it.
    async fn online(&self) -> (Subscriber, Daemon) {
        let mut sub = Subscriber::connect(
            self.broker.port,
            &[
                &format!("{PREFIX}/events"),
                &format!("{PREFIX}/reply/+"),
                &format!("{PREFIX}/status"),
            ],
        )
        .await;
        let daemon = Daemon::start(&self.config);
        daemon.wait_devices_up().await;
        sub.wait_online(daemon.pid()).await;
        (sub, daemon)
    }
}

/// Sends the line's `print` of a one-copy case label with `lot` and `serial`, as request `id`.
async fn print(sub: &Subscriber, id: &str, key: &str, lot: &str, serial: u32) {
    send_command_to(
        sub,
        PREFIX,
        "print",
        id,
        json!({"device": "line-3-printer", "template": "case", "key": key,
               "vars": vars(lot, serial)}),
    )
    .await;
}

fn vars(lot: &str, serial: u32) -> Value {
    json!({"gtin": GTIN, "lot": lot, "expiry": "271231", "serial": serial})
}

/// Commissioning / decommissioning events received, by print job key.
fn label_events(got: &Received) -> HashMap<String, Vec<Value>> {
    let mut out: HashMap<String, Vec<Value>> = HashMap::new();
    for event in &got.events {
        if let Some(key) = event["tg:printJob"].as_str() {
            out.entry(key.to_string()).or_default().push(event.clone());
        }
    }
    out
}

async fn final_reply(got: &mut Received, sub: &mut Subscriber, id: &str) -> Value {
    got.collect_until(sub, Duration::from_secs(30), |r| {
        r.final_reply(id).is_some()
    })
    .await;
    got.final_reply(id).unwrap().clone()
}

fn assert_commissioned(event: &Value, serial: u32, lot: &str) {
    assert_eq!(event["type"], "ObjectEvent", "{event}");
    assert_eq!(event["action"], "ADD", "{event}");
    assert_eq!(event["bizStep"], "commissioning", "{event}");
    assert_eq!(event["disposition"], "active", "{event}");
    assert_eq!(event["readPoint"]["id"], "urn:epc:id:sgln:4012345.00003.0");
    assert_eq!(
        event["epcList"],
        json!([format!("urn:epc:id:sgtin:4012345.000001.{serial}")]),
        "{event}"
    );
    assert_eq!(event["ilmd"]["cbvmda:lotNumber"], lot, "{event}");
    assert_eq!(
        event["ilmd"]["cbvmda:itemExpirationDate"], "2027-12-31",
        "{event}"
    );
    assert_eq!(
        event["tg:labelData"],
        json!([format!("(01){GTIN}(17)271231(10){lot}(21){serial}")])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packing_line_prints_serialised_labels_once_with_their_commissioning_events() {
    let line = Line::start(SimPrinterConfig::default()).await;
    let (printer, config) = (&line.printer, line.config.clone());
    let (mut sub, mut daemon) = line.online().await;
    let mut got = Received::default();
    // From the platform, over MQTT.
    print(&sub, "p1", "order-7-case-1", "A17", 1001).await;
    let reply = final_reply(&mut got, &mut sub, "p1").await;
    assert_eq!(reply["result"]["state"], "confirmed", "{reply}");
    let sent = String::from_utf8(printer.received()).unwrap();
    assert!(
        sent.contains("^FD>;>801040123450000161727123110>6A17>8>5211001^FS"),
        "the GS1-128 as encoded: {sent}"
    );

    // From the command line, through the control socket.
    let config_arg = config.to_str().unwrap();
    let cli = tokio::task::spawn_blocking({
        let config_arg = config_arg.to_string();
        move || {
            tracegate(&[
                "print",
                "--config",
                &config_arg,
                "--device",
                "line-3-printer",
                "--template",
                "case",
                "--key",
                "order-7-case-2",
                "--var",
                &format!("gtin={GTIN}"),
                "--var",
                "lot=A17",
                "--var",
                "expiry=271231",
                "--var",
                "serial=1002",
            ])
        }
    })
    .await
    .unwrap();
    assert_eq!(cli.0, 0, "tracegate print: {} {}", cli.1, cli.2);
    let reply: Value = serde_json::from_str(&cli.1).unwrap();
    assert_eq!(reply["result"]["state"], "confirmed", "{reply}");
    // A bad check digit from the command line: refused, nothing printed.
    let refused = tracegate(&[
        "print",
        "--config",
        config_arg,
        "--device",
        "line-3-printer",
        "--template",
        "case",
        "--key",
        "order-7-case-bad",
        "--var",
        "gtin=04012345000017",
        "--var",
        "lot=A17",
        "--var",
        "expiry=271231",
        "--var",
        "serial=1003",
    ]);
    assert_eq!(refused.0, 1, "{refused:?}");
    assert!(refused.2.contains("check digit"), "{refused:?}");
    assert_eq!(printer.jobs(), 2);

    got.collect_until(&mut sub, Duration::from_secs(30), |r| {
        label_events(r).len() == 2
    })
    .await;
    let events = label_events(&got);
    assert_commissioned(&events["order-7-case-1"][0], 1001, "A17");
    assert_commissioned(&events["order-7-case-2"][0], 1002, "A17");

    // SIGKILL while a job waits for a printer out of paper (submitted): after the restart it
    // prints once the roll is loaded, once.
    printer.set_fault(Fault::PaperOut, true);
    daemon
        .wait_status(Duration::from_secs(10), "printer out of paper", |s| {
            s["devices"]
                .as_array()
                .unwrap()
                .iter()
                .any(|d| d["printer"]["faults"] == json!(["paper_out"]))
        })
        .await;
    print(&sub, "p3", "order-7-case-3", "A18", 1003).await;
    daemon
        .wait_status(Duration::from_secs(10), "the job waits", |s| {
            s["print"]["submitted"] == 1
        })
        .await;
    daemon.kill();
    printer.set_fault(Fault::PaperOut, false);
    let mut daemon = Daemon::start(&config);
    daemon.wait_devices_up().await;
    daemon
        // The worker retries with backoff (up to 10 s) until the printer answers faultless.
        .wait_status(Duration::from_secs(60), "the waiting job printed", |s| {
            s["print"]["confirmed"] == 3
        })
        .await;
    assert_eq!(printer.jobs(), 3, "the waiting job printed once");

    // SIGKILL right after a confirmation: its event was committed with it and is delivered
    // after the restart, once.
    daemon.kill();
    let daemon = Daemon::start(&config);
    daemon.wait_devices_up().await;
    got.collect_until(&mut sub, Duration::from_secs(30), |r| {
        label_events(r).contains_key("order-7-case-3")
    })
    .await;
    assert_eq!(
        printer.jobs(),
        3,
        "nothing printed twice across the restarts"
    );
    let events = label_events(&got);
    assert_commissioned(&events["order-7-case-3"][0], 1003, "A18");
    // Delivery is at least once: a resend carries the same eventID. One event per label.
    for (key, list) in &events {
        let ids: std::collections::BTreeSet<&str> = list
            .iter()
            .map(|e| e["eventID"].as_str().unwrap())
            .collect();
        assert_eq!(ids.len(), 1, "{key}: {list:?}");
    }
    drop(daemon);
}

/// A job `key` whose outcome is unknown, on `line` (a printer with one label on its roll): a
/// job of two runs out after the first label and stays `sent`; the daemon is killed, the
/// roll loaded, and the daemon started again finds the job undecided. Returns the subscriber
/// and the new daemon.
async fn undecided(line: &Line, key: &str, lot: &str, serial: u32) -> (Subscriber, Daemon) {
    let (mut sub, mut daemon) = line.online().await;
    send_command_to(
        &sub,
        PREFIX,
        "print",
        "p1",
        json!({"device": "line-3-printer", "template": "case", "key": key,
               "copies": 2, "vars": vars(lot, serial)}),
    )
    .await;
    daemon
        .wait_status(Duration::from_secs(10), "the job is printing", |s| {
            s["print"]["sent"] == 1
        })
        .await;
    daemon.kill();
    line.printer.load_roll(None);
    let daemon = Daemon::start(&line.config);
    daemon.wait_devices_up().await;
    sub.wait_online(daemon.pid()).await;
    daemon
        .wait_status(Duration::from_secs(10), "undecided", |s| {
            s["print"]["unknown"] == 1
        })
        .await;
    (sub, daemon)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_voided_label_is_decommissioned() {
    let line = Line::start(SimPrinterConfig {
        roll: Some(1),
        ..SimPrinterConfig::default()
    })
    .await;
    let printer = &line.printer;
    let (mut sub, _daemon) = undecided(&line, "order-9-case-1", "B1", 2001).await;
    let mut got = Received::default();
    send_command_to(
        &sub,
        PREFIX,
        "print-decide",
        "d1",
        json!({"key": "order-9-case-1", "decision": "void"}),
    )
    .await;
    let reply = final_reply(&mut got, &mut sub, "d1").await;
    assert_eq!(reply["result"]["state"], "voided", "{reply}");
    got.collect_until(&mut sub, Duration::from_secs(30), |r| {
        label_events(r).contains_key("order-9-case-1")
    })
    .await;
    let events = label_events(&got);
    let event = &events["order-9-case-1"][0];
    assert_eq!(event["action"], "DELETE", "{event}");
    assert_eq!(event["bizStep"], "decommissioning", "{event}");
    assert_eq!(
        event["epcList"],
        json!(["urn:epc:id:sgtin:4012345.000001.2001"])
    );
    assert_eq!(printer.jobs(), 1, "a voided job is never printed again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_label_an_operator_saw_come_out_intact_is_commissioned_without_a_second_one() {
    let line = Line::start(SimPrinterConfig {
        roll: Some(1),
        ..SimPrinterConfig::default()
    })
    .await;
    let printer = &line.printer;
    let (mut sub, daemon) = undecided(&line, "order-10-case-1", "C1", 3001).await;
    let mut got = Received::default();
    send_command_to(
        &sub,
        PREFIX,
        "print-decide",
        "d1",
        json!({"key": "order-10-case-1", "decision": "printed"}),
    )
    .await;
    let reply = final_reply(&mut got, &mut sub, "d1").await;
    assert_eq!(reply["result"]["state"], "confirmed", "{reply}");
    got.collect_until(&mut sub, Duration::from_secs(30), |r| {
        label_events(r).contains_key("order-10-case-1")
    })
    .await;
    let events = label_events(&got);
    assert_commissioned(&events["order-10-case-1"][0], 3001, "C1");
    let status = daemon.status().await.unwrap();
    assert_eq!(status["print"]["confirmed"], 1, "{}", status["print"]);
    assert_eq!(status["print"]["unknown"], 0);
    assert_eq!(printer.jobs(), 1, "no second label");
}

/// `tracegate print --preview` draws the packing line's case label without a printer or a
/// daemon, at the label's declared size, and names the GS1 data its symbols carry.
#[cfg(feature = "preview")]
#[test]
fn a_case_label_is_previewed_without_a_printer() {
    let dir = tempfile::tempdir().unwrap();
    let printer_addr = "127.0.0.1:9"; // never connected: a preview needs no printer
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../config/packing-line.toml"
    ))
    .unwrap()
    .replace(
        "templates = \"labels\"",
        concat!(
            "templates = \"",
            env!("CARGO_MANIFEST_DIR"),
            "/../config/labels\""
        ),
    )
    .replace("10.20.3.40:9100", printer_addr);
    let config = dir.path().join("tracegate.toml");
    std::fs::write(&config, text).unwrap();
    let out = dir.path().join("case.png");
    let (code, stdout, stderr) = tracegate(&[
        "print",
        "--config",
        config.to_str().unwrap(),
        "--preview",
        out.to_str().unwrap(),
        "--template",
        "case",
        "--var",
        &format!("gtin={GTIN}"),
        "--var",
        "lot=A17",
        "--var",
        "expiry=271231",
        "--var",
        "serial=1001",
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!("GS1 data (01){GTIN}(17)271231(10)A17(21)1001")),
        "{stdout}"
    );
    let png = image::load_from_memory(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(
        (png.width(), png.height()),
        (812, 609),
        "4 x 3 in at 203 dpi"
    );
}
