//! A simulated USB HID POS scanner: it sends each scan as the 64-byte input reports a Honeywell
//! or Access-IS scanner sends ([`encode_scan`]), through the same [`ReportOpener`] /
//! [`ReportSource`] interface the hidraw transport implements, and can be unplugged and
//! plugged back in.

use std::io;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use crate::scanner::hid::{ReportOpener, ReportSource};
use crate::scanner::hidpos::encode_scan;

#[derive(Debug)]
struct Plug {
    plugged: bool,
    /// The open device's report line, while one is open.
    line: Option<mpsc::UnboundedSender<io::Result<Vec<u8>>>>,
}

/// The scanner side: scan, unplug, plug back in. Clone it freely.
#[derive(Debug, Clone)]
pub struct SimHidScanner {
    name: String,
    plug: Arc<Mutex<Plug>>,
}

impl SimHidScanner {
    /// A plugged-in simulated scanner called `name` in logs.
    pub fn new(name: impl Into<String>) -> Self {
        SimHidScanner {
            name: name.into(),
            plug: Arc::new(Mutex::new(Plug {
                plugged: true,
                line: None,
            })),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut Plug) -> R) -> R {
        f(&mut self.plug.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// The driver side.
    pub fn opener(&self) -> SimHidOpener {
        SimHidOpener(self.clone())
    }

    /// Sends raw reports; false when no driver has the device open.
    pub fn send_reports(&self, reports: impl IntoIterator<Item = Vec<u8>>) -> bool {
        self.with(|p| match &p.line {
            Some(line) => reports.into_iter().all(|r| line.send(Ok(r)).is_ok()),
            None => false,
        })
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
        self.with(|p| p.line.as_ref().is_some_and(|l| !l.is_closed()))
    }

    /// Pulls the cable: the open device fails its next read, and opening fails until
    /// [`plug_in`](Self::plug_in).
    pub fn unplug(&self) {
        self.with(|p| {
            p.plugged = false;
            if let Some(line) = p.line.take() {
                let _ = line.send(Err(io::Error::new(
                    io::ErrorKind::BrokenPipe,
                    "device disconnected",
                )));
            }
        });
    }

    /// Plugs the cable back in.
    pub fn plug_in(&self) {
        self.with(|p| p.plugged = true);
    }
}

/// Opens a [`SimHidScanner`].
#[derive(Debug)]
pub struct SimHidOpener(SimHidScanner);

impl ReportOpener for SimHidOpener {
    type Source = SimHidSource;

    fn open(&mut self) -> io::Result<SimHidSource> {
        self.0.with(|p| {
            if !p.plugged {
                return Err(io::Error::new(io::ErrorKind::NotFound, "not connected"));
            }
            let (tx, rx) = mpsc::unbounded_channel();
            p.line = Some(tx);
            Ok(SimHidSource(rx))
        })
    }

    fn describe(&self) -> String {
        format!("simulated HID POS scanner {}", self.0.name)
    }
}

/// Reports from a [`SimHidScanner`].
#[derive(Debug)]
pub struct SimHidSource(mpsc::UnboundedReceiver<io::Result<Vec<u8>>>);

impl ReportSource for SimHidSource {
    async fn next_report(&mut self) -> io::Result<Vec<u8>> {
        self.0.recv().await.unwrap_or_else(|| {
            Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "device disconnected",
            ))
        })
    }
}
