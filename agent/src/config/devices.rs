//! `[[devices]]`: a list of tables, each with an `id`, a `kind` and that kind's own keys.
//!
//! A device table's keys are split among the structs that own them — the keys every device
//! has, then each settings struct of its kind (e.g. serial line + framing for a serial scanner)
//! — and each part is deserialized with its spans intact, so an unknown key or a bad value is
//! reported at its own line, naming the device.

use std::collections::HashSet;
use std::sync::Arc;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue};
use tracegate_drivers::scanner::{
    FrameSettings, HidScannerSettings, KeyboardScannerSettings, SerialScannerSettings,
};
use tracegate_drivers::serial::SerialSettings;

use super::capture::CaptureSettings;
use super::feedback::ScannerFeedback;
use super::fields::field_names;
use super::values::check_topic_level;
use super::{ConfigError, Ctx};
use crate::event::context::BizContext;

/// One configured device.
#[derive(Debug, Clone)]
pub struct DeviceConfig {
    /// Unique id, used in events, status and commands.
    pub id: Arc<str>,
    /// What kind of device.
    pub kind: DeviceKind,
    /// How its reads are decoded and what happens to rejected ones (keys every kind takes).
    pub capture: CaptureSettings,
    /// What its reads become and their business context (keys every kind takes); readPoint
    /// and bizLocation default to `[location]`.
    pub context: BizContext,
    /// The kind's own settings.
    pub settings: DeviceSettings,
    /// Bytes sent to the scanner when a read is accepted or rejected (`serial-scanner`; empty
    /// for kinds that cannot take them).
    pub feedback: ScannerFeedback,
}

/// The device kinds tracegate drives. The config spelling is [`DeviceKind::name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceKind {
    /// A barcode scanner in serial mode (RS-232, USB CDC-ACM).
    SerialScanner,
    /// A simulated serial scanner on a pseudo-terminal, read through the real serial driver.
    SimScanner,
    /// A USB HID POS scanner (HID usage page 0x8C), through hidraw.
    HidScanner,
    /// A keyboard-emulation scanner, through evdev with an exclusive grab.
    KeyboardScanner,
    /// A simulated HID POS scanner, read through the real HID POS driver.
    SimHidScanner,
}

impl DeviceKind {
    /// Every kind, in the order the docs list them.
    pub const ALL: &'static [DeviceKind] = &[
        DeviceKind::SerialScanner,
        DeviceKind::HidScanner,
        DeviceKind::KeyboardScanner,
        DeviceKind::SimScanner,
        DeviceKind::SimHidScanner,
    ];

    /// The `kind = "…"` spelling.
    pub fn name(self) -> &'static str {
        match self {
            DeviceKind::SerialScanner => "serial-scanner",
            DeviceKind::SimScanner => "sim-scanner",
            DeviceKind::HidScanner => "hid-scanner",
            DeviceKind::KeyboardScanner => "keyboard-scanner",
            DeviceKind::SimHidScanner => "sim-hid-scanner",
        }
    }

    fn from_name(name: &str) -> Option<DeviceKind> {
        DeviceKind::ALL.iter().copied().find(|k| k.name() == name)
    }

    /// The key sets of this kind's settings structs, in the order `parse_settings` takes them.
    fn sections(self) -> Vec<&'static [&'static str]> {
        match self {
            DeviceKind::SerialScanner => vec![
                field_names::<SerialSettings>(),
                field_names::<FrameSettings>(),
                field_names::<ScannerFeedback>(),
            ],
            DeviceKind::SimScanner => vec![field_names::<SimScannerSettings>()],
            DeviceKind::HidScanner => vec![field_names::<HidScannerSettings>()],
            DeviceKind::KeyboardScanner => vec![field_names::<KeyboardScannerSettings>()],
            DeviceKind::SimHidScanner => vec![field_names::<SimHidScannerSettings>()],
        }
    }
}

/// The settings of each kind.
#[derive(Debug, Clone)]
pub enum DeviceSettings {
    /// `serial-scanner`
    SerialScanner(SerialScannerSettings),
    /// `sim-scanner`
    SimScanner(SimScannerSettings),
    /// `hid-scanner`
    HidScanner(HidScannerSettings),
    /// `keyboard-scanner`
    KeyboardScanner(KeyboardScannerSettings),
    /// `sim-hid-scanner`
    SimHidScanner(SimHidScannerSettings),
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

/// `sim-scanner`: a simulated serial scanner for the demo and for trying a configuration
/// without hardware. It writes codes to a pseudo-terminal that the real serial driver reads.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimScannerSettings {
    /// Scans per second.
    #[serde(default = "default_rate")]
    pub rate_per_s: f64,
    /// Codes to send in turn (TOML escapes work: `"\u001d"` is GS). Empty: generated GS1
    /// DataMatrix codes (GTIN, expiry, lot, serial).
    #[serde(default)]
    pub codes: Vec<String>,
    /// Stop after this many scans (default: never).
    #[serde(default)]
    pub count: Option<u64>,
    /// Terminator the simulated scanner sends: `crlf` (default), `cr` or `lf`.
    #[serde(default)]
    pub terminator: SimTerminator,
}

fn default_rate() -> f64 {
    2.0
}

/// `sim-hid-scanner`: a simulated USB HID POS scanner for the demo. Codes are sent as HID POS
/// reports; an AIM identifier at the start of a code (`]d2…`) travels in the report's
/// symbology field, as a real HID POS scanner sends it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimHidScannerSettings {
    /// Scans per second.
    #[serde(default = "default_rate")]
    pub rate_per_s: f64,
    /// Codes to send in turn; empty: generated GS1 DataMatrix codes.
    #[serde(default)]
    pub codes: Vec<String>,
    /// Stop after this many scans (default: never).
    #[serde(default)]
    pub count: Option<u64>,
}

impl SimHidScannerSettings {
    /// The same codes as a serial simulator with these settings sends.
    pub fn as_serial(&self) -> SimScannerSettings {
        SimScannerSettings {
            rate_per_s: self.rate_per_s,
            codes: self.codes.clone(),
            count: self.count,
            terminator: SimTerminator::default(),
        }
    }
}

/// Terminator of a simulated scanner.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SimTerminator {
    /// CR LF.
    #[default]
    Crlf,
    /// CR.
    Cr,
    /// LF.
    Lf,
}

impl SimTerminator {
    /// The bytes on the wire.
    pub fn bytes(self) -> &'static [u8] {
        match self {
            SimTerminator::Crlf => b"\r\n",
            SimTerminator::Cr => b"\r",
            SimTerminator::Lf => b"\n",
        }
    }
}

/// Where a simulated scanner's codes come from.
#[derive(Debug, Clone, PartialEq)]
pub enum SimCodeSource<'a> {
    /// The configured list, in turn.
    List(&'a [String]),
    /// Generated GS1 codes.
    Gs1,
}

impl SimScannerSettings {
    /// The configured code source.
    pub fn source(&self) -> SimCodeSource<'_> {
        if self.codes.is_empty() {
            SimCodeSource::Gs1
        } else {
            SimCodeSource::List(&self.codes)
        }
    }
}

/// Parses the `devices` array (absent: no devices).
pub(super) fn parse(
    ctx: &Ctx<'_>,
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
        let device = parse_one(ctx, index, item)?;
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
    index: usize,
    item: &Spanned<DeValue<'_>>,
) -> Result<DeviceConfig, ConfigError> {
    let span = item.span();
    let DeValue::Table(table) = item.get_ref() else {
        return Err(ctx.error(Some(span), format!("devices[{index}] must be a table")));
    };
    let known_kinds = || {
        DeviceKind::ALL
            .iter()
            .map(|k| k.name())
            .collect::<Vec<_>>()
            .join(", ")
    };
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
    let kind = DeviceKind::from_name(&kind_name).ok_or_else(|| {
        ctx.error(
            Some(kind_span),
            format!(
                "devices[{index}] (id {id:?}): unknown device kind {kind_name:?}; known kinds: {}",
                known_kinds()
            ),
        )
    })?;
    let label = format!("devices[{index}] (id {id:?}, kind {})", kind.name());

    // Split the keys among the common struct, the capture settings every kind takes, and the
    // kind's own settings structs.
    let common = field_names::<DeviceCommon>();
    let mut sections = vec![
        field_names::<CaptureSettings>(),
        field_names::<BizContext>(),
    ];
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
    let mut parts = parts.into_iter().map(|t| Spanned::new(span.clone(), t));
    let mut next = || parts.next().expect("one part per section");
    let capture: CaptureSettings = section(ctx, &label, next())?;
    capture.validate().map_err(|(key, message)| {
        ctx.error(
            table.get(key).map(|v| v.span()),
            format!("{label}: {message}"),
        )
    })?;
    let context: BizContext = section(ctx, &label, next())?;
    context.validate().map_err(|(key, message)| {
        let top = key.split(['[', '.']).next().unwrap_or(&key);
        ctx.error(
            table.get(top).map(|v| v.span()),
            format!("{label}: {message}"),
        )
    })?;
    let mut feedback = ScannerFeedback::default();
    let settings = match kind {
        DeviceKind::SerialScanner => {
            let serial: SerialSettings = section(ctx, &label, next())?;
            serial.validate().map_err(|e| {
                ctx.error(
                    table.get(e.key()).map(|v| v.span()),
                    format!("{label}: {e}"),
                )
            })?;
            let frame: FrameSettings = section(ctx, &label, next())?;
            feedback = section(ctx, &label, next())?;
            DeviceSettings::SerialScanner(SerialScannerSettings { serial, frame })
        }
        DeviceKind::SimScanner => {
            let sim: SimScannerSettings = section(ctx, &label, next())?;
            check_rate(ctx, table, &label, sim.rate_per_s)?;
            DeviceSettings::SimScanner(sim)
        }
        DeviceKind::SimHidScanner => {
            let sim: SimHidScannerSettings = section(ctx, &label, next())?;
            check_rate(ctx, table, &label, sim.rate_per_s)?;
            DeviceSettings::SimHidScanner(sim)
        }
        DeviceKind::HidScanner => {
            let hid: HidScannerSettings = section(ctx, &label, next())?;
            check_max_len(ctx, table, &label, hid.max_frame_len)?;
            DeviceSettings::HidScanner(hid)
        }
        DeviceKind::KeyboardScanner => {
            let mut kbd: KeyboardScannerSettings = section(ctx, &label, next())?;
            check_max_len(ctx, table, &label, kbd.max_frame_len)?;
            kbd.path = ctx
                .path
                .parent()
                .unwrap_or(std::path::Path::new("."))
                .join(&kbd.path);
            DeviceSettings::KeyboardScanner(kbd)
        }
    };
    Ok(DeviceConfig {
        id: Arc::from(id),
        kind,
        capture,
        context,
        settings,
        feedback,
    })
}

fn check_rate(
    ctx: &Ctx<'_>,
    table: &DeTable<'_>,
    label: &str,
    rate: f64,
) -> Result<(), ConfigError> {
    if !rate.is_finite() || !(0.0..=10_000.0).contains(&rate) {
        return Err(ctx.error(
            table.get("rate_per_s").map(|v| v.span()),
            format!("{label}: rate_per_s must be between 0 (as fast as possible) and 10000"),
        ));
    }
    Ok(())
}

fn check_max_len(
    ctx: &Ctx<'_>,
    table: &DeTable<'_>,
    label: &str,
    max: usize,
) -> Result<(), ConfigError> {
    if !(16..=1 << 20).contains(&max) {
        return Err(ctx.error(
            table.get("max_frame_len").map(|v| v.span()),
            format!("{label}: max_frame_len must be between 16 and 1048576 bytes"),
        ));
    }
    Ok(())
}

fn section<T: DeserializeOwned>(
    ctx: &Ctx<'_>,
    context: &str,
    table: Spanned<DeTable<'_>>,
) -> Result<T, ConfigError> {
    T::deserialize(toml::de::Deserializer::from(table)).map_err(|e| ctx.toml_error(&e, context))
}
