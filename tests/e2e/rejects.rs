//! Reads that fail decoding or are of a kind a device does not accept: refused (never recorded,
//! counted and explained in status) or flagged (recorded with the error), per device config.

use std::time::Duration;

use crate::support::{Broker, Daemon, Received, Subscriber, TestConfig, scan, serial_scanner};
use tracegate_drivers::sim::VirtualSerialPort;

const GOOD: &str = "]d201095060001343522101";
const BAD_CHECK_DIGIT: &str = "]d201095060001343532102";
const EPC: &str = "3034257BF400B7800004CB2F";
const LAST: &str = "]d201095060001343522199";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_reads_are_not_recorded_and_flagged_reads_carry_their_error() {
    let broker = Broker::start();
    let mut line = VirtualSerialPort::new().unwrap();
    let mut field = VirtualSerialPort::new().unwrap();
    let devices = format!(
        "{}accept = [\"gs1\"]\n\n{}on_reject = \"flag\"\naccept = [\"gs1\", \"digital-link\"]\n",
        serial_scanner("line", line.path()),
        serial_scanner("field", field.path()),
    );
    let config = TestConfig::new(broker.port, "", &devices);
    let mut sub = Subscriber::connect(broker.port, &["tracegate/gw-test/events"]).await;
    let mut daemon = Daemon::start(&config.path);
    daemon.wait_devices_up().await;

    let sequence = [GOOD, BAD_CHECK_DIGIT, EPC, "hello", LAST];
    scan(&mut line, &sequence).await;
    scan(&mut field, &sequence).await;

    let mut got = Received::default();
    got.collect_until(&mut sub, Duration::from_secs(30), |r| {
        r.events.iter().filter(|e| e["tg:rawData"] == LAST).count() == 2
    })
    .await;
    let from = |device: &str| -> Vec<&serde_json::Value> {
        got.events
            .iter()
            .filter(|e| e["tg:deviceId"] == device)
            .collect()
    };

    // The refusing device recorded only its valid GS1 reads.
    let line_raw: Vec<&str> = from("line")
        .iter()
        .map(|e| e["tg:rawData"].as_str().unwrap())
        .collect();
    assert_eq!(line_raw, [GOOD, LAST]);
    assert!(from("line").iter().all(|e| e.get("tg:rejected").is_none()));
    assert_eq!(from("line")[0]["tg:kind"], "gs1");
    assert_eq!(from("line")[0]["tg:symbology"], "]d2");

    // The flagging device recorded every read, the rejected ones with what is wrong and where.
    let field_events = from("field");
    assert_eq!(field_events.len(), sequence.len());
    let bad = &field_events[1]["tg:rejected"];
    assert_eq!(bad["tg:reason"], "bad_check_digit");
    assert_eq!(bad["tg:position"], 18, "{bad}");
    assert!(bad["tg:message"].as_str().unwrap().contains("check digit"));
    assert_eq!(
        field_events[1]["epcList"],
        serde_json::json!([]),
        "no identifier from a bad read"
    );
    assert_eq!(field_events[2]["tg:kind"], "epc");
    assert_eq!(
        field_events[2]["tg:rejected"]["tg:reason"],
        "kind_not_accepted"
    );
    assert_eq!(
        field_events[3]["tg:rejected"]["tg:reason"],
        "kind_not_accepted"
    );
    // The good reads are identified.
    // GS1's GCP length table gives prefixes beginning 9506 eleven digits.
    assert_eq!(
        field_events[0]["epcList"][0],
        "urn:epc:id:sgtin:95060001343.05.01"
    );
    assert!(field_events[4].get("tg:rejected").is_none());

    // Both devices count their rejects and say why the latest one happened.
    let status = daemon.status().await.unwrap();
    for device in status["devices"].as_array().unwrap() {
        assert_eq!(device["reads_total"], 5, "{device}");
        assert_eq!(device["rejects_total"], 3, "{device}");
        let reason = device["last_reject"].as_str().unwrap();
        assert!(reason.contains("plain"), "{reason}");
    }
    assert!(daemon.terminate().success());
    let log = daemon.log();
    assert!(log.contains("REFUSED"), "{log}");
    assert!(log.contains("rescan the item"), "{log}");
    assert!(log.contains("FLAGGED"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scanner_is_told_each_outcome_with_its_own_host_commands() {
    let broker = Broker::start();
    let mut line = VirtualSerialPort::new().unwrap();
    let mut field = VirtualSerialPort::new().unwrap();
    // Datalogic RS-232 host commands: `B` good-read tone, `F` "not on file" tone.
    let devices = format!(
        "{}accept = [\"gs1\"]\non_accept_send = \"B\"\non_reject_send = \"F\"\n\n\
         {}on_reject = \"flag\"\naccept = [\"gs1\"]\non_reject_send = \"\\u0007\"\n",
        serial_scanner("line", line.path()),
        serial_scanner("field", field.path()),
    );
    let config = TestConfig::new(broker.port, "", &devices);
    let (code, _, err) =
        crate::support::tracegate(&["check-config", config.path.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let daemon = Daemon::start(&config.path);
    daemon.wait_devices_up().await;

    // One read at a time, so each answer belongs to its read.
    for (code, answer) in [
        (GOOD, b"B"),
        (BAD_CHECK_DIGIT, b"F"),
        ("hello", b"F"),
        (LAST, b"B"),
    ] {
        scan(&mut line, &[code]).await;
        assert_eq!(
            line.receive(1, Duration::from_secs(10)).await.unwrap(),
            answer,
            "after {code}"
        );
    }
    // A flagged read is recorded but still a reject to the operator; an accepted read on a
    // device with no accept bytes sends nothing, so the next byte is the second reject's.
    scan(&mut field, &[BAD_CHECK_DIGIT, GOOD, "hello"]).await;
    assert_eq!(
        field.receive(2, Duration::from_secs(10)).await.unwrap(),
        b"\x07\x07"
    );
    daemon
        .wait_status(Duration::from_secs(10), "field reads counted", |s| {
            s["devices"][1]["reads_total"] == 3
        })
        .await;
}
