//! The durable print queue: jobs live in the outbox database (`print_jobs`), keyed by their
//! requester's idempotency key, and one worker per printer prints them in order.
//!
//! ```text
//!  print command ─render (errors refused here)─▶ Submit ──▶ submitted ─┐  (a known key: the
//!                                                                      │   existing job, not
//!  worker (per printer):                                               │   printed again)
//!    held while a job of the printer is `unknown` (an operator decides) │
//!    next submitted job ─▶ driver PrintReady? ─ no (fault, not up) ─▶ stays submitted,
//!                                     │               retried with backoff (1 s … 10 s)
//!                                     yes
//!                                     ▼
//!                          commit `sent` ─▶ driver Print ─┬─ Printed ───▶ confirmed
//!                                                         ├─ Held / NotUp / Busy (nothing
//!                                                         │  sent) ──▶ submitted, retried
//!                                                         ├─ OutcomeUnknown ─▶ unknown
//!                                                         └─ refused outright ─▶ failed
//!  at start: every `sent` job ─▶ unknown (the daemon died between sending and knowing)
//!  print-decide reprint: unknown ─▶ submitted, rendered again with reprint = true
//!  print-decide void:    unknown ─▶ voided
//! ```
//!
//! A label carrying GS1 keys is recorded as it settles, in the same transaction as its move:
//! `confirmed` stores its commissioning ObjectEvent (marked `tg:reprint` after a reprint
//! decision), `voided` its decommissioning one. A job whose outcome is unknown has no event
//! until an operator decides, because nobody knows yet whether the serial exists.
//!
//! The job is committed as `sent` before its first byte is written, so no crash can leave a
//! job that was (perhaps) printed looking unprinted: at worst it is `unknown`, never printed
//! again blindly. While a printer has an `unknown` job its queue holds — the line stops until
//! an operator has looked at the last label, as serialisation lines do.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Map, Value};
use tokio::sync::{Notify, broadcast};
use tokio_util::sync::CancellationToken;
use tracegate_drivers::{CommandDone, CommandError, CommandRequest, DeviceCommand};

use crate::capture::devices::Routes;
use crate::capture::event::build::{EventBuilder, PrintedLabel};
use crate::config::LocationConfig;
use crate::labels::symbols::SymbolSettings;
use crate::labels::templates::{TemplateLanguage, Templates};
use crate::outbox::store::print_jobs::{
    JobState, NewJob, PrintAnswer, PrintJob, PrintOp, PrintSummary,
};
use crate::outbox::store::{NewEvent, Store};

/// Longest idempotency key.
pub const MAX_KEY_LEN: usize = 128;

/// A print request, as the `print` command gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct PrintRequest {
    /// The printer.
    pub device: String,
    /// The template's name.
    pub template: String,
    /// Its variables.
    pub vars: Map<String, Value>,
    /// Copies.
    pub copies: u32,
    /// The requester's idempotency key.
    pub key: String,
}

/// An operator's decision on a job whose outcome is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Decision {
    /// Print it again, marked as a reprint.
    Reprint,
    /// It is void: never printed again.
    Void,
    /// The label did come out intact: the job is confirmed and its commissioning event
    /// committed, with no second label.
    Printed,
}

/// A job changed state (for replies that follow a job).
#[derive(Debug, Clone, PartialEq)]
pub struct JobUpdate {
    /// The job's key.
    pub key: String,
    /// Its state now.
    pub state: JobState,
    /// Why, if anything.
    pub reason: Option<String>,
}

/// Records settled labels as EPCIS events: the builder and the gateway's location.
#[derive(Debug, Clone)]
pub struct LabelEvents {
    builder: EventBuilder,
    read_point: Option<String>,
    biz_location: Option<String>,
}

impl LabelEvents {
    /// Events built by `builder`, at `location`.
    pub fn new(builder: EventBuilder, location: &LocationConfig) -> LabelEvents {
        LabelEvents {
            builder,
            read_point: location.read_point.as_ref().map(|u| u.as_str().to_string()),
            biz_location: location
                .biz_location
                .as_ref()
                .map(|u| u.as_str().to_string()),
        }
    }

    /// The symbol settings that match these events' identifiers (the same GCP table).
    pub fn symbol_settings(&self, digital_link_stem: Option<String>) -> SymbolSettings {
        SymbolSettings {
            gcp: self.builder.mapper().gcp().clone(),
            digital_link_stem,
        }
    }

    /// The commissioning (`printed`) or decommissioning event of `job`, if its label
    /// carries a GS1 key.
    fn event(&self, job: &PrintJob, printed: bool) -> Option<NewEvent> {
        let event = self.builder.label_event(&PrintedLabel {
            at: jiff::Timestamp::now(),
            device: &job.device,
            key: &job.key,
            gs1: &job.gs1,
            reprints: job.reprints,
            printed,
            read_point: self.read_point.as_deref(),
            biz_location: self.biz_location.as_deref(),
        })?;
        Some(self.builder.finish(event, &Arc::from(job.device.as_str())))
    }
}

/// The print queue: submit, look up, decide; cheap to clone.
#[derive(Clone)]
pub struct PrintQueue {
    store: Store,
    templates: Arc<Templates>,
    symbols: SymbolSettings,
    labels: LabelEvents,
    printers: Arc<HashMap<String, TemplateLanguage>>,
    wake: Arc<HashMap<String, Arc<Notify>>>,
    updates: broadcast::Sender<JobUpdate>,
    /// The last summary, for status without a database round trip.
    summary: Arc<Mutex<PrintSummary>>,
}

impl std::fmt::Debug for PrintQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrintQueue")
            .field("printers", &self.printers)
            .field("templates", &self.templates.names())
            .finish()
    }
}

impl PrintQueue {
    /// Settles the jobs a previous run left `sent` (as `unknown`), then starts one worker per
    /// printer (`printers`: device id → language) until `cancel`.
    pub async fn start(
        store: Store,
        routes: Routes,
        templates: Templates,
        printers: HashMap<String, TemplateLanguage>,
        labels: LabelEvents,
        symbols: SymbolSettings,
        cancel: CancellationToken,
    ) -> Result<PrintQueue, String> {
        if let PrintAnswer::Recovered(n) = store.print(PrintOp::RecoverSent).await?
            && n > 0
        {
            tracing::warn!(
                "{n} print job(s) were sent before the daemon stopped and may or may not have printed: \
                 each is held for a decision (print-decide reprint, printed or void); their printers' queues wait"
            );
        }
        let wake: HashMap<String, Arc<Notify>> = printers
            .keys()
            .map(|id| (id.clone(), Arc::new(Notify::new())))
            .collect();
        let (updates, _) = broadcast::channel(256);
        let queue = PrintQueue {
            store,
            templates: Arc::new(templates),
            symbols,
            labels,
            printers: Arc::new(printers),
            wake: Arc::new(wake),
            updates,
            summary: Arc::new(Mutex::new(PrintSummary::default())),
        };
        queue.refresh_summary().await;
        for device in queue.printers.keys() {
            let worker = Worker {
                queue: queue.clone(),
                routes: routes.clone(),
                device: device.clone(),
                cancel: cancel.clone(),
            };
            tokio::spawn(worker.run());
        }
        Ok(queue)
    }

    /// The templates' names, sorted (for the page's test print).
    pub fn template_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .templates
            .names()
            .into_iter()
            .map(String::from)
            .collect();
        names.sort();
        names
    }

    /// `template` with `vars` as `printer` would print it, drawn as PNG (one copy, no job:
    /// nothing is queued or committed). Blocking: the renderer draws on this thread.
    pub fn preview(
        &self,
        printer: &str,
        template: &str,
        vars: &Map<String, Value>,
    ) -> Result<Vec<u8>, String> {
        let language = *self.printers.get(printer).ok_or_else(|| {
            let mut known: Vec<&str> = self.printers.keys().map(String::as_str).collect();
            known.sort();
            format!(
                "no label printer {printer:?}; the printers are: {}",
                known.join(", ")
            )
        })?;
        let rendered = self
            .templates
            .render(template, vars, 1, false, language, &self.symbols)?;
        crate::labels::preview::png(&rendered, crate::labels::preview::PreviewSize::default())
    }

    /// Follows job changes (subscribe before submitting to miss none).
    pub fn updates(&self) -> broadcast::Receiver<JobUpdate> {
        self.updates.subscribe()
    }

    /// The queue's counts as of the last change.
    pub fn summary(&self) -> PrintSummary {
        self.summary
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Renders and queues a job; a known key returns the job already queued (`false`), not
    /// a new one. Every problem with the request is an error, and nothing is queued.
    pub async fn submit(&self, request: PrintRequest) -> Result<(PrintJob, bool), String> {
        check_key(&request.key)?;
        let language = *self.printers.get(&request.device).ok_or_else(|| {
            let mut names: Vec<&str> = self.printers.keys().map(String::as_str).collect();
            names.sort_unstable();
            format!(
                "{:?} is not a label printer; printers: {}",
                request.device,
                if names.is_empty() {
                    "(none)".to_string()
                } else {
                    names.join(", ")
                }
            )
        })?;
        // A resubmission must not depend on the template still rendering as it did.
        if let PrintAnswer::Job { job, .. } = self
            .store
            .print(PrintOp::Get {
                key: request.key.clone(),
            })
            .await?
        {
            return Ok((*job, false));
        }
        let rendered = self.templates.render(
            &request.template,
            &request.vars,
            request.copies,
            false,
            language,
            &self.symbols,
        )?;
        let new = NewJob {
            key: request.key,
            device: request.device.clone(),
            template: request.template,
            vars: Value::Object(request.vars).to_string(),
            copies: request.copies,
            data: rendered.data,
            gs1: rendered.gs1,
        };
        let PrintAnswer::Job { job, fresh } = self.store.print(PrintOp::Submit(new)).await? else {
            return Err("the outbox did not take the job".into());
        };
        if fresh {
            self.changed(None, &job).await;
        }
        self.wake(&request.device);
        Ok((*job, fresh))
    }

    /// The job with `key`.
    pub async fn get(&self, key: &str) -> Result<PrintJob, String> {
        match self.store.print(PrintOp::Get { key: key.into() }).await? {
            PrintAnswer::Job { job, .. } => Ok(*job),
            PrintAnswer::Refused(why) => Err(why),
            other => Err(format!("unexpected answer {other:?}")),
        }
    }

    /// An operator's decision on job `key`, whose outcome is unknown.
    pub async fn decide(&self, key: &str, decision: Decision) -> Result<PrintJob, String> {
        let job = self.get(key).await?;
        if job.state != JobState::Unknown {
            return Err(format!(
                "job {key:?} is {}: only a job whose outcome is unknown waits for a decision",
                job.state.as_str()
            ));
        }
        let (to, reason, data, event) = match decision {
            Decision::Void => (
                JobState::Voided,
                "voided by an operator".to_string(),
                None,
                self.labels.event(&job, false),
            ),
            Decision::Printed => (
                JobState::Confirmed,
                "printed intact, as an operator confirmed".to_string(),
                None,
                self.labels.event(&job, true),
            ),
            Decision::Reprint => {
                let language = *self
                    .printers
                    .get(&job.device)
                    .ok_or_else(|| format!("printer {:?} is no longer configured", job.device))?;
                let vars: Map<String, Value> = serde_json::from_str(&job.vars)
                    .map_err(|e| format!("job {key:?}: its stored variables do not parse: {e}"))?;
                let rendered = self.templates.render(
                    &job.template,
                    &vars,
                    job.copies,
                    true,
                    language,
                    &self.symbols,
                )?;
                (
                    JobState::Submitted,
                    "reprint decided by an operator".to_string(),
                    Some(rendered.data),
                    None,
                )
            }
        };
        let moved = self
            .store
            .print(PrintOp::Move {
                id: job.id,
                from: vec![JobState::Unknown],
                to,
                reason: Some(reason),
                data,
                event,
            })
            .await?;
        let PrintAnswer::Job { job, .. } = moved else {
            return Err(format!("job {key:?} changed meanwhile: {moved:?}"));
        };
        self.changed(Some(JobState::Unknown), &job).await;
        self.wake(&job.device);
        Ok(*job)
    }

    fn wake(&self, device: &str) {
        if let Some(wake) = self.wake.get(device) {
            wake.notify_one();
        }
    }

    /// Counts `job`'s move from `from` (none: new) in the summary, then tells followers
    /// (who may read the summary). The counts are kept here rather than counted again in the
    /// database: a queue years old holds millions of confirmed jobs.
    async fn changed(&self, from: Option<JobState>, job: &PrintJob) {
        let reread = {
            let mut summary = self.summary.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(from) = from {
                *count(&mut summary, from) = count(&mut summary, from).saturating_sub(1);
            }
            *count(&mut summary, job.state) += 1;
            if from == Some(JobState::Unknown) {
                summary.undecided.retain(|k| k != &job.key);
            }
            if job.state == JobState::Unknown && summary.undecided.len() < MAX_UNDECIDED {
                summary.undecided.push(job.key.clone());
            }
            // A decided job left the list: an undecided one beyond the list belongs in it now.
            from == Some(JobState::Unknown)
                && summary.undecided.len() < MAX_UNDECIDED
                && summary.unknown > summary.undecided.len() as u64
        };
        if reread {
            self.refresh_summary().await;
        }
        let _ = self.updates.send(JobUpdate {
            key: job.key.clone(),
            state: job.state,
            reason: job.reason.clone(),
        });
    }

    async fn refresh_summary(&self) {
        if let Ok(PrintAnswer::Summary(summary)) = self.store.print(PrintOp::Summary).await {
            *self.summary.lock().unwrap_or_else(|p| p.into_inner()) = summary;
        }
    }

    /// Moves job `id` (storing `event` with the move) and tells whoever follows it.
    async fn settle(
        &self,
        id: i64,
        from: JobState,
        to: JobState,
        reason: Option<String>,
        event: Option<NewEvent>,
    ) -> Result<(), String> {
        match self
            .store
            .print(PrintOp::Move {
                id,
                from: vec![from],
                to,
                reason,
                data: None,
                event,
            })
            .await?
        {
            PrintAnswer::Job { job, .. } => {
                self.changed(Some(from), &job).await;
                Ok(())
            }
            other => Err(format!("job {id}: {other:?}")),
        }
    }
}

/// Keys of undecided jobs the summary lists (as `PrintOp::Summary` does).
const MAX_UNDECIDED: usize = 20;

/// The summary's count of jobs in `state`.
fn count(summary: &mut PrintSummary, state: JobState) -> &mut u64 {
    match state {
        JobState::Submitted => &mut summary.submitted,
        JobState::Sent => &mut summary.sent,
        JobState::Confirmed => &mut summary.confirmed,
        JobState::Failed => &mut summary.failed,
        JobState::Unknown => &mut summary.unknown,
        JobState::Voided => &mut summary.voided,
    }
}

fn check_key(key: &str) -> Result<(), String> {
    if key.is_empty() || key.len() > MAX_KEY_LEN || key.chars().any(char::is_control) {
        return Err(format!(
            "key must be 1 to {MAX_KEY_LEN} printable characters: the requester's idempotency key (an order line and label number, say), the same on every retry"
        ));
    }
    Ok(())
}

/// One printer's worker.
struct Worker {
    queue: PrintQueue,
    routes: Routes,
    device: String,
    cancel: CancellationToken,
}

const RETRY_MIN: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(10);

/// What became of one attempt at printing a job.
enum Attempt {
    /// Printed: go on with the next.
    Printed,
    /// Not sent: try again after the delay.
    NotSent,
    /// Settled otherwise (unknown, failed): go on.
    Settled,
}

impl Worker {
    async fn run(self) {
        let wake = self.queue.wake[&self.device].clone();
        let mut retry = RETRY_MIN;
        let mut held_logged = None;
        loop {
            if self.cancel.is_cancelled() {
                return;
            }
            let next = self
                .queue
                .store
                .print(PrintOp::Next {
                    device: self.device.clone(),
                })
                .await;
            let delay = match next {
                Err(e) => {
                    tracing::warn!(printer = %self.device, "print queue: {e}");
                    Some(retry)
                }
                Ok(PrintAnswer::Next {
                    undecided: Some(key),
                    ..
                }) => {
                    if held_logged.as_ref() != Some(&key) {
                        tracing::warn!(printer = %self.device, job = %key, "print queue held: job {key:?} may or may not have printed; decide reprint, printed or void (print-decide)");
                        held_logged = Some(key);
                    }
                    None
                }
                Ok(PrintAnswer::Next { job: Some(job), .. }) => match self.print(*job).await {
                    Attempt::Printed | Attempt::Settled => {
                        retry = RETRY_MIN;
                        continue;
                    }
                    Attempt::NotSent => {
                        let delay = retry;
                        retry = (retry * 2).min(RETRY_MAX);
                        Some(delay)
                    }
                },
                Ok(_) => None,
            };
            tokio::select! {
                _ = self.cancel.cancelled() => return,
                _ = wake.notified() => {}
                _ = async {
                    match delay {
                        Some(delay) => tokio::time::sleep(delay).await,
                        None => std::future::pending().await,
                    }
                } => {}
            }
        }
    }

    /// Asks the printer's driver whether it would send a job now.
    async fn ask(&self, command: DeviceCommand) -> Result<CommandDone, CommandError> {
        let (request, answer) = CommandRequest::with_reply(command);
        match self.routes.try_send(&self.device, request) {
            Err(e) => Err(CommandError::NotUp(e.to_string())),
            Ok(()) => answer.await.unwrap_or(Err(CommandError::Stopped)),
        }
    }

    /// One attempt at printing `job`.
    async fn print(&self, job: PrintJob) -> Attempt {
        // A printer that would not take the job (out of paper, head open, not up) leaves it
        // `submitted`: only a job about to be written is committed `sent`, so a crash during
        // a long fault does not turn waiting jobs into undecided ones.
        if let Err(e) = self.ask(DeviceCommand::PrintReady).await {
            tracing::debug!(printer = %self.device, job = %job.key, "print job waits: {e}");
            return Attempt::NotSent;
        }
        // Committed before the first byte: a crash from here on leaves the job `sent`, which
        // the next start settles as `unknown`, never as unprinted.
        if let Err(e) = self
            .queue
            .settle(job.id, JobState::Submitted, JobState::Sent, None, None)
            .await
        {
            tracing::warn!(printer = %self.device, job = %job.key, "print queue: {e}");
            return Attempt::NotSent;
        }
        let outcome = self
            .ask(DeviceCommand::Print {
                data: job.data.clone().into(),
                labels: job.copies,
            })
            .await;
        let (to, reason, attempt) = match outcome {
            Ok(CommandDone::Printed { .. }) => (JobState::Confirmed, None, Attempt::Printed),
            Ok(other) => (
                JobState::Failed,
                Some(format!("the printer answered {other:?}")),
                Attempt::Settled,
            ),
            // Nothing was written: the job goes back to the head of the queue.
            Err(e @ (CommandError::Held(_) | CommandError::NotUp(_) | CommandError::Busy)) => {
                let why = e.to_string();
                (JobState::Submitted, Some(why), Attempt::NotSent)
            }
            // Dropped unanswered: the driver answers every job it took, so this is a task that
            // died mid-job — perhaps after writing. Never guess "not sent".
            Err(CommandError::Stopped) => (
                JobState::Unknown,
                Some("the printer's driver stopped before answering".into()),
                Attempt::Settled,
            ),
            Err(CommandError::OutcomeUnknown(why)) => {
                tracing::warn!(printer = %self.device, job = %job.key, "print job outcome unknown: {why}; held for a decision (print-decide reprint, printed or void)");
                (JobState::Unknown, Some(why), Attempt::Settled)
            }
            Err(e) => (JobState::Failed, Some(e.to_string()), Attempt::Settled),
        };
        // A confirmed label's commissioning event commits with its state: after any crash
        // both are there or neither is (and then the job is `sent`, settled as unknown).
        let event = match to {
            JobState::Confirmed => self.queue.labels.event(&job, true),
            _ => None,
        };
        if let Err(e) = self
            .queue
            .settle(job.id, JobState::Sent, to, reason, event)
            .await
        {
            // The outbox could not be written: the job stays `sent` and is settled as
            // unknown at the next start; this worker must not send anything more now.
            tracing::error!(printer = %self.device, job = %job.key, "print queue: the job's outcome could not be stored ({e}); the queue stops until restart");
            self.cancel.cancelled().await;
        }
        attempt
    }
}
