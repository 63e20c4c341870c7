//! Each device's live figures (state, reads, rejects, outputs, printer, inputs, RFID
//! smoothing), and the registry of them that a reload keeps.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use tracegate_drivers::DeviceState;

use super::rate::ms_to_rfc3339;

/// One device's figures, updated by the pipeline.
#[derive(Debug)]
pub struct DeviceStatus {
    /// Device id.
    pub id: Arc<str>,
    /// Device kind (`kind = "…"`).
    pub kind: &'static str,
    /// Whether it has the reads capability (its reads become events): status shows read
    /// figures only for such devices.
    pub reads: bool,
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

    /// The report of these figures.
    pub fn report(&self) -> RfidReport {
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
    fn new(id: Arc<str>, kind: &'static str, reads: bool) -> Self {
        DeviceStatus {
            id,
            kind,
            reads,
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

    /// Why the latest rejected read was rejected.
    pub fn last_reject(&self) -> Option<String> {
        self.last_reject
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
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

    /// The report of this device.
    pub fn report(&self) -> DeviceReport {
        let (state, detail, since) = self.state.lock().unwrap_or_else(|p| p.into_inner()).clone();
        DeviceReport {
            id: self.id.to_string(),
            kind: self.kind.to_string(),
            reads: self.reads,
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
    /// One entry per device of `devices` (id, kind, whether it reads), in their order.
    pub fn new<'a>(devices: impl IntoIterator<Item = (&'a Arc<str>, &'static str, bool)>) -> Self {
        let registry = DeviceRegistry(Arc::new(RwLock::new(Vec::new())));
        registry.set(devices);
        registry
    }

    /// One entry per device of `devices` (id, kind, whether it reads), in their order: a
    /// device of the same id and kind keeps its entry (and its counters) across a reload; the
    /// others start afresh.
    pub fn set<'a>(&self, devices: impl IntoIterator<Item = (&'a Arc<str>, &'static str, bool)>) {
        let mut entries = self.0.write().unwrap_or_else(|p| p.into_inner());
        let next = devices
            .into_iter()
            .map(|(id, kind, reads)| {
                entries
                    .iter()
                    .find(|e| &e.id == id && e.kind == kind)
                    .cloned()
                    .unwrap_or_else(|| Arc::new(DeviceStatus::new(id.clone(), kind, reads)))
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

/// One device.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DeviceReport {
    /// Device id.
    pub id: String,
    /// Device kind.
    pub kind: String,
    /// Whether it reads (its reads become events); the read figures mean something only then.
    #[serde(default = "reads_by_default")]
    pub reads: bool,
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

/// A report from before devices declared their capabilities counted reads for every device.
fn reads_by_default() -> bool {
    true
}
