//! Serial line settings and opening a port (RS-232, USB CDC-ACM, USB-serial adapters, ptys).

mod line;

use serde::Deserialize;
use tokio_serial::SerialStream;

/// How a serial port is opened. Field names are the config keys of every serial device.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SerialSettings {
    /// Device path: `/dev/ttyACM0`, or better a stable udev name such as
    /// `/dev/serial/by-id/usb-Honeywell_…-if00`, which survives replugging into another port.
    pub port: String,
    /// Line speed in baud.
    #[serde(default = "default_baud")]
    pub baud: u32,
    /// Data bits per character: 5, 6, 7 or 8.
    #[serde(default = "default_data_bits")]
    pub data_bits: u8,
    /// Parity: `none`, `odd` or `even`.
    #[serde(default)]
    pub parity: Parity,
    /// Stop bits: 1 or 2.
    #[serde(default = "default_stop_bits")]
    pub stop_bits: u8,
    /// Flow control: `none`, `software` (XON/XOFF) or `hardware` (RTS/CTS).
    #[serde(default)]
    pub flow_control: FlowControl,
}

fn default_baud() -> u32 {
    9600
}
fn default_data_bits() -> u8 {
    8
}
fn default_stop_bits() -> u8 {
    1
}

/// Serial parity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Parity {
    /// No parity bit (the usual 8N1).
    #[default]
    None,
    /// Odd parity.
    Odd,
    /// Even parity (7E1 is common on older scanners).
    Even,
}

/// Serial flow control.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FlowControl {
    /// None.
    #[default]
    None,
    /// XON/XOFF in-band.
    Software,
    /// RTS/CTS lines.
    Hardware,
}

/// A serial setting that the port cannot take.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SettingsError {
    /// `data_bits` outside 5..=8.
    #[error("data_bits = {0} is not possible: use 5, 6, 7 or 8")]
    DataBits(u8),
    /// `stop_bits` outside 1..=2.
    #[error("stop_bits = {0} is not possible: use 1 or 2")]
    StopBits(u8),
    /// `baud` of zero.
    #[error("baud = 0 is not possible: use the scanner's configured speed, e.g. 9600 or 115200")]
    Baud,
}

impl SettingsError {
    /// The config key the error is about.
    pub fn key(&self) -> &'static str {
        match self {
            SettingsError::DataBits(_) => "data_bits",
            SettingsError::StopBits(_) => "stop_bits",
            SettingsError::Baud => "baud",
        }
    }
}

impl SerialSettings {
    /// Settings for `port` with 9600 8N1 and no flow control.
    pub fn new(port: impl Into<String>) -> Self {
        SerialSettings {
            port: port.into(),
            baud: default_baud(),
            data_bits: default_data_bits(),
            parity: Parity::None,
            stop_bits: default_stop_bits(),
            flow_control: FlowControl::None,
        }
    }

    /// Checks the values a port can take, so that a typo fails at config load, not at open.
    pub fn validate(&self) -> Result<(), SettingsError> {
        if !(5..=8).contains(&self.data_bits) {
            return Err(SettingsError::DataBits(self.data_bits));
        }
        if !(1..=2).contains(&self.stop_bits) {
            return Err(SettingsError::StopBits(self.stop_bits));
        }
        if self.baud == 0 {
            return Err(SettingsError::Baud);
        }
        Ok(())
    }

    /// Opens the port for async I/O with these settings: raw mode, the configured framing
    /// and speed, and locked against other openers (`flock` + `TIOCEXCL`), so a second
    /// process cannot steal frames from it. See [`line`] for how.
    pub fn open(&self) -> std::io::Result<SerialStream> {
        self.validate().map_err(std::io::Error::other)?;
        line::open(self)
    }

    /// [`open`](Self::open) for a driver's life cycle: the error in words naming the port,
    /// as a device's `down` reason.
    pub fn open_for_session(&self) -> Result<SerialStream, String> {
        self.open()
            .map_err(|e| format!("cannot open {}: {e}", self.port))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate_rejects_impossible_line_settings() {
        let mut s = SerialSettings::new("/dev/null");
        assert_eq!(s.validate(), Ok(()));
        s.data_bits = 9;
        assert_eq!(s.validate(), Err(SettingsError::DataBits(9)));
        s.data_bits = 7;
        s.stop_bits = 3;
        assert_eq!(s.validate(), Err(SettingsError::StopBits(3)));
        s.stop_bits = 2;
        s.baud = 0;
        assert_eq!(s.validate(), Err(SettingsError::Baud));
    }

    #[tokio::test]
    async fn opening_a_missing_port_is_an_error_not_a_panic() {
        let s = SerialSettings::new("/dev/tracegate-no-such-port");
        assert!(s.open().is_err());
    }
}
