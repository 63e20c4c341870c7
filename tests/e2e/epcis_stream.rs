//! What the platform receives: the daemon's stream of EPCIS documents, captured by a real MQTT
//! subscriber, is schema-valid EPCIS 2.0; every eventID is the CBV 2.0 hash that
//! `tracegate epcis hash` (and so the reference algorithm) computes; and `tracegate events
//! export` writes the very same events, byte for byte.

use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

use crate::support::epcis_schema::assert_schema_valid;
use crate::support::{Broker, Daemon, Subscriber, TestConfig, serial_scanner, tracegate};
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use tracegate_drivers::sim::{ScannerSim, SimFrame, VirtualSerialPort};

fn hash_ids(document: &[u8]) -> Vec<String> {
    let mut child = crate::support::tracegate_command()
        .args(["epcis", "hash"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(document).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_is_valid_epcis_with_verifiable_ids_and_export_matches_it() {
    let broker = Broker::start();
    let mut dock = VirtualSerialPort::new().unwrap();
    let mut packer = VirtualSerialPort::new().unwrap();
    let devices = format!(
        "{}biz_step = \"receiving\"\ndisposition = \"in_progress\"\n\
         biz_transactions = [{{ type = \"po\", id = \"urn:epcglobal:cbv:bt:0614141000005:PO-4711\" }}]\n\
         sources = [{{ type = \"owning_party\", id = \"urn:epc:id:pgln:4012345.00000\" }}]\n\n\
         {}event = \"aggregation\"\nbiz_step = \"packing\"\n\n\
         [[devices]]\nid = \"generator\"\nkind = \"sim-scanner\"\nrate_per_s = 50.0\ncount = 40\n\
         action = \"ADD\"\nbiz_step = \"commissioning\"\n",
        serial_scanner("dock", dock.path()),
        serial_scanner("packer", packer.path()),
    );
    let config = TestConfig::new(broker.port, "", &devices);
    let mut sub = Subscriber::connect(broker.port, &["tracegate/gw-test/events"]).await;
    let mut daemon = Daemon::start(&config.path);
    daemon.wait_devices_up().await;

    let sim = ScannerSim::default();
    let dock_codes = [
        "]C100106141411234567897",                   // SSCC pallet label
        "]d20180614141123458216789",                 // GTIN + serial
        "]d2010061414112345210LOT7\u{1d}3102000500", // GTIN + lot + net weight 5 kg (prefix unknown: Digital Link)
        "https://id.gs1.org/01/09506000134352/21/ABC?17=271231", // a Digital Link QR code
        "3034257BF400B7800004CB2F",                  // an SGTIN-96 tag read as hex
    ];
    sim.run(
        dock.master(),
        dock_codes.iter().map(|c| SimFrame::new(c.as_bytes())),
        &CancellationToken::new(),
    )
    .await
    .unwrap();
    let packing = [
        "]d20180614141123458211",
        "]d20180614141123458212",
        "]C100106141411234567897",
    ];
    sim.run(
        packer.master(),
        packing.iter().map(|c| SimFrame::new(c.as_bytes())),
        &CancellationToken::new(),
    )
    .await
    .unwrap();

    // 5 dock events, 1 aggregation, 40 generated commissioning events.
    let want = dock_codes.len() + 1 + 40;
    let mut documents: Vec<Vec<u8>> = Vec::new();
    let mut events: Vec<Value> = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while events.len() < want {
        assert!(
            std::time::Instant::now() < deadline,
            "{} of {want} events",
            events.len()
        );
        let Some((_, payload)) = sub.next(Duration::from_secs(5)).await else {
            continue;
        };
        let doc: Value = serde_json::from_slice(&payload).unwrap();
        assert_schema_valid(&doc);
        // Each eventID is the hash anyone recomputes from the published document.
        let ids = hash_ids(&payload);
        let list = doc["epcisBody"]["eventList"].as_array().unwrap();
        assert_eq!(ids.len(), list.len());
        for (event, id) in list.iter().zip(&ids) {
            assert_eq!(event["eventID"], id.as_str(), "{event}");
        }
        events.extend(list.iter().cloned());
        documents.push(payload);
    }
    assert_eq!(events.len(), want);

    let by = |device: &str| -> Vec<&Value> {
        events
            .iter()
            .filter(|e| e["tg:deviceId"] == device)
            .collect()
    };
    let dock_events = by("dock");
    assert_eq!(
        dock_events[0]["epcList"][0],
        "urn:epc:id:sscc:0614141.1123456789"
    );
    assert_eq!(
        dock_events[1]["epcList"][0],
        "urn:epc:id:sgtin:0614141.812345.6789"
    );
    assert_eq!(dock_events[1]["bizStep"], "receiving");
    assert_eq!(
        dock_events[1]["bizTransactionList"][0]["bizTransaction"],
        "urn:epcglobal:cbv:bt:0614141000005:PO-4711"
    );
    assert_eq!(
        dock_events[1]["readPoint"]["id"],
        "urn:epc:id:sgln:9506000134.00.0"
    );
    let lot = &dock_events[2]["quantityList"][0];
    assert_eq!(lot["epcClass"], "urn:epc:class:lgtin:0614141.012345.LOT7");
    assert_eq!(lot["quantity"], 5);
    assert_eq!(lot["uom"], "KGM");
    assert_eq!(dock_events[3]["tg:kind"], "digital_link");
    assert_eq!(
        dock_events[4]["epcList"][0],
        "urn:epc:id:sgtin:0614141.000734.314159"
    );
    let packed = by("packer");
    assert_eq!(packed.len(), 1);
    assert_eq!(packed[0]["type"], "AggregationEvent");
    assert_eq!(packed[0]["parentID"], "urn:epc:id:sscc:0614141.1123456789");
    assert_eq!(packed[0]["childEPCs"].as_array().unwrap().len(), 2);
    let generated = by("generator");
    assert_eq!(generated.len(), 40);
    assert!(
        generated
            .iter()
            .all(|e| e["action"] == "ADD" && e.get("ilmd").is_some())
    );

    // Export writes the same events, byte for byte, as one valid document.
    assert!(daemon.terminate().success());
    let (code, out, err) = tracegate(&[
        "events",
        "export",
        "--config",
        config.path.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains(&format!("exported {want} events")), "{err}");
    let exported: Value = serde_json::from_str(&out).unwrap();
    assert_schema_valid(&exported);
    let published = documents
        .iter()
        .map(|d| String::from_utf8_lossy(d).into_owned())
        .collect::<Vec<_>>()
        .join("\n");
    for event in exported["epcisBody"]["eventList"].as_array().unwrap() {
        let id = event["eventID"].as_str().unwrap();
        let start = out.find(id).unwrap();
        // The event's text in the export appears verbatim in what MQTT carried.
        let begin = out[..start].rfind("{\"type\"").unwrap();
        let text = &out[begin..];
        let end = text.find(&format!("\"eventID\":\"{id}\"")).unwrap();
        assert!(published.contains(&text[..end]), "event {id} differs");
    }
    let (code, out, _) = tracegate(&[
        "events",
        "export",
        "--config",
        config.path.to_str().unwrap(),
        "--device",
        "packer",
    ]);
    assert_eq!(code, 0);
    let only: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(only["epcisBody"]["eventList"].as_array().unwrap().len(), 1);
}
