//! Checking a live outbox's chain (`tracegate verify outbox.db`): every stored event in seq
//! order, the chain starts and gaps between them, the signed head at the end.

use std::path::Path;

use super::verify::{Problem, Signer, Walker};
use crate::outbox::store::chain::{self as stored, ChainEvent, GapRow, StartRow};

/// What a check of an outbox found.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    /// Problems, in chain order (none: the chain holds).
    pub problems: Vec<Problem>,
    /// Events checked.
    pub events: u64,
    /// Events stored before the chain started (not checkable).
    pub unchained: u64,
    /// Good signatures.
    pub signatures: u64,
    /// The key that signed (`ed25519:HEX`), and whether it was pinned by the caller.
    pub key: Option<String>,
    /// The gateway the chain names.
    pub gateway: Option<String>,
}

/// The signer recorded in the outbox (`ed25519:HEX GATEWAY`), or `pinned` (`HEX` or
/// `ed25519:HEX`) with the recorded gateway.
fn signer(recorded: Option<&str>, pinned: Option<&str>) -> Result<Option<Signer>, String> {
    let (recorded_key, gateway) = match recorded.and_then(|r| r.split_once(' ')) {
        Some((key, gateway)) => (Some(key), Some(gateway)),
        None => (None, None),
    };
    let key = pinned.or(recorded_key);
    let Some(key) = key else {
        return Ok(None);
    };
    let Some(gateway) = gateway else {
        return Err("the outbox records no gateway id for its chain: was it ever written by a daemon with a key?".into());
    };
    let (algorithm, public) = crate::outbox::signing::key::split_public(key);
    Ok(Some(Signer {
        gateway: gateway.to_string(),
        algorithm: algorithm.to_string(),
        public_key: public.to_string(),
    }))
}

/// Checks the outbox at `path`; `pinned` is the public key it must be signed with (else the
/// key the file records, which an editor of the file could have replaced: say so).
pub fn verify(path: &Path, pinned: Option<&str>) -> Result<Report, String> {
    let conn = crate::outbox::store::open_for_reading(path)
        .map_err(|e| format!("cannot open {} as an outbox: {e}", path.display()))?;
    // One read transaction: a daemon committing meanwhile cannot move the head past the
    // events read.
    let conn = conn
        .unchecked_transaction()
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let records = stored::records(&conn).map_err(|e| {
        format!(
            "{}: no hash chain can be read ({e}); an outbox from before schema 6?",
            path.display()
        )
    })?;
    let signer = signer(records.key.as_deref(), pinned)?;
    let mut walker = Walker::new(signer.clone());
    let mut starts = records.starts.iter().peekable();
    let mut gaps = records.gaps.iter().peekable();
    // Starts and gaps come before the first event after them; a start before a gap at the
    // same place.
    let mut before = |walker: &mut Walker, seq: i64| loop {
        let start_due = starts.peek().is_some_and(|s| s.after_seq < seq);
        let gap_due = gaps.peek().is_some_and(|g| g.first <= seq);
        match (start_due, gap_due) {
            (true, true)
                if starts.peek().expect("due").after_seq + 1 > gaps.peek().expect("due").first =>
            {
                gap(walker, gaps.next().expect("due"))
            }
            (true, _) => start(walker, starts.next().expect("due")),
            (false, true) => gap(walker, gaps.next().expect("due")),
            (false, false) => return,
        }
    };
    stored::each_event(&conn, i64::MIN, i64::MAX, |e: ChainEvent| {
        before(&mut walker, e.seq);
        walker.event(
            &format!("outbox seq {}", e.seq),
            e.seq,
            e.body.as_bytes(),
            e.link,
        );
        Ok(())
    })?;
    before(&mut walker, i64::MAX);
    match &records.head {
        Some(head) => {
            walker.head_signature(
                "outbox head",
                head.seq,
                head.link,
                head.signature.as_deref(),
            );
            walker.end("outbox head", head.seq, head.link);
        }
        None => walker.problems.push(Problem {
            place: "outbox head".into(),
            what: "the chain has no head: its record was deleted".into(),
        }),
    }
    let mut problems = walker.problems;
    if signer.is_none() {
        problems.insert(
            0,
            Problem {
                place: path.display().to_string(),
                what: "the chain is not signed (no gateway key recorded): edits that recompute the chain cannot be detected".into(),
            },
        );
    }
    Ok(Report {
        problems,
        events: walker.events,
        unchained: walker.unchained,
        signatures: walker.signatures,
        key: signer
            .as_ref()
            .map(|s| format!("{}:{}", s.algorithm, s.public_key)),
        gateway: signer.map(|s| s.gateway),
    })
}

fn start(walker: &mut Walker, s: &StartRow) {
    walker.start(
        &format!("chain start after seq {}", s.after_seq),
        s.after_seq,
        s.link,
        &s.note,
        s.signature.as_deref(),
    );
}

fn gap(walker: &mut Walker, g: &GapRow) {
    walker.gap_record("", g);
}

#[cfg(test)]
mod tests {
    use rusqlite::params;

    use super::*;
    use crate::outbox::integrity::test_support::*;
    use crate::outbox::signing::key::GatewayKey;
    use crate::outbox::store::Store;

    fn places(report: &Report) -> Vec<String> {
        report
            .problems
            .iter()
            .map(|p| format!("{}: {}", p.place, p.what))
            .collect()
    }

    #[tokio::test]
    async fn the_chain_holds_across_pruning_and_restarts_and_breaks_where_edited() {
        let dir = tempfile::tempdir().unwrap();
        // Delivered events are deleted at once: every delivery leaves a gap.
        let cfg = config(dir.path(), 0, 1000);
        let (store, thread) = Store::open_signed(&cfg, Some(gateway_signer())).unwrap();
        append(&store, 0..20).await;
        store.mark_delivered(1, 5).await;
        store.mark_delivered(6, 8).await;
        store.flush().await;
        shutdown(store, thread).await;
        let report = verify(&cfg.path, None).unwrap();
        assert!(report.problems.is_empty(), "{:?}", places(&report));
        assert_eq!(report.events, 12);
        assert_eq!(report.gateway.as_deref(), Some("gw-field-1"));
        // start, one merged gap 1..=8, head
        assert_eq!(report.signatures, 3);

        // A restart, more events: one chain.
        let (store, thread) = Store::open_signed(&cfg, Some(gateway_signer())).unwrap();
        append(&store, 20..30).await;
        store.set_aside(25, "too large".into()).await;
        store.flush().await;
        shutdown(store, thread).await;
        let report = verify(&cfg.path, Some(&gateway_signer().key.public_hex())).unwrap();
        assert!(report.problems.is_empty(), "{:?}", places(&report));
        assert_eq!(report.events, 22);

        let conn = rusqlite::Connection::open(&cfg.path).unwrap();
        let body: String = conn
            .query_row("SELECT body FROM events WHERE seq = 12", [], |r| r.get(0))
            .unwrap();
        // An edited event: found at its seq.
        conn.execute(
            "UPDATE events SET body = ?1 WHERE seq = 12",
            params![body.replace("inspecting", "shipping")],
        )
        .unwrap();
        let report = verify(&cfg.path, None).unwrap();
        let found = places(&report);
        assert!(found[0].starts_with("outbox seq 12: "), "{found:?}");
        conn.execute("UPDATE events SET body = ?1 WHERE seq = 12", params![body])
            .unwrap();
        // A deleted event: found where it is missing.
        conn.execute("DELETE FROM events WHERE seq = 15", [])
            .unwrap();
        let report = verify(&cfg.path, None).unwrap();
        let found = places(&report);
        assert!(
            found[0].starts_with("outbox seq 16: events 15..=15 are missing"),
            "{found:?}"
        );
        // The newest events cut off: the signed head says more.
        conn.execute("DELETE FROM events WHERE seq >= 29", [])
            .unwrap();
        let report = verify(&cfg.path, None).unwrap();
        assert!(
            places(&report)
                .iter()
                .any(|p| p.contains("outbox head") && p.contains("ends at seq 28")),
            "{:?}",
            places(&report)
        );
        // Whoever recomputes the head without the key cannot sign it.
        conn.execute("UPDATE chain_head SET seq = 28", []).unwrap();
        let report = verify(&cfg.path, None).unwrap();
        assert!(
            places(&report).iter().any(|p| p.contains("bad signature")),
            "{:?}",
            places(&report)
        );
        // The chain's start record deleted: said, not taken for an outbox from before the
        // chain.
        conn.execute_batch("CREATE TEMP TABLE saved_starts AS SELECT * FROM chain_starts")
            .unwrap();
        conn.execute("DELETE FROM chain_starts", []).unwrap();
        let report = verify(&cfg.path, None).unwrap();
        assert!(
            places(&report)
                .iter()
                .any(|p| p.contains("the start record was deleted")),
            "{:?}",
            places(&report)
        );
        conn.execute_batch("INSERT INTO chain_starts SELECT * FROM saved_starts")
            .unwrap();
        // A forged key recorded in the file is caught by pinning the real one.
        let forged = GatewayKey::from_seed([9; 32]);
        let report = verify(&cfg.path, Some(&forged.public_hex())).unwrap();
        assert!(
            places(&report).iter().any(|p| p.contains("bad signature")),
            "{:?}",
            places(&report)
        );
    }

    #[tokio::test]
    async fn dropped_oldest_events_leave_a_signed_gap_and_an_upgraded_outbox_starts_a_chain() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(dir.path(), 600, 10);
        let (store, thread) = Store::open_signed(&cfg, Some(gateway_signer())).unwrap();
        append(&store, 0..25).await;
        store.flush().await;
        shutdown(store, thread).await;
        let report = verify(&cfg.path, None).unwrap();
        assert!(report.problems.is_empty(), "{:?}", places(&report));
        assert_eq!(report.events, 10);

        // An outbox whose chain records are gone (as one from before schema 6): a new start.
        let conn = rusqlite::Connection::open(&cfg.path).unwrap();
        conn.execute_batch(
            "DELETE FROM chain_head; DELETE FROM chain_starts; DELETE FROM chain_gaps; UPDATE events SET link = NULL;",
        )
        .unwrap();
        drop(conn);
        let (store, thread) = Store::open_signed(&cfg, Some(gateway_signer())).unwrap();
        append(&store, 25..28).await;
        store.flush().await;
        shutdown(store, thread).await;
        let report = verify(&cfg.path, None).unwrap();
        assert!(report.problems.is_empty(), "{:?}", places(&report));
        assert_eq!((report.events, report.unchained), (3, 7));
        let conn = rusqlite::Connection::open(&cfg.path).unwrap();
        let note: String = conn
            .query_row(
                "SELECT note FROM chain_starts ORDER BY seq DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(note.contains("upgraded"), "{note}");
    }
}

#[cfg(test)]
mod move_aside {
    use rusqlite::params;

    use super::*;
    use crate::outbox::integrity::test_support::*;
    use crate::outbox::store::Store;

    /// An unusable outbox moved aside: the fresh one's chain starts with a record saying so
    /// and why; events carried into it (as a salvage does) are linked into that chain; the
    /// result verifies, signed.
    #[tokio::test]
    async fn a_fresh_outbox_after_a_move_aside_starts_a_chain_that_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(dir.path(), 600, 1000);
        std::fs::write(&cfg.path, b"this is not an SQLite database, it is garbage").unwrap();
        let (store, thread) = Store::open_signed(&cfg, Some(gateway_signer())).unwrap();
        append(&store, 0..3).await;
        store.flush().await;
        shutdown(store, thread).await;
        let conn = rusqlite::Connection::open(&cfg.path).unwrap();
        let note: String = conn
            .query_row("SELECT note FROM chain_starts", [], |r| r.get(0))
            .unwrap();
        assert!(
            note.starts_with("the previous outbox was unusable (")
                && note.contains("moved aside as"),
            "{note}"
        );
        // Rows carried in without links, as a salvage inserts them, then linked.
        for n in 10..12 {
            let e = event(n);
            conn.execute(
                "INSERT INTO events (event_id, captured_at, device, body, bytes) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![e.event_id, e.captured_at_ms, &*e.device, e.body, e.body.len() as i64],
            )
            .unwrap();
        }
        crate::outbox::store::chain::link_unlinked(&conn).unwrap();
        drop(conn);
        // The next writer signs the head the salvage moved.
        let (store, thread) = Store::open_signed(&cfg, Some(gateway_signer())).unwrap();
        store.flush().await;
        shutdown(store, thread).await;
        let report = verify(&cfg.path, Some(&gateway_signer().key.public_hex())).unwrap();
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        assert_eq!(report.events, 5);
    }
}
