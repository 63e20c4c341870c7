//! Serial-mode barcode scanners (RS-232, USB CDC-ACM, USB-serial): open the port, frame its
//! bytes with [`FrameCodec`], hand frames over. The connection life cycle (connecting, up,
//! down with backoff, stopped) is [`crate::lifecycle`]'s; an unplugged scanner is a read error
//! or EOF on the port, reported down and reopened by the same path — stable
//! `/dev/serial/by-id/…` names survive the replug.
//!
//! The line is two-way: [`DeviceCommand::Send`] commands from the device's inbox are
//! written to the scanner between reads — the host commands with which RS-232 / USB-COM
//! scanners sound their beeper or light their LED (e.g. Datalogic's `B` good-read tone and
//! `F` "not on file" tone, Magellan 9800i Product Reference Guide, Appendix E "Host
//! Commands"). Which bytes mean what is the caller's business; a command that arrives while
//! the scanner is down is answered "not up" by the life cycle, not kept for later (it was
//! about a read long gone).

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tokio_serial::SerialStream;
use tokio_util::codec::FramedRead;
use tokio_util::sync::CancellationToken;

use super::frame::{FrameCodec, FrameEnd, FrameItem, FrameSettings};
use crate::command::{CommandDone, CommandError, Commands, DeviceCommand};
use crate::lifecycle::{Device, Driver, SessionEnd};
use crate::read::{DeviceEvent, RawRead, ReadMeta};
use crate::serial::SerialSettings;

/// Everything a serial scanner needs: the line settings and the framing.
#[derive(Debug, Clone, PartialEq)]
pub struct SerialScannerSettings {
    /// Port and line settings.
    pub serial: SerialSettings,
    /// Frame end, prefix/suffix, maximum length.
    pub frame: FrameSettings,
}

/// A serial scanner driver. Construct it, then run it in its own task
/// ([`Driver::run`](crate::lifecycle::Driver::run)): it reconnects whenever the port goes
/// away, writes each [`DeviceCommand::Send`] to the scanner between reads, and never returns
/// an error — every failure is reported as a state change.
pub type SerialScanner = Driver<SerialPortDevice>;

impl SerialScanner {
    /// A driver for the scanner `device` with these settings.
    pub fn new(device: Arc<str>, settings: SerialScannerSettings) -> Self {
        Driver::with_device(
            device.clone(),
            SerialPortDevice {
                id: device,
                settings,
            },
        )
    }
}

/// The port side of a serial scanner, as the life cycle runs it (see [`SerialScanner`]).
#[derive(Debug)]
pub struct SerialPortDevice {
    id: Arc<str>,
    settings: SerialScannerSettings,
}

/// Longest a host command may take to be written before it is dropped.
const COMMAND_WRITE_LIMIT: Duration = Duration::from_millis(500);

impl Device for SerialPortDevice {
    type Conn = SerialStream;
    const TAKES_COMMANDS: bool = true;

    fn open(&mut self) -> impl Future<Output = Result<SerialStream, String>> + Send {
        let opened = self.settings.serial.open_for_session();
        async move { opened }
    }

    fn describe(&self) -> String {
        format!("port {}", self.settings.serial.port)
    }

    async fn session(
        &mut self,
        port: SerialStream,
        events: &mpsc::Sender<DeviceEvent>,
        commands: &mut Commands,
        cancel: &CancellationToken,
    ) -> SessionEnd {
        let idle = (self.settings.frame.frame_end == FrameEnd::None)
            .then(|| Duration::from_millis(self.settings.frame.idle_ms.max(1)));
        let (reader, mut writer) = tokio::io::split(port);
        let mut framed = FramedRead::new(reader, FrameCodec::new(&self.settings.frame));
        loop {
            // Without a terminator, reading is always bounded by the pause that ends a frame:
            // FramedRead would otherwise wait for more bytes after the first chunk and never
            // let the pause be seen. Cancelling `next` is safe: read bytes stay in its buffer.
            let next = async {
                match idle {
                    Some(idle) => tokio::time::timeout(idle, framed.next()).await,
                    None => Ok(framed.next().await),
                }
            };
            let item = tokio::select! {
                biased;
                _ = cancel.cancelled() => return SessionEnd::Cancelled,
                request = commands.next() => {
                    let DeviceCommand::Send(bytes) = &request.command else {
                        request.unsupported();
                        continue;
                    };
                    // A scanner that stops taking bytes (XOFF held, a stuck line) must not
                    // stop its reads: the command is dropped instead.
                    let written = tokio::time::timeout(COMMAND_WRITE_LIMIT, writer.write_all(bytes)).await;
                    let len = bytes.len();
                    match written {
                        Ok(Ok(())) => request.answer(Ok(CommandDone::Sent { bytes: len })),
                        Ok(Err(e)) => {
                            request.answer(Err(CommandError::Failed(format!("write error: {e}"))));
                            return SessionEnd::Lost(format!("write error: {e}"));
                        }
                        Err(_) => {
                            let message = format!(
                                "host command {:?} not taken by the scanner within {COMMAND_WRITE_LIMIT:?}; dropped (check flow_control)",
                                bytes.escape_ascii().to_string()
                            );
                            request.answer(Err(CommandError::Timeout(COMMAND_WRITE_LIMIT.as_millis() as u64)));
                            let event = DeviceEvent::FrameError { device: self.id.clone(), message };
                            if events.send(event).await.is_err() {
                                return SessionEnd::ChannelClosed;
                            }
                        }
                    }
                    continue;
                }
                next = next => next,
            };
            let item = match item {
                Ok(Some(Ok(item))) => item,
                Ok(Some(Err(e))) => return SessionEnd::Lost(format!("read error: {e}")),
                Ok(None) => return SessionEnd::Lost("port closed (device unplugged?)".into()),
                Err(_idle) => {
                    let mut buf = std::mem::take(framed.read_buffer_mut());
                    let item = framed.decoder_mut().take_idle_frame(&mut buf);
                    *framed.read_buffer_mut() = buf;
                    match item {
                        Some(item) => item,
                        None => continue,
                    }
                }
            };
            let event = frame_event(
                &self.id,
                item,
                self.settings.frame.max_frame_len,
                ReadMeta::default(),
            );
            if events.send(event).await.is_err() {
                return SessionEnd::ChannelClosed;
            }
        }
    }
}

/// The event for one framed item of a scanner (shared by every scanner transport).
pub fn frame_event(device: &Arc<str>, item: FrameItem, max: usize, meta: ReadMeta) -> DeviceEvent {
    match item {
        FrameItem::Data(payload) => DeviceEvent::Read(RawRead {
            device: device.clone(),
            at: SystemTime::now(),
            mono: Instant::now(),
            payload,
            meta,
        }),
        FrameItem::Overlong { len } => DeviceEvent::FrameError {
            device: device.clone(),
            message: format!(
                "frame longer than max_frame_len = {max} bytes ({len} bytes without a terminator); \
                 discarded up to the next terminator. Check the scanner's terminator setting \
                 against the device's frame end, or raise max_frame_len"
            ),
        },
        FrameItem::Incomplete { len } => DeviceEvent::FrameError {
            device: device.clone(),
            message: format!("incomplete frame of {len} bytes dropped when the device went away"),
        },
    }
}
