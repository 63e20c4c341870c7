//! The SQLite outbox: every captured event, durably, until the broker has acknowledged it.
//!
//! The store is the only code that touches the outbox tables. Writes go through one writer
//! thread with group commit ([`writer`]); reads (the publisher, CLI tools) use their own
//! connections ([`OutboxReader`]), which WAL mode lets run alongside the writer.
//!
//! Durability contract (docs/ARCHITECTURE.md): an append is answered
//! [`AppendOutcome::Committed`] only after the transaction holding it is on stable storage;
//! nothing is deleted before its PUBACK except by the configured `when_full` policy, counted.

pub mod chain;
pub mod high_water;
mod open;
pub mod print_jobs;
mod reader;
pub mod salvage;
mod schema;
mod writer;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};

pub use chain::ChainSigner;
pub use open::{OpenError, OutboxLock, open_for_reading, prepare_directory};
pub use reader::{EventRow, OutboxReader, OutboxRow, QueueCounts, SetAsideRow};
pub use schema::LATEST as SCHEMA_VERSION;

use crate::config::{StoreConfig, WhenFull};
use crate::telemetry::latency::LatencyHistogram;
use writer::{Op, Writer};

/// An event to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// The event's deterministic id (`eventID`).
    pub event_id: String,
    /// Wall-clock capture time, Unix milliseconds.
    pub captured_at_ms: i64,
    /// The device that read it.
    pub device: Arc<str>,
    /// The event as it will be published (JSON).
    pub body: String,
}

impl NewEvent {
    /// Bytes counted against `store.max_bytes`.
    pub fn stored_bytes(&self) -> u64 {
        (self.body.len() + self.event_id.len() + self.device.len()) as u64
    }
}

/// An event of another gateway's export, to publish under that gateway's id.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedEvent {
    /// Its `eventID`.
    pub event_id: String,
    /// Its `eventTime`, Unix ms.
    pub captured_at_ms: i64,
    /// The event exactly as exported.
    pub body: String,
}

/// What an import stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ImportCounts {
    /// Events new to this outbox, now queued.
    pub new: u64,
    /// Events imported before (by eventID): skipped.
    pub skipped: u64,
    /// Events refused for a full outbox (`when_full = "refuse-new"`).
    pub refused: u64,
}

/// A read held while the clock cannot be trusted (see `crate::clock`).
#[derive(Debug, Clone, PartialEq)]
pub struct NewHeld {
    /// The device that read it.
    pub device: Arc<str>,
    /// The boot it happened in.
    pub boot_id: Arc<str>,
    /// `CLOCK_BOOTTIME` at the read, ns.
    pub boottime_ns: i64,
    /// The (untrusted) wall clock at the read, Unix ms.
    pub wall_ms: i64,
    /// The event JSON; its time and id are set when it is released.
    pub draft: String,
}

impl NewHeld {
    /// Bytes counted against `store.max_bytes`.
    pub fn stored_bytes(&self) -> u64 {
        (self.draft.len() + self.device.len() + self.boot_id.len()) as u64
    }
}

/// A held read as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct HeldRow {
    /// Row id (hold order).
    pub id: i64,
    /// The device.
    pub device: String,
    /// Its boot.
    pub boot_id: String,
    /// `CLOCK_BOOTTIME` at the read, ns.
    pub boottime_ns: i64,
    /// The untrusted wall clock at the read, Unix ms.
    pub wall_ms: i64,
    /// The event JSON.
    pub draft: String,
}

/// A held read's event, made by the pipeline once the clock is right, to replace it.
#[derive(Debug, Clone, PartialEq)]
pub struct Released {
    /// The held row it replaces ([`HeldRow::id`]).
    pub held_id: i64,
    /// Its event, re-timed and re-hashed.
    pub event: NewEvent,
}

/// What became of an append.
#[derive(Debug, Clone, PartialEq)]
pub enum AppendOutcome {
    /// Committed to stable storage as outbox entry `seq`.
    Committed {
        /// Position in the outbox (arrival order).
        seq: i64,
    },
    /// Committed to stable storage as a held read (the clock cannot be trusted yet); it is
    /// published once released.
    Held {
        /// Its position among the held reads.
        id: i64,
    },
    /// The outbox is full and `when_full = "refuse-new"`: the event was not stored.
    Refused,
    /// The event is larger than the uplink can send (`mqtt.batch_max_bytes`): refused at
    /// capture so that it can never stop delivery; not stored.
    TooLarge {
        /// Its size.
        bytes: usize,
        /// The limit.
        limit: usize,
    },
    /// The write failed (disk full, I/O error, store shut down); the event was not stored.
    Failed(String),
}

/// Limits and retention, from `[store]`.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most events kept.
    pub max_events: u64,
    /// Most event bytes kept.
    pub max_bytes: u64,
    /// Policy when full.
    pub when_full: WhenFull,
    /// How long delivered events stay.
    pub keep_delivered: Duration,
    /// Largest the WAL grows before a checkpoint truncates it.
    pub wal_max_bytes: u64,
}

impl From<&StoreConfig> for Limits {
    fn from(c: &StoreConfig) -> Self {
        Limits {
            max_events: c.max_events,
            max_bytes: c.max_bytes.as_u64(),
            when_full: c.when_full,
            keep_delivered: Duration::from_secs(c.keep_delivered_s),
            wal_max_bytes: c.wal_max_bytes.as_u64(),
        }
    }
}

/// The writer's figures after its latest commit.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoreStats {
    /// Events in the outbox (undelivered and recently delivered).
    pub stored_events: u64,
    /// Their bytes, as counted against `max_bytes`.
    pub stored_bytes: u64,
    /// Events not yet acknowledged by the broker (held reads included).
    pub undelivered: u64,
    /// Reads held until the clock is synchronised.
    pub held: u64,
    /// Events acknowledged, ever (persisted).
    pub delivered_total: u64,
    /// Events refused because the outbox was full, ever (persisted).
    pub refused_total: u64,
    /// Undelivered events dropped to make room, ever (persisted).
    pub dropped_total: u64,
    /// Events set aside because they could not be published, ever (persisted).
    pub set_aside_total: u64,
    /// Events written to an export, ever (persisted).
    pub exported_total: u64,
    /// Events carried out of a damaged outbox into a fresh one, ever (persisted).
    pub salvaged_total: u64,
    /// Committed events found lost (unreadable rows of a damaged outbox, a torn write-ahead
    /// log), ever (persisted).
    pub lost_total: u64,
    /// The latest commit failed because the file system is full (cleared by the next commit
    /// that works).
    pub disk_full: bool,
    /// Commits that failed since start (disk full, I/O errors).
    pub write_failures_total: u64,
    /// Delivery marks and set-asides waiting to be written again after a failed commit.
    pub pending_retries: u64,
    /// Highest seq committed.
    pub last_seq: i64,
    /// The last append found the outbox full.
    pub full: bool,
    /// Transactions committed since start.
    pub commits_total: u64,
    /// How long the latest commit took.
    pub last_commit: Duration,
    /// Bumped when the outbox file was replaced at run time; readers reopen.
    pub generation: u64,
}

/// A handle on the outbox; cheap to clone, one per task that needs it.
#[derive(Debug, Clone)]
pub struct Store {
    ops: mpsc::Sender<Op>,
    stats: watch::Receiver<StoreStats>,
    path: Arc<PathBuf>,
    limits: Limits,
    commit_latency: Arc<LatencyHistogram>,
}

/// The writer thread; [`join`](StoreThread::join) it after [`Store::close`] at shutdown.
#[derive(Debug)]
pub struct StoreThread {
    handle: std::thread::JoinHandle<()>,
    _lock: OutboxLock,
}

impl StoreThread {
    /// Waits until the writer has committed everything and exited.
    pub fn join(self) {
        if self.handle.join().is_err() {
            tracing::error!("outbox writer thread panicked");
        }
    }
}

impl std::fmt::Debug for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Op::Append { .. } => "Append",
            Op::MarkDelivered { .. } => "MarkDelivered",
            Op::Flush { .. } => "Flush",
            Op::SetSetting { .. } => "SetSetting",
            Op::Hold { .. } => "Hold",
            Op::Release { .. } => "Release",
            Op::SetAside { .. } => "SetAside",
            Op::Quarantine { .. } => "Quarantine",
            Op::Print { .. } => "Print",
            Op::Import { .. } => "Import",
            Op::MarkExported { .. } => "MarkExported",
            Op::Close => "Close",
        })
    }
}

impl Store {
    /// Opens (or creates) the outbox at `config.path`, takes its lock, and starts the writer.
    pub fn open(config: &StoreConfig) -> Result<(Store, StoreThread), OpenError> {
        Store::open_signed(config, None)
    }

    /// Opens the outbox with its hash chain signed by `signer` (the daemon; `open` leaves the
    /// chain unsigned, for tools and tests).
    pub fn open_signed(
        config: &StoreConfig,
        signer: Option<Arc<ChainSigner>>,
    ) -> Result<(Store, StoreThread), OpenError> {
        let path = config.path.clone();
        let lock = open::lock(&path)?;
        let conn = open::open_for_writing(&path, config.quick_check)?;
        let limits = Limits::from(config);
        let commit_latency = Arc::new(LatencyHistogram::default());
        let (writer, stats) =
            Writer::new(conn, path.clone(), limits, commit_latency.clone(), signer).map_err(
                |cause| OpenError::Sqlite {
                    path: path.clone(),
                    cause,
                },
            )?;
        let (ops, rx) = mpsc::channel(writer::MAX_OPS_PER_COMMIT * 2);
        let handle = std::thread::Builder::new()
            .name("outbox-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(|cause| OpenError::Io {
                path: path.clone(),
                cause,
            })?;
        Ok((
            Store {
                ops,
                stats,
                path: Arc::new(path),
                limits,
                commit_latency,
            },
            StoreThread {
                handle,
                _lock: lock,
            },
        ))
    }

    /// Marks the events `first..=last` exported; with `delivered` (`[integrity]
    /// deliver_exported = false`) the undelivered ones count as delivered and are not
    /// published. How many were newly marked; 0 when the outbox could not be written.
    pub async fn mark_exported(&self, first: i64, last: i64, delivered: bool) -> u64 {
        let (done, rx) = oneshot::channel();
        let op = Op::MarkExported {
            first,
            last,
            at_ms: jiff::Timestamp::now().as_millisecond(),
            delivered,
            done,
        };
        if self.ops.send(op).await.is_err() {
            return 0;
        }
        rx.await.unwrap_or(0) as u64
    }

    /// Stores `events` of gateway `origin`'s export, skipping eventIDs imported before; they
    /// are published under `origin`'s topic. Answered after the commit.
    pub async fn import(
        &self,
        origin: String,
        events: Vec<ImportedEvent>,
    ) -> Result<ImportCounts, String> {
        let (done, rx) = oneshot::channel();
        self.ops
            .send(Op::Import {
                origin,
                events,
                done,
            })
            .await
            .map_err(|_| "the outbox is closed".to_string())?;
        rx.await
            .unwrap_or_else(|_| Err("the outbox write failed".into()))
    }

    /// Queues `event`; the returned future resolves once it is committed (or refused/failed).
    /// Waits only if the writer's queue is full (backpressure), not for the commit.
    pub async fn append(&self, event: NewEvent) -> PendingAppend {
        let (done, rx) = oneshot::channel();
        match self.ops.send(Op::Append { event, done }).await {
            Ok(()) => PendingAppend(Some(rx)),
            Err(_) => PendingAppend(None),
        }
    }

    /// Carries out a print queue operation in the writer's next transaction; answered after
    /// its commit (an error: the outbox could not be written, or the daemon is stopping).
    pub async fn print(&self, op: print_jobs::PrintOp) -> Result<print_jobs::PrintAnswer, String> {
        let (done, rx) = oneshot::channel();
        self.ops
            .send(Op::Print { op, done })
            .await
            .map_err(|_| "the outbox is closed (the daemon is stopping)".to_string())?;
        rx.await
            .map_err(|_| "the outbox writer stopped before answering".to_string())?
    }

    /// Queues a held read; resolves once committed (or refused/failed) like an append.
    pub async fn hold(&self, held: NewHeld) -> PendingAppend {
        let (done, rx) = oneshot::channel();
        match self.ops.send(Op::Hold { held, done }).await {
            Ok(()) => PendingAppend(Some(rx)),
            Err(_) => PendingAppend(None),
        }
    }

    /// Replaces held reads with their events in one transaction; a held row already gone
    /// (released before) is skipped. Returns how many were replaced.
    pub async fn release(&self, released: Vec<Released>) -> usize {
        let (done, rx) = oneshot::channel();
        if self.ops.send(Op::Release { released, done }).await.is_err() {
            return 0;
        }
        rx.await.unwrap_or(0)
    }

    /// Moves event `seq` out of the way of delivery, into the `set_aside` table, saying why.
    pub async fn set_aside(&self, seq: i64, reason: String) {
        let at_ms = jiff::Timestamp::now().as_millisecond();
        let _ = self.ops.send(Op::SetAside { seq, reason, at_ms }).await;
    }

    /// A reader found the file corrupt: the writer moves it aside, salvages what can be read
    /// into a fresh outbox, and bumps the generation so readers reopen.
    pub async fn quarantine(&self, reason: String) {
        let _ = self.ops.send(Op::Quarantine { reason }).await;
    }

    /// Records the broker's acknowledgement of every undelivered event in `first..=last`.
    pub async fn mark_delivered(&self, first: i64, last: i64) {
        let at_ms = jiff::Timestamp::now().as_millisecond();
        let _ = self
            .ops
            .send(Op::MarkDelivered { first, last, at_ms })
            .await;
    }

    /// Resolves once everything queued before this call is committed.
    pub async fn flush(&self) {
        let (done, rx) = oneshot::channel();
        if self.ops.send(Op::Flush { done }).await.is_ok() {
            let _ = rx.await;
        }
    }

    /// Sets setting `name` to `value` (`None` removes it); resolves once committed.
    pub async fn set_setting(&self, name: String, value: Option<String>) -> Result<(), String> {
        let (done, rx) = oneshot::channel();
        self.ops
            .send(Op::SetSetting { name, value, done })
            .await
            .map_err(|_| "the outbox is closed".to_string())?;
        rx.await
            .unwrap_or_else(|_| Err("the outbox write was abandoned".into()))
    }

    /// Queues setting `name` to `value` (`None` removes it) behind what is queued, without
    /// waiting for its commit (it commits with the ops around it, in order).
    pub async fn queue_setting(&self, name: String, value: Option<String>) {
        let (done, _ignored) = oneshot::channel();
        let _ = self.ops.send(Op::SetSetting { name, value, done }).await;
    }

    /// Asks the writer to commit what is queued and stop. Appends after this fail.
    pub async fn close(&self) {
        let _ = self.ops.send(Op::Close).await;
    }

    /// The writer's latest figures.
    pub fn stats(&self) -> StoreStats {
        self.stats.borrow().clone()
    }

    /// Watch the writer's figures; changes after every commit (`last_seq` grows as events
    /// are committed).
    pub fn watch_stats(&self) -> watch::Receiver<StoreStats> {
        self.stats.clone()
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The configured limits.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// How long each transaction took, from `BEGIN` to the end of its fsync, since start.
    pub fn commit_latency(&self) -> &LatencyHistogram {
        &self.commit_latency
    }

    /// Liveness probe: resolves once the writer has taken a transaction through to its
    /// commit. A writer stuck on a lock or a stalled disk does not answer.
    pub async fn probe(&self) -> bool {
        let (done, rx) = oneshot::channel();
        self.ops.send(Op::Flush { done }).await.is_ok() && rx.await.is_ok()
    }

    /// A new read connection on this outbox.
    pub fn reader(&self) -> rusqlite::Result<OutboxReader> {
        OutboxReader::open(&self.path)
    }
}

/// An append in flight; resolves to its [`AppendOutcome`]. Dropping it does not cancel the
/// append, only the answer.
#[derive(Debug)]
pub struct PendingAppend(Option<oneshot::Receiver<AppendOutcome>>);

impl PendingAppend {
    /// An outcome known without asking the store (a refusal at capture).
    pub fn ready(outcome: AppendOutcome) -> Self {
        let (tx, rx) = oneshot::channel();
        let _ = tx.send(outcome);
        PendingAppend(Some(rx))
    }
}

impl Future for PendingAppend {
    type Output = AppendOutcome;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<AppendOutcome> {
        match self.0.as_mut() {
            None => Poll::Ready(AppendOutcome::Failed("the outbox is closed".into())),
            Some(rx) => Pin::new(rx).poll(cx).map(|r| {
                r.unwrap_or_else(|_| AppendOutcome::Failed("the outbox write was abandoned".into()))
            }),
        }
    }
}

#[cfg(test)]
mod tests;
