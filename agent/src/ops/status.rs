//! Live figures of the daemon, and the status report built from them: the same JSON is the
//! retained MQTT status message and the answer to `tracegate status --json`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::config::{ClockConfig, Config};
use crate::outbox::store::{OutboxReader, Store};
use crate::telemetry::latency::LatencySnapshot;
use crate::telemetry::rate::{RateWindow, ms_to_rfc3339};
pub use crate::telemetry::{
    BrokerReport, CommandReport, DeviceReport, InputReport, PrinterReport, RefusalReport,
    RfidReport,
};
use crate::telemetry::{BrokerStatus, CommandStats, DeviceRegistry, RepositoryStatus};

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
    /// The MQTT broker (status and commands; events too without `[epcis]`).
    pub broker: BrokerReport,
    /// Where events go: `mqtt`, or `epcis` with the repository's figures.
    #[serde(default)]
    pub uplink: UplinkReport,
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
    pub print: Option<crate::outbox::store::print_jobs::PrintSummary>,
    /// The commissioning page, when `[web]` serves it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<crate::telemetry::PageReport>,
    /// The gateway's signing key and the outbox chain's head.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integrity: Option<IntegrityReport>,
    /// Exports of other gateways imported here, by origin gateway (since the daemon started).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub imports: BTreeMap<String, crate::outbox::store::ImportCounts>,
}

/// Where events go.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct UplinkReport {
    /// `mqtt` or `epcis`.
    pub kind: String,
    /// The broker (`mqtt://host:port`) or the repository's capture endpoint; never a secret.
    pub url: String,
    /// The EPCIS repository's figures (`kind = "epcis"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epcis: Option<crate::telemetry::RepositoryReport>,
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

/// Builds status reports inside the daemon.
#[derive(Debug)]
pub struct StatusCollector {
    gateway: String,
    host: String,
    port: u16,
    started: Timestamp,
    /// The same moment on the monotonic clock: uptime does not move when NTP steps the wall
    /// clock.
    started_mono: std::time::Instant,
    store: Store,
    devices: DeviceRegistry,
    broker: Arc<BrokerStatus>,
    /// The EPCIS repository uplink's figures, with `[epcis]`.
    repository: Option<Arc<RepositoryStatus>>,
    /// `mqtt://host:port` without `[epcis]`.
    mqtt_url: String,
    commands: CommandStats,
    clock: Option<(Arc<dyn Clock>, ClockConfig)>,
    reader: Mutex<Option<(u64, OutboxReader)>>,
    /// Captures over the last hours (the outbox's last sequence number grows by one per
    /// event), for the capacity estimate.
    capture_rate: RateWindow,
    /// The print queue, once started.
    print: std::sync::OnceLock<crate::print::queue::PrintQueue>,
    page: std::sync::OnceLock<Arc<crate::telemetry::PageStats>>,
    /// The gateway key's algorithm and public key.
    key: Option<(String, String)>,
    /// Imports by origin gateway.
    imports: Mutex<BTreeMap<String, crate::outbox::store::ImportCounts>>,
}

impl StatusCollector {
    /// Includes the print queue's counts in the report.
    pub fn set_print_queue(&self, queue: crate::print::queue::PrintQueue) {
        let _ = self.print.set(queue);
    }

    /// Reports the commissioning page's figures (`[web]` serves it).
    pub fn set_page(&self, stats: Arc<crate::telemetry::PageStats>) {
        let _ = self.page.set(stats);
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
            host: config
                .mqtt
                .as_ref()
                .map(|m| m.host.clone())
                .unwrap_or_default(),
            port: config.mqtt.as_ref().map_or(0, |m| m.port),
            repository: None,
            mqtt_url: mqtt_url(config),
            started: Timestamp::now(),
            started_mono: std::time::Instant::now(),
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
            page: std::sync::OnceLock::new(),
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
    pub fn imported(&self, origin: &str, counts: crate::outbox::store::ImportCounts) {
        let mut imports = self.imports.lock().unwrap_or_else(|p| p.into_inner());
        let total = imports.entry(origin.to_string()).or_default();
        total.new += counts.new;
        total.skipped += counts.skipped;
        total.refused += counts.refused;
    }

    /// Reports `key`'s public half.
    pub fn with_key(mut self, key: &crate::outbox::signing::key::GatewayKey) -> Self {
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

    /// Reports the EPCIS repository uplink's figures (`[epcis]`).
    pub fn with_repository(mut self, repository: Arc<RepositoryStatus>) -> Self {
        self.repository = Some(repository);
        self
    }

    /// The EPCIS repository uplink's figures, with `[epcis]`.
    pub fn repository(&self) -> Option<&Arc<RepositoryStatus>> {
        self.repository.as_ref()
    }

    /// The connection figures of the uplink that carries events: the repository's link with
    /// `[epcis]`, else the broker's.
    pub fn delivery_link(&self) -> Arc<BrokerStatus> {
        match &self.repository {
            Some(repository) => repository.link.clone(),
            None => self.broker.clone(),
        }
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
            // Without [mqtt], the repository is the only far end there is.
            online: match (&self.repository, self.host.is_empty()) {
                (Some(repository), true) => repository.link.is_connected(),
                _ => self.broker.is_connected(),
            },
            version: env!("CARGO_PKG_VERSION").to_string(),
            daemon: DaemonReport {
                running: true,
                pid: Some(std::process::id()),
                started_at: Some(format!("{:.3}", self.started)),
                uptime_s: Some(self.started_mono.elapsed().as_secs()),
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
            uplink: match &self.repository {
                Some(repository) => {
                    let report = repository.report();
                    UplinkReport {
                        kind: "epcis".into(),
                        url: report.url.clone(),
                        epcis: Some(report),
                    }
                }
                None => UplinkReport {
                    kind: "mqtt".into(),
                    url: self.mqtt_url.clone(),
                    epcis: None,
                },
            },
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
                    advice: (!synced || stats.held > 0)
                        .then(|| crate::clock::advice(config, clock.now())),
                }
            }),
            print: self.print.get().map(|q| q.summary()),
            page: self.page.get().map(|p| p.report()),
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

impl crate::uplink::StatusSource for StatusCollector {
    fn report_json(&self) -> Vec<u8> {
        serde_json::to_vec(&self.report()).expect("status serialises")
    }

    fn broker(&self) -> &BrokerStatus {
        StatusCollector::broker(self)
    }

    fn commands(&self) -> &CommandStats {
        StatusCollector::commands(self)
    }
}

/// This process's resident set size, from `VmRSS` in /proc/self/status (Linux; kB there).
pub fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
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
        broker: BrokerStatus::default().report(
            &config
                .mqtt
                .as_ref()
                .map(|m| m.host.clone())
                .unwrap_or_default(),
            config.mqtt.as_ref().map_or(0, |m| m.port),
        ),
        uplink: UplinkReport {
            kind: if config.epcis.is_some() {
                "epcis"
            } else {
                "mqtt"
            }
            .into(),
            url: match &config.epcis {
                Some(epcis) => epcis.capture_url(),
                None => mqtt_url(config),
            },
            epcis: None,
        },
        devices: config
            .devices
            .iter()
            .map(|d| DeviceReport {
                id: d.id.to_string(),
                kind: d.kind.to_string(),
                reads: d.roles.input,
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
        page: None,
        integrity: None,
        imports: BTreeMap::new(),
    })
}

/// `mqtt://host:port` (or `mqtts://` with TLS) of the first broker node; empty without `[mqtt]`.
fn mqtt_url(config: &Config) -> String {
    config
        .mqtt
        .as_ref()
        .map(|m| {
            let scheme = if m.tls.is_some() { "mqtts" } else { "mqtt" };
            format!("{scheme}://{}:{}", m.host, m.port)
        })
        .unwrap_or_default()
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
    fn resident_memory_is_read_from_proc() {
        let rss = resident_bytes().expect("Linux /proc/self/status");
        assert!(rss > 1024 * 1024, "{rss}");
    }
}
