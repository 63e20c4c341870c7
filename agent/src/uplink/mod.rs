//! Delivery: what takes committed events out of the outbox to the platform, and brings the
//! platform's commands in.
//!
//! ```text
//!   outbox (OutboxReader: rows after a cursor)  ──▶  an uplink  ──▶  broker / repository
//!   outbox (Store: mark delivered, set aside)   ◀──  acks / capture jobs
//!   StatusSource (report, live figures)         ◀──  status, command counts
//!   commands mpsc  ◀── wire::IncomingCommand ── cmd topic;  reply topic ◀── wire::Reply
//! ```
//!
//! The seam: an uplink is an [`Uplink`] the composition root starts and cancels. It reads the
//! outbox in capture order from its own cursor, marks what the far end acknowledged as
//! delivered (never before), sets aside what can never be delivered, and reports through a
//! [`StatusSource`] — it imports neither the status report nor the command router, so the
//! second uplink, [`epcis`] (an EPCIS 2.0 REST capture client), sits beside [`mqtt`] with the
//! same guarantees. Events go one way only: with `[epcis]` the MQTT session carries status
//! and commands and publishes no event.

pub mod epcis;
pub mod mqtt;
pub mod tls;
pub mod wire;

use std::future::Future;
use std::pin::Pin;

use tokio_util::sync::CancellationToken;

use crate::telemetry::{BrokerStatus, CommandStats};

/// What an uplink publishes as the gateway's status and where it counts what it does; the
/// status collector (`ops::status`) is one, handed in by the composition root.
pub trait StatusSource: Send + Sync + 'static {
    /// The status report as JSON (blocking: it reads the outbox; call it off the runtime).
    fn report_json(&self) -> Vec<u8>;
    /// The uplink's live figures.
    fn broker(&self) -> &BrokerStatus;
    /// The command figures (received, refused, replies dropped).
    fn commands(&self) -> &CommandStats;
}

/// A delivery channel the daemon runs until shutdown.
pub trait Uplink: Send + 'static {
    /// Its name in logs (`mqtt`, `epcis`).
    fn name(&self) -> &'static str;
    /// Delivers until `cancel`, then says goodbye to the far end as its protocol wants.
    fn run(self: Box<Self>, cancel: CancellationToken) -> Pin<Box<dyn Future<Output = ()> + Send>>;
}
