//! What an RFID reader's reads mean: tag smoothing ([`smoothing`]) turns a reader's stream of
//! sightings into movements — a tag arrived in a zone, left it, went in or out through a gate
//! ([`direction`]) — and [`station`] makes them events. Drivers deliver every tag report as a
//! raw read; this is the one place that decides what they amount to.
//!
//! The settings ([`RfidKeys`], the `[[devices]]` keys every reader kind takes) are validated
//! with the config (`config::rfid`), so an `llrp-reader` and a simulated one mean the same
//! thing by them.

pub mod direction;
pub mod smoothing;
pub mod station;

pub use crate::config::rfid::*;
