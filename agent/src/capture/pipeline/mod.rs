//! From device events to captured events: the only place that decides what a read means.
//!
//! ```text
//!  drivers ──DeviceEvent──▶ pipeline ──NewEvent──▶ store (group commit)
//!                              │                       │ outcome, in order
//!                              └── pending appends ──▶ feedback: counters, logs, latency,
//!                                                      signals to the scanner
//! ```
//!
//! Every read is decoded and judged by its device's capture settings ([`verdict`]): accepted
//! reads become events; rejected ones are refused (not recorded, the operator is told at once
//! so the item can be rescanned while still in hand) or, with `on_reject = "flag"`, recorded
//! as events that carry the error. A scanner with feedback configured is told each outcome
//! ([`crate::capture::feedback`]): rejected at once, accepted once the event is committed.
//!
//! The pipeline never waits for a commit: it hands the pending append to the feedback task
//! and takes the next read, so a slow fsync delays confirmations, not capture.

pub mod release;
mod rfid;
pub mod verdict;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use jiff::Timestamp;
use tokio::sync::{mpsc, oneshot};
use tracegate_drivers::{DeviceEvent, RawRead};

use crate::capture::contexts::ContextRegistry;
use crate::capture::devices::Routes;
use crate::capture::devices::kinds::gpio_input::InputLineConfig;
use crate::capture::event::build::{EventBuilder, InputEdge, Outcome};
use crate::capture::event::ids::Mapped;
use crate::capture::feedback::{SignalLine, Signals};
use crate::clock::Clock;
use crate::config::Outcome as Told;
use crate::config::{CaptureSettings, Config, LocationConfig, OnReject};
use crate::outbox::store::{AppendOutcome, NewHeld, PendingAppend, Store};
use crate::telemetry::health::{self, Responder};
use crate::telemetry::live::{LiveFeed, LiveRead, ReadOutcome};
use crate::telemetry::throttle::{Throttle, Throttled, Throttles};
use crate::telemetry::{DeviceRegistry, DeviceStatus};
use tracegate_epcis::context::EventKind;
use tracegate_epcis::model::Event;
use verdict::Verdict;

/// The next liveness question, if a watchdog asks any.
async fn asked(responder: &mut Option<Responder>) -> tokio::sync::oneshot::Sender<()> {
    match responder {
        Some(r) => r.asked().await,
        None => std::future::pending().await,
    }
}

/// How often the pipeline summarises warnings its throttles left out.
const LOG_SUMMARY_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// A read waiting for its commit.
struct Pending {
    device: Arc<DeviceStatus>,
    append: PendingAppend,
    read_at: Instant,
    /// Where to signal the outcome, and whether the read was flagged (a reject, recorded).
    signal: Option<SignalLine>,
    /// The feedback rules (an output line's pattern for the outcome), on the last part of
    /// a read only: one verdict per read.
    signals: Option<Arc<Signals>>,
    flagged: bool,
}

/// What a read becomes.
// Returned once per read and moved straight on, as the `Option<Event>` before it was.
#[allow(clippy::large_enum_variant)]
enum Decision {
    /// Rejected and not recorded.
    Refused,
    /// Accepted, waiting in an open packing session for its container.
    Waiting,
    /// Events to store (one; several for a case split into parts); `flagged` when it records
    /// a rejected read.
    Record { events: Vec<Event>, flagged: bool },
    /// Refused by a bound (a case already full): not recorded, the operator is told.
    Full,
}

/// What the pipeline knows about one device.
struct Station {
    status: Arc<DeviceStatus>,
    capture: CaptureSettings,
    /// Contents read so far in an open packing session (aggregation / association).
    session: Vec<Mapped>,
    /// The previous read's payload and time, for `dedupe_ms`.
    last: Option<(bytes::Bytes, Instant)>,
    /// Operator feedback through the scanner, if configured.
    signal: Option<SignalLine>,
    /// Keeps a scanner reading garbage from filling the log with rejections.
    reject_log: Throttle,
    /// Closed-case lines: a fast packing line closes cases every second or two, and each is
    /// its own event already; a few per window are logged, the rest summarised.
    case_log: Throttle,
    /// An RFID reader's tag smoothing.
    rfid: Option<crate::capture::rfid::station::RfidStation>,
}

impl Station {
    /// Whether `read` repeats the previous read within `dedupe_ms` (the window slides: an
    /// item held in front of a presentation scanner is one read however long it stays).
    fn is_repeat(&mut self, read: &RawRead) -> bool {
        let window = std::time::Duration::from_millis(self.capture.dedupe_ms);
        let repeat = !window.is_zero()
            && self.last.as_ref().is_some_and(|(payload, at)| {
                *payload == read.payload && read.mono.saturating_duration_since(*at) < window
            });
        self.last = Some((read.payload.clone(), read.mono));
        repeat
    }
}

/// A new set of devices for the pipeline (a reload): sent once the devices that stop have
/// stopped, so every read they made is already queued ahead of it; answered once applied.
#[derive(Debug)]
pub struct Reconfigure {
    /// The config now in force.
    pub config: Arc<Config>,
    /// Answered once the reads queued before it are processed and the new stations are in.
    pub done: oneshot::Sender<()>,
}

/// The capture pipeline.
pub struct Pipeline {
    store: Store,
    devices: DeviceRegistry,
    routes: Routes,
    stations: HashMap<Arc<str>, Station>,
    control: Option<mpsc::Receiver<Reconfigure>>,
    /// Bad-input warnings per device, rate-limited.
    input_log: Throttles,
    /// Largest event the uplink can send (`Config::max_event_bytes`): larger ones are refused.
    max_event_bytes: usize,
    contexts: ContextRegistry,
    builder: EventBuilder,
    clock: Arc<dyn Clock>,
    responder: Option<Responder>,
    /// Whether any station is an RFID reader (whose departures a tick expires).
    has_rfid: bool,
    /// Operator feedback rules.
    signals: Arc<Signals>,
    /// GPIO input devices' lines (roles, read-window rules).
    inputs: HashMap<Arc<str>, Vec<InputLineConfig>>,
    /// `[location]`, for the events of recorded input edges.
    location: LocationConfig,
    /// What the commissioning page shows live (written only while someone watches).
    live: Arc<LiveFeed>,
}

impl Pipeline {
    /// A pipeline writing to `store`, counting into `devices`, stamping each device's current
    /// context, dating reads by `clock`.
    pub fn new(
        config: &Config,
        store: Store,
        devices: DeviceRegistry,
        contexts: ContextRegistry,
        builder: EventBuilder,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let mut pipeline = Pipeline {
            store,
            devices,
            routes: Routes::default(),
            stations: HashMap::new(),
            control: None,
            input_log: Throttles::default(),
            max_event_bytes: config.max_event_bytes(),
            contexts,
            builder,
            clock,
            responder: None,
            has_rfid: false,
            signals: Signals::new(Routes::default(), Vec::new()),
            inputs: HashMap::new(),
            location: config.location.clone(),
            live: LiveFeed::new(),
        };
        pipeline.set_stations(config);
        pipeline
    }

    /// Tells the scanners that have feedback bytes each read's outcome, through `routes`.
    pub fn with_routes(mut self, routes: Routes, config: &Config) -> Self {
        self.signals = Signals::new(routes.clone(), config.feedback.clone());
        self.routes = routes;
        self.set_stations(config);
        self
    }

    /// The feedback rules, for the task that watches the uplink.
    pub fn signals(&self) -> Arc<Signals> {
        self.signals.clone()
    }

    /// Shows reads and tags on `feed` while the commissioning page watches it.
    pub fn with_live(mut self, feed: Arc<LiveFeed>) -> Self {
        self.live = feed;
        self
    }

    /// Adds `read` to the live feed, with the event(s) it became (the caller checked that
    /// someone watches).
    fn show(
        &self,
        read: &RawRead,
        outcome: ReadOutcome,
        reason: Option<String>,
        events: Vec<String>,
    ) {
        let Some(station) = self.stations.get(&read.device) else {
            return;
        };
        let at = Timestamp::try_from(read.at).unwrap_or_else(|_| self.clock.now());
        self.live.read(LiveRead {
            seq: 0,
            at,
            device: read.device.clone(),
            payload: read.payload.clone(),
            mode: station.capture.decode_as,
            rules: station.capture.rules(),
            outcome,
            reason,
            events,
        });
    }

    /// Takes new device sets from `control` (reloads).
    pub fn with_control(mut self, control: mpsc::Receiver<Reconfigure>) -> Self {
        self.control = Some(control);
        self
    }

    /// One station per input device of `config`: a device that stays keeps its open packing
    /// session and dedupe memory; one that is gone has its open session reported, discarded.
    fn set_stations(&mut self, config: &Config) {
        self.signals.replace(config.feedback.clone());
        self.location = config.location.clone();
        self.inputs = config
            .devices
            .iter()
            .filter(|d| !d.capabilities.input_lines.is_empty())
            .map(|d| (d.id.clone(), d.capabilities.input_lines.clone()))
            .collect();
        for device in &config.devices {
            if let Some(status) = self.devices.get(&device.id)
                && status.state() == tracegate_drivers::DeviceState::Down
            {
                self.signals.condition(&device.id, Told::DeviceDown, true);
            }
        }
        let mut old = std::mem::take(&mut self.stations);
        for device in &config.devices {
            let (Some(input), Some(status)) = (&device.input, self.devices.get(&device.id)) else {
                continue;
            };
            let signal = device
                .capabilities
                .feedback
                .as_ref()
                .map(|f| SignalLine::new(device.id.clone(), self.routes.clone(), f));
            let (session, last, rfid) = match old.remove(&device.id) {
                Some(station) => (station.session, station.last, station.rfid),
                None => (Vec::new(), None, None),
            };
            // A reader whose settings stay keeps the tags it is following; one whose settings
            // changed starts afresh, and says what it lets go.
            let rfid = match (device.capabilities.rfid.as_ref(), rfid) {
                (Some(new), Some(kept)) if *kept.settings == **new => Some(kept),
                (new, old_rfid) => {
                    if let Some(old_rfid) = old_rfid.filter(|r| r.population() > 0) {
                        tracing::warn!(device = %device.id, tags = old_rfid.population(), "reader removed or changed with tags in view; their passes are not recorded");
                    }
                    new.map(|new| {
                        crate::capture::rfid::station::RfidStation::new(
                            new.clone(),
                            status.rfid_counters(),
                        )
                    })
                }
            };
            self.stations.insert(
                device.id.clone(),
                Station {
                    status,
                    capture: input.capture.clone(),
                    session,
                    last,
                    signal,
                    reject_log: Throttle::default(),
                    case_log: Throttle::default(),
                    rfid,
                },
            );
        }
        for (id, station) in old {
            if !station.session.is_empty() {
                tracing::warn!(device = %id, reads = station.session.len(), "device removed with an open packing session; its reads are discarded, rescan the unit");
            }
            if let Some(rfid) = station.rfid.filter(|r| r.population() > 0) {
                tracing::warn!(device = %id, tags = rfid.population(), "reader removed or changed with tags in view; their passes are not recorded");
            }
        }
        self.has_rfid = self.stations.values().any(|s| s.rfid.is_some());
    }

    /// Answers the watchdog's liveness probe between reads.
    pub fn with_probe(mut self, responder: Responder) -> Self {
        self.responder = Some(responder);
        self
    }

    /// Processes device events until every driver has dropped its sender, then waits until
    /// every read has its outcome.
    pub async fn run(mut self, mut events: mpsc::Receiver<DeviceEvent>) {
        let (pending_tx, pending_rx) = mpsc::channel::<Pending>(8192);
        let feedback = tokio::spawn(feedback(pending_rx));
        let mut responder = self.responder.take();
        let mut control = self.control.take();
        let mut summaries = tokio::time::interval(LOG_SUMMARY_EVERY);
        summaries.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut rfid_tick = tokio::time::interval(rfid::TICK);
        rfid_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            // Departures are looked for only while some reader has tags in view: an idle
            // gate does not wake the pipeline.
            let tags_in_view = self.has_rfid
                && self
                    .stations
                    .values()
                    .any(|s| s.rfid.as_ref().is_some_and(|r| r.population() > 0));
            // Summaries are due only after lines were left out: an idle pipeline sleeps.
            let summaries_due = self.input_log.has_suppressed()
                || self
                    .stations
                    .values()
                    .any(|s| s.reject_log.has_suppressed() || s.case_log.has_suppressed());
            let event = tokio::select! {
                _ = summaries.tick(), if summaries_due => {
                    self.log_summaries();
                    continue;
                }
                _ = rfid_tick.tick(), if tags_in_view => {
                    if !self.expire_rfid(std::time::Instant::now(), &pending_tx).await {
                        break;
                    }
                    continue;
                }
                event = events.recv() => match event {
                    Some(event) => event,
                    None => break,
                },
                question = asked(&mut responder) => {
                    health::answer(question);
                    continue;
                }
                Some(reconfigure) = next_reconfigure(&mut control) => {
                    // Everything the stopped devices sent is queued ahead of this message:
                    // it is processed under the old stations first.
                    while let Ok(event) = events.try_recv() {
                        if !self.process(event, &pending_tx).await {
                            break;
                        }
                    }
                    self.set_stations(&reconfigure.config);
                    let _ = reconfigure.done.send(());
                    continue;
                }
            };
            if !self.process(event, &pending_tx).await {
                break;
            }
        }
        for (id, station) in &self.stations {
            if !station.session.is_empty() {
                tracing::warn!(device = %id, reads = station.session.len(), "open packing session discarded at shutdown; rescan the unit");
            }
        }
        self.flush_rfid(&pending_tx).await;
        drop(pending_tx);
        let _ = feedback.await;
    }

    /// Says how many warnings the throttles left out, for floods that have stopped.
    fn log_summaries(&mut self) {
        for (id, station) in &mut self.stations {
            if let Some(n) = station.reject_log.flush() {
                tracing::warn!(device = %id, "{n} more rejected reads were not logged (rejects_total and last_reject in status)");
            }
            if let Some(n) = station.case_log.flush() {
                tracing::info!(device = %id, "{n} more closed packing sessions were not logged (each is its aggregation event)");
            }
        }
        for (id, n) in self.input_log.flush() {
            tracing::warn!(device = %id, "{n} more bad-input warnings were not logged (errors_total in status)");
        }
    }

    /// Handles one device event; false when the feedback task is gone (shutting down).
    async fn process(&mut self, event: DeviceEvent, pending_tx: &mpsc::Sender<Pending>) -> bool {
        let read = match event {
            DeviceEvent::Read(read) => read,
            DeviceEvent::State {
                device,
                state,
                detail,
            } => {
                if let Some(status) = self.devices.get(&device) {
                    status.set_state(state, detail);
                }
                use tracegate_drivers::DeviceState;
                match state {
                    DeviceState::Down => {
                        self.signals.condition(&device, Told::DeviceDown, true);
                    }
                    DeviceState::Up | DeviceState::Stopped => {
                        self.signals.condition(&device, Told::DeviceDown, false);
                        if state == DeviceState::Stopped {
                            // A printer removed by a reload no longer holds its fault.
                            self.signals.condition(&device, Told::PrinterFault, false);
                        }
                        if state == DeviceState::Up {
                            self.signals.output_up(&device);
                        }
                    }
                    DeviceState::Connecting => {}
                }
                return true;
            }
            DeviceEvent::Input {
                device,
                line,
                active,
                at,
                mono,
            } => {
                return self
                    .input_edge(device, line, active, at, mono, pending_tx)
                    .await;
            }
            DeviceEvent::FrameError { device, message } => {
                if let Some(status) = self.devices.get(&device) {
                    status.error();
                }
                let log = self.input_log.check(&device);
                if log != Throttled::Quiet {
                    tracing::warn!(device = %device, "bad input: {message}{}", log.note());
                }
                return true;
            }
            DeviceEvent::Output {
                device,
                line,
                on,
                pattern,
                owner,
            } => {
                if let Some(status) = self.devices.get(&device) {
                    status.set_output(line, on, &pattern, owner.as_deref());
                }
                return true;
            }
            DeviceEvent::Printer { device, status } => {
                if let Some(report) = self.devices.get(&device) {
                    report.set_printer(&status);
                }
                self.signals
                    .condition(&device, Told::PrinterFault, !status.ready());
                let log = self.input_log.check(&device);
                if log != Throttled::Quiet {
                    if status.ready() {
                        tracing::info!(device = %device, "printer ready{}", log.note());
                    } else {
                        tracing::warn!(device = %device, "printer: {}{}", status.describe(), log.note());
                    }
                }
                return true;
            }
        };
        let Some(station) = self.stations.get_mut(&read.device) else {
            tracing::warn!(device = %read.device, "read from a device without an input role ignored");
            return true;
        };
        let device = station.status.clone();
        device.read();
        if station.rfid.is_some() {
            return self.rfid_read(read, pending_tx).await;
        }
        if station.is_repeat(&read) {
            device.duplicate();
            if self.live.watching() {
                self.show(&read, ReadOutcome::Duplicate, None, Vec::new());
            }
            self.signals.tell(&device, Told::Duplicate);
            tracing::debug!(device = %device.id, "repeated read within dedupe_ms dropped");
            return true;
        }
        let signal = station.signal.clone();
        let (events, flagged) = match self.event_for(&read) {
            Decision::Record { events, flagged } => (events, flagged),
            // Nothing to commit: the operator hears the verdict now.
            unrecorded => {
                let accepted = matches!(unrecorded, Decision::Waiting);
                if self.live.watching() {
                    let (outcome, reason) = match &unrecorded {
                        Decision::Waiting => (ReadOutcome::InCase, None),
                        Decision::Refused => (ReadOutcome::Refused, device.last_reject()),
                        _ => (ReadOutcome::CaseFull, device.last_reject()),
                    };
                    self.show(&read, outcome, reason, Vec::new());
                }
                self.signals.tell(
                    &device,
                    if accepted {
                        Told::Captured
                    } else {
                        Told::Rejected
                    },
                );
                if let Some(signal) = &signal
                    && !signal.tell(matches!(unrecorded, Decision::Waiting))
                {
                    device.feedback_dropped();
                }
                return true;
            }
        };
        let parts = events.len();
        let live_reason = (flagged && self.live.watching())
            .then(|| device.last_reject())
            .flatten();
        // The event ids the read became, for the page (only while it watches).
        let watched = self.live.watching();
        let mut ids = Vec::new();
        for (index, event) in events.into_iter().enumerate() {
            let append = self
                .capture(event, &read, watched.then_some(&mut ids))
                .await;
            if index + 1 == parts && watched {
                let outcome = if flagged {
                    ReadOutcome::Flagged
                } else {
                    ReadOutcome::Recorded
                };
                self.show(
                    &read,
                    outcome,
                    live_reason.clone(),
                    std::mem::take(&mut ids),
                );
            }
            let pending = Pending {
                device: device.clone(),
                append,
                read_at: read.mono,
                // The operator hears one verdict per read: the last part's.
                signal: if index + 1 == parts {
                    signal.clone()
                } else {
                    None
                },
                signals: (index + 1 == parts).then(|| self.signals.clone()),
                flagged,
            };
            if pending_tx.send(pending).await.is_err() {
                return false;
            }
        }
        true
    }

    /// A settled input edge: status, the log, the line's read-window rule, and its event when
    /// the line records edges. False when the pipeline is shutting down.
    async fn input_edge(
        &mut self,
        device: Arc<str>,
        line: String,
        active: bool,
        at: std::time::SystemTime,
        mono: Instant,
        pending_tx: &mpsc::Sender<Pending>,
    ) -> bool {
        let config = self
            .inputs
            .get(&device)
            .and_then(|lines| lines.iter().find(|l| l.name == line));
        let words = config.map_or(if active { "active" } else { "inactive" }, |c| {
            c.role.words(active)
        });
        let at = Timestamp::try_from(at).unwrap_or_else(|_| Timestamp::now());
        let edge = self
            .devices
            .get(&device)
            .is_some_and(|status| status.set_input(line.clone(), active, words, at));
        if !edge {
            return true; // the level reported when the device opened
        }
        let log = self.input_log.check(&device);
        if log != Throttled::Quiet {
            tracing::info!(device = %device, line = %line, "{words} at {at:.3}{}", log.note());
        }
        if let Some(reader) = config.and_then(|c| c.read_window.as_deref()) {
            let request = tracegate_drivers::CommandRequest::fire_and_forget(
                tracegate_drivers::DeviceCommand::ReadWindow(active),
            );
            if self.routes.try_send(reader, request).is_err() {
                if let Some(status) = self.devices.get(&device) {
                    status.feedback_dropped();
                }
                if self.input_log.check(&device) != Throttled::Quiet {
                    tracing::warn!(device = %device, reader, "{words}: the reader's read window could not be {} (the reader is not running or its inbox is full; feedback_dropped_total)", if active { "opened" } else { "closed" });
                }
            }
        }
        let (Some(config), Some(status)) = (config, self.devices.get(&device)) else {
            return true;
        };
        if !config.record.records(active) {
            return true;
        }
        let at = if self.clock.synced() {
            at
        } else {
            self.clock.now() // untrusted: replaced when the held event is released
        };
        let event = self.builder.input_event(&InputEdge {
            at,
            device: &device,
            line: &line,
            active,
            words,
            biz_step: config.biz_step.as_deref(),
            read_point: self.location.read_point.as_ref().map(|u| u.as_str()),
            biz_location: self.location.biz_location.as_ref().map(|u| u.as_str()),
        });
        let append = self.capture_from(event, &device, mono, None).await;
        let pending = Pending {
            device: status,
            append,
            read_at: mono,
            signal: None,
            signals: None,
            flagged: false,
        };
        pending_tx.send(pending).await.is_ok()
    }

    /// The event a read makes now, if any: refused reads make none, and in a packing session
    /// contents wait for their container.
    fn event_for(&mut self, read: &RawRead) -> Decision {
        let Some(station) = self.stations.get_mut(&read.device) else {
            return Decision::Refused;
        };
        let Some(context) = self.contexts.get(&read.device) else {
            return Decision::Refused;
        };
        let at = if self.clock.synced() {
            Timestamp::try_from(read.at).unwrap_or_else(|_| self.clock.now())
        } else {
            // Untrusted; replaced when the held read is released.
            self.clock.now()
        };
        // HID POS scanners send the AIM identifier beside the data, not in it.
        let payload: std::borrow::Cow<'_, [u8]> = match &read.meta.symbology {
            Some(aim) if !read.payload.starts_with(b"]") => {
                let mut p = aim.as_bytes().to_vec();
                p.extend_from_slice(&read.payload);
                p.into()
            }
            _ => (&read.payload[..]).into(),
        };
        let verdict = verdict::judge(&payload, &station.capture);
        let id = match &verdict {
            Verdict::Reject { kind, error } => {
                let refused = station.capture.on_reject == OnReject::Refuse;
                station.status.rejected(error.to_string());
                let log = station.reject_log.check();
                if log != Throttled::Quiet {
                    // The read's bytes, bounded: a garbage frame can be 1 MiB.
                    let shown: String = read
                        .payload
                        .escape_ascii()
                        .to_string()
                        .chars()
                        .take(200)
                        .collect();
                    tracing::warn!(
                        device = %station.status.id,
                        kind = kind.as_str(),
                        error = error.kind,
                        read = %shown,
                        "{} read: {error}{}{}",
                        if refused { "REFUSED" } else { "FLAGGED" },
                        if refused { "; rescan the item" } else { "" },
                        log.note(),
                    );
                }
                if refused {
                    return Decision::Refused;
                }
                return Decision::Record {
                    events: vec![self.builder.object_event(
                        at,
                        read,
                        Outcome::Flagged(*kind, error),
                        &context,
                    )],
                    flagged: true,
                };
            }
            Verdict::Accept(id) => id,
        };
        match context.event {
            EventKind::Object => Decision::Record {
                events: vec![self.builder.read_event(at, read, id, &context)],
                flagged: false,
            },
            EventKind::Aggregation | EventKind::Association => {
                let mapped = self.builder.map(id, at);
                if mapped.is_container() {
                    let children = std::mem::take(&mut station.session);
                    let log = station.case_log.check();
                    if log != Throttled::Quiet {
                        tracing::info!(device = %read.device, contents = children.len(), "packing session closed{}", log.note());
                    }
                    Decision::Record {
                        events: self.builder.parent_events(
                            at,
                            &read.device,
                            &mapped,
                            &children,
                            &context,
                        ),
                        flagged: false,
                    }
                } else if station.session.len() >= station.capture.max_items_per_case {
                    let message = format!(
                        "the open case already holds {} items (max_items_per_case); read its container label to close it, then go on",
                        station.session.len()
                    );
                    station.status.rejected(message.clone());
                    if station.reject_log.check() != Throttled::Quiet {
                        tracing::warn!(device = %read.device, "REFUSED read: {message}");
                    }
                    Decision::Full
                } else {
                    station.session.push(mapped);
                    Decision::Waiting
                }
            }
        }
    }

    /// Stores `event`: committed now when the clock is right, held until it is otherwise.
    /// An event larger than the uplink can ever send is refused here, at capture, so it can
    /// never stop delivery. With `ids`, its event id is added there (for the page).
    async fn capture(
        &self,
        event: Event,
        read: &RawRead,
        ids: Option<&mut Vec<String>>,
    ) -> PendingAppend {
        self.capture_from(event, &read.device, read.mono, ids).await
    }

    /// [`Pipeline::capture`] for an event that is not a read's (an input edge): `device`'s,
    /// happened at `mono`.
    async fn capture_from(
        &self,
        event: Event,
        device: &Arc<str>,
        mono: Instant,
        ids: Option<&mut Vec<String>>,
    ) -> PendingAppend {
        if self.clock.synced() {
            let event = self.builder.finish(event, device);
            if let Some(ids) = ids {
                ids.push(event.event_id.clone());
            }
            if event.body.len() > self.max_event_bytes {
                return PendingAppend::ready(AppendOutcome::TooLarge {
                    bytes: event.body.len(),
                    limit: self.max_event_bytes,
                });
            }
            return self.store.append(event).await;
        }
        let held = NewHeld {
            device: device.clone(),
            boot_id: self.clock.boot_id(),
            boottime_ns: self.clock.boottime_at(mono),
            wall_ms: event.when().event_time.as_millisecond(),
            draft: serde_json::to_string(&event).expect("events serialise"),
        };
        // The released event is the draft re-timed and re-hashed: a few hundred bytes more.
        if held.draft.len() + 512 > self.max_event_bytes {
            return PendingAppend::ready(AppendOutcome::TooLarge {
                bytes: held.draft.len(),
                limit: self.max_event_bytes,
            });
        }
        self.store.hold(held).await
    }
}

/// The next reconfiguration; never, without a control channel.
async fn next_reconfigure(
    control: &mut Option<mpsc::Receiver<Reconfigure>>,
) -> Option<Reconfigure> {
    match control {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// Awaits each read's commit in order and reports the outcome.
async fn feedback(mut pending: mpsc::Receiver<Pending>) {
    let mut failure_log = Throttles::default();
    while let Some(p) = pending.recv().await {
        let outcome = p.append.await;
        let told = match &outcome {
            AppendOutcome::Committed { .. } | AppendOutcome::Held { .. } if p.flagged => {
                Told::Rejected
            }
            AppendOutcome::Committed { .. } | AppendOutcome::Held { .. } => Told::Captured,
            AppendOutcome::Refused => Told::OutboxFull,
            AppendOutcome::TooLarge { .. } | AppendOutcome::Failed(_) => Told::Rejected,
        };
        // As for the scanner's tone: a verdict long after the read would be taken for the
        // next item's, so it shows nothing (counted late below, or here for rules only).
        let late = p.read_at.elapsed() > crate::capture::feedback::LATE;
        if let Some(signals) = &p.signals {
            if !late {
                signals.tell(&p.device, told);
            } else if p.signal.is_none() {
                p.device.feedback_late();
            }
        }
        if let Some(signal) = &p.signal {
            let captured = matches!(
                outcome,
                AppendOutcome::Committed { .. } | AppendOutcome::Held { .. }
            );
            if p.read_at.elapsed() > crate::capture::feedback::LATE {
                // The item is no longer in hand: silence (rescan) rather than a tone that
                // would be taken for the next item's.
                p.device.feedback_late();
            } else if !signal.tell(captured && !p.flagged) {
                p.device.feedback_dropped();
            }
        }
        match outcome {
            AppendOutcome::Committed { seq } => {
                tracing::trace!(device = %p.device.id, seq, latency_us = p.read_at.elapsed().as_micros() as u64, "captured");
            }
            AppendOutcome::Held { id } => {
                tracing::trace!(device = %p.device.id, held = id, "captured, held until the clock is synchronised");
            }
            AppendOutcome::Refused => {
                // Counted and logged (rate-limited) by the store; the device counts it too so
                // an operator sees which scanner's reads were lost.
                p.device.error();
            }
            AppendOutcome::TooLarge { bytes, limit } => {
                p.device.oversized();
                let log = failure_log.check(&p.device.id);
                if log != Throttled::Quiet {
                    tracing::error!(device = %p.device.id, "read NOT captured: its event has {bytes} bytes, more than the uplink can send (mqtt.batch_max_bytes = {limit}){}", log.note());
                }
            }
            AppendOutcome::Failed(message) => {
                p.device.error();
                let log = failure_log.check(&p.device.id);
                if log != Throttled::Quiet {
                    tracing::error!(device = %p.device.id, "read NOT captured: {message}{}", log.note());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
