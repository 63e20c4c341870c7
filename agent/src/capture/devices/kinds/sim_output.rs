//! `sim-output`: a simulated bank of output lines — a stack light, a buzzer, a relay — for
//! the demo and for trying commands and feedback rules without hardware. It runs the real
//! output driver (`tracegate_drivers::output`) against `tracegate_drivers::sim::SimOutputs`,
//! so the command path, the life cycle and the status are those a GPIO output bank has.
//!
//! ```toml
//! [[devices]]
//! id = "light-1"
//! kind = "sim-output"
//! lines = ["red", "amber", "green", "buzzer"]
//! ```

use std::collections::HashSet;

use serde::Deserialize;
use tracegate_drivers::output::OutputDriver;
use tracegate_drivers::sim::SimOutputs;

use crate::capture::devices::{Capabilities, DeviceKind, DeviceSettings, KindOf, Roles, Start};
use crate::config::fields::field_names;
use crate::config::{ConfigError, KindKeys, check_topic_level};

/// The kind.
pub static KIND: KindOf<SimOutputSettings> = KindOf::new();

/// A simulated output bank's settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimOutputSettings {
    /// The names of its lines, as commands address them.
    pub lines: Vec<String>,
}

impl DeviceKind for SimOutputSettings {
    const NAME: &'static str = "sim-output";

    const ROLES: Roles = Roles::OUTPUT;

    fn sections() -> Vec<&'static [&'static str]> {
        vec![field_names::<SimOutputSettings>()]
    }

    fn parse(keys: &mut KindKeys<'_>) -> Result<Self, ConfigError> {
        let settings: SimOutputSettings = keys.section()?;
        if settings.lines.is_empty() || settings.lines.len() > 64 {
            return Err(keys.error("lines", "lines must name 1 to 64 output lines"));
        }
        let mut seen = HashSet::new();
        for line in &settings.lines {
            check_topic_level(line, "lines[…]").map_err(|m| keys.error("lines", m))?;
            if !seen.insert(line) {
                return Err(keys.error("lines", format!("line {line:?} is named twice")));
            }
        }
        Ok(settings)
    }
}

impl DeviceSettings for SimOutputSettings {
    fn start(&self, start: Start<'_>) -> std::io::Result<()> {
        let bank = SimOutputs::new(start.id.to_string(), &self.lines);
        tracing::info!(device = %start.id, lines = ?self.lines, "simulated output lines");
        let driver = OutputDriver::new(start.id, bank);
        start
            .tasks
            .spawn(driver.run(start.events, start.commands, start.cancel));
        Ok(())
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            output_lines: self.lines.clone(),
            ..Capabilities::default()
        }
    }
}
