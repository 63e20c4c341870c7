//! systemd integration: readiness, the watchdog, and the one-line status `systemctl status`
//! shows. All of it is the sd_notify(3) datagram protocol on `$NOTIFY_SOCKET` (the
//! `sd-notify` crate); without that variable (not started by systemd) nothing is sent.
//!
//! ```text
//!  ┌──────────┐ store open, pipeline running, every device   ┌──────────────────────────────┐
//!  │ Starting │ tried once (up or down, ≤ READY_WAIT) ──────▶ │ Ready: READY=1, STATUS=…     │
//!  └──────────┘                                              └──────────────────────────────┘
//!                                                                 │ every WatchdogSec / 2
//!                                                                 ▼
//!   ┌────────────────────────────────────────────────────────────────────────────────────┐
//!   │ Probe every vital loop (capture pipeline, outbox writer) through the loop itself,   │
//!   │ each within WatchdogSec / 2                                                        │
//!   │   all answered → WATCHDOG=1 + STATUS=<devices up, undelivered, broker>             │
//!   │   one silent   → log which, NO ping: if it lasts WatchdogSec, systemd kills and    │
//!   │                  restarts the daemon (Restart=on-failure); the outbox is durable   │
//!   └────────────────────────────────────────────────────────────────────────────────────┘
//!  SIGTERM ──▶ STOPPING=1, then the ordered shutdown of the composition root
//! ```
//!
//! Why probes and not a timer: a timer task keeps ticking while the pipeline is wedged
//! behind a blocked channel; a question the pipeline itself must answer does not.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use sd_notify::NotifyState;
use tokio_util::sync::CancellationToken;
use tracegate_drivers::DeviceState;

use crate::outbox::store::Store;
use crate::telemetry::DeviceRegistry;
use crate::telemetry::health::Probe;

/// Longest wait for the devices' first connection attempts before READY=1 is sent anyway:
/// a scanner unplugged at boot must not keep the service from starting (it is reported
/// down and retried).
pub const READY_WAIT: Duration = Duration::from_secs(10);

/// How often the status line is refreshed when systemd asked for no watchdog.
const STATUS_EVERY: Duration = Duration::from_secs(10);

/// Sends `states` to the service manager, if there is one. A failure is logged, never fatal:
/// the daemon's work does not depend on systemd.
pub fn notify(states: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::warn!("cannot notify systemd on $NOTIFY_SOCKET: {e}");
    }
}

/// Whether a service manager listens (`$NOTIFY_SOCKET` is set).
pub fn managed() -> bool {
    std::env::var_os("NOTIFY_SOCKET").is_some_and(|s| !s.is_empty())
}

/// The watchdog period systemd asked for (`WatchdogSec=`, as `$WATCHDOG_USEC`), if any.
pub fn watchdog_period() -> Option<Duration> {
    sd_notify::watchdog_enabled().filter(|d| !d.is_zero())
}

/// Waits until every device has made its first attempt (is `up` or `down`, not
/// `connecting`), or `max` has passed.
pub async fn devices_settled(devices: &DeviceRegistry, max: Duration) {
    let deadline = tokio::time::Instant::now() + max;
    while tokio::time::Instant::now() < deadline {
        if devices
            .all()
            .iter()
            .all(|d| d.state() != DeviceState::Connecting)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let waiting: Vec<Arc<str>> = devices
        .all()
        .iter()
        .filter(|d| d.state() == DeviceState::Connecting)
        .map(|d| d.id.clone())
        .collect();
    tracing::warn!(
        devices = ?waiting,
        "still connecting after {max:?}; reporting ready anyway, they keep retrying"
    );
}

/// The short status line for `systemctl status`.
pub fn status_line(devices: &DeviceRegistry, store: &Store, broker_connected: bool) -> String {
    let all = devices.all();
    let total = all.len();
    let up = all.iter().filter(|d| d.state() == DeviceState::Up).count();
    let undelivered = store.stats().undelivered;
    format!(
        "{up}/{total} devices up · {undelivered} undelivered · broker {}",
        if broker_connected {
            "connected"
        } else {
            "NOT connected"
        }
    )
}

/// Asks a loop whether it is alive, waiting at most the given time.
type Check = Box<dyn Fn(Duration) -> Pin<Box<dyn Future<Output = bool> + Send>> + Send + Sync>;

/// A loop whose liveness gates the watchdog ping.
pub struct Vital {
    name: &'static str,
    check: Check,
}

impl Vital {
    /// A loop answering through a [`Probe`].
    pub fn probe(probe: Probe) -> Vital {
        Vital {
            name: probe.name(),
            check: Box::new(move |within| {
                let probe = probe.clone();
                Box::pin(async move { probe.check(within).await })
            }),
        }
    }

    /// The outbox writer: it must take a transaction through to its commit.
    pub fn store(store: Store) -> Vital {
        Vital {
            name: "outbox writer",
            check: Box::new(move |within| {
                let store = store.clone();
                Box::pin(async move {
                    tokio::time::timeout(within, store.probe())
                        .await
                        .unwrap_or(false)
                })
            }),
        }
    }

    /// The loop's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    async fn alive(&self, within: Duration) -> bool {
        (self.check)(within).await
    }
}

/// One round of the watchdog: what to tell systemd.
#[derive(Debug, Clone, PartialEq)]
pub enum Round {
    /// Every vital loop answered: ping (when a watchdog is on) and refresh the status line.
    Alive,
    /// These loops did not answer in time: no ping.
    Stalled(Vec<&'static str>),
}

/// Runs the watchdog until `cancel`: every `period`, probes every vital (each within
/// `period`, all at once) and hands the round to `tell` — which pings systemd in the daemon
/// and records rounds in tests.
pub async fn watchdog(
    vitals: Vec<Vital>,
    period: Duration,
    cancel: CancellationToken,
    mut tell: impl FnMut(Round),
) {
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut stalled_before = false;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        let answers = futures_util::future::join_all(vitals.iter().map(|v| v.alive(period))).await;
        let stalled: Vec<&'static str> = vitals
            .iter()
            .zip(answers)
            .filter(|(_, alive)| !alive)
            .map(|(v, _)| v.name())
            .collect();
        if stalled.is_empty() {
            if stalled_before {
                tracing::warn!("every loop answers again; watchdog pings resumed");
            }
            stalled_before = false;
            tell(Round::Alive);
        } else {
            tracing::error!(
                stalled = ?stalled,
                "did not answer within {period:?}: watchdog ping withheld (systemd restarts \
                 tracegate if this lasts WatchdogSec; events committed so far are safe)"
            );
            stalled_before = true;
            tell(Round::Stalled(stalled));
        }
    }
}

/// The period of the watchdog loop: half the systemd watchdog (as sd_watchdog_enabled(3)
/// recommends), or [`STATUS_EVERY`] just to refresh the status line.
pub fn round_period(watchdog: Option<Duration>) -> Duration {
    watchdog.map(|w| w / 2).unwrap_or(STATUS_EVERY)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::health;

    #[tokio::test]
    async fn a_stalled_loop_withholds_the_ping_until_it_answers_again() {
        let (probe, mut responder) = health::probe("capture pipeline");
        // The loop answers, then is wedged for a while (holds the question unanswered), then
        // answers again.
        let wedge = CancellationToken::new();
        let unwedge = CancellationToken::new();
        let (w, u) = (wedge.clone(), unwedge.clone());
        tokio::spawn(async move {
            loop {
                let q = responder.asked().await;
                if w.is_cancelled() && !u.is_cancelled() {
                    u.cancelled().await;
                }
                health::answer(q);
            }
        });
        let cancel = CancellationToken::new();
        let (tx, mut rounds) = tokio::sync::mpsc::unbounded_channel();
        let task = tokio::spawn(watchdog(
            vec![Vital::probe(probe)],
            Duration::from_millis(40),
            cancel.clone(),
            move |round| {
                let _ = tx.send(round);
            },
        ));
        assert_eq!(rounds.recv().await, Some(Round::Alive));
        wedge.cancel();
        // The round in progress may still have been answered; the next ones are not.
        loop {
            if rounds.recv().await == Some(Round::Stalled(vec!["capture pipeline"])) {
                break;
            }
        }
        assert_eq!(
            rounds.recv().await,
            Some(Round::Stalled(vec!["capture pipeline"]))
        );
        unwedge.cancel();
        loop {
            if rounds.recv().await == Some(Round::Alive) {
                break;
            }
        }
        cancel.cancel();
        task.await.unwrap();
    }

    #[test]
    fn the_round_is_half_the_watchdog() {
        assert_eq!(
            round_period(Some(Duration::from_secs(30))),
            Duration::from_secs(15)
        );
        assert_eq!(round_period(None), STATUS_EVERY);
    }
}
