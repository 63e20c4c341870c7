//! `sim-llrp-reader`: a simulated LLRP reader at a dock door, for the demo and for trying a
//! gate's settings without hardware. The simulator (`tracegate_drivers::sim::llrp`) listens
//! on a loopback port and the real LLRP client connects to it, so everything from the TCP
//! socket on is the code a real reader runs through. Pallets of SGTIN-96 tags pass through
//! the door, each seen first on one antenna and then on the other.
//!
//! ```toml
//! [[devices]]
//! id = "dock-door"
//! kind = "sim-llrp-reader"
//! pass_every_ms = 5000      # a pallet through the door this often
//! tags_per_pass = 4
//! passes = "alternate"      # in, out, or alternate
//! zones = [{ name = "inside", antennas = [1] }, { name = "outside", antennas = [2] }]
//! direction = { inside = "inside", outside = "outside" }
//! ```

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use tracegate_drivers::rfid::llrp::{LlrpReader, LlrpSettings};
use tracegate_drivers::sim::llrp::{SimReader, SimReaderConfig, gate_pass, sgtin96};

use super::llrp_reader::parse_rfid;
use crate::capture::devices::{Capabilities, DeviceKind, DeviceSettings, KindOf, Roles, Start};
use crate::capture::rfid::{RfidKeys, RfidSettings};
use crate::config::fields::field_names;
use crate::config::{ConfigError, KindKeys};

/// The kind.
pub static KIND: KindOf<SimLlrpReaderConfig> = KindOf::new();

/// Which way the simulated pallets go.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Passes {
    /// Outside antenna, then inside.
    In,
    /// Inside antenna, then outside.
    Out,
    /// In, then out, in turn.
    #[default]
    Alternate,
}

/// The simulated door's settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimLlrpSettings {
    /// A pallet through the door this often.
    #[serde(default = "default_every")]
    pub pass_every_ms: u64,
    /// Tags on each pallet.
    #[serde(default = "default_tags")]
    pub tags_per_pass: u16,
    /// Which way they go.
    #[serde(default)]
    pub passes: Passes,
    /// The antenna on the building's side.
    #[serde(default = "one")]
    pub inside_antenna: u16,
    /// The antenna on the yard's side.
    #[serde(default = "two")]
    pub outside_antenna: u16,
    /// Report ticks per second.
    #[serde(default = "default_rate")]
    pub report_rate: f64,
}

fn default_every() -> u64 {
    5000
}
fn default_tags() -> u16 {
    4
}
fn one() -> u16 {
    1
}
fn two() -> u16 {
    2
}
fn default_rate() -> f64 {
    20.0
}

/// A simulated reader's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct SimLlrpReaderConfig {
    /// The door.
    pub sim: SimLlrpSettings,
    /// Zones, smoothing, direction, filters.
    pub rfid: Arc<RfidSettings>,
}

impl DeviceKind for SimLlrpReaderConfig {
    const NAME: &'static str = "sim-llrp-reader";

    const ROLES: Roles = Roles::INPUT;

    fn sections() -> Vec<&'static [&'static str]> {
        vec![field_names::<SimLlrpSettings>(), field_names::<RfidKeys>()]
    }

    fn parse(keys: &mut KindKeys<'_>) -> Result<Self, ConfigError> {
        let sim: SimLlrpSettings = keys.section()?;
        if !(1000..=3_600_000).contains(&sim.pass_every_ms) {
            return Err(keys.error("pass_every_ms", "pass_every_ms must be 1000 ms to 1 hour"));
        }
        if !(1..=1000).contains(&sim.tags_per_pass) {
            return Err(keys.error("tags_per_pass", "tags_per_pass must be 1 to 1000"));
        }
        if !(1.0..=1000.0).contains(&sim.report_rate) {
            return Err(keys.error("report_rate", "report_rate must be 1 to 1000 per second"));
        }
        if sim.inside_antenna == sim.outside_antenna
            || sim.inside_antenna == 0
            || sim.outside_antenna == 0
        {
            return Err(keys.error(
                "inside_antenna",
                "inside_antenna and outside_antenna must be two antenna ports (from 1)",
            ));
        }
        let rfid = parse_rfid(keys)?;
        Ok(SimLlrpReaderConfig { sim, rfid })
    }
}

/// The simulator's script for a door: one pallet per `pass_every_ms`, replayed with new
/// serials.
pub fn script(s: &SimLlrpSettings) -> SimReaderConfig {
    let every = Duration::from_millis(s.pass_every_ms);
    let directions: &[bool] = match s.passes {
        Passes::In => &[true],
        Passes::Out => &[false],
        Passes::Alternate => &[true, false],
    };
    let mut script = Vec::new();
    for (n, &inward) in directions.iter().enumerate() {
        let (from, to) = if inward {
            (s.outside_antenna, s.inside_antenna)
        } else {
            (s.inside_antenna, s.outside_antenna)
        };
        for tag in 0..u64::from(s.tags_per_pass) {
            // Serials a million apart: each replay adds its round number.
            let serial = (n as u64 * 1000 + tag) * 1_000_000;
            let epc = sgtin96(1, 614_141, 812_345, serial);
            // A pallet's tags enter the field within a quarter of the pass interval.
            let step = (s.pass_every_ms / (4 * u64::from(s.tags_per_pass))).min(40);
            let stagger = Duration::from_millis(step * tag);
            script.push(gate_pass(epc, every * n as u32 + stagger, from, to));
        }
    }
    SimReaderConfig {
        report_rate: s.report_rate,
        script,
        repeat_every: Some(every * directions.len() as u32),
        ..SimReaderConfig::default()
    }
}

impl DeviceSettings for SimLlrpReaderConfig {
    fn start(&self, start: Start<'_>) -> std::io::Result<()> {
        let script = script(&self.sim);
        let Start {
            id,
            events,
            commands,
            cancel,
            tasks,
        } = start;
        tasks.spawn(async move {
            let sim = match SimReader::start(script).await {
                Ok(sim) => sim,
                Err(e) => {
                    tracing::error!(device = %id, "simulated reader cannot listen on loopback: {e}");
                    return;
                }
            };
            tracing::info!(device = %id, port = sim.port, "simulated LLRP reader on loopback");
            let driver = LlrpReader::new(id, LlrpSettings::new("127.0.0.1", sim.port));
            driver.run(events, commands, cancel).await;
            drop(sim);
        });
        Ok(())
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            rfid: Some(&self.rfid).cloned(),
            ..Capabilities::default()
        }
    }
}
