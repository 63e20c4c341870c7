//! The EPCIS repository uplink: delivers the outbox to an EPCIS 2.0 REST capture interface
//! (`POST {epcis.url}capture`), in capture order, at least once with stable eventIDs, one
//! capture job at a time.
//!
//! ```text
//!            ┌──────────────────────────────────────────────────────────────────────┐
//!  start ──▶ │ Discover: OPTIONS /capture → limits (events, octets) ∧ ours          │ ◀─┐
//!            └──────────────────────────────────────────────────────────────────────┘   │
//!                 │ a job kept in the outbox (a restart while one ran) → Watch it         │
//!                 ▼                                                                      │
//!            ┌──────────────────────────────────────────────────────────────────────┐   │
//!            │ Next batch: a split part first, else undelivered after the cursor    │   │
//!            │   within both limits; an event larger than the octet limit alone →  │   │
//!            │   set aside; caught up → wait for a commit                           │   │
//!            └──────────────────────────────────────────────────────────────────────┘   │
//!                 │ POST (rollback)                                                      │
//!    202 Location ▼            400 → Split   413 → lower limits, again   415 → other type │
//!            ┌──────────────────────────────────────────────────────────────────────┐   │
//!            │ Watch: keep {Location, first, last} in the outbox, GET it with       │   │
//!            │   backoff (50 ms … 2 s) until done or epcis.job_timeout_s            │   │
//!            │   success → mark delivered;  errors → Split;  timeout → again        │   │
//!            └──────────────────────────────────────────────────────────────────────┘   │
//!    Split: one event → set aside with the repository's words (or, if it says the event │
//!           is already captured, delivered); more → two halves, first half first.       │
//!    No answer, 5xx, a job the repository forgot (404), 401/403 → Backoff               │
//!    (retry_min_ms … retry_max_s, jittered; 401/403 at least every                      │
//!    max(retry_max_s, 5 s)) ────────────────────────────────────────────────────────────┘
//! ```
//!
//! Nothing is marked delivered before the repository's job said success; a batch whose
//! answer was lost is posted again with the same eventIDs (an event captured twice is the
//! same event: a repository that refuses the second copy says so, and that counts as
//! delivered).

mod answer;
mod client;

pub use answer::{AnnouncedLimits, JobAnswer, PostAnswer, Problem, job_answer, post_answer};
pub use client::{Client, OptionsAnswer, Unreachable};

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use tracegate_drivers::backoff::Reconnect;
use tracegate_epcis::DocumentWriter;

use crate::config::{CONTENT_TYPES, EpcisConfig};
use crate::outbox::store::{OutboxReader, OutboxRow, Store};
use crate::telemetry::throttle::{Throttle, Throttled};
use crate::telemetry::{Failure, LimitsReport, RepositoryStatus};

/// An outbox read on a blocking thread: the reader back, and the rows.
type ReadTask = tokio::task::JoinHandle<rusqlite::Result<(OutboxReader, Vec<OutboxRow>)>>;

/// The outbox setting that keeps the capture job being watched.
pub const JOB_SETTING: &str = "epcis.job";

/// Octets of the EPCISDocument around its events (header, context, closing brackets), with
/// room to spare.
const ENVELOPE_BYTES: usize = 512;

/// The shortest wait before asking again a repository that refused the credential.
const REFUSAL_RETRY_FLOOR: Duration = Duration::from_secs(5);

/// A capture job being watched, as kept in the outbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeptJob {
    /// The job's URL (the 202's `Location`, resolved).
    pub location: String,
    /// The first and last outbox positions of the events it captures.
    pub first: i64,
    /// See `first`.
    pub last: i64,
    /// How many events it carries.
    pub events: usize,
}

/// How a session with the repository ended.
enum SessionEnd {
    Shutdown,
    /// No answer or a 5xx: try again after the backoff.
    Failed(String),
    /// 401/403: try again slowly.
    Refused(String),
}

/// What to do with a batch after an answer.
enum Outcome {
    /// Delivered (or set aside): next batch.
    Done,
    /// Post it again now (new limits, another content type, a lost job).
    Again,
    /// The session ends.
    End(SessionEnd),
}

/// The repository uplink task.
pub struct EpcisUplink {
    config: EpcisConfig,
    store: Store,
    status: Arc<RepositoryStatus>,
    reader: Option<OutboxReader>,
    reader_generation: u64,
    /// Highest outbox position taken into a batch this session.
    cursor: i64,
    /// Parts of a refused batch still to send, first part first.
    parts: VecDeque<Vec<OutboxRow>>,
    /// Limits in force: ours, lowered by what the repository announced or a 413 said.
    max_events: usize,
    max_bytes: usize,
    /// Index into `CONTENT_TYPES` of the type posted now.
    content_type: usize,
    /// Something was delivered or set aside since the last failure (resets the backoff).
    progressed: bool,
    /// The next batch, being read while a capture job runs.
    prefetch: Option<ReadTask>,
    /// Set-aside lines.
    log: Throttle,
    /// Lines for answers a repository can repeat with every request (413, a lost job, an
    /// event it already holds): a few per window, the rest counted.
    answer_log: Throttle,
}

impl EpcisUplink {
    /// An uplink to the repository `config` names, delivering `store`'s events and counting
    /// in `status`.
    pub fn new(config: EpcisConfig, store: Store, status: Arc<RepositoryStatus>) -> Self {
        let content_type = CONTENT_TYPES
            .iter()
            .position(|t| *t == config.content_type)
            .unwrap_or(0);
        EpcisUplink {
            max_events: config.batch_max_events,
            max_bytes: config.batch_max_bytes,
            config,
            store,
            status,
            reader: None,
            reader_generation: 0,
            cursor: 0,
            parts: VecDeque::new(),
            content_type,
            progressed: false,
            prefetch: None,
            log: Throttle::default(),
            answer_log: Throttle::default(),
        }
    }

    /// Runs until `cancel`: discover, deliver, back off, forever.
    pub async fn run(mut self, cancel: CancellationToken) {
        let mut backoff = Reconnect::new(
            Duration::from_millis(self.config.retry_min_ms),
            Duration::from_secs(self.config.retry_max_s),
        );
        let mut failures_in_a_row = 0u32;
        loop {
            if cancel.is_cancelled() {
                break;
            }
            let end = match Client::new(&self.config) {
                Ok(client) => self.session(&client, &cancel).await,
                Err(e) => {
                    // A TLS file that cannot be read now (rotated, removed): said in status.
                    self.status.failed(Failure::Unreachable, e.clone());
                    SessionEnd::Failed(e)
                }
            };
            if std::mem::take(&mut self.progressed) {
                failures_in_a_row = 0;
                backoff.reset();
            }
            let wait = match end {
                SessionEnd::Shutdown => break,
                SessionEnd::Failed(error) => {
                    failures_in_a_row += 1;
                    // Said once loudly, then now and then: a repository may be away for days.
                    if failures_in_a_row == 1 || failures_in_a_row.is_multiple_of(60) {
                        tracing::warn!(
                            repository = %self.config.capture_url(),
                            attempts = failures_in_a_row,
                            "cannot deliver to the EPCIS repository: {error}; events stay in \
                             the outbox and go when it answers again"
                        );
                    } else {
                        tracing::debug!("EPCIS repository: {error}");
                    }
                    backoff.next_delay()
                }
                SessionEnd::Refused(error) => {
                    failures_in_a_row += 1;
                    let wait =
                        Duration::from_secs(self.config.retry_max_s).max(REFUSAL_RETRY_FLOOR);
                    if failures_in_a_row == 1 || failures_in_a_row.is_multiple_of(60) {
                        tracing::warn!(
                            repository = %self.config.capture_url(),
                            "the EPCIS repository REFUSED this gateway's credential ({error}): \
                             check epcis.username / password_file, token_file or header; \
                             trying again every {} s; events stay in the outbox",
                            wait.as_secs()
                        );
                    }
                    wait
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = cancel.cancelled() => break,
            }
        }
        self.status.link.disconnected(None);
    }

    /// One session: discover the limits, take up a kept job, then deliver until a failure.
    async fn session(&mut self, client: &Client, cancel: &CancellationToken) -> SessionEnd {
        let discovered = tokio::select! {
            _ = cancel.cancelled() => return SessionEnd::Shutdown,
            answer = client.options() => answer,
        };
        // Each session learns the limits afresh: a 413 from a repository that was briefly
        // misconfigured does not shrink every document for the rest of the daemon's life.
        self.max_events = self.config.batch_max_events;
        self.max_bytes = self.config.batch_max_bytes;
        match discovered {
            Ok(OptionsAnswer::Limits(limits)) => {
                self.status.reached();
                self.apply_limits(limits);
            }
            Ok(OptionsAnswer::Refused(status, words)) => {
                let error = format!("OPTIONS {}: HTTP {status} {words}", client.capture_url());
                self.status
                    .failed(Failure::CredentialsRefused, error.clone());
                return SessionEnd::Refused(error);
            }
            Ok(OptionsAnswer::Other(status)) => {
                // Not every repository implements OPTIONS: our limits stand, 413 teaches more.
                self.status.reached();
                tracing::debug!("OPTIONS /capture answered {status}: keeping our own limits");
                self.apply_limits(AnnouncedLimits::default());
            }
            Err(Unreachable(error)) => {
                self.status.failed(Failure::Unreachable, error.clone());
                return SessionEnd::Failed(error);
            }
        }
        tracing::info!(
            repository = %client.capture_url(),
            events = self.max_events,
            bytes = self.max_bytes,
            "EPCIS repository reached: delivering"
        );
        // Marks of the previous session may still be queued: commit them before reading.
        self.store.flush().await;
        self.cursor = 0;
        self.parts.clear();
        self.prefetch = None;
        if let Some(end) = self.resume_kept_job(client, cancel).await {
            return end;
        }
        let mut stats = self.store.watch_stats();
        loop {
            let batch = match self.parts.pop_front() {
                Some(part) => part,
                None => match self.read_batch().await {
                    Ok(rows) if rows.is_empty() => {
                        // Caught up: wait for the next commit (or retry a read now and then).
                        tokio::select! {
                            _ = cancel.cancelled() => return SessionEnd::Shutdown,
                            _ = stats.changed() => {}
                            _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                        }
                        continue;
                    }
                    Ok(rows) => rows,
                    Err(()) => {
                        tokio::select! {
                            _ = cancel.cancelled() => return SessionEnd::Shutdown,
                            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                        }
                        continue;
                    }
                },
            };
            if cancel.is_cancelled() {
                return SessionEnd::Shutdown;
            }
            // A part or a read made before the limits dropped (a 413) is cut to them.
            let (mut batch, rest) = self.fit(batch);
            if let Some(rest) = rest {
                self.parts.push_front(rest);
            }
            loop {
                match self.deliver(client, &batch, cancel).await {
                    Outcome::Done => break,
                    Outcome::Again => {
                        // Limits may have dropped: cut the batch to them, the rest as parts.
                        let (now, rest) = self.fit(batch);
                        if let Some(rest) = rest {
                            self.parts.push_front(rest);
                        }
                        batch = now;
                    }
                    Outcome::End(end) => return end,
                }
            }
        }
    }

    /// The repository's announced limits lower ours (never raise them above the config's).
    fn apply_limits(&mut self, limits: AnnouncedLimits) {
        if let Some(events) = limits.events {
            self.max_events = self.max_events.min(events).max(1);
        }
        if let Some(bytes) = limits.bytes {
            self.max_bytes = self.max_bytes.min(bytes).max(ENVELOPE_BYTES + 1);
        }
        self.report_limits();
    }

    fn report_limits(&self) {
        self.status.limits(LimitsReport {
            events: self.max_events,
            bytes: self.max_bytes,
            content_type: CONTENT_TYPES[self.content_type].to_string(),
        });
    }

    /// `batch` cut to the limits in force: what fits, and the rest (if any).
    fn fit(&self, mut batch: Vec<OutboxRow>) -> (Vec<OutboxRow>, Option<Vec<OutboxRow>>) {
        let mut bytes = ENVELOPE_BYTES;
        let mut keep = 0;
        for row in &batch {
            if keep > 0 && (keep >= self.max_events || bytes + row.body.len() + 1 > self.max_bytes)
            {
                break;
            }
            bytes += row.body.len() + 1;
            keep += 1;
        }
        if keep >= batch.len() {
            return (batch, None);
        }
        let rest = batch.split_off(keep);
        (batch, Some(rest))
    }

    /// The next undelivered events after the cursor, within the limits; an event that
    /// alone exceeds the octet limit is set aside here. `Err` when the outbox could not be
    /// read (logged; retried).
    async fn read_batch(&mut self) -> Result<Vec<OutboxRow>, ()> {
        let read = match self.prefetch.take() {
            Some(read) => read,
            None => self.start_read(),
        };
        self.finish_read(read).await
    }

    /// Starts reading the events after the cursor on a blocking thread (while a capture job
    /// runs, the next batch is read meanwhile: the repository does not wait for the outbox).
    fn start_read(&mut self) -> ReadTask {
        let generation = self.store.stats().generation;
        if generation != self.reader_generation {
            self.reader = None;
            self.reader_generation = generation;
        }
        let reader = self.reader.take();
        let store = self.store.clone();
        let (after, max_events, max_bytes) = (
            self.cursor,
            self.max_events,
            self.max_bytes.saturating_sub(ENVELOPE_BYTES),
        );
        tokio::task::spawn_blocking(move || {
            let mut reader = match reader {
                Some(r) => r,
                None => store.reader()?,
            };
            let rows = reader.undelivered_after(after, max_events, max_bytes)?;
            Ok::<_, rusqlite::Error>((reader, rows))
        })
    }

    async fn finish_read(&mut self, read: ReadTask) -> Result<Vec<OutboxRow>, ()> {
        let rows = match read.await {
            Ok(Ok((reader, rows))) => {
                self.reader = Some(reader);
                rows
            }
            Ok(Err(e)) => {
                if matches!(
                    e.sqlite_error_code(),
                    Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase)
                ) {
                    tracing::error!("the outbox is corrupt ({e}): moving it aside and salvaging");
                    self.store.quarantine(e.to_string()).await;
                } else {
                    tracing::error!("reading the outbox failed: {e}; retrying");
                }
                return Err(());
            }
            Err(e) => {
                tracing::error!("outbox read task failed: {e}");
                return Err(());
            }
        };
        let mut sendable = Vec::with_capacity(rows.len());
        for row in rows {
            self.cursor = self.cursor.max(row.seq);
            if row.body.len() + ENVELOPE_BYTES > self.max_bytes {
                let reason = format!(
                    "the event has {} bytes; the EPCIS repository takes documents of at most {} \
                     octets (GS1-EPCIS-Capture-File-Size-Limit or epcis.batch_max_bytes)",
                    row.body.len(),
                    self.max_bytes
                );
                self.set_aside(row.seq, reason).await;
            } else {
                sendable.push(row);
            }
        }
        Ok(sendable)
    }

    async fn set_aside(&mut self, seq: i64, reason: String) {
        let log = self.log.check();
        if log != Throttled::Quiet {
            tracing::error!(
                seq,
                "event SET ASIDE, not delivered: {reason}; see `tracegate events set-aside`{}",
                log.note()
            );
        }
        self.status.set_aside();
        self.store.set_aside(seq, reason).await;
    }

    /// Posts `batch` and sees its job through.
    async fn deliver(
        &mut self,
        client: &Client,
        batch: &[OutboxRow],
        cancel: &CancellationToken,
    ) -> Outcome {
        let (Some(first), Some(last)) = (batch.first(), batch.last()) else {
            return Outcome::Done;
        };
        let (first, last) = (first.seq, last.seq);
        let bytes: usize = batch.iter().map(|r| r.body.len() + 1).sum();
        let mut doc = DocumentWriter::new(jiff::Timestamp::now(), bytes);
        for row in batch {
            doc.push(&row.body);
        }
        let document = doc.finish();
        let content_type = CONTENT_TYPES[self.content_type];
        self.status.posted(batch.len());
        let answer = tokio::select! {
            _ = cancel.cancelled() => return Outcome::End(SessionEnd::Shutdown),
            answer = client.post(document, content_type) => answer,
        };
        let answer = match answer {
            Ok(answer) => answer,
            Err(Unreachable(error)) => {
                // The next session reads the batch again from the outbox (cursor 0).
                self.status.failed(Failure::Unreachable, error.clone());
                return Outcome::End(SessionEnd::Failed(error));
            }
        };
        match answer {
            PostAnswer::Accepted(location) => {
                self.status.reached();
                let job = KeptJob {
                    location: location.to_string(),
                    first,
                    last,
                    events: batch.len(),
                };
                // Kept in the outbox (queued before the marks that follow, committed with
                // them): a restart asks for this job instead of posting the batch again. Not
                // waited for: a crash before it commits posts the batch again, which
                // at-least-once allows.
                self.store
                    .queue_setting(
                        JOB_SETTING.into(),
                        Some(serde_json::to_string(&job).expect("serialises")),
                    )
                    .await;
                if self.prefetch.is_none() && self.parts.is_empty() {
                    self.prefetch = Some(self.start_read());
                }
                self.status.job_started();
                self.watch(client, &job, &location, Some(batch), cancel)
                    .await
            }
            PostAnswer::Rejected(problem) => {
                self.status.reached();
                self.status.failed(Failure::Rejected, problem.words());
                self.refused(batch.to_vec(), &[problem]).await;
                Outcome::Done
            }
            PostAnswer::Refused(status, problem) => {
                let error = format!(
                    "POST {}: HTTP {status} {}",
                    client.capture_url(),
                    problem.words()
                );
                self.status
                    .failed(Failure::CredentialsRefused, error.clone());
                Outcome::End(SessionEnd::Refused(error))
            }
            PostAnswer::TooLarge(limits, problem) => {
                self.status.reached();
                self.status.failed(Failure::TooLarge, problem.words());
                let (events, bytes) = (self.max_events, self.max_bytes);
                self.apply_limits(limits);
                if (self.max_events, self.max_bytes) == (events, bytes) {
                    // It named no (lower) limit: halve what was sent.
                    if batch.len() > 1 {
                        self.max_events = (batch.len() / 2).max(1);
                    } else {
                        self.max_bytes = (bytes / 2).max(ENVELOPE_BYTES + 1);
                    }
                    self.report_limits();
                }
                let log = self.answer_log.check();
                if log != Throttled::Quiet {
                    tracing::info!(
                        events = self.max_events,
                        bytes = self.max_bytes,
                        "the EPCIS repository found a document too large (413): sending smaller \
                         ones{}",
                        log.note()
                    );
                }
                if batch.len() == 1 && batch[0].body.len() + ENVELOPE_BYTES > self.max_bytes {
                    self.set_aside(
                        first,
                        format!(
                            "the EPCIS repository refused a document holding this event alone as \
                             too large (413: {})",
                            problem.words()
                        ),
                    )
                    .await;
                    return Outcome::Done;
                }
                Outcome::Again
            }
            PostAnswer::UnsupportedType(problem) => {
                self.status.reached();
                self.status
                    .failed(Failure::UnsupportedType, problem.words());
                let tried = CONTENT_TYPES[self.content_type];
                self.content_type = (self.content_type + 1) % CONTENT_TYPES.len();
                self.report_limits();
                tracing::warn!(
                    "the EPCIS repository does not take {tried} (415): posting {} from now on",
                    CONTENT_TYPES[self.content_type]
                );
                if self.content_type
                    == CONTENT_TYPES
                        .iter()
                        .position(|t| *t == self.config.content_type)
                        .unwrap_or(0)
                {
                    // Both refused: not something a retry now will change.
                    return Outcome::End(SessionEnd::Failed(format!(
                        "the repository takes neither {} nor {} (415)",
                        CONTENT_TYPES[0], CONTENT_TYPES[1]
                    )));
                }
                Outcome::Again
            }
            PostAnswer::ServerError(status, problem) => {
                let error = format!("HTTP {status}: {}", problem.words());
                self.status.failed(Failure::ServerError, error.clone());
                Outcome::End(SessionEnd::Failed(error))
            }
            PostAnswer::Unexpected(error) => {
                self.status.failed(Failure::Unexpected, error.clone());
                Outcome::End(SessionEnd::Failed(error))
            }
        }
    }

    /// A job left running when the daemon stopped: ask for it instead of posting again.
    async fn resume_kept_job(
        &mut self,
        client: &Client,
        cancel: &CancellationToken,
    ) -> Option<SessionEnd> {
        let kept = self.kept_job().await?;
        let location = match Url::parse(&kept.location) {
            Ok(url) => url,
            Err(_) => {
                self.forget_job().await;
                return None;
            }
        };
        tracing::info!(
            job = %kept.location,
            events = kept.events,
            "asking for the capture job that was running when the daemon stopped"
        );
        self.status.job_started();
        match self.watch(client, &kept, &location, None, cancel).await {
            Outcome::Done | Outcome::Again => None,
            Outcome::End(end) => Some(end),
        }
    }

    async fn kept_job(&mut self) -> Option<KeptJob> {
        let store = self.store.clone();
        let text = tokio::task::spawn_blocking(move || store.reader()?.setting(JOB_SETTING))
            .await
            .ok()?
            .ok()??;
        serde_json::from_str(&text).ok()
    }

    /// Queues the kept job's removal (after the marks queued before it).
    async fn forget_job(&mut self) {
        self.store.queue_setting(JOB_SETTING.into(), None).await;
    }

    /// The undelivered events of `job` (after a restart, to split a job that failed).
    async fn job_rows(&mut self, job: &KeptJob) -> Vec<OutboxRow> {
        let store = self.store.clone();
        let (first, last, events) = (job.first, job.last, job.events);
        tokio::task::spawn_blocking(move || {
            let mut reader = store.reader()?;
            let rows = reader.undelivered_after(first - 1, events.max(1), usize::MAX)?;
            Ok::<_, rusqlite::Error>(rows.into_iter().filter(|r| r.seq <= last).collect())
        })
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default()
    }

    /// Asks for `job` until it finished or `epcis.job_timeout_s` passed. `batch` is its
    /// events when known (not after a restart).
    async fn watch(
        &mut self,
        client: &Client,
        job: &KeptJob,
        location: &Url,
        batch: Option<&[OutboxRow]>,
        cancel: &CancellationToken,
    ) -> Outcome {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(self.config.job_timeout_s);
        let mut delay = Duration::from_millis(50);
        let outcome = loop {
            let answer = tokio::select! {
                _ = cancel.cancelled() => return Outcome::End(SessionEnd::Shutdown),
                answer = client.job(location) => answer,
            };
            match answer {
                Ok(JobAnswer::Running) => {
                    self.status.reached();
                    if tokio::time::Instant::now() >= deadline {
                        self.status.failed(
                            Failure::JobTimedOut,
                            format!(
                                "capture job {location} still running after {} s",
                                self.config.job_timeout_s
                            ),
                        );
                        tracing::warn!(
                            job = %location,
                            "the capture job is still running after epcis.job_timeout_s = {} s: \
                             posting its events again (same eventIDs)",
                            self.config.job_timeout_s
                        );
                        break self.again(batch).await;
                    }
                    tokio::select! {
                        _ = cancel.cancelled() => return Outcome::End(SessionEnd::Shutdown),
                        _ = tokio::time::sleep(delay) => {}
                    }
                    delay = (delay * 2).min(Duration::from_secs(2));
                }
                Ok(JobAnswer::Success) => {
                    self.status.reached();
                    self.store.mark_delivered(job.first, job.last).await;
                    self.forget_job().await;
                    self.status.captured(job.events, 0);
                    self.progressed = true;
                    self.cursor = self.cursor.max(job.last);
                    break Outcome::Done;
                }
                Ok(JobAnswer::Errors(problems)) => {
                    self.status.reached();
                    let words: Vec<String> = problems.iter().map(Problem::words).collect();
                    self.status.failed(Failure::JobFailed, words.join("; "));
                    let rows = match batch {
                        Some(rows) => rows.to_vec(),
                        None => self.job_rows(job).await,
                    };
                    // Its events go as parts now; the reads after them start past them.
                    self.cursor = self.cursor.max(job.last);
                    self.forget_job().await;
                    self.refused(rows, &problems).await;
                    break Outcome::Done;
                }
                Ok(JobAnswer::Lost) => {
                    self.status.reached();
                    let error =
                        format!("capture job {location} is unknown to the repository (404)");
                    self.status.failed(Failure::JobLost, error.clone());
                    let log = self.answer_log.check();
                    if log != Throttled::Quiet {
                        tracing::warn!(
                            job = %location,
                            "the repository does not know the capture job: posting its events \
                             again after the retry delay{}",
                            log.note()
                        );
                    }
                    // The session ends and the next one reads the events again from the
                    // outbox: a repository that forgets its jobs (restarted, or keeping
                    // none) gets them again at the backoff's pace, not in a tight loop.
                    self.forget_job().await;
                    self.status.job_ended();
                    return Outcome::End(SessionEnd::Failed(error));
                }
                Ok(JobAnswer::Refused(status, problem)) => {
                    let error = format!("GET {location}: HTTP {status} {}", problem.words());
                    self.status
                        .failed(Failure::CredentialsRefused, error.clone());
                    self.status.job_ended();
                    return Outcome::End(SessionEnd::Refused(error));
                }
                Ok(JobAnswer::ServerError(status, problem)) => {
                    let error = format!("GET {location}: HTTP {status} {}", problem.words());
                    self.status.failed(Failure::ServerError, error.clone());
                    self.status.job_ended();
                    return Outcome::End(SessionEnd::Failed(error));
                }
                Ok(JobAnswer::Unexpected(error)) => {
                    self.status.failed(Failure::Unexpected, error.clone());
                    self.status.job_ended();
                    return Outcome::End(SessionEnd::Failed(format!("GET {location}: {error}")));
                }
                Err(Unreachable(error)) => {
                    // The job stays kept: the next session asks for it again.
                    self.status.failed(Failure::Unreachable, error.clone());
                    self.status.job_ended();
                    return Outcome::End(SessionEnd::Failed(error));
                }
            }
        };
        self.status.job_ended();
        outcome
    }

    /// The job will not tell: forget it and post its events again.
    async fn again(&mut self, batch: Option<&[OutboxRow]>) -> Outcome {
        self.forget_job().await;
        match batch {
            Some(_) => Outcome::Again,
            // After a restart the batch is read again from the outbox (the cursor is 0).
            None => Outcome::Done,
        }
    }

    /// The repository refused `rows` (a 400, or a job that ended in errors) and, under
    /// `rollback`, captured none of them: split until the refused events are alone, deliver
    /// the rest, set the refused ones aside with the repository's words.
    async fn refused(&mut self, mut rows: Vec<OutboxRow>, problems: &[Problem]) {
        self.progressed = true;
        match rows.len() {
            0 => {}
            1 => {
                let row = rows.pop().expect("one row");
                if !problems.is_empty() && problems.iter().all(Problem::says_already_captured) {
                    // Captured before (a resend after a lost answer): it is there.
                    let log = self.answer_log.check();
                    if log != Throttled::Quiet {
                        tracing::info!(
                            seq = row.seq,
                            "the repository already holds this event: delivered{}",
                            log.note()
                        );
                    }
                    self.store.mark_delivered(row.seq, row.seq).await;
                    self.status.captured(1, 1);
                    return;
                }
                let words: Vec<String> = problems.iter().map(Problem::words).collect();
                self.set_aside(
                    row.seq,
                    format!("the EPCIS repository refused it: {}", words.join("; ")),
                )
                .await;
            }
            n => {
                let second = rows.split_off(n / 2);
                self.parts.push_front(second);
                self.parts.push_front(rows);
            }
        }
    }
}

impl crate::uplink::Uplink for EpcisUplink {
    fn name(&self) -> &'static str {
        "epcis"
    }

    fn run(
        self: Box<Self>,
        cancel: CancellationToken,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
        Box::pin(EpcisUplink::run(*self, cancel))
    }
}
