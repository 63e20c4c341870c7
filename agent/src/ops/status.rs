//! Live figures of the daemon, and the status report built from them: the same JSON is the
//! retained MQTT status message and the answer to `tracegate status --json`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use tracegate_drivers::DeviceState;

use crate::capture::clock::Clock;
use crate::capture::store::{OutboxReader, Store};
use crate::config::{ClockConfig, Config, DeviceConfig};
use crate::ops::latency::LatencySnapshot;

/// Broker connection figures, updated by the sync task.
#[derive(Debug, Default)]
pub struct BrokerStatus {
    connected: AtomicBool,
    connected_since_ms: AtomicI64,
    last_ack_ms: AtomicI64,
    connects_total: AtomicU64,
    events_published_total: AtomicU64,
    events_acked_total: AtomicU64,
    last_error: Mutex<Option<String>>,
    publish_rate: RateWindow,
    /// Since when the broker has been unreachable (monotonic); `None` until first asked.
    offline_since: Mutex<Option<std::time::Instant>>,
    /// The node in use or being tried (with `mqtt.failover_hosts`, not always `mqtt.host`).
    node: Mutex<Option<(String, u16)>>,
    /// The broker's latest refusal of CONNECT (name, explanation), until the next CONNACK.
    refusal: Mutex<Option<(&'static str, &'static str)>>,
    refusals_total: AtomicU64,
    changes: tokio::sync::Notify,
}

impl BrokerStatus {
    /// A future that completes at the next connect or disconnect (create it before looking
    /// at the state, so a change in between is not missed).
    pub fn changed(&self) -> tokio::sync::futures::Notified<'_> {
        self.changes.notified()
    }

    /// How long the broker has been unreachable; `None` while connected. Before the first
    /// connection, counted from the first time it is asked (the daemon's start).
    pub fn offline_for(&self) -> Option<std::time::Duration> {
        if self.is_connected() {
            return None;
        }
        let mut since = self.offline_since.lock().unwrap_or_else(|p| p.into_inner());
        Some(since.get_or_insert_with(std::time::Instant::now).elapsed())
    }

    /// The uplink connects (or tries to) to this broker node: status shows it from now on.
    pub fn node(&self, host: &str, port: u16) {
        *self.node.lock().unwrap_or_else(|p| p.into_inner()) = Some((host.to_string(), port));
    }

    /// A CONNACK was received.
    pub fn connected(&self) {
        *self.offline_since.lock().unwrap_or_else(|p| p.into_inner()) = None;
        *self.refusal.lock().unwrap_or_else(|p| p.into_inner()) = None;
        self.connected_since_ms
            .store(Timestamp::now().as_millisecond(), Ordering::Relaxed);
        self.connects_total.fetch_add(1, Ordering::Relaxed);
        self.connected.store(true, Ordering::Relaxed);
        self.changes.notify_waiters();
    }

    /// The connection ended (`error` says why, if it was not a clean shutdown).
    pub fn disconnected(&self, error: Option<String>) {
        if self.connected.swap(false, Ordering::Relaxed) {
            *self.offline_since.lock().unwrap_or_else(|p| p.into_inner()) =
                Some(std::time::Instant::now());
        }
        self.changes.notify_waiters();
        if let Some(e) = error {
            *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
        }
    }

    /// The broker refused the session (a CONNACK return code): reachable, but it will not
    /// take this gateway until a credential or its ACL changes.
    pub fn refused(&self, refusal: crate::capture::sync::Refusal, error: String) {
        self.refusals_total.fetch_add(1, Ordering::Relaxed);
        *self.refusal.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((refusal.name(), refusal.explain()));
        self.disconnected(Some(error));
    }

    /// A connection attempt failed.
    pub fn failed(&self, error: String) {
        self.disconnected(Some(error));
    }

    /// A batch of `events` was handed to the client.
    pub fn published(&self, events: usize) {
        self.events_published_total
            .fetch_add(events as u64, Ordering::Relaxed);
    }

    /// The broker acknowledged a batch of `events`.
    pub fn acked(&self, events: usize) {
        self.last_ack_ms
            .store(Timestamp::now().as_millisecond(), Ordering::Relaxed);
        self.events_acked_total
            .fetch_add(events as u64, Ordering::Relaxed);
    }

    /// Is the session up?
    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    fn report(&self, host: &str, port: u16) -> BrokerReport {
        let offline = self.offline_for();
        let connected = self.is_connected();
        let connects_total = self.connects_total.load(Ordering::Relaxed);
        let published = self.events_published_total.load(Ordering::Relaxed);
        let (host, port) = self
            .node
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .unwrap_or_else(|| (host.to_string(), port));
        BrokerReport {
            connected,
            host,
            port,
            connected_since: connected
                .then(|| ms_to_rfc3339(self.connected_since_ms.load(Ordering::Relaxed)))
                .flatten(),
            last_ack_at: ms_to_rfc3339(self.last_ack_ms.load(Ordering::Relaxed)),
            connects_total,
            reconnects_total: connects_total.saturating_sub(1),
            events_published_total: published,
            publish_rate_per_s: self.publish_rate.rate(published),
            events_acked_total: self.events_acked_total.load(Ordering::Relaxed),
            last_error: self
                .last_error
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
            offline_since: offline
                .and_then(|d| {
                    Timestamp::now()
                        .checked_sub(jiff::SignedDuration::try_from(d).ok()?)
                        .ok()
                })
                .map(|t| format!("{t:.3}")),
            offline_s: offline.map(|d| d.as_secs()),
            refused: self.refusal.lock().unwrap_or_else(|p| p.into_inner()).map(
                |(reason, explanation)| RefusalReport {
                    reason: reason.to_string(),
                    explanation: explanation.to_string(),
                },
            ),
            connect_refusals_total: self.refusals_total.load(Ordering::Relaxed),
        }
    }
}

/// Command figures, updated by the router and the uplink.
#[derive(Debug, Default)]
pub struct CommandStats {
    received_total: AtomicU64,
    refused_total: AtomicU64,
    failed_total: AtomicU64,
    replies_dropped_total: AtomicU64,
}

impl CommandStats {
    /// A command arrived.
    pub fn received(&self) {
        self.received_total.fetch_add(1, Ordering::Relaxed);
    }

    /// A command was refused before anything was done (malformed, unknown, oversized, busy).
    pub fn refused(&self) {
        self.refused_total.fetch_add(1, Ordering::Relaxed);
    }

    /// A command was carried out and failed (a device refused, a reload did not load).
    pub fn failed(&self) {
        self.failed_total.fetch_add(1, Ordering::Relaxed);
    }

    /// A reply could not be queued for the broker (the uplink's queue was full).
    pub fn reply_dropped(&self) {
        self.replies_dropped_total.fetch_add(1, Ordering::Relaxed);
    }

    fn report(&self) -> CommandReport {
        CommandReport {
            received_total: self.received_total.load(Ordering::Relaxed),
            refused_total: self.refused_total.load(Ordering::Relaxed),
            failed_total: self.failed_total.load(Ordering::Relaxed),
            replies_dropped_total: self.replies_dropped_total.load(Ordering::Relaxed),
        }
    }
}

/// Commands since start.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CommandReport {
    /// Commands received (MQTT and control socket).
    pub received_total: u64,
    /// Refused before anything was done: malformed, unknown, oversized, or busy.
    pub refused_total: u64,
    /// Carried out and failed.
    pub failed_total: u64,
    /// Replies that could not be queued for the broker.
    pub replies_dropped_total: u64,
}

fn ms_to_rfc3339(ms: i64) -> Option<String> {
    (ms > 0)
        .then(|| Timestamp::from_millisecond(ms).ok())
        .flatten()
        .map(|t| format!("{t:.3}"))
}

/// One device's figures, updated by the pipeline.
#[derive(Debug)]
pub struct DeviceStatus {
    /// Device id.
    pub id: Arc<str>,
    /// Device kind (`kind = "…"`).
    pub kind: &'static str,
    state: Mutex<(DeviceState, Option<String>, i64)>,
    outputs: Mutex<BTreeMap<String, bool>>,
    patterns: Mutex<BTreeMap<String, String>>,
    inputs: Mutex<BTreeMap<String, InputReport>>,
    printer: Mutex<Option<PrinterReport>>,
    printer_faults_total: AtomicU64,
    edges_total: AtomicU64,
    signals_total: AtomicU64,
    reads_total: AtomicU64,
    errors_total: AtomicU64,
    rejects_total: AtomicU64,
    duplicates_total: AtomicU64,
    oversized_total: AtomicU64,
    feedback_dropped_total: AtomicU64,
    feedback_late_total: AtomicU64,
    last_reject: Mutex<Option<String>>,
    last_read_ms: AtomicI64,
    rfid: std::sync::OnceLock<Arc<RfidCounters>>,
}

/// What an RFID reader's smoothing did (see README, "RFID gates").
#[derive(Debug, Default)]
pub struct RfidCounters {
    tags_present: AtomicU64,
    arrivals_total: AtomicU64,
    departures_total: AtomicU64,
    in_total: AtomicU64,
    out_total: AtomicU64,
    undecided_total: AtomicU64,
    filtered_total: AtomicU64,
    below_floor_total: AtomicU64,
    over_cap_total: AtomicU64,
}

impl RfidCounters {
    /// Tags followed now.
    pub fn set_present(&self, n: usize) {
        self.tags_present.store(n as u64, Ordering::Relaxed);
    }

    /// A movement was recorded (`arrived`, `departed`, `in`, `out`, `undecided`).
    pub fn movement(&self, movement: &str) {
        let counter = match movement {
            "arrived" => &self.arrivals_total,
            "departed" => &self.departures_total,
            "in" => &self.in_total,
            "out" => &self.out_total,
            _ => &self.undecided_total,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// A tag (or a sighting on an antenna in no zone) was filtered out.
    pub fn filtered(&self) {
        self.filtered_total.fetch_add(1, Ordering::Relaxed);
    }

    /// A sighting was weaker than the RSSI floor.
    pub fn below_floor(&self) {
        self.below_floor_total.fetch_add(1, Ordering::Relaxed);
    }

    /// A new tag was not followed: the population is at `max_tags`.
    pub fn over_cap(&self) {
        self.over_cap_total.fetch_add(1, Ordering::Relaxed);
    }

    fn report(&self) -> RfidReport {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        RfidReport {
            tags_present: get(&self.tags_present),
            arrivals_total: get(&self.arrivals_total),
            departures_total: get(&self.departures_total),
            in_total: get(&self.in_total),
            out_total: get(&self.out_total),
            undecided_total: get(&self.undecided_total),
            filtered_total: get(&self.filtered_total),
            below_floor_total: get(&self.below_floor_total),
            over_cap_total: get(&self.over_cap_total),
        }
    }
}

/// An RFID reader's smoothing figures in the status report.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct RfidReport {
    /// Tags followed now.
    pub tags_present: u64,
    /// Tags that arrived in a zone.
    pub arrivals_total: u64,
    /// Tags that left a zone.
    pub departures_total: u64,
    /// Tags that went in through the gate.
    pub in_total: u64,
    /// Tags that went out.
    pub out_total: u64,
    /// Passes whose direction could not be told (recorded as plain observations).
    pub undecided_total: u64,
    /// Tags and sightings filtered out (EPC filters, antennas in no zone).
    pub filtered_total: u64,
    /// Sightings weaker than `rssi_floor_dbm`.
    pub below_floor_total: u64,
    /// New tags not followed because `max_tags` were followed already.
    pub over_cap_total: u64,
}

impl DeviceStatus {
    fn new(id: Arc<str>, kind: &'static str) -> Self {
        DeviceStatus {
            id,
            kind,
            outputs: Mutex::new(BTreeMap::new()),
            patterns: Mutex::new(BTreeMap::new()),
            inputs: Mutex::new(BTreeMap::new()),
            printer: Mutex::new(None),
            printer_faults_total: AtomicU64::new(0),
            edges_total: AtomicU64::new(0),
            signals_total: AtomicU64::new(0),
            state: Mutex::new((
                DeviceState::Connecting,
                None,
                Timestamp::now().as_millisecond(),
            )),
            reads_total: AtomicU64::new(0),
            errors_total: AtomicU64::new(0),
            rejects_total: AtomicU64::new(0),
            duplicates_total: AtomicU64::new(0),
            oversized_total: AtomicU64::new(0),
            feedback_dropped_total: AtomicU64::new(0),
            feedback_late_total: AtomicU64::new(0),
            last_reject: Mutex::new(None),
            last_read_ms: AtomicI64::new(0),
            rfid: std::sync::OnceLock::new(),
        }
    }

    /// The RFID smoothing counters of a reader (created on first use, kept across reloads).
    pub fn rfid_counters(&self) -> Arc<RfidCounters> {
        self.rfid.get_or_init(Arc::default).clone()
    }

    /// The driver reported a state change.
    pub fn set_state(&self, state: DeviceState, detail: Option<String>) {
        *self.state.lock().unwrap_or_else(|p| p.into_inner()) =
            (state, detail, Timestamp::now().as_millisecond());
    }

    /// The current state.
    pub fn state(&self) -> DeviceState {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).0
    }

    /// An output line now shows `pattern` (set by `owner`): `on` unless the pattern is off.
    pub fn set_output(&self, line: String, on: bool, pattern: &str, owner: Option<&str>) {
        let shown = match owner {
            Some(owner) if on => format!("{pattern} ({owner})"),
            _ => pattern.to_string(),
        };
        self.patterns
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(line.clone(), shown);
        self.outputs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(line, on);
    }

    /// A printer reported a new status; a fault that was not there before is counted.
    pub fn set_printer(&self, status: &tracegate_drivers::printer::PrinterStatus) {
        let mut printer = self.printer.lock().unwrap_or_else(|p| p.into_inner());
        let before: Vec<String> = printer
            .as_ref()
            .map(|p| p.faults.clone())
            .unwrap_or_default();
        let faults: Vec<String> = status.faults.iter().map(|f| f.name().to_string()).collect();
        let new = faults.iter().filter(|f| !before.contains(f)).count() as u64;
        self.printer_faults_total.fetch_add(new, Ordering::Relaxed);
        let since = match printer.as_ref() {
            Some(p) if p.faults == faults => p.since.clone(),
            _ => Timestamp::now().to_string(),
        };
        *printer = Some(PrinterReport {
            ready: status.ready(),
            state: status.describe(),
            faults,
            since,
            printing: status.printing,
            labels_remaining: status.labels_remaining,
            faults_total: self.printer_faults_total.load(Ordering::Relaxed),
        });
    }

    /// An input line settled at `active` (`state` in words: `beam broken`, `pressed`) at
    /// `at`; true when that is a change from the level known before (an edge, not the level
    /// reported when the device opened).
    pub fn set_input(&self, line: String, active: bool, state: &str, at: Timestamp) -> bool {
        let mut inputs = self.inputs.lock().unwrap_or_else(|p| p.into_inner());
        let changed = inputs.get(&line).is_some_and(|i| i.active != active);
        if changed {
            self.edges_total.fetch_add(1, Ordering::Relaxed);
        }
        inputs.insert(
            line,
            InputReport {
                active,
                state: state.to_string(),
                since: format!("{at:.3}"),
            },
        );
        changed
    }

    /// A feedback rule's pattern was sent to an output for this device's outcome.
    pub fn signalled(&self) {
        self.signals_total.fetch_add(1, Ordering::Relaxed);
    }

    /// A read arrived.
    pub fn read(&self) {
        self.reads_total.fetch_add(1, Ordering::Relaxed);
        self.last_read_ms
            .store(Timestamp::now().as_millisecond(), Ordering::Relaxed);
    }

    /// Bad input or a failed capture.
    pub fn error(&self) {
        self.errors_total.fetch_add(1, Ordering::Relaxed);
    }

    /// A read was rejected by validation, for `reason`.
    pub fn rejected(&self, reason: String) {
        self.rejects_total.fetch_add(1, Ordering::Relaxed);
        *self.last_reject.lock().unwrap_or_else(|p| p.into_inner()) = Some(reason);
    }

    /// A read's event was larger than the uplink can send: not captured.
    pub fn oversized(&self) {
        self.oversized_total.fetch_add(1, Ordering::Relaxed);
        self.errors_total.fetch_add(1, Ordering::Relaxed);
    }

    /// A feedback tone was dropped (the scanner's inbox was full, or it was down).
    pub fn feedback_dropped(&self) {
        self.feedback_dropped_total.fetch_add(1, Ordering::Relaxed);
    }

    /// A verdict came too late for a tone (the item was no longer in hand).
    pub fn feedback_late(&self) {
        self.feedback_late_total.fetch_add(1, Ordering::Relaxed);
    }

    /// A read was the same code again within the device's `dedupe_ms`.
    pub fn duplicate(&self) {
        self.duplicates_total.fetch_add(1, Ordering::Relaxed);
    }

    /// Reads so far.
    pub fn reads_total(&self) -> u64 {
        self.reads_total.load(Ordering::Relaxed)
    }

    fn report(&self) -> DeviceReport {
        let (state, detail, since) = self.state.lock().unwrap_or_else(|p| p.into_inner()).clone();
        DeviceReport {
            id: self.id.to_string(),
            kind: self.kind.to_string(),
            state: state.as_str().to_string(),
            since: ms_to_rfc3339(since),
            detail,
            reads_total: self.reads_total.load(Ordering::Relaxed),
            errors_total: self.errors_total.load(Ordering::Relaxed),
            rejects_total: self.rejects_total.load(Ordering::Relaxed),
            duplicates_total: self.duplicates_total.load(Ordering::Relaxed),
            oversized_total: self.oversized_total.load(Ordering::Relaxed),
            feedback_dropped_total: self.feedback_dropped_total.load(Ordering::Relaxed),
            feedback_late_total: self.feedback_late_total.load(Ordering::Relaxed),
            last_reject: self
                .last_reject
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
            last_read_at: ms_to_rfc3339(self.last_read_ms.load(Ordering::Relaxed)),
            outputs: self
                .outputs
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
            patterns: self
                .patterns
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
            inputs: self
                .inputs
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
            printer: self
                .printer
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
            edges_total: self.edges_total.load(Ordering::Relaxed),
            signals_total: self.signals_total.load(Ordering::Relaxed),
            rfid: self.rfid.get().map(|c| c.report()),
        }
    }
}

/// Every configured device's figures; a reload changes which devices there are.
#[derive(Debug, Clone)]
pub struct DeviceRegistry(Arc<RwLock<Vec<Arc<DeviceStatus>>>>);

impl DeviceRegistry {
    /// One entry per configured device.
    pub fn new(config: &Config) -> Self {
        let registry = DeviceRegistry(Arc::new(RwLock::new(Vec::new())));
        registry.set(&config.devices);
        registry
    }

    /// One entry per device of `devices`, in their order: a device of the same id and kind
    /// keeps its entry (and its counters) across a reload; the others start afresh.
    pub fn set(&self, devices: &[DeviceConfig]) {
        let mut entries = self.0.write().unwrap_or_else(|p| p.into_inner());
        let next = devices
            .iter()
            .map(|d| {
                entries
                    .iter()
                    .find(|e| e.id == d.id && e.kind == d.kind)
                    .cloned()
                    .unwrap_or_else(|| Arc::new(DeviceStatus::new(d.id.clone(), d.kind)))
            })
            .collect();
        *entries = next;
    }

    /// The entry of device `id`.
    pub fn get(&self, id: &str) -> Option<Arc<DeviceStatus>> {
        let entries = self.0.read().unwrap_or_else(|p| p.into_inner());
        entries.iter().find(|d| &*d.id == id).cloned()
    }

    /// All entries, in config order.
    pub fn all(&self) -> Vec<Arc<DeviceStatus>> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// The status report (see README, "Status").
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StatusReport {
    /// Gateway id.
    pub gateway: String,
    /// Is the daemon publishing (true in the retained message while connected).
    pub online: bool,
    /// tracegate version.
    pub version: String,
    /// The daemon process.
    pub daemon: DaemonReport,
    /// The outbox.
    pub queue: QueueReport,
    /// The uplink.
    pub broker: BrokerReport,
    /// Each device.
    pub devices: Vec<DeviceReport>,
    /// Commands from the platform and the CLI.
    #[serde(default)]
    pub commands: CommandReport,
    /// Whether the wall clock is trusted, and what is held while it is not.
    #[serde(default)]
    pub clock: Option<ClockReport>,
    /// The print queue (a config with label printers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub print: Option<crate::capture::store::print_jobs::PrintSummary>,
    /// The gateway's signing key and the outbox chain's head.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integrity: Option<IntegrityReport>,
    /// Exports of other gateways imported here, by origin gateway (since the daemon started).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub imports: BTreeMap<String, crate::capture::store::ImportCounts>,
}

/// The key that signs the outbox's hash chain and exports: a platform or an auditor pins it
/// to check what this gateway sends by road or wire (`tracegate verify --key`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct IntegrityReport {
    /// `ed25519`.
    pub algorithm: String,
    /// The public key, hex.
    pub public_key: String,
    /// The newest event in the chain.
    pub chain_seq: i64,
}

/// The wall clock, as the capture pipeline judges it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ClockReport {
    /// Whether reads are dated by the wall clock now (`[clock] sync_check` says it is right).
    pub synced: bool,
    /// `[clock] sync_check`.
    pub sync_check: String,
    /// `[clock] max_hold_s`, if set.
    pub max_hold_s: Option<u64>,
    /// Reads held, not published, until the clock is right.
    pub held: u64,
    /// The (untrusted) time of the oldest held read.
    pub holding_since: Option<String>,
    /// What to do, while reads are held.
    pub advice: Option<String>,
}

/// What to tell the operator of a gateway whose clock is not trusted.
pub fn clock_advice(config: &ClockConfig) -> String {
    format!(
        "the clock is not known to be synchronised ([clock] sync_check = \"{}\"), so reads are \
         held and not published{}. Run an NTP client (systemd-timesyncd, chrony); or, if this \
         clock is right (a battery-backed RTC), set sync_check = \"trust\" in [clock]",
        config.sync_check.as_str(),
        match config.max_hold_s {
            Some(s) =>
                format!(" for up to {s} s (max_hold_s), then published flagged as estimated"),
            None => " until it is".to_string(),
        }
    )
}

/// The daemon process.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DaemonReport {
    /// Whether a daemon answered (false when the CLI read the outbox file directly).
    pub running: bool,
    /// Its process id.
    pub pid: Option<u32>,
    /// When it started.
    pub started_at: Option<String>,
    /// Seconds since start.
    pub uptime_s: Option<u64>,
    /// Resident memory (RSS), bytes.
    #[serde(default)]
    pub rss_bytes: Option<u64>,
}

/// The outbox.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct QueueReport {
    /// Events waiting for the broker's acknowledgement (held reads included).
    pub undelivered: u64,
    /// Reads held until the clock is synchronised (not published before then).
    #[serde(default)]
    pub held: u64,
    /// Events acknowledged, ever.
    pub delivered_total: u64,
    /// Age of the oldest undelivered event, seconds.
    pub oldest_undelivered_age_s: Option<u64>,
    /// Database size on disk (file plus WAL).
    pub db_bytes: u64,
    /// Events refused because the outbox was full, ever.
    pub refused_total: u64,
    /// Undelivered events dropped to make room, ever.
    pub dropped_total: u64,
    /// Events in the outbox (undelivered and recently delivered).
    pub stored_events: u64,
    /// Their counted bytes.
    pub stored_bytes: u64,
    /// `store.max_events`.
    pub max_events: u64,
    /// `store.max_bytes`.
    pub max_bytes: u64,
    /// `store.when_full`.
    pub when_full: String,
    /// The latest append found the outbox full.
    pub full: bool,
    /// Events set aside because they could not be published, ever (`tracegate events
    /// set-aside` lists them).
    #[serde(default)]
    pub set_aside_total: u64,
    /// Events carried out of a damaged outbox into a fresh one, ever.
    #[serde(default)]
    pub salvaged_total: u64,
    /// Events written to an export (`tracegate export`), ever.
    #[serde(default)]
    pub exported_total: u64,
    /// Committed events found lost (unreadable rows of a damaged outbox, a torn write-ahead
    /// log), ever.
    #[serde(default)]
    pub lost_total: u64,
    /// The outbox's file system is full: reads are not captured until space is freed.
    #[serde(default)]
    pub disk_full: bool,
    /// Outbox commits that failed since start.
    #[serde(default)]
    pub write_failures_total: u64,
    /// Delivery marks waiting to be written again after a failed commit.
    #[serde(default)]
    pub pending_retries: u64,
    /// Transactions committed since start.
    #[serde(default)]
    pub commits_total: u64,
    /// How long transactions took, since start (absent when the daemon is not running).
    #[serde(default)]
    pub commit_latency: Option<LatencySnapshot>,
    /// Events captured an hour, over the last six hours or since start.
    #[serde(default)]
    pub capture_rate_per_h: f64,
    /// Mean stored size of an event, bytes (what `store.max_bytes` is counted in).
    #[serde(default)]
    pub bytes_per_event: Option<u64>,
    /// Days until the outbox is full at the capture rate if nothing is delivered (see
    /// [`capacity_left_days`]); absent without recent captures.
    #[serde(default)]
    pub capacity_left_days: Option<f64>,
}

/// The uplink.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BrokerReport {
    /// MQTT session up.
    pub connected: bool,
    /// Broker host.
    pub host: String,
    /// Broker port.
    pub port: u16,
    /// Start of the current session.
    pub connected_since: Option<String>,
    /// Time of the latest PUBACK for events.
    pub last_ack_at: Option<String>,
    /// Sessions established since start.
    pub connects_total: u64,
    /// Sessions established after the first: how often the uplink came back.
    #[serde(default)]
    pub reconnects_total: u64,
    /// Events handed to the client per second, averaged over the last minute or so.
    #[serde(default)]
    pub publish_rate_per_s: f64,
    /// Events handed to the client since start (resends included).
    pub events_published_total: u64,
    /// Events acknowledged since start.
    pub events_acked_total: u64,
    /// The latest connection error.
    pub last_error: Option<String>,
    /// Since when the uplink has been down (absent while connected; before the first
    /// connection, since the daemon started).
    #[serde(default)]
    pub offline_since: Option<String>,
    /// For how long, seconds.
    #[serde(default)]
    pub offline_s: Option<u64>,
    /// The broker refuses this gateway's CONNECT (absent unless the latest try was refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<RefusalReport>,
    /// CONNECTs the broker refused since start.
    #[serde(default)]
    pub connect_refusals_total: u64,
}

/// The broker's refusal of CONNECT: not an outage, a credential or ACL to fix.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RefusalReport {
    /// `not_authorized`, `bad_user_name_or_password`, `client_id`, `protocol_version` or
    /// `server_unavailable`.
    pub reason: String,
    /// What it means and which settings to check.
    pub explanation: String,
}

/// One device.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DeviceReport {
    /// Device id.
    pub id: String,
    /// Device kind.
    pub kind: String,
    /// `connecting`, `up`, `down`, `stopped`, or `unknown` when the daemon is not running.
    pub state: String,
    /// Since when.
    pub since: Option<String>,
    /// Why (for `down`).
    pub detail: Option<String>,
    /// Reads since start.
    pub reads_total: u64,
    /// Bad frames and failed captures since start.
    pub errors_total: u64,
    /// Reads rejected by validation since start.
    pub rejects_total: u64,
    /// Reads dropped as repeats within `dedupe_ms` since start.
    #[serde(default)]
    pub duplicates_total: u64,
    /// Reads not captured because their event was larger than the uplink can send (also in
    /// `errors_total`).
    #[serde(default)]
    pub oversized_total: u64,
    /// Feedback tones dropped: the scanner's inbox was full or it was down (silence means
    /// rescan).
    #[serde(default)]
    pub feedback_dropped_total: u64,
    /// Verdicts that came too late for a tone (more than 3 s after the read).
    #[serde(default)]
    pub feedback_late_total: u64,
    /// Why the latest rejected read was rejected.
    #[serde(default)]
    pub last_reject: Option<String>,
    /// Time of the latest read.
    pub last_read_at: Option<String>,
    /// Output lines and their levels (devices with outputs).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub outputs: BTreeMap<String, bool>,
    /// What each output line shows, and which rule or command set it (`blink 250ms
    /// (rule 2: device-down)`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub patterns: BTreeMap<String, String>,
    /// Input lines (GPIO inputs): each one's debounced level.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub inputs: BTreeMap<String, InputReport>,
    /// Label printers: what the printer's own status says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub printer: Option<PrinterReport>,
    /// Settled input edges since start.
    #[serde(default)]
    pub edges_total: u64,
    /// Feedback-rule patterns sent to outputs for this device's outcomes since start.
    #[serde(default)]
    pub signals_total: u64,
    /// RFID readers: what smoothing made of their reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rfid: Option<RfidReport>,
}

/// A label printer's status, as its last status answer told it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct PrinterReport {
    /// No fault stands: a job may be sent.
    pub ready: bool,
    /// `ready`, or the faults in words with what to do.
    pub state: String,
    /// The faults by name (`paper_out`, `head_open`, `silent` …).
    pub faults: Vec<String>,
    /// Since when these faults (or none) stand.
    pub since: String,
    /// Printing now (TSPL says; ZPL does not).
    pub printing: bool,
    /// Labels left of the batch (ZPL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels_remaining: Option<u32>,
    /// Faults that appeared since start (each fault counted once per appearance).
    pub faults_total: u64,
}

/// One input line in the status report.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct InputReport {
    /// Active (after the configured active level).
    pub active: bool,
    /// The level in the words of the line's role: `beam broken`, `pressed`, `open`, `active`.
    pub state: String,
    /// When the edge that started this level began.
    pub since: String,
}

/// Builds status reports inside the daemon.
#[derive(Debug)]
pub struct StatusCollector {
    gateway: String,
    host: String,
    port: u16,
    started: Timestamp,
    store: Store,
    devices: DeviceRegistry,
    broker: Arc<BrokerStatus>,
    commands: CommandStats,
    clock: Option<(Arc<dyn Clock>, ClockConfig)>,
    reader: Mutex<Option<(u64, OutboxReader)>>,
    /// Captures over the last hours (the outbox's last sequence number grows by one per
    /// event), for the capacity estimate.
    capture_rate: RateWindow,
    /// The print queue, once started.
    print: std::sync::OnceLock<crate::capture::print::queue::PrintQueue>,
    /// The gateway key's algorithm and public key.
    key: Option<(String, String)>,
    /// Imports by origin gateway.
    imports: Mutex<BTreeMap<String, crate::capture::store::ImportCounts>>,
}

impl StatusCollector {
    /// Includes the print queue's counts in the report.
    pub fn set_print_queue(&self, queue: crate::capture::print::queue::PrintQueue) {
        let _ = self.print.set(queue);
    }

    /// A collector over the daemon's live parts.
    pub fn new(
        config: &Config,
        store: Store,
        devices: DeviceRegistry,
        broker: Arc<BrokerStatus>,
    ) -> Self {
        StatusCollector {
            gateway: config.gateway.id.to_string(),
            host: config.mqtt.host.clone(),
            port: config.mqtt.port,
            started: Timestamp::now(),
            store,
            devices,
            broker,
            commands: CommandStats::default(),
            clock: None,
            reader: Mutex::new(None),
            capture_rate: RateWindow::over(
                std::time::Duration::from_secs(6 * 3600),
                std::time::Duration::from_secs(60),
            ),
            print: std::sync::OnceLock::new(),
            key: None,
            imports: Mutex::new(BTreeMap::new()),
        }
    }

    /// The gateway id.
    pub fn gateway(&self) -> &str {
        &self.gateway
    }

    /// The outbox.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Counts an import of `origin`'s export.
    pub fn imported(&self, origin: &str, counts: crate::capture::store::ImportCounts) {
        let mut imports = self.imports.lock().unwrap_or_else(|p| p.into_inner());
        let total = imports.entry(origin.to_string()).or_default();
        total.new += counts.new;
        total.skipped += counts.skipped;
        total.refused += counts.refused;
    }

    /// Reports `key`'s public half.
    pub fn with_key(mut self, key: &crate::capture::integrity::key::GatewayKey) -> Self {
        self.key = Some((key.algorithm().to_string(), key.public_hex()));
        self
    }

    /// Reports on `clock`, judged as `config` says.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>, config: ClockConfig) -> Self {
        self.clock = Some((clock, config));
        self
    }

    /// The command figures.
    pub fn commands(&self) -> &CommandStats {
        &self.commands
    }

    /// The broker figures (shared with the sync task).
    pub fn broker(&self) -> &Arc<BrokerStatus> {
        &self.broker
    }

    /// A full report. Blocking: reads the outbox file for the oldest event and its size.
    pub fn report(&self) -> StatusReport {
        let stats = self.store.stats();
        let limits = self.store.limits();
        let (oldest_ms, db_bytes, oldest_held_ms) = self.file_figures(stats.generation);
        let now = Timestamp::now();
        let per_hour = self.capture_rate.rate(stats.last_seq.max(0) as u64) * 3600.0;
        StatusReport {
            gateway: self.gateway.clone(),
            online: self.broker.is_connected(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            daemon: DaemonReport {
                running: true,
                pid: Some(std::process::id()),
                started_at: Some(format!("{:.3}", self.started)),
                uptime_s: Some(now.duration_since(self.started).as_secs().max(0) as u64),
                rss_bytes: resident_bytes(),
            },
            queue: QueueReport {
                undelivered: stats.undelivered,
                held: stats.held,
                delivered_total: stats.delivered_total,
                oldest_undelivered_age_s: oldest_ms.map(|ms| age_s(now, ms)),
                db_bytes,
                refused_total: stats.refused_total,
                dropped_total: stats.dropped_total,
                stored_events: stats.stored_events,
                stored_bytes: stats.stored_bytes,
                max_events: limits.max_events,
                max_bytes: limits.max_bytes,
                when_full: limits.when_full.as_str().to_string(),
                full: stats.full,
                set_aside_total: stats.set_aside_total,
                salvaged_total: stats.salvaged_total,
                exported_total: stats.exported_total,
                lost_total: stats.lost_total,
                disk_full: stats.disk_full,
                write_failures_total: stats.write_failures_total,
                pending_retries: stats.pending_retries,
                commits_total: stats.commits_total,
                commit_latency: Some(self.store.commit_latency().snapshot()),
                capture_rate_per_h: per_hour,
                bytes_per_event: (stats.stored_events > 0)
                    .then(|| stats.stored_bytes / stats.stored_events),
                capacity_left_days: capacity_left_days(
                    stats.undelivered,
                    stats.stored_events,
                    stats.stored_bytes,
                    limits.max_events,
                    limits.max_bytes,
                    per_hour,
                ),
            },
            broker: self.broker.report(&self.host, self.port),
            devices: self.devices.all().iter().map(|d| d.report()).collect(),
            commands: self.commands.report(),
            clock: self.clock.as_ref().map(|(clock, config)| {
                let synced = clock.synced();
                ClockReport {
                    synced,
                    sync_check: config.sync_check.as_str().to_string(),
                    max_hold_s: config.max_hold_s,
                    held: stats.held,
                    holding_since: oldest_held_ms.and_then(ms_to_rfc3339),
                    advice: (!synced || stats.held > 0).then(|| clock_advice(config)),
                }
            }),
            print: self.print.get().map(|q| q.summary()),
            integrity: self
                .key
                .as_ref()
                .map(|(algorithm, public_key)| IntegrityReport {
                    algorithm: algorithm.clone(),
                    public_key: public_key.clone(),
                    chain_seq: stats.last_seq,
                }),
            imports: self
                .imports
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        }
    }

    fn file_figures(&self, generation: u64) -> (Option<i64>, u64, Option<i64>) {
        let mut slot = self.reader.lock().unwrap_or_else(|p| p.into_inner());
        if slot.as_ref().is_none_or(|(g, _)| *g != generation) {
            *slot = self.store.reader().ok().map(|r| (generation, r));
        }
        let Some((_, reader)) = slot.as_mut() else {
            return (None, 0, None);
        };
        let oldest = reader.oldest_undelivered_ms().unwrap_or(None);
        let bytes = reader.db_bytes().unwrap_or(0);
        let held = reader.oldest_held_ms().unwrap_or(None);
        (oldest, bytes, held)
    }
}

/// This process's resident set size, from `VmRSS` in /proc/self/status (Linux; kB there).
pub fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// A per-second rate of a growing total over a recent window (by default roughly the last
/// minute), from samples taken when a report is made (at least `step` apart, so a window of
/// hours keeps a few hundred samples).
#[derive(Debug)]
struct RateWindow {
    samples: Mutex<std::collections::VecDeque<(std::time::Instant, u64)>>,
    window: std::time::Duration,
    step: std::time::Duration,
}

impl Default for RateWindow {
    fn default() -> Self {
        RateWindow::over(
            std::time::Duration::from_secs(60),
            std::time::Duration::from_secs(1),
        )
    }
}

impl RateWindow {
    fn over(window: std::time::Duration, step: std::time::Duration) -> Self {
        RateWindow {
            samples: Mutex::default(),
            window,
            step,
        }
    }

    fn rate(&self, total: u64) -> f64 {
        let now = std::time::Instant::now();
        let mut samples = self.samples.lock().unwrap_or_else(|p| p.into_inner());
        if samples
            .back()
            .is_none_or(|(at, _)| now.duration_since(*at) >= self.step)
        {
            samples.push_back((now, total));
        }
        while samples.len() > 2
            && samples
                .get(1)
                .is_some_and(|(at, _)| now.duration_since(*at) >= self.window)
        {
            samples.pop_front();
        }
        let Some(&(since, base)) = samples.front() else {
            return 0.0;
        };
        let elapsed = now.duration_since(since).as_secs_f64();
        if elapsed < 1.0 {
            return 0.0;
        }
        total.saturating_sub(base) as f64 / elapsed
    }
}

fn age_s(now: Timestamp, captured_ms: i64) -> u64 {
    ((now.as_millisecond() - captured_ms).max(0) / 1000) as u64
}

/// Days until the outbox's bounds are reached at `per_hour` captures an hour with nothing
/// delivered (the field kit out of coverage): the room left for undelivered events, by count
/// and by bytes at the stored events' mean size, whichever ends first. `None` without
/// captures to extrapolate from.
pub fn capacity_left_days(
    undelivered: u64,
    stored_events: u64,
    stored_bytes: u64,
    max_events: u64,
    max_bytes: u64,
    per_hour: f64,
) -> Option<f64> {
    if !per_hour.is_finite() || per_hour <= 0.0 {
        return None;
    }
    let mean = if stored_events > 0 {
        stored_bytes as f64 / stored_events as f64
    } else {
        return None;
    };
    let by_count = max_events.saturating_sub(undelivered) as f64;
    let by_bytes = (max_bytes as f64 - undelivered as f64 * mean).max(0.0) / mean;
    Some(by_count.min(by_bytes) / (per_hour * 24.0))
}

/// A report built from the outbox file alone, for when no daemon answers.
pub fn offline_report(
    config: &Config,
    reader: &mut OutboxReader,
) -> rusqlite::Result<StatusReport> {
    let counts = reader.counts()?;
    let now = Timestamp::now();
    let oldest = reader.oldest_undelivered_ms()?;
    Ok(StatusReport {
        gateway: config.gateway.id.to_string(),
        online: false,
        version: env!("CARGO_PKG_VERSION").to_string(),
        daemon: DaemonReport {
            running: false,
            pid: None,
            started_at: None,
            uptime_s: None,
            rss_bytes: None,
        },
        queue: QueueReport {
            undelivered: counts.undelivered,
            held: counts.held,
            delivered_total: counts.delivered_total,
            oldest_undelivered_age_s: oldest.map(|ms| age_s(now, ms)),
            db_bytes: reader.db_bytes()?,
            refused_total: counts.refused_total,
            dropped_total: counts.dropped_total,
            stored_events: counts.stored_events,
            stored_bytes: counts.stored_bytes,
            max_events: config.store.max_events,
            max_bytes: config.store.max_bytes.as_u64(),
            when_full: config.store.when_full.as_str().to_string(),
            full: false,
            set_aside_total: counts.set_aside_total,
            salvaged_total: counts.salvaged_total,
            exported_total: counts.exported_total,
            lost_total: counts.lost_total,
            disk_full: false,
            write_failures_total: 0,
            pending_retries: 0,
            commits_total: 0,
            commit_latency: None,
            capture_rate_per_h: 0.0,
            bytes_per_event: (counts.stored_events > 0)
                .then(|| counts.stored_bytes / counts.stored_events),
            capacity_left_days: None,
        },
        broker: BrokerStatus::default().report(&config.mqtt.host, config.mqtt.port),
        devices: config
            .devices
            .iter()
            .map(|d| DeviceReport {
                id: d.id.to_string(),
                kind: d.kind.to_string(),
                state: "unknown".into(),
                since: None,
                detail: Some("daemon not running".into()),
                reads_total: 0,
                errors_total: 0,
                rejects_total: 0,
                duplicates_total: 0,
                oversized_total: 0,
                feedback_dropped_total: 0,
                feedback_late_total: 0,
                last_reject: None,
                last_read_at: None,
                outputs: BTreeMap::new(),
                patterns: BTreeMap::new(),
                inputs: BTreeMap::new(),
                printer: None,
                edges_total: 0,
                signals_total: 0,
                rfid: None,
            })
            .collect(),
        commands: CommandReport::default(),
        clock: None,
        print: None,
        integrity: None,
        imports: BTreeMap::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacity_is_the_room_left_by_count_or_bytes_whichever_ends_first() {
        // 1,000 events of 500 bytes an hour, none delivered.
        let days = |undelivered, max_events, max_bytes| {
            capacity_left_days(
                undelivered,
                10_000,
                5_000_000,
                max_events,
                max_bytes,
                1000.0,
            )
        };
        // By count: 1,000,000 − 10,000 events at 24,000 a day.
        let d = days(10_000, 1_000_000, 1 << 40).unwrap();
        assert!((d - 990_000.0 / 24_000.0).abs() < 1e-9, "{d}");
        // By bytes: 100 MB hold 200,000 events of 500 bytes, 10,000 of them stored.
        let d = days(10_000, 1_000_000, 100_000_000).unwrap();
        assert!((d - 190_000.0 / 24_000.0).abs() < 1e-9, "{d}");
        // Full: no room.
        assert_eq!(days(1_000_000, 1_000_000, 1 << 40), Some(0.0));
        // Nothing to extrapolate from.
        assert_eq!(capacity_left_days(0, 0, 0, 10, 10, 1000.0), None);
        assert_eq!(capacity_left_days(5, 5, 500, 10, 10_000, 0.0), None);
    }

    #[test]
    fn the_publish_rate_is_the_growth_over_the_sampled_window() {
        let w = RateWindow::default();
        assert_eq!(w.rate(0), 0.0, "one sample is no rate");
        // Pretend the first sample was taken 10 s ago.
        {
            let mut samples = w.samples.lock().unwrap();
            let (at, total) = samples.front_mut().unwrap();
            *at -= std::time::Duration::from_secs(10);
            *total = 0;
        }
        let rate = w.rate(500);
        assert!((rate - 50.0).abs() < 0.5, "{rate}");
        // Samples older than the window are dropped, keeping the rate current.
        {
            let mut samples = w.samples.lock().unwrap();
            for (at, _) in samples.iter_mut() {
                *at -= std::time::Duration::from_secs(120);
            }
        }
        w.rate(500);
        assert!(w.samples.lock().unwrap().len() <= 2);
    }

    #[test]
    fn resident_memory_is_read_from_proc() {
        let rss = resident_bytes().expect("Linux /proc/self/status");
        assert!(rss > 1024 * 1024, "{rss}");
    }
}
