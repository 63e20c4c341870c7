//! A simulated USB HID POS scanner: it sends each scan as the 64-byte input reports a Honeywell
//! or Access-IS scanner sends ([`encode_scan`]), through the same [`ReportOpener`] /
//! [`ReportSource`] interface the hidraw transport implements, and can be unplugged and
//! plugged back in ([`Cable`]).

use std::io;

use super::cable::{Cable, Line};
use crate::scanner::hid::{ReportOpener, ReportSource};
use crate::scanner::hidpos::encode_scan;

/// What a hidraw read reports once the scanner is unplugged.
fn disconnected() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "device disconnected")
}

/// The scanner side: scan, unplug, plug back in. Clone it freely.
#[derive(Debug, Clone)]
pub struct SimHidScanner {
    name: String,
    cable: Cable<Vec<u8>>,
}

impl SimHidScanner {
    /// A plugged-in simulated scanner called `name` in logs.
    pub fn new(name: impl Into<String>) -> Self {
        SimHidScanner {
            name: name.into(),
            cable: Cable::new(disconnected),
        }
    }

    /// The driver side.
    pub fn opener(&self) -> SimHidOpener {
        SimHidOpener(self.clone())
    }

    /// Sends raw reports; false when no driver has the device open.
    pub fn send_reports(&self, reports: impl IntoIterator<Item = Vec<u8>>) -> bool {
        self.cable.send_all(reports)
    }

    /// Scans `data` (with `symbology`, e.g. `]d2`), as one or more reports.
    pub fn scan(&self, symbology: Option<&str>, data: &[u8]) -> bool {
        self.send_reports(
            encode_scan(symbology, data, 0)
                .into_iter()
                .map(|r| r.to_vec()),
        )
    }

    /// Whether a driver has the device open.
    pub fn is_open(&self) -> bool {
        self.cable.is_open()
    }

    /// A receiver that says whether a driver has the device open (to wait on, not poll).
    pub fn watch_open(&self) -> tokio::sync::watch::Receiver<bool> {
        self.cable.watch_open()
    }

    /// Pulls the cable: the open device fails its next read, and opening fails until
    /// [`plug_in`](Self::plug_in).
    pub fn unplug(&self) {
        self.cable.unplug();
    }

    /// Plugs the cable back in.
    pub fn plug_in(&self) {
        self.cable.plug_in();
    }
}

/// Opens a [`SimHidScanner`].
#[derive(Debug)]
pub struct SimHidOpener(SimHidScanner);

impl ReportOpener for SimHidOpener {
    type Source = SimHidSource;

    fn open(&mut self) -> io::Result<SimHidSource> {
        self.0.cable.open().map(SimHidSource)
    }

    fn describe(&self) -> String {
        format!("simulated HID POS scanner {}", self.0.name)
    }
}

/// Reports from a [`SimHidScanner`].
#[derive(Debug)]
pub struct SimHidSource(Line<Vec<u8>>);

impl ReportSource for SimHidSource {
    async fn next_report(&mut self) -> io::Result<Vec<u8>> {
        self.0.next().await
    }
}
