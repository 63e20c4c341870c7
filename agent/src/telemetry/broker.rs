//! The uplink's live figures: connected or not, to which node, acks, refusals.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::rate::{RateWindow, ms_to_rfc3339};

/// Broker connection figures, updated by the sync task.
#[derive(Debug, Default)]
pub struct BrokerStatus {
    connected: AtomicBool,
    connected_since_ms: AtomicI64,
    last_ack_ms: AtomicI64,
    connects_total: AtomicU64,
    events_published_total: AtomicU64,
    events_acked_total: AtomicU64,
    last_error: Mutex<Option<String>>,
    publish_rate: RateWindow,
    /// Since when the broker has been unreachable (monotonic); `None` until first asked.
    offline_since: Mutex<Option<std::time::Instant>>,
    /// The node in use or being tried (with `mqtt.failover_hosts`, not always `mqtt.host`).
    node: Mutex<Option<(String, u16)>>,
    /// The broker's latest refusal of CONNECT (name, explanation), until the next CONNACK.
    refusal: Mutex<Option<(&'static str, &'static str)>>,
    refusals_total: AtomicU64,
    changes: tokio::sync::Notify,
}

impl BrokerStatus {
    /// A future that completes at the next connect or disconnect (create it before looking
    /// at the state, so a change in between is not missed).
    pub fn changed(&self) -> tokio::sync::futures::Notified<'_> {
        self.changes.notified()
    }

    /// How long the broker has been unreachable; `None` while connected. Before the first
    /// connection, counted from the first time it is asked (the daemon's start).
    pub fn offline_for(&self) -> Option<std::time::Duration> {
        if self.is_connected() {
            return None;
        }
        let mut since = self.offline_since.lock().unwrap_or_else(|p| p.into_inner());
        Some(since.get_or_insert_with(std::time::Instant::now).elapsed())
    }

    /// The uplink connects (or tries to) to this broker node: status shows it from now on.
    pub fn node(&self, host: &str, port: u16) {
        *self.node.lock().unwrap_or_else(|p| p.into_inner()) = Some((host.to_string(), port));
    }

    /// A CONNACK was received.
    pub fn connected(&self) {
        *self.offline_since.lock().unwrap_or_else(|p| p.into_inner()) = None;
        *self.refusal.lock().unwrap_or_else(|p| p.into_inner()) = None;
        self.connected_since_ms
            .store(Timestamp::now().as_millisecond(), Ordering::Relaxed);
        self.connects_total.fetch_add(1, Ordering::Relaxed);
        self.connected.store(true, Ordering::Relaxed);
        self.changes.notify_waiters();
    }

    /// The connection ended (`error` says why, if it was not a clean shutdown).
    pub fn disconnected(&self, error: Option<String>) {
        if self.connected.swap(false, Ordering::Relaxed) {
            *self.offline_since.lock().unwrap_or_else(|p| p.into_inner()) =
                Some(std::time::Instant::now());
        }
        // Whatever ends a session now, a refusal said before is no longer the news: a broker
        // that refused and is now unreachable reads as unreachable.
        *self.refusal.lock().unwrap_or_else(|p| p.into_inner()) = None;
        self.changes.notify_waiters();
        if let Some(e) = error {
            *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
        }
    }

    /// The broker refused the session (a CONNACK return code): reachable, but it will not
    /// take this gateway until a credential or its ACL changes.
    /// `reason` is the refusal's short name, `explanation` what it means and what to check.
    pub fn refused(&self, reason: &'static str, explanation: &'static str, error: String) {
        self.refusals_total.fetch_add(1, Ordering::Relaxed);
        self.disconnected(Some(error));
        *self.refusal.lock().unwrap_or_else(|p| p.into_inner()) = Some((reason, explanation));
    }

    /// A connection attempt failed.
    pub fn failed(&self, error: String) {
        self.disconnected(Some(error));
    }

    /// A batch of `events` was handed to the client.
    pub fn published(&self, events: usize) {
        self.events_published_total
            .fetch_add(events as u64, Ordering::Relaxed);
    }

    /// The broker acknowledged a batch of `events`.
    pub fn acked(&self, events: usize) {
        self.last_ack_ms
            .store(Timestamp::now().as_millisecond(), Ordering::Relaxed);
        self.events_acked_total
            .fetch_add(events as u64, Ordering::Relaxed);
    }

    /// Is the session up?
    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    /// The report of these figures, for the node `host:port` unless another is in use.
    pub fn report(&self, host: &str, port: u16) -> BrokerReport {
        let offline = self.offline_for();
        let connected = self.is_connected();
        let connects_total = self.connects_total.load(Ordering::Relaxed);
        let published = self.events_published_total.load(Ordering::Relaxed);
        let (host, port) = self
            .node
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .unwrap_or_else(|| (host.to_string(), port));
        BrokerReport {
            connected,
            host,
            port,
            connected_since: connected
                .then(|| ms_to_rfc3339(self.connected_since_ms.load(Ordering::Relaxed)))
                .flatten(),
            last_ack_at: ms_to_rfc3339(self.last_ack_ms.load(Ordering::Relaxed)),
            connects_total,
            reconnects_total: connects_total.saturating_sub(1),
            events_published_total: published,
            publish_rate_per_s: self.publish_rate.rate(published),
            events_acked_total: self.events_acked_total.load(Ordering::Relaxed),
            last_error: self
                .last_error
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
            offline_since: offline
                .and_then(|d| {
                    Timestamp::now()
                        .checked_sub(jiff::SignedDuration::try_from(d).ok()?)
                        .ok()
                })
                .map(|t| format!("{t:.3}")),
            offline_s: offline.map(|d| d.as_secs()),
            refused: self.refusal.lock().unwrap_or_else(|p| p.into_inner()).map(
                |(reason, explanation)| RefusalReport {
                    reason: reason.to_string(),
                    explanation: explanation.to_string(),
                },
            ),
            connect_refusals_total: self.refusals_total.load(Ordering::Relaxed),
        }
    }
}

/// The uplink.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BrokerReport {
    /// MQTT session up.
    pub connected: bool,
    /// Broker host.
    pub host: String,
    /// Broker port.
    pub port: u16,
    /// Start of the current session.
    pub connected_since: Option<String>,
    /// Time of the latest PUBACK for events.
    pub last_ack_at: Option<String>,
    /// Sessions established since start.
    pub connects_total: u64,
    /// Sessions established after the first: how often the uplink came back.
    #[serde(default)]
    pub reconnects_total: u64,
    /// Events handed to the client per second, averaged over the last minute or so.
    #[serde(default)]
    pub publish_rate_per_s: f64,
    /// Events handed to the client since start (resends included).
    pub events_published_total: u64,
    /// Events acknowledged since start.
    pub events_acked_total: u64,
    /// The latest connection error.
    pub last_error: Option<String>,
    /// Since when the uplink has been down (absent while connected; before the first
    /// connection, since the daemon started).
    #[serde(default)]
    pub offline_since: Option<String>,
    /// For how long, seconds.
    #[serde(default)]
    pub offline_s: Option<u64>,
    /// The broker refuses this gateway's CONNECT (absent unless the latest try was refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<RefusalReport>,
    /// CONNECTs the broker refused since start.
    #[serde(default)]
    pub connect_refusals_total: u64,
}

/// The broker's refusal of CONNECT: not an outage, a credential or ACL to fix.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RefusalReport {
    /// `not_authorized`, `bad_user_name_or_password`, `client_id`, `protocol_version` or
    /// `server_unavailable`.
    pub reason: String,
    /// What it means and which settings to check.
    pub explanation: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_is_shown_until_the_next_session_ends_otherwise() {
        let broker = BrokerStatus::default();
        broker.refused(
            "not_authorized",
            "check mqtt.password_file",
            "refused".into(),
        );
        let report = broker.report("127.0.0.1", 1883);
        assert_eq!(report.refused.unwrap().reason, "not_authorized");
        assert_eq!(report.connect_refusals_total, 1);
        // Then the broker goes away altogether: that is what status says now.
        broker.disconnected(Some("Connection refused (os error 111)".into()));
        let report = broker.report("127.0.0.1", 1883);
        assert!(report.refused.is_none());
        assert_eq!(report.connect_refusals_total, 1);
        // And a session clears it too.
        broker.refused("not_authorized", "check", "refused".into());
        broker.connected();
        assert!(broker.report("127.0.0.1", 1883).refused.is_none());
    }
}
