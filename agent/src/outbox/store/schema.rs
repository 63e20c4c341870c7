//! The outbox schema and its migrations, versioned with `PRAGMA user_version`.
//!
//! Migrations only ever append: version N is the state after the first N entries of
//! [`MIGRATIONS`]. Each runs in its own transaction together with the version bump, so a power
//! cut mid-migration leaves the previous version intact.

use rusqlite::Connection;

/// Schema version this build writes.
pub const LATEST: i64 = MIGRATIONS.len() as i64;

/// Schema steps, oldest first.
const MIGRATIONS: &[&str] = &[
    // 1: events in arrival order; delivered ones kept for a while for `events tail`.
    r#"
    CREATE TABLE events (
        -- Arrival order. AUTOINCREMENT: never reused, even after the newest rows are pruned,
        -- so publishing in seq order is publishing in capture order across restarts.
        seq          INTEGER PRIMARY KEY AUTOINCREMENT,
        event_id     TEXT    NOT NULL,
        captured_at  INTEGER NOT NULL,           -- Unix ms, wall clock at capture
        device       TEXT    NOT NULL,
        body         TEXT    NOT NULL,           -- the event as published (JSON)
        bytes        INTEGER NOT NULL,           -- counted against store.max_bytes
        delivered_at INTEGER                     -- Unix ms of the broker's PUBACK; NULL until then
    );
    CREATE INDEX events_undelivered ON events(seq) WHERE delivered_at IS NULL;
    CREATE INDEX events_delivered ON events(delivered_at) WHERE delivered_at IS NOT NULL;
    CREATE TABLE counters (
        name  TEXT PRIMARY KEY,
        value INTEGER NOT NULL
    ) WITHOUT ROWID;
    INSERT INTO counters(name, value) VALUES
        ('delivered_total', 0), ('refused_total', 0), ('dropped_total', 0);
    "#,
    // 2: small settings kept across restarts (business contexts changed by command, the
    // last time the clock was known good), and reads held while the clock is not synchronised.
    r#"
    CREATE TABLE settings (
        name  TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE held (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        device      TEXT    NOT NULL,
        boot_id     TEXT    NOT NULL,           -- /proc/sys/kernel/random/boot_id at the read
        boottime_ns INTEGER NOT NULL,           -- CLOCK_BOOTTIME at the read
        wall_ms     INTEGER NOT NULL,           -- the untrusted wall clock at the read
        draft       TEXT    NOT NULL,           -- the event; eventTime and eventID set on release
        bytes       INTEGER NOT NULL
    );
    "#,
    // 3: events that could not be published (larger than the uplink sends), moved out of the
    // way of the others: kept for `tracegate events set-aside`, counted, never deleted by
    // tracegate.
    r#"
    CREATE TABLE set_aside (
        seq          INTEGER PRIMARY KEY,        -- its seq in events
        event_id     TEXT    NOT NULL,
        captured_at  INTEGER NOT NULL,
        device       TEXT    NOT NULL,
        body         TEXT    NOT NULL,
        reason       TEXT    NOT NULL,
        set_aside_at INTEGER NOT NULL            -- Unix ms
    );
    INSERT INTO counters(name, value) VALUES
        ('set_aside_total', 0), ('salvaged_total', 0), ('lost_total', 0);
    "#,
    // 4: the durable print queue (see print_jobs.rs): one row per job, found by its
    // requester's idempotency key, so a resubmission is never printed again.
    r#"
    CREATE TABLE print_jobs (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        key          TEXT    NOT NULL UNIQUE,     -- the requester's idempotency key
        device       TEXT    NOT NULL,            -- the printer
        template     TEXT    NOT NULL,
        vars         TEXT    NOT NULL,            -- JSON object
        copies       INTEGER NOT NULL,
        data         BLOB    NOT NULL,            -- the rendered job, as sent
        state        TEXT    NOT NULL,            -- submitted, sent, confirmed, failed, unknown, voided
        reason       TEXT,
        reprints     INTEGER NOT NULL DEFAULT 0,
        submitted_at INTEGER NOT NULL,            -- Unix ms
        updated_at   INTEGER NOT NULL
    );
    CREATE INDEX print_jobs_open ON print_jobs(device, state, id)
        WHERE state IN ('submitted', 'sent', 'unknown');
    "#,
    // 5: the GS1 data each label's symbols carry (JSON array of bracketed element strings),
    // from which its commissioning or decommissioning event is built when it settles.
    r#"
    ALTER TABLE print_jobs ADD COLUMN gs1 TEXT NOT NULL DEFAULT '[]';
    "#,
    // 6: the hash chain (see chain.rs): each event's link, SHA-256 over the previous link and
    // its body; where a chain starts and why; the stretches deleted once delivered (gaps)
    // with the link they ended on; the newest link. Starts, gaps and the head are signed by
    // the gateway's key.
    r#"
    ALTER TABLE events ADD COLUMN link BLOB;          -- NULL for events stored before the chain
    ALTER TABLE set_aside ADD COLUMN link BLOB;
    CREATE TABLE chain_starts (
        seq       INTEGER PRIMARY KEY,                -- the chain starts after this event
        link      BLOB    NOT NULL,                   -- its genesis link
        note      TEXT    NOT NULL,                   -- why it starts
        at        INTEGER NOT NULL,                   -- Unix ms
        signature BLOB
    );
    CREATE TABLE chain_gaps (
        first_seq INTEGER PRIMARY KEY,
        last_seq  INTEGER NOT NULL,
        end_link  BLOB    NOT NULL,                   -- the link of event last_seq
        signature BLOB
    );
    CREATE TABLE chain_head (
        id        INTEGER PRIMARY KEY CHECK (id = 1),
        seq       INTEGER NOT NULL,
        link      BLOB    NOT NULL,
        at        INTEGER NOT NULL,
        signature BLOB
    );
    "#,
    // 7: events imported from another gateway's export (`tracegate import`): the gateway they
    // came from (published under its id), and every imported eventID, so a second import of
    // the same stick adds nothing.
    r#"
    ALTER TABLE events ADD COLUMN origin TEXT;        -- NULL: captured here
    ALTER TABLE set_aside ADD COLUMN origin TEXT;
    CREATE TABLE imported (
        event_id TEXT    PRIMARY KEY,
        origin   TEXT    NOT NULL,
        at       INTEGER NOT NULL                     -- Unix ms
    ) WITHOUT ROWID;
    "#,
    // 8: events written to an export (`tracegate export`): when, and how many ever.
    r#"
    ALTER TABLE events ADD COLUMN exported_at INTEGER;    -- Unix ms; NULL: never exported
    INSERT INTO counters(name, value) VALUES ('exported_total', 0);
    "#,
];

/// Why a database cannot be brought to the latest schema.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// Written by a newer tracegate.
    #[error("schema version {found} is newer than this tracegate understands ({LATEST})")]
    TooNew {
        /// The version in the file.
        found: i64,
    },
    /// SQLite failed.
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
}

/// The schema version stored in the file (0 for a new file).
pub fn version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
}

/// Applies every migration the file has not seen yet.
pub fn migrate(conn: &mut Connection) -> Result<(), SchemaError> {
    let found = version(conn)?;
    if found > LATEST {
        return Err(SchemaError::TooNew { found });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", index as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_a_new_file_and_is_idempotent() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        assert_eq!(version(&conn).unwrap(), LATEST);
        migrate(&mut conn).unwrap();
        let n: i64 = conn
            .query_row("SELECT count(*) FROM counters", [], |r| r.get(0))
            .unwrap();
        assert_eq!(
            n, 7,
            "delivered, refused, dropped, set aside, salvaged, lost, exported"
        );
        for table in [
            "settings",
            "held",
            "set_aside",
            "print_jobs",
            "chain_starts",
            "chain_gaps",
            "chain_head",
            "imported",
        ] {
            let n: i64 = conn
                .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
                .unwrap();
            assert_eq!(n, 0, "{table}");
        }
    }

    #[test]
    fn upgrades_a_version_1_file_keeping_its_events() {
        let mut conn = Connection::open_in_memory().unwrap();
        let tx = conn.transaction().unwrap();
        tx.execute_batch(MIGRATIONS[0]).unwrap();
        tx.pragma_update(None, "user_version", 1).unwrap();
        tx.execute(
            "INSERT INTO events (event_id, captured_at, device, body, bytes) VALUES ('e', 1, 'd', '{}', 2)",
            [],
        )
        .unwrap();
        tx.commit().unwrap();
        migrate(&mut conn).unwrap();
        assert_eq!(version(&conn).unwrap(), LATEST);
        let n: i64 = conn
            .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
    }

    #[test]
    fn refuses_a_newer_schema() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", LATEST + 1)
            .unwrap();
        assert!(matches!(
            migrate(&mut conn),
            Err(SchemaError::TooNew { .. })
        ));
    }
}
