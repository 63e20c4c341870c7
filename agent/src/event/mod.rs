//! EPCIS 2.0 events: building them from reads, their deterministic ids, and the documents that
//! carry them.

pub mod document;
pub mod hash;
pub mod vocab;

pub use document::DocumentWriter;
pub mod capture;
