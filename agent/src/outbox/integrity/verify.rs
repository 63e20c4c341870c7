//! Checking a chain: the events in seq order with the starts and gaps between them, each
//! link recomputed, each event's `eventID` recomputed (CBV 2.0 hash), each signature checked.
//! The same walk checks a live outbox and an export; the caller says where each item is, so
//! every problem names its place (which file, which event, which link).
//!
//! ```text
//!  previous link ──▶ Event(seq) ── link = SHA-256(previous ‖ body) ── stored link? equal?
//!        ▲              │ seq ≠ expected: events missing (no gap says they were deleted)
//!        └── Gap(first..last, end link, signed) ◀── Start(after seq, genesis, signed)
//!  end: the last link and seq equal the signed head / the manifest's
//! ```

use serde_json::Value;

use crate::outbox::signing::chain::{self, Link};
use crate::outbox::signing::key;
use tracegate_epcis::hash::{self, Namespaces};

/// Where a verifier finds an item (a file and an index, an outbox row).
pub type Place = String;

/// A problem found, where.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Problem {
    /// Where: `events-000001.json event 17 (seq 117)`, `outbox seq 4211`, `manifest.json`.
    pub place: Place,
    /// What is wrong.
    pub what: String,
}

/// The public key that signed, if the chain is signed.
#[derive(Debug, Clone)]
pub struct Signer {
    /// The gateway id the statements name.
    pub gateway: String,
    /// `ed25519`.
    pub algorithm: String,
    /// Hex.
    pub public_key: String,
}

/// Walks a chain, collecting problems.
#[derive(Debug)]
pub struct Walker {
    signer: Option<Signer>,
    namespaces: Namespaces,
    previous: Option<Link>,
    next_seq: Option<i64>,
    /// Problems found so far, in chain order.
    pub problems: Vec<Problem>,
    /// Events walked.
    pub events: u64,
    /// Events stored before the chain started (no link): not checked.
    pub unchained: u64,
    /// Signatures checked and found good.
    pub signatures: u64,
    /// A chained record was met before any chain start (said once).
    start_missing: bool,
}

impl Walker {
    /// A walk checking signatures with `signer` (none: an unsigned chain, said as a problem
    /// at each statement that should have been signed).
    pub fn new(signer: Option<Signer>) -> Walker {
        let context: Value = serde_json::from_str(tracegate_epcis::document::CONTEXT)
            .expect("the document context is JSON");
        Walker {
            signer,
            namespaces: Namespaces::from_context(&context),
            previous: None,
            next_seq: None,
            problems: Vec::new(),
            events: 0,
            unchained: 0,
            signatures: 0,
            start_missing: false,
        }
    }

    /// Starts the walk after event `seq`, whose link is `link` (an export's starting point).
    pub fn resume(&mut self, seq: i64, link: Link) {
        self.previous = Some(link);
        self.next_seq = Some(seq + 1);
    }

    /// The link the walk has reached and the next seq expected.
    pub fn position(&self) -> (Option<i64>, Option<Link>) {
        (self.next_seq.map(|s| s - 1), self.previous)
    }

    fn problem(&mut self, place: &str, what: impl Into<String>) {
        self.problems.push(Problem {
            place: place.to_string(),
            what: what.into(),
        });
    }

    fn check_signature(&mut self, place: &str, statement: &[u8], signature: Option<&[u8]>) {
        let Some(signer) = &self.signer else {
            return;
        };
        match signature {
            None => self.problem(place, "not signed"),
            Some(sig) => match key::verify(&signer.algorithm, &signer.public_key, statement, sig) {
                Ok(()) => self.signatures += 1,
                Err(e) => self.problem(place, format!("bad signature: {e}")),
            },
        }
    }

    /// A chain starts after event `after_seq` with `link`, because of `note`.
    pub fn start(
        &mut self,
        place: &str,
        after_seq: i64,
        link: Link,
        note: &str,
        signature: Option<&[u8]>,
    ) {
        if link != chain::genesis(note) {
            self.problem(place, "the chain start's link does not match its note");
        }
        if let Some(signer) = &self.signer {
            let statement = chain::start_statement(&signer.gateway, after_seq, &link, note);
            self.check_signature(place, &statement, signature);
        }
        if let Some(expected) = self.next_seq
            && after_seq + 1 < expected
        {
            self.problem(
                place,
                format!(
                    "a chain start after seq {after_seq} lies behind seq {}",
                    expected - 1
                ),
            );
        }
        self.previous = Some(link);
        self.next_seq = Some(after_seq + 1);
    }

    /// A chained record at `place` with no chain start before it: the start was deleted.
    fn no_start(&mut self, place: &str) {
        if !self.start_missing {
            self.start_missing = true;
            self.problem(
                place,
                "chained, but no chain start comes before it: the start record was deleted",
            );
        }
    }

    /// A stored gap record, named `{prefix}gap FIRST..=LAST` in problems.
    pub fn gap_record(&mut self, prefix: &str, g: &crate::outbox::store::chain::GapRow) {
        self.gap(
            &format!("{prefix}gap {}..={}", g.first, g.last),
            g.first,
            g.last,
            g.end,
            g.signature.as_deref(),
        );
    }

    /// Events `first..=last` were deleted; the last had `end`.
    pub fn gap(&mut self, place: &str, first: i64, last: i64, end: Link, signature: Option<&[u8]>) {
        if let Some(signer) = &self.signer {
            let statement = chain::gap_statement(&signer.gateway, first, last, &end);
            self.check_signature(place, &statement, signature);
        }
        if self.previous.is_none() {
            self.no_start(place);
        }
        match self.next_seq {
            Some(expected) if expected != first => self.problem(
                place,
                format!(
                    "a gap of deleted events {first}..={last} where seq {expected} was expected"
                ),
            ),
            _ => {}
        }
        self.previous = Some(end);
        self.next_seq = Some(last + 1);
    }

    /// Event `seq`, stored as `body` with `stored` as its link (none in an export).
    pub fn event(&mut self, place: &str, seq: i64, body: &[u8], stored: Option<Link>) {
        match (self.previous, self.next_seq) {
            (None, _) => {
                // Before any chain start: stored before the chain existed — unless it carries
                // a link, which only a chain gives.
                if stored.is_some() {
                    self.no_start(place);
                }
                self.unchained += 1;
                return;
            }
            (Some(_), Some(expected)) if seq != expected => {
                if seq > expected {
                    self.problem(
                        place,
                        format!(
                            "events {expected}..={} are missing and no signed gap says they were deleted (a deletion)",
                            seq - 1
                        ),
                    );
                } else {
                    self.problem(
                        place,
                        format!("seq {seq} out of order (expected {expected}): a reorder"),
                    );
                }
            }
            _ => {}
        }
        let link = chain::next(&self.previous.expect("checked"), body);
        if let Some(stored) = stored
            && stored != link
        {
            self.problem(
                place,
                "the event's link does not follow from the one before: this event or one before it was edited, removed or reordered",
            );
        }
        self.check_event_id(place, body);
        self.previous = Some(link);
        self.next_seq = Some(seq + 1);
        self.events += 1;
    }

    fn check_event_id(&mut self, place: &str, body: &[u8]) {
        let Ok(Value::Object(mut event)) = serde_json::from_slice::<Value>(body) else {
            self.problem(place, "the event is not a JSON object");
            return;
        };
        let Some(Value::String(stated)) = event.remove("eventID") else {
            self.problem(place, "the event has no eventID");
            return;
        };
        let computed = hash::event_hash(&event, &self.namespaces);
        if computed != stated {
            self.problem(
                place,
                format!("eventID {stated} is not the CBV 2.0 hash of the event's content ({computed}): the event was edited"),
            );
        }
    }

    /// The walk ends: the chain must end at `seq` with `link` (the signed head, or an
    /// export's last link).
    pub fn end(&mut self, place: &str, seq: i64, link: Link) {
        let (last, reached) = self.position();
        if reached.is_none() {
            self.no_start(place);
            return;
        }
        if let Some(last) = last
            && last != seq
        {
            self.problem(
                place,
                format!("the chain ends at seq {last} but the signed head says {seq}: events were removed from or added at the end"),
            );
        } else if reached.is_some_and(|r| r != link) {
            self.problem(
                place,
                "the last link does not match the signed one: an event was edited, removed or reordered",
            );
        }
    }

    /// The signed head statement: checked against the signer.
    pub fn head_signature(&mut self, place: &str, seq: i64, link: Link, signature: Option<&[u8]>) {
        if let Some(signer) = &self.signer {
            let statement = chain::head_statement(&signer.gateway, seq, &link);
            self.check_signature(place, &statement, signature);
        }
    }
}
