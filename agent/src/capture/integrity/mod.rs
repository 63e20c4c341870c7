//! Tamper evidence for records that leave the gateway by road as well as by wire: the
//! outbox's hash chain and the gateway's signing key.
//!
//! - [`chain`]: the links (SHA-256 over the previous link and an event's stored bytes) and the
//!   statements the gateway signs about them — pure functions, shared by the outbox writer
//!   that builds the chain and by `tracegate verify`, which checks it anywhere;
//! - [`key`]: the gateway's Ed25519 key: generated on first start (`0600`) or handed in as a
//!   systemd credential; signs, and verifies with a public key alone.

pub mod chain;
pub mod export;
pub mod import;
pub mod key;
pub mod outbox;
#[cfg(test)]
mod test_support;
pub mod verify;
