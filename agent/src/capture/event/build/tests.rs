use std::time::{Instant, SystemTime};

use serde_json::Value;
use tracegate_drivers::ReadMeta;

use super::*;
use crate::config::UriForm;
use tracegate_epcis::DocumentWriter;
use tracegate_epcis::context::TransactionRef;
use tracegate_identifiers::gcp::GcpTable;
use tracegate_identifiers::{Mode, Rules, decode};

use crate::capture::event::epcis_schema;

fn builder() -> EventBuilder {
    let mut t = GcpTable::default();
    t.set("0614141", 7).unwrap();
    t.set("4012345", 7).unwrap();
    EventBuilder::new(
        IdMapper::new(UriForm::Epc, Arc::new(t)),
        TimeZone::get("Asia/Shanghai").unwrap(),
    )
}

fn read(payload: &str) -> RawRead {
    RawRead {
        device: Arc::from("dock-1"),
        at: SystemTime::now(),
        mono: Instant::now(),
        payload: payload.as_bytes().to_vec().into(),
        meta: ReadMeta::default(),
    }
}

fn dock() -> BizContext {
    BizContext {
        biz_step: Some("receiving".into()),
        disposition: Some("in_progress".into()),
        read_point: Some("urn:epc:id:sgln:0614141.00777.0".into()),
        biz_transactions: vec![TransactionRef {
            kind: Some("po".into()),
            id: "urn:epcglobal:cbv:bt:0614141000005:PO-4711".into(),
        }],
        ..BizContext::default()
    }
}

const AT: &str = "2026-11-26T02:00:00.123Z";

fn accepted(b: &EventBuilder, payload: &str, ctx: &BizContext) -> Event {
    let id = decode(payload.as_bytes(), Mode::Auto, Rules::default())
        .result
        .unwrap();
    let mapped = b.mapper().map(&id, jiff::civil::date(2026, 11, 26));
    b.object_event(
        AT.parse().unwrap(),
        &read(payload),
        Outcome::Accepted(&mapped, id.kind, id.symbology.as_deref()),
        ctx,
    )
}

#[test]
fn a_scan_becomes_an_object_event_in_its_context() {
    let b = builder();
    let event = accepted(&b, "]d20180614141123458216789", &dock());
    let v = serde_json::to_value(&event).unwrap();
    assert_eq!(v["type"], "ObjectEvent");
    assert_eq!(v["eventTime"], AT);
    assert_eq!(v["eventTimeZoneOffset"], "+08:00");
    assert_eq!(v["epcList"][0], "urn:epc:id:sgtin:0614141.812345.6789");
    assert_eq!(v["action"], "OBSERVE");
    assert_eq!(v["bizStep"], "receiving");
    assert_eq!(v["bizTransactionList"][0]["type"], "po");
    assert_eq!(v["tg:deviceId"], "dock-1");
    assert_eq!(v["tg:rawData"], "]d20180614141123458216789");
    assert_eq!(v["tg:kind"], "gs1");
    assert_eq!(v["tg:symbology"], "]d2");
    assert!(v.get("ilmd").is_none(), "ILMD only when commissioning");
}

#[test]
fn commissioning_carries_lot_and_expiry_as_ilmd() {
    let b = builder();
    let ctx = BizContext {
        action: Some(Action::Add),
        biz_step: Some("commissioning".into()),
        ..BizContext::default()
    };
    let v = serde_json::to_value(accepted(&b, "(01)04012345123456(10)L7(17)280131", &ctx)).unwrap();
    assert_eq!(
        v["quantityList"][0]["epcClass"],
        "urn:epc:class:lgtin:4012345.012345.L7"
    );
    assert_eq!(v["quantityList"][0]["quantity"], 1);
    assert_eq!(v["ilmd"]["cbvmda:lotNumber"], "L7");
    assert_eq!(v["ilmd"]["cbvmda:itemExpirationDate"], "2028-01-31");
}

#[test]
fn finished_events_carry_their_hash_as_id_and_are_valid_epcis() {
    let b = builder();
    let flagged_error =
        tracegate_identifiers::DecodeError::at("bad_check_digit", 17, "check digit");
    let events = vec![
        accepted(&b, "]d20180614141123458216789", &dock()),
        b.object_event(
            AT.parse().unwrap(),
            &read("(01)80614141123459"),
            Outcome::Flagged(Kind::Gs1, &flagged_error),
            &dock(),
        ),
        b.parent_event(
            AT.parse().unwrap(),
            "packer",
            &b.mapper().map(
                &decode(b"(00)106141412345678908", Mode::Auto, Rules::default())
                    .result
                    .unwrap(),
                jiff::civil::date(2026, 11, 26),
            ),
            &[b.mapper().map(
                &decode(b"(01)80614141123458(21)1", Mode::Auto, Rules::default())
                    .result
                    .unwrap(),
                jiff::civil::date(2026, 11, 26),
            )],
            &BizContext {
                event: EventKind::Aggregation,
                biz_step: Some("packing".into()),
                ..BizContext::default()
            },
        ),
    ];
    let mut doc = DocumentWriter::new(Timestamp::now(), 4096);
    for event in events {
        let stored = b.finish(event, &Arc::from("dock-1"));
        let v: Value = serde_json::from_str(&stored.body).unwrap();
        assert_eq!(v["eventID"], stored.event_id);
        // The ID is the hash of the event as published, recomputable by anyone.
        let mut without = v.as_object().unwrap().clone();
        without.remove("eventID");
        let ns = Namespaces::from_context(
            &serde_json::from_str(tracegate_epcis::document::CONTEXT).unwrap(),
        );
        assert_eq!(hash::event_hash(&without, &ns), stored.event_id);
        doc.push(&stored.body);
    }
    let doc: Value = serde_json::from_slice(&doc.finish()).unwrap();
    epcis_schema::assert_schema_valid(&doc);
    let list = doc["epcisBody"]["eventList"].as_array().unwrap();
    assert_eq!(list[1]["tg:rejected"]["tg:reason"], "bad_check_digit");
    assert_eq!(list[2]["type"], "AggregationEvent");
    assert_eq!(list[2]["parentID"], "urn:epc:id:sscc:0614141.1234567890");
    assert_eq!(list[2]["childEPCs"][0], "urn:epc:id:sgtin:0614141.812345.1");
    assert_eq!(list[2]["action"], "ADD");
}

#[test]
fn the_same_read_in_the_same_context_is_the_same_event() {
    let b = builder();
    let one = b.finish(
        accepted(&b, "]d20180614141123458216789", &dock()),
        &Arc::from("dock-1"),
    );
    let two = b.finish(
        accepted(&b, "]d20180614141123458216789", &dock()),
        &Arc::from("dock-1"),
    );
    assert_eq!(one.event_id, two.event_id);
    let mut other = dock();
    other.biz_step = Some("shipping".into());
    let three = b.finish(
        accepted(&b, "]d20180614141123458216789", &other),
        &Arc::from("dock-1"),
    );
    assert_ne!(one.event_id, three.event_id);
}

#[test]
fn an_input_edge_is_an_object_event_with_a_sensor_report() {
    let b = builder();
    let edge = |active: bool| InputEdge {
        at: AT.parse().unwrap(),
        device: "door-io",
        line: "cold-room",
        active,
        words: if active { "open" } else { "closed" },
        biz_step: Some("storing"),
        read_point: Some("urn:epc:id:sgln:0614141.00777.0"),
        biz_location: None,
    };
    let opened = b.finish(b.input_event(&edge(true)), &Arc::from("door-io"));
    let again = b.finish(b.input_event(&edge(true)), &Arc::from("door-io"));
    let closed = b.finish(b.input_event(&edge(false)), &Arc::from("door-io"));
    assert_eq!(opened.event_id, again.event_id, "one edge, one eventID");
    assert_ne!(opened.event_id, closed.event_id);
    let mut doc = DocumentWriter::new(Timestamp::now(), 4096);
    doc.push(&opened.body);
    doc.push(&closed.body);
    let doc: Value = serde_json::from_slice(&doc.finish()).unwrap();
    epcis_schema::assert_schema_valid(&doc);
    let event = &doc["epcisBody"]["eventList"][0];
    assert_eq!(event["action"], "OBSERVE");
    assert_eq!(event["epcList"], serde_json::json!([]));
    assert_eq!(event["bizStep"], "storing");
    let report = &event["sensorElementList"][0]["sensorReport"][0];
    assert_eq!(report["type"], "tg:ContactState");
    assert_eq!(report["booleanValue"], true);
    assert_eq!(report["stringValue"], "open");
    assert_eq!(event["sensorElementList"][0]["sensorMetadata"]["time"], AT);
}

#[test]
fn a_printed_label_is_commissioned_and_a_voided_one_decommissioned() {
    let b = builder();
    let gs1 = vec![
        "(01)04012345000016(17)271231(10)A17(21)1001".to_string(),
        "(00)040123450000000016".to_string(),
    ];
    let label = |printed: bool, reprints: u32| PrintedLabel {
        at: AT.parse().unwrap(),
        device: "line-printer",
        key: "order-881-case-1",
        gs1: &gs1,
        reprints,
        printed,
        read_point: Some("urn:epc:id:sgln:4012345.00003.0"),
        biz_location: None,
    };
    let printed = b.finish(
        b.label_event(&label(true, 0)).unwrap(),
        &Arc::from("line-printer"),
    );
    let reprinted = b.finish(
        b.label_event(&label(true, 1)).unwrap(),
        &Arc::from("line-printer"),
    );
    let voided = b.finish(
        b.label_event(&label(false, 0)).unwrap(),
        &Arc::from("line-printer"),
    );
    assert_ne!(printed.event_id, reprinted.event_id);
    let mut doc = DocumentWriter::new(Timestamp::now(), 4096);
    for e in [&printed, &reprinted, &voided] {
        doc.push(&e.body);
    }
    let doc: Value = serde_json::from_slice(&doc.finish()).unwrap();
    epcis_schema::assert_schema_valid(&doc);
    let list = &doc["epcisBody"]["eventList"];
    let add = &list[0];
    assert_eq!(add["action"], "ADD");
    assert_eq!(add["bizStep"], "commissioning");
    assert_eq!(add["disposition"], "active");
    assert_eq!(
        add["epcList"],
        serde_json::json!([
            "urn:epc:id:sgtin:4012345.000001.1001",
            "urn:epc:id:sscc:4012345.0000000001"
        ])
    );
    assert_eq!(add["ilmd"]["cbvmda:lotNumber"], "A17");
    assert_eq!(add["ilmd"]["cbvmda:itemExpirationDate"], "2027-12-31");
    assert_eq!(add["tg:printJob"], "order-881-case-1");
    assert!(add.get("tg:reprint").is_none());
    assert_eq!(list[1]["tg:reprint"], 1);
    let delete = &list[2];
    assert_eq!(delete["action"], "DELETE");
    assert_eq!(delete["bizStep"], "decommissioning");
    assert_eq!(delete["disposition"], "inactive");
    assert!(delete.get("ilmd").is_none());
    // A label without a GS1 key has nothing to commission.
    let plain = PrintedLabel {
        gs1: &[],
        ..label(true, 0)
    };
    assert!(b.label_event(&plain).is_none());
}
