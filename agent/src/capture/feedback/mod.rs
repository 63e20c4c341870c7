//! Operator feedback: what the operator sees and hears about each outcome.
//!
//! Two paths, both fed by the pipeline's verdicts and never blocking it:
//! - [`scanner`]: a serial scanner's own host bytes (a good-read tone), for that scanner;
//! - [`Signals`]: the `[[feedback]]` rules — outcome → pattern on an output line (a stack
//!   light, a buzzer) — for any device, HID and keyboard scanners and RFID readers included.
//!
//! Events (`captured`, `rejected`, `duplicate`, `outbox-full`) set a layer that ends by itself
//! (a pulse, or `for_ms`); `captured` is told only once the event is committed, so a green
//! pulse means the record is durable. Conditions (`device-down`, `offline-too-long`) set a
//! layer while they hold for any device the rule covers and clear it when none does; an output
//! that comes back up gets its conditions again (its session starts from the safe state).
//!
//! ```text
//!  pipeline verdict ──tell(device, outcome)──▶ rules covering it ──SetOutput──▶ output inbox
//!  device state / uplink ──condition(key, holds)──▶ held set per rule
//!        first holder: SetOutput (layer)      last one gone: ClearOutput
//!  output device up ──output_up(id)──▶ its held conditions sent again
//! ```
//! A command that does not fit the output's inbox is dropped and counted
//! (`feedback_dropped_total`), never waited for.

pub mod scanner;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tracegate_drivers::{CommandRequest, DeviceCommand};

use crate::capture::devices::Routes;
use crate::config::{FeedbackRule, Outcome};
use crate::telemetry::throttle::{SharedThrottle, Throttled};
use crate::telemetry::{BrokerStatus, DeviceStatus};

pub use scanner::{LATE, SignalLine};

/// The condition key of the uplink (`offline-too-long`).
const UPLINK: &str = "uplink";

/// The feedback rules in force and the conditions that hold.
#[derive(Debug, Default)]
pub struct Signals {
    routes: Routes,
    rules: RwLock<Vec<FeedbackRule>>,
    /// For each condition rule (by number), who it holds for now.
    held: Mutex<HashMap<usize, HashSet<Arc<str>>>>,
    /// Wakes the uplink watcher when the rules change.
    changed: tokio::sync::Notify,
    /// Keeps a busy line's signals from filling the log.
    log: SharedThrottle,
}

impl Signals {
    /// Rules `rules`, sending through `routes`.
    pub fn new(routes: Routes, rules: Vec<FeedbackRule>) -> Arc<Signals> {
        Arc::new(Signals {
            routes,
            rules: RwLock::new(rules),
            ..Signals::default()
        })
    }

    fn rules(&self) -> std::sync::RwLockReadGuard<'_, Vec<FeedbackRule>> {
        self.rules.read().unwrap_or_else(|p| p.into_inner())
    }

    /// New rules (a reload): every condition layer of the old ones is cleared; conditions are
    /// then told again by whoever knows them.
    pub fn replace(&self, rules: Vec<FeedbackRule>) {
        let old = std::mem::replace(
            &mut *self.rules.write().unwrap_or_else(|p| p.into_inner()),
            rules,
        );
        if old == *self.rules() {
            return;
        }
        let held = std::mem::take(&mut *self.held.lock().unwrap_or_else(|p| p.into_inner()));
        for rule in old
            .iter()
            .filter(|r| held.get(&r.number).is_some_and(|h| !h.is_empty()))
        {
            self.send(rule, false, None);
        }
        self.changed.notify_one();
    }

    fn send(&self, rule: &FeedbackRule, set: bool, status: Option<&DeviceStatus>) {
        let command = if set {
            DeviceCommand::SetOutput {
                line: rule.line.clone(),
                pattern: rule.pattern,
                priority: rule.priority,
                owner: rule.owner(),
                for_ms: rule.for_ms,
            }
        } else {
            DeviceCommand::ClearOutput {
                line: rule.line.clone(),
                owner: rule.owner(),
            }
        };
        let sent = self
            .routes
            .try_send(&rule.output, CommandRequest::fire_and_forget(command))
            .is_ok();
        match status {
            Some(status) if sent => status.signalled(),
            Some(status) => status.feedback_dropped(),
            None if !sent => {
                tracing::debug!(output = %rule.output, "feedback rule {} not sent: the output's inbox is full or it is not running", rule.number);
            }
            None => {}
        }
    }

    /// `device` had an event outcome (captured, rejected, duplicate, outbox-full).
    pub fn tell(&self, device: &DeviceStatus, outcome: Outcome) {
        for rule in self.rules().iter() {
            if rule.on == outcome && rule.covers(&device.id) {
                self.send(rule, true, Some(device));
                let log = self.log.check();
                if log != Throttled::Quiet {
                    tracing::info!(device = %device.id, output = %rule.output, line = %rule.line, "{}: {}{}", outcome.as_str(), rule.pattern, log.note());
                }
            }
        }
    }

    /// A condition holds (or no longer holds) for device `key`.
    pub fn condition(&self, key: &Arc<str>, outcome: Outcome, holds: bool) {
        self.set_held(key, holds, |rule| rule.on == outcome && rule.covers(key));
    }

    /// Updates who holds each rule `which` picks; sends what changed.
    fn set_held(&self, key: &Arc<str>, holds: bool, which: impl Fn(&FeedbackRule) -> bool) {
        let rules = self.rules();
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        for rule in rules.iter() {
            if !which(rule) {
                continue;
            }
            let outcome = rule.on;
            let holders = held.entry(rule.number).or_default();
            let was = !holders.is_empty();
            if holds {
                holders.insert(key.clone());
            } else {
                holders.remove(key);
            }
            let now = !holders.is_empty();
            if was != now {
                if now {
                    tracing::warn!(output = %rule.output, line = %rule.line, "{} ({key}): showing {}", outcome.as_str(), rule.pattern);
                } else {
                    tracing::info!(output = %rule.output, line = %rule.line, "{} ({key}) ended", outcome.as_str());
                }
                self.send(rule, now, None);
            }
        }
    }

    /// `output` is up again (its lines start from the safe state): sends it the conditions
    /// that hold.
    pub fn output_up(&self, output: &str) {
        let rules = self.rules();
        let held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        for rule in rules.iter().filter(|r| &*r.output == output) {
            if held.get(&rule.number).is_some_and(|h| !h.is_empty()) {
                self.send(rule, true, None);
            }
        }
    }

    /// Shows `offline-too-long` rules once the broker has been away for their `after_s`, and
    /// clears them when it is back. Sleeps until the next threshold or a change of the
    /// connection: no periodic wake-up.
    pub async fn watch_uplink(self: Arc<Self>, broker: Arc<BrokerStatus>) {
        let key: Arc<str> = Arc::from(UPLINK);
        loop {
            let changed = broker.changed();
            let rules_changed = self.changed.notified();
            let thresholds: Vec<(usize, Duration)> = self
                .rules()
                .iter()
                .filter(|r| r.on == Outcome::OfflineTooLong)
                .filter_map(|r| Some((r.number, Duration::from_secs(r.after_s?))))
                .collect();
            let offline = broker.offline_for();
            let mut next: Option<Duration> = None;
            for (number, after) in thresholds {
                let holds = offline.is_some_and(|o| o >= after);
                if let Some(o) = offline.filter(|_| !holds) {
                    next = Some(next.map_or(after - o, |n| n.min(after - o)));
                }
                self.set_held(&key, holds, |r| r.number == number);
            }
            tokio::select! {
                _ = changed => {}
                _ = rules_changed => {}
                _ = async {
                    match next {
                        Some(wait) => tokio::time::sleep(wait).await,
                        None => std::future::pending().await,
                    }
                } => {}
            }
        }
    }
}
