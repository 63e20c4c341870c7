//! GPIO input lines as the config declares them (`gpio-input` devices and their simulator):
//! pins, pulls, levels, debounce, roles, what an edge records — and their checks.

use std::collections::HashSet;
use std::time::Duration;

use serde::Deserialize;
use tracegate_drivers::gpio::{InputSpec, MAX_DEBOUNCE, Pull};

use crate::config::{ConfigError, KindKeys, check_topic_level};
use tracegate_epcis::context::MAX_VALUE_CHARS;
use tracegate_epcis::vocab::{self, Field};

/// Highest BCM GPIO number on the Pi's 40-pin header.
pub const MAX_PIN: u8 = 27;

/// A line's pull resistor.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PullKey {
    /// None (an opto-isolated input board drives the line).
    #[default]
    None,
    /// Pull-up (a switch or open-collector sensor to ground).
    Up,
    /// Pull-down (a switch to 3.3 V).
    Down,
}

/// Which electrical level means active.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ActiveLevel {
    /// High is active.
    #[default]
    High,
    /// Low is active (a switch to ground with a pull-up; most opto boards).
    Low,
}

/// What a line is, which names its levels.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InputRole {
    /// A light barrier: active = beam broken.
    PhotoEye,
    /// A push button: active = pressed.
    Button,
    /// A door contact: active = open.
    Door,
    /// Anything else: active / inactive.
    #[default]
    Contact,
}

impl InputRole {
    /// The level in words.
    pub fn words(self, active: bool) -> &'static str {
        match (self, active) {
            (InputRole::PhotoEye, true) => "beam broken",
            (InputRole::PhotoEye, false) => "beam clear",
            (InputRole::Button, true) => "pressed",
            (InputRole::Button, false) => "released",
            (InputRole::Door, true) => "open",
            (InputRole::Door, false) => "closed",
            (InputRole::Contact, true) => "active",
            (InputRole::Contact, false) => "inactive",
        }
    }
}

/// Which of a line's settled edges are recorded as EPCIS events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RecordEdges {
    /// None: edges are status, log and rules only.
    #[default]
    None,
    /// Edges to active (beam broken, pressed, open).
    Active,
    /// Edges to inactive (beam clear, released, closed).
    Inactive,
    /// Both.
    Both,
}

impl RecordEdges {
    /// Whether an edge to `active` is recorded.
    pub fn records(self, active: bool) -> bool {
        match self {
            RecordEdges::None => false,
            RecordEdges::Active => active,
            RecordEdges::Inactive => !active,
            RecordEdges::Both => true,
        }
    }
}

fn default_debounce() -> u64 {
    20
}

/// One input line.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputLineConfig {
    /// Its name in status, commands and rules.
    pub name: String,
    /// BCM GPIO number (0 to 27 on the 40-pin header).
    pub pin: u8,
    /// Pull resistor.
    #[serde(default)]
    pub pull: PullKey,
    /// Active level.
    #[serde(default)]
    pub active: ActiveLevel,
    /// Milliseconds a new level must hold (0 to 1000; default 20).
    #[serde(default = "default_debounce")]
    pub debounce_ms: u64,
    /// What the line is.
    #[serde(default)]
    pub role: InputRole,
    /// An RFID reader whose read window this line opens while active and closes when not.
    #[serde(default)]
    pub read_window: Option<String>,
    /// Which settled edges become EPCIS events.
    #[serde(default)]
    pub record: RecordEdges,
    /// The recorded events' bizStep (a CBV 2.0 word or a URI); only with `record`.
    #[serde(default)]
    pub biz_step: Option<String>,
}

impl InputLineConfig {
    /// The driver's view of the line.
    pub fn spec(&self) -> InputSpec {
        InputSpec {
            name: self.name.clone(),
            pin: self.pin,
            pull: match self.pull {
                PullKey::None => Pull::None,
                PullKey::Up => Pull::Up,
                PullKey::Down => Pull::Down,
            },
            active_low: self.active == ActiveLevel::Low,
            debounce: Duration::from_millis(self.debounce_ms),
        }
    }
}

/// Checks a GPIO device's lines: 1 to 28, each name a topic level and given once, each pin
/// on the header (when `check_pins`) and used once.
pub fn check_names_and_pins<'a>(
    keys: &KindKeys<'_>,
    lines: impl ExactSizeIterator<Item = (&'a String, u8)>,
    check_pins: bool,
) -> Result<(), ConfigError> {
    if lines.len() == 0 || lines.len() > 28 {
        return Err(keys.error("lines", "lines must list 1 to 28 lines"));
    }
    let (mut names, mut pins) = (HashSet::new(), HashSet::new());
    for (name, pin) in lines {
        check_topic_level(name, "lines[…].name").map_err(|m| keys.error("lines", m))?;
        if !names.insert(name) {
            return Err(keys.error("lines", format!("line {name:?} is named twice")));
        }
        if check_pins && pin > MAX_PIN {
            return Err(keys.error(
                "lines",
                format!(
                    "line {name:?}: pin {pin} is out of range; pins are BCM GPIO numbers, 0 to {MAX_PIN} on the 40-pin header (not physical pin numbers)"
                ),
            ));
        }
        if !pins.insert(pin) {
            return Err(keys.error("lines", format!("line {name:?}: pin {pin} is used twice")));
        }
    }
    Ok(())
}

/// Checks input `lines`: names and pins, debounce bounds, read-window targets.
pub fn check_lines(
    keys: &KindKeys<'_>,
    lines: &[InputLineConfig],
    check_pins: bool,
) -> Result<(), ConfigError> {
    check_names_and_pins(keys, lines.iter().map(|l| (&l.name, l.pin)), check_pins)?;
    for line in lines {
        if Duration::from_millis(line.debounce_ms) > MAX_DEBOUNCE {
            return Err(keys.error(
                "lines",
                format!("line {:?}: debounce_ms must be 0 to 1000", line.name),
            ));
        }
        if let Some(reader) = &line.read_window {
            check_topic_level(reader, "read_window").map_err(|m| keys.error("lines", m))?;
        }
        if let Some(step) = &line.biz_step {
            if line.record == RecordEdges::None {
                return Err(keys.error(
                    "lines",
                    format!(
                        "line {:?}: biz_step is set but no edge is recorded; add record = \"active\", \"inactive\" or \"both\"",
                        line.name
                    ),
                ));
            }
            if step.len() > MAX_VALUE_CHARS {
                return Err(keys.error(
                    "lines",
                    format!(
                        "line {:?}: biz_step is longer than {MAX_VALUE_CHARS} bytes",
                        line.name
                    ),
                ));
            }
            vocab::check(Field::BizStep, step)
                .map_err(|m| keys.error("lines", format!("line {:?}: biz_step: {m}", line.name)))?;
        }
    }
    Ok(())
}
