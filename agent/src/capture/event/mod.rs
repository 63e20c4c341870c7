//! EPCIS 2.0 events: building them from reads, their deterministic ids, and the documents that
//! carry them.

pub mod build;
pub mod context;
pub mod document;
pub mod hash;
pub mod ids;
pub mod model;
pub mod vocab;

pub use document::DocumentWriter;

/// Validation against GS1's EPCIS 2.0 JSON schema, for the tests.
#[cfg(test)]
#[path = "../../../../tests/support/epcis_schema.rs"]
pub(crate) mod epcis_schema;
