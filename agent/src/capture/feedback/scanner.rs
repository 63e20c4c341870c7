//! Operator feedback through the scanner itself: the pipeline decides whether a read was recorded or
//! rejected; the device's configured bytes for that outcome ([`ScannerFeedback`]) go through
//! the device's command inbox ([`Routes`]) as a [`DeviceCommand::Send`], which its driver
//! writes to the scanner between reads. The pipeline never waits for it.
//!
//! What the operator hears, by design: **a good-read tone means captured; silence means
//! rescan.** A tone is dropped — and counted (`feedback_dropped_total`) — when the scanner's
//! inbox is full (a burst faster than the scanner takes host bytes) or the scanner is down;
//! a verdict that comes more than [`LATE`] after the read gets no tone at all (counted,
//! `feedback_late_total`): the item is no longer in hand, and its tone would be taken for the
//! next item's. Silence costs at most a rescan, which is a second observation of the same
//! item; a tone never says "captured" for a read that was not.

use std::sync::Arc;

use bytes::Bytes;
use tracegate_drivers::{CommandRequest, DeviceCommand};

use crate::capture::devices::Routes;
use crate::config::ScannerFeedback;

/// Longest a verdict may take after its read for a tone to be worth sounding.
pub const LATE: std::time::Duration = std::time::Duration::from_secs(3);

/// One scanner's feedback line.
#[derive(Debug, Clone)]
pub struct SignalLine {
    device: Arc<str>,
    routes: Routes,
    accept: Bytes,
    reject: Bytes,
}

impl SignalLine {
    /// A line to `device`'s inbox in `routes`, sending `feedback`'s bytes.
    pub fn new(device: Arc<str>, routes: Routes, feedback: &ScannerFeedback) -> SignalLine {
        SignalLine {
            device,
            routes,
            accept: Bytes::from(feedback.on_accept_send.clone().into_bytes()),
            reject: Bytes::from(feedback.on_reject_send.clone().into_bytes()),
        }
    }

    /// Tells the scanner a read's outcome: `accepted` when it was recorded (or is waiting in
    /// a packing session), otherwise it was refused, flagged, or could not be stored. False
    /// when the tone was dropped (the scanner's inbox is full, or it is down).
    pub fn tell(&self, accepted: bool) -> bool {
        let bytes = if accepted { &self.accept } else { &self.reject };
        if bytes.is_empty() {
            return true;
        }
        let request = CommandRequest::fire_and_forget(DeviceCommand::Send(bytes.clone()));
        self.routes.try_send(&self.device, request).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::mpsc;

    fn line(routes: &Routes, accept: &str, reject: &str) -> SignalLine {
        SignalLine::new(
            Arc::from("s1"),
            routes.clone(),
            &ScannerFeedback {
                on_accept_send: accept.into(),
                on_reject_send: reject.into(),
            },
        )
    }

    #[tokio::test]
    async fn each_outcome_sends_its_bytes_and_empty_ones_send_nothing() {
        let routes = Routes::default();
        let (tx, mut rx) = mpsc::channel(8);
        routes.insert(Arc::from("s1"), tx);
        let line = line(&routes, "", "F");
        assert!(line.tell(true));
        assert!(line.tell(false));
        let sent = rx.recv().await.unwrap();
        assert_eq!(sent.command, DeviceCommand::Send(Bytes::from("F")));
        assert!(rx.try_recv().is_err(), "accept sends nothing when empty");
    }

    #[tokio::test]
    async fn a_full_inbox_or_a_missing_device_drops_signals_instead_of_waiting() {
        let routes = Routes::default();
        let (tx, mut rx) = mpsc::channel(4);
        routes.insert(Arc::from("s1"), tx);
        let line = line(&routes, "B", "");
        let told = (0..12).filter(|_| line.tell(true)).count(); // never blocks
        assert_eq!(told, 4, "the rest are reported dropped");
        let mut got = 0;
        while rx.try_recv().is_ok() {
            got += 1;
        }
        assert_eq!(got, 4);
        routes.remove("s1");
        assert!(!line.tell(true), "the device is gone: dropped");
    }
}
