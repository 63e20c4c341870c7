//! The CBV 2.0 event hash over arbitrary JSON (documents, events, and the identifiers inside
//! them): no panic, and the same input always gives the same ID.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use tracegate_epcis::hash::{self, Namespaces, dl};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        // Identifier normalisation on its own, on any text.
        let _ = dl::normalise(text);
    }
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    if let Some((events, ns)) = hash::document_events(&value) {
        for event in events {
            assert_eq!(hash::prehash(event, &ns), hash::prehash(event, &ns));
        }
    }
    if let Some(event) = value.as_object() {
        let _ = hash::event_hash(event, &Namespaces::default());
    }
});
