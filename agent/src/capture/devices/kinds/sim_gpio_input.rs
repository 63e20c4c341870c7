//! `sim-gpio-input`: simulated input lines with the keys of `gpio-input`, read through the
//! real input driver (debounce and all) from `tracegate_drivers::sim::SimInputs`, for the demo
//! and for trying rules without a Pi. A script can break a photo-eye's beam on a schedule,
//! with contact bounce, so the debounce is seen at work.
//!
//! ```toml
//! [[devices]]
//! id = "dock-eye"
//! kind = "sim-gpio-input"
//! lines = [{ name = "photo-eye", pin = 17, pull = "up", active = "low", role = "photo-eye" }]
//! script = { line = "photo-eye", every_ms = 5000, hold_ms = 1500, bounces = 3 }
//! ```

use std::time::Duration;

use serde::Deserialize;
use tracegate_drivers::gpio::InputDriver;
use tracegate_drivers::sim::SimInputs;

use super::gpio_input::{ActiveLevel, GpioInputSettings, InputLineConfig, check_lines};
use crate::capture::devices::{Capabilities, DeviceKind, DeviceSettings, KindOf, Roles, Start};
use crate::config::fields::field_names;
use crate::config::{ConfigError, KindKeys};

/// The kind.
pub static KIND: KindOf<SimGpioInputSettings> = KindOf::new();

/// A line activated on a schedule.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimScript {
    /// Which line.
    pub line: String,
    /// Activated this often.
    pub every_ms: u64,
    /// For this long.
    pub hold_ms: u64,
    /// Contact bounces (1 ms apart) at each edge.
    #[serde(default)]
    pub bounces: u8,
}

/// The simulation's own keys.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimGpioKeys {
    /// The schedule, if any (without one, the lines stay inactive).
    #[serde(default)]
    pub script: Option<SimScript>,
}

/// A simulated input device's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct SimGpioInputSettings {
    /// The lines, as a `gpio-input` has them.
    pub gpio: GpioInputSettings,
    /// The simulation's schedule.
    pub sim: SimGpioKeys,
}

impl DeviceKind for SimGpioInputSettings {
    const NAME: &'static str = "sim-gpio-input";

    const ROLES: Roles = Roles::SENSOR;

    fn sections() -> Vec<&'static [&'static str]> {
        vec![
            field_names::<GpioInputSettings>(),
            field_names::<SimGpioKeys>(),
        ]
    }

    fn parse(keys: &mut KindKeys<'_>) -> Result<Self, ConfigError> {
        let gpio: GpioInputSettings = keys.section()?;
        let sim: SimGpioKeys = keys.section()?;
        check_lines(keys, &gpio.lines, true)?;
        if let Some(script) = &sim.script {
            if !gpio.lines.iter().any(|l| l.name == script.line) {
                return Err(keys.error(
                    "script",
                    format!("script.line {:?} is not one of lines", script.line),
                ));
            }
            if script.hold_ms == 0 || script.hold_ms >= script.every_ms || script.bounces > 20 {
                return Err(keys.error(
                    "script",
                    "script needs 0 < hold_ms < every_ms and at most 20 bounces",
                ));
            }
        }
        Ok(SimGpioInputSettings { gpio, sim })
    }
}

/// The electrical level of `line` when `active`.
fn level(line: &InputLineConfig, active: bool) -> bool {
    active != (line.active == ActiveLevel::Low)
}

/// Drives the scripted line: inactive, then active for `hold_ms` every `every_ms`, bouncing.
async fn play(bank: SimInputs, line: InputLineConfig, script: SimScript) {
    let bounce = |to: bool| {
        let bank = bank.clone();
        let name = line.name.clone();
        async move {
            for _ in 0..script.bounces {
                bank.set(&name, to);
                tokio::time::sleep(Duration::from_millis(1)).await;
                bank.set(&name, !to);
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            bank.set(&name, to);
        }
    };
    let mut every = tokio::time::interval(Duration::from_millis(script.every_ms));
    every.tick().await;
    loop {
        every.tick().await;
        bounce(level(&line, true)).await;
        tokio::time::sleep(Duration::from_millis(script.hold_ms)).await;
        bounce(level(&line, false)).await;
    }
}

impl DeviceSettings for SimGpioInputSettings {
    fn start(&self, start: Start<'_>) -> std::io::Result<()> {
        let lines = &self.gpio.lines;
        let bank = SimInputs::new(
            start.id.to_string(),
            &lines
                .iter()
                .map(|l| (l.name.clone(), level(l, false)))
                .collect::<Vec<_>>(),
        );
        if let Some(script) = &self.sim.script {
            let line = lines
                .iter()
                .find(|l| l.name == script.line)
                .expect("checked at load")
                .clone();
            let cancel = start.cancel.clone();
            let play = play(bank.clone(), line, script.clone());
            start.tasks.spawn(async move {
                tokio::select! {
                    _ = cancel.cancelled() => {}
                    _ = play => {}
                }
            });
        }
        let specs = lines.iter().map(InputLineConfig::spec).collect();
        let driver = InputDriver::new(start.id, bank, specs);
        start
            .tasks
            .spawn(driver.run(start.events, start.commands, start.cancel));
        Ok(())
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            input_lines: self.gpio.lines.clone(),
            ..Capabilities::default()
        }
    }
}
