//! Command figures: received, refused, failed, replies dropped.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

/// Command figures, updated by the router and the uplink.
#[derive(Debug, Default)]
pub struct CommandStats {
    received_total: AtomicU64,
    refused_total: AtomicU64,
    failed_total: AtomicU64,
    replies_dropped_total: AtomicU64,
}

impl CommandStats {
    /// A command arrived.
    pub fn received(&self) {
        self.received_total.fetch_add(1, Ordering::Relaxed);
    }

    /// A command was refused before anything was done (malformed, unknown, oversized, busy).
    pub fn refused(&self) {
        self.refused_total.fetch_add(1, Ordering::Relaxed);
    }

    /// A command was carried out and failed (a device refused, a reload did not load).
    pub fn failed(&self) {
        self.failed_total.fetch_add(1, Ordering::Relaxed);
    }

    /// A reply could not be queued for the broker (the uplink's queue was full).
    pub fn reply_dropped(&self) {
        self.replies_dropped_total.fetch_add(1, Ordering::Relaxed);
    }

    /// The report of these figures.
    pub fn report(&self) -> CommandReport {
        CommandReport {
            received_total: self.received_total.load(Ordering::Relaxed),
            refused_total: self.refused_total.load(Ordering::Relaxed),
            failed_total: self.failed_total.load(Ordering::Relaxed),
            replies_dropped_total: self.replies_dropped_total.load(Ordering::Relaxed),
        }
    }
}

/// Commands since start.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CommandReport {
    /// Commands received (MQTT and control socket).
    pub received_total: u64,
    /// Refused before anything was done: malformed, unknown, oversized, or busy.
    pub refused_total: u64,
    /// Carried out and failed.
    pub failed_total: u64,
    /// Replies that could not be queued for the broker.
    pub replies_dropped_total: u64,
}
