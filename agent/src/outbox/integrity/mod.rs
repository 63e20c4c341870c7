//! Tamper evidence for records that leave the gateway by road as well as by wire: checking the
//! outbox's hash chain, signed exports for a field kit's USB stick, and importing them on a
//! gateway that has a link.
//!
//! - [`outbox`]: `tracegate verify` of an outbox file;
//! - [`export`]: a signed export of a range of events, and its verification;
//! - [`import`]: taking another gateway's export into this outbox;
//! - [`verify`]: the checks shared by both (links, signatures, gaps).

pub mod export;
pub mod import;
pub mod outbox;
#[cfg(test)]
mod test_support;
pub mod verify;
