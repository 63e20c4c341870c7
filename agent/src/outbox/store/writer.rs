//! The outbox writer: one thread, one connection, group commit.
//!
//! Every change to the outbox goes through here, as [`Op`]s on a channel. The thread takes
//! whatever has queued up (up to [`MAX_OPS_PER_COMMIT`]), applies it in one transaction, commits
//! (one fsync with `synchronous=FULL`), and only then answers the appends. While one commit is
//! syncing, the next batch queues: under load each transaction carries many events, at rest
//! each read is committed alone within a few milliseconds.
//!
//! ```text
//!            ops queue up                           commit ok
//!  ┌──────┐ ───────────▶ ┌──────────────────────┐ ───────────▶ ┌─────────────────────────┐
//!  │ Idle │              │ Batch: BEGIN IMMEDIATE│              │ Answer appends, publish │
//!  └──────┘ ◀─────────── │  insert (make room)  │              │ stats + last seq        │
//!     ▲     channel empty│  mark delivered      │              └─────────────────────────┘
//!     │                  │  prune expired       │ commit failed: appends answered Failed,
//!     │                  │ COMMIT               │ totals rolled back; a corrupt file is moved
//!     │                  └──────────────────────┘ aside and a fresh outbox opened
//!     └──────────────────────────────────────────────────────────────┘
//!  Close op (or every sender gone): finish the queue, checkpoint the WAL, exit.
//! ```
//!
//! Room is made before each insert: delivered events go first; then `when_full` decides —
//! refuse the new event, or drop the oldest undelivered one. Both are counted (persistently)
//! and logged, rate-limited, never silently.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::runtime::Runtime;

use rusqlite::{
    Connection, ErrorCode, OptionalExtension, Transaction, TransactionBehavior, params,
};
use tokio::sync::{mpsc, oneshot, watch};

use super::chain::{Chain, ChainSigner};
use super::high_water::{self, HighWater};
use super::open;
use super::{AppendOutcome, ImportCounts, Limits, NewEvent, NewHeld, Released, StoreStats};
use crate::config::WhenFull;
use crate::telemetry::latency::LatencyHistogram;
use crate::telemetry::throttle::{Throttle, Throttled};

/// What the writer's wait for work ended with.
enum Next {
    Op(Op),
    RetryDue,
    Closed,
}

/// What a wait with a deadline ended with.
enum Received {
    Op(Op),
    Closed,
    TimedOut,
}

/// The next op, blocking until `deadline` at most.
fn recv_until(rx: &mut mpsc::Receiver<Op>, timer: &Runtime, deadline: Instant) -> Received {
    let wait = deadline.saturating_duration_since(Instant::now());
    // The timeout is made inside the runtime: its timer belongs to it.
    match timer.block_on(async { tokio::time::timeout(wait, rx.recv()).await }) {
        Ok(Some(op)) => Received::Op(op),
        Ok(None) => Received::Closed,
        Err(_) => Received::TimedOut,
    }
}

/// Whatever has queued up, to the batch's limit.
fn drain_into(rx: &mut mpsc::Receiver<Op>, ops: &mut Vec<Op>) {
    while ops.len() < MAX_OPS_PER_COMMIT {
        match rx.try_recv() {
            Ok(op) => ops.push(op),
            Err(_) => break,
        }
    }
}

/// Most ops applied in one transaction; bounds commit latency under a flood, and with the
/// queue in front of the writer (twice this) the events held in memory while the disk catches
/// up (about 2 MiB of events). Larger batches gain little: at 1,024 rows a commit the fsync is
/// already a small part of each row's cost.
pub(super) const MAX_OPS_PER_COMMIT: usize = 1024;

/// A change to the outbox.
pub(super) enum Op {
    /// Store an event; answered after the commit that holds it.
    Append {
        event: NewEvent,
        done: oneshot::Sender<AppendOutcome>,
    },
    /// The broker acknowledged every undelivered event with `first <= seq <= last`.
    MarkDelivered { first: i64, last: i64, at_ms: i64 },
    /// Event `seq` cannot be published: move it to `set_aside`.
    SetAside {
        seq: i64,
        reason: String,
        at_ms: i64,
    },
    /// A reader found the file corrupt: move it aside (salvaging what can be read) once the
    /// ops before this one are committed.
    Quarantine { reason: String },
    /// Answered once everything queued before it is committed.
    Flush { done: oneshot::Sender<()> },
    /// Hold a read until the clock is right; answered after the commit like an append.
    Hold {
        held: NewHeld,
        done: oneshot::Sender<AppendOutcome>,
    },
    /// Replace held reads with the events the pipeline made of them.
    Release {
        released: Vec<Released>,
        done: oneshot::Sender<usize>,
    },
    /// Sets (or with `None` removes) a setting; answered after the commit.
    SetSetting {
        name: String,
        value: Option<String>,
        done: oneshot::Sender<Result<(), String>>,
    },
    /// A print queue operation; answered after the commit.
    Print {
        op: super::print_jobs::PrintOp,
        done: oneshot::Sender<Result<super::print_jobs::PrintAnswer, String>>,
    },
    /// Store another gateway's exported events; answered after the commit.
    Import {
        origin: String,
        events: Vec<super::ImportedEvent>,
        done: oneshot::Sender<Result<super::ImportCounts, String>>,
    },
    /// Events `first..=last` were written to an export; with `delivered`, they count as
    /// delivered too (`[integrity] deliver_exported = false`). Answered with how many.
    MarkExported {
        first: i64,
        last: i64,
        at_ms: i64,
        delivered: bool,
        done: oneshot::Sender<usize>,
    },
    /// Finish what is queued, then stop.
    Close,
}

#[derive(Debug, Clone, Copy, Default)]
struct Totals {
    /// Event rows plus held rows.
    rows: u64,
    bytes: u64,
    /// Undelivered events plus held rows.
    undelivered: u64,
    delivered_rows: u64,
    held: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Counters {
    delivered_total: u64,
    refused_total: u64,
    dropped_total: u64,
    set_aside_total: u64,
    salvaged_total: u64,
    lost_total: u64,
    exported_total: u64,
}

/// Everything the writer knows besides its connection (split so a transaction borrowing the
/// connection can run alongside mutable state).
struct State {
    limits: Limits,
    chain: Chain,
    totals: Totals,
    counters: Counters,
    saved_counters: Counters,
    last_seq: i64,
    full: bool,
    next_prune: Instant,
    full_log: FullLog,
}

pub(super) struct Writer {
    conn: Connection,
    path: PathBuf,
    state: State,
    generation: u64,
    commits_total: u64,
    stats_tx: watch::Sender<StoreStats>,
    commit_latency: Arc<LatencyHistogram>,
    /// Delivery marks and set-asides of a batch that failed, written again with the next one:
    /// the broker has the events, so they must not stay "undelivered".
    retries: Vec<Retry>,
    disk_full: bool,
    write_failures_total: u64,
    high_water: HighWater,
    failure_log: Throttle,
}

/// An op whose effect must not be lost when its commit fails.
#[derive(Debug, Clone)]
enum Retry {
    Delivered {
        first: i64,
        last: i64,
        at_ms: i64,
    },
    SetAside {
        seq: i64,
        reason: String,
        at_ms: i64,
    },
}

impl Retry {
    fn of(op: &Op) -> Option<Retry> {
        match op {
            Op::MarkDelivered { first, last, at_ms } => Some(Retry::Delivered {
                first: *first,
                last: *last,
                at_ms: *at_ms,
            }),
            Op::SetAside { seq, reason, at_ms } => Some(Retry::SetAside {
                seq: *seq,
                reason: reason.clone(),
                at_ms: *at_ms,
            }),
            _ => None,
        }
    }

    fn op(self) -> Op {
        match self {
            Retry::Delivered { first, last, at_ms } => Op::MarkDelivered { first, last, at_ms },
            Retry::SetAside { seq, reason, at_ms } => Op::SetAside { seq, reason, at_ms },
        }
    }
}

/// The WAL bound while the disk is full (back to `wal_max_bytes` once it is not).
const SHORT_OF_SPACE_WAL_BYTES: u64 = 64 * 1024;

/// How long the writer waits for new work before it writes pending retries on their own.
const RETRY_EVERY: Duration = Duration::from_secs(1);

impl Writer {
    pub(super) fn new(
        conn: Connection,
        path: PathBuf,
        limits: Limits,
        commit_latency: Arc<LatencyHistogram>,
        signer: Option<Arc<ChainSigner>>,
    ) -> rusqlite::Result<(Self, watch::Receiver<StoreStats>)> {
        bound_wal(&conn, limits.wal_max_bytes)?;
        let chain = Chain::load(&conn, signer)?;
        let (totals, mut counters, last_seq) = load_state(&conn)?;
        let mark = high_water::read_mark(&path);
        if last_seq > 0
            && matches!(
                mark,
                high_water::Mark::Absent | high_water::Mark::Unreadable
            )
        {
            tracing::error!(
                outbox = %path.display(),
                mark = %high_water::path_for(&path).display(),
                database_ends_at = last_seq,
                "the committed high-water mark beside the outbox is {}: a loss of committed events before this start (a damaged write-ahead log) cannot be ruled out; a new mark is made now at {last_seq}",
                if mark == high_water::Mark::Absent { "missing" } else { "unreadable" }
            );
        }
        if let high_water::Mark::At(mark) = mark
            && mark > last_seq
        {
            let lost = (mark - last_seq) as u64;
            tracing::error!(
                outbox = %path.display(),
                committed_up_to = mark,
                database_ends_at = last_seq,
                "COMMITTED EVENTS LOST: the outbox last committed event {mark}, but the database now ends at {last_seq}: {lost} committed events are gone (a damaged write-ahead log?). Counted in lost_total"
            );
            counters.lost_total += lost;
            conn.execute(
                "UPDATE counters SET value = ?1 WHERE name = 'lost_total'",
                params![counters.lost_total as i64],
            )?;
        }
        let high_water = HighWater::open(&path, last_seq);
        let state = State {
            limits,
            chain,
            totals,
            counters,
            saved_counters: counters,
            last_seq,
            full: false,
            next_prune: Instant::now(),
            full_log: FullLog::default(),
        };
        let (stats_tx, stats_rx) = watch::channel(StoreStats::default());
        let writer = Writer {
            conn,
            path,
            state,
            generation: 0,
            commits_total: 0,
            stats_tx,
            commit_latency,
            retries: Vec::new(),
            disk_full: false,
            write_failures_total: 0,
            high_water,
            failure_log: Throttle::default(),
        };
        writer.publish_stats(Duration::ZERO);
        Ok((writer, stats_rx))
    }

    pub(super) fn run(mut self, mut rx: mpsc::Receiver<Op>) {
        // Waits with a deadline (the high-water mark's sync, retries) block on
        // the channel with a timer rather than poll it: a poll's sleep is latency added to the
        // read that arrives during it, and wake-ups at idle.
        let timer = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .inspect_err(|e| {
                tracing::warn!("the outbox writer has no timer ({e}): the high-water mark is synced at every commit");
            })
            .ok();
        let mut ops = Vec::with_capacity(MAX_OPS_PER_COMMIT);
        let mut closing = false;
        while !closing {
            match self.next_op(&mut rx, timer.as_ref()) {
                Next::Op(first) => ops.push(first),
                Next::RetryDue => {}
                Next::Closed => break,
            }
            drain_into(&mut rx, &mut ops);
            closing = ops.iter().any(|op| matches!(op, Op::Close));
            self.apply(&mut ops);
        }
        // Ops sent after Close are answered by the channel closing (senders see an error).
        rx.close();
        while let Ok(op) = rx.try_recv() {
            ops.push(op);
            self.apply(&mut ops);
        }
        self.high_water.sync();
        if let Err(e) = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        {
            tracing::debug!("final WAL checkpoint skipped: {e}");
        }
        tracing::debug!(outbox = %self.path.display(), "outbox closed");
    }

    /// The next op. Before sleeping until there is one, a high-water mark written but not
    /// yet synced is synced when its interval is up (the end of a burst); with retries
    /// pending, the wait gives up after [`RETRY_EVERY`] so they are written even when
    /// nothing else happens.
    fn next_op(&mut self, rx: &mut mpsc::Receiver<Op>, timer: Option<&Runtime>) -> Next {
        let Some(timer) = timer else {
            self.high_water.sync();
            return rx.blocking_recv().map_or(Next::Closed, Next::Op);
        };
        if let Some(due) = self.high_water.sync_due() {
            match recv_until(rx, timer, due) {
                Received::Op(op) => return Next::Op(op),
                Received::Closed => return Next::Closed,
                Received::TimedOut => self.high_water.sync(),
            }
        }
        if self.retries.is_empty() {
            return rx.blocking_recv().map_or(Next::Closed, Next::Op);
        }
        match recv_until(rx, timer, Instant::now() + RETRY_EVERY) {
            Received::Op(op) => Next::Op(op),
            Received::Closed => Next::Closed,
            Received::TimedOut => Next::RetryDue,
        }
    }

    fn apply(&mut self, ops: &mut Vec<Op>) {
        // Marks from a failed batch go first: they are the oldest news.
        if !self.retries.is_empty() {
            let retried: Vec<Op> = self.retries.drain(..).map(Retry::op).collect();
            ops.splice(0..0, retried);
        }
        let retryable: Vec<Retry> = ops.iter().filter_map(Retry::of).collect();
        let mut replaced = false;
        let quarantine = ops.iter().find_map(|op| match op {
            Op::Quarantine { reason } => Some(reason.clone()),
            _ => None,
        });
        let started = Instant::now();
        let saved_totals = self.state.totals;
        let saved_counters = self.state.counters;
        let saved_seq = self.state.last_seq;
        let saved_chain = self.state.chain.save_point();
        let mut answers: Vec<(oneshot::Sender<AppendOutcome>, AppendOutcome)> = Vec::new();
        let mut flushes: Vec<oneshot::Sender<()>> = Vec::new();
        let mut settings: Vec<oneshot::Sender<Result<(), String>>> = Vec::new();
        let mut releases: Vec<(oneshot::Sender<usize>, usize)> = Vec::new();
        let mut prints: Vec<PrintReply> = Vec::new();
        let mut imports: Vec<ImportReply> = Vec::new();
        let result = commit_batch(
            &mut self.conn,
            &mut self.state,
            ops,
            Replies {
                answers: &mut answers,
                flushes: &mut flushes,
                settings: &mut settings,
                releases: &mut releases,
                prints: &mut prints,
                imports: &mut imports,
            },
        );
        // Whatever the batch did not reach is dropped here: its senders close, which the
        // callers see as a failed append.
        ops.clear();
        self.commit_latency.observe(started.elapsed());
        let failure = match result {
            Ok(()) => {
                self.commits_total += 1;
                self.high_water.write(self.state.last_seq);
                if self.disk_full {
                    tracing::warn!(outbox = %self.path.display(), "the outbox can be written again (disk space is back)");
                    let _ = bound_wal(&self.conn, self.state.limits.wal_max_bytes);
                }
                self.disk_full = false;
                None
            }
            Err(e) => {
                self.state.totals = saved_totals;
                self.state.counters = saved_counters;
                self.state.last_seq = saved_seq;
                self.state.chain.restore(saved_chain);
                self.write_failures_total += 1;
                self.retries = retryable;
                let full = e.sqlite_error_code() == Some(ErrorCode::DiskFull);
                let message = if full {
                    format!(
                        "outbox write failed: DISK FULL ({e}); reads are not captured until space is freed on the file system of {}",
                        self.path.display()
                    )
                } else {
                    format!("outbox write failed: {e}")
                };
                // Said once when the disk fills, and other failures a few times per window, not
                // once per batch or retry: the status shows it all along.
                if !(full && self.disk_full) {
                    let log = self.failure_log.check();
                    if log != Throttled::Quiet {
                        tracing::error!(outbox = %self.path.display(), "{message}{}", log.note());
                    }
                }
                if full {
                    self.disk_full = true;
                    self.free_space();
                }
                if matches!(
                    e.sqlite_error_code(),
                    Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase)
                ) {
                    self.replace_corrupt_file("corruption found while writing");
                    replaced = true;
                }
                Some(message)
            }
        };
        // A reader's report of corruption is moot if this batch already replaced the file.
        if let Some(reason) = quarantine.filter(|_| !replaced) {
            self.replace_corrupt_file(&format!("corruption found while reading: {reason}"));
        }
        // Figures first, answers second: whoever is answered sees figures that include it.
        self.publish_stats(started.elapsed());
        for (done, outcome) in answers {
            let outcome = match &failure {
                None => outcome,
                Some(message) => AppendOutcome::Failed(message.clone()),
            };
            let _ = done.send(outcome);
        }
        for done in flushes {
            let _ = done.send(());
        }
        for done in settings {
            let _ = done.send(match &failure {
                None => Ok(()),
                Some(message) => Err(message.clone()),
            });
        }
        for (done, n) in releases {
            let _ = done.send(if failure.is_none() { n } else { 0 });
        }
        for (done, counts) in imports {
            let _ = done.send(match &failure {
                None => Ok(counts),
                Some(message) => Err(message.clone()),
            });
        }
        for (done, answer) in prints {
            let _ = done.send(match &failure {
                None => Ok(answer),
                Some(message) => Err(message.clone()),
            });
        }
    }

    /// The disk is full: give what the outbox holds for convenience back to events. Delivered
    /// events (kept for `events tail`) are deleted, the WAL is checkpointed and truncated, and
    /// while the disk stays short the WAL is kept small. Best effort: each step may itself
    /// fail for want of space.
    fn free_space(&mut self) {
        if self.state.totals.delivered_rows > 0 {
            let chain = &self.state.chain;
            let deleted = self.conn.transaction().and_then(|tx| {
                let (n, bytes, rows) = {
                    let mut stmt = tx.prepare(
                        "DELETE FROM events WHERE delivered_at IS NOT NULL RETURNING bytes, seq, link",
                    )?;
                    deleted_rows(stmt.query([])?)?
                };
                chain.deleted(&tx, rows)?;
                tx.commit()?;
                Ok((n, bytes))
            });
            if let Ok((n, bytes)) = deleted {
                self.state.totals.rows -= n;
                self.state.totals.bytes = self.state.totals.bytes.saturating_sub(bytes);
                self.state.totals.delivered_rows -= n;
                tracing::warn!(
                    deleted = n,
                    "disk full: delivered events kept for `events tail` deleted to make room"
                );
            }
        }
        let _ = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        let _ = bound_wal(&self.conn, SHORT_OF_SPACE_WAL_BYTES);
    }

    /// The file went bad under us: move it aside and continue in a fresh outbox.
    fn replace_corrupt_file(&mut self, reason: &str) {
        let placeholder = match Connection::open_in_memory() {
            Ok(c) => c,
            Err(_) => return,
        };
        drop(std::mem::replace(&mut self.conn, placeholder));
        match open::replace_unusable(&self.path, reason) {
            Ok(conn) => match load_state(&conn)
                .and_then(|loaded| Ok((loaded, Chain::load(&conn, self.state.chain.signer())?)))
            {
                Ok(((totals, counters, last_seq), chain)) => {
                    self.conn = conn;
                    self.state.chain = chain;
                    self.state.totals = totals;
                    self.state.counters = counters;
                    self.state.saved_counters = counters;
                    self.state.last_seq = last_seq;
                    self.high_water = HighWater::open(&self.path, last_seq);
                    self.generation += 1;
                }
                Err(e) => tracing::error!("fresh outbox unreadable: {e}"),
            },
            Err(e) => tracing::error!("cannot replace the corrupt outbox: {e}"),
        }
    }

    fn publish_stats(&self, last_commit: Duration) {
        let s = &self.state;
        self.stats_tx.send_replace(StoreStats {
            stored_events: s.totals.rows,
            stored_bytes: s.totals.bytes,
            undelivered: s.totals.undelivered,
            held: s.totals.held,
            delivered_total: s.counters.delivered_total,
            refused_total: s.counters.refused_total,
            dropped_total: s.counters.dropped_total,
            set_aside_total: s.counters.set_aside_total,
            salvaged_total: s.counters.salvaged_total,
            lost_total: s.counters.lost_total,
            exported_total: s.counters.exported_total,
            disk_full: self.disk_full,
            write_failures_total: self.write_failures_total,
            pending_retries: self.retries.len() as u64,
            last_seq: s.last_seq,
            full: s.full,
            commits_total: self.commits_total,
            last_commit,
            generation: self.generation,
        });
    }
}

/// The WAL is checkpointed once it holds `max_bytes` and truncated back to that size
/// afterwards, so a burst does not leave the card's space in the log.
fn bound_wal(conn: &Connection, max_bytes: u64) -> rusqlite::Result<()> {
    let page_size: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
    let pages = (max_bytes as i64 / page_size.max(512)).max(16);
    conn.pragma_update(None, "wal_autocheckpoint", pages)?;
    conn.pragma_update(None, "journal_size_limit", max_bytes as i64)?;
    Ok(())
}

fn load_state(conn: &Connection) -> rusqlite::Result<(Totals, Counters, i64)> {
    let (rows, bytes, undelivered): (i64, i64, i64) = conn.query_row(
        "SELECT count(*), coalesce(sum(bytes), 0), coalesce(sum(delivered_at IS NULL), 0) FROM events",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    let (held, held_bytes): (i64, i64) = conn.query_row(
        "SELECT count(*), coalesce(sum(bytes), 0) FROM held",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let totals = Totals {
        rows: (rows + held) as u64,
        bytes: (bytes + held_bytes) as u64,
        undelivered: (undelivered + held) as u64,
        delivered_rows: (rows - undelivered) as u64,
        held: held as u64,
    };
    let mut counters = Counters::default();
    let mut stmt = conn.prepare("SELECT name, value FROM counters")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let value = row.get::<_, i64>(1)? as u64;
        match row.get_ref(0)?.as_str()? {
            "delivered_total" => counters.delivered_total = value,
            "refused_total" => counters.refused_total = value,
            "dropped_total" => counters.dropped_total = value,
            "set_aside_total" => counters.set_aside_total = value,
            "salvaged_total" => counters.salvaged_total = value,
            "lost_total" => counters.lost_total = value,
            "exported_total" => counters.exported_total = value,
            _ => {}
        }
    }
    let last_seq: i64 = conn.query_row(
        "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0)",
        [],
        |r| r.get(0),
    )?;
    Ok((totals, counters, last_seq))
}

/// A print queue operation's answer and where it goes.
type PrintReply = (
    oneshot::Sender<Result<super::print_jobs::PrintAnswer, String>>,
    super::print_jobs::PrintAnswer,
);

/// Where a batch's answers go once it is committed.
struct Replies<'a> {
    answers: &'a mut Vec<(oneshot::Sender<AppendOutcome>, AppendOutcome)>,
    flushes: &'a mut Vec<oneshot::Sender<()>>,
    settings: &'a mut Vec<oneshot::Sender<Result<(), String>>>,
    releases: &'a mut Vec<(oneshot::Sender<usize>, usize)>,
    prints: &'a mut Vec<PrintReply>,
    imports: &'a mut Vec<ImportReply>,
}

/// An import's counts and where they go.
type ImportReply = (oneshot::Sender<Result<ImportCounts, String>>, ImportCounts);

fn commit_batch(
    conn: &mut Connection,
    state: &mut State,
    ops: &mut Vec<Op>,
    replies: Replies<'_>,
) -> rusqlite::Result<()> {
    let Replies {
        answers,
        flushes,
        settings,
        releases,
        prints,
        imports,
    } = replies;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    for op in ops.drain(..) {
        match op {
            Op::Append { event, done } => {
                let outcome = state.insert(&tx, &event)?;
                answers.push((done, outcome));
            }
            Op::Hold { held, done } => {
                let outcome = state.hold(&tx, &held)?;
                answers.push((done, outcome));
            }
            Op::Release { released, done } => {
                let n = state.release(&tx, &released)?;
                releases.push((done, n));
            }
            Op::MarkDelivered { first, last, at_ms } => {
                state.mark_delivered(&tx, first, last, at_ms)?
            }
            Op::SetAside { seq, reason, at_ms } => state.set_aside(&tx, seq, &reason, at_ms)?,
            Op::Flush { done } => flushes.push(done),
            Op::SetSetting { name, value, done } => {
                match value {
                    Some(value) => tx
                        .prepare_cached(
                            "INSERT INTO settings(name, value) VALUES (?1, ?2) \
                             ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                        )?
                        .execute(params![name, value])?,
                    None => tx
                        .prepare_cached("DELETE FROM settings WHERE name = ?1")?
                        .execute(params![name])?,
                };
                settings.push(done);
            }
            Op::Print { op, done } => {
                let answer = super::print_jobs::apply(
                    &tx,
                    op,
                    jiff::Timestamp::now().as_millisecond(),
                    &mut |event| state.insert_always(&tx, event),
                )?;
                prints.push((done, answer));
            }
            Op::Import {
                origin,
                events,
                done,
            } => {
                let counts = state.import(&tx, &origin, events)?;
                imports.push((done, counts));
            }
            Op::MarkExported {
                first,
                last,
                at_ms,
                delivered,
                done,
            } => {
                let n = state.mark_exported(&tx, first, last, at_ms, delivered)?;
                releases.push((done, n as usize));
            }
            Op::Close | Op::Quarantine { .. } => {}
        }
    }
    state.prune_expired(&tx)?;
    state.save_counters(&tx)?;
    state.chain.save(&tx)?;
    tx.commit()?;
    state.saved_counters = state.counters;
    state.full_log.maybe_report(&state.limits);
    Ok(())
}

impl State {
    /// Counts a capture refused because the outbox is full (`when_full = "refuse-new"`).
    fn refuse(&mut self) -> AppendOutcome {
        self.full = true;
        self.counters.refused_total += 1;
        self.full_log.refused += 1;
        AppendOutcome::Refused
    }

    fn hold(&mut self, tx: &Transaction<'_>, held: &NewHeld) -> rusqlite::Result<AppendOutcome> {
        let bytes = held.stored_bytes();
        if !self.make_room(tx, bytes)? {
            return Ok(self.refuse());
        }
        tx.prepare_cached(
            "INSERT INTO held (device, boot_id, boottime_ns, wall_ms, draft, bytes) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![
            &*held.device,
            &*held.boot_id,
            held.boottime_ns,
            held.wall_ms,
            held.draft,
            bytes as i64
        ])?;
        let id = tx.last_insert_rowid();
        self.totals.rows += 1;
        self.totals.bytes += bytes;
        self.totals.undelivered += 1;
        self.totals.held += 1;
        Ok(AppendOutcome::Held { id })
    }

    /// Replaces each held read of `released` with its event; one already gone is skipped.
    fn release(&mut self, tx: &Transaction<'_>, released: &[Released]) -> rusqlite::Result<usize> {
        let mut count = 0;
        for Released { held_id, event } in released {
            let held_bytes: Option<i64> = tx
                .prepare_cached("DELETE FROM held WHERE id = ?1 RETURNING bytes")?
                .query_row(params![held_id], |r| r.get(0))
                .optional()?;
            let Some(held_bytes) = held_bytes else {
                continue;
            };
            let bytes = event.stored_bytes();
            self.last_seq = insert_event(tx, &mut self.chain, event, bytes)?;
            self.totals.bytes = (self.totals.bytes + bytes).saturating_sub(held_bytes as u64);
            self.totals.held -= 1;
            count += 1;
        }
        Ok(count)
    }

    fn insert(
        &mut self,
        tx: &Transaction<'_>,
        event: &NewEvent,
    ) -> rusqlite::Result<AppendOutcome> {
        let bytes = event.stored_bytes();
        if !self.make_room(tx, bytes)? {
            return Ok(self.refuse());
        }
        let seq = insert_event(tx, &mut self.chain, event, bytes)?;
        self.totals.rows += 1;
        self.totals.bytes += bytes;
        self.totals.undelivered += 1;
        self.last_seq = seq;
        Ok(AppendOutcome::Committed { seq })
    }

    /// Marks the events `first..=last` exported (once each); with `delivered`, the undelivered
    /// ones among them count as delivered (the operator carries them by road only).
    fn mark_exported(
        &mut self,
        tx: &Transaction<'_>,
        first: i64,
        last: i64,
        at_ms: i64,
        delivered: bool,
    ) -> rusqlite::Result<u64> {
        let n = tx
            .prepare_cached(
                "UPDATE events SET exported_at = ?3 WHERE seq BETWEEN ?1 AND ?2 AND exported_at IS NULL",
            )?
            .execute(params![first, last, at_ms])? as u64;
        self.counters.exported_total += n;
        if delivered {
            let m = tx
                .prepare_cached(
                    "UPDATE events SET delivered_at = ?3 WHERE seq BETWEEN ?1 AND ?2 AND delivered_at IS NULL AND exported_at = ?3",
                )?
                .execute(params![first, last, at_ms])? as u64;
            self.totals.undelivered -= m;
            self.totals.delivered_rows += m;
        }
        Ok(n)
    }

    /// Stores another gateway's exported `events` under `origin`, skipping eventIDs imported
    /// before; each stored one joins this outbox's chain like any event.
    fn import(
        &mut self,
        tx: &Transaction<'_>,
        origin: &str,
        events: Vec<super::ImportedEvent>,
    ) -> rusqlite::Result<ImportCounts> {
        let mut counts = ImportCounts::default();
        let device: Arc<str> = Arc::from(format!("import:{origin}"));
        for e in events {
            let known = tx
                .prepare_cached("SELECT 1 FROM imported WHERE event_id = ?1")?
                .query_row(params![e.event_id], |_| Ok(()))
                .optional()?
                .is_some();
            if known {
                counts.skipped += 1;
                continue;
            }
            let event = NewEvent {
                event_id: e.event_id,
                captured_at_ms: e.captured_at_ms,
                device: device.clone(),
                body: e.body,
            };
            match self.insert(tx, &event)? {
                AppendOutcome::Committed { seq } => {
                    tx.prepare_cached("UPDATE events SET origin = ?2 WHERE seq = ?1")?
                        .execute(params![seq, origin])?;
                    tx.prepare_cached(
                        "INSERT INTO imported (event_id, origin, at) VALUES (?1, ?2, ?3)",
                    )?
                    .execute(params![
                        event.event_id,
                        origin,
                        jiff::Timestamp::now().as_millisecond()
                    ])?;
                    counts.new += 1;
                }
                _ => counts.refused += 1,
            }
        }
        Ok(counts)
    }

    /// Inserts an event that records something already done in the world (a printed or
    /// voided label): room is made as the policy allows, but the event is stored even when
    /// the outbox is full with `refuse-new` — refusing it would leave a label without its
    /// record. It is counted like any other.
    fn insert_always(&mut self, tx: &Transaction<'_>, event: &NewEvent) -> rusqlite::Result<()> {
        let bytes = event.stored_bytes();
        let _ = self.make_room(tx, bytes)?;
        let seq = insert_event(tx, &mut self.chain, event, bytes)?;
        self.totals.rows += 1;
        self.totals.bytes += bytes;
        self.totals.undelivered += 1;
        self.last_seq = seq;
        Ok(())
    }

    /// Deletes what the limits and policy allow until one more event of `need` bytes fits.
    /// False when it cannot fit (refuse-new with a full outbox, or an event larger than the
    /// whole outbox).
    fn make_room(&mut self, tx: &Transaction<'_>, need: u64) -> rusqlite::Result<bool> {
        let limits = self.limits;
        if need > limits.max_bytes {
            return Ok(false);
        }
        self.full = false;
        while self.totals.rows + 1 > limits.max_events
            || self.totals.bytes + need > limits.max_bytes
        {
            if self.totals.delivered_rows > 0 {
                let (n, b) = self.delete(
                    tx,
                    "DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE delivered_at IS NOT NULL \
                     ORDER BY delivered_at, seq LIMIT ?1) RETURNING bytes, seq, link",
                    256,
                )?;
                if n == 0 {
                    self.totals.delivered_rows = 0; // counted rows are gone; trust the table
                    continue;
                }
                self.totals.rows -= n;
                self.totals.bytes -= b;
                self.totals.delivered_rows -= n;
                continue;
            }
            match limits.when_full {
                WhenFull::RefuseNew => return Ok(false),
                WhenFull::DropOldest => {
                    let excess = (self.totals.rows + 1)
                        .saturating_sub(limits.max_events)
                        .clamp(1, 256);
                    let (n, b) = self.delete(
                        tx,
                        "DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE delivered_at IS NULL \
                         ORDER BY seq LIMIT ?1) RETURNING bytes, seq, link",
                        excess as i64,
                    )?;
                    if n == 0 {
                        return Ok(false);
                    }
                    self.full = true;
                    self.totals.rows -= n;
                    self.totals.bytes -= b;
                    self.totals.undelivered -= n;
                    self.counters.dropped_total += n;
                    self.full_log.dropped += n;
                }
            }
        }
        Ok(true)
    }

    /// Runs `sql` (a `DELETE … RETURNING bytes, seq, link` taking a limit) and records the
    /// deleted events as gaps of the chain; (rows, bytes) deleted.
    fn delete(
        &mut self,
        tx: &Transaction<'_>,
        sql: &str,
        limit: i64,
    ) -> rusqlite::Result<(u64, u64)> {
        let (n, bytes, rows) = {
            let mut stmt = tx.prepare_cached(sql)?;
            deleted_rows(stmt.query(params![limit])?)?
        };
        self.chain.deleted(tx, rows)?;
        Ok((n, bytes))
    }

    fn set_aside(
        &mut self,
        tx: &Transaction<'_>,
        seq: i64,
        reason: &str,
        at_ms: i64,
    ) -> rusqlite::Result<()> {
        let moved = tx
            .prepare_cached(
                "INSERT OR IGNORE INTO set_aside (seq, event_id, captured_at, device, body, reason, set_aside_at, link) \
                 SELECT seq, event_id, captured_at, device, body, ?2, ?3, link FROM events WHERE seq = ?1 AND delivered_at IS NULL",
            )?
            .execute(params![seq, reason, at_ms])?;
        if moved == 0 {
            return Ok(()); // delivered, dropped or set aside meanwhile
        }
        let bytes: i64 = tx
            .prepare_cached("DELETE FROM events WHERE seq = ?1 RETURNING bytes")?
            .query_row(params![seq], |r| r.get(0))?;
        self.totals.rows -= 1;
        self.totals.bytes = self.totals.bytes.saturating_sub(bytes as u64);
        self.totals.undelivered -= 1;
        self.counters.set_aside_total += 1;
        Ok(())
    }

    fn mark_delivered(
        &mut self,
        tx: &Transaction<'_>,
        first: i64,
        last: i64,
        at_ms: i64,
    ) -> rusqlite::Result<()> {
        let n = if self.limits.keep_delivered.is_zero() {
            let (n, b, rows) = {
                let mut stmt = tx.prepare_cached(
                    "DELETE FROM events WHERE seq BETWEEN ?1 AND ?2 AND delivered_at IS NULL RETURNING bytes, seq, link",
                )?;
                deleted_rows(stmt.query(params![first, last])?)?
            };
            self.chain.deleted(tx, rows)?;
            self.totals.rows -= n;
            self.totals.bytes -= b;
            n
        } else {
            let n = tx
                .prepare_cached(
                    "UPDATE events SET delivered_at = ?3 WHERE seq BETWEEN ?1 AND ?2 AND delivered_at IS NULL",
                )?
                .execute(params![first, last, at_ms])? as u64;
            self.totals.delivered_rows += n;
            n
        };
        self.totals.undelivered -= n;
        self.counters.delivered_total += n;
        Ok(())
    }

    /// Deletes delivered events older than `keep_delivered`, at most once a second and at most
    /// 10 000 per transaction so a long outage's backlog does not make one huge commit.
    fn prune_expired(&mut self, tx: &Transaction<'_>) -> rusqlite::Result<()> {
        let now = Instant::now();
        if self.totals.delivered_rows == 0 || now < self.next_prune {
            return Ok(());
        }
        self.next_prune = now + Duration::from_secs(1);
        let cutoff =
            jiff::Timestamp::now().as_millisecond() - self.limits.keep_delivered.as_millis() as i64;
        let (n, b, rows) = {
            let mut stmt = tx.prepare_cached(
                "DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE delivered_at IS NOT NULL \
                 AND delivered_at < ?1 ORDER BY delivered_at LIMIT 10000) RETURNING bytes, seq, link",
            )?;
            deleted_rows(stmt.query(params![cutoff])?)?
        };
        self.chain.deleted(tx, rows)?;
        self.totals.rows -= n;
        self.totals.bytes -= b;
        self.totals.delivered_rows -= n.min(self.totals.delivered_rows);
        Ok(())
    }

    fn save_counters(&mut self, tx: &Transaction<'_>) -> rusqlite::Result<()> {
        if self.counters == self.saved_counters {
            return Ok(());
        }
        let mut stmt = tx.prepare_cached("UPDATE counters SET value = ?2 WHERE name = ?1")?;
        for (name, value) in [
            ("delivered_total", self.counters.delivered_total),
            ("refused_total", self.counters.refused_total),
            ("dropped_total", self.counters.dropped_total),
            ("set_aside_total", self.counters.set_aside_total),
            ("salvaged_total", self.counters.salvaged_total),
            ("lost_total", self.counters.lost_total),
            ("exported_total", self.counters.exported_total),
        ] {
            stmt.execute(params![name, value as i64])?;
        }
        Ok(())
    }
}

/// Deleted events' (seq, link), for the chain's gaps.
type DeletedRows = Vec<(i64, Option<Vec<u8>>)>;

/// Counts and sums rows from `DELETE … RETURNING bytes, seq, link`, keeping each row's seq and
/// link for the chain.
fn deleted_rows(mut rows: rusqlite::Rows<'_>) -> rusqlite::Result<(u64, u64, DeletedRows)> {
    let (mut n, mut bytes, mut gone) = (0u64, 0u64, Vec::new());
    while let Some(row) = rows.next()? {
        n += 1;
        bytes += row.get::<_, i64>(0)? as u64;
        gone.push((row.get(1)?, row.get(2)?));
    }
    Ok((n, bytes, gone))
}

/// Rate-limited reporting of a full outbox: the first refusal or drop is logged at once, then
/// at most one summary every 10 s while it lasts.
#[derive(Debug, Default)]
struct FullLog {
    refused: u64,
    dropped: u64,
    last: Option<Instant>,
}

impl FullLog {
    fn maybe_report(&mut self, limits: &Limits) {
        if self.refused == 0 && self.dropped == 0 {
            return;
        }
        let due = self
            .last
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(10));
        if !due {
            return;
        }
        self.last = Some(Instant::now());
        let (refused, dropped) = (
            std::mem::take(&mut self.refused),
            std::mem::take(&mut self.dropped),
        );
        tracing::warn!(
            refused,
            dropped,
            max_events = limits.max_events,
            max_bytes = limits.max_bytes,
            when_full = limits.when_full.as_str(),
            "OUTBOX FULL: {} (store.max_events / store.max_bytes reached; is the uplink down?)",
            if dropped > 0 {
                format!("dropped {dropped} oldest undelivered events to make room")
            } else {
                format!("refused {refused} new events")
            }
        );
    }
}

/// Inserts `event` (of `bytes` stored bytes) into the outbox as the chain's next link; its
/// sequence number.
fn insert_event(
    tx: &Transaction<'_>,
    chain: &mut Chain,
    event: &NewEvent,
    bytes: u64,
) -> rusqlite::Result<i64> {
    let link = chain.link(&event.body);
    tx.prepare_cached(
        "INSERT INTO events (event_id, captured_at, device, body, bytes, link) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        event.event_id,
        event.captured_at_ms,
        &*event.device,
        event.body,
        bytes as i64,
        &link[..]
    ])?;
    let seq = tx.last_insert_rowid();
    chain.appended(seq);
    Ok(seq)
}
