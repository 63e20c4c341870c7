//! `sim-uhf-module`: a simulated R2000 module (or, with `protocol = "chafon"`, a Chafon
//! reader) on a pseudo-terminal, for the demo and for trying settings without hardware. The
//! simulators (`tracegate_drivers::sim::r2000`, `sim::chafon`) answer the real driver's
//! commands byte for byte, so everything from the tty on is the code a real module runs
//! through. Batches of SGTIN-96 tags (a crate of tagged goods, a group of
//! animals with UHF ear tags) come into view of the first antenna and leave again.
//!
//! ```toml
//! [[devices]]
//! id = "gate-uhf"
//! kind = "sim-uhf-module"
//! pass_every_ms = 8000   # a batch this often, in view for half of it
//! tags_per_pass = 3
//! # protocol = "chafon"  # the UHFReader18 command set instead of R2000's
//! ```

use std::any::Any;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use tracegate_drivers::rfid::r2000::R2000Settings;
use tracegate_drivers::serial::SerialSettings;
use tracegate_drivers::sim::llrp::sgtin96;
use tracegate_drivers::sim::{SimChafon, SimChafonConfig, SimModule, SimModuleConfig, SimTag};

use super::llrp_reader::parse_rfid;
use super::uhf_module::{ModuleKeys, ModuleProtocol, ModuleSettings, ProtocolKey, parse_module};
use crate::capture::devices::{Capabilities, DeviceKind, DeviceSettings, KindOf, Roles, Start};
use crate::capture::rfid::{RfidKeys, RfidSettings};
use crate::config::fields::field_names;
use crate::config::{ConfigError, KindKeys};

/// The kind.
pub static KIND: KindOf<SimUhfModuleConfig> = KindOf::new();

/// The simulated tag population.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimUhfSettings {
    /// A batch of tags this often.
    #[serde(default = "default_every")]
    pub pass_every_ms: u64,
    /// Tags in each batch.
    #[serde(default = "default_tags")]
    pub tags_per_pass: u16,
}

fn default_every() -> u64 {
    8000
}
fn default_tags() -> u16 {
    3
}

/// A simulated module's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct SimUhfModuleConfig {
    /// The population.
    pub sim: SimUhfSettings,
    /// How the driver drives it (and which simulator answers).
    pub module: ModuleSettings,
    /// Zones, smoothing, direction, filters.
    pub rfid: Arc<RfidSettings>,
}

impl DeviceKind for SimUhfModuleConfig {
    const NAME: &'static str = "sim-uhf-module";

    const ROLES: Roles = Roles::INPUT;

    fn sections() -> Vec<&'static [&'static str]> {
        vec![
            field_names::<SimUhfSettings>(),
            field_names::<ProtocolKey>(),
            field_names::<ModuleKeys>(),
            field_names::<RfidKeys>(),
        ]
    }

    fn parse(keys: &mut KindKeys<'_>) -> Result<Self, ConfigError> {
        let sim: SimUhfSettings = keys.section()?;
        if !(1000..=3_600_000).contains(&sim.pass_every_ms) {
            return Err(keys.error("pass_every_ms", "pass_every_ms must be 1000 ms to 1 hour"));
        }
        if !(1..=200).contains(&sim.tags_per_pass) {
            return Err(keys.error("tags_per_pass", "tags_per_pass must be 1 to 200"));
        }
        let ProtocolKey { protocol } = keys.section()?;
        let module = parse_module(keys, protocol.unwrap_or(ModuleProtocol::R2000))?;
        let rfid = parse_rfid(keys)?;
        Ok(SimUhfModuleConfig { sim, module, rfid })
    }
}

/// The tags of the script: each batch in view of `antenna` for the first half of its
/// interval, SGTIN-96 serials from `first`.
fn batch(sim: &SimUhfSettings, antenna: u8, first: u64) -> Vec<SimTag> {
    let every = Duration::from_millis(sim.pass_every_ms);
    (0..u64::from(sim.tags_per_pass))
        .map(|n| SimTag {
            epc: sgtin96(1, 614_141, 712_345, first + n),
            antenna,
            from: Duration::ZERO,
            until: every / 2,
            rssi: 0x50,
        })
        .collect()
}

/// The R2000 simulator's script (the batch on the first configured antenna).
pub fn r2000_script(sim: &SimUhfSettings, module: &R2000Settings) -> SimModuleConfig {
    let antenna = module.antennas.first().copied().unwrap_or(1);
    SimModuleConfig {
        address: module.address,
        antennas: module.antennas.iter().copied().collect::<BTreeSet<_>>(),
        tags: batch(sim, antenna, 4_000_000),
        repeat_every: Some(Duration::from_millis(sim.pass_every_ms)),
        round_time: Duration::from_millis(30),
        ..SimModuleConfig::default()
    }
}

/// The Chafon simulator's script.
pub fn chafon_script(sim: &SimUhfSettings) -> SimChafonConfig {
    SimChafonConfig {
        tags: batch(sim, 1, 5_000_000),
        repeat_every: Some(Duration::from_millis(sim.pass_every_ms)),
        // A short scan: the reader answers as soon as its field is read.
        round_time: Duration::from_millis(50),
        ..SimChafonConfig::default()
    }
}

impl DeviceSettings for SimUhfModuleConfig {
    fn start(&self, start: Start<'_>) -> std::io::Result<()> {
        let broadcast = self.module.address() == 0xFF;
        // The simulator runs as long as its handle lives: the driver's task holds it.
        let (sim, path): (Box<dyn Any + Send>, _) = match &self.module {
            ModuleSettings::R2000(module) => {
                let mut script = r2000_script(&self.sim, module);
                if broadcast {
                    script.address = 1;
                }
                let sim = SimModule::start(script, None)?;
                let path = sim.path.clone();
                (Box::new(sim), path)
            }
            ModuleSettings::Chafon(_) => {
                let mut script = chafon_script(&self.sim);
                if !broadcast {
                    script.address = self.module.address();
                }
                let sim = SimChafon::start(script, None)?;
                let path = sim.path.clone();
                (Box::new(sim), path)
            }
        };
        tracing::info!(device = %start.id, pty = %path.display(), "simulated UHF module on a pseudo-terminal");
        let mut serial = SerialSettings::new(path.to_string_lossy());
        serial.baud = self.module.default_baud();
        self.module.spawn(start, serial, move || drop(sim));
        Ok(())
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            rfid: Some(&self.rfid).cloned(),
            ..Capabilities::default()
        }
    }
}
