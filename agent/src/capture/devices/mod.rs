//! The device model: what a device kind is, the registry of kinds, and the running devices.
//!
//! A kind is one module under [`kinds`]: its config struct (serde, unknown keys are errors),
//! how it is parsed ([`KindSpec`]), and how it starts — its driver and, for a simulated kind,
//! the simulator beside it ([`DeviceSettings::start`]). The [`Registry`] lists the kinds;
//! adding a kind is its module plus one line there.
//!
//! ```text
//!                 commands (typed, per kind)                    DeviceEvent
//!  router ─────────────────────────────────▶ device task ─────────────────────▶ pipeline
//!  (MQTT cmd topic,  Routes: id → inbox         │  ▲        reads, link up/down,  / status
//!   control socket,                             ▼  │ bytes  output levels
//!   operator feedback)                        codec ◀── transport (pty, hidraw, TCP, lines)
//! ```
//!
//! Roles decide which keys a device takes: an *input* (scanner, reader, GPIO input) has
//! capture settings and a business context; an *output* (printer, light, buzzer) has neither;
//! a device with both roles has what each needs. Every device, input or output, has the same
//! life cycle (`tracegate_drivers::lifecycle`): connecting, up, down with a reason, reconnect
//! with backoff, stopped.

pub mod kinds;
pub mod running;
pub mod sim_codes;

use std::any::Any;
use std::fmt::Debug;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracegate_drivers::{Commands, DeviceEvent};

use crate::config::{ConfigError, KindKeys, ScannerFeedback};

pub use running::{Devices, Routes};

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

/// A device's validated settings, which know how to start it.
pub trait DeviceSettings: Debug + Send + Sync + Any {
    /// Starts the device's tasks (driver, and simulator for a simulated kind) in
    /// `start.tasks`; they report into `start.events`, take `start.commands`, stop on
    /// `start.cancel`.
    fn start(&self, start: Start<'_>) -> std::io::Result<()>;

    /// The bytes the scanner takes as operator feedback, for kinds that have them.
    fn feedback(&self) -> Option<&ScannerFeedback> {
        None
    }

    /// The reader settings (zones, smoothing, direction, filters) of an RFID reader kind.
    fn rfid(&self) -> Option<&Arc<crate::capture::rfid::RfidSettings>> {
        None
    }

    /// The input lines of a GPIO input kind (their roles and rules).
    fn input_lines(&self) -> &[kinds::gpio_input::InputLineConfig] {
        &[]
    }

    /// The output lines of an output kind, by name (feedback rules are checked against them).
    fn output_lines(&self) -> Vec<String> {
        Vec::new()
    }

    /// The language of a label printer (none: not a printer). Printers take print jobs
    /// rendered from templates in that language, and their faults drive `printer-fault`
    /// rules.
    fn printer_language(&self) -> Option<crate::labels::templates::TemplateLanguage> {
        None
    }

    /// Whether the device is a label printer.
    fn is_printer(&self) -> bool {
        self.printer_language().is_some()
    }

    /// The header pins a real GPIO kind uses (no two devices may share one).
    fn gpio_pins(&self) -> Vec<u8> {
        Vec::new()
    }

    /// Itself, for [`crate::config::DeviceConfig::settings_as`].
    fn as_any(&self) -> &dyn Any;
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
}

impl Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}

impl Registry {
    /// Every kind tracegate ships — one line per kind.
    pub fn builtin() -> Registry {
        Registry {
            kinds: vec![
                &kinds::serial_scanner::KIND,
                &kinds::hid_scanner::KIND,
                &kinds::keyboard_scanner::KIND,
                &kinds::llrp_reader::KIND,
                &kinds::uhf_module::KIND,
                &kinds::lf_reader::KIND,
                &kinds::gpio_input::KIND,
                &kinds::gpio_output::KIND,
                &kinds::label_printer::KIND,
                &kinds::sim_scanner::KIND,
                &kinds::sim_hid_scanner::KIND,
                &kinds::sim_llrp_reader::KIND,
                &kinds::sim_uhf_module::KIND,
                &kinds::sim_lf_reader::KIND,
                &kinds::sim_output::KIND,
                &kinds::sim_gpio_input::KIND,
                &kinds::sim_label_printer::KIND,
            ],
        }
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

#[cfg(test)]
mod tests;
