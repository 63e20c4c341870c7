//! The gateway's signature on what it captured: pure functions below the store (which builds
//! the chain as it commits) and the integrity tools (which check it anywhere).
//!
//! - [`chain`]: the links (SHA-256 over the previous link and an event's stored bytes) and the
//!   statements the gateway signs about them;
//! - [`key`]: the gateway's Ed25519 (or SM2) key: generated on first start (`0600`) or handed
//!   in as a systemd credential; signs, and verifies with a public key alone.

pub mod chain;
pub mod key;
