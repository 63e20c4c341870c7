//! Operator feedback through the scanner: the pipeline decides whether a read was recorded or
//! rejected; the device's configured bytes for that outcome ([`ScannerFeedback`]) go to its
//! driver, which writes them to the scanner. The pipeline never waits for it: a signal that
//! finds the queue full (the scanner is down, or not taking bytes) is dropped — the read's
//! outcome is in the log, the counters and the status either way.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::config::{Config, ScannerFeedback};

/// Signals queued per scanner before further ones are dropped.
const QUEUE: usize = 16;

/// One scanner's feedback line.
#[derive(Debug, Clone)]
pub struct SignalLine {
    tx: mpsc::Sender<Bytes>,
    accept: Bytes,
    reject: Bytes,
}

impl SignalLine {
    /// A line for `feedback`, and the receiver its driver writes from.
    pub fn new(feedback: &ScannerFeedback) -> (SignalLine, mpsc::Receiver<Bytes>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let line = SignalLine {
            tx,
            accept: Bytes::from(feedback.on_accept_send.clone().into_bytes()),
            reject: Bytes::from(feedback.on_reject_send.clone().into_bytes()),
        };
        (line, rx)
    }

    /// Tells the scanner a read's outcome: `accepted` when it was recorded (or is waiting in
    /// a packing session), otherwise it was refused, flagged, or could not be stored.
    pub fn tell(&self, accepted: bool) {
        let bytes = if accepted { &self.accept } else { &self.reject };
        if !bytes.is_empty() {
            let _ = self.tx.try_send(bytes.clone());
        }
    }
}

/// Feedback lines by device id, for the pipeline.
pub type SignalLines = HashMap<Arc<str>, SignalLine>;

/// The bytes to write to each scanner, by device id, for the drivers.
pub type HostCommands = HashMap<Arc<str>, mpsc::Receiver<Bytes>>;

/// The feedback lines of every device that has feedback configured, and their receivers.
pub fn lines(config: &Config) -> (SignalLines, HostCommands) {
    let mut lines = HashMap::new();
    let mut receivers = HashMap::new();
    for device in config.devices.iter().filter(|d| !d.feedback.is_empty()) {
        let (line, rx) = SignalLine::new(&device.feedback);
        lines.insert(device.id.clone(), line);
        receivers.insert(device.id.clone(), rx);
    }
    (lines, receivers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn each_outcome_sends_its_bytes_and_empty_ones_send_nothing() {
        let (line, mut rx) = SignalLine::new(&ScannerFeedback {
            on_accept_send: String::new(),
            on_reject_send: "F".into(),
        });
        line.tell(true);
        line.tell(false);
        assert_eq!(rx.recv().await.unwrap(), "F");
        assert!(rx.try_recv().is_err(), "accept sends nothing when empty");
    }

    #[tokio::test]
    async fn a_full_queue_drops_signals_instead_of_waiting() {
        let (line, mut rx) = SignalLine::new(&ScannerFeedback {
            on_accept_send: "B".into(),
            on_reject_send: String::new(),
        });
        for _ in 0..QUEUE * 2 {
            line.tell(true); // never blocks
        }
        let mut got = 0;
        while rx.try_recv().is_ok() {
            got += 1;
        }
        assert_eq!(got, QUEUE);
    }
}
