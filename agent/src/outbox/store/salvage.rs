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
//!        └─ error ──▶ one seq at a time (WHERE seq = s: a range would step into the next,
//!                    damaged page); a failing seq is counted unreadable
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
    let columns = "SELECT seq, event_id, captured_at, device, body, bytes, delivered_at \
                   FROM events NOT INDEXED";
    let range_sql = format!("{columns} WHERE seq BETWEEN ?1 AND ?2 ORDER BY seq");
    // One row by equality, never by a range: a range scan steps past its last row to see
    // that the range has ended, and that step walks into the damaged page after it — the
    // last good row before a damaged stretch was lost that way.
    let one_sql = format!("{columns} WHERE seq = ?1");
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
            .prepare_cached(&range_sql)
            .and_then(|mut s| s.query_map(params![first, last], row)?.collect());
        match range {
            Ok(rows) => salvage.events.extend(rows),
            Err(_) => {
                for seq in first..=last {
                    match conn
                        .prepare_cached(&one_sql)
                        .and_then(|mut s| s.query_map(params![seq], row)?.collect())
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
    // By equality, one id at a time (see read_events).
    let sql = "SELECT device, boot_id, boottime_ns, wall_ms, draft, bytes \
               FROM held NOT INDEXED WHERE id = ?1";
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
            s.query_map(params![id], row)?
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Seek, SeekFrom, Write};

    const EVENTS: i64 = 1500;

    /// An outbox of `EVENTS` ~400-byte events, checkpointed into the main file.
    fn outbox(path: &std::path::Path) {
        let mut conn = Connection::open(path).unwrap();
        crate::outbox::store::schema::migrate(&mut conn).unwrap();
        let tx = conn.transaction().unwrap();
        for i in 0..EVENTS {
            tx.execute(
                "INSERT INTO events (event_id, captured_at, device, body, bytes) \
                 VALUES (?1, ?2, 'd', ?3, 400)",
                params![format!("ni:///sha-256;{i:064}"), i, "x".repeat(380)],
            )
            .unwrap();
        }
        tx.commit().unwrap();
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .unwrap();
    }

    /// Every seq a point query can still read: what salvage must carry.
    fn readable_one_by_one(conn: &Connection) -> Vec<i64> {
        (1..=EVENTS)
            .filter(|s| {
                conn.query_row("SELECT seq, body FROM events WHERE seq = ?1", [s], |r| {
                    r.get::<_, i64>(0)
                })
                .is_ok()
            })
            .collect()
    }

    fn salvage_after(damage: impl FnOnce(&mut std::fs::File, u64)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outbox.db");
        outbox(&path);
        let len = std::fs::metadata(&path).unwrap().len();
        let mut file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        damage(&mut file, len);
        file.sync_all().unwrap();
        drop(file);
        let conn = open(&path).unwrap();
        let salvage = read(&conn);
        let got: Vec<i64> = salvage.events.iter().map(|e| e.seq).collect();
        let readable = readable_one_by_one(&conn);
        assert!(readable.len() < EVENTS as usize, "the damage spoils rows");
        assert_eq!(got, readable, "every row that can be read is carried");
        assert_eq!(
            got.len() as u64 + salvage.unreadable,
            EVENTS as u64,
            "and every other one is counted unreadable"
        );
    }

    #[test]
    fn random_bytes_in_the_middle_cost_only_the_rows_they_hit() {
        // 64 KiB of noise (a fixed LCG) in the middle of the file. The row just before the
        // damaged stretch used to be lost: a range read of it stepped into the next page.
        for shift in 0..3u64 {
            salvage_after(|file, len| {
                let mut x = 0x9E37_79B9_7F4A_7C15u64.wrapping_add(shift);
                let noise: Vec<u8> = (0..65536)
                    .map(|_| {
                        x = x
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        (x >> 33) as u8
                    })
                    .collect();
                file.seek(SeekFrom::Start(len / 2 - 4096 * shift)).unwrap();
                file.write_all(&noise).unwrap();
            });
        }
    }

    #[test]
    fn zeroed_page_headers_cost_only_their_pages() {
        for shift in 0..3u64 {
            salvage_after(|file, _| {
                for k in 0..8u64 {
                    file.seek(SeekFrom::Start((20 + k * 13 + shift * 7) * 4096))
                        .unwrap();
                    file.write_all(&[0u8; 12]).unwrap();
                }
            });
        }
    }
}
