//! `uhf-module`: a serial UHF RFID module or desktop / handheld reader the gateway drives
//! (command / response over USB-serial or RS-232). `protocol = "r2000"`: the Impinj R2000 /
//! E710 "CMD" protocol (`tracegate_drivers::rfid::r2000`); `protocol = "chafon"`: the
//! Chafon CF-RU5102 / UHFReader18 command set (`tracegate_drivers::rfid::chafon`). Their tag
//! reads go through the same zones, smoothing, direction and filters as an LLRP reader's
//! ([`crate::capture::rfid`]).
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
//!
//! [[devices]]
//! id = "desk-uhf"
//! kind = "uhf-module"
//! protocol = "chafon"
//! port = "/dev/ttyUSB1"
//! region = "eu"
//! tx_power_dbm = 20
//! ```

use std::sync::Arc;

use serde::Deserialize;
use tracegate_drivers::rfid::chafon::{self, Band, ChafonReader, ChafonSettings};
use tracegate_drivers::rfid::r2000::{R2000Module, R2000Settings, Target};
use tracegate_drivers::serial::SerialSettings;

use super::llrp_reader::parse_rfid;
use crate::capture::devices::{Capabilities, DeviceKind, DeviceSettings, KindOf, Roles, Start};
use crate::capture::rfid::{RfidKeys, RfidSettings};
use crate::config::fields::field_names;
use crate::config::{ConfigError, KindKeys};

/// The kind.
pub static KIND: KindOf<UhfModuleConfig> = KindOf::new();

/// Which command set the module speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModuleProtocol {
    /// Impinj R2000 / E710 "CMD" protocol (frames headed 0xA0).
    R2000,
    /// Chafon CF-RU5102 / UHFReader18 command set (frames with a CRC-16).
    Chafon,
}

/// The `protocol` key.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProtocolKey {
    /// The module's command set (required for `uhf-module`; the simulator defaults to r2000).
    #[serde(default)]
    pub protocol: Option<ModuleProtocol>,
}

/// The line speed R2000 modules ship with.
pub const R2000_BAUD: u32 = 115_200;

/// The module keys of every protocol; which ones apply depends on `protocol`, and a key of
/// the other protocol is refused with the reason (not silently ignored).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModuleKeys {
    /// The module's address (default 255: any).
    pub address: Option<u8>,
    /// R2000: antenna ports to cycle through, 1-4.
    pub antennas: Option<Vec<u8>>,
    /// Output power in dBm.
    pub tx_power_dbm: Option<u8>,
    /// R2000: Gen2 session 0-3 (the session/target inventory).
    pub session: Option<u8>,
    /// R2000: Gen2 target with `session`.
    pub target: Option<Target>,
    /// R2000: inventory rounds per command.
    pub repeat: Option<u8>,
    /// Chafon: the frequency band.
    pub region: Option<Band>,
    /// Chafon: the inventory scan time.
    pub scan_time_ms: Option<u64>,
    /// Longest wait for an answer.
    pub answer_timeout_ms: Option<u64>,
    /// Pause between inventories.
    pub round_pause_ms: Option<u64>,
}

/// How a module is driven, per protocol.
#[derive(Debug, Clone, PartialEq)]
pub enum ModuleSettings {
    /// An R2000 / E710 module.
    R2000(R2000Settings),
    /// A Chafon reader.
    Chafon(ChafonSettings),
}

impl ModuleSettings {
    /// The line speed the protocol's devices ship with.
    pub fn default_baud(&self) -> u32 {
        match self {
            ModuleSettings::R2000(_) => R2000_BAUD,
            ModuleSettings::Chafon(_) => chafon::DEFAULT_BAUD,
        }
    }

    /// The module's address.
    pub fn address(&self) -> u8 {
        match self {
            ModuleSettings::R2000(s) => s.address,
            ModuleSettings::Chafon(s) => s.address,
        }
    }

    /// Spawns the driver for `serial` on `start`'s tasks; `after` runs when it stops (the
    /// simulator's handle is dropped there).
    pub fn spawn(
        &self,
        start: Start<'_>,
        serial: SerialSettings,
        after: impl FnOnce() + Send + 'static,
    ) {
        let (events, commands, cancel) = (start.events, start.commands, start.cancel.clone());
        match self {
            ModuleSettings::R2000(s) => {
                let driver = R2000Module::new(start.id, serial, s.clone());
                start.tasks.spawn(async move {
                    driver.run(events, commands, cancel).await;
                    after();
                });
            }
            ModuleSettings::Chafon(s) => {
                let driver = ChafonReader::new(start.id, serial, s.clone());
                start.tasks.spawn(async move {
                    driver.run(events, commands, cancel).await;
                    after();
                });
            }
        }
    }
}

/// The module keys for `protocol`, validated; a key of the other protocol is an error.
pub fn parse_module(
    keys: &mut KindKeys<'_>,
    protocol: ModuleProtocol,
) -> Result<ModuleSettings, ConfigError> {
    let k: ModuleKeys = keys.section()?;
    let not_for = |key: &str, why: &str| keys.error(key, format!("{key} {why}"));
    let settings = match protocol {
        ModuleProtocol::R2000 => {
            if k.region.is_some() {
                return Err(not_for(
                    "region",
                    "is a Chafon key: an R2000 module keeps the region its vendor tool set",
                ));
            }
            if k.scan_time_ms.is_some() {
                return Err(not_for(
                    "scan_time_ms",
                    "is a Chafon key: an R2000 inventory runs `repeat` rounds instead",
                ));
            }
            let d = R2000Settings::default();
            ModuleSettings::R2000(R2000Settings {
                address: k.address.unwrap_or(d.address),
                antennas: k.antennas.unwrap_or(d.antennas),
                tx_power_dbm: k.tx_power_dbm,
                session: k.session,
                target: k.target.unwrap_or(d.target),
                repeat: k.repeat.unwrap_or(d.repeat),
                answer_timeout_ms: k.answer_timeout_ms.unwrap_or(d.answer_timeout_ms),
                round_pause_ms: k.round_pause_ms.unwrap_or(d.round_pause_ms),
            })
        }
        ModuleProtocol::Chafon => {
            let one_port = "does not apply to a Chafon reader: it has one antenna port (zones name it 1) \
                            and runs its own Gen2 inventory";
            for (key, set) in [
                ("antennas", k.antennas.is_some()),
                ("session", k.session.is_some()),
                ("target", k.target.is_some()),
                ("repeat", k.repeat.is_some()),
            ] {
                if set {
                    return Err(not_for(key, one_port));
                }
            }
            let d = ChafonSettings::default();
            ModuleSettings::Chafon(ChafonSettings {
                address: k.address.unwrap_or(d.address),
                tx_power_dbm: k.tx_power_dbm,
                region: k.region,
                scan_time_ms: k.scan_time_ms,
                answer_timeout_ms: k.answer_timeout_ms.unwrap_or(d.answer_timeout_ms),
                round_pause_ms: k.round_pause_ms.unwrap_or(d.round_pause_ms),
            })
        }
    };
    let checked = match &settings {
        ModuleSettings::R2000(s) => s.validate(),
        ModuleSettings::Chafon(s) => s.validate(),
    };
    checked.map_err(|(key, message)| keys.error(key, message))?;
    Ok(settings)
}

/// A serial UHF module's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct UhfModuleConfig {
    /// Port and line settings.
    pub serial: SerialSettings,
    /// Protocol, address, antennas, power …
    pub module: ModuleSettings,
    /// Zones, smoothing, direction, filters.
    pub rfid: Arc<RfidSettings>,
}

impl DeviceKind for UhfModuleConfig {
    const NAME: &'static str = "uhf-module";

    const ROLES: Roles = Roles::INPUT;

    fn sections() -> Vec<&'static [&'static str]> {
        vec![
            field_names::<ProtocolKey>(),
            field_names::<SerialSettings>(),
            field_names::<ModuleKeys>(),
            field_names::<RfidKeys>(),
        ]
    }

    fn parse(keys: &mut KindKeys<'_>) -> Result<Self, ConfigError> {
        let ProtocolKey { protocol } = keys.section()?;
        let Some(protocol) = protocol else {
            return Err(keys.error(
                "protocol",
                "a uhf-module needs protocol = \"r2000\" (Impinj R2000 / E710 modules and the \
                 readers built on them) or \"chafon\" (CF-RU5102 and other UHFReader18 command-set readers)",
            ));
        };
        let mut serial: SerialSettings = keys.section()?;
        let module = parse_module(keys, protocol)?;
        if !keys.has("baud") {
            serial.baud = module.default_baud();
        }
        serial.validate().map_err(|e| keys.error(e.key(), &e))?;
        let rfid = parse_rfid(keys)?;
        Ok(UhfModuleConfig {
            serial,
            module,
            rfid,
        })
    }
}

impl DeviceSettings for UhfModuleConfig {
    fn start(&self, start: Start<'_>) -> std::io::Result<()> {
        self.module.spawn(start, self.serial.clone(), || {});
        Ok(())
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            rfid: Some(&self.rfid).cloned(),
            ..Capabilities::default()
        }
    }
}
