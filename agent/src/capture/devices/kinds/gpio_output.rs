//! `gpio-output`: stack-light colours, buzzers and relays on the Raspberry Pi's header through
//! rppal (`tracegate_drivers::gpio::pi::PiOutputs`), run by the same output driver as
//! `sim-output`: patterns, priorities, the safe state (every line inactive) on shutdown, and
//! after a crash through `tracegate outputs-safe` in the unit's `ExecStopPost=`.
//!
//! ```toml
//! [[devices]]
//! id = "door-5-light"
//! kind = "gpio-output"
//! lines = [
//!   { name = "red", pin = 5, active = "low" },     # relay board inputs are active low
//!   { name = "green", pin = 6, active = "low" },
//!   { name = "buzzer", pin = 13 },
//! ]
//! ```

use std::sync::Arc;

use serde::Deserialize;
use tracegate_drivers::gpio::pi::{PiOutputLine, PiOutputs};
use tracegate_drivers::output::OutputDriver;

use super::gpio_input::{ActiveLevel, check_names_and_pins};
use crate::capture::devices::{
    Capabilities, DeviceKind, DeviceSettings, KindOf, Roles, SafeState, Start,
};
use crate::config::fields::field_names;
use crate::config::{ConfigError, KindKeys};

/// The kind.
pub static KIND: KindOf<GpioOutputSettings> = KindOf::new();

/// One output line.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputLineConfig {
    /// Its name in status, commands and rules.
    pub name: String,
    /// BCM GPIO number (0 to 27).
    pub pin: u8,
    /// Which level switches it on.
    #[serde(default)]
    pub active: ActiveLevel,
}

/// A GPIO output device's settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GpioOutputSettings {
    /// Its lines.
    pub lines: Vec<OutputLineConfig>,
}

impl GpioOutputSettings {
    /// The backend's view.
    pub fn backend(&self) -> PiOutputs {
        PiOutputs::new(
            self.lines
                .iter()
                .map(|l| PiOutputLine {
                    name: l.name.clone(),
                    pin: l.pin,
                    active_low: l.active == ActiveLevel::Low,
                })
                .collect(),
        )
    }
}

impl SafeState for GpioOutputSettings {
    fn drive_safe(&self) -> Result<(), String> {
        self.backend().drive_safe()
    }
}

impl DeviceKind for GpioOutputSettings {
    const NAME: &'static str = "gpio-output";

    const ROLES: Roles = Roles::OUTPUT;

    fn sections() -> Vec<&'static [&'static str]> {
        vec![field_names::<GpioOutputSettings>()]
    }

    fn parse(keys: &mut KindKeys<'_>) -> Result<Self, ConfigError> {
        let settings: GpioOutputSettings = keys.section()?;
        check_names_and_pins(keys, settings.lines.iter().map(|l| (&l.name, l.pin)), true)?;
        Ok(settings)
    }
}

impl DeviceSettings for GpioOutputSettings {
    fn start(&self, start: Start<'_>) -> std::io::Result<()> {
        let driver = OutputDriver::new(start.id, self.backend());
        start
            .tasks
            .spawn(driver.run(start.events, start.commands, start.cancel));
        Ok(())
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            output_lines: self.lines.iter().map(|l| l.name.clone()).collect(),
            gpio_pins: self.lines.iter().map(|l| l.pin).collect(),
            safe_state: Some(Arc::new(self.clone())),
            ..Capabilities::default()
        }
    }
}
