use serde_json::json;

use super::*;
use crate::document::DocumentWriter;

use crate::epcis_schema;

fn when(t: &str) -> When {
    When {
        event_time: t.parse().unwrap(),
        time_zone_offset: TimeZoneOffset::parse("+08:00").unwrap(),
        event_id: None,
        certification_info: None,
        error_declaration: None,
    }
}

fn why() -> Why {
    Why {
        biz_step: Some("shipping".into()),
        disposition: Some("in_transit".into()),
        read_point: Some(Location {
            id: "urn:epc:id:sgln:9506000134.00.0".into(),
        }),
        biz_location: Some(Location {
            id: "https://id.gs1.org/414/9506000134000".into(),
        }),
        biz_transactions: vec![BizTransaction {
            kind: Some("desadv".into()),
            id: "urn:epcglobal:cbv:bt:9506000134000:DA-4711".into(),
        }],
        sources: vec![Source {
            kind: "owning_party".into(),
            id: "urn:epc:id:pgln:9506000134.00".into(),
        }],
        destinations: vec![Destination {
            kind: "location".into(),
            id: "urn:epc:id:sgln:0614141.00777.0".into(),
        }],
        sensor_elements: vec![SensorElement {
            metadata: Some(SensorMetadata {
                time: Some("2026-11-26T02:00:00Z".parse().unwrap()),
                device_id: Some("urn:epc:id:giai:4000001.111".into()),
                ..SensorMetadata::default()
            }),
            reports: vec![SensorReport {
                kind: Some("Temperature".into()),
                value: Some(Number::from_f64(4.5).unwrap()),
                uom: Some("CEL".into()),
                ..SensorReport::default()
            }],
        }],
    }
}

fn tg(device: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("tg:deviceId".into(), json!(device));
    m.insert("tg:rawData".into(), json!("]d20109506000134352\u{1d}21ABC"));
    m
}

/// One event of each type, with every field a capture device fills.
pub(crate) fn samples() -> Vec<Event> {
    vec![
        Event::ObjectEvent(ObjectEvent {
            when: when("2026-11-26T02:00:00.123Z"),
            epc_list: vec!["urn:epc:id:sgtin:9506000.013435.ABC".into()],
            quantity_list: vec![QuantityElement {
                epc_class: "urn:epc:class:lgtin:9506000.013435.L1".into(),
                quantity: Some("12.5".parse().unwrap()),
                uom: Some("KGM".into()),
            }],
            action: Action::Add,
            why: Why {
                biz_step: Some("commissioning".into()),
                disposition: Some("active".into()),
                ..why()
            },
            persistent_disposition: Some(PersistentDisposition {
                set: vec!["completeness_verified".into()],
                unset: vec![],
            }),
            ilmd: Some(
                json!({"cbvmda:lotNumber": "L1", "cbvmda:itemExpirationDate": "2027-12-31"})
                    .as_object()
                    .unwrap()
                    .clone(),
            ),
            extensions: tg("line-1-scanner"),
        }),
        Event::AggregationEvent(AggregationEvent {
            when: when("2026-11-26T02:00:01Z"),
            parent_id: Some("urn:epc:id:sscc:9506000.0000000017".into()),
            child_epcs: vec![
                "urn:epc:id:sgtin:9506000.013435.1".into(),
                "urn:epc:id:sgtin:9506000.013435.2".into(),
            ],
            child_quantity_list: vec![QuantityElement {
                epc_class: "urn:epc:class:lgtin:9506000.013435.L1".into(),
                quantity: Some(10.into()),
                uom: None,
            }],
            action: Action::Add,
            why: Why {
                biz_step: Some("packing".into()),
                ..why()
            },
            extensions: tg("packer"),
        }),
        Event::TransformationEvent(TransformationEvent {
            when: when("2026-11-26T02:00:02Z"),
            input_epc_list: vec![],
            input_quantity_list: vec![QuantityElement {
                epc_class: "urn:epc:class:lgtin:9506000.013435.HARVEST-7".into(),
                quantity: Some(420.into()),
                uom: Some("KGM".into()),
            }],
            output_epc_list: vec![],
            output_quantity_list: vec![QuantityElement {
                epc_class: "https://id.gs1.org/01/09506000134352/10/P-2026-11".into(),
                quantity: Some(400.into()),
                uom: Some("KGM".into()),
            }],
            transformation_id: Some("urn:uuid:7f0c1c9e-6d0e-4d41-9a38-5e0c2b1a9d10".into()),
            why: Why {
                biz_step: Some("commissioning".into()),
                ..why()
            },
            persistent_disposition: None,
            ilmd: None,
            extensions: tg("mill"),
        }),
        Event::AssociationEvent(AssociationEvent {
            when: when("2026-11-26T02:00:03Z"),
            parent_id: "urn:epc:id:grai:9506000.13435.7".into(),
            child_epcs: vec!["urn:epc:id:giai:4000001.111".into()],
            child_quantity_list: vec![],
            action: Action::Add,
            why: Why {
                biz_step: Some("assembling".into()),
                ..Why::default()
            },
            extensions: tg("gate"),
        }),
    ]
}

#[test]
fn each_type_round_trips_byte_for_byte() {
    for event in samples() {
        let json = serde_json::to_string(&event).unwrap();
        let back: Event = serde_json::from_str(&json).unwrap();
        assert_eq!(back, event, "{json}");
        assert_eq!(serde_json::to_string(&back).unwrap(), json);
        let v: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["type"], event.type_name());
        assert!(v["eventTime"].as_str().unwrap().ends_with('Z'));
    }
}

#[test]
fn a_document_of_every_type_is_valid_epcis() {
    let mut doc = DocumentWriter::new(Timestamp::now(), 4096);
    for event in samples() {
        doc.push(&serde_json::to_string(&event).unwrap());
    }
    let doc: Value = serde_json::from_slice(&doc.finish()).unwrap();
    epcis_schema::assert_schema_valid(&doc);
}

#[test]
fn the_schema_check_catches_invalid_events() {
    let mut event = serde_json::to_value(&samples()[0]).unwrap();
    event.as_object_mut().unwrap().remove("action");
    event["eventTimeZoneOffset"] = json!("+25:00");
    let mut doc = DocumentWriter::new(Timestamp::now(), 4096);
    doc.push(&event.to_string());
    let doc: Value = serde_json::from_slice(&doc.finish()).unwrap();
    let errors = epcis_schema::schema_errors(&doc);
    assert!(errors.len() >= 2, "{errors:?}");
}

#[test]
fn time_zone_offsets_are_checked() {
    assert!(TimeZoneOffset::parse("+14:00").is_ok());
    assert!(TimeZoneOffset::parse("-09:30").is_ok());
    assert_eq!(TimeZoneOffset::parse("Z").unwrap().as_str(), "+00:00");
    for bad in ["+14:30", "+8:00", "0800", "+08:60", "UTC"] {
        assert!(TimeZoneOffset::parse(bad).is_err(), "{bad}");
    }
    let off = jiff::tz::Offset::from_seconds(-(5 * 3600 + 30 * 60)).unwrap();
    assert_eq!(TimeZoneOffset::from_offset(off).as_str(), "-05:30");
}
