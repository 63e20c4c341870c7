//! Keyboard-emulation ("keyboard wedge") scanners through evdev: the scanner's key events are
//! read from its own `/dev/input/event*` device with an exclusive grab (EVIOCGRAB), so scans
//! never reach a console or another program, and turned back into text by [`KeyTranslator`]
//! for the layout configured on the scanner. Life cycle as every driver ([`crate::lifecycle`]).
//!
//! Serial or HID POS mode is better wherever the scanner offers it (no layout to match, AIM
//! identifiers and GS arrive as sent); this is for scanners that only do keyboard mode.

use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::BytesMut;
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::frame::FrameItem;
use super::keymap::{KeyTerminator, KeyTranslator, Layout, Typed};
use super::serial::frame_event;
use crate::command::Commands;
use crate::lifecycle::{Device, Driver, SessionEnd};
use crate::read::{DeviceEvent, ReadMeta};

/// A keyboard-emulation scanner's settings. Field names are config keys.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyboardScannerSettings {
    /// The scanner's input device, best by its stable name:
    /// `/dev/input/by-id/usb-Honeywell_…-event-kbd`.
    pub path: PathBuf,
    /// The keyboard layout set on the scanner: `us`, `uk`, `de`, `fr`.
    #[serde(default)]
    pub layout: Layout,
    /// What ends a scan: `enter` (default), `tab` or `any`.
    #[serde(default)]
    pub terminator: KeyTerminator,
    /// Take the device exclusively (EVIOCGRAB) so keystrokes reach nothing else.
    #[serde(default = "yes")]
    pub grab: bool,
    /// Longest scan accepted, in bytes.
    #[serde(default = "default_max_len")]
    pub max_frame_len: usize,
}

fn yes() -> bool {
    true
}

fn default_max_len() -> usize {
    4096
}

/// Key events from an open input device.
pub trait KeySource: Send {
    /// The next key event: (key code, value: 1 press, 0 release, 2 repeat).
    fn next_key(&mut self) -> impl Future<Output = io::Result<(u16, i32)>> + Send;
}

/// Opens an input device.
pub trait KeyOpener: Send {
    /// An open device.
    type Source: KeySource;
    /// Opens (and grabs) it.
    fn open(&mut self) -> io::Result<Self::Source>;
    /// What to call it in logs.
    fn describe(&self) -> String;
}

/// A keyboard-emulation scanner driver; run it with
/// [`Driver::run`](crate::lifecycle::Driver::run).
pub type KeyboardScanner<O> = Driver<KeyboardDevice<O>>;

impl KeyboardScanner<EvdevOpener> {
    /// A driver for the scanner at `settings.path`.
    pub fn new(id: Arc<str>, settings: &KeyboardScannerSettings) -> Self {
        KeyboardScanner::with_opener(
            id,
            EvdevOpener {
                path: settings.path.clone(),
                grab: settings.grab,
            },
            settings,
        )
    }
}

impl<O: KeyOpener> KeyboardScanner<O> {
    /// A driver reading through `opener` (the simulator in tests). The scanner takes no
    /// commands: each one is answered unsupported.
    pub fn with_opener(id: Arc<str>, opener: O, settings: &KeyboardScannerSettings) -> Self {
        Driver::with_device(
            id.clone(),
            KeyboardDevice {
                id,
                opener,
                translator: KeyTranslator::new(settings.layout, settings.terminator),
                max_len: settings.max_frame_len,
            },
        )
    }
}

/// A keyboard-wedge scanner as the life cycle runs it (see [`KeyboardScanner`]).
#[derive(Debug)]
pub struct KeyboardDevice<O> {
    id: Arc<str>,
    opener: O,
    translator: KeyTranslator,
    max_len: usize,
}

impl<O: KeyOpener> Device for KeyboardDevice<O> {
    type Conn = O::Source;

    fn open(&mut self) -> impl Future<Output = Result<O::Source, String>> + Send {
        let opened = self
            .opener
            .open()
            .map_err(|e| format!("cannot open {}: {e}", self.opener.describe()));
        async move { opened }
    }

    fn describe(&self) -> String {
        self.opener.describe()
    }

    async fn session(
        &mut self,
        mut source: O::Source,
        events: &mpsc::Sender<DeviceEvent>,
        _commands: &mut Commands,
        cancel: &CancellationToken,
    ) -> SessionEnd {
        self.translator.reset();
        let mut frame = BytesMut::new();
        let mut overlong = 0usize;
        loop {
            let key = tokio::select! {
                biased;
                _ = cancel.cancelled() => return SessionEnd::Cancelled,
                k = source.next_key() => k,
            };
            let (code, value) = match key {
                Ok(k) => k,
                Err(e) => {
                    if !frame.is_empty() {
                        let item = FrameItem::Incomplete { len: frame.len() };
                        let _ = events
                            .send(frame_event(
                                &self.id,
                                item,
                                self.max_len,
                                ReadMeta::default(),
                            ))
                            .await;
                    }
                    return SessionEnd::Lost(format!("input device read failed: {e} (unplugged?)"));
                }
            };
            let item = match self.translator.feed(code, value) {
                None => continue,
                Some(Typed::Bytes(bytes)) => {
                    if overlong > 0 || frame.len() + bytes.len() > self.max_len {
                        overlong += frame.len() + bytes.len();
                        frame.clear();
                    } else {
                        frame.extend_from_slice(&bytes);
                    }
                    continue;
                }
                Some(Typed::End) if overlong > 0 => {
                    let len = std::mem::take(&mut overlong);
                    FrameItem::Overlong { len }
                }
                Some(Typed::End) if frame.is_empty() => continue,
                Some(Typed::End) => FrameItem::Data(frame.split().freeze()),
            };
            let event = frame_event(&self.id, item, self.max_len, ReadMeta::default());
            if events.send(event).await.is_err() {
                return SessionEnd::ChannelClosed;
            }
        }
    }
}

/// Opens an evdev input device, grabbing it.
#[derive(Debug, Clone)]
pub struct EvdevOpener {
    path: PathBuf,
    grab: bool,
}

impl KeyOpener for EvdevOpener {
    type Source = EvdevSource;

    fn open(&mut self) -> io::Result<EvdevSource> {
        let mut device = evdev::Device::open(&self.path)?;
        if self.grab {
            device.grab().map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("cannot grab it exclusively ({e}); is another program reading it?"),
                )
            })?;
        }
        Ok(EvdevSource(device.into_event_stream()?))
    }

    fn describe(&self) -> String {
        format!("input device {}", self.path.display())
    }
}

/// Key events from evdev.
pub struct EvdevSource(evdev::EventStream);

impl std::fmt::Debug for EvdevSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EvdevSource")
    }
}

impl KeySource for EvdevSource {
    async fn next_key(&mut self) -> io::Result<(u16, i32)> {
        loop {
            let event = self.0.next_event().await?;
            if event.event_type() == evdev::EventType::KEY {
                return Ok((event.code(), event.value()));
            }
        }
    }
}
