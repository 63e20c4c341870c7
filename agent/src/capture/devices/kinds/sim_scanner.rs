//! `sim-scanner`: a simulated serial scanner for the demo and for trying a configuration
//! without hardware. The simulator writes codes to a pseudo-terminal that the real serial
//! driver reads, so everything after the pty is the code a real scanner runs through.
//!
//! ```toml
//! [[devices]]
//! id = "demo-scanner"
//! kind = "sim-scanner"
//! rate_per_s = 2
//! codes = ["]d20109506000134352\u001d10LOT1"]   # empty: generated GS1 DataMatrix
//! ```

use serde::Deserialize;
use tracegate_drivers::scanner::{FrameSettings, SerialScanner, SerialScannerSettings};
use tracegate_drivers::serial::SerialSettings;
use tracegate_drivers::sim::{ScannerSim, VirtualSerialPort};

use crate::capture::devices::{DeviceKind, DeviceSettings, KindOf, Roles, Start, sim_codes};
use crate::config::fields::field_names;
use crate::config::{ConfigError, KindKeys};

/// The kind.
pub static KIND: KindOf<SimScannerSettings> = KindOf::new();

/// A simulated serial scanner's settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimScannerSettings {
    /// Scans per second.
    #[serde(default = "default_rate")]
    pub rate_per_s: f64,
    /// Codes to send in turn (TOML escapes work: `"\u001d"` is GS). Empty: generated GS1
    /// DataMatrix codes (GTIN, expiry, lot, serial).
    #[serde(default)]
    pub codes: Vec<String>,
    /// Stop after this many scans (default: never).
    #[serde(default)]
    pub count: Option<u64>,
    /// Terminator the simulated scanner sends: `crlf` (default), `cr` or `lf`.
    #[serde(default)]
    pub terminator: SimTerminator,
}

/// Scans per second of a simulated scanner when none is configured.
pub fn default_rate() -> f64 {
    2.0
}

/// Terminator of a simulated scanner.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SimTerminator {
    /// CR LF.
    #[default]
    Crlf,
    /// CR.
    Cr,
    /// LF.
    Lf,
}

impl SimTerminator {
    /// The bytes on the wire.
    pub fn bytes(self) -> &'static [u8] {
        match self {
            SimTerminator::Crlf => b"\r\n",
            SimTerminator::Cr => b"\r",
            SimTerminator::Lf => b"\n",
        }
    }
}

/// Where a simulated scanner's codes come from.
#[derive(Debug, Clone, PartialEq)]
pub enum SimCodeSource<'a> {
    /// The configured list, in turn.
    List(&'a [String]),
    /// Generated GS1 codes.
    Gs1,
}

impl SimScannerSettings {
    /// The configured code source.
    pub fn source(&self) -> SimCodeSource<'_> {
        if self.codes.is_empty() {
            SimCodeSource::Gs1
        } else {
            SimCodeSource::List(&self.codes)
        }
    }
}

impl DeviceKind for SimScannerSettings {
    const NAME: &'static str = "sim-scanner";

    const ROLES: Roles = Roles::INPUT;

    fn sections() -> Vec<&'static [&'static str]> {
        vec![field_names::<SimScannerSettings>()]
    }

    fn parse(keys: &mut KindKeys<'_>) -> Result<Self, ConfigError> {
        let sim: SimScannerSettings = keys.section()?;
        keys.check_rate(sim.rate_per_s)?;
        Ok(sim)
    }
}

impl DeviceSettings for SimScannerSettings {
    fn start(&self, start: Start<'_>) -> std::io::Result<()> {
        let mut port = VirtualSerialPort::new()?;
        let settings = SerialScannerSettings {
            serial: SerialSettings::new(port.path().to_string_lossy()),
            frame: FrameSettings::default(),
        };
        tracing::info!(device = %start.id, pty = %port.path().display(), "simulated scanner on a pseudo-terminal");
        let writer = ScannerSim {
            terminator: self.terminator.bytes().to_vec(),
            ..ScannerSim::default()
        }
        .with_rate(self.rate_per_s);
        let frames = sim_codes::frames(self);
        let sim_cancel = start.cancel.clone();
        let id = start.id.clone();
        start.tasks.spawn(async move {
            match writer.run(port.master(), frames, &sim_cancel).await {
                Ok(sent) => tracing::debug!(device = %id, sent, "simulated scanner finished"),
                Err(e) => tracing::warn!(device = %id, "simulated scanner stopped: {e}"),
            }
            // Keep the pty open (the scanner "plugged in") until the device stops.
            sim_cancel.cancelled().await;
            drop(port);
        });
        let driver = SerialScanner::new(start.id, settings);
        start
            .tasks
            .spawn(driver.run(start.events, start.commands, start.cancel));
        Ok(())
    }
}
