//! LF (134.2 kHz) animal-tag readers: stick, panel and module readers that send each ISO
//! 11784 / 11785 (FDX-B, HDX) tag they read on a serial line (RS-232, USB-serial, Bluetooth
//! SPP), unasked. [`frame`] is the codec; [`LfReader`] the driver. What a read means (an
//! animal's id, its country) is decided by the agent's identifier layer.
//!
//! ```text
//!   stick reader ──bytes──▶ LfCodec ──LfItem::Tag("982000000255895")──▶ RawRead ──▶ pipeline
//!                               └────LfItem::Refused{why}──────────────▶ FrameError (counted)
//! ```

pub mod frame;

use std::future::Future;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio_serial::SerialStream;
use tokio_util::codec::FramedRead;
use tokio_util::sync::CancellationToken;

pub use frame::{LfCodec, LfItem};

use crate::command::Commands;
use crate::lifecycle::{Device, Driver, SessionEnd};
use crate::read::{DeviceEvent, RawRead, ReadMeta};
use crate::serial::SerialSettings;

/// An LF reader driver: open the port, decode what the reader sends, report each tag read;
/// reconnect whenever the port goes away (see [`crate::lifecycle`]).
pub type LfReader = Driver<LfPort>;

impl LfReader {
    /// A driver for the LF reader `device` on this serial line.
    pub fn new(device: Arc<str>, serial: SerialSettings) -> Self {
        Driver::with_device(device.clone(), LfPort { id: device, serial })
    }
}

/// The port side of an LF reader (see [`LfReader`]).
#[derive(Debug)]
pub struct LfPort {
    id: Arc<str>,
    serial: SerialSettings,
}

impl Device for LfPort {
    type Conn = SerialStream;

    fn open(&mut self) -> impl Future<Output = Result<SerialStream, String>> + Send {
        let opened = self.serial.open_for_session();
        async move { opened }
    }

    fn describe(&self) -> String {
        format!("port {}", self.serial.port)
    }

    async fn session(
        &mut self,
        port: SerialStream,
        events: &mpsc::Sender<DeviceEvent>,
        _commands: &mut Commands,
        cancel: &CancellationToken,
    ) -> SessionEnd {
        let mut framed = FramedRead::new(port, LfCodec::new());
        loop {
            let item = tokio::select! {
                biased;
                _ = cancel.cancelled() => return SessionEnd::Cancelled,
                item = framed.next() => item,
            };
            let event = match item {
                Some(Ok(LfItem::Tag(id))) => DeviceEvent::Read(RawRead {
                    device: self.id.clone(),
                    at: SystemTime::now(),
                    mono: Instant::now(),
                    payload: id.into(),
                    meta: ReadMeta::default(),
                }),
                Some(Ok(LfItem::Refused { seen, reason })) => DeviceEvent::FrameError {
                    device: self.id.clone(),
                    message: format!("refused {seen:?}: {reason}"),
                },
                Some(Err(e)) => return SessionEnd::Lost(format!("read error: {e}")),
                None => return SessionEnd::Lost("port closed (reader unplugged?)".into()),
            };
            if events.send(event).await.is_err() {
                return SessionEnd::ChannelClosed;
            }
        }
    }
}
