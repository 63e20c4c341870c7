//! EPCIS 2.0 events from reads: building them, and the identifiers they carry. The event model,
//! vocabulary, documents and the CBV 2.0 hash are the `tracegate-epcis` library crate.

pub mod build;
pub mod ids;

/// Validation against GS1's EPCIS 2.0 JSON schema, for the tests.
#[cfg(test)]
#[path = "../../../../tests/support/epcis_schema.rs"]
pub(crate) mod epcis_schema;
