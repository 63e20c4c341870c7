//! Read connections on the outbox: what the publisher sends next, what `events tail` shows,
//! and the queue figures `status` reports when the daemon is not running.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};

use super::{HeldRow, open};

/// One undelivered event, as the publisher needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxRow {
    /// Outbox position.
    pub seq: i64,
    /// The event JSON, exactly as stored.
    pub body: String,
    /// The gateway an imported event came from (none: captured here).
    pub origin: Option<String>,
}

/// One event with its bookkeeping, for `events tail` and tests.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    /// Outbox position.
    pub seq: i64,
    /// Deterministic event id.
    pub event_id: String,
    /// Capture time, Unix ms.
    pub captured_at_ms: i64,
    /// Device id.
    pub device: String,
    /// Event JSON.
    pub body: String,
    /// When the broker acknowledged it, Unix ms.
    pub delivered_at_ms: Option<i64>,
}

/// Queue figures computed from the file itself.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueueCounts {
    /// Events awaiting acknowledgement (held reads included).
    pub undelivered: u64,
    /// Reads held until the clock is synchronised.
    pub held: u64,
    /// Events in the file.
    pub stored_events: u64,
    /// Their counted bytes.
    pub stored_bytes: u64,
    /// Persisted counter.
    pub delivered_total: u64,
    /// Persisted counter.
    pub refused_total: u64,
    /// Persisted counter.
    pub dropped_total: u64,
    /// Persisted counter.
    pub set_aside_total: u64,
    /// Persisted counter.
    pub salvaged_total: u64,
    /// Persisted counter.
    pub lost_total: u64,
    /// Persisted counter (0 in files from before schema 8).
    pub exported_total: u64,
}

/// An event set aside because it could not be published.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SetAsideRow {
    /// Its seq in the outbox.
    pub seq: i64,
    /// Its eventID.
    pub event_id: String,
    /// Capture time, Unix ms.
    pub captured_at: i64,
    /// The device that read it.
    pub device: String,
    /// Why it was set aside.
    pub reason: String,
    /// When, Unix ms.
    pub set_aside_at: i64,
    /// The event as stored (JSON).
    pub body: String,
}

/// A read-only connection on an outbox file.
#[derive(Debug)]
pub struct OutboxReader {
    conn: Connection,
    path: PathBuf,
}

impl OutboxReader {
    /// Settings whose name starts with `prefix`, as (name, value).
    pub fn settings_with_prefix(
        &mut self,
        prefix: &str,
    ) -> rusqlite::Result<Vec<(String, String)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT name, value FROM settings WHERE substr(name, 1, length(?1)) = ?1",
        )?;
        let rows = stmt.query_map(params![prefix], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect()
    }

    /// One setting.
    pub fn setting(&mut self, name: &str) -> rusqlite::Result<Option<String>> {
        self.conn
            .query_row(
                "SELECT value FROM settings WHERE name = ?1",
                params![name],
                |r| r.get(0),
            )
            .optional()
    }

    /// Opens an existing outbox read-only.
    pub fn open(path: &Path) -> rusqlite::Result<Self> {
        Ok(OutboxReader {
            conn: open::open_for_reading(path)?,
            path: path.to_path_buf(),
        })
    }

    /// Undelivered events after `after_seq`, in order: at most `max_events`, and no more than
    /// `max_bytes` of bodies (but always at least one event, however large).
    pub fn undelivered_after(
        &mut self,
        after_seq: i64,
        max_events: usize,
        max_bytes: usize,
    ) -> rusqlite::Result<Vec<OutboxRow>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, body, origin FROM events WHERE delivered_at IS NULL AND seq > ?1 ORDER BY seq LIMIT ?2",
        )?;
        let mut rows = stmt.query(params![after_seq, max_events as i64])?;
        let mut out: Vec<OutboxRow> = Vec::new();
        let mut bytes = 0usize;
        while let Some(row) = rows.next()? {
            let body: String = row.get(1)?;
            let origin: Option<String> = row.get(2)?;
            // One batch, one gateway: imported events go out under their own gateway's topic.
            if !out.is_empty() && (bytes + body.len() > max_bytes || out[0].origin != origin) {
                break;
            }
            bytes += body.len();
            out.push(OutboxRow {
                seq: row.get(0)?,
                body,
                origin,
            });
        }
        Ok(out)
    }

    /// Every event set aside, oldest first (none in files from before schema 3).
    pub fn set_aside(&mut self) -> rusqlite::Result<Vec<SetAsideRow>> {
        let Ok(mut stmt) = self.conn.prepare(
            "SELECT seq, event_id, captured_at, device, reason, set_aside_at, body FROM set_aside ORDER BY seq",
        ) else {
            return Ok(Vec::new());
        };
        stmt.query_map([], |r| {
            Ok(SetAsideRow {
                seq: r.get(0)?,
                event_id: r.get(1)?,
                captured_at: r.get(2)?,
                device: r.get(3)?,
                reason: r.get(4)?,
                set_aside_at: r.get(5)?,
                body: r.get(6)?,
            })
        })?
        .collect()
    }

    /// Held reads after `after_id`, in hold order, at most `limit`.
    pub fn held_after(&mut self, after_id: i64, limit: usize) -> rusqlite::Result<Vec<HeldRow>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, device, boot_id, boottime_ns, wall_ms, draft FROM held WHERE id > ?1 ORDER BY id LIMIT ?2",
        )?;
        stmt.query_map(params![after_id, limit as i64], |r| {
            Ok(HeldRow {
                id: r.get(0)?,
                device: r.get(1)?,
                boot_id: r.get(2)?,
                boottime_ns: r.get(3)?,
                wall_ms: r.get(4)?,
                draft: r.get(5)?,
            })
        })?
        .collect()
    }

    /// The untrusted wall time (Unix ms) of the oldest held read.
    pub fn oldest_held_ms(&mut self) -> rusqlite::Result<Option<i64>> {
        self.conn
            .prepare_cached("SELECT wall_ms FROM held ORDER BY id LIMIT 1")?
            .query_row([], |r| r.get(0))
            .optional()
    }

    /// Capture time (Unix ms) of the oldest undelivered event.
    pub fn oldest_undelivered_ms(&mut self) -> rusqlite::Result<Option<i64>> {
        self.conn
            .prepare_cached(
                "SELECT captured_at FROM events WHERE delivered_at IS NULL ORDER BY seq LIMIT 1",
            )?
            .query_row([], |r| r.get(0))
            .optional()
    }

    /// Size of the database on disk: the main file plus its write-ahead log.
    pub fn db_bytes(&mut self) -> rusqlite::Result<u64> {
        let pages: i64 = self.conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
        let page_size: i64 = self.conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
        let mut wal = self.path.as_os_str().to_owned();
        wal.push("-wal");
        let wal_bytes = std::fs::metadata(PathBuf::from(wal))
            .map(|m| m.len())
            .unwrap_or(0);
        Ok((pages * page_size) as u64 + wal_bytes)
    }

    /// Counts from the file (a full scan of the undelivered index: for the CLI, not hot paths).
    pub fn counts(&mut self) -> rusqlite::Result<QueueCounts> {
        let (stored, bytes, undelivered): (i64, i64, i64) = self.conn.query_row(
            "SELECT count(*), coalesce(sum(bytes), 0), coalesce(sum(delivered_at IS NULL), 0) FROM events",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let counter = |name: &str| -> rusqlite::Result<u64> {
            self.conn
                .query_row("SELECT value FROM counters WHERE name = ?1", [name], |r| {
                    r.get::<_, i64>(0)
                })
                .optional()
                .map(|v| v.unwrap_or(0) as u64)
        };
        // Files from before schema 2 have no held reads.
        let (held, held_bytes): (i64, i64) = self
            .conn
            .query_row(
                "SELECT count(*), coalesce(sum(bytes), 0) FROM held",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap_or((0, 0));
        Ok(QueueCounts {
            undelivered: (undelivered + held) as u64,
            held: held as u64,
            stored_events: (stored + held) as u64,
            stored_bytes: (bytes + held_bytes) as u64,
            delivered_total: counter("delivered_total")?,
            refused_total: counter("refused_total")?,
            dropped_total: counter("dropped_total")?,
            set_aside_total: counter("set_aside_total")?,
            salvaged_total: counter("salvaged_total")?,
            lost_total: counter("lost_total")?,
            exported_total: counter("exported_total")?,
        })
    }

    /// The newest `n` events (only undelivered ones if asked), oldest first.
    pub fn tail(&mut self, n: usize, undelivered_only: bool) -> rusqlite::Result<Vec<EventRow>> {
        let sql = if undelivered_only {
            "SELECT seq, event_id, captured_at, device, body, delivered_at FROM events \
             WHERE delivered_at IS NULL ORDER BY seq DESC LIMIT ?1"
        } else {
            "SELECT seq, event_id, captured_at, device, body, delivered_at FROM events ORDER BY seq DESC LIMIT ?1"
        };
        let mut rows = self.select_rows(sql, params![n as i64])?;
        rows.reverse();
        Ok(rows)
    }

    /// Events after `seq`, oldest first, at most `limit` (for following the outbox).
    pub fn after(
        &mut self,
        seq: i64,
        limit: usize,
        undelivered_only: bool,
    ) -> rusqlite::Result<Vec<EventRow>> {
        let sql = if undelivered_only {
            "SELECT seq, event_id, captured_at, device, body, delivered_at FROM events \
             WHERE seq > ?1 AND delivered_at IS NULL ORDER BY seq LIMIT ?2"
        } else {
            "SELECT seq, event_id, captured_at, device, body, delivered_at FROM events \
             WHERE seq > ?1 ORDER BY seq LIMIT ?2"
        };
        self.select_rows(sql, params![seq, limit as i64])
    }

    fn select_rows(
        &mut self,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> rusqlite::Result<Vec<EventRow>> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        let rows = stmt.query_map(params, |r| {
            Ok(EventRow {
                seq: r.get(0)?,
                event_id: r.get(1)?,
                captured_at_ms: r.get(2)?,
                device: r.get(3)?,
                body: r.get(4)?,
                delivered_at_ms: r.get(5)?,
            })
        })?;
        rows.collect()
    }
}
