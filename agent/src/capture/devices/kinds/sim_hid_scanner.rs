//! `sim-hid-scanner`: a simulated USB HID POS scanner for the demo. Codes are sent as HID POS
//! reports through the real HID POS driver; an AIM identifier at the start of a code (`]d2…`)
//! travels in the report's symbology field, as a real HID POS scanner sends it.

use std::time::Duration;

use serde::Deserialize;
use tracegate_drivers::scanner::HidScanner;
use tracegate_drivers::sim::SimHidScanner;

use super::sim_scanner::{SimScannerSettings, SimTerminator, default_rate};
use crate::capture::devices::{DeviceKind, DeviceSettings, KindOf, Roles, Start, sim_codes};
use crate::config::fields::field_names;
use crate::config::{ConfigError, KindKeys};

/// The kind.
pub static KIND: KindOf<SimHidScannerSettings> = KindOf::new();

/// A simulated HID POS scanner's settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimHidScannerSettings {
    /// Scans per second.
    #[serde(default = "default_rate")]
    pub rate_per_s: f64,
    /// Codes to send in turn; empty: generated GS1 DataMatrix codes.
    #[serde(default)]
    pub codes: Vec<String>,
    /// Stop after this many scans (default: never).
    #[serde(default)]
    pub count: Option<u64>,
}

impl SimHidScannerSettings {
    /// The same codes as a serial simulator with these settings sends.
    pub fn as_serial(&self) -> SimScannerSettings {
        SimScannerSettings {
            rate_per_s: self.rate_per_s,
            codes: self.codes.clone(),
            count: self.count,
            terminator: SimTerminator::default(),
        }
    }
}

impl DeviceKind for SimHidScannerSettings {
    const NAME: &'static str = "sim-hid-scanner";

    const ROLES: Roles = Roles::INPUT;

    fn sections() -> Vec<&'static [&'static str]> {
        vec![field_names::<SimHidScannerSettings>()]
    }

    fn parse(keys: &mut KindKeys<'_>) -> Result<Self, ConfigError> {
        let sim: SimHidScannerSettings = keys.section()?;
        keys.check_rate(sim.rate_per_s)?;
        Ok(sim)
    }
}

impl DeviceSettings for SimHidScannerSettings {
    fn start(&self, start: Start<'_>) -> std::io::Result<()> {
        let scanner = SimHidScanner::new(start.id.to_string());
        tracing::info!(device = %start.id, "simulated HID POS scanner");
        let driver = HidScanner::with_opener(start.id.clone(), scanner.opener(), 4096);
        let frames = sim_codes::frames(&self.as_serial());
        let every = (self.rate_per_s > 0.0).then(|| Duration::from_secs_f64(1.0 / self.rate_per_s));
        let sim_cancel = start.cancel.clone();
        start.tasks.spawn(async move {
            let mut ticker =
                tokio::time::interval(every.unwrap_or_default().max(Duration::from_micros(100)));
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut opened = scanner.watch_open();
            for frame in frames {
                tokio::select! {
                    _ = sim_cancel.cancelled() => return,
                    _ = ticker.tick() => {}
                }
                // A real HID POS scanner sends the AIM identifier in its own report field.
                let (symbology, data) = match frame.0.as_slice() {
                    [b']', a, b, rest @ ..] => (
                        Some(String::from_utf8_lossy(&[b']', *a, *b]).into_owned()),
                        rest.to_vec(),
                    ),
                    data => (None, data.to_vec()),
                };
                // Scans wait until the driver has the device open.
                tokio::select! {
                    _ = sim_cancel.cancelled() => return,
                    _ = opened.wait_for(|open| *open) => {}
                }
                scanner.scan(symbology.as_deref(), &data);
            }
        });
        start
            .tasks
            .spawn(driver.run(start.events, start.commands, start.cancel));
        Ok(())
    }
}
