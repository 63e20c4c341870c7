//! Serial-mode barcode scanners (RS-232, USB CDC-ACM, USB-serial): open, frame, report, reconnect.
//!
//! Connection life cycle, one task per scanner:
//!
//! ```text
//!              open ok                      read error / EOF (unplugged)
//!  ┌────────────┐ ───────▶ ┌──────┐ ─────────────────────────────────▶ ┌──────┐
//!  │ Connecting │          │  Up  │   frames ─▶ DeviceEvent::Read      │ Down │
//!  └────────────┘ ◀─┐      └──────┘   bad frames ─▶ FrameError         └──────┘
//!        │ open failed  └───────────── backoff elapsed (250 ms … 10 s, jittered) ◀──┘
//!        └──────────────▶ Down
//!  cancel (any state) ─▶ Stopped
//! ```
//!
//! State changes are reported once per transition, so a scanner that stays unplugged for a day
//! is one `Down` event, not one per retry.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio_serial::SerialStream;
use tokio_util::codec::FramedRead;
use tokio_util::sync::CancellationToken;

use super::frame::{FrameCodec, FrameEnd, FrameItem, FrameSettings};
use crate::backoff::Reconnect;
use crate::read::{DeviceEvent, DeviceState, RawRead, ReadMeta};
use crate::serial::SerialSettings;

/// Everything a serial scanner needs: the line settings and the framing.
#[derive(Debug, Clone, PartialEq)]
pub struct SerialScannerSettings {
    /// Port and line settings.
    pub serial: SerialSettings,
    /// Frame end, prefix/suffix, maximum length.
    pub frame: FrameSettings,
}

/// A serial scanner driver. Construct it, then [`run`](SerialScanner::run) it in its own task.
#[derive(Debug)]
pub struct SerialScanner {
    device: Arc<str>,
    settings: SerialScannerSettings,
    reconnect: Reconnect,
}

/// Why a connected session ended.
enum SessionEnd {
    Cancelled,
    /// The pipeline side of the channel is gone: the daemon is shutting down.
    ChannelClosed,
    Lost(String),
}

impl SerialScanner {
    /// A driver for the scanner `device` with these settings.
    pub fn new(device: Arc<str>, settings: SerialScannerSettings) -> Self {
        SerialScanner {
            device,
            settings,
            reconnect: Reconnect::default(),
        }
    }

    /// Uses other reconnect delays (tests use short ones).
    pub fn with_reconnect(mut self, reconnect: Reconnect) -> Self {
        self.reconnect = reconnect;
        self
    }

    /// Runs until `cancel` fires or the event channel closes, reconnecting whenever the port
    /// goes away. Never returns an error: every failure is reported as a state change.
    pub async fn run(mut self, events: mpsc::Sender<DeviceEvent>, cancel: CancellationToken) {
        let mut reported: Option<DeviceState> = None;
        loop {
            if reported != Some(DeviceState::Down) {
                self.report(&events, &mut reported, DeviceState::Connecting, None)
                    .await;
            }
            let detail = match self.settings.serial.open() {
                Ok(port) => {
                    tracing::info!(device = %self.device, port = %self.settings.serial.port, "scanner connected");
                    self.report(&events, &mut reported, DeviceState::Up, None)
                        .await;
                    self.reconnect.reset();
                    match self.read_frames(port, &events, &cancel).await {
                        SessionEnd::Cancelled | SessionEnd::ChannelClosed => break,
                        SessionEnd::Lost(why) => why,
                    }
                }
                Err(e) => format!("cannot open {}: {e}", self.settings.serial.port),
            };
            if reported != Some(DeviceState::Down) {
                tracing::warn!(device = %self.device, "scanner down: {detail}; retrying");
            }
            self.report(&events, &mut reported, DeviceState::Down, Some(detail))
                .await;
            tokio::select! {
                _ = tokio::time::sleep(self.reconnect.next_delay()) => {}
                _ = cancel.cancelled() => break,
            }
        }
        // Best effort: the receiver may already be gone at shutdown.
        let _ = events
            .send(DeviceEvent::State {
                device: self.device.clone(),
                state: DeviceState::Stopped,
                detail: None,
            })
            .await;
    }

    async fn report(
        &self,
        events: &mpsc::Sender<DeviceEvent>,
        reported: &mut Option<DeviceState>,
        state: DeviceState,
        detail: Option<String>,
    ) {
        if *reported == Some(state) {
            return;
        }
        *reported = Some(state);
        let _ = events
            .send(DeviceEvent::State {
                device: self.device.clone(),
                state,
                detail,
            })
            .await;
    }

    async fn read_frames(
        &self,
        port: SerialStream,
        events: &mpsc::Sender<DeviceEvent>,
        cancel: &CancellationToken,
    ) -> SessionEnd {
        let idle = (self.settings.frame.frame_end == FrameEnd::None)
            .then(|| Duration::from_millis(self.settings.frame.idle_ms.max(1)));
        let mut framed = FramedRead::new(port, FrameCodec::new(&self.settings.frame));
        loop {
            let pending = !framed.read_buffer().is_empty();
            let next = async {
                match idle {
                    Some(idle) if pending => tokio::time::timeout(idle, framed.next()).await,
                    _ => Ok(framed.next().await),
                }
            };
            let item = tokio::select! {
                biased;
                _ = cancel.cancelled() => return SessionEnd::Cancelled,
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
            if !self.forward(item, events).await {
                return SessionEnd::ChannelClosed;
            }
        }
    }

    /// Sends one codec item on; false when the receiver is gone.
    async fn forward(&self, item: FrameItem, events: &mpsc::Sender<DeviceEvent>) -> bool {
        let max = self.settings.frame.max_frame_len;
        let event = match item {
            FrameItem::Data(payload) => DeviceEvent::Read(RawRead {
                device: self.device.clone(),
                at: SystemTime::now(),
                mono: Instant::now(),
                payload,
                meta: ReadMeta::default(),
            }),
            FrameItem::Overlong { len } => DeviceEvent::FrameError {
                device: self.device.clone(),
                message: format!(
                    "frame longer than max_frame_len = {max} bytes ({len} bytes without a terminator); \
                     discarded up to the next terminator. Check the scanner's terminator setting \
                     against frame_end, or raise max_frame_len"
                ),
            },
            FrameItem::Incomplete { len } => DeviceEvent::FrameError {
                device: self.device.clone(),
                message: format!("incomplete frame of {len} bytes dropped when the port closed"),
            },
        };
        events.send(event).await.is_ok()
    }
}
