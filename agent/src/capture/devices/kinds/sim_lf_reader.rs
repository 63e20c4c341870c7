//! `sim-lf-reader`: a simulated LF stick reader on a pseudo-terminal, for the demo and the
//! field-kit example: a herd walks past and each animal's ear tag is read, in the format the
//! configuration names (`tracegate_drivers::sim::lf`), by the real LF driver.
//!
//! ```toml
//! [[devices]]
//! id = "stick"
//! kind = "sim-lf-reader"
//! herd = ["982000000255895", "156000000000042"]   # empty: 20 generated Allflex tags
//! read_every_ms = 3000
//! format = "allflex"   # decimal, spaced, allflex, tiris, wl134
//! ```

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use tracegate_drivers::rfid::lf::LfReader;
use tracegate_drivers::serial::SerialSettings;
use tracegate_drivers::sim::lf::{LfFormat, SimStick, wire};

use super::llrp_reader::parse_rfid;
use crate::capture::devices::{Capabilities, DeviceKind, DeviceSettings, KindOf, Roles, Start};
use crate::capture::rfid::{RfidKeys, RfidSettings};
use crate::config::fields::field_names;
use crate::config::{ConfigError, KindKeys};
use tracegate_identifiers::Mode;

/// The kind.
pub static KIND: KindOf<SimLfReaderConfig> = KindOf::new();

/// A simulated stick's output format (config spelling).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SimLfFormat {
    /// `982000000255895`.
    Decimal,
    /// `982 000000255895`.
    Spaced,
    /// `LA 982 000000255895`.
    #[default]
    Allflex,
    /// `LA 00000 0 982 000000255895`.
    Tiris,
    /// WL-134 binary frames.
    Wl134,
}

impl From<SimLfFormat> for LfFormat {
    fn from(f: SimLfFormat) -> LfFormat {
        match f {
            SimLfFormat::Decimal => LfFormat::Decimal,
            SimLfFormat::Spaced => LfFormat::Spaced,
            SimLfFormat::Allflex => LfFormat::Allflex,
            SimLfFormat::Tiris => LfFormat::Tiris,
            SimLfFormat::Wl134 => LfFormat::Wl134,
        }
    }
}

/// The simulated herd.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimLfSettings {
    /// The animals' 15-digit codes, read in turn (invalid ones show the refusal). Empty: 20
    /// generated Allflex (982) tags.
    #[serde(default)]
    pub herd: Vec<String>,
    /// One animal read this often.
    #[serde(default = "default_every")]
    pub read_every_ms: u64,
    /// Reads of each animal (a stick held to the ear reads it several times).
    #[serde(default = "default_repeats")]
    pub reads_per_animal: u8,
    /// The stick's output format.
    #[serde(default)]
    pub format: SimLfFormat,
    /// Stop after this many animals (default: round the herd forever).
    #[serde(default)]
    pub count: Option<u64>,
}

fn default_every() -> u64 {
    3000
}
fn default_repeats() -> u8 {
    3
}

/// A simulated stick's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct SimLfReaderConfig {
    /// The herd.
    pub sim: SimLfSettings,
    /// Smoothing.
    pub rfid: Arc<RfidSettings>,
}

impl DeviceKind for SimLfReaderConfig {
    const NAME: &'static str = "sim-lf-reader";

    const ROLES: Roles = Roles::INPUT;

    fn sections() -> Vec<&'static [&'static str]> {
        vec![field_names::<SimLfSettings>(), field_names::<RfidKeys>()]
    }

    fn parse(keys: &mut KindKeys<'_>) -> Result<Self, ConfigError> {
        let sim: SimLfSettings = keys.section()?;
        if let Some(bad) = sim
            .herd
            .iter()
            .find(|c| c.len() != 15 || !c.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(keys.error(
                "herd",
                format!("herd code {bad:?} is not 15 digits (3-digit country, 12-digit id)"),
            ));
        }
        if !(10..=3_600_000).contains(&sim.read_every_ms) {
            return Err(keys.error("read_every_ms", "read_every_ms must be 10 ms to 1 hour"));
        }
        if !(1..=20).contains(&sim.reads_per_animal) {
            return Err(keys.error("reads_per_animal", "reads_per_animal must be 1 to 20"));
        }
        let rfid = parse_rfid(keys)?;
        Ok(SimLfReaderConfig { sim, rfid })
    }

    fn default_decode_as() -> Option<Mode> {
        Some(Mode::Iso11784)
    }
}

/// The herd's (country, id) pairs.
pub fn herd(sim: &SimLfSettings) -> Vec<(u16, u64)> {
    if sim.herd.is_empty() {
        return (0..20).map(|n| (982, 255_895 + n)).collect();
    }
    sim.herd
        .iter()
        .map(|c| {
            (
                c[..3].parse().expect("digits"),
                c[3..].parse().expect("digits"),
            )
        })
        .collect()
}

impl DeviceSettings for SimLfReaderConfig {
    fn start(&self, start: Start<'_>) -> std::io::Result<()> {
        let stick = SimStick::start(None)?;
        tracing::info!(device = %start.id, pty = %stick.path.display(), "simulated LF stick reader on a pseudo-terminal");
        let driver = LfReader::new(
            start.id.clone(),
            SerialSettings::new(stick.path.to_string_lossy()),
        );
        let sim = self.sim.clone();
        let animals = herd(&sim);
        let cancel = start.cancel.clone();
        start.tasks.spawn(async move {
            let every = Duration::from_millis(sim.read_every_ms);
            for (sent, &(country, id)) in animals.iter().cycle().enumerate() {
                if sim.count.is_some_and(|n| sent as u64 >= n) {
                    break;
                }
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = tokio::time::sleep(every) => {}
                }
                for _ in 0..sim.reads_per_animal {
                    stick.send(wire(sim.format.into(), country, id)).await;
                }
            }
            cancel.cancelled().await;
            drop(stick);
        });
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
