//! The committed high-water mark: the highest seq ever committed, kept beside the outbox in
//! `{path}.seq`, where damage to the database or its write-ahead log cannot take it.
//!
//! SQLite recovers from a damaged WAL by discarding every frame from the first bad one on —
//! transactions that had been committed (and whose reads the operator heard confirmed)
//! vanish without a word. Written after each commit that assigned seqs (no fsync of its own:
//! it can only ever lag the database after a power cut, never lead it), the mark lets the
//! writer see at start that the database ends before the last commit it made, and say how
//! many committed events were lost.
//!
//! ```text
//!  commit ok (last_seq grew) ──▶ write mark = last_seq
//!  start: mark > database's last seq ──▶ LOST (mark − last seq) events, loudly, counted
//!  file moved aside as unusable ──▶ mark removed (the fresh outbox numbers afresh)
//! ```

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The mark's file for the outbox at `db`.
pub fn path_for(db: &Path) -> PathBuf {
    let mut s = db.as_os_str().to_owned();
    s.push(".seq");
    PathBuf::from(s)
}

/// The mark, if there is a readable one.
pub fn read(db: &Path) -> Option<i64> {
    let mut text = String::new();
    File::open(path_for(db))
        .ok()?
        .read_to_string(&mut text)
        .ok()?;
    text.trim().parse().ok()
}

/// Forgets the mark (the outbox was replaced).
pub fn reset(db: &Path) {
    let _ = std::fs::remove_file(path_for(db));
}

/// The open mark file, rewritten in place.
#[derive(Debug)]
pub struct HighWater {
    file: Option<File>,
    written: i64,
}

impl HighWater {
    /// Opens (creating) the mark of the outbox at `db`, currently `seq`.
    pub fn open(db: &Path, seq: i64) -> HighWater {
        let file = File::options()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(path_for(db));
        if let Err(e) = &file {
            tracing::warn!(
                "cannot keep the committed high-water mark beside the outbox: {e}; a damaged write-ahead log would go unnoticed"
            );
        }
        let mut mark = HighWater {
            file: file.ok(),
            written: -1,
        };
        mark.write(seq);
        mark
    }

    /// Records `seq` as committed (when it is new).
    pub fn write(&mut self, seq: i64) {
        if seq == self.written {
            return;
        }
        let Some(file) = &mut self.file else { return };
        // Fixed width: the file never needs truncating.
        let line = format!("{seq:020}\n");
        if file.seek(SeekFrom::Start(0)).is_ok() && file.write_all(line.as_bytes()).is_ok() {
            self.written = seq;
        }
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
        assert_eq!(read(&db), None);
    }
}
