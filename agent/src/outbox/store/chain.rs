//! The outbox's hash chain in the database (schema version 6), kept by the outbox writer in
//! its transactions (the links themselves: `crate::outbox::signing::chain`).
//!
//! ```text
//!  open: chain_head? ── none ──▶ start(after the newest seq, "new outbox" / "upgraded")
//!   │                             (a file moved aside: the fresh outbox starts "moved aside: why")
//!   ▼
//!  insert event ──▶ link = SHA-256(head ‖ body), stored with the row; head = (seq, link)
//!  delete events (pruned once delivered, dropped by when_full) ──▶ gap (first, last, end
//!                   link), merged with a neighbouring gap, signed
//!  set aside ──▶ the row moves to set_aside with its link (still in the chain)
//!  commit ──▶ chain_head = (seq, link), signed          (a failed commit restores the head)
//! ```
//!
//! Held reads get their link when they are released, in release order: their place in the
//! chain is where they were committed as events.

use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension, params};

use crate::outbox::signing::chain::{self, Link};
use crate::outbox::signing::key::GatewayKey;

/// Who signs the chain: the gateway's key and its id (named in every statement).
#[derive(Debug, Clone)]
pub struct ChainSigner {
    /// The key.
    pub key: GatewayKey,
    /// The gateway id (`[gateway] id`).
    pub gateway: String,
}

/// The writer's view of the chain: its head, and who signs.
#[derive(Debug, Clone)]
pub(super) struct Chain {
    head_seq: i64,
    head: Link,
    changed: bool,
    signer: Option<Arc<ChainSigner>>,
}

/// The head as it was before a batch, to restore when the batch's commit fails.
#[derive(Debug, Clone, Copy)]
pub(super) struct Saved {
    head_seq: i64,
    head: Link,
    changed: bool,
}

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// The newest seq the outbox ever handed out (events, set aside, or since deleted).
fn last_seq(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row(
        "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0)",
        [],
        |r| r.get(0),
    )
}

/// Starts a chain after the newest event, because of `note` (unsigned until the writer signs
/// it at start).
pub fn start(conn: &Connection, note: &str) -> rusqlite::Result<()> {
    let after = last_seq(conn)?;
    let link = chain::genesis(note);
    let at = now_ms();
    conn.execute(
        "INSERT OR REPLACE INTO chain_starts (seq, link, note, at, signature) VALUES (?1, ?2, ?3, ?4, NULL)",
        params![after, &link[..], note, at],
    )?;
    conn.execute(
        "INSERT OR REPLACE INTO chain_head (id, seq, link, at, signature) VALUES (1, ?1, ?2, ?3, NULL)",
        params![after, &link[..], at],
    )?;
    Ok(())
}

impl Chain {
    /// The chain of `conn`'s outbox, started when it has none; chain starts not yet signed
    /// are signed now.
    pub(super) fn load(
        conn: &Connection,
        signer: Option<Arc<ChainSigner>>,
    ) -> rusqlite::Result<Chain> {
        let head: Option<(i64, Vec<u8>, bool)> = conn
            .query_row(
                "SELECT seq, link, signature IS NOT NULL FROM chain_head WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let head = head.and_then(|(s, l, signed)| Some((s, chain::link_from(&l)?, signed)));
        let (head_seq, head, changed) = match head {
            // An unsigned head (a salvage, an upgrade) is signed at the first commit.
            Some((seq, link, signed)) => (seq, link, !signed && signer.is_some()),
            None => {
                let last = last_seq(conn)?;
                let note = if last == 0 {
                    "new outbox".to_string()
                } else {
                    format!(
                        "outbox upgraded to schema 6: events up to {last} were stored before the chain"
                    )
                };
                start(conn, &note)?;
                (last, chain::genesis(&note), true)
            }
        };
        if let Some(signer) = &signer {
            record_key(conn, signer)?;
        }
        let chain = Chain {
            head_seq,
            head,
            changed,
            signer,
        };
        chain.sign_starts(conn)?;
        Ok(chain)
    }

    fn sign_starts(&self, conn: &Connection) -> rusqlite::Result<()> {
        let Some(signer) = &self.signer else {
            return Ok(());
        };
        let unsigned: Vec<(i64, Vec<u8>, String)> = conn
            .prepare("SELECT seq, link, note FROM chain_starts WHERE signature IS NULL")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<rusqlite::Result<_>>()?;
        for (seq, link, note) in unsigned {
            let Some(link) = chain::link_from(&link) else {
                continue;
            };
            let signature =
                signer
                    .key
                    .sign(&chain::start_statement(&signer.gateway, seq, &link, &note));
            conn.execute(
                "UPDATE chain_starts SET signature = ?2 WHERE seq = ?1",
                params![seq, signature],
            )?;
        }
        Ok(())
    }

    /// Who signs.
    pub(super) fn signer(&self) -> Option<Arc<ChainSigner>> {
        self.signer.clone()
    }

    /// The link of the next event, stored as `body`; the head moves to it once `appended`.
    pub(super) fn link(&mut self, body: &str) -> Link {
        self.head = chain::next(&self.head, body.as_bytes());
        self.changed = true;
        self.head
    }

    /// The event just linked got `seq`.
    pub(super) fn appended(&mut self, seq: i64) {
        self.head_seq = seq;
    }

    /// The head before a batch.
    pub(super) fn save_point(&self) -> Saved {
        Saved {
            head_seq: self.head_seq,
            head: self.head,
            changed: self.changed,
        }
    }

    /// Back to `saved` (the batch's commit failed).
    pub(super) fn restore(&mut self, saved: Saved) {
        self.head_seq = saved.head_seq;
        self.head = saved.head;
        self.changed = saved.changed;
    }

    /// Records deleted events (`seq`, stored link) as gaps: each run of consecutive seqs
    /// becomes one gap, merged with a gap it touches, and signed. Events stored before the
    /// chain (no link) leave no gap.
    pub(super) fn deleted(
        &self,
        tx: &Connection,
        mut rows: Vec<(i64, Option<Vec<u8>>)>,
    ) -> rusqlite::Result<()> {
        rows.retain(|(_, link)| link.is_some());
        rows.sort_by_key(|(seq, _)| *seq);
        let mut i = 0;
        while i < rows.len() {
            let first = rows[i].0;
            let mut j = i;
            while j + 1 < rows.len() && rows[j + 1].0 == rows[j].0 + 1 {
                j += 1;
            }
            let (last, end) = (&rows[j].0, &rows[j].1);
            if let Some(end) = end.as_deref().and_then(chain::link_from) {
                self.gap(tx, first, *last, end)?;
            }
            i = j + 1;
        }
        Ok(())
    }

    fn gap(&self, tx: &Connection, first: i64, last: i64, end: Link) -> rusqlite::Result<()> {
        let before: Option<i64> = tx
            .prepare_cached("SELECT first_seq FROM chain_gaps WHERE last_seq = ?1")?
            .query_row(params![first - 1], |r| r.get(0))
            .optional()?;
        let after: Option<(i64, Vec<u8>)> = tx
            .prepare_cached("SELECT last_seq, end_link FROM chain_gaps WHERE first_seq = ?1")?
            .query_row(params![last + 1], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let first = before.unwrap_or(first);
        let (last, end) = match after.and_then(|(l, e)| Some((l, chain::link_from(&e)?))) {
            Some((l, e)) => (l, e),
            None => (last, end),
        };
        tx.prepare_cached("DELETE FROM chain_gaps WHERE first_seq BETWEEN ?1 AND ?2")?
            .execute(params![first, last])?;
        let signature = self.signer.as_ref().map(|s| {
            s.key
                .sign(&chain::gap_statement(&s.gateway, first, last, &end))
        });
        tx.prepare_cached(
            "INSERT INTO chain_gaps (first_seq, last_seq, end_link, signature) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![first, last, &end[..], signature])?;
        Ok(())
    }

    /// Writes the head (signed) when it moved.
    pub(super) fn save(&mut self, tx: &Connection) -> rusqlite::Result<()> {
        if !self.changed {
            return Ok(());
        }
        let signature = self.signer.as_ref().map(|s| {
            s.key.sign(&chain::head_statement(
                &s.gateway,
                self.head_seq,
                &self.head,
            ))
        });
        tx.prepare_cached(
            "UPDATE chain_head SET seq = ?1, link = ?2, at = ?3, signature = ?4 WHERE id = 1",
        )?
        .execute(params![self.head_seq, &self.head[..], now_ms(), signature])?;
        self.changed = false;
        Ok(())
    }
}

/// Links the events stored without a link after the head (carried over by a salvage), in
/// seq order, and moves the head to the last of them (signed at the writer's first commit).
pub fn link_unlinked(tx: &Connection) -> rusqlite::Result<()> {
    let Some((head_seq, head)) = tx
        .query_row("SELECT seq, link FROM chain_head WHERE id = 1", [], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
        })
        .optional()?
    else {
        return Ok(());
    };
    let Some(mut link) = chain::link_from(&head) else {
        return Ok(());
    };
    let rows: Vec<(i64, String)> = tx
        .prepare("SELECT seq, body FROM events WHERE link IS NULL AND seq > ?1 ORDER BY seq")?
        .query_map(params![head_seq], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut last = head_seq;
    for (seq, body) in rows {
        link = chain::next(&link, body.as_bytes());
        tx.execute(
            "UPDATE events SET link = ?2 WHERE seq = ?1",
            params![seq, &link[..]],
        )?;
        last = seq;
    }
    tx.execute(
        "UPDATE chain_head SET seq = ?1, link = ?2, signature = NULL WHERE id = 1",
        params![last, &link[..]],
    )?;
    Ok(())
}

/// A chain start as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartRow {
    /// The chain starts after this seq.
    pub after_seq: i64,
    /// Its genesis link.
    pub link: Link,
    /// Why it starts.
    pub note: String,
    /// The gateway's signature.
    pub signature: Option<Vec<u8>>,
}

/// A gap as stored: events `first..=last` deleted, the last with `end`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GapRow {
    /// First deleted seq.
    pub first: i64,
    /// Last deleted seq.
    pub last: i64,
    /// The link of event `last`.
    #[serde(with = "hex_link")]
    pub end: Link,
    /// The gateway's signature (hex in JSON).
    #[serde(with = "hex_opt")]
    pub signature: Option<Vec<u8>>,
}

/// The signed head as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeadRow {
    /// The newest seq.
    pub seq: i64,
    /// Its link.
    pub link: Link,
    /// The gateway's signature.
    pub signature: Option<Vec<u8>>,
}

/// The chain's bookkeeping, read at once (small: starts and gaps are few).
#[derive(Debug, Clone, Default)]
pub struct ChainRecords {
    /// Starts, by seq.
    pub starts: Vec<StartRow>,
    /// Gaps, by first seq.
    pub gaps: Vec<GapRow>,
    /// The head.
    pub head: Option<HeadRow>,
    /// The signing key and gateway the daemon recorded (`ed25519:HEX GATEWAY`).
    pub key: Option<String>,
}

/// Reads the chain's starts, gaps, head and recorded key.
pub fn records(conn: &Connection) -> rusqlite::Result<ChainRecords> {
    let starts = conn
        .prepare("SELECT seq, link, note, signature FROM chain_starts ORDER BY seq")?
        .query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get(2)?,
                r.get(3)?,
            ))
        })?
        .filter_map(|row| {
            row.map(|(after_seq, link, note, signature)| {
                Some(StartRow {
                    after_seq,
                    link: chain::link_from(&link)?,
                    note,
                    signature,
                })
            })
            .transpose()
        })
        .collect::<rusqlite::Result<_>>()?;
    let gaps = conn
        .prepare(
            "SELECT first_seq, last_seq, end_link, signature FROM chain_gaps ORDER BY first_seq",
        )?
        .query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, Vec<u8>>(2)?,
                r.get(3)?,
            ))
        })?
        .filter_map(|row| {
            row.map(|(first, last, end, signature)| {
                Some(GapRow {
                    first,
                    last,
                    end: chain::link_from(&end)?,
                    signature,
                })
            })
            .transpose()
        })
        .collect::<rusqlite::Result<_>>()?;
    let head = conn
        .query_row(
            "SELECT seq, link, signature FROM chain_head WHERE id = 1",
            [],
            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?, r.get(2)?)),
        )
        .optional()?
        .and_then(|(seq, link, signature)| {
            Some(HeadRow {
                seq,
                link: chain::link_from(&link)?,
                signature,
            })
        });
    let key = conn
        .query_row(
            "SELECT value FROM settings WHERE name = 'chain_key'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    Ok(ChainRecords {
        starts,
        gaps,
        head,
        key,
    })
}

/// One stored event of the chain (from `events` or `set_aside`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainEvent {
    /// Its seq.
    pub seq: i64,
    /// The event as stored.
    pub body: String,
    /// Its stored link (none before the chain).
    pub link: Option<Link>,
}

/// Calls `visit` with every stored event with `first <= seq <= last`, in seq order.
pub fn each_event(
    conn: &Connection,
    first: i64,
    last: i64,
    mut visit: impl FnMut(ChainEvent) -> Result<(), String>,
) -> Result<(), String> {
    let mut stmt = conn
        .prepare(
            "SELECT seq, body, link FROM events WHERE seq BETWEEN ?1 AND ?2 \
             UNION ALL SELECT seq, body, link FROM set_aside WHERE seq BETWEEN ?1 AND ?2 ORDER BY seq",
        )
        .map_err(|e| e.to_string())?;
    let mut rows = stmt
        .query(params![first, last])
        .map_err(|e| e.to_string())?;
    while let Some(row) = rows
        .next()
        .map_err(|e| format!("reading the outbox: {e}"))?
    {
        let link: Option<Vec<u8>> = row.get(2).map_err(|e| e.to_string())?;
        visit(ChainEvent {
            seq: row.get(0).map_err(|e| e.to_string())?,
            body: row.get(1).map_err(|e| e.to_string())?,
            link: link.as_deref().and_then(chain::link_from),
        })?;
    }
    Ok(())
}

/// Records the signing key and gateway in the outbox, so a verifier finds them with the file.
pub(super) fn record_key(conn: &Connection, signer: &ChainSigner) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO settings(name, value) VALUES ('chain_key', ?1) \
         ON CONFLICT(name) DO UPDATE SET value = excluded.value",
        params![format!(
            "{}:{} {}",
            signer.key.algorithm(),
            signer.key.public_hex(),
            signer.gateway
        )],
    )?;
    Ok(())
}

mod hex_link {
    use super::Link;
    pub fn serialize<S: serde::Serializer>(link: &Link, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(link))
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Link, D::Error> {
        let text: String = serde::Deserialize::deserialize(d)?;
        hex::decode(&text)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| serde::de::Error::custom("a link is 32 bytes of hex"))
    }
}

mod hex_opt {
    pub fn serialize<S: serde::Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(bytes) => s.serialize_some(&hex::encode(bytes)),
            None => s.serialize_none(),
        }
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Vec<u8>>, D::Error> {
        let text: Option<String> = serde::Deserialize::deserialize(d)?;
        text.map(|t| hex::decode(t).map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// The oldest stored event (`undelivered`: the oldest not yet delivered, set-aside events
/// included); `None` when there is none.
pub fn first_seq(conn: &Connection, undelivered: bool) -> rusqlite::Result<Option<i64>> {
    let sql = if undelivered {
        "SELECT min(seq) FROM (SELECT min(seq) AS seq FROM events WHERE delivered_at IS NULL \
         UNION ALL SELECT min(seq) FROM set_aside)"
    } else {
        "SELECT min(seq) FROM (SELECT min(seq) AS seq FROM events UNION ALL SELECT min(seq) FROM set_aside)"
    };
    conn.query_row(sql, [], |r| r.get(0))
}
