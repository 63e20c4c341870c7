//! An RFID dock door end to end: `config/gate.toml` as shipped — its LLRP reader pointed at
//! the simulated reader on loopback, its broker at the test's own mosquitto — with a scripted
//! population: pallets in and out, one that turns back in the doorway, one whose far antenna
//! sees a faint reflection first, a tag of a filtered scheme and one too weak to count. At a
//! real subscriber: one event per pass, the direction's bizStep and the zone's readPoint, the
//! undecided pass a plain observation; in status, every count.

use std::time::Duration;

use crate::support::{Broker, Daemon, Received, Subscriber};
use serde_json::Value;
use tracegate_drivers::sim::llrp::{Leg, SimReader, SimReaderConfig, TagPass, gate_pass, sgtin96};

const INSIDE: u16 = 1;
const OUTSIDE: u16 = 2;

fn leg(antenna: u16, ms: u64, peak_dbm: f32) -> Leg {
    Leg {
        antenna,
        dwell: Duration::from_millis(ms),
        peak_dbm,
    }
}

/// A simulated reader with one tag in antenna 1's field for good, serial `serial`.
async fn reader_with_one_tag(serial: u64) -> SimReader {
    let script = vec![TagPass {
        epc: sgtin96(1, 614_141, 812_345, serial),
        after: Duration::ZERO,
        legs: vec![leg(1, 3_600_000, -50.0)],
        overlap: Duration::ZERO,
    }];
    SimReader::start(SimReaderConfig {
        script,
        ..SimReaderConfig::default()
    })
    .await
    .unwrap()
}

fn epc_uri(serial: u64) -> String {
    format!("urn:epc:id:sgtin:0614141.812345.{serial}")
}

/// `config/gate.toml` with its reader, broker and outbox moved onto this machine.
fn gate_config(
    dir: &std::path::Path,
    broker: u16,
    reader: u16,
    metrics: u16,
) -> std::path::PathBuf {
    let shipped =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../config/gate.toml"))
            .unwrap();
    let mut text = shipped
        .replace(
            "path = \"/var/lib/tracegate/outbox.db\"",
            "path = \"outbox.db\"",
        )
        .replace(
            "host = \"mqtt.example.com\"\nport = 8883",
            &format!(
                "host = \"127.0.0.1\"\nport = {broker}\nkeep_alive_s = 5\nstatus_interval_s = 1"
            ),
        )
        .replace(
            "host = \"10.0.8.21\"\nport = 5084",
            &format!("host = \"127.0.0.1\"\nport = {reader}"),
        );
    assert!(
        text.contains(&format!("port = {reader}")),
        "gate.toml's reader is where the test expects it"
    );
    // This host has no NTP daemon: trust its clock (see the README, [clock]).
    text = text.replacen(
        "[[devices]]",
        &format!("[clock]\nsync_check = \"trust\"\n\n[metrics]\nlisten = \"127.0.0.1:{metrics}\"\n\n[[devices]]"),
        1,
    );
    let path = dir.join("tracegate.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gate_toml_records_one_event_per_pass_with_its_direction() {
    let mut grai = sgtin96(1, 614_141, 12_345, 7);
    grai[0] = 0x33; // GRAI-96: not among the gate's epc_schemes
    let script = vec![
        // In: yard antenna, then building antenna.
        gate_pass(
            sgtin96(1, 614_141, 812_345, 1),
            Duration::from_millis(0),
            OUTSIDE,
            INSIDE,
        ),
        gate_pass(
            sgtin96(1, 614_141, 812_345, 2),
            Duration::from_millis(100),
            OUTSIDE,
            INSIDE,
        ),
        // Out.
        gate_pass(
            sgtin96(1, 614_141, 812_345, 3),
            Duration::from_millis(200),
            INSIDE,
            OUTSIDE,
        ),
        // Turns back: yard, a step into the building's field, back to the yard.
        TagPass {
            epc: sgtin96(1, 614_141, 812_345, 4),
            after: Duration::from_millis(300),
            legs: vec![
                leg(OUTSIDE, 1200, -45.0),
                leg(INSIDE, 500, -58.0),
                leg(OUTSIDE, 1200, -45.0),
            ],
            overlap: Duration::from_millis(200),
        },
        // In, with a faint reflection on the building's antenna before it gets there.
        TagPass {
            epc: sgtin96(1, 614_141, 812_345, 5),
            after: Duration::from_millis(400),
            legs: vec![
                leg(INSIDE, 300, -57.0),
                leg(OUTSIDE, 1200, -45.0),
                leg(INSIDE, 1200, -44.0),
            ],
            overlap: Duration::from_millis(100),
        },
        // Filtered by scheme, and too weak to count.
        gate_pass(grai, Duration::from_millis(500), OUTSIDE, INSIDE),
        TagPass {
            epc: sgtin96(1, 614_141, 812_345, 6),
            after: Duration::from_millis(600),
            legs: vec![leg(OUTSIDE, 1000, -80.0)],
            overlap: Duration::ZERO,
        },
    ];
    let reader = SimReader::start(SimReaderConfig {
        script,
        report_rate: 25.0,
        ..SimReaderConfig::default()
    })
    .await
    .unwrap();
    let broker = Broker::start();
    let dir = tempfile::tempdir().unwrap();
    let metrics = crate::support::free_port();
    let config = gate_config(dir.path(), broker.port, reader.port, metrics);
    let mut sub = Subscriber::connect(broker.port, &["acme/trace/gw-dock-01/events"]).await;
    let daemon = Daemon::start(&config);
    daemon
        .wait_status(Duration::from_secs(20), "the reader up", |s| {
            s["devices"]
                .as_array()
                .unwrap()
                .iter()
                .any(|d| d["id"] == "door-5-rfid" && d["state"] == "up")
        })
        .await;

    let mut got = Received::default();
    got.collect_until(&mut sub, Duration::from_secs(60), |r| r.events.len() >= 5)
        .await;
    let by_epc = |serial: u64| -> Vec<&Value> {
        got.events
            .iter()
            .filter(|e| e["epcList"][0] == epc_uri(serial).as_str())
            .collect()
    };
    for serial in 1..=5 {
        assert_eq!(
            by_epc(serial).len(),
            1,
            "one event for pass {serial}: {:#?}",
            got.events
        );
    }
    let one = |serial| by_epc(serial)[0];
    for serial in [1, 2, 5] {
        let e = one(serial);
        assert_eq!(e["tg:movement"], "in", "{e}");
        assert_eq!(e["bizStep"], "receiving");
        assert_eq!(e["disposition"], "in_progress");
        assert_eq!(e["readPoint"]["id"], "urn:epc:id:sgln:0614141.00777.1");
        assert_eq!(e["tg:zone"], "inside");
    }
    let out = one(3);
    assert_eq!(out["tg:movement"], "out");
    assert_eq!(out["bizStep"], "shipping");
    assert_eq!(out["disposition"], "in_transit");
    assert_eq!(out["readPoint"]["id"], "urn:epc:id:sgln:0614141.00777.2");
    let back = one(4);
    assert_eq!(back["tg:movement"], "undecided");
    assert!(
        back["tg:undecided"]
            .as_str()
            .unwrap()
            .contains("turned back"),
        "{back}"
    );
    assert!(
        back.get("bizStep").is_none(),
        "an undecided pass is a plain observation: {back}"
    );
    assert_eq!(back["readPoint"]["id"], "urn:epc:id:sgln:0614141.00777.0");
    for e in &got.events {
        assert_eq!(e["type"], "ObjectEvent");
        assert!(e["eventID"].as_str().unwrap().starts_with("ni:///sha-256;"));
        assert_eq!(e["tg:deviceId"], "door-5-rfid");
    }

    let status = daemon
        .wait_status(Duration::from_secs(20), "every pass counted", |s| {
            let d = s["devices"]
                .as_array()
                .unwrap()
                .iter()
                .find(|d| d["id"] == "door-5-rfid")
                .cloned()
                .unwrap();
            d["rfid"]["in_total"] == 3
                && d["rfid"]["out_total"] == 1
                && d["rfid"]["undecided_total"] == 1
        })
        .await;
    let door = status["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == "door-5-rfid")
        .unwrap();
    let rfid = &door["rfid"];
    assert!(rfid["filtered_total"].as_u64().unwrap() >= 1, "{rfid}");
    assert!(rfid["below_floor_total"].as_u64().unwrap() >= 1, "{rfid}");
    assert!(
        door["reads_total"].as_u64().unwrap() > 100,
        "many tag reports, a handful of events: {door}"
    );
    // The scanners of gate.toml are not attached here: down, with the reason, the door reads on.
    let scanner = status["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == "door-1-scanner")
        .unwrap();
    assert_eq!(scanner["state"], "down");

    // The same counts in the human view and on the metrics endpoint.
    let config_path = config.to_string_lossy().into_owned();
    let (code, human, _) = tokio::task::spawn_blocking(move || {
        crate::support::tracegate(&["status", "--config", &config_path])
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "{human}");
    assert!(human.contains("· in 3 · out 1 · undecided 1 ·"), "{human}");
    let (code, _, body) = crate::support::prometheus::http_get(metrics, "/metrics");
    assert_eq!(code, 200);
    let scrape = crate::support::prometheus::parse_strictly(&body);
    let moved = |movement| {
        crate::support::prometheus::value(
            &scrape,
            "tracegate_rfid_movements_total",
            &[("device", "door-5-rfid"), ("movement", movement)],
        )
    };
    assert_eq!(
        (moved("in"), moved("out"), moved("undecided")),
        (3.0, 1.0, 1.0)
    );
    let door_labels = [("device", "door-5-rfid"), ("kind", "llrp-reader")];
    assert!(
        crate::support::prometheus::value(&scrape, "tracegate_rfid_filtered_total", &door_labels)
            >= 1.0
    );
    assert!(
        crate::support::prometheus::value(
            &scrape,
            "tracegate_rfid_below_floor_total",
            &door_labels
        ) >= 1.0
    );
    eprintln!(
        "gate: {} events from {} tag reports; rfid {rfid}",
        got.events.len(),
        door["reads_total"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_window_opened_by_the_platform_and_closed_from_the_command_line() {
    let reader = reader_with_one_tag(42).await;
    let broker = Broker::start();
    let device = format!(
        "[[devices]]\nid = \"door\"\nkind = \"llrp-reader\"\nhost = \"127.0.0.1\"\nport = {}\n\
         read_window = \"command\"\ndepart_after_ms = 500\nbiz_step = \"inspecting\"\n",
        reader.port
    );
    let config = crate::support::TestConfig::new(broker.port, "", &device);
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
    assert!(!reader.running(), "a command window waits for its command");
    // Commands sent before the daemon has subscribed would be lost (a clean session): on a
    // loaded machine this one was.
    sub.wait_online(daemon.pid()).await;

    crate::support::send_command(
        &sub,
        "read-window",
        "w1",
        serde_json::json!({"device": "door", "action": "start"}),
    )
    .await;
    let mut got = Received::default();
    got.collect_until(&mut sub, Duration::from_secs(20), |r| {
        r.final_reply("w1").is_some() && !r.events.is_empty()
    })
    .await;
    let reply = got.final_reply("w1").unwrap();
    assert_eq!(reply["state"], "done", "{reply}");
    assert_eq!(reply["result"]["open"], true, "{reply}");
    let arrived = &got.events[0];
    assert_eq!(arrived["tg:movement"], "arrived");
    assert_eq!(arrived["tg:zone"], "reader");
    assert_eq!(arrived["bizStep"], "inspecting");
    assert_eq!(arrived["epcList"][0], epc_uri(42).as_str());

    let config_path = config.path.to_string_lossy().into_owned();
    let (code, out, err) = tokio::task::spawn_blocking(move || {
        crate::support::tracegate(&[
            "cmd",
            "--config",
            &config_path,
            "read-window",
            "door",
            "stop",
        ])
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "{out}{err}");
    assert!(!reader.running());
    // Closed: the tag is no longer seen, so it departs.
    got.collect_until(&mut sub, Duration::from_secs(20), |r| {
        r.events.iter().any(|e| e["tg:movement"] == "departed")
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tracegate_sim_llrp_reader_is_a_door_any_llrp_client_can_read() {
    use std::io::BufRead;
    let port = crate::support::free_port();
    let mut sim = crate::support::tracegate_command()
        .args([
            "sim",
            "llrp-reader",
            "--port",
            &port.to_string(),
            "--tags",
            "3",
            "--pass-every-ms",
            "1000",
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = sim.stderr.take().unwrap();
    let ready = tokio::task::spawn_blocking(move || {
        std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .any(|l| l.contains("simulated LLRP reader on"))
    });
    assert!(
        tokio::time::timeout(Duration::from_secs(20), ready)
            .await
            .unwrap()
            .unwrap()
    );
    let (tx, mut rx) = tokio::sync::mpsc::channel(256);
    let cancel = tokio_util::sync::CancellationToken::new();
    let driver = tracegate_drivers::rfid::llrp::LlrpReader::new(
        std::sync::Arc::from("door"),
        tracegate_drivers::rfid::llrp::LlrpSettings::new("127.0.0.1", port),
    );
    let task = tokio::spawn(driver.run(tx, tracegate_drivers::Commands::none(), cancel.clone()));
    let read = loop {
        match tokio::time::timeout(Duration::from_secs(20), rx.recv())
            .await
            .expect("a read within 20 s")
        {
            Some(tracegate_drivers::DeviceEvent::Read(read)) => break read,
            Some(_) => {}
            None => panic!("driver gone"),
        }
    };
    // SGTIN-96 of 0614141.812345: what the door's pallets carry.
    assert!(
        read.payload.starts_with(b"3034257BF7194E"),
        "{:?}",
        read.payload
    );
    cancel.cancel();
    task.await.unwrap();
    let _ = sim.kill();
    let _ = sim.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_keeps_an_unchanged_reader_s_tags_and_restarts_a_changed_one() {
    let reader = reader_with_one_tag(77).await;
    let broker = Broker::start();
    let door = |depart_ms: u64| {
        format!(
            "[[devices]]\nid = \"door\"\nkind = \"llrp-reader\"\nhost = \"127.0.0.1\"\nport = {}\ndepart_after_ms = {depart_ms}\n",
            reader.port
        )
    };
    let config = crate::support::TestConfig::new(broker.port, "", &door(1000));
    let daemon = Daemon::start(&config.path);
    let rfid = |s: &Value, key: &str| s["devices"][0]["rfid"][key].as_u64().unwrap_or(0);
    daemon
        .wait_status(Duration::from_secs(20), "the tag arrived", |s| {
            rfid(s, "arrivals_total") == 1
        })
        .await;
    let reload = |devices: String| {
        let text = std::fs::read_to_string(&config.path).unwrap();
        let head = text.split("[[devices]]").next().unwrap().to_string();
        std::fs::write(&config.path, format!("{head}{devices}")).unwrap();
        let path = config.path.to_string_lossy().into_owned();
        tokio::task::spawn_blocking(move || {
            crate::support::tracegate(&["cmd", "--config", &path, "reload"])
        })
    };

    // Another device added: the reader is unchanged and keeps following its tag.
    let (code, out, err) = reload(format!(
        "{}[[devices]]\nid = \"light\"\nkind = \"sim-output\"\nlines = [\"red\"]\n",
        door(1000)
    ))
    .await
    .unwrap();
    assert_eq!(code, 0, "{out}{err}");
    let reply: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        find(&reply, "unchanged"),
        Some(&serde_json::json!(["door"])),
        "{out}"
    );
    assert_eq!(
        find(&reply, "added"),
        Some(&serde_json::json!(["light"])),
        "{out}"
    );
    let reads = daemon.status().await.unwrap()["devices"][0]["reads_total"]
        .as_u64()
        .unwrap();
    let status = daemon
        .wait_status(
            Duration::from_secs(20),
            "two more seconds of reports",
            |s| s["devices"][0]["reads_total"].as_u64().unwrap() >= reads + 40,
        )
        .await;
    assert_eq!(
        rfid(&status, "arrivals_total"),
        1,
        "no second arrival: {status}"
    );
    assert_eq!(rfid(&status, "tags_present"), 1);

    // The reader's own settings changed: it restarts, and its smoothing with it (said in the log).
    let (code, out, err) = reload(door(1500)).await.unwrap();
    assert_eq!(code, 0, "{out}{err}");
    daemon
        .wait_status(Duration::from_secs(20), "the tag arrived again", |s| {
            rfid(s, "arrivals_total") == 2
        })
        .await;
    assert!(
        daemon
            .log()
            .contains("reader removed or changed with tags in view"),
        "{}",
        daemon.log()
    );
}

/// The first value under `key` anywhere in `v`.
fn find<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    match v {
        Value::Object(map) => map
            .get(key)
            .or_else(|| map.values().find_map(|x| find(x, key))),
        Value::Array(items) => items.iter().find_map(|x| find(x, key)),
        _ => None,
    }
}
