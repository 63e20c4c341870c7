//! `uhf-module`: a serial UHF RFID module or desktop / handheld reader the gateway drives
//! (command / response over USB-serial or RS-232). `protocol = "r2000"`: the Impinj R2000 /
//! E710 "CMD" protocol (`tracegate_drivers::rfid::r2000`). Its tag reads go through the same
//! zones, smoothing, direction and filters as an LLRP reader's ([`crate::capture::rfid`]).
//!
//! ```toml
//! [[devices]]
//! id = "farm-gate-uhf"
//! kind = "uhf-module"
//! protocol = "r2000"
//! port = "/dev/serial/by-id/usb-Silicon_Labs_CP2102_USB_to_UART_Bridge_Controller_0001-if00-port0"
//! antennas = [1, 2]
//! tx_power_dbm = 26
//! zones = [{ name = "lane", antennas = [1, 2] }]
//! ```

use std::any::Any;
use std::sync::Arc;

use serde::Deserialize;
use tracegate_drivers::rfid::r2000::{R2000Module, R2000Settings};
use tracegate_drivers::serial::SerialSettings;

use super::llrp_reader::parse_rfid;
use crate::capture::devices::{DeviceSettings, KindSpec, Roles, Start};
use crate::capture::rfid::{RfidKeys, RfidSettings};
use crate::config::fields::field_names;
use crate::config::{ConfigError, KindKeys};

/// The kind.
pub static KIND: UhfModuleKind = UhfModuleKind;

/// `uhf-module`.
#[derive(Debug)]
pub struct UhfModuleKind;

/// Which command set the module speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModuleProtocol {
    /// Impinj R2000 / E710 "CMD" protocol (frames headed 0xA0).
    R2000,
    /// Chafon CF-RU5102 / UHFReader18 / UHFReader288: not built in this version (refused
    /// at load, with what to use instead).
    Chafon,
}

/// The `protocol` key.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProtocolKey {
    /// The module's command set.
    pub protocol: ModuleProtocol,
}

/// The line speed R2000 modules ship with.
pub const R2000_BAUD: u32 = 115_200;

/// A serial UHF module's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct UhfModuleConfig {
    /// Port and line settings.
    pub serial: SerialSettings,
    /// Address, antennas, power, session.
    pub module: R2000Settings,
    /// Zones, smoothing, direction, filters.
    pub rfid: Arc<RfidSettings>,
}

/// The module keys every R2000 kind takes, validated.
pub fn parse_module(keys: &mut KindKeys<'_>) -> Result<R2000Settings, ConfigError> {
    let module: R2000Settings = keys.section()?;
    module
        .validate()
        .map_err(|(key, message)| keys.error(key, message))?;
    Ok(module)
}

impl KindSpec for UhfModuleKind {
    fn name(&self) -> &'static str {
        "uhf-module"
    }

    fn roles(&self) -> Roles {
        Roles::INPUT
    }

    fn sections(&self) -> Vec<&'static [&'static str]> {
        vec![
            field_names::<ProtocolKey>(),
            field_names::<SerialSettings>(),
            field_names::<R2000Settings>(),
            field_names::<RfidKeys>(),
        ]
    }

    fn parse(&self, keys: &mut KindKeys<'_>) -> Result<Arc<dyn DeviceSettings>, ConfigError> {
        let protocol: ProtocolKey = keys.section()?;
        if protocol.protocol == ModuleProtocol::Chafon {
            return Err(keys.error(
                "protocol",
                "protocol = \"chafon\" (CF-RU5102 / UHFReader18 command set) is not built in \
                 this version; R2000 and E710 modules and readers take protocol = \"r2000\"",
            ));
        }
        let mut serial: SerialSettings = keys.section()?;
        if !keys.has("baud") {
            serial.baud = R2000_BAUD;
        }
        serial.validate().map_err(|e| keys.error(e.key(), &e))?;
        let module = parse_module(keys)?;
        let rfid = parse_rfid(keys)?;
        Ok(Arc::new(UhfModuleConfig {
            serial,
            module,
            rfid,
        }))
    }
}

impl DeviceSettings for UhfModuleConfig {
    fn start(&self, start: Start<'_>) -> std::io::Result<()> {
        let driver = R2000Module::new(start.id, self.serial.clone(), self.module.clone());
        start
            .tasks
            .spawn(driver.run(start.events, start.commands, start.cancel));
        Ok(())
    }

    fn rfid(&self) -> Option<&Arc<RfidSettings>> {
        Some(&self.rfid)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
