//! `[[devices]]`: a list of tables, each with an `id`, a `kind` and that kind's own keys.
//!
//! Which kinds exist, and which keys each takes, is the business of the [`Registry`] handed in
//! (the daemon's is built by the capture module, which owns the kinds; config imports none of
//! them). This module defines the device model the kinds implement ([`KindSpec`],
//! [`DeviceSettings`], [`Capabilities`]) and splits a device table's keys among
//! the structs that own them — the keys every device has; for a device with an input role its
//! capture settings and business context; then each settings struct of its kind — and hands
//! the kind's parts to the kind ([`KindKeys`]), each deserialized with its spans intact, so an
//! unknown key or a bad value is reported at its own line, naming the device.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::capture::CaptureSettings;
use super::fields::field_names;
use super::gpio::InputLineConfig;
use super::rfid::RfidSettings;
use super::values::check_topic_level;
use super::{ConfigError, Ctx, ScannerFeedback};
use crate::labels::templates::TemplateLanguage;
use std::fmt::Debug;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracegate_drivers::{Commands, DeviceEvent};
use tracegate_epcis::context::BizContext;

/// What a device does: reads (input), is switched or printed to (output), or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Roles {
    /// Its reads become events: it has capture settings and a business context.
    pub input: bool,
    /// It takes commands that change the world (a light, a label).
    pub output: bool,
}

impl Roles {
    /// A device that only reads.
    pub const INPUT: Roles = Roles {
        input: true,
        output: false,
    };
    /// A device that is only driven.
    pub const OUTPUT: Roles = Roles {
        input: false,
        output: true,
    };
    /// A device that reports levels, not reads (GPIO inputs): no capture settings, no
    /// context; its edges feed status and rules.
    pub const SENSOR: Roles = Roles {
        input: false,
        output: false,
    };
}

/// A device kind: its name, roles and config keys, and how to parse them.
pub trait KindSpec: Send + Sync + 'static {
    /// The `kind = "…"` spelling.
    fn name(&self) -> &'static str;
    /// What devices of this kind do.
    fn roles(&self) -> Roles;
    /// The key sets of the kind's own settings structs, in the order [`parse`](Self::parse)
    /// takes them with [`KindKeys::section`].
    fn sections(&self) -> Vec<&'static [&'static str]>;
    /// Parses and validates the kind's keys.
    fn parse(&self, keys: &mut KindKeys<'_>) -> Result<Arc<dyn DeviceSettings>, ConfigError>;
    /// How this kind's reads are decoded when the device table has no `decode_as`: a kind
    /// whose reads are only ever one kind of identifier (an LF stick reader's animal ids)
    /// says so, so an integrator need not.
    fn default_decode_as(&self) -> Option<tracegate_identifiers::Mode> {
        None
    }
}

/// A kind, said by its settings type: the name, the roles, the key sets and how the keys
/// become the settings. [`KindOf`] makes a [`KindSpec`] of it, so a kind module is its
/// settings, this impl, and `pub static KIND: KindOf<Settings> = KindOf::new();` — the
/// registry's object-safe skeleton is written once, here.
pub trait DeviceKind: DeviceSettings + Sized {
    /// The `kind = "…"` spelling.
    const NAME: &'static str;
    /// What devices of this kind do.
    const ROLES: Roles;
    /// The key sets of the kind's settings structs, in the order [`parse`](Self::parse) takes
    /// them with [`KindKeys::section`].
    fn sections() -> Vec<&'static [&'static str]>;
    /// Parses and validates the kind's keys.
    fn parse(keys: &mut KindKeys<'_>) -> Result<Self, ConfigError>;
    /// See [`KindSpec::default_decode_as`].
    fn default_decode_as() -> Option<tracegate_identifiers::Mode> {
        None
    }
}

/// The [`KindSpec`] of the kind whose settings are `S`: what a kind module registers.
pub struct KindOf<S>(std::marker::PhantomData<fn() -> S>);

impl<S> KindOf<S> {
    /// The kind (a `static` in its module).
    pub const fn new() -> KindOf<S> {
        KindOf(std::marker::PhantomData)
    }
}

impl<S> Default for KindOf<S> {
    fn default() -> KindOf<S> {
        KindOf::new()
    }
}

impl<S: DeviceKind> KindSpec for KindOf<S> {
    fn name(&self) -> &'static str {
        S::NAME
    }

    fn roles(&self) -> Roles {
        S::ROLES
    }

    fn sections(&self) -> Vec<&'static [&'static str]> {
        S::sections()
    }

    fn parse(&self, keys: &mut KindKeys<'_>) -> Result<Arc<dyn DeviceSettings>, ConfigError> {
        Ok(Arc::new(S::parse(keys)?))
    }

    fn default_decode_as(&self) -> Option<tracegate_identifiers::Mode> {
        S::default_decode_as()
    }
}

/// What a device can do, declared by its kind as data: the pipeline, status, feedback rules,
/// the print queue and the command router ask this, never a kind by name.
#[derive(Debug, Clone, Default)]
pub struct Capabilities {
    /// The bytes the scanner takes as operator feedback (scanners that have host commands;
    /// `None` when none are configured, so the pipeline need not check again).
    pub feedback: Option<ScannerFeedback>,
    /// Reader settings (zones, smoothing, direction, filters): its reads are RFID tag reports
    /// that the pipeline smooths into movements, and it may have read windows.
    pub rfid: Option<Arc<RfidSettings>>,
    /// Input lines (photo-eyes, buttons, door contacts) with their roles and rules.
    pub input_lines: Vec<InputLineConfig>,
    /// Output lines by name (lights, buzzers, relays): feedback rules and `output` commands.
    pub output_lines: Vec<String>,
    /// Prints labels rendered from templates in this language; its faults drive
    /// `printer-fault` rules.
    pub printing: Option<TemplateLanguage>,
    /// The header pins a real GPIO device uses (no two devices may share one).
    pub gpio_pins: Vec<u8>,
    /// Can be driven to its safe state from outside the daemon (`tracegate outputs-safe`).
    pub safe_state: Option<Arc<dyn SafeState>>,
}

/// Drives a device's outputs to their safe state (every line inactive) without the daemon:
/// the unit's `ExecStopPost=` runs it so a light or relay is never left on.
pub trait SafeState: Debug + Send + Sync {
    /// Every line inactive now.
    fn drive_safe(&self) -> Result<(), String>;
}

/// A device's validated settings, which know how to start it.
pub trait DeviceSettings: std::any::Any + Debug + Send + Sync {
    /// Starts the device's tasks (driver, and simulator for a simulated kind) in
    /// `start.tasks`; they report into `start.events`, take `start.commands`, stop on
    /// `start.cancel`.
    fn start(&self, start: Start<'_>) -> std::io::Result<()>;

    /// What the device can do (none of the optional capabilities by default).
    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }
}

/// What a device's tasks are started with.
pub struct Start<'a> {
    /// The device id.
    pub id: Arc<str>,
    /// Where its reads and state changes go (the pipeline).
    pub events: mpsc::Sender<DeviceEvent>,
    /// Its command inbox.
    pub commands: Commands,
    /// Cancelled when the device is to stop (shutdown, removed or changed by a reload).
    pub cancel: CancellationToken,
    /// Its tasks; the device counts as stopped once all of them have ended.
    pub tasks: &'a mut JoinSet<()>,
}

/// The device kinds a config may name.
#[derive(Clone)]
pub struct Registry {
    kinds: Vec<&'static dyn KindSpec>,
    /// Simulated kinds this build was made without.
    left_out: Vec<&'static str>,
}

impl Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}

impl Registry {
    /// A registry of `kinds` (the daemon's: `capture::devices::builtin()`).
    pub fn new(kinds: Vec<&'static dyn KindSpec>) -> Registry {
        Registry {
            kinds,
            left_out: Vec::new(),
        }
    }

    /// This registry in a build without the simulated kinds `names`: a config naming one is
    /// refused with the reason.
    pub fn without_simulators(mut self, names: &[&'static str]) -> Registry {
        self.left_out.extend_from_slice(names);
        self
    }

    /// Whether `name` is a simulated kind this build was made without.
    pub fn is_left_out(&self, name: &str) -> bool {
        self.left_out.contains(&name)
    }

    /// This registry and `kind` (an integration's own kind, or a test's).
    pub fn with(mut self, kind: &'static dyn KindSpec) -> Registry {
        self.kinds.push(kind);
        self
    }

    /// The kind called `name`.
    pub fn get(&self, name: &str) -> Option<&'static dyn KindSpec> {
        self.kinds.iter().copied().find(|k| k.name() == name)
    }

    /// Every kind's name, in registry order.
    pub fn names(&self) -> Vec<&'static str> {
        self.kinds.iter().map(|k| k.name()).collect()
    }
}

/// One configured device.
#[derive(Debug, Clone)]
pub struct DeviceConfig {
    /// Unique id, used in events, status and commands.
    pub id: Arc<str>,
    /// The `kind = "…"` spelling.
    pub kind: &'static str,
    /// Whether it reads (input), is switched or printed to (output), or both.
    pub roles: Roles,
    /// Capture settings and business context: devices with an input role only.
    pub input: Option<InputSettings>,
    /// The kind's own settings, which also know how to start the device.
    pub settings: Arc<dyn DeviceSettings>,
    /// What it can do, as its kind declared it.
    pub capabilities: Capabilities,
    /// The device's table as canonical TOML plus its resolved context: equal fingerprints
    /// mean a reload leaves the device running untouched.
    pub fingerprint: String,
}

impl DeviceConfig {
    /// The kind's settings as their concrete type, for the tests and benches that check what
    /// a kind parsed. The daemon never asks this: it asks [`Capabilities`].
    pub fn settings_as<T: 'static>(&self) -> Option<&T> {
        let any: &dyn std::any::Any = &*self.settings;
        any.downcast_ref::<T>()
    }

    /// The capture settings of an input device.
    pub fn capture(&self) -> Option<&CaptureSettings> {
        self.input.as_ref().map(|i| &i.capture)
    }
}

/// What a device with an input role has besides its kind's settings.
#[derive(Debug, Clone)]
pub struct InputSettings {
    /// How its reads are decoded and what happens to rejected ones.
    pub capture: CaptureSettings,
    /// What its reads become and their business context; readPoint and bizLocation default to
    /// `[location]`.
    pub context: BizContext,
}

/// Keys every device table has, whatever its kind.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeviceCommon {
    #[allow(dead_code)] // read before the split; listed here so it counts as known
    id: String,
    #[allow(dead_code)]
    kind: String,
}

/// A kind's share of a device table, handed to [`KindSpec::parse`]: one part per entry of
/// [`KindSpec::sections`], in that order, plus ways to report an error at a key.
pub struct KindKeys<'a> {
    ctx: &'a Ctx<'a>,
    table: &'a DeTable<'a>,
    label: &'a str,
    parts: std::vec::IntoIter<Spanned<DeTable<'a>>>,
}

impl KindKeys<'_> {
    /// Deserializes the next section's keys as `T` (errors name the line and the device).
    pub fn section<T: DeserializeOwned>(&mut self) -> Result<T, ConfigError> {
        let part = self
            .parts
            .next()
            .expect("a kind takes exactly the sections it declares");
        section(self.ctx, self.label, part)
    }

    /// An error at `key`'s line (or the device's, when the key is absent), naming the device.
    pub fn error(&self, key: &str, message: impl std::fmt::Display) -> ConfigError {
        self.ctx.error(
            self.table.get(key).map(|v| v.span()),
            format!("{}: {message}", self.label),
        )
    }

    /// Whether the device table sets `key` (for a kind whose default differs from the
    /// shared struct's: an R2000 module's line runs at 115200 baud, not 9600).
    pub fn has(&self, key: &str) -> bool {
        self.table.get(key).is_some()
    }

    /// The config file's directory, against which relative paths are resolved.
    pub fn config_dir(&self) -> &Path {
        self.ctx.path.parent().unwrap_or(Path::new("."))
    }

    /// Checks a `rate_per_s` of a simulated device.
    pub fn check_rate(&self, rate: f64) -> Result<(), ConfigError> {
        if !rate.is_finite() || !(0.0..=10_000.0).contains(&rate) {
            return Err(self.error(
                "rate_per_s",
                "rate_per_s must be between 0 (as fast as possible) and 10000",
            ));
        }
        Ok(())
    }

    /// Checks a `max_frame_len`.
    pub fn check_max_len(&self, max: usize) -> Result<(), ConfigError> {
        if !(16..=1 << 20).contains(&max) {
            return Err(self.error(
                "max_frame_len",
                "max_frame_len must be between 16 and 1048576 bytes",
            ));
        }
        Ok(())
    }
}

/// Parses the `devices` array (absent: no devices).
pub(super) fn parse(
    ctx: &Ctx<'_>,
    registry: &Registry,
    devices: Option<Spanned<DeValue<'_>>>,
) -> Result<Vec<DeviceConfig>, ConfigError> {
    let Some(devices) = devices else {
        return Ok(Vec::new());
    };
    let span = devices.span();
    let DeValue::Array(items) = devices.into_inner() else {
        return Err(ctx.error(
            Some(span),
            "devices must be a list of tables: write each device as a [[devices]] table".into(),
        ));
    };
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let device = parse_one(ctx, registry, index, item)?;
        if !seen.insert(device.id.clone()) {
            let at = item
                .get_ref()
                .as_table()
                .and_then(|t| t.get("id"))
                .map(|v| v.span());
            return Err(ctx.error(
                at,
                format!(
                    "devices[{index}]: id {:?} is used by an earlier device; device ids must be unique",
                    device.id
                ),
            ));
        }
        out.push(device);
    }
    Ok(out)
}

fn parse_one(
    ctx: &Ctx<'_>,
    registry: &Registry,
    index: usize,
    item: &Spanned<DeValue<'_>>,
) -> Result<DeviceConfig, ConfigError> {
    let span = item.span();
    let DeValue::Table(table) = item.get_ref() else {
        return Err(ctx.error(Some(span), format!("devices[{index}] must be a table")));
    };
    let known_kinds = || registry.names().join(", ");
    let string_key = |key: &str| -> Result<(String, std::ops::Range<usize>), ConfigError> {
        let value = table.get(key).ok_or_else(|| {
            let hint = if key == "kind" {
                format!("; one of: {}", known_kinds())
            } else {
                String::new()
            };
            ctx.error(
                Some(span.clone()),
                format!("devices[{index}]: missing key `{key}`{hint}"),
            )
        })?;
        let text = value.get_ref().as_str().ok_or_else(|| {
            ctx.error(
                Some(value.span()),
                format!("devices[{index}].{key} must be a string"),
            )
        })?;
        Ok((text.to_string(), value.span()))
    };
    let (id, id_span) = string_key("id")?;
    check_topic_level(&id, &format!("devices[{index}].id"))
        .map_err(|m| ctx.error(Some(id_span), m))?;
    let (kind_name, kind_span) = string_key("kind")?;
    if registry.is_left_out(&kind_name) {
        return Err(ctx.error(
            Some(kind_span),
            format!(
                "devices[{index}] (id {id:?}): kind {kind_name:?} is a simulated device, and this \
                 build of tracegate has no simulators (the gateway packages are built without \
                 the `sim` feature); configure the real device ({}), or run a workstation \
                 build for the demo",
                registry.names().join(", ")
            ),
        ));
    }
    let kind: &'static dyn KindSpec = registry.get(&kind_name).ok_or_else(|| {
        ctx.error(
            Some(kind_span),
            format!(
                "devices[{index}] (id {id:?}): unknown device kind {kind_name:?}; known kinds: {}",
                known_kinds()
            ),
        )
    })?;
    let label = format!("devices[{index}] (id {id:?}, kind {})", kind.name());

    // Split the keys among the common struct, the capture settings and business context of
    // an input, and the kind's own settings structs.
    let common = field_names::<DeviceCommon>();
    let roles = kind.roles();
    let mut sections = Vec::new();
    if roles.input {
        sections.push(field_names::<CaptureSettings>());
        sections.push(field_names::<BizContext>());
    }
    let input_sections = sections.len();
    sections.extend(kind.sections());
    let mut parts: Vec<DeTable<'_>> = vec![DeTable::new(); sections.len()];
    for (key, value) in table.iter() {
        let name: &str = key.get_ref();
        if common.contains(&name) {
            continue;
        }
        match sections.iter().position(|s| s.contains(&name)) {
            Some(part) => {
                parts[part].insert(key.clone(), value.clone());
            }
            None => {
                let allowed: Vec<&str> = common
                    .iter()
                    .chain(sections.iter().flat_map(|s| s.iter()))
                    .copied()
                    .collect();
                return Err(ctx.error(
                    Some(key.span()),
                    format!(
                        "{label}: unknown key `{name}`; a {} device takes: {}",
                        kind.name(),
                        allowed.join(", ")
                    ),
                ));
            }
        }
    }
    let mut parts: Vec<Spanned<DeTable<'_>>> = parts
        .into_iter()
        .map(|t| Spanned::new(span.clone(), t))
        .collect();
    let kind_parts = parts.split_off(input_sections);
    let mut parts = parts.into_iter();
    let input = if roles.input {
        let mut capture: CaptureSettings =
            section(ctx, &label, parts.next().expect("capture part"))?;
        if let Some(mode) = kind.default_decode_as()
            && table.get("decode_as").is_none()
        {
            capture.decode_as = mode;
        }
        capture.validate().map_err(|(key, message)| {
            ctx.error(
                table.get(key).map(|v| v.span()),
                format!("{label}: {message}"),
            )
        })?;
        let context: BizContext = section(ctx, &label, parts.next().expect("context part"))?;
        context.validate().map_err(|(key, message)| {
            let top = key.split(['[', '.']).next().unwrap_or(&key);
            ctx.error(
                table.get(top).map(|v| v.span()),
                format!("{label}: {message}"),
            )
        })?;
        Some(InputSettings { capture, context })
    } else {
        None
    };
    let mut keys = KindKeys {
        ctx,
        table,
        label: &label,
        parts: kind_parts.into_iter(),
    };
    let settings = kind.parse(&mut keys)?;
    Ok(DeviceConfig {
        id: Arc::from(id),
        kind: kind.name(),
        roles,
        input,
        capabilities: settings.capabilities(),
        settings,
        fingerprint: canonical(item),
    })
}

/// The device table as canonical TOML (keys sorted, no comments or layout), so that a reload
/// sees a change of meaning and nothing else.
fn canonical(item: &Spanned<DeValue<'_>>) -> String {
    let value = toml::Value::deserialize(toml::de::ValueDeserializer::from(item.clone()));
    match value {
        Ok(value) => toml::to_string(&value).unwrap_or_default(),
        Err(_) => String::new(),
    }
}

fn section<T: DeserializeOwned>(
    ctx: &Ctx<'_>,
    context: &str,
    table: Spanned<DeTable<'_>>,
) -> Result<T, ConfigError> {
    T::deserialize(toml::de::Deserializer::from(table)).map_err(|e| ctx.toml_error(&e, context))
}
