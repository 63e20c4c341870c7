//! The EPCIS 2.0 event model (GS1 EPCIS 2.0, JSON/JSON-LD binding), the CBV 2.0 vocabulary,
//! the CBV 2.0 §8.9 event hash that makes an event's `eventID` deterministic, and the
//! `EPCISDocument` that carries a batch of events.
//!
//! No async runtime and no daemon: usable by anyone who builds, checks or hashes EPCIS events
//! in Rust.
//!
//! ```
//! use tracegate_epcis::hash::{event_hash, Namespaces};
//! let serde_json::Value::Object(event) = serde_json::json!({
//!     "type": "ObjectEvent",
//!     "eventTime": "2020-03-04T11:00:30.000+01:00",
//!     "eventTimeZoneOffset": "+01:00",
//!     "epcList": ["urn:epc:id:sgtin:4012345.011111.9876"],
//!     "action": "OBSERVE",
//!     "bizStep": "departing"
//! }) else { unreachable!() };
//! let id = event_hash(&event, &Namespaces::default());
//! assert!(id.starts_with("ni:///sha-256;"));
//! ```

pub mod context;
pub mod document;
pub mod hash;
pub mod model;
pub mod vocab;

pub use document::DocumentWriter;

/// Validation against GS1's EPCIS 2.0 JSON schema, for the tests.
#[cfg(test)]
#[path = "../../tests/support/epcis_schema.rs"]
pub(crate) mod epcis_schema;
