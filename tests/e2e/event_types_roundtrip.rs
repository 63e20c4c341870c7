//! Every EPCIS event type tracegate's model builds — ObjectEvent, AggregationEvent,
//! TransformationEvent, AssociationEvent — goes through the outbox and MQTT to a real
//! subscriber byte-identical, in schema-valid documents, with its eventID the CBV 2.0 hash.

use std::sync::Arc;
use std::time::Duration;

use crate::support::epcis_schema::assert_schema_valid;
use crate::support::{Broker, Subscriber};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracegate::capture::event::build::EventBuilder;
use tracegate::capture::event::ids::IdMapper;
use tracegate::config::Config;
use tracegate::ops::status::StatusCollector;
use tracegate::outbox::store::Store;
use tracegate::telemetry::{BrokerStatus, DeviceRegistry};
use tracegate::uplink::mqtt::Sync;
use tracegate_epcis::model::Event;

/// One event of each type, as the model reads them.
fn events() -> Vec<Event> {
    let common = json!({
        "eventTime": "2026-11-26T02:00:00.000Z", "eventTimeZoneOffset": "+08:00",
        "bizStep": "commissioning", "readPoint": {"id": "urn:epc:id:sgln:0614141.00777.0"},
        "tg:deviceId": "line-1"
    });
    let with = |extra: Value| {
        let mut e = common.clone();
        e.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        serde_json::from_value::<Event>(e).unwrap()
    };
    vec![
        with(json!({"type": "ObjectEvent", "action": "ADD",
            "epcList": ["urn:epc:id:sgtin:0614141.812345.6789"],
            "ilmd": {"cbvmda:lotNumber": "L1", "cbvmda:itemExpirationDate": "2027-12-31"}})),
        with(
            json!({"type": "AggregationEvent", "action": "ADD", "bizStep": "packing",
            "parentID": "urn:epc:id:sscc:0614141.1234567890",
            "childEPCs": ["urn:epc:id:sgtin:0614141.812345.1", "urn:epc:id:sgtin:0614141.812345.2"],
            "childQuantityList": [{"epcClass": "urn:epc:class:lgtin:0614141.812345.L1", "quantity": 12}]}),
        ),
        with(json!({"type": "TransformationEvent",
            "inputQuantityList": [{"epcClass": "urn:epc:class:lgtin:0614141.812345.HARVEST-7", "quantity": 420, "uom": "KGM"}],
            "outputQuantityList": [{"epcClass": "https://id.gs1.org/01/80614141123458/10/P-26", "quantity": 400.5, "uom": "KGM"}],
            "transformationID": "urn:uuid:7f0c1c9e-6d0e-4d41-9a38-5e0c2b1a9d10"})),
        with(
            json!({"type": "AssociationEvent", "action": "ADD", "bizStep": "assembling",
            "parentID": "urn:epc:id:grai:0614141.12345.400",
            "childEPCs": ["urn:epc:id:giai:4000001.111"],
            "sensorElementList": [{"sensorMetadata": {"time": "2026-11-26T01:59:00.000Z"},
                "sensorReport": [{"type": "Temperature", "value": 4.5, "uom": "CEL"}]}]}),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_type_arrives_byte_identical() {
    let broker = Broker::start();
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "[gateway]\nid = \"gw-rt\"\n[store]\npath = \"{}\"\n[mqtt]\nhost = \"127.0.0.1\"\nport = {}\n",
        dir.path().join("outbox.db").display(),
        broker.port
    );
    let config = Arc::new(
        Config::parse(
            &dir.path().join("t.toml"),
            &text,
            &tracegate::capture::devices::builtin(),
        )
        .unwrap(),
    );
    let builder = EventBuilder::new(
        IdMapper::from_config(&config.identifiers).unwrap(),
        jiff::tz::TimeZone::UTC,
    );
    let (store, thread) = Store::open(&config.store).unwrap();
    let mut stored = Vec::new();
    for event in events() {
        let new = builder.finish(event, &Arc::from("line-1"));
        stored.push(new.clone());
        store.append(new).await.await;
    }
    // What the outbox holds is what was built.
    let rows = store.reader().unwrap().tail(10, false).unwrap();
    assert_eq!(
        rows.iter().map(|r| r.body.clone()).collect::<Vec<_>>(),
        stored.iter().map(|e| e.body.clone()).collect::<Vec<_>>()
    );

    let mut sub = Subscriber::connect(broker.port, &["tracegate/gw-rt/events"]).await;
    let status = Arc::new(StatusCollector::new(
        &config,
        store.clone(),
        DeviceRegistry::new(config.device_kinds()),
        Arc::new(BrokerStatus::default()),
    ));
    let (cmd_tx, _cmd_rx) = mpsc::channel(8);
    let (_reply_tx, reply_rx) = mpsc::channel(8);
    let cancel = CancellationToken::new();
    let sync = tokio::spawn(
        Sync::new(config.clone(), store.clone(), status, cmd_tx, reply_rx).run(cancel.clone()),
    );
    let mut payloads = String::new();
    let mut seen = 0;
    while seen < stored.len() {
        let (_, payload) = sub
            .next(Duration::from_secs(20))
            .await
            .expect("documents arrive");
        let doc: Value = serde_json::from_slice(&payload).unwrap();
        assert_schema_valid(&doc);
        seen += doc["epcisBody"]["eventList"].as_array().unwrap().len();
        payloads.push_str(std::str::from_utf8(&payload).unwrap());
    }
    let types: Vec<String> = stored
        .iter()
        .map(|e| {
            let v: Value = serde_json::from_str(&e.body).unwrap();
            assert_eq!(v["eventID"], e.event_id);
            v["type"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(
        types,
        [
            "ObjectEvent",
            "AggregationEvent",
            "TransformationEvent",
            "AssociationEvent"
        ]
    );
    for event in &stored {
        assert!(
            payloads.contains(&event.body),
            "not byte-identical on the wire: {}",
            event.body
        );
    }
    cancel.cancel();
    sync.await.unwrap();
    store.close().await;
    tokio::task::spawn_blocking(move || thread.join())
        .await
        .unwrap();
}
