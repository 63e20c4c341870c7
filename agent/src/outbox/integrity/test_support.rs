//! Helpers for the integrity tests: a signed outbox with real events.
#![cfg(test)]

use std::path::Path;
use std::sync::Arc;

use serde_json::{Value, json};

use crate::config::{StoreConfig, WhenFull};
use crate::outbox::signing::key::GatewayKey;
use crate::outbox::store::{ChainSigner, NewEvent, Store};
use tracegate_epcis::hash::{self, Namespaces};

pub fn config(dir: &Path, keep_delivered_s: u64, max_events: u64) -> StoreConfig {
    StoreConfig {
        path: dir.join("outbox.db"),
        max_events,
        max_bytes: bytesize::ByteSize::mib(64),
        when_full: WhenFull::DropOldest,
        keep_delivered_s,
        quick_check: true,
        wal_max_bytes: bytesize::ByteSize::mib(4),
    }
}

pub fn gateway_signer() -> Arc<ChainSigner> {
    Arc::new(ChainSigner {
        key: GatewayKey::from_seed([7; 32]),
        gateway: "gw-field-1".into(),
    })
}

/// A real event: its eventID is the CBV 2.0 hash of its content.
pub fn event(n: u32) -> NewEvent {
    let context: Value = serde_json::from_str(tracegate_epcis::document::CONTEXT).unwrap();
    let mut body = json!({
        "type": "ObjectEvent",
        "eventTime": format!("2026-12-01T10:{:02}:{:02}Z", n / 60 % 60, n % 60),
        "eventTimeZoneOffset": "+00:00",
        "epcList": [format!("urn:epc:id:sgtin:4012345.000001.{n}")],
        "action": "OBSERVE",
        "bizStep": "inspecting",
    });
    let id = hash::event_hash(
        body.as_object().unwrap(),
        &Namespaces::from_context(&context),
    );
    body["eventID"] = json!(id);
    NewEvent {
        event_id: id,
        captured_at_ms: 1_700_000_000_000 + n as i64,
        device: Arc::from("stick-1"),
        body: body.to_string(),
    }
}

pub async fn append(store: &Store, range: std::ops::Range<u32>) {
    let mut pending = Vec::new();
    for n in range {
        pending.push(store.append(event(n)).await);
    }
    for p in pending {
        p.await;
    }
}

pub async fn shutdown(store: Store, thread: crate::outbox::store::StoreThread) {
    store.close().await;
    drop(store);
    tokio::task::spawn_blocking(move || thread.join())
        .await
        .unwrap();
}
