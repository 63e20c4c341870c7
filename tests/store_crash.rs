//! kill -9 of a process in the middle of writing the outbox, at many different instants: the
//! file opens cleanly afterwards, passes SQLite's integrity check, and holds every event whose
//! commit was acknowledged before the kill.
//!
//! The writer is this same test binary re-run as a child (selected by an environment
//! variable), printing each acknowledged seq on stdout.

mod support;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use support::target_command;
use tracegate::config::{StoreConfig, WhenFull};
use tracegate::outbox::store::{AppendOutcome, NewEvent, OutboxReader, Store};

const CHILD: &str = "TRACEGATE_STORE_CRASH_CHILD";

fn store_config(path: &std::path::Path) -> StoreConfig {
    StoreConfig {
        path: path.to_path_buf(),
        max_events: 1_000_000,
        max_bytes: bytesize::ByteSize::gib(1),
        when_full: WhenFull::RefuseNew,
        keep_delivered_s: 0,
        quick_check: true,
        wal_max_bytes: bytesize::ByteSize::mib(4),
    }
}

/// The child: append forever, acknowledge each commit on stdout, mark some delivered. Not a
/// test of its own (ignored in a normal run): the test below runs it as a child process.
#[tokio::test]
#[ignore = "the child process of the kill test below, which runs it with --ignored"]
async fn child_writer() {
    let Some(path) = std::env::var_os(CHILD) else {
        return;
    };
    let (store, _thread) = Store::open(&store_config(std::path::Path::new(&path))).unwrap();
    // One writer, no refusals: seq == n, so the delivered ranges below are known exactly.
    let mut n = store.stats().last_seq as u64;
    loop {
        let mut pending = Vec::new();
        for _ in 0..50 {
            n += 1;
            let event = NewEvent {
                event_id: format!("id-{n}"),
                captured_at_ms: n as i64,
                device: Arc::from("d"),
                body: format!("{{\"n\":{n},\"pad\":\"{}\"}}", "x".repeat(200)),
            };
            pending.push(store.append(event).await);
        }
        for p in pending {
            if let AppendOutcome::Committed { seq } = p.await {
                println!("{seq}");
            }
        }
        if n.is_multiple_of(500) {
            // Acknowledged (and, with keep_delivered_s = 0, deleted): seqs whose value
            // modulo 500 lies in 0..=250.
            store
                .mark_delivered((n - 500) as i64, (n - 250) as i64)
                .await;
        }
    }
}

#[test]
fn kill_minus_nine_at_any_instant_loses_no_acknowledged_commit() {
    if std::env::var_os(CHILD).is_some() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("outbox.db");
    let mut acknowledged: Vec<i64> = Vec::new();
    for round in 0..8u64 {
        let mut child = target_command(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "child_writer",
                "--ignored",
                "--nocapture",
                "--test-threads",
                "1",
            ])
            .env(CHILD, &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        // Kill after a different number of acknowledgements each round, so the kill lands at
        // different points of the commit cycle (mid-insert, mid-fsync, mid-checkpoint).
        let kill_after = 300 + round * 737;
        let mut lines = BufReader::new(stdout).lines();
        let mut seen = 0u64;
        while let Some(Ok(line)) = lines.next() {
            if let Ok(seq) = line.trim().parse::<i64>() {
                acknowledged.push(seq);
                seen += 1;
                if seen >= kill_after {
                    break;
                }
            }
        }
        std::thread::sleep(Duration::from_millis(round * 3));
        // SAFETY: kill(2) on our own child.
        unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
        let _ = child.wait();
        // Acknowledgements still in the pipe were made before the kill, so they count too.
        for line in lines.map_while(Result::ok) {
            if let Ok(seq) = line.trim().parse::<i64>() {
                acknowledged.push(seq);
            }
        }

        let conn = rusqlite::Connection::open(&path).unwrap();
        let check: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok", "round {round}");
        drop(conn);
        let mut reader = OutboxReader::open(&path).unwrap();
        let present: std::collections::HashSet<i64> = reader
            .tail(10_000_000, false)
            .unwrap()
            .iter()
            .map(|r| r.seq)
            .collect();
        // Delivered events are deleted at once (keep_delivered_s = 0): an acknowledged seq is
        // either still there or inside a range the writer marked delivered.
        let lost: Vec<i64> = acknowledged
            .iter()
            .copied()
            .filter(|s| !present.contains(s) && s % 500 > 250)
            .collect();
        assert!(
            lost.is_empty(),
            "round {round}: acknowledged events lost: {lost:?}"
        );
        assert!(
            present.len() > 100,
            "round {round}: the writer's backlog is there"
        );
    }
    assert!(acknowledged.len() > 8 * 300);
}
