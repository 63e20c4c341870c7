//! Reading what can still be read from a damaged outbox, row by row.
//!
//! A corrupt page usually spoils a few rows, not the file: SQLite refuses a query that walks
//! into the bad page, but rows on good pages read fine when asked for by their seq. So the
//! events table is read in seq ranges through its rowid b-tree alone (`NOT INDEXED`: an index
//! may be what is damaged), and a range that fails is read again one seq at a time, skipping
//! the seqs that fail. Used when a file is moved aside (its undelivered events and held reads
//! are carried into the fresh outbox; their eventIDs make any duplicate harmless) and by
//! `tracegate events tail --db` on a damaged file.
//!
//! ```text
//!  upper bound: sqlite_sequence, else max(seq), else give up
//!  for each range of RANGE seqs:  SELECT … WHERE seq BETWEEN a AND b
//!        └─ error ──▶ one seq at a time; a failing seq is counted unreadable
//! ```

use rusqlite::{Connection, OpenFlags, params};

/// Seqs read per query while the file reads cleanly.
const RANGE: i64 = 512;

/// An event row as read from a damaged file.
#[derive(Debug, Clone, PartialEq)]
pub struct SalvagedEvent {
    /// Its seq in the damaged file.
    pub seq: i64,
    /// Its eventID.
    pub event_id: String,
    /// Capture time, Unix ms.
    pub captured_at: i64,
    /// The device that read it.
    pub device: String,
    /// The event JSON.
    pub body: String,
    /// Its counted bytes.
    pub bytes: i64,
    /// When the broker acknowledged it, Unix ms.
    pub delivered_at: Option<i64>,
}

/// A held read as read from a damaged file (columns of the `held` table, in order).
#[derive(Debug, Clone, PartialEq)]
pub struct SalvagedHeld {
    /// Device.
    pub device: String,
    /// Boot id.
    pub boot_id: String,
    /// `CLOCK_BOOTTIME` at the read, ns.
    pub boottime_ns: i64,
    /// Untrusted wall clock, Unix ms.
    pub wall_ms: i64,
    /// The event draft.
    pub draft: String,
    /// Counted bytes.
    pub bytes: i64,
}

/// What could be read.
#[derive(Debug, Default)]
pub struct Salvage {
    /// Event rows read, in seq order.
    pub events: Vec<SalvagedEvent>,
    /// Held reads read, in hold order.
    pub held: Vec<SalvagedHeld>,
    /// Seqs (or held ids) that exist but could not be read, or ranges that could not be
    /// probed at all.
    pub unreadable: u64,
    /// Why nothing at all could be read, if so.
    pub failed: Option<String>,
}

impl Salvage {
    /// Undelivered events read.
    pub fn undelivered(&self) -> impl Iterator<Item = &SalvagedEvent> {
        self.events.iter().filter(|e| e.delivered_at.is_none())
    }
}

/// Opens a damaged file for salvage, never creating one. Read-write so that SQLite can use
/// the file's write-ahead log (it replays up to the first bad frame); `query_only` so that
/// salvage itself never writes.
pub fn open(path: &std::path::Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "query_only", true)?;
    Ok(conn)
}

/// Reads every event and held read that can still be read from `conn`.
pub fn read(conn: &Connection) -> Salvage {
    let mut salvage = Salvage::default();
    read_events(conn, &mut salvage);
    read_held(conn, &mut salvage);
    salvage
}

fn upper_bound(conn: &Connection, table: &str, key: &str) -> Option<i64> {
    let sequence = conn
        .query_row(
            "SELECT seq FROM sqlite_sequence WHERE name = ?1",
            [table],
            |r| r.get::<_, i64>(0),
        )
        .ok();
    sequence.or_else(|| {
        conn.query_row(&format!("SELECT max({key}) FROM {table}"), [], |r| {
            r.get::<_, Option<i64>>(0)
        })
        .ok()
        .flatten()
    })
}

fn read_events(conn: &Connection, salvage: &mut Salvage) {
    let Some(upper) = upper_bound(conn, "events", "seq") else {
        salvage.failed = Some("the events table cannot be read at all".into());
        return;
    };
    let sql = "SELECT seq, event_id, captured_at, device, body, bytes, delivered_at \
               FROM events NOT INDEXED WHERE seq BETWEEN ?1 AND ?2 ORDER BY seq";
    let row = |r: &rusqlite::Row<'_>| {
        Ok(SalvagedEvent {
            seq: r.get(0)?,
            event_id: r.get(1)?,
            captured_at: r.get(2)?,
            device: r.get(3)?,
            body: r.get(4)?,
            bytes: r.get(5)?,
            delivered_at: r.get(6)?,
        })
    };
    let mut first = 1;
    while first <= upper {
        let last = first.saturating_add(RANGE - 1).min(upper);
        let range: rusqlite::Result<Vec<SalvagedEvent>> = conn
            .prepare_cached(sql)
            .and_then(|mut s| s.query_map(params![first, last], row)?.collect());
        match range {
            Ok(rows) => salvage.events.extend(rows),
            Err(_) => {
                for seq in first..=last {
                    match conn
                        .prepare_cached(sql)
                        .and_then(|mut s| s.query_map(params![seq, seq], row)?.collect())
                    {
                        Ok(rows) => salvage.events.extend::<Vec<_>>(rows),
                        Err(_) => salvage.unreadable += 1,
                    }
                }
            }
        }
        first = last + 1;
    }
}

fn read_held(conn: &Connection, salvage: &mut Salvage) {
    let Some(upper) = upper_bound(conn, "held", "id") else {
        return; // none, or a file from before held reads
    };
    let sql = "SELECT device, boot_id, boottime_ns, wall_ms, draft, bytes \
               FROM held NOT INDEXED WHERE id BETWEEN ?1 AND ?2 ORDER BY id";
    let row = |r: &rusqlite::Row<'_>| {
        Ok(SalvagedHeld {
            device: r.get(0)?,
            boot_id: r.get(1)?,
            boottime_ns: r.get(2)?,
            wall_ms: r.get(3)?,
            draft: r.get(4)?,
            bytes: r.get(5)?,
        })
    };
    for id in 1..=upper {
        match conn.prepare_cached(sql).and_then(|mut s| {
            s.query_map(params![id, id], row)?
                .collect::<Result<Vec<_>, _>>()
        }) {
            Ok(rows) => salvage.held.extend(rows),
            Err(_) => salvage.unreadable += 1,
        }
    }
}

/// Carries the undelivered events and held reads of `salvage` into the fresh outbox `conn`,
/// in their order, in one transaction. Returns (events, held reads) carried.
pub fn carry_into(conn: &mut Connection, salvage: &Salvage) -> rusqlite::Result<(u64, u64)> {
    let tx = conn.transaction()?;
    let mut events = 0;
    for e in salvage.undelivered() {
        tx.prepare_cached(
            "INSERT INTO events (event_id, captured_at, device, body, bytes) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![e.event_id, e.captured_at, e.device, e.body, e.bytes])?;
        events += 1;
    }
    let mut held = 0;
    for h in &salvage.held {
        tx.prepare_cached(
            "INSERT INTO held (device, boot_id, boottime_ns, wall_ms, draft, bytes) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![
            h.device,
            h.boot_id,
            h.boottime_ns,
            h.wall_ms,
            h.draft,
            h.bytes
        ])?;
        held += 1;
    }
    super::chain::link_unlinked(&tx)?;
    tx.commit()?;
    Ok((events, held))
}
