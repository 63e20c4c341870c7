use super::*;
use crate::config::StoreConfig;

fn config(dir: &Path, max_events: u64, when_full: WhenFull) -> StoreConfig {
    StoreConfig {
        path: dir.join("outbox.db"),
        max_events,
        max_bytes: bytesize::ByteSize::mib(64),
        when_full,
        keep_delivered_s: 600,
        quick_check: true,
        wal_max_bytes: bytesize::ByteSize::mib(4),
    }
}

fn event(n: u32) -> NewEvent {
    NewEvent {
        event_id: format!("ni:///sha-256;{n:064x}"),
        captured_at_ms: 1_700_000_000_000 + n as i64,
        device: Arc::from("scanner-1"),
        body: format!("{{\"n\":{n}}}"),
    }
}

async fn append_all(store: &Store, range: std::ops::Range<u32>) -> Vec<AppendOutcome> {
    let mut pending = Vec::new();
    for n in range {
        pending.push(store.append(event(n)).await);
    }
    let mut out = Vec::new();
    for p in pending {
        out.push(p.await);
    }
    out
}

async fn shutdown(store: Store, thread: StoreThread) {
    store.close().await;
    drop(store);
    tokio::task::spawn_blocking(move || thread.join())
        .await
        .unwrap();
}

#[tokio::test]
async fn appends_commit_in_arrival_order_and_group_commit() {
    let dir = tempfile::tempdir().unwrap();
    let (store, thread) = Store::open(&config(dir.path(), 1000, WhenFull::RefuseNew)).unwrap();
    let outcomes = append_all(&store, 0..500).await;
    let seqs: Vec<i64> = outcomes
        .iter()
        .map(|o| match o {
            AppendOutcome::Committed { seq } => *seq,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(seqs, (1..=500).collect::<Vec<_>>());
    let stats = store.stats();
    assert_eq!(stats.undelivered, 500);
    assert!(
        stats.commits_total < 500,
        "group commit: {} commits for 500 events",
        stats.commits_total
    );
    let mut reader = store.reader().unwrap();
    let rows = reader.undelivered_after(0, 1000, usize::MAX).unwrap();
    assert_eq!(rows.len(), 500);
    assert_eq!(rows[0].body, "{\"n\":0}");
    shutdown(store, thread).await;
}

#[tokio::test]
async fn delivered_events_are_marked_counted_and_survive_restart() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 1000, WhenFull::RefuseNew);
    let (store, thread) = Store::open(&cfg).unwrap();
    append_all(&store, 0..10).await;
    store.mark_delivered(1, 4).await;
    store.flush().await;
    assert_eq!(store.stats().undelivered, 6);
    assert_eq!(store.stats().delivered_total, 4);
    // Marking again changes nothing (a duplicate PUBACK after a resend).
    store.mark_delivered(1, 4).await;
    store.flush().await;
    assert_eq!(store.stats().delivered_total, 4);
    shutdown(store, thread).await;

    let (store, thread) = Store::open(&cfg).unwrap();
    let stats = store.stats();
    assert_eq!(
        (
            stats.undelivered,
            stats.delivered_total,
            stats.stored_events
        ),
        (6, 4, 10)
    );
    let mut reader = store.reader().unwrap();
    assert_eq!(
        reader.undelivered_after(0, 100, usize::MAX).unwrap()[0].seq,
        5
    );
    let tail = reader.tail(10, false).unwrap();
    assert!(tail[3].delivered_at_ms.is_some() && tail[4].delivered_at_ms.is_none());
    assert_eq!(reader.tail(100, true).unwrap().len(), 6);
    // New events continue the sequence.
    assert_eq!(
        append_all(&store, 10..11).await,
        vec![AppendOutcome::Committed { seq: 11 }]
    );
    shutdown(store, thread).await;
}

#[tokio::test]
async fn refuse_new_keeps_the_old_events_and_counts_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 3, WhenFull::RefuseNew);
    let (store, thread) = Store::open(&cfg).unwrap();
    let outcomes = append_all(&store, 0..5).await;
    assert_eq!(outcomes[3], AppendOutcome::Refused);
    assert_eq!(outcomes[4], AppendOutcome::Refused);
    let stats = store.stats();
    assert_eq!(
        (stats.undelivered, stats.refused_total, stats.dropped_total),
        (3, 2, 0)
    );
    assert!(stats.full);
    // Delivered events make room again.
    store.mark_delivered(1, 1).await;
    assert!(matches!(
        append_all(&store, 5..6).await[0],
        AppendOutcome::Committed { .. }
    ));
    shutdown(store, thread).await;
    let mut reader = OutboxReader::open(&cfg.path).unwrap();
    assert_eq!(
        reader.counts().unwrap().refused_total,
        2,
        "refusals are persisted"
    );
}

#[tokio::test]
async fn drop_oldest_deletes_oldest_undelivered_and_counts_drops() {
    let dir = tempfile::tempdir().unwrap();
    let (store, thread) = Store::open(&config(dir.path(), 3, WhenFull::DropOldest)).unwrap();
    let outcomes = append_all(&store, 0..5).await;
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, AppendOutcome::Committed { .. }))
    );
    let stats = store.stats();
    assert_eq!(
        (stats.undelivered, stats.refused_total, stats.dropped_total),
        (3, 0, 2)
    );
    let mut reader = store.reader().unwrap();
    let seqs: Vec<i64> = reader
        .undelivered_after(0, 10, usize::MAX)
        .unwrap()
        .iter()
        .map(|r| r.seq)
        .collect();
    assert_eq!(seqs, vec![3, 4, 5]);
    shutdown(store, thread).await;
}

#[tokio::test]
async fn byte_bound_applies_and_delivered_events_go_first() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), 1000, WhenFull::RefuseNew);
    let one = event(0).stored_bytes();
    cfg.max_bytes = bytesize::ByteSize::b(one * 4);
    let (store, thread) = Store::open(&cfg).unwrap();
    append_all(&store, 0..4).await;
    assert_eq!(append_all(&store, 4..5).await[0], AppendOutcome::Refused);
    store.mark_delivered(1, 2).await;
    let outcomes = append_all(&store, 5..7).await;
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, AppendOutcome::Committed { .. })),
        "{outcomes:?}"
    );
    let stats = store.stats();
    assert_eq!(
        (stats.stored_events, stats.undelivered, stats.dropped_total),
        (4, 4, 0)
    );
    assert!(stats.stored_bytes <= one * 4);
    shutdown(store, thread).await;
}

#[tokio::test]
async fn keep_delivered_zero_deletes_on_acknowledgement() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), 1000, WhenFull::RefuseNew);
    cfg.keep_delivered_s = 0;
    let (store, thread) = Store::open(&cfg).unwrap();
    append_all(&store, 0..5).await;
    store.mark_delivered(1, 5).await;
    store.flush().await;
    let stats = store.stats();
    assert_eq!(
        (
            stats.stored_events,
            stats.stored_bytes,
            stats.delivered_total
        ),
        (0, 0, 5)
    );
    // Seqs are never reused, even with the table empty.
    assert_eq!(
        append_all(&store, 5..6).await,
        vec![AppendOutcome::Committed { seq: 6 }]
    );
    shutdown(store, thread).await;
}

#[tokio::test]
async fn reader_batches_respect_byte_limit_but_always_return_one() {
    let dir = tempfile::tempdir().unwrap();
    let (store, thread) = Store::open(&config(dir.path(), 1000, WhenFull::RefuseNew)).unwrap();
    append_all(&store, 0..10).await;
    let mut reader = store.reader().unwrap();
    let body = event(0).body.len();
    assert_eq!(reader.undelivered_after(0, 100, body * 3).unwrap().len(), 3);
    assert_eq!(reader.undelivered_after(0, 100, 1).unwrap().len(), 1);
    assert_eq!(
        reader.undelivered_after(8, 100, usize::MAX).unwrap().len(),
        2
    );
    assert!(reader.oldest_undelivered_ms().unwrap().is_some());
    assert!(reader.db_bytes().unwrap() > 0);
    shutdown(store, thread).await;
}

#[tokio::test]
async fn appends_after_close_fail_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let (store, thread) = Store::open(&config(dir.path(), 10, WhenFull::RefuseNew)).unwrap();
    let keep = store.clone();
    shutdown(store, thread).await;
    assert!(matches!(
        keep.append(event(1)).await.await,
        AppendOutcome::Failed(_)
    ));
}

#[tokio::test]
async fn a_second_store_on_the_same_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 10, WhenFull::RefuseNew);
    let (store, thread) = Store::open(&cfg).unwrap();
    assert!(matches!(Store::open(&cfg), Err(OpenError::Locked { .. })));
    shutdown(store, thread).await;
}

#[tokio::test]
async fn exported_events_are_marked_once_and_count_as_delivered_only_when_configured() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 1000, WhenFull::RefuseNew);
    let (store, thread) = Store::open(&cfg).unwrap();
    append_all(&store, 0..10).await;
    // deliver_exported = true (the default): marked, still undelivered, still published.
    assert_eq!(store.mark_exported(1, 6, false).await, 6);
    assert_eq!(store.mark_exported(1, 6, false).await, 0, "once each");
    let stats = store.stats();
    assert_eq!((stats.exported_total, stats.undelivered), (6, 10));
    let mut reader = store.reader().unwrap();
    assert_eq!(
        reader.undelivered_after(0, 100, usize::MAX).unwrap().len(),
        10
    );
    // deliver_exported = false: the export is their delivery; nothing of them is published.
    assert_eq!(store.mark_exported(7, 10, true).await, 4);
    let stats = store.stats();
    assert_eq!((stats.exported_total, stats.undelivered), (10, 6));
    let rows = reader.undelivered_after(0, 100, usize::MAX).unwrap();
    assert_eq!(rows.last().unwrap().seq, 6);
    shutdown(store, thread).await;
    // Persisted.
    let (store, thread) = Store::open(&cfg).unwrap();
    assert_eq!(store.stats().exported_total, 10);
    shutdown(store, thread).await;
}
