//! `serial-scanner`: a barcode scanner in serial mode (RS-232, USB CDC-ACM, USB-serial).
//!
//! ```toml
//! [[devices]]
//! id = "scanner-1"
//! kind = "serial-scanner"
//! port = "/dev/serial/by-id/usb-Datalogic_…-if00"
//! baud = 115200
//! frame_end = "crlf"
//! on_accept_send = "B"   # the scanner's good-read tone (its manual's host commands)
//! on_reject_send = "F"
//! ```

use tracegate_drivers::scanner::{FrameSettings, SerialScanner, SerialScannerSettings};
use tracegate_drivers::serial::SerialSettings;

use crate::capture::devices::{Capabilities, DeviceKind, DeviceSettings, KindOf, Roles, Start};
use crate::config::fields::field_names;
use crate::config::{ConfigError, KindKeys, ScannerFeedback};

/// The kind.
pub static KIND: KindOf<SerialScannerConfig> = KindOf::new();

/// A serial scanner's settings: the line, the framing, and its feedback bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct SerialScannerConfig {
    /// Port, line settings and framing.
    pub scanner: SerialScannerSettings,
    /// Host commands sent as operator feedback.
    pub feedback: ScannerFeedback,
}

impl DeviceKind for SerialScannerConfig {
    const NAME: &'static str = "serial-scanner";

    const ROLES: Roles = Roles::INPUT;

    fn sections() -> Vec<&'static [&'static str]> {
        vec![
            field_names::<SerialSettings>(),
            field_names::<FrameSettings>(),
            field_names::<ScannerFeedback>(),
        ]
    }

    fn parse(keys: &mut KindKeys<'_>) -> Result<Self, ConfigError> {
        let serial: SerialSettings = keys.section()?;
        serial.validate().map_err(|e| keys.error(e.key(), &e))?;
        let frame: FrameSettings = keys.section()?;
        let feedback: ScannerFeedback = keys.section()?;
        Ok(SerialScannerConfig {
            scanner: SerialScannerSettings { serial, frame },
            feedback,
        })
    }
}

impl DeviceSettings for SerialScannerConfig {
    fn start(&self, start: Start<'_>) -> std::io::Result<()> {
        let driver = SerialScanner::new(start.id, self.scanner.clone());
        start
            .tasks
            .spawn(driver.run(start.events, start.commands, start.cancel));
        Ok(())
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            feedback: (!self.feedback.is_empty())
                .then_some(&self.feedback)
                .cloned(),
            ..Capabilities::default()
        }
    }
}
