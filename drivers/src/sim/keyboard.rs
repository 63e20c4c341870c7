//! A simulated keyboard-emulation scanner: it types each scan as key events for its layout
//! ([`type_events`]: Shift, AltGr, Ctrl+] for GS, Enter at the end), through the same
//! [`KeyOpener`] / [`KeySource`] interface evdev implements, and can be unplugged.

use std::io;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use crate::scanner::keymap::{Layout, type_events};
use crate::scanner::wedge::{KeyOpener, KeySource};

#[derive(Debug)]
struct Plug {
    plugged: bool,
    line: Option<mpsc::UnboundedSender<io::Result<(u16, i32)>>>,
}

/// The scanner side. Clone it freely.
#[derive(Debug, Clone)]
pub struct SimKeyboardScanner {
    layout: Layout,
    plug: Arc<Mutex<Plug>>,
}

impl SimKeyboardScanner {
    /// A plugged-in scanner typing on `layout`.
    pub fn new(layout: Layout) -> Self {
        SimKeyboardScanner {
            layout,
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
    pub fn opener(&self) -> SimKeyboardOpener {
        SimKeyboardOpener(self.clone())
    }

    /// Sends raw key events; false when no driver has the device open.
    pub fn send_events(&self, events: impl IntoIterator<Item = (u16, i32)>) -> bool {
        self.with(|p| match &p.line {
            Some(line) => events.into_iter().all(|e| line.send(Ok(e)).is_ok()),
            None => false,
        })
    }

    /// Types `code` and Enter; false when not open or the layout cannot type it.
    pub fn scan(&self, code: &[u8]) -> bool {
        match type_events(self.layout, code) {
            Some(events) => self.send_events(events),
            None => false,
        }
    }

    /// Whether a driver has the device open.
    pub fn is_open(&self) -> bool {
        self.with(|p| p.line.as_ref().is_some_and(|l| !l.is_closed()))
    }

    /// Unplugs: the open device fails its next read; opening fails until plugged back in.
    pub fn unplug(&self) {
        self.with(|p| {
            p.plugged = false;
            if let Some(line) = p.line.take() {
                let _ = line.send(Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    "No such device",
                )));
            }
        });
    }

    /// Plugs back in.
    pub fn plug_in(&self) {
        self.with(|p| p.plugged = true);
    }
}

/// Opens a [`SimKeyboardScanner`].
#[derive(Debug)]
pub struct SimKeyboardOpener(SimKeyboardScanner);

impl KeyOpener for SimKeyboardOpener {
    type Source = SimKeySource;

    fn open(&mut self) -> io::Result<SimKeySource> {
        self.0.with(|p| {
            if !p.plugged {
                return Err(io::Error::new(io::ErrorKind::NotFound, "No such device"));
            }
            let (tx, rx) = mpsc::unbounded_channel();
            p.line = Some(tx);
            Ok(SimKeySource(rx))
        })
    }

    fn describe(&self) -> String {
        format!("simulated keyboard scanner ({:?} layout)", self.0.layout)
    }
}

/// Key events from a [`SimKeyboardScanner`].
#[derive(Debug)]
pub struct SimKeySource(mpsc::UnboundedReceiver<io::Result<(u16, i32)>>);

impl KeySource for SimKeySource {
    async fn next_key(&mut self) -> io::Result<(u16, i32)> {
        self.0
            .recv()
            .await
            .unwrap_or_else(|| Err(io::Error::new(io::ErrorKind::NotFound, "No such device")))
    }
}
