//! The outbox's hash chain, as pure functions.
//!
//! Every event the outbox stores gets a link: `link = SHA-256(previous link ‖ body)`, where
//! `body` is the event exactly as stored and published (its `eventID` included). A chain
//! starts with a genesis link made from a note that says why it starts (a new outbox, an
//! upgraded one, one moved aside as unusable). So an edited body, a reordered pair or a
//! removed event breaks every link after it.
//!
//! ```text
//!  start(note) ─▶ genesis = SHA-256("tracegate-chain-v1 start\n" ‖ note)
//!  event 1     ─▶ L1 = SHA-256(genesis ‖ body1)
//!  event 2     ─▶ L2 = SHA-256(L1 ‖ body2) … head = (seq, Ln), signed
//!  pruned 3..7 ─▶ gap (3, 7, L7), signed: event 8 links to L7
//! ```
//!
//! The gateway signs the head (its newest seq and link) and every gap left by pruning, so
//! whoever edits the file cannot recompute the chain to match: the signatures need the key.
//! Each signed statement names the gateway, so one gateway's chain cannot pass for another's.

use sha2::{Digest, Sha256};

/// One link of the chain.
pub type Link = [u8; 32];

/// The first link of a chain that starts for the reason `note`.
pub fn genesis(note: &str) -> Link {
    let mut h = Sha256::new();
    h.update(b"tracegate-chain-v1 start\n");
    h.update(note.as_bytes());
    h.finalize().into()
}

/// The link of an event stored as `body` after `previous`.
pub fn next(previous: &Link, body: &[u8]) -> Link {
    let mut h = Sha256::new();
    h.update(previous);
    h.update(body);
    h.finalize().into()
}

/// What the gateway signs about its newest event: the chain ends at `seq` with `link`.
pub fn head_statement(gateway: &str, seq: i64, link: &Link) -> Vec<u8> {
    format!(
        "tracegate-chain-v1 head {gateway} {seq} {}",
        hex::encode(link)
    )
    .into_bytes()
}

/// What the gateway signs about a stretch of events it deleted (pruned once delivered, or
/// dropped by `when_full`): events `first..=last` are gone, the last of them had `end_link`.
pub fn gap_statement(gateway: &str, first: i64, last: i64, end_link: &Link) -> Vec<u8> {
    format!(
        "tracegate-chain-v1 gap {gateway} {first} {last} {}",
        hex::encode(end_link)
    )
    .into_bytes()
}

/// What the gateway signs about a chain's start: after event `after_seq`, a chain starts with
/// `link` because of `note`.
pub fn start_statement(gateway: &str, after_seq: i64, link: &Link, note: &str) -> Vec<u8> {
    format!(
        "tracegate-chain-v1 start {gateway} {after_seq} {} {note}",
        hex::encode(link)
    )
    .into_bytes()
}

/// A link from its stored bytes; `None` when it is not 32 bytes.
pub fn link_from(bytes: &[u8]) -> Option<Link> {
    bytes.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_edit_or_a_reorder_changes_every_link_after_it() {
        let g = genesis("new outbox");
        let a = next(&g, b"{\"a\":1}");
        let b = next(&a, b"{\"b\":2}");
        assert_ne!(next(&g, b"{\"a\":2}"), a, "an edit");
        let swapped = next(&next(&g, b"{\"b\":2}"), b"{\"a\":1}");
        assert_ne!(swapped, b, "a reorder");
        assert_ne!(next(&g, b"{\"b\":2}"), b, "a removal");
        assert_ne!(genesis("moved aside"), g);
        // Known answer: SHA-256("tracegate-chain-v1 start\n") + nothing.
        assert_eq!(
            hex::encode(genesis("")),
            hex::encode(Sha256::digest(b"tracegate-chain-v1 start\n"))
        );
    }

    #[test]
    fn statements_name_the_gateway_and_the_position() {
        let l = [7u8; 32];
        let s = String::from_utf8(head_statement("gw-1", 42, &l)).unwrap();
        assert_eq!(
            s,
            format!("tracegate-chain-v1 head gw-1 42 {}", "07".repeat(32))
        );
        assert_ne!(
            head_statement("gw-2", 42, &l),
            head_statement("gw-1", 42, &l)
        );
        assert_ne!(
            gap_statement("gw-1", 3, 7, &l),
            gap_statement("gw-1", 3, 8, &l)
        );
        assert_eq!(link_from(&[1u8; 32]), Some([1u8; 32]));
        assert_eq!(link_from(&[1u8; 31]), None);
    }
}
