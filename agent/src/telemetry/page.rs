//! The commissioning page's figures: sign-ins, refusals, open live streams.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

/// The page's figures, updated by its handlers.
#[derive(Debug, Default)]
pub struct PageStats {
    sign_ins_total: AtomicU64,
    refused_total: AtomicU64,
    actions_total: AtomicU64,
    connections_refused_total: AtomicU64,
    streams: AtomicU64,
}

impl PageStats {
    /// An operator signed in.
    pub fn signed_in(&self) {
        self.sign_ins_total.fetch_add(1, Ordering::Relaxed);
    }

    /// A request was refused: not signed in, a wrong password, too many tries, cross-site or
    /// without its CSRF token.
    pub fn refused(&self) {
        self.refused_total.fetch_add(1, Ordering::Relaxed);
    }

    /// An action went to the command router.
    pub fn action(&self) {
        self.actions_total.fetch_add(1, Ordering::Relaxed);
    }

    /// A connection was closed at accept: every slot was taken.
    pub fn connection_refused(&self) {
        self.connections_refused_total
            .fetch_add(1, Ordering::Relaxed);
    }

    /// A live stream opened (`true`) or closed.
    pub fn stream(&self, open: bool) {
        if open {
            self.streams.fetch_add(1, Ordering::Relaxed);
        } else {
            self.streams.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// The report of these figures.
    pub fn report(&self) -> PageReport {
        PageReport {
            sign_ins_total: self.sign_ins_total.load(Ordering::Relaxed),
            refused_total: self.refused_total.load(Ordering::Relaxed),
            actions_total: self.actions_total.load(Ordering::Relaxed),
            connections_refused_total: self.connections_refused_total.load(Ordering::Relaxed),
            streams: self.streams.load(Ordering::Relaxed),
        }
    }
}

/// The page since start (present when `[web]` serves it).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct PageReport {
    /// Operators signed in.
    pub sign_ins_total: u64,
    /// Requests refused (sign-in needed, wrong password, too many tries, cross-site, no CSRF
    /// token, a malformed or oversized body).
    pub refused_total: u64,
    /// Actions sent to the command router (counted there too, as commands).
    pub actions_total: u64,
    /// Connections closed at accept because every slot was taken (a slowloris, or too many
    /// pages open).
    #[serde(default)]
    pub connections_refused_total: u64,
    /// Live streams open now (pages watching).
    pub streams: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_count_and_streams_go_up_and_down() {
        let s = PageStats::default();
        s.signed_in();
        s.refused();
        s.refused();
        s.action();
        s.stream(true);
        s.stream(true);
        s.stream(false);
        assert_eq!(
            s.report(),
            PageReport {
                sign_ins_total: 1,
                refused_total: 2,
                actions_total: 1,
                connections_refused_total: 0,
                streams: 1
            }
        );
    }
}
