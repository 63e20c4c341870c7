//! `tracegate.toml`: the one config file, validated completely on load.
//!
//! Unknown keys are errors everywhere. Every error names the file, line, column and key, says
//! what is wrong and what to do; `tracegate check-config` prints it and exits with code 2.
//! Relative paths in the file are relative to the file's own directory, so the daemon and the
//! CLI tools find the same outbox whatever directory they run from.

mod capture;
mod devices;
mod epcis;
mod error;
mod feedback;
pub mod fields;
pub mod gpio;
mod identifiers;
mod metrics;
pub mod rfid;
mod values;
mod web;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use toml::Spanned;

pub use capture::{CaptureSettings, OnReject};
pub use devices::{
    Capabilities, DeviceConfig, DeviceKind, DeviceSettings, InputSettings, KindKeys, KindOf,
    KindSpec, Registry, Roles, SafeState, Start,
};
pub use epcis::{CONTENT_TYPES, EpcisAuth, EpcisConfig};
pub use error::{ConfigError, line_column};
pub use feedback::{FeedbackRule, Outcome, ScannerFeedback};
pub use identifiers::{ClockConfig, IdentifiersConfig, NationalUri, SyncCheck, UriForm};
pub use metrics::MetricsConfig;
pub use values::{BrokerNode, GatewayId, Secret, TopicPrefix, WhenFull, check_topic_level};
pub use web::{WebConfig, WebTls};

/// The whole validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file this was loaded from.
    pub source: PathBuf,
    /// `[gateway]`
    pub gateway: GatewayConfig,
    /// `[location]`
    pub location: LocationConfig,
    /// `[store]`
    pub store: StoreConfig,
    /// `[mqtt]`: the broker; absent only when `[epcis]` carries the events (then no
    /// status is published and commands come only through `tracegate cmd`).
    pub mqtt: Option<MqttConfig>,
    /// `[epcis]`: events go to this EPCIS 2.0 repository instead of the broker.
    pub epcis: Option<EpcisConfig>,
    /// `[identifiers]`
    pub identifiers: IdentifiersConfig,
    /// `[clock]`
    pub clock: ClockConfig,
    /// `[metrics]`
    pub metrics: MetricsConfig,
    /// `[web]`: the commissioning page (off without the section).
    pub web: WebConfig,
    /// `[printing]`: label templates (empty without the section).
    pub printing: PrintingConfig,
    /// `[integrity]`: the gateway's signing key.
    pub integrity: IntegrityConfig,
    /// `[[devices]]`, in file order.
    pub devices: Vec<DeviceConfig>,
    /// `[[feedback]]`: operator feedback rules, in file order.
    pub feedback: Vec<FeedbackRule>,
    /// Every top-level table but `[[devices]]` as canonical TOML, by name: a reload compares
    /// them to say which settings changed that only a restart applies.
    pub sections: std::collections::BTreeMap<String, String>,
}

/// `[gateway]`: who this gateway is.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    /// Gateway id, unique on the platform; one MQTT topic level (no `/`, `+`, `#`).
    pub id: GatewayId,
    /// Unix socket on which the daemon answers `tracegate status`. Default: `control.sock`
    /// beside the outbox database.
    #[serde(default)]
    pub control_socket: Option<PathBuf>,
    /// IANA time zone of the site (`Asia/Shanghai`), for each event's `eventTimeZoneOffset`.
    /// Default: the system's zone.
    #[serde(default)]
    pub time_zone: Option<Spanned<String>>,
}

/// `[location]`: EPCIS `readPoint` / `bizLocation` defaults for every device.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocationConfig {
    /// EPCIS readPoint id, e.g. `urn:epc:id:sgln:0614141.00777.0`.
    #[serde(default)]
    pub read_point: Option<values::EpcisUri>,
    /// EPCIS bizLocation id.
    #[serde(default)]
    pub biz_location: Option<values::EpcisUri>,
}

/// `[store]`: the SQLite outbox.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// Database file. Its directory must be writable (SQLite puts `-wal` and `-shm` beside it).
    pub path: PathBuf,
    /// Most events kept (undelivered plus recently delivered).
    #[serde(default = "default_max_events")]
    pub max_events: u64,
    /// Most event bytes kept (`"2GiB"`, `"500MB"` or a number of bytes). Counts the events'
    /// data; SQLite's indexes and free pages come on top (~15 %).
    #[serde(default = "default_max_bytes")]
    pub max_bytes: bytesize::ByteSize,
    /// What happens to a new event when the outbox is full: `refuse-new` (default: the read is
    /// refused and the operator gets negative feedback) or `drop-oldest` (the oldest undelivered
    /// event is deleted to make room). Both are counted and reported.
    #[serde(default)]
    pub when_full: WhenFull,
    /// How long delivered events stay for `tracegate events tail` before they are pruned.
    /// Space is always taken from delivered events first. 0 deletes them on acknowledgement.
    #[serde(default = "default_keep_delivered_s")]
    pub keep_delivered_s: u64,
    /// Run SQLite's `quick_check` when opening; a database that fails is moved aside.
    /// Takes ~1 s per 100 MB on an SD card.
    #[serde(default = "default_true")]
    pub quick_check: bool,
    /// How large the write-ahead log may grow before it is checkpointed into the database and
    /// truncated back. Smaller leaves more of a small card for events, at the price of more
    /// frequent checkpoints under load.
    #[serde(default = "default_wal_max_bytes")]
    pub wal_max_bytes: bytesize::ByteSize,
}

fn default_wal_max_bytes() -> bytesize::ByteSize {
    bytesize::ByteSize::mib(4)
}

fn default_max_events() -> u64 {
    5_000_000
}
fn default_max_bytes() -> bytesize::ByteSize {
    bytesize::ByteSize::gib(2)
}
fn default_keep_delivered_s() -> u64 {
    600
}
fn default_true() -> bool {
    true
}

/// `[mqtt]`: the uplink.
#[derive(Debug, Clone)]
pub struct MqttConfig {
    /// Broker host name or address.
    pub host: String,
    /// Broker port (1883, or 8883 with TLS, by default).
    pub port: u16,
    /// Further nodes of the same broker cluster (`failover_hosts`), tried in order after
    /// `host` when it cannot be reached and moved on to when a connection is lost.
    pub failover: Vec<BrokerNode>,
    /// MQTT client id (default `tracegate-{gateway.id}`).
    pub client_id: String,
    /// First topic level(s); topics are `{prefix}/{gateway.id}/events` and so on.
    pub topic_prefix: TopicPrefix,
    /// MQTT keep-alive in seconds; a dead link is noticed within 1.5 times this.
    pub keep_alive_s: u64,
    /// Most events in one published EPCIS document.
    pub batch_max_events: usize,
    /// Most bytes of events in one published document.
    pub batch_max_bytes: usize,
    /// Most unacknowledged publishes at once.
    pub max_inflight: u16,
    /// User name, if the broker wants one.
    pub username: Option<String>,
    /// The password, read from `password_file` at load.
    pub password: Option<Secret>,
    /// TLS settings; plain TCP when absent.
    pub tls: Option<TlsConfig>,
    /// First reconnect delay in milliseconds (doubles, with jitter, up to `reconnect_max_s`).
    pub reconnect_min_ms: u64,
    /// Longest reconnect delay in seconds.
    pub reconnect_max_s: u64,
    /// Seconds between retained status updates while nothing changes.
    pub status_interval_s: u64,
}

impl MqttConfig {
    /// Every broker node in the order they are tried: `host`/`port`, then `failover_hosts`.
    pub fn nodes(&self) -> Vec<BrokerNode> {
        let first = BrokerNode {
            host: self.host.clone(),
            port: self.port,
        };
        std::iter::once(first)
            .chain(self.failover.iter().cloned())
            .collect()
    }

    /// The nodes for a log line: `host:port`, or `a:1883, b:1883, …` with failover nodes.
    pub fn nodes_text(&self) -> String {
        let nodes: Vec<String> = self.nodes().iter().map(|n| n.to_string()).collect();
        nodes.join(", ")
    }
}

/// `[mqtt.tls]`: TLS with the broker's CA pinned, optionally a client certificate.
#[derive(Debug, Clone)]
pub struct TlsConfig {
    /// PEM file with the CA certificate(s) trusted for the broker; no system roots are used.
    pub ca: PathBuf,
    /// PEM client certificate chain, for brokers that require client authentication.
    pub cert: Option<PathBuf>,
    /// PEM private key of the client certificate (read at connect; never logged).
    pub key: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    gateway: GatewayConfig,
    #[serde(default)]
    location: LocationConfig,
    store: StoreConfig,
    #[serde(default)]
    mqtt: Option<RawMqtt>,
    #[serde(default)]
    epcis: Option<epcis::RawEpcis>,
    #[serde(default)]
    identifiers: IdentifiersConfig,
    #[serde(default)]
    clock: ClockConfig,
    #[serde(default)]
    metrics: Option<metrics::RawMetrics>,
    #[serde(default)]
    web: Option<web::RawWeb>,
    #[serde(default)]
    printing: Option<RawPrinting>,
    #[serde(default)]
    integrity: Option<RawIntegrity>,
}

/// `[integrity]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIntegrity {
    #[serde(default)]
    key_file: Option<PathBuf>,
    #[serde(default)]
    algorithm: Option<Spanned<String>>,
    #[serde(default)]
    deliver_exported: Option<bool>,
}

/// `integrity.algorithm` for Ed25519 signatures (RFC 8032), the default.
pub const ED25519: &str = "ed25519";
/// `integrity.algorithm` for SM2 signatures over SM3 hashes (GB/T 32918, GB/T 32905).
pub const SM2: &str = "sm2";

/// `[integrity]`: where the gateway's signing key is (made on first start when absent).
#[derive(Debug, Clone, PartialEq)]
pub struct IntegrityConfig {
    /// The key file: `key_file` (relative to the config file, or under
    /// `${CREDENTIALS_DIRECTORY}`), default `gateway.key` beside the outbox.
    pub key_file: PathBuf,
    /// `ed25519` (default) or `sm2` (SM2 signatures over SM3, GB/T 32918 / 32905).
    pub algorithm: String,
    /// Whether exported events still go out over MQTT when the link returns (default true;
    /// false: an export counts as their delivery).
    pub deliver_exported: bool,
}

/// `[printing]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPrinting {
    templates: Spanned<PathBuf>,
    #[serde(default)]
    digital_link_stem: Option<Spanned<String>>,
}

/// `[printing]`: where the label templates are, and the templates read from there.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PrintingConfig {
    /// The templates directory (relative paths from the config file's directory).
    pub templates_dir: Option<PathBuf>,
    /// The templates, read and syntax-checked at load.
    pub templates: crate::labels::templates::Templates,
    /// The domain and path under which `gs1_qr` / `digital_link` write GS1 Digital Link URIs
    /// (`https://id.example.com`); none: GS1's canonical `https://id.gs1.org`.
    pub digital_link_stem: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMqtt {
    host: String,
    #[serde(default)]
    port: Option<u16>,
    #[serde(default)]
    failover_hosts: Vec<Spanned<String>>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    topic_prefix: Option<TopicPrefix>,
    #[serde(default = "default_keep_alive_s")]
    keep_alive_s: Spanned<u64>,
    #[serde(default = "default_batch_max_events")]
    batch_max_events: Spanned<usize>,
    #[serde(default = "default_batch_max_bytes")]
    batch_max_bytes: Spanned<bytesize::ByteSize>,
    #[serde(default = "default_max_inflight")]
    max_inflight: Spanned<u16>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password_file: Option<Spanned<PathBuf>>,
    #[serde(default)]
    tls: Option<Spanned<RawTls>>,
    #[serde(default = "default_reconnect_min_ms")]
    reconnect_min_ms: u64,
    #[serde(default = "default_reconnect_max_s")]
    reconnect_max_s: u64,
    #[serde(default = "default_status_interval_s")]
    status_interval_s: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTls {
    ca: Spanned<PathBuf>,
    #[serde(default)]
    cert: Option<Spanned<PathBuf>>,
    #[serde(default)]
    key: Option<Spanned<PathBuf>>,
}

fn unspanned<T>(v: T) -> Spanned<T> {
    Spanned::new(0..0, v)
}
fn default_keep_alive_s() -> Spanned<u64> {
    unspanned(30)
}
fn default_batch_max_events() -> Spanned<usize> {
    unspanned(200)
}
fn default_batch_max_bytes() -> Spanned<bytesize::ByteSize> {
    unspanned(bytesize::ByteSize::kib(256))
}
fn default_max_inflight() -> Spanned<u16> {
    unspanned(16)
}
fn default_reconnect_min_ms() -> u64 {
    500
}
fn default_reconnect_max_s() -> u64 {
    60
}
fn default_status_interval_s() -> u64 {
    60
}

impl Config {
    /// The largest event the uplink that carries events can send (`epcis.batch_max_bytes`
    /// or `mqtt.batch_max_bytes`): the pipeline refuses a larger one at capture.
    pub fn max_event_bytes(&self) -> usize {
        match (&self.epcis, &self.mqtt) {
            (Some(epcis), _) => epcis.batch_max_bytes,
            (None, Some(mqtt)) => mqtt.batch_max_bytes,
            (None, None) => unreachable!("validated: one uplink at least"),
        }
    }

    /// Where events go, for a log line: `mqtt://host:port, …` or the repository's URL.
    pub fn uplink_text(&self) -> String {
        match (&self.epcis, &self.mqtt) {
            (Some(epcis), _) => epcis.capture_url(),
            (None, Some(mqtt)) => mqtt.nodes_text(),
            (None, None) => String::new(),
        }
    }

    /// Reads and validates `path`; its devices may be of the kinds in `registry` (the
    /// daemon's are `capture::devices::builtin()`).
    pub fn load(path: &Path, registry: &Registry) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::parse(path, &text, registry)
    }

    /// Reads and validates `path` for the tools that do not talk to the broker (`status`,
    /// `events`): the MQTT password and TLS files are not read, so these work for an admin
    /// while the daemon's credentials (`LoadCredential=`) exist only inside its service.
    pub fn load_for_tools(path: &Path, registry: &Registry) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::parse_in(path, &text, false, registry)
    }

    /// Validates `text` as if read from `path` (used for messages and relative paths), with
    /// the device kinds of `registry`.
    pub fn parse(path: &Path, text: &str, registry: &Registry) -> Result<Config, ConfigError> {
        Config::parse_in(path, text, true, registry)
    }

    fn parse_in(
        path: &Path,
        text: &str,
        read_secrets: bool,
        registry: &Registry,
    ) -> Result<Config, ConfigError> {
        let ctx = Ctx {
            path,
            text,
            read_secrets,
        };
        let mut doc = toml::de::DeTable::parse(text)
            .map_err(|e| ConfigError::from_toml(path, text, &e, ""))?;
        let devices = doc.get_mut().remove("devices");
        // Applied by a reload like devices, so not among the restart-only sections.
        let rules = doc.get_mut().remove("feedback");
        let sections = doc
            .get_ref()
            .iter()
            .map(|(name, value)| {
                let canonical =
                    toml::Value::deserialize(toml::de::ValueDeserializer::from(value.clone()))
                        .ok()
                        .and_then(|v| toml::to_string(&v).ok())
                        .unwrap_or_default();
                (name.get_ref().to_string(), canonical)
            })
            .collect();
        let raw = RawConfig::deserialize(toml::de::Deserializer::from(doc))
            .map_err(|e| ConfigError::from_toml(path, text, &e, ""))?;
        let mut devices = devices::parse(&ctx, registry, devices)?;
        for device in &mut devices {
            let Some(input) = &mut device.input else {
                continue;
            };
            let c = &mut input.context;
            if c.read_point.is_none() {
                c.read_point = raw
                    .location
                    .read_point
                    .as_ref()
                    .map(|u| u.as_str().to_string());
            }
            if c.biz_location.is_none() {
                c.biz_location = raw
                    .location
                    .biz_location
                    .as_ref()
                    .map(|u| u.as_str().to_string());
            }
            // The resolved context is part of what a device is: a changed [location] restarts it.
            device
                .fingerprint
                .push_str(&serde_json::to_string(&input.context).expect("contexts serialise"));
        }
        check_shared_pins(&ctx, &devices)?;
        let feedback = match rules {
            None => Vec::new(),
            Some(rules) => {
                let raw: Vec<feedback::RawRule> =
                    Vec::deserialize(toml::de::ValueDeserializer::from(rules))
                        .map_err(|e| ctx.toml_error(&e, "feedback"))?;
                feedback_rules(&ctx, raw, &devices)?
            }
        };
        let base = path.parent().unwrap_or(Path::new("."));
        let mqtt = match raw.mqtt {
            Some(mqtt) => Some(mqtt.validate(&ctx, base, &raw.gateway.id)?),
            None => None,
        };
        let epcis = match raw.epcis {
            Some(epcis) => Some(epcis.validate(&ctx, base)?),
            None => None,
        };
        if mqtt.is_none() && epcis.is_none() {
            return Err(ctx.error(
                None,
                "no uplink: give [mqtt] (events, status and commands through a broker) or \
                 [epcis] (events straight into an EPCIS 2.0 repository), or both"
                    .into(),
            ));
        }
        let mut store = raw.store;
        store.path = base.join(&store.path);
        if store.max_events == 0 {
            return Err(ctx.error(None, "store.max_events must be at least 1".into()));
        }
        if !(64 * 1024..=1024 * 1024 * 1024).contains(&store.wal_max_bytes.as_u64()) {
            return Err(ctx.error(
                None,
                "store.wal_max_bytes must be between 64KiB and 1GiB".into(),
            ));
        }
        let mut gateway = raw.gateway;
        gateway.control_socket = gateway.control_socket.map(|p| base.join(p));
        if let Some(tz) = &gateway.time_zone {
            jiff::tz::TimeZone::get(tz.get_ref()).map_err(|e| {
                ctx.error(
                    Some(tz.span()),
                    format!(
                        "gateway.time_zone = {:?} is not a known IANA time zone ({e}); use a name like \"Europe/Berlin\" or \"Asia/Shanghai\"",
                        tz.get_ref()
                    ),
                )
            })?;
        }
        let metrics = match raw.metrics {
            Some(m) => m.validate(&ctx)?,
            None => MetricsConfig::default(),
        };
        let web = match raw.web {
            Some(w) => w.validate(&ctx, base)?,
            None => WebConfig::default(),
        };
        let printing = match raw.printing {
            None => PrintingConfig::default(),
            Some(p) => {
                let span = p.templates.span();
                let dir = base.join(p.templates.into_inner());
                let templates = crate::labels::templates::Templates::load(&dir)
                    .map_err(|m| ctx.error(Some(span), m))?;
                let digital_link_stem = match p.digital_link_stem {
                    None => None,
                    Some(stem) => {
                        let text = stem.get_ref().trim_end_matches('/');
                        let ok = (text.starts_with("https://") || text.starts_with("http://"))
                            && text.len() > "https://".len()
                            && !text.contains(['?', '#', '^', '~', '"', ' '])
                            && !text.chars().any(char::is_control);
                        if !ok {
                            return Err(ctx.error(
                                Some(stem.span()),
                                format!(
                                    "printing.digital_link_stem = {:?} is not a URI stem: write the scheme, domain and any path, without query or fragment, e.g. \"https://id.example.com\"",
                                    stem.get_ref()
                                ),
                            ));
                        }
                        Some(text.to_string())
                    }
                };
                PrintingConfig {
                    templates_dir: Some(dir),
                    templates,
                    digital_link_stem,
                }
            }
        };
        let (key_file, algorithm, deliver_exported) = match raw.integrity {
            Some(i) => (i.key_file, i.algorithm, i.deliver_exported.unwrap_or(true)),
            None => (None, None, true),
        };
        let algorithm = match algorithm {
            None => ED25519.to_string(),
            Some(a) if [ED25519, SM2].contains(&a.get_ref().as_str()) => a.into_inner(),
            Some(a) => {
                return Err(ctx.error(
                    Some(a.span()),
                    format!(
                        "integrity.algorithm = {:?}: use \"ed25519\" (the default) or \"sm2\" (SM2 with SM3, China's commercial cryptography)",
                        a.get_ref()
                    ),
                ));
            }
        };
        let integrity = IntegrityConfig {
            key_file: match key_file {
                Some(path) => resolve_path(base, &path),
                None => store
                    .path
                    .parent()
                    .unwrap_or(Path::new("."))
                    .join("gateway.key"),
            },
            algorithm,
            deliver_exported,
        };
        let mut identifiers = raw.identifiers;
        identifiers.validate().map_err(|m| ctx.error(None, m))?;
        identifiers.gcp_length_table = identifiers.gcp_length_table.map(|p| base.join(p));
        Ok(Config {
            source: path.to_path_buf(),
            gateway,
            location: raw.location,
            store,
            mqtt,
            epcis,
            identifiers,
            clock: raw.clock,
            metrics,
            web,
            printing,
            integrity,
            devices,
            feedback,
            sections,
        })
    }

    /// The control socket of the config file at `path`, read leniently: `tracegate cmd
    /// reload` must reach the daemon even when the file was edited into one that does not
    /// validate (the daemon then refuses the reload and says why).
    pub fn control_socket_of(path: &Path, registry: &Registry) -> Result<PathBuf, ConfigError> {
        if let Ok(config) = Config::load_for_tools(path, registry) {
            return Ok(config.control_socket());
        }
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| ConfigError::from_toml(path, &text, &e, ""))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let get = |section: &str, key: &str| {
            table
                .get(section)
                .and_then(|s| s.get(key))
                .and_then(|v| v.as_str())
                .map(|p| base.join(p))
        };
        match (get("gateway", "control_socket"), get("store", "path")) {
            (Some(socket), _) => Ok(socket),
            (None, Some(outbox)) => Ok(outbox
                .parent()
                .unwrap_or(Path::new("."))
                .join("control.sock")),
            (None, None) => Config::load_for_tools(path, registry).map(|c| c.control_socket()),
        }
    }

    /// The control socket path: configured, or `control.sock` beside the outbox.
    pub fn control_socket(&self) -> PathBuf {
        self.gateway.control_socket.clone().unwrap_or_else(|| {
            self.store
                .path
                .parent()
                .unwrap_or(Path::new("."))
                .join("control.sock")
        })
    }

    /// The device with this id.
    pub fn device(&self, id: &str) -> Option<&DeviceConfig> {
        self.devices.iter().find(|d| &*d.id == id)
    }

    /// Device ids in file order.
    pub fn device_ids(&self) -> Vec<Arc<str>> {
        self.devices.iter().map(|d| d.id.clone()).collect()
    }

    /// Each device's id, kind and whether it reads (an input role), in file order: what the
    /// live device figures are kept by.
    pub fn device_kinds(&self) -> impl Iterator<Item = (&Arc<str>, &'static str, bool)> {
        device_kinds(&self.devices)
    }
}

/// Each of `devices`' id, kind and whether it reads, in order.
pub fn device_kinds(
    devices: &[DeviceConfig],
) -> impl Iterator<Item = (&Arc<str>, &'static str, bool)> {
    devices.iter().map(|d| (&d.id, d.kind, d.roles.input))
}

/// No two GPIO devices may use one header pin.
fn check_shared_pins(ctx: &Ctx<'_>, devices: &[DeviceConfig]) -> Result<(), ConfigError> {
    let mut owners: std::collections::HashMap<u8, &str> = std::collections::HashMap::new();
    for device in devices {
        for &pin in &device.capabilities.gpio_pins {
            if let Some(other) = owners.insert(pin, &device.id)
                && other != &*device.id
            {
                return Err(ctx.error(
                    None,
                    format!(
                        "GPIO pin {pin} is used by both device {other:?} and device {:?}; each pin belongs to one device",
                        device.id
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Validates `[[feedback]]` against the devices: outputs and lines exist, patterns parse,
/// events have patterns that end, conditions do not fight over a line.
fn feedback_rules(
    ctx: &Ctx<'_>,
    raw: Vec<feedback::RawRule>,
    devices: &[DeviceConfig],
) -> Result<Vec<FeedbackRule>, ConfigError> {
    let mut rules: Vec<FeedbackRule> = Vec::with_capacity(raw.len());
    for (index, rule) in raw.into_iter().enumerate() {
        let number = index + 1;
        let fail = |m: String| {
            ctx.error(
                None,
                format!("feedback rule {number} ({}): {m}", rule.on.as_str()),
            )
        };
        let pattern: tracegate_drivers::output::pattern::Pattern = rule
            .pattern
            .parse()
            .map_err(|e| fail(format!("pattern: {e}")))?;
        let output = devices
            .iter()
            .find(|d| *d.id == *rule.output)
            .ok_or_else(|| {
                fail(format!(
                    "output {:?} is not a device of this file",
                    rule.output
                ))
            })?;
        let lines = &output.capabilities.output_lines;
        if lines.is_empty() {
            return Err(fail(format!(
                "device {:?} has no output lines (give a sim-output or gpio-output device)",
                rule.output
            )));
        }
        if !lines.contains(&rule.line) {
            return Err(fail(format!(
                "device {:?} has no line {:?}; its lines: {}",
                rule.output,
                rule.line,
                lines.join(", ")
            )));
        }
        let watched = match &rule.devices {
            None => None,
            Some(ids) => Some(
                ids.iter()
                    .map(|id| {
                        devices
                            .iter()
                            .find(|d| *d.id == **id)
                            .map(|d| d.id.clone())
                            .ok_or_else(|| {
                                fail(format!("devices: {id:?} is not a device of this file"))
                            })
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
        };
        match rule.on {
            Outcome::PrinterFault => {
                let printer = |id: &str| {
                    devices
                        .iter()
                        .any(|d| &*d.id == id && d.capabilities.printing.is_some())
                };
                match &watched {
                    Some(ids) => {
                        if let Some(id) = ids.iter().find(|id| !printer(id)) {
                            return Err(fail(format!(
                                "devices: {id:?} is not a label printer; printer-fault watches label-printer devices"
                            )));
                        }
                    }
                    None if !devices.iter().any(|d| d.capabilities.printing.is_some()) => {
                        return Err(fail(
                            "this file has no label printer for printer-fault to watch".into(),
                        ));
                    }
                    None => {}
                }
                if rule.after_s.is_some() {
                    return Err(fail("after_s is for offline-too-long only".into()));
                }
            }
            Outcome::OfflineTooLong => {
                if !rule.after_s.is_some_and(|s| (1..=30 * 86_400).contains(&s)) {
                    return Err(fail("give after_s, the seconds without the broker before it shows (1 to 30 days)".into()));
                }
                if watched.is_some() {
                    return Err(fail(
                        "the uplink is the gateway's, not a device's: leave devices out".into(),
                    ));
                }
            }
            _ if rule.after_s.is_some() => {
                return Err(fail("after_s is for offline-too-long only".into()));
            }
            _ => {}
        }
        if rule.on.is_condition() {
            if rule.for_ms.is_some() {
                return Err(fail(
                    "a condition's pattern shows while it holds: leave for_ms out".into(),
                ));
            }
        } else if !pattern.is_finite() && !rule.for_ms.is_some_and(|ms| (1..=60_000).contains(&ms))
        {
            return Err(fail(format!(
                "pattern {pattern:?} never ends; for an event give a pulse (\"pulse 200ms\", \"pulses 3x100ms\") or for_ms (1 to 60000)",
                pattern = rule.pattern
            )));
        }
        let priority = rule.priority.unwrap_or(rule.on.default_priority());
        let new = FeedbackRule {
            number,
            on: rule.on,
            devices: watched,
            output: output.id.clone(),
            line: rule.line,
            pattern,
            priority,
            for_ms: rule.for_ms,
            after_s: rule.after_s,
        };
        if new.on.is_condition()
            && let Some(other) = rules.iter().find(|r| {
                r.on.is_condition()
                    && r.output == new.output
                    && r.line == new.line
                    && r.priority == new.priority
                    && r.pattern != new.pattern
            })
        {
            return Err(fail(format!(
                "rule {} ({}) also drives {}.{} at priority {} with another pattern, and both conditions can hold at once; give one a different priority",
                other.number,
                other.on.as_str(),
                new.output,
                new.line,
                new.priority
            )));
        }
        rules.push(new);
    }
    Ok(rules)
}

/// The file being validated, for error locations.
pub(crate) struct Ctx<'a> {
    pub path: &'a Path,
    pub text: &'a str,
    /// Read the MQTT password and check the TLS files (the daemon and `check-config`).
    pub read_secrets: bool,
}

impl Ctx<'_> {
    pub(crate) fn error(
        &self,
        span: Option<std::ops::Range<usize>>,
        message: String,
    ) -> ConfigError {
        ConfigError::at(self.path, self.text, span.filter(|s| s.end > 0), message)
    }

    pub(crate) fn toml_error(&self, err: &toml::de::Error, context: &str) -> ConfigError {
        ConfigError::from_toml(self.path, self.text, err, context)
    }
}

impl RawMqtt {
    fn validate(
        mut self,
        ctx: &Ctx<'_>,
        base: &Path,
        gateway: &GatewayId,
    ) -> Result<MqttConfig, ConfigError> {
        if self.host.trim().is_empty() {
            return Err(ctx.error(
                None,
                "mqtt.host is empty: give the broker's host name or address".into(),
            ));
        }
        if *self.keep_alive_s.get_ref() < 5 {
            return Err(ctx.error(
                Some(self.keep_alive_s.span()),
                "mqtt.keep_alive_s must be at least 5 seconds".into(),
            ));
        }
        if *self.batch_max_events.get_ref() == 0 {
            return Err(ctx.error(
                Some(self.batch_max_events.span()),
                "mqtt.batch_max_events must be at least 1".into(),
            ));
        }
        let batch_max_bytes = self.batch_max_bytes.get_ref().as_u64();
        if !(16 * 1024..=64 * 1024 * 1024).contains(&batch_max_bytes) {
            return Err(ctx.error(
                Some(self.batch_max_bytes.span()),
                "mqtt.batch_max_bytes must be between 16KiB and 64MiB".into(),
            ));
        }
        if !(1..=10_000).contains(self.max_inflight.get_ref()) {
            return Err(ctx.error(
                Some(self.max_inflight.span()),
                "mqtt.max_inflight must be between 1 and 10000".into(),
            ));
        }
        if let (Some(file), None) = (&self.password_file, &self.username) {
            return Err(ctx.error(
                Some(file.span()),
                "mqtt.password_file is set but mqtt.username is not: MQTT sends a password only with a user name".into(),
            ));
        }
        let password = match &self.password_file {
            None => None,
            Some(file) => read_secret_file(ctx, base, "mqtt.password_file", "mqtt-password", file)?,
        };
        let tls = match self.tls.take() {
            None => None,
            Some(tls) => Some(validate_tls(ctx, base, "mqtt", tls)?),
        };
        self.finish(ctx, gateway, password, tls)
    }

    fn finish(
        self,
        ctx: &Ctx<'_>,
        gateway: &GatewayId,
        password: Option<Secret>,
        tls: Option<TlsConfig>,
    ) -> Result<MqttConfig, ConfigError> {
        let port = self.port.unwrap_or(if tls.is_some() { 8883 } else { 1883 });
        let mut failover = Vec::with_capacity(self.failover_hosts.len());
        for entry in &self.failover_hosts {
            let node = BrokerNode::parse(entry.get_ref(), port).map_err(|why| {
                ctx.error(
                    Some(entry.span()),
                    format!("mqtt.failover_hosts: {why} (each entry is \"host\" or \"host:port\"; without a port, mqtt.port)"),
                )
            })?;
            if node.host == self.host && node.port == port || failover.contains(&node) {
                return Err(ctx.error(
                    Some(entry.span()),
                    format!("mqtt.failover_hosts: {node} is listed twice (mqtt.host and port are the first node)"),
                ));
            }
            failover.push(node);
        }
        Ok(MqttConfig {
            host: self.host,
            port,
            failover,
            client_id: self
                .client_id
                .unwrap_or_else(|| format!("tracegate-{}", gateway.as_str())),
            topic_prefix: self.topic_prefix.unwrap_or_default(),
            keep_alive_s: self.keep_alive_s.into_inner(),
            batch_max_events: self.batch_max_events.into_inner(),
            batch_max_bytes: self.batch_max_bytes.get_ref().as_u64() as usize,
            max_inflight: self.max_inflight.into_inner(),
            username: self.username,
            password,
            tls,
            reconnect_min_ms: self.reconnect_min_ms.max(10),
            reconnect_max_s: self.reconnect_max_s.max(1),
            status_interval_s: self.status_interval_s.max(1),
        })
    }
}

/// The secret in the file `file` names (`key` for messages; `credential` the name suggested
/// for systemd's `LoadCredential=`); `None` for tools that never connect.
pub(crate) fn read_secret_file(
    ctx: &Ctx<'_>,
    base: &Path,
    key: &str,
    credential: &str,
    file: &Spanned<PathBuf>,
) -> Result<Option<Secret>, ConfigError> {
    // Tools that never connect do not need (and may not be allowed to read) it.
    if !ctx.read_secrets {
        return Ok(None);
    }
    let full = resolve_path(base, file.get_ref());
    let text = std::fs::read_to_string(&full).map_err(|e| {
        ctx.error(
            Some(file.span()),
            format!(
                "{key}: cannot read {}: {e}. The file must be readable by the tracegate user; with systemd, pass it with LoadCredential= and write {} = \"${{CREDENTIALS_DIRECTORY}}/{credential}\"",
                full.display(),
                key.rsplit('.').next().unwrap_or(key),
            ),
        )
    })?;
    // One trailing newline is what `echo secret > file` leaves; it is not part of it.
    let secret = text.strip_suffix('\n').unwrap_or(&text);
    let secret = secret.strip_suffix('\r').unwrap_or(secret);
    if secret.is_empty() {
        return Err(ctx.error(
            Some(file.span()),
            format!("{key}: {} is empty: write the secret in it", full.display()),
        ));
    }
    Ok(Some(Secret::new(secret.to_string())))
}

/// Where systemd puts a unit's credentials when `$CREDENTIALS_DIRECTORY` is not set in our
/// environment (a tool run by an admin beside the running service).
const SERVICE_CREDENTIALS: &str = "/run/credentials/tracegate.service";

/// A path from the file: `${CREDENTIALS_DIRECTORY}/…` (or `$CREDENTIALS_DIRECTORY/…`) is in
/// the directory where systemd places the unit's `LoadCredential=` files; other relative paths
/// are relative to the config file's directory.
pub(crate) fn resolve_path(base: &Path, path: &Path) -> PathBuf {
    let mut parts = path.components();
    match parts.next().map(|c| c.as_os_str().to_string_lossy()) {
        Some(first) if first == "${CREDENTIALS_DIRECTORY}" || first == "$CREDENTIALS_DIRECTORY" => {
            let dir = std::env::var_os("CREDENTIALS_DIRECTORY")
                .filter(|d| !d.is_empty())
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(SERVICE_CREDENTIALS));
            dir.join(parts.as_path())
        }
        _ => base.join(path),
    }
}

pub(crate) fn validate_tls(
    ctx: &Ctx<'_>,
    base: &Path,
    section: &str,
    tls: Spanned<RawTls>,
) -> Result<TlsConfig, ConfigError> {
    let span = tls.span();
    let tls = tls.into_inner();
    let readable = |key: &str, file: &Spanned<PathBuf>| -> Result<PathBuf, ConfigError> {
        let full = resolve_path(base, file.get_ref());
        if !ctx.read_secrets {
            return Ok(full);
        }
        std::fs::File::open(&full).map_err(|e| {
            ctx.error(
                Some(file.span()),
                format!("{section}.tls.{key}: cannot read {}: {e}", full.display()),
            )
        })?;
        Ok(full)
    };
    let ca = readable("ca", &tls.ca)?;
    let (cert, key) = match (&tls.cert, &tls.key) {
        (None, None) => (None, None),
        (Some(cert), Some(key)) => (Some(readable("cert", cert)?), Some(readable("key", key)?)),
        _ => {
            return Err(ctx.error(
                Some(span),
                format!(
                    "{section}.tls: give both cert and key for a client certificate, or neither"
                ),
            ));
        }
    };
    Ok(TlsConfig { ca, cert, key })
}

#[cfg(test)]
mod tests;
