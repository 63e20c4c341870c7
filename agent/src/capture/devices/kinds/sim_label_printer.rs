//! `sim-label-printer`: a simulated label printer for the demo and for trying a packing line
//! without one — a ZPL printer on a loopback TCP port or a TSPL printer on a pseudo-terminal
//! (`tracegate_drivers::sim::printer`), driven by the real printer driver over that transport,
//! so the status polling, fault holding and confirmation are those a real printer gets. It
//! keeps what it receives, counts labels, and runs out of paper when its roll is used up
//! (and stays out: the simulated operator does not load a new roll).
//!
//! ```toml
//! [[devices]]
//! id = "line-printer"
//! kind = "sim-label-printer"
//! language = "zpl"   # or "tspl"
//! roll = 500         # labels on a roll; leave out for an endless one
//! ```

use serde::Deserialize;
use tracegate_drivers::printer::driver::{PrinterDevice, Transport};
use tracegate_drivers::serial::SerialSettings;
use tracegate_drivers::sim::{SimPrinter, SimPrinterConfig};

use super::label_printer::{PrinterKeys, PrinterLanguage, parse_printer, poll_times};
use crate::capture::devices::{Capabilities, DeviceKind, DeviceSettings, KindOf, Roles, Start};
use crate::config::fields::field_names;
use crate::config::{ConfigError, KindKeys};

/// The kind.
pub static KIND: KindOf<SimLabelPrinterConfig> = KindOf::new();

/// The simulated printer's mechanism.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimPrinterKeys {
    /// Labels on a roll (none: endless).
    #[serde(default)]
    pub roll: Option<u64>,
}

/// A simulated printer's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct SimLabelPrinterConfig {
    /// Language and poll interval.
    pub printer: PrinterKeys,
    /// The mechanism.
    pub sim: SimPrinterKeys,
}

impl DeviceKind for SimLabelPrinterConfig {
    const NAME: &'static str = "sim-label-printer";

    const ROLES: Roles = Roles::OUTPUT;

    fn sections() -> Vec<&'static [&'static str]> {
        vec![
            field_names::<PrinterKeys>(),
            field_names::<SimPrinterKeys>(),
        ]
    }

    fn parse(keys: &mut KindKeys<'_>) -> Result<Self, ConfigError> {
        let printer = parse_printer(keys)?;
        let sim: SimPrinterKeys = keys.section()?;
        if sim.roll == Some(0) {
            return Err(keys.error("roll", "roll must hold at least one label"));
        }
        Ok(SimLabelPrinterConfig { printer, sim })
    }
}

impl DeviceSettings for SimLabelPrinterConfig {
    fn start(&self, start: Start<'_>) -> std::io::Result<()> {
        let config = SimPrinterConfig {
            roll: self.sim.roll,
            ..SimPrinterConfig::default()
        };
        let poll = poll_times(&self.printer);
        let language = self.printer.language;
        let Start {
            id,
            events,
            commands,
            cancel,
            tasks,
        } = start;
        // The ZPL simulator binds its port asynchronously: both are started in the task,
        // and the simulator stops when the driver does.
        let tspl = match language {
            PrinterLanguage::Tspl => Some(SimPrinter::start_tspl(config.clone(), None)?),
            PrinterLanguage::Zpl => None,
        };
        tasks.spawn(async move {
            let sim = match tspl {
                Some(sim) => sim,
                None => match SimPrinter::start_zpl(config).await {
                    Ok(sim) => sim,
                    Err(e) => {
                        tracing::error!(device = %id, "simulated printer: no loopback port: {e}");
                        return;
                    }
                },
            };
            let transport = match (&sim.addr, &sim.path) {
                (Some(addr), _) => Transport::Tcp(addr.to_string()),
                (None, Some(path)) => {
                    let mut serial = SerialSettings::new(path.to_string_lossy());
                    serial.baud = 115_200;
                    Transport::Serial(serial)
                }
                (None, None) => unreachable!("a simulator has an address or a pty"),
            };
            tracing::info!(device = %id, at = ?transport, "simulated label printer");
            let device = PrinterDevice::new(id, language.into(), transport).with_poll(poll);
            device.driver().run(events, commands, cancel).await;
            sim.stop();
        });
        Ok(())
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            printing: Some(self.printer.language.into()),
            ..Capabilities::default()
        }
    }
}
