//! The command router: the one place that maps a platform command to what carries it out,
//! and answers every command.
//!
//! Commands arrive on `{prefix}/{gateway}/cmd/{name}` (and, from `tracegate cmd`, through the
//! control socket); the payload is a JSON object with a request `id` and the command's
//! arguments ([`request::Command`]). Replies go to `{prefix}/{gateway}/reply/{id}`:
//!
//! ```text
//!  cmd/{name} ──parse──▶ Command ──┬─ ping, status, context ──────────────▶ done | failed
//!       │ malformed, unknown,      └─ reload, output, read-window, send ──▶ received
//!       │ oversized, busy                  (a task: the device's inbox,      then done | failed
//!       │                                   or the reload)
//!       │                         └─ print, print-status, ──────────────▶ received, (progress…)
//!       ▼                            print-decide (the print queue)         then done | failed
//!  failed, naming the problem (reply/_ when no usable id could be read)
//! ```
//!
//! A reply is `{"id", "state": "received" | "progress" | "done" | "failed", "ok", "result" |
//! "error"}`; `done` and `failed` are final. `print` sends a `progress` reply each time its
//! job changes state (submitted, sent) and ends with the job settled or still waiting.
//! Nothing a command carries can stop the daemon: every problem is an error reply, counted in
//! status (`commands`).

pub mod control;
pub mod reload;
pub mod request;

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{Semaphore, broadcast, mpsc, oneshot};
use tracegate_drivers::{CommandDone, CommandRequest, DeviceCommand};

use crate::capture::contexts::ContextRegistry;
use crate::capture::devices::Routes;
use crate::ops::status::StatusCollector;
use crate::outbox::store::print_jobs::PrintJob;
use crate::print::queue::{PrintQueue, PrintRequest};
use crate::telemetry::CommandStats;
use crate::telemetry::throttle::{SharedThrottle, Throttled};
use crate::uplink::wire::{IncomingCommand, Reply, progress, reply};
use reload::ReloadRequest;
pub use request::{Command, MAX_COMMAND_BYTES};
use request::{Level, WindowAction};
use tracegate_drivers::output::pattern::Pattern;

/// Commands carried out by tasks at once (device commands, reloads); more are refused busy.
const MAX_RUNNING: usize = 32;

/// Longest a device may take to answer a command.
const DEVICE_ANSWER: Duration = Duration::from_secs(10);

/// How long a `print` command follows its job before the final reply (a job held by paper
/// out may wait for hours; `print-status` asks again).
const PRINT_FOLLOW: Duration = Duration::from_secs(60);

/// Maps commands to what carries them out.
#[derive(Debug, Clone)]
pub struct Router {
    status: Arc<StatusCollector>,
    contexts: ContextRegistry,
    routes: Routes,
    reload: mpsc::Sender<ReloadRequest>,
    running: Arc<Semaphore>,
    /// A platform (or attacker) flooding bad commands does not flood the log.
    log: Arc<SharedThrottle>,
    /// The print queue (none: no label printer configured).
    print: Option<PrintQueue>,
}

impl Router {
    /// A router over the daemon's parts.
    pub fn new(
        status: Arc<StatusCollector>,
        contexts: ContextRegistry,
        routes: Routes,
        reload: mpsc::Sender<ReloadRequest>,
    ) -> Self {
        Router {
            status,
            contexts,
            routes,
            reload,
            running: Arc::new(Semaphore::new(MAX_RUNNING)),
            log: Arc::new(SharedThrottle::default()),
            print: None,
        }
    }

    /// Routes `print`, `print-status` and `print-decide` to `queue`.
    pub fn with_print(mut self, queue: PrintQueue) -> Self {
        self.print = Some(queue);
        self
    }

    fn print_queue(&self) -> Result<&PrintQueue, String> {
        self.print.as_ref().ok_or_else(|| {
            "no print queue: this gateway has no label printer (kind = \"label-printer\") or no [printing] templates".to_string()
        })
    }

    fn stats(&self) -> &CommandStats {
        self.status.commands()
    }

    /// Runs command `name` with `payload` and returns its final reply (the control socket's
    /// and the page's way: one answer per request).
    pub async fn final_reply(&self, name: &str, payload: &[u8]) -> Vec<u8> {
        let (tx, mut rx) = mpsc::channel(4);
        self.dispatch(name, payload, &tx).await;
        drop(tx);
        while let Some(reply) = rx.recv().await {
            if reply.last {
                return reply.payload;
            }
        }
        serde_json::to_vec(&serde_json::json!({ "error": "the command got no final reply" }))
            .unwrap_or_default()
    }

    /// Handles command `name` with `payload`; every reply goes to `replies`, the last one
    /// final. Returns once the command is answered or handed to a task that will answer it.
    pub async fn dispatch(&self, name: &str, payload: &[u8], replies: &mpsc::Sender<Reply>) {
        self.stats().received();
        let request = request::parse(name, payload);
        let id = request.id.as_deref();
        let command = match request.command {
            Ok(command) => command,
            Err(error) => {
                self.stats().refused();
                let log = self.log.check();
                if log != Throttled::Quiet {
                    tracing::warn!(command = name, id, "command refused: {error}{}", log.note());
                }
                let _ = replies.send(reply(id, name, Err(error))).await;
                return;
            }
        };
        let outcome = match command {
            Command::Ping {} => {
                Ok(serde_json::json!({ "pong": jiff::Timestamp::now().to_string() }))
            }
            Command::Status {} => self.status_report().await,
            Command::Context { device, set, reset } => {
                context(&self.contexts, device.as_deref(), set, reset).await
            }
            long => {
                let Ok(permit) = self.running.clone().try_acquire_owned() else {
                    self.stats().refused();
                    let error =
                        format!("busy: {MAX_RUNNING} commands are being carried out; try again");
                    let _ = replies.send(reply(id, name, Err(error))).await;
                    return;
                };
                let _ = replies.send(reply(id, name, Ok(None))).await;
                let router = self.clone();
                let replies = replies.clone();
                let (id, name) = (request.id.clone(), name.to_string());
                tokio::spawn(async move {
                    let outcome = match long {
                        Command::Print {
                            device,
                            template,
                            vars,
                            copies,
                            key,
                        } => {
                            let request = PrintRequest {
                                device,
                                template,
                                vars,
                                copies,
                                key,
                            };
                            router.print(request, id.as_deref(), &name, &replies).await
                        }
                        other => router.carry_out(other).await,
                    };
                    router.finish(id.as_deref(), &name, outcome, &replies).await;
                    drop(permit);
                });
                return;
            }
        };
        self.finish(id, name, outcome, replies).await;
    }

    async fn finish(
        &self,
        id: Option<&str>,
        name: &str,
        outcome: Result<Value, String>,
        replies: &mpsc::Sender<Reply>,
    ) {
        if let Err(e) = &outcome {
            self.stats().failed();
            let log = self.log.check();
            if log != Throttled::Quiet {
                tracing::warn!(command = name, id, "command failed: {e}{}", log.note());
            }
        }
        let _ = replies.send(reply(id, name, outcome.map(Some))).await;
    }

    async fn status_report(&self) -> Result<Value, String> {
        let status = self.status.clone();
        let report = tokio::task::spawn_blocking(move || status.report())
            .await
            .map_err(|e| format!("status failed: {e}"))?;
        serde_json::to_value(report).map_err(|e| e.to_string())
    }

    /// `print`: queues the job (or finds it by its key) and follows it, a progress reply per
    /// change, until it is settled or [`PRINT_FOLLOW`] has passed (then the final reply
    /// gives the state it is in; `print-status` follows it further).
    async fn print(
        &self,
        request: PrintRequest,
        id: Option<&str>,
        name: &str,
        replies: &mpsc::Sender<Reply>,
    ) -> Result<Value, String> {
        let queue = self.print_queue()?;
        let mut updates = queue.updates();
        let key = request.key.clone();
        let (job, fresh) = queue.submit(request).await?;
        let mut current = job_value(&job, Some(fresh));
        if !job.state.is_settled() {
            let _ = replies.send(progress(id, name, current.clone())).await;
            let deadline = tokio::time::Instant::now() + PRINT_FOLLOW;
            loop {
                let update = tokio::time::timeout_at(deadline, updates.recv()).await;
                match update {
                    Err(_) => break,
                    Ok(Err(broadcast::error::RecvError::Closed)) => break,
                    Ok(Err(broadcast::error::RecvError::Lagged(_))) => {}
                    Ok(Ok(u)) if u.key != key => continue,
                    Ok(Ok(_)) => {}
                }
                let job = queue.get(&key).await?;
                current = job_value(&job, Some(fresh));
                if job.state.is_settled() {
                    break;
                }
                let _ = replies.send(progress(id, name, current.clone())).await;
            }
        }
        Ok(current)
    }

    /// The commands that take a while: a device's or the reload's.
    async fn carry_out(&self, command: Command) -> Result<Value, String> {
        let (device, command) = match command {
            Command::Reload {} => return self.reload().await,
            Command::PrintStatus { key: None } => {
                let queue = self.print_queue()?;
                return serde_json::to_value(queue.summary()).map_err(|e| e.to_string());
            }
            Command::PrintStatus { key: Some(key) } => {
                let job = self.print_queue()?.get(&key).await?;
                return Ok(job_value(&job, None));
            }
            Command::PrintDecide { key, decision } => {
                let job = self.print_queue()?.decide(&key, decision).await?;
                return Ok(job_value(&job, None));
            }
            Command::Print { .. } => unreachable!("followed by Router::print"),
            Command::Output {
                device,
                line,
                state,
                pattern,
                priority,
                for_ms,
            } => {
                let pattern = match pattern {
                    Some(text) => text.parse::<Pattern>().map_err(|e| e.to_string())?,
                    None if state == Level::On => Pattern::On,
                    None => Pattern::Off,
                };
                // A timed request is a layer of its own, so that when it ends the line goes
                // back to what the last untimed command set.
                let owner = if for_ms.is_some() {
                    "command-timed"
                } else {
                    "command"
                };
                (
                    device,
                    DeviceCommand::SetOutput {
                        line,
                        pattern,
                        priority,
                        owner: owner.into(),
                        for_ms,
                    },
                )
            }
            Command::Inputs { device } => (device, DeviceCommand::ReadInputs),
            Command::ReadWindow { device, action } => (
                device,
                DeviceCommand::ReadWindow(action == WindowAction::Start),
            ),
            Command::Send { device, data } => (device, DeviceCommand::Send(data.into())),
            Command::Ping {} | Command::Status {} | Command::Context { .. } => {
                unreachable!("answered inline")
            }
        };
        let (request, answer) = CommandRequest::with_reply(command);
        self.routes
            .try_send(&device, request)
            .map_err(|e| match e {
                crate::capture::devices::running::RouteError::NoDevice(_) => format!(
                    "{e}; devices: {}",
                    self.routes
                        .ids()
                        .iter()
                        .map(|id| &**id)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                other => other.to_string(),
            })?;
        let done = tokio::time::timeout(DEVICE_ANSWER, answer)
            .await
            .map_err(|_| format!("device {device:?} did not answer within {DEVICE_ANSWER:?}"))?
            .map_err(|_| format!("device {device:?} stopped before answering"))?
            .map_err(|e| format!("device {device:?}: {e}"))?;
        Ok(match done {
            CommandDone::Sent { bytes } => {
                serde_json::json!({ "device": device, "sent_bytes": bytes })
            }
            CommandDone::Output { line, on, shown } => {
                serde_json::json!({ "device": device, "line": line, "on": on, "shown": shown })
            }
            CommandDone::Inputs(levels) => {
                let lines: serde_json::Map<String, Value> = levels
                    .into_iter()
                    .map(|l| {
                        (
                            l.line,
                            serde_json::json!({ "active": l.active, "raw_high": l.raw_high }),
                        )
                    })
                    .collect();
                serde_json::json!({ "device": device, "inputs": lines })
            }
            CommandDone::ReadWindow { open } => {
                serde_json::json!({ "device": device, "open": open })
            }
            CommandDone::Printed { labels } => {
                serde_json::json!({ "device": device, "printed_labels": labels })
            }
            CommandDone::Ready => serde_json::json!({ "device": device, "ready": true }),
        })
    }

    async fn reload(&self) -> Result<Value, String> {
        let (done, answer) = oneshot::channel();
        self.reload
            .send(ReloadRequest { done })
            .await
            .map_err(|_| "the daemon is shutting down".to_string())?;
        let report = answer
            .await
            .map_err(|_| "the daemon is shutting down".to_string())??;
        serde_json::to_value(report).map_err(|e| e.to_string())
    }
}

/// A print job as replies show it.
fn job_value(job: &PrintJob, fresh: Option<bool>) -> Value {
    let mut value = serde_json::to_value(job).expect("jobs serialise");
    if let Some(fresh) = fresh {
        value["fresh"] = Value::Bool(fresh);
    }
    value
}

/// Handles commands from the uplink until it drops its sender.
pub async fn run(
    mut commands: mpsc::Receiver<IncomingCommand>,
    replies: mpsc::Sender<Reply>,
    router: Router,
) {
    while let Some(command) = commands.recv().await {
        router
            .dispatch(&command.name, &command.payload, &replies)
            .await;
    }
}

/// `context`: read, change or reset a device's business context.
pub async fn context(
    contexts: &ContextRegistry,
    device: Option<&str>,
    set: Option<serde_json::Map<String, Value>>,
    reset: bool,
) -> Result<Value, String> {
    let Some(device) = device else {
        if set.is_some() || reset {
            return Err("give the \"device\" whose context to change".into());
        }
        let mut all: Vec<_> = contexts.all();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        let map: serde_json::Map<String, Value> = all
            .into_iter()
            .map(|(id, c)| {
                (
                    id.to_string(),
                    serde_json::to_value(&*c).expect("context serialises"),
                )
            })
            .collect();
        return Ok(Value::Object(map));
    };
    let context = match (set, reset) {
        (Some(_), true) => return Err("give either \"set\" or \"reset\", not both".into()),
        (Some(changes), false) => contexts.change(device, &changes).await?,
        (None, true) => contexts.reset(device).await?,
        (None, false) => contexts
            .get(device)
            .ok_or_else(|| format!("no device {device:?}"))?,
    };
    Ok(serde_json::json!({
        "device": device,
        "context": serde_json::to_value(&*context).expect("context serialises"),
    }))
}
