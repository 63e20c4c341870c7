//! The committed high-water mark: the highest seq ever committed, kept beside the outbox in
//! `{path}.seq`, where damage to the database or its write-ahead log cannot take it.
//!
//! SQLite recovers from a damaged WAL by discarding every frame from the first bad one on —
//! transactions that had been committed (and whose reads the operator heard confirmed)
//! vanish without a word. Written after each commit that assigned seqs, the mark lets the
//! writer see at start that the database ends before the last commit it made, and say how
//! many committed events were lost.
//!
//! The mark must survive what it is there to detect, a power cut included, yet never lead the
//! database. It is written only after a commit is durable (so it cannot lead), and made
//! durable itself: created with its directory synced, then fsynced at most once a second
//! while commits flow (on an SD card a sync per commit would double the writes for nothing)
//! and when the outbox closes. After a power cut it lags the database by at most the last
//! second of commits; losses below it are found, losses above it — frames committed in that
//! last second and then damaged — are not. A mark that is missing or unreadable while the
//! outbox holds events is said loudly at start: a loss before it cannot be ruled out.
//!
//! ```text
//!  open: create ──▶ write last_seq ──▶ fsync file, fsync directory
//!  commit ok (last_seq grew) ──▶ write mark = last_seq ──▶ fsync if ≥ 1 s since the last
//!  close ──▶ fsync
//!  start: mark > database's last seq ──▶ LOST (mark − last seq) events, loudly, counted
//!  start: no readable mark, outbox not empty ──▶ said: a loss cannot be ruled out
//!  file moved aside as unusable ──▶ mark reset to 0 (the fresh outbox numbers afresh)
//! ```

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Longest the mark on disk lags the one written while commits flow.
pub const SYNC_INTERVAL: Duration = Duration::from_secs(1);

/// The mark's file for the outbox at `db`.
pub fn path_for(db: &Path) -> PathBuf {
    let mut s = db.as_os_str().to_owned();
    s.push(".seq");
    PathBuf::from(s)
}

/// What is on disk beside an outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mark {
    /// No mark file.
    Absent,
    /// A file that holds no mark (empty or damaged: a power cut before it was ever synced).
    Unreadable,
    /// The highest seq committed.
    At(i64),
}

/// The mark beside the outbox at `db`.
pub fn read_mark(db: &Path) -> Mark {
    let mut text = String::new();
    match File::open(path_for(db)) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Mark::Absent,
        Err(_) => Mark::Unreadable,
        Ok(mut file) => match file.read_to_string(&mut text) {
            Ok(_) => text.trim().parse().map_or(Mark::Unreadable, Mark::At),
            Err(_) => Mark::Unreadable,
        },
    }
}

/// The mark, if there is a readable one.
pub fn read(db: &Path) -> Option<i64> {
    match read_mark(db) {
        Mark::At(seq) => Some(seq),
        Mark::Absent | Mark::Unreadable => None,
    }
}

/// Starts the mark afresh at 0: the outbox was replaced by a fresh one that numbers its
/// events from the start (what the old one lost is counted by the salvage). Not removed: a
/// missing mark beside a non-empty outbox means a loss cannot be ruled out.
pub fn reset(db: &Path) {
    let _ = std::fs::write(path_for(db), format!("{:020}\n", 0));
}

/// The open mark file, rewritten in place.
#[derive(Debug)]
pub struct HighWater {
    file: Option<File>,
    written: i64,
    /// The last value fsynced, and when.
    synced: i64,
    synced_at: Instant,
}

impl HighWater {
    /// Opens (creating) the mark of the outbox at `db`, currently `seq`, and makes it durable:
    /// the file, its value and its directory entry.
    pub fn open(db: &Path, seq: i64) -> HighWater {
        let path = path_for(db);
        let file = File::options()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path);
        if let Err(e) = &file {
            tracing::warn!(
                "cannot keep the committed high-water mark beside the outbox: {e}; a damaged write-ahead log would go unnoticed"
            );
        }
        let mut mark = HighWater {
            file: file.ok(),
            written: -1,
            synced: -1,
            synced_at: Instant::now(),
        };
        mark.write(seq);
        mark.sync();
        // The file's name must survive a power cut too.
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
            && let Err(e) = File::open(dir).and_then(|d| d.sync_all())
        {
            tracing::warn!(
                "cannot sync {} after making the high-water mark: {e}",
                dir.display()
            );
        }
        mark
    }

    /// Records `seq` as committed (when it is new); fsyncs when the last sync is
    /// [`SYNC_INTERVAL`] old.
    pub fn write(&mut self, seq: i64) {
        if seq != self.written {
            let Some(file) = &mut self.file else { return };
            // Fixed width: the file never needs truncating.
            let line = format!("{seq:020}\n");
            if file.seek(SeekFrom::Start(0)).is_ok() && file.write_all(line.as_bytes()).is_ok() {
                self.written = seq;
            }
        }
        if self.synced != self.written && self.synced_at.elapsed() >= SYNC_INTERVAL {
            self.sync();
        }
    }

    /// Makes the value written durable now (at open, and when the outbox closes).
    pub fn sync(&mut self) {
        if self.synced == self.written {
            return;
        }
        let Some(file) = &self.file else { return };
        match file.sync_data() {
            Ok(()) => {
                self.synced = self.written;
                self.synced_at = Instant::now();
            }
            Err(e) => tracing::warn!("cannot sync the committed high-water mark: {e}"),
        }
    }

    /// When the value written is due to be synced, if it is not yet.
    pub fn sync_due(&self) -> Option<Instant> {
        (self.file.is_some() && self.synced != self.written).then(|| self.synced_at + SYNC_INTERVAL)
    }

    /// The value last made durable (`-1` before the first sync).
    pub fn synced(&self) -> i64 {
        self.synced
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mark_follows_commits_and_is_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("outbox.db");
        assert_eq!(read(&db), None);
        let mut mark = HighWater::open(&db, 7);
        assert_eq!(read(&db), Some(7));
        mark.write(123_456);
        assert_eq!(read(&db), Some(123_456));
        reset(&db);
        assert_eq!(read(&db), Some(0));
    }

    #[test]
    fn the_mark_is_synced_at_open_then_at_most_once_a_second_and_on_demand() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("outbox.db");
        let mut mark = HighWater::open(&db, 7);
        assert_eq!(mark.synced(), 7, "durable from the start");
        mark.write(8);
        mark.write(9);
        assert_eq!(mark.synced(), 7, "not one sync per commit");
        assert!(
            mark.sync_due().is_some(),
            "a sync is due at the interval's end"
        );
        assert_eq!(read(&db), Some(9), "but written at once");
        mark.synced_at -= SYNC_INTERVAL;
        mark.write(10);
        assert_eq!(mark.synced(), 10, "synced once the interval has passed");
        mark.write(11);
        mark.sync();
        assert_eq!(mark.synced(), 11, "and when the outbox closes");
        assert_eq!(
            mark.sync_due(),
            None,
            "nothing to sync: the writer may sleep"
        );
    }

    #[test]
    fn a_missing_or_damaged_mark_is_told_apart() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("outbox.db");
        assert_eq!(read_mark(&db), Mark::Absent);
        std::fs::write(path_for(&db), b"").unwrap();
        assert_eq!(
            read_mark(&db),
            Mark::Unreadable,
            "empty, as a power cut leaves it"
        );
        std::fs::write(path_for(&db), b"\0\0\0").unwrap();
        assert_eq!(read_mark(&db), Mark::Unreadable);
        std::fs::write(path_for(&db), b"00000000000000000042\n").unwrap();
        assert_eq!(read_mark(&db), Mark::At(42));
    }
}
