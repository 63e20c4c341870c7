//! Opening the outbox file: pragmas, integrity, migrations, the single-writer lock, and moving
//! an unusable file aside so capture can continue in a fresh one.

use std::fs::File;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, ErrorCode, OpenFlags};

use super::salvage;
use super::schema::{self, SchemaError};

/// Why the outbox cannot be opened at all (as opposed to a file that is moved aside).
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Another tracegate holds the outbox.
    #[error(
        "{path} is in use by another tracegate process (lock file {lock}); stop it first, or give this one its own store.path"
    )]
    Locked {
        /// The database path.
        path: PathBuf,
        /// The lock file.
        lock: PathBuf,
    },
    /// The directory or file cannot be created, read or written.
    #[error(
        "cannot open the outbox {path}: {cause}. Check that the directory exists and is writable by the tracegate user (store.path)"
    )]
    Io {
        /// The database path.
        path: PathBuf,
        /// The OS error.
        cause: std::io::Error,
    },
    /// The outbox's directory does not exist and cannot be made.
    #[error(
        "cannot create the store directory {dir}: {cause}; create it (owned by the tracegate user) or set store.path to a directory that can be created"
    )]
    CreateDirectory {
        /// The directory.
        dir: PathBuf,
        /// The OS error.
        cause: std::io::Error,
    },
    /// The outbox's directory exists but this process cannot write in it.
    #[error(
        "the store directory {dir} is not writable by this user: {cause}; make it writable by the tracegate user (chown / chmod) or set store.path elsewhere"
    )]
    NotWritable {
        /// The directory.
        dir: PathBuf,
        /// The OS error.
        cause: std::io::Error,
    },
    /// SQLite refused for a reason that moving the file aside would not fix (permissions, disk).
    #[error("cannot open the outbox {path}: {cause}")]
    Sqlite {
        /// The database path.
        path: PathBuf,
        /// SQLite's error.
        cause: rusqlite::Error,
    },
}

/// The lock that keeps a second daemon off the same outbox. Released when dropped (or when the
/// process dies, as it is an OS file lock).
#[derive(Debug)]
pub struct OutboxLock {
    _file: File,
}

/// Takes the exclusive lock `{path}.lock`.
pub fn lock(path: &Path) -> Result<OutboxLock, OpenError> {
    create_parent(path)?;
    let lock_path = sidecar(path, ".lock");
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|source| OpenError::Io {
            path: path.to_path_buf(),
            cause: source,
        })?;
    match file.try_lock() {
        Ok(()) => Ok(OutboxLock { _file: file }),
        Err(std::fs::TryLockError::WouldBlock) => Err(OpenError::Locked {
            path: path.to_path_buf(),
            lock: lock_path,
        }),
        Err(std::fs::TryLockError::Error(source)) => Err(OpenError::Io {
            path: path.to_path_buf(),
            cause: source,
        }),
    }
}

/// Opens (creating if needed) the outbox for writing. A file that is not a usable outbox —
/// corrupt, not SQLite at all, or written by a newer schema — is renamed to
/// `{path}.unusable-{UTC timestamp}` (with its `-wal`/`-shm`), reported loudly, and a fresh
/// outbox is created in its place: capture must go on.
pub fn open_for_writing(path: &Path, quick_check: bool) -> Result<Connection, OpenError> {
    create_parent(path)?;
    match try_open(path, quick_check) {
        Ok(conn) => Ok(conn),
        Err(Attempt::Fatal(source)) => Err(OpenError::Sqlite {
            path: path.to_path_buf(),
            cause: source,
        }),
        Err(Attempt::Unusable(reason)) => replace_unusable(path, &reason),
    }
}

/// Moves an unusable outbox aside (loudly) and opens a fresh one in its place. Used at open,
/// and by the writer when the file turns out corrupt at run time.
pub fn replace_unusable(path: &Path, reason: &str) -> Result<Connection, OpenError> {
    let moved = quarantine(path).map_err(|source| OpenError::Io {
        path: path.to_path_buf(),
        cause: source,
    })?;
    // The fresh outbox numbers its events afresh; what was lost is counted by the salvage.
    super::high_water::reset(path);
    tracing::error!(
        outbox = %path.display(),
        moved_to = %moved.display(),
        "OUTBOX UNUSABLE ({reason}): moved aside, capture continues in a fresh outbox; \
         salvaging what can still be read"
    );
    let mut conn = try_open(path, false).map_err(|a| match a {
        Attempt::Fatal(source) => OpenError::Sqlite {
            path: path.to_path_buf(),
            cause: source,
        },
        Attempt::Unusable(reason) => OpenError::Io {
            path: path.to_path_buf(),
            cause: std::io::Error::other(format!("fresh outbox unusable: {reason}")),
        },
    })?;
    // The fresh outbox's chain says why it starts; what is salvaged is linked into it.
    super::chain::start(
        &conn,
        &format!(
            "the previous outbox was unusable ({reason}) and was moved aside as {}",
            moved.display()
        ),
    )
    .map_err(|cause| OpenError::Sqlite {
        path: path.to_path_buf(),
        cause,
    })?;
    salvage_into(&moved, &mut conn);
    Ok(conn)
}

/// Carries what can still be read from the moved file `moved` into the fresh outbox, and
/// says how much, loudly; counted in the fresh outbox's `salvaged_total` / `lost_total`.
fn salvage_into(moved: &Path, conn: &mut Connection) {
    let found = match salvage::open(moved) {
        Ok(old) => salvage::read(&old),
        Err(e) => salvage::Salvage {
            failed: Some(e.to_string()),
            ..salvage::Salvage::default()
        },
    };
    let (events, held) = match salvage::carry_into(conn, &found) {
        Ok(carried) => carried,
        Err(e) => {
            tracing::error!("salvage could not write to the fresh outbox: {e}");
            (0, 0)
        }
    };
    let lost = found.unreadable;
    let _ = conn.execute(
        "UPDATE counters SET value = value + ?2 WHERE name = ?1",
        rusqlite::params!["salvaged_total", (events + held) as i64],
    );
    let _ = conn.execute(
        "UPDATE counters SET value = value + ?2 WHERE name = ?1",
        rusqlite::params!["lost_total", lost as i64],
    );
    match &found.failed {
        Some(why) if events + held == 0 => tracing::error!(
            moved_to = %moved.display(),
            "SALVAGE FOUND NOTHING in the moved outbox ({why}); its undelivered events are LOST \
             unless a specialist can recover them from the file"
        ),
        _ => tracing::error!(
            moved_to = %moved.display(),
            salvaged_events = events,
            salvaged_held = held,
            unreadable_rows = lost,
            "SALVAGED {events} undelivered events and {held} held reads from the moved outbox \
             into the fresh one (they are published as usual; a duplicate has the same eventID); \
             {lost} rows could not be read and are LOST. The moved file stays for inspection: \
             `tracegate events tail --db {}`",
            moved.display()
        ),
    }
}

fn create_parent(path: &Path) -> Result<(), OpenError> {
    match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => std::fs::create_dir_all(dir).map_err(|source| OpenError::Io {
            path: path.to_path_buf(),
            cause: source,
        }),
        None => Ok(()),
    }
}

/// Makes the directory of the outbox at `path` ready before anything is written in it: created
/// when absent (mode `0750`, parents too), then proven writable by creating and removing a
/// probe file — so a first start on a fresh machine works, and a directory the tracegate user
/// cannot write in is named as such instead of surfacing as SQLite's "unable to open".
/// A directory made by systemd (`StateDirectory=`, the .deb's `/var/lib/tracegate`) is used as
/// it is.
pub fn prepare_directory(path: &Path) -> Result<(), OpenError> {
    use std::os::unix::fs::DirBuilderExt;
    let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) else {
        return Ok(());
    };
    if !dir.is_dir() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o750)
            .create(dir)
            .map_err(|cause| OpenError::CreateDirectory {
                dir: dir.to_path_buf(),
                cause,
            })?;
        tracing::info!(dir = %dir.display(), "created the store directory");
    }
    let probe = dir.join(format!(".tracegate-write-probe-{}", std::process::id()));
    File::options()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&probe)
        .map_err(|cause| OpenError::NotWritable {
            dir: dir.to_path_buf(),
            cause,
        })?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Opens an existing outbox for reading only (CLI tools, the publisher's reader).
pub fn open_for_reading(path: &Path) -> rusqlite::Result<Connection> {
    // Read-write flags without CREATE: a WAL database needs its -shm file even for readers,
    // and query_only keeps this connection from ever writing.
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "query_only", true)?;
    // Readers scan forward through recent pages once: a small page cache does, where
    // SQLite's default (2 MiB per connection) would fill with a large backlog and stay.
    conn.pragma_update(None, "cache_size", READER_CACHE_KIB)?;
    Ok(conn)
}

/// Page cache of a reading connection, KiB, as SQLite's negative `cache_size` says it.
const READER_CACHE_KIB: i64 = -256;

/// Page cache of the writer, KiB: appends touch the tail of the table and its indexes, and
/// delivery marks the oldest undelivered rows; 1 MiB holds both, and SQLite's default
/// (2 MiB) would grow the daemon's memory with the backlog for nothing.
const WRITER_CACHE_KIB: i64 = -1024;

enum Attempt {
    /// The file is not a usable outbox; moving it aside will help.
    Unusable(String),
    /// Something moving the file would not fix.
    Fatal(rusqlite::Error),
}

fn classify(e: rusqlite::Error) -> Attempt {
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => {
            Attempt::Unusable(e.to_string())
        }
        _ => Attempt::Fatal(e),
    }
}

fn try_open(path: &Path, quick_check: bool) -> Result<Connection, Attempt> {
    let mut conn = Connection::open(path).map_err(classify)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(Attempt::Fatal)?;
    // WAL: readers (publisher, CLI) never block the writer. synchronous=FULL: a commit is on
    // stable storage when it returns, which is what "captured" promises the operator.
    let mode: String = conn
        .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
        .map_err(classify)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(Attempt::Fatal(rusqlite::Error::InvalidParameterName(
            format!(
                "journal_mode stayed {mode}; WAL needs a file system with shared memory support"
            ),
        )));
    }
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(classify)?;
    // Keep the WAL from staying large after a burst (SD card space).
    conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)
        .map_err(classify)?;
    conn.pragma_update(None, "cache_size", WRITER_CACHE_KIB)
        .map_err(classify)?;
    let version = schema::version(&conn).map_err(classify)?;
    if quick_check && version > 0 {
        let verdict: String = conn
            .query_row("PRAGMA quick_check(1)", [], |r| r.get(0))
            .map_err(classify)?;
        if verdict != "ok" {
            return Err(Attempt::Unusable(format!("quick_check: {verdict}")));
        }
    }
    match schema::migrate(&mut conn) {
        Ok(()) => Ok(conn),
        Err(SchemaError::TooNew { found }) => Err(Attempt::Unusable(format!(
            "schema version {found} was written by a newer tracegate; this one writes {}",
            schema::LATEST
        ))),
        Err(SchemaError::Sqlite(e)) => Err(classify(e)),
    }
}

/// `{path}{suffix}`: SQLite's own naming for -wal and -shm.
fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Renames the database and its -wal/-shm to `{path}.unusable-{timestamp}`, keeping them
/// together so the moved copy still opens with its last transactions.
fn quarantine(path: &Path) -> std::io::Result<PathBuf> {
    let stamp = jiff::Timestamp::now()
        .strftime("%Y%m%dT%H%M%SZ")
        .to_string();
    let mut target = sidecar(path, &format!(".unusable-{stamp}"));
    let mut n = 1;
    while target.exists() {
        target = sidecar(path, &format!(".unusable-{stamp}-{n}"));
        n += 1;
    }
    for suffix in ["-wal", "-shm"] {
        let from = sidecar(path, suffix);
        if from.exists() {
            std::fs::rename(&from, sidecar(&target, suffix))?;
        }
    }
    std::fs::rename(path, &target)?;
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_file_is_moved_aside_and_a_fresh_outbox_created() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outbox.db");
        std::fs::write(&path, vec![0x5a; 8192]).unwrap();
        let conn = open_for_writing(&path, true).unwrap();
        assert_eq!(schema::version(&conn).unwrap(), schema::LATEST);
        let moved: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("outbox.db.unusable-"))
            .collect();
        assert_eq!(moved.len(), 1, "{moved:?}");
        assert_eq!(
            std::fs::read(dir.path().join(&moved[0])).unwrap(),
            vec![0x5a; 8192]
        );
    }

    #[test]
    fn newer_schema_is_moved_aside() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outbox.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.pragma_update(None, "user_version", schema::LATEST + 5)
                .unwrap();
        }
        let conn = open_for_writing(&path, false).unwrap();
        assert_eq!(schema::version(&conn).unwrap(), schema::LATEST);
    }

    #[test]
    fn second_lock_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outbox.db");
        let first = lock(&path).unwrap();
        assert!(matches!(lock(&path), Err(OpenError::Locked { .. })));
        drop(first);
        lock(&path).unwrap();
    }

    #[test]
    fn unwritable_directory_is_fatal_not_quarantined() {
        let err = open_for_writing(Path::new("/proc/tracegate/outbox.db"), true).unwrap_err();
        assert!(matches!(err, OpenError::Io { .. }), "{err}");
    }
}
