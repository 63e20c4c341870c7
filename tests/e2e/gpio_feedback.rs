//! Operator feedback rules end to end through the daemon: a refused scan drives the red light
//! and the buzzer, a committed one the green light (and its event reaches a real subscriber),
//! a device that is down holds the amber light blinking, the broker away for too long lights
//! it steady; a simulated photo-eye's debounced edges show in status and the log, and the
//! `inputs` command answers with its levels; a line that records its edges publishes each as
//! an EPCIS event valid against GS1's schema.

use std::time::Duration;

use crate::support::epcis_schema::assert_schema_valid;
use crate::support::{
    Broker, Daemon, Received, Subscriber, TestConfig, free_port, scan, send_command, serial_scanner,
};
use serde_json::{Value, json};
use tracegate_drivers::sim::VirtualSerialPort;

const LIGHT: &str = r#"
[[devices]]
id = "light"
kind = "sim-output"
lines = ["red", "amber", "green", "buzzer"]

[[devices]]
id = "eye"
kind = "sim-gpio-input"
lines = [{ name = "photo-eye", pin = 17, pull = "up", active = "low", debounce_ms = 20, role = "photo-eye" }]
script = { line = "photo-eye", every_ms = 300, hold_ms = 100, bounces = 3 }
"#;

const RULES: &str = r#"
[[feedback]]
on = "rejected"
devices = ["packer"]
output = "light"
line = "red"
pattern = "pulses 3x2s"

[[feedback]]
on = "rejected"
devices = ["packer"]
output = "light"
line = "buzzer"
pattern = "pulses 2x2s"

[[feedback]]
on = "captured"
devices = ["packer"]
output = "light"
line = "green"
pattern = "pulse 5s"
"#;

/// The status entry of device `id`.
fn device<'a>(status: &'a Value, id: &str) -> &'a Value {
    status["devices"]
        .as_array()
        .and_then(|d| d.iter().find(|d| d["id"] == id))
        .unwrap_or(&Value::Null)
}

fn shows(status: &Value, line: &str) -> String {
    device(status, "light")["patterns"][line]
        .as_str()
        .unwrap_or("")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scans_drive_the_stack_light_and_a_down_device_holds_amber() {
    let broker = Broker::start();
    let mut pty = VirtualSerialPort::new().unwrap();
    let down = r#"
[[devices]]
id = "ghost"
kind = "serial-scanner"
port = "/dev/tracegate-test-no-such-port"

[[feedback]]
on = "device-down"
devices = ["ghost"]
output = "light"
line = "amber"
pattern = "blink 250ms"
"#;
    // Here the photo-eye's edges are recorded too.
    let light = LIGHT.replace(
        r#"role = "photo-eye" }"#,
        r#"role = "photo-eye", record = "both", biz_step = "arriving" }"#,
    );
    assert_ne!(light, LIGHT);
    let devices = format!(
        "{}{light}{RULES}{down}",
        serial_scanner("packer", pty.path())
    );
    let config = TestConfig::new(broker.port, "", &devices);
    let mut sub = Subscriber::connect(
        broker.port,
        &["tracegate/gw-test/events", "tracegate/gw-test/reply/+"],
    )
    .await;
    let daemon = Daemon::start(&config.path);
    daemon
        .wait_status(
            Duration::from_secs(20),
            "scanner and light up, amber blinking for the ghost",
            |s| {
                device(s, "packer")["state"] == "up"
                    && device(s, "light")["state"] == "up"
                    && shows(s, "amber") == "blink 250ms (rule 4: device-down)"
            },
        )
        .await;

    // A refused scan (a bad GS1 check digit): red and the buzzer, at once.
    scan(&mut pty, &["]C10109506000134353"]).await;
    let status = daemon
        .wait_status(
            Duration::from_secs(10),
            "red and buzzer for the refused scan",
            |s| {
                shows(s, "red") == "pulses 3x2000ms (rule 1: rejected)"
                    && shows(s, "buzzer") == "pulses 2x2000ms (rule 2: rejected)"
            },
        )
        .await;
    assert_eq!(
        shows(&status, "green"),
        "off",
        "no green for a refused scan"
    );
    assert_eq!(device(&status, "packer")["rejects_total"], 1);

    // A good one: green once its event is committed; the event reaches the subscriber.
    scan(&mut pty, &["]C10109506000134352"]).await;
    let status = daemon
        .wait_status(
            Duration::from_secs(10),
            "green for the captured scan",
            |s| shows(s, "green") == "pulse 5000ms (rule 3: captured)",
        )
        .await;
    assert!(device(&status, "packer")["signals_total"].as_u64() >= Some(3));
    let mut got = Received::default();
    got.collect_until(&mut sub, Duration::from_secs(10), |r| {
        r.has_read("]C10109506000134352")
    })
    .await;

    // The photo-eye's beam is broken and cleared on its schedule, bounces filtered.
    let status = daemon
        .wait_status(Duration::from_secs(10), "photo-eye edges", |s| {
            device(s, "eye")["edges_total"].as_u64() >= Some(4)
        })
        .await;
    let eye = &device(&status, "eye")["inputs"]["photo-eye"];
    assert!(
        eye["state"] == "beam broken" || eye["state"] == "beam clear",
        "{eye}"
    );
    daemon
        .wait_log(Duration::from_secs(5), "beam broken at")
        .await;
    // Both edges reach the subscriber as events with the line's level as a sensor report.
    let eye_events = |r: &Received| -> Vec<Value> {
        r.events
            .iter()
            .filter(|e| e["tg:deviceId"] == "eye")
            .cloned()
            .collect()
    };
    got.collect_until(&mut sub, Duration::from_secs(10), |r| {
        let levels: Vec<Value> = eye_events(r)
            .iter()
            .map(|e| e["sensorElementList"][0]["sensorReport"][0]["booleanValue"].clone())
            .collect();
        levels.contains(&json!(true)) && levels.contains(&json!(false))
    })
    .await;
    for event in eye_events(&got) {
        let mut alone = event.clone();
        alone["@context"] = json!(["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld", {"tg": "https://ns.tracegate.dev/epcis/"}]);
        assert_schema_valid(&alone);
        assert_eq!(event["type"], "ObjectEvent");
        assert_eq!(event["epcList"], json!([]));
        assert_eq!(event["bizStep"], "arriving");
        assert_eq!(event["readPoint"]["id"], "urn:epc:id:sgln:9506000134.00.0");
        assert_eq!(event["tg:line"], "photo-eye");
        let report = &event["sensorElementList"][0]["sensorReport"][0];
        assert_eq!(report["type"], "tg:ContactState");
        let words = if report["booleanValue"] == true {
            "beam broken"
        } else {
            "beam clear"
        };
        assert_eq!(report["stringValue"], words, "{event}");
        assert_eq!(
            event["sensorElementList"][0]["sensorMetadata"]["time"], event["eventTime"],
            "dated by the edge"
        );
    }
    send_command(&sub, "inputs", "i1", json!({"device": "eye"})).await;
    got.collect_until(&mut sub, Duration::from_secs(10), |r| {
        r.final_reply("i1").is_some()
    })
    .await;
    let reply = got.final_reply("i1").unwrap();
    let line = &reply["result"]["inputs"]["photo-eye"];
    assert!(
        line["active"].is_boolean() && line["raw_high"].is_boolean(),
        "{reply}"
    );

    // A command at priority 0 does not show over a rule's fault.
    send_command(
        &sub,
        "output",
        "o1",
        json!({"device": "light", "line": "amber", "pattern": "off"}),
    )
    .await;
    got.collect_until(&mut sub, Duration::from_secs(10), |r| {
        r.final_reply("o1").is_some()
    })
    .await;
    assert_eq!(
        got.final_reply("o1").unwrap()["result"]["shown"],
        "blink 250ms",
        "the fault keeps showing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_broker_away_too_long_lights_amber_until_it_is_back() {
    let port = free_port();
    let rule = r#"
[[feedback]]
on = "offline-too-long"
after_s = 1
output = "light"
line = "amber"
pattern = "on"
"#;
    let config = TestConfig::new(port, "", &format!("{LIGHT}{rule}"));
    let daemon = Daemon::start(&config.path);
    daemon
        .wait_status(
            Duration::from_secs(20),
            "amber on while the broker is away",
            |s| shows(s, "amber") == "on (rule 1: offline-too-long)",
        )
        .await;
    let _broker = Broker::start_on(port, "");
    daemon
        .wait_status(
            Duration::from_secs(30),
            "amber off once the broker is back",
            |s| s["broker"]["connected"] == true && shows(s, "amber") == "off",
        )
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_double_scan_and_a_full_outbox_have_their_own_patterns() {
    // No broker: the outbox (room for 2 events, refusing new ones when full) fills up.
    let port = free_port();
    let mut pty = VirtualSerialPort::new().unwrap();
    let rules = r#"
[[feedback]]
on = "duplicate"
devices = ["packer"]
output = "light"
line = "amber"
pattern = "pulses 2x2s"

[[feedback]]
on = "outbox-full"
devices = ["packer"]
output = "light"
line = "red"
pattern = "on"
for_ms = 8000
"#;
    let devices = format!(
        "{}dedupe_ms = 60000\n{LIGHT}{rules}",
        serial_scanner("packer", pty.path())
    );
    let config = TestConfig::new(port, "max_events = 2\nwhen_full = \"refuse-new\"", &devices);
    let daemon = Daemon::start(&config.path);
    daemon
        .wait_status(Duration::from_secs(20), "scanner and light up", |s| {
            device(s, "packer")["state"] == "up" && device(s, "light")["state"] == "up"
        })
        .await;

    // The same code twice within dedupe_ms: one read, and amber for the repeat.
    scan(&mut pty, &["]C10109506000134352", "]C10109506000134352"]).await;
    daemon
        .wait_status(Duration::from_secs(10), "amber for the double scan", |s| {
            device(s, "packer")["duplicates_total"] == 1
                && shows(s, "amber") == "pulses 2x2000ms (rule 1: duplicate)"
        })
        .await;

    // Two more good codes: the second finds the outbox full and is refused, red for it.
    scan(&mut pty, &["]C10106141411234562", "]C10195012345678903"]).await;
    let status = daemon
        .wait_status(
            Duration::from_secs(10),
            "red for the read the full outbox refused",
            |s| s["queue"]["refused_total"] == 1 && shows(s, "red") == "on (rule 2: outbox-full)",
        )
        .await;
    assert_eq!(status["queue"]["stored_events"], 2);
}
