//! `gpio-input`: photo-eyes, push buttons and door contacts on the Raspberry Pi's header,
//! through rppal (`tracegate_drivers::gpio::pi`). Each line has a pin (BCM number), a pull, an
//! active level, a debounce and a role that names its levels in status and logs; settled edges
//! are typed device events, never fake barcode reads. A line can open and close an RFID
//! reader's read window (`read_window`): a photo-eye that sees a pallet starts the reader.
//!
//! ```toml
//! [[devices]]
//! id = "door-5-io"
//! kind = "gpio-input"
//! lines = [
//!   { name = "photo-eye", pin = 17, pull = "up", active = "low", debounce_ms = 20, role = "photo-eye", read_window = "door-5-rfid" },
//!   { name = "close-case", pin = 27, pull = "up", active = "low", role = "button" },
//!   { name = "cold-room-door", pin = 22, pull = "up", role = "door", record = "both", biz_step = "storing" },
//! ]
//! ```
//!
//! `record` makes a line's settled edges EPCIS events (an ObjectEvent with a sensor report,
//! built by the pipeline): `"active"`, `"inactive"` or `"both"`; by default (`"none"`) an edge
//! is status, log and rules only.

use serde::Deserialize;
use tracegate_drivers::gpio::InputDriver;
use tracegate_drivers::gpio::pi::PiInputs;

use crate::capture::devices::{Capabilities, DeviceKind, DeviceSettings, KindOf, Roles, Start};
use crate::config::fields::field_names;
use crate::config::{ConfigError, KindKeys};

pub use crate::config::gpio::*;

/// The kind.
pub static KIND: KindOf<GpioInputSettings> = KindOf::new();

/// A GPIO input device's settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GpioInputSettings {
    /// Its lines.
    pub lines: Vec<InputLineConfig>,
}

impl DeviceKind for GpioInputSettings {
    const NAME: &'static str = "gpio-input";

    const ROLES: Roles = Roles::SENSOR;

    fn sections() -> Vec<&'static [&'static str]> {
        vec![field_names::<GpioInputSettings>()]
    }

    fn parse(keys: &mut KindKeys<'_>) -> Result<Self, ConfigError> {
        let settings: GpioInputSettings = keys.section()?;
        check_lines(keys, &settings.lines, true)?;
        Ok(settings)
    }
}

impl DeviceSettings for GpioInputSettings {
    fn start(&self, start: Start<'_>) -> std::io::Result<()> {
        let specs = self.lines.iter().map(InputLineConfig::spec).collect();
        let driver = InputDriver::new(start.id, PiInputs, specs);
        start
            .tasks
            .spawn(driver.run(start.events, start.commands, start.cancel));
        Ok(())
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            input_lines: self.lines.clone(),
            gpio_pins: self.lines.iter().map(|l| l.pin).collect(),
            ..Capabilities::default()
        }
    }
}
