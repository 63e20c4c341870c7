//! `label-printer`: a ZPL or TSPL label printer on raw TCP (port 9100), a serial line or the
//! USB printer class device. Its driver (`tracegate_drivers::printer::driver`) keeps the
//! connection (reconnect with backoff, up / down in status), polls the printer's status with
//! backoff, shows its faults (paper out, head open, paused, silent …) in status and metrics,
//! and prints a job only when the printer is ready, answering once the printer's status shows
//! the job printed.
//!
//! ```toml
//! [[devices]]
//! id = "line-printer"
//! kind = "label-printer"
//! language = "zpl"              # or "tspl"
//! address = "192.168.10.40:9100" # raw TCP; or a serial line:
//! # port = "/dev/serial/by-id/usb-FTDI_…-if00-port0"
//! # baud = 9600                 # and data_bits, parity, stop_bits, flow_control
//! # or a USB printer class device:
//! # usb = "/dev/usb/lp0"
//! status_interval_ms = 10000    # status poll while idle (faster while printing or faulted)
//! ```

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use tracegate_drivers::printer::driver::{Language, PollTimes, PrinterDevice, Transport};
use tracegate_drivers::serial::SerialSettings;

use crate::capture::devices::{Capabilities, DeviceKind, DeviceSettings, KindOf, Roles, Start};
use crate::config::fields::field_names;
use crate::config::{ConfigError, KindKeys};
use crate::labels::templates::TemplateLanguage;

/// The kind.
pub static KIND: KindOf<LabelPrinterConfig> = KindOf::new();

/// The printer language key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PrinterLanguage {
    /// Zebra ZPL II and its emulations.
    Zpl,
    /// TSC TSPL / TSPL2.
    Tspl,
}

impl From<PrinterLanguage> for TemplateLanguage {
    fn from(language: PrinterLanguage) -> TemplateLanguage {
        match language {
            PrinterLanguage::Zpl => TemplateLanguage::Zpl,
            PrinterLanguage::Tspl => TemplateLanguage::Tspl,
        }
    }
}

impl From<PrinterLanguage> for Language {
    fn from(language: PrinterLanguage) -> Language {
        match language {
            PrinterLanguage::Zpl => Language::Zpl,
            PrinterLanguage::Tspl => Language::Tspl,
        }
    }
}

/// The keys every printer takes (a simulated one too).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrinterKeys {
    /// `zpl` or `tspl`.
    pub language: PrinterLanguage,
    /// Status poll interval while idle, in milliseconds.
    #[serde(default = "default_interval")]
    pub status_interval_ms: u64,
}

fn default_interval() -> u64 {
    10_000
}

/// Where a real printer is.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransportKeys {
    /// `host:port` of a network printer (raw TCP, usually port 9100).
    #[serde(default)]
    pub address: Option<String>,
    /// A USB printer class device (`/dev/usb/lp0`).
    #[serde(default)]
    pub usb: Option<PathBuf>,
}

/// A printer's validated settings.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelPrinterConfig {
    /// Language and poll interval.
    pub printer: PrinterKeys,
    /// How it is reached.
    pub transport: Transport,
}

/// The poll times for `keys`: the idle interval configured, the rest the driver's defaults.
pub fn poll_times(keys: &PrinterKeys) -> PollTimes {
    PollTimes {
        idle: Duration::from_millis(keys.status_interval_ms),
        ..PollTimes::default()
    }
}

/// Parses and checks the keys every printer takes.
pub fn parse_printer(keys: &mut KindKeys<'_>) -> Result<PrinterKeys, ConfigError> {
    let printer: PrinterKeys = keys.section()?;
    if !(1000..=600_000).contains(&printer.status_interval_ms) {
        return Err(keys.error(
            "status_interval_ms",
            "status_interval_ms must be 1000 to 600000 (a poll more often than once a second \
             slows a printer; the driver polls faster by itself while a job prints)",
        ));
    }
    Ok(printer)
}

/// Starts the printer driver for `device` on `start`'s tasks.
pub fn spawn(start: Start<'_>, device: PrinterDevice) {
    start.tasks.spawn(
        device
            .driver()
            .run(start.events, start.commands, start.cancel),
    );
}

impl DeviceKind for LabelPrinterConfig {
    const NAME: &'static str = "label-printer";

    const ROLES: Roles = Roles::OUTPUT;

    fn sections() -> Vec<&'static [&'static str]> {
        vec![
            field_names::<PrinterKeys>(),
            field_names::<TransportKeys>(),
            field_names::<SerialSettings>(),
        ]
    }

    fn parse(keys: &mut KindKeys<'_>) -> Result<Self, ConfigError> {
        let printer = parse_printer(keys)?;
        let where_: TransportKeys = keys.section()?;
        let serial_keys = ["baud", "data_bits", "parity", "stop_bits", "flow_control"];
        let given = [
            where_.address.is_some(),
            keys.has("port"),
            where_.usb.is_some(),
        ];
        if given.iter().filter(|&&g| g).count() != 1 {
            return Err(keys.error(
                "address",
                "a label-printer needs exactly one of address = \"host:9100\" (network), \
                 port = \"/dev/tty…\" (serial) or usb = \"/dev/usb/lp0\" (USB printer class)",
            ));
        }
        let transport = if let Some(address) = where_.address {
            if !address.contains(':') {
                return Err(keys.error(
                    "address",
                    format!("address {address:?} needs a port: \"{address}:9100\""),
                ));
            }
            Transport::Tcp(address)
        } else if let Some(usb) = where_.usb {
            Transport::UsbPrinter(usb)
        } else {
            let serial: SerialSettings = keys.section()?;
            serial.validate().map_err(|e| keys.error(e.key(), &e))?;
            Transport::Serial(serial)
        };
        if !matches!(transport, Transport::Serial(_))
            && let Some(key) = serial_keys.iter().find(|k| keys.has(k))
        {
            return Err(keys.error(
                key,
                format!("{key} is a serial line setting; this printer is not on port = …"),
            ));
        }
        Ok(LabelPrinterConfig { printer, transport })
    }
}

impl DeviceSettings for LabelPrinterConfig {
    fn start(&self, start: Start<'_>) -> std::io::Result<()> {
        let device = PrinterDevice::new(
            start.id.clone(),
            self.printer.language.into(),
            self.transport.clone(),
        )
        .with_poll(poll_times(&self.printer));
        spawn(start, device);
        Ok(())
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            printing: Some(self.printer.language.into()),
            ..Capabilities::default()
        }
    }
}
