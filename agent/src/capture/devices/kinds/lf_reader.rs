//! `lf-reader`: an LF (134.2 kHz, ISO 11784 / 11785) animal-tag reader — a stick reader on a
//! cable or Bluetooth serial port, a panel reader at a race, a WL-134 module — that sends
//! each tag it reads (`tracegate_drivers::rfid::lf` lists the formats). Reads are decoded as
//! ISO 11784 (`decode_as = "iso11784"` unless the table says otherwise), so an unassigned
//! country code or an id over 38 bits is refused with its reason and the animal can be read
//! again; repeated reads of one animal are smoothed like an RFID reader's
//! ([`crate::capture::rfid`]: one arrival, one departure after `depart_after_ms`).
//!
//! ```toml
//! [[devices]]
//! id = "stick"
//! kind = "lf-reader"
//! port = "/dev/rfcomm0"      # or /dev/serial/by-id/usb-FTDI_…
//! baud = 9600
//! biz_step = "inspecting"
//! depart_after_ms = 10000
//! ```

use std::sync::Arc;

use tracegate_drivers::rfid::lf::LfReader;
use tracegate_drivers::serial::SerialSettings;

use super::llrp_reader::parse_rfid;
use crate::capture::devices::{Capabilities, DeviceKind, DeviceSettings, KindOf, Roles, Start};
use crate::capture::rfid::{RfidKeys, RfidSettings};
use crate::config::fields::field_names;
use crate::config::{ConfigError, KindKeys};
use tracegate_identifiers::Mode;

/// The kind.
pub static KIND: KindOf<LfReaderConfig> = KindOf::new();

/// An LF reader's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct LfReaderConfig {
    /// Port and line settings (stick readers: 9600 8N1).
    pub serial: SerialSettings,
    /// Smoothing (zones and direction do not apply: one antenna).
    pub rfid: Arc<RfidSettings>,
}

impl DeviceKind for LfReaderConfig {
    const NAME: &'static str = "lf-reader";

    const ROLES: Roles = Roles::INPUT;

    fn sections() -> Vec<&'static [&'static str]> {
        vec![field_names::<SerialSettings>(), field_names::<RfidKeys>()]
    }

    fn parse(keys: &mut KindKeys<'_>) -> Result<Self, ConfigError> {
        let serial: SerialSettings = keys.section()?;
        serial.validate().map_err(|e| keys.error(e.key(), &e))?;
        let rfid = parse_rfid(keys)?;
        Ok(LfReaderConfig { serial, rfid })
    }

    fn default_decode_as() -> Option<Mode> {
        Some(Mode::Iso11784)
    }
}

impl DeviceSettings for LfReaderConfig {
    fn start(&self, start: Start<'_>) -> std::io::Result<()> {
        let driver = LfReader::new(start.id, self.serial.clone());
        start
            .tasks
            .spawn(driver.run(start.events, start.commands, start.cancel));
        Ok(())
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            rfid: Some(&self.rfid).cloned(),
            ..Capabilities::default()
        }
    }
}
