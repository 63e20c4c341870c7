//! A simulated keyboard-emulation scanner: it types each scan as key events for its layout
//! ([`type_events`]: Shift, AltGr, Ctrl+] for GS, Enter at the end), through the same
//! [`KeyOpener`] / [`KeySource`] interface evdev implements, and can be unplugged ([`Cable`]).

use std::io;

use super::cable::{Cable, Line};
use crate::scanner::keymap::{Layout, type_events};
use crate::scanner::wedge::{KeyOpener, KeySource};

/// What an evdev read reports once the device is gone (ENODEV).
fn no_such_device() -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, "No such device")
}

/// The scanner side. Clone it freely.
#[derive(Debug, Clone)]
pub struct SimKeyboardScanner {
    layout: Layout,
    cable: Cable<(u16, i32)>,
}

impl SimKeyboardScanner {
    /// A plugged-in scanner typing on `layout`.
    pub fn new(layout: Layout) -> Self {
        SimKeyboardScanner {
            layout,
            cable: Cable::new(no_such_device),
        }
    }

    /// The driver side.
    pub fn opener(&self) -> SimKeyboardOpener {
        SimKeyboardOpener(self.clone())
    }

    /// Sends raw key events; false when no driver has the device open.
    pub fn send_events(&self, events: impl IntoIterator<Item = (u16, i32)>) -> bool {
        self.cable.send_all(events)
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
        self.cable.is_open()
    }

    /// Unplugs: the open device fails its next read; opening fails until plugged back in.
    pub fn unplug(&self) {
        self.cable.unplug();
    }

    /// Plugs back in.
    pub fn plug_in(&self) {
        self.cable.plug_in();
    }
}

/// Opens a [`SimKeyboardScanner`].
#[derive(Debug)]
pub struct SimKeyboardOpener(SimKeyboardScanner);

impl KeyOpener for SimKeyboardOpener {
    type Source = SimKeySource;

    fn open(&mut self) -> io::Result<SimKeySource> {
        self.0.cable.open().map(SimKeySource)
    }

    fn describe(&self) -> String {
        format!("simulated keyboard scanner ({:?} layout)", self.0.layout)
    }
}

/// Key events from a [`SimKeyboardScanner`].
#[derive(Debug)]
pub struct SimKeySource(Line<(u16, i32)>);

impl KeySource for SimKeySource {
    async fn next_key(&mut self) -> io::Result<(u16, i32)> {
        self.0.next().await
    }
}
