//! Liveness probes: a way to ask a loop "are you still turning?" through the loop itself.
//!
//! A heartbeat timer beside a loop proves only that the timer runs. A probe is answered by
//! the loop, between two pieces of its real work, so a loop stuck in one of them (a blocked
//! channel, a call that never returns) leaves the probe unanswered. The systemd watchdog
//! (the systemd module of `ops`) pings only when every probe is answered in time.

use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

/// The asking end, held by the watchdog.
#[derive(Debug, Clone)]
pub struct Probe {
    name: &'static str,
    tx: mpsc::Sender<oneshot::Sender<()>>,
}

/// The answering end, polled by the loop being watched.
#[derive(Debug)]
pub struct Responder {
    rx: mpsc::Receiver<oneshot::Sender<()>>,
}

/// A probe for the loop called `name` (named in the log when it stalls).
pub fn probe(name: &'static str) -> (Probe, Responder) {
    // One outstanding question is enough: a loop that has not answered the last one is stalled.
    let (tx, rx) = mpsc::channel(1);
    (Probe { name, tx }, Responder { rx })
}

impl Probe {
    /// The loop's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Asks, and waits at most `within` for the answer. False if the loop did not answer
    /// or is gone.
    pub async fn check(&self, within: Duration) -> bool {
        let (answer, answered) = oneshot::channel();
        tokio::time::timeout(within, async {
            self.tx.send(answer).await.is_ok() && answered.await.is_ok()
        })
        .await
        .unwrap_or(false)
    }
}

impl Responder {
    /// The next question; for use as a `select!` branch in the loop. Never resolves once the
    /// watchdog is gone, so the branch simply stops firing.
    pub async fn asked(&mut self) -> oneshot::Sender<()> {
        match self.rx.recv().await {
            Some(answer) => answer,
            None => std::future::pending().await,
        }
    }
}

/// Answers a question.
pub fn answer(question: oneshot::Sender<()>) {
    let _ = question.send(());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_turning_loop_answers_and_a_stuck_one_does_not() {
        let (probe, mut responder) = probe("test");
        let turning = tokio::spawn(async move {
            loop {
                answer(responder.asked().await);
            }
        });
        assert!(probe.check(Duration::from_secs(1)).await);
        assert!(probe.check(Duration::from_secs(1)).await);
        turning.abort();
        let _ = turning.await;
        assert!(!probe.check(Duration::from_millis(50)).await, "loop gone");

        let (probe, _held_but_never_polled) = super::probe("stuck");
        assert!(!probe.check(Duration::from_millis(50)).await);
    }
}
