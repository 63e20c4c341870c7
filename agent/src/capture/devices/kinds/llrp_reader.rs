//! `llrp-reader`: a fixed UHF RFID reader speaking LLRP 1.0.1 over TCP (Impinj R700 /
//! Speedway, Zebra FX7500 / FX9600 / ATR7000 …). The driver is
//! `tracegate_drivers::rfid::llrp`; zones, smoothing, direction and EPC filters
//! ([`crate::capture::rfid`]) decide what its tag reports mean.
//!
//! ```toml
//! [[devices]]
//! id = "dock-door-1"
//! kind = "llrp-reader"
//! host = "10.0.8.21"
//! antennas = [1, 2]
//! tx_power_dbm = 27.0
//! session = 2
//! search_mode = "dual-target"
//! zones = [{ name = "inside", antennas = [1] }, { name = "outside", antennas = [2] }]
//! direction = { inside = "inside", outside = "outside" }
//! ```

use std::sync::Arc;

use tracegate_drivers::rfid::llrp::{LlrpReader, LlrpSettings};

use crate::capture::devices::{Capabilities, DeviceKind, DeviceSettings, KindOf, Roles, Start};
use crate::capture::rfid::{RfidKeys, RfidSettings};
use crate::config::fields::field_names;
use crate::config::{ConfigError, KindKeys};

/// The kind.
pub static KIND: KindOf<LlrpReaderConfig> = KindOf::new();

/// An LLRP reader's settings: how to reach and set it up, and what its reads mean.
#[derive(Debug, Clone, PartialEq)]
pub struct LlrpReaderConfig {
    /// Connection, antennas, power, session, read window.
    pub reader: LlrpSettings,
    /// Zones, smoothing, direction, filters.
    pub rfid: Arc<RfidSettings>,
}

impl DeviceKind for LlrpReaderConfig {
    const NAME: &'static str = "llrp-reader";

    const ROLES: Roles = Roles::INPUT;

    fn sections() -> Vec<&'static [&'static str]> {
        vec![field_names::<LlrpSettings>(), field_names::<RfidKeys>()]
    }

    fn parse(keys: &mut KindKeys<'_>) -> Result<Self, ConfigError> {
        let reader: LlrpSettings = keys.section()?;
        reader
            .validate()
            .map_err(|e| keys.error(e.key, &e.message))?;
        let rfid = parse_rfid(keys)?;
        Ok(LlrpReaderConfig { reader, rfid })
    }
}

/// The reader keys every RFID kind takes, validated.
pub fn parse_rfid(keys: &mut KindKeys<'_>) -> Result<Arc<RfidSettings>, ConfigError> {
    let rfid: RfidKeys = keys.section()?;
    RfidSettings::from_keys(rfid)
        .map(Arc::new)
        .map_err(|(key, message)| keys.error(key, message))
}

impl DeviceSettings for LlrpReaderConfig {
    fn start(&self, start: Start<'_>) -> std::io::Result<()> {
        let driver = LlrpReader::new(start.id, self.reader.clone());
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
