//! China's other identifier systems end to end: an MA medical-device UDI and an industrial-
//! internet Handle scanned as QR codes on a real serial line arrive at a subscriber as EPCIS
//! events naming them (the UDI's lot and dates as ILMD on commissioning); a malformed UDI is
//! refused with the field and the reason; `tracegate decode` shows each system's fields.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{Broker, Daemon, Received, Subscriber, TestConfig, scan, serial_scanner};
use tracegate_drivers::sim::VirtualSerialPort;

/// The flashcloud/ma-parser project's published UDI, as a QR code reads it (`]Q1`).
const UDI: &str =
    "]Q1MA.156.M0.100761.21234561.Sx00008.M220117.L20220117.D20220118.E220130.V220117.C3";
/// The issuer's resolution URL of an organisation code.
const MA_URL: &str = "]Q1http://s.idcode.org.cn/?code=MA.156.1003.16291";
/// The IDIS operator's published instance identifier.
const HANDLE: &str = "]Q188.608.8889/87654321";
/// A UDI whose product code has 7 digits, not 8.
const BAD_UDI: &str = "]Q1MA.156.M0.100761.2123456.S1";
/// An OID under China's arc (GM/T 0006: the SM2 algorithm's), as a URN.
const OID: &str = "]Q1urn:oid:1.2.156.10197.1.301";
const LAST: &str = "]Q1https://hdl.handle.net/88.1000.2/mm";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scanned_udi_and_a_handle_arrive_as_events_naming_them() {
    let broker = Broker::start();
    let mut line = VirtualSerialPort::new().unwrap();
    let devices = format!(
        "{}accept = [\"cn_ma\", \"cn_handle\", \"cn_oid\"]\naction = \"ADD\"\nbiz_step = \"commissioning\"\n",
        serial_scanner("udi-line", line.path()),
    );
    let config = TestConfig::new(broker.port, "", &devices);
    let mut sub = Subscriber::connect(broker.port, &["tracegate/gw-test/events"]).await;
    let daemon = Daemon::start(&config.path);
    daemon.wait_devices_up().await;

    scan(
        &mut line,
        &[
            UDI,
            MA_URL,
            HANDLE,
            BAD_UDI,
            "]d201095060001343522101",
            OID,
            LAST,
        ],
    )
    .await;
    let mut got = Received::default();
    got.collect_until(&mut sub, Duration::from_secs(30), |r| {
        r.events.iter().any(|e| e["tg:rawData"] == LAST)
    })
    .await;
    let raw: Vec<&str> = got
        .events
        .iter()
        .map(|e| e["tg:rawData"].as_str().unwrap())
        .collect();
    assert_eq!(
        raw,
        [UDI, MA_URL, HANDLE, OID, LAST],
        "refused reads are not recorded"
    );

    let udi = &got.events[0];
    assert_eq!(udi["tg:kind"], "cn_ma");
    assert_eq!(udi["tg:symbology"], "]Q1");
    assert_eq!(
        udi["epcList"],
        json!(["http://s.idcode.org.cn/?code=MA.156.M0.100761.21234561.Sx00008"])
    );
    assert_eq!(
        udi["ilmd"],
        json!({
            "cbvmda:lotNumber": "20220117",
            "cbvmda:productionDate": "2022-01-17",
            "cbvmda:itemExpirationDate": "2022-01-30",
        }),
        "{udi}"
    );
    assert_eq!(
        got.events[1]["epcList"],
        json!(["http://s.idcode.org.cn/?code=MA.156.1003.16291"])
    );
    assert_eq!(got.events[2]["tg:kind"], "cn_handle");
    assert_eq!(
        got.events[2]["epcList"],
        json!(["https://hdl.handle.net/88.608.8889/87654321"])
    );
    assert_eq!(got.events[3]["tg:kind"], "cn_oid");
    assert_eq!(
        got.events[3]["epcList"],
        json!(["urn:oid:1.2.156.10197.1.301"])
    );
    assert_eq!(
        got.events[4]["epcList"],
        json!(["https://hdl.handle.net/88.1000.2/mm"])
    );

    // The malformed UDI and the GS1 code the line does not accept are counted and explained.
    let status = daemon.status().await.unwrap();
    let device = &status["devices"][0];
    assert_eq!(device["reads_total"], 7, "{device}");
    assert_eq!(device["rejects_total"], 2, "{device}");
    let log = daemon.log();
    assert!(
        log.contains("the UDI's product code is 8 digits"),
        "the refusal names the field and the reason: {log}"
    );
}

#[test]
fn decode_shows_each_systems_fields_and_refuses_malformed_codes() {
    let (code, out, _) = crate::support::tracegate(&[
        "decode",
        &UDI[3..],
        "88.608.8889/87654321",
        "MA.156.M0.100761.21234561.M221301",
        "--as",
        "cn-handle",
    ]);
    assert_eq!(code, 0);
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // `--as cn-handle` reads every input as a handle: the UDI is no handle.
    assert_eq!(lines[0]["valid"], false);
    assert_eq!(lines[0]["error"]["kind"], "not_handle");
    assert_eq!(lines[1]["national"]["prefix"], "88.608.8889");
    assert_eq!(lines[1]["national"]["idis"], true);

    let (_, out, _) =
        crate::support::tracegate(&["decode", &UDI[3..], "MA.156.M0.100761.21234561.M221301"]);
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["kind"], "cn_ma");
    let udi = &lines[0]["national"]["udi"];
    assert_eq!(udi["di"], "MA.156.M0.100761.21234561");
    assert_eq!(udi["serial"], "x00008");
    assert_eq!(udi["sterilisation_lot"], "20220118");
    assert_eq!(udi["validity_date"], "2022-01-17");
    assert_eq!(udi["check"], "3");
    assert_eq!(lines[1]["valid"], false);
    assert_eq!(lines[1]["error"]["kind"], "invalid_date");
    assert_eq!(lines[1]["error"]["position"], 27);
}
