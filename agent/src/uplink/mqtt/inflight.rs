//! Which publish a PUBACK acknowledges.
//!
//! rumqttc assigns packet ids inside its event loop, not when `publish` is called: it reports
//! each assignment as `Outgoing::Publish(pkid)`, in the order the publishes were requested. So
//! a publish is first *queued* (requested, id unknown), then *sent* (id known), then *acked*.
//! This tracker is that bookkeeping, kept pure so it can be tested without a broker.

use std::collections::{HashMap, VecDeque};

/// What was published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Publish {
    /// A batch of outbox events `first..=last` (seqs), `events` of them.
    Batch {
        /// First seq in the batch.
        first: i64,
        /// Last seq in the batch.
        last: i64,
        /// Number of events.
        events: usize,
    },
    /// A status message or a command reply: tracked so its ack is recognised, nothing more.
    Control,
}

/// Publishes between request and acknowledgement.
#[derive(Debug, Default)]
pub struct Inflight {
    queued: VecDeque<Publish>,
    sent: HashMap<u16, Publish>,
    batches: usize,
}

impl Inflight {
    /// A publish was handed to the client.
    pub fn queued(&mut self, publish: Publish) {
        if matches!(publish, Publish::Batch { .. }) {
            self.batches += 1;
        }
        self.queued.push_back(publish);
    }

    /// The event loop sent the oldest queued publish with packet id `pkid`.
    pub fn sent(&mut self, pkid: u16) {
        if let Some(publish) = self.queued.pop_front() {
            self.sent.insert(pkid, publish);
        }
    }

    /// The broker acknowledged `pkid`; returns what that was.
    pub fn acked(&mut self, pkid: u16) -> Option<Publish> {
        let publish = self.sent.remove(&pkid)?;
        if matches!(publish, Publish::Batch { .. }) {
            self.batches -= 1;
        }
        Some(publish)
    }

    /// Batches requested and not yet acknowledged.
    pub fn batches(&self) -> usize {
        self.batches
    }

    /// Nothing requested is unacknowledged.
    pub fn is_empty(&self) -> bool {
        self.queued.is_empty() && self.sent.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(first: i64, last: i64) -> Publish {
        Publish::Batch {
            first,
            last,
            events: (last - first + 1) as usize,
        }
    }

    #[test]
    fn acks_map_back_to_what_was_queued_in_order() {
        let mut f = Inflight::default();
        f.queued(batch(1, 10));
        f.queued(Publish::Control);
        f.queued(batch(11, 20));
        assert_eq!(f.batches(), 2);
        f.sent(1);
        f.sent(2);
        f.sent(3);
        assert_eq!(f.acked(2), Some(Publish::Control));
        assert_eq!(f.acked(1), Some(batch(1, 10)));
        assert_eq!(f.batches(), 1);
        assert_eq!(f.acked(1), None, "a duplicate ack is ignored");
        assert_eq!(f.acked(3), Some(batch(11, 20)));
        assert!(f.is_empty());
        assert_eq!(f.batches(), 0);
    }

    #[test]
    fn packet_ids_are_reused_after_their_ack() {
        let mut f = Inflight::default();
        f.queued(batch(1, 1));
        f.sent(1);
        assert_eq!(f.acked(1), Some(batch(1, 1)));
        f.queued(batch(2, 2));
        f.sent(1);
        assert_eq!(f.acked(1), Some(batch(2, 2)));
    }
}
