//! The connection life cycle every driver shares: open, run a session, and on any failure
//! report the device down, wait (backoff with jitter) and open again — until cancelled. A
//! device that goes away (unplugged, powered off, cable cut) is a normal event: its driver
//! says so once and keeps trying; other devices and the daemon carry on.
//!
//! ```text
//!              open ok                      session lost (read error, EOF, unplugged)
//!  ┌────────────┐ ───────▶ ┌──────┐ ─────────────────────────────────▶ ┌──────┐
//!  │ Connecting │          │  Up  │   session: reads ─▶ DeviceEvent    │ Down │
//!  └────────────┘ ◀─┐      └──────┘                                    └──────┘
//!        │ open failed  └───────────── backoff elapsed (jittered, capped) ◀──┘
//!        └──────────────▶ Down
//!  cancel (any state) ─▶ Stopped
//! ```
//!
//! State changes are reported once per transition, so a device that stays unplugged for a day
//! is one `Down` event, not one per retry; a device still down for a new reason (a reader
//! that now answers but refuses) is reported again with that reason.
//!
//! Input and output devices share this life cycle. Commands ([`crate::command`]) reach the
//! session while the device is up; one that arrives while it is connecting or down is
//! answered `NotUp` at once (a light switched "captured" an hour late would be a lie), and a
//! device whose session does not take commands has each one answered `Unsupported`.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::backoff::Reconnect;
use crate::command::{CommandError, CommandRequest, Commands};
use crate::read::{DeviceEvent, DeviceState};

/// How a connected session ended.
#[derive(Debug)]
pub enum SessionEnd {
    /// Cancelled: the daemon is stopping.
    Cancelled,
    /// The pipeline side of the channel is gone: the daemon is shutting down.
    ChannelClosed,
    /// The device went away; why, in words for status and logs.
    Lost(String),
}

/// A device a driver connects to and reads from.
pub trait Device: Send {
    /// An open connection.
    type Conn: Send;

    /// Whether [`session`](Device::session) takes commands from its inbox itself; when not,
    /// the life cycle answers each one `Unsupported` while the session runs.
    const TAKES_COMMANDS: bool = false;

    /// Opens the device; the error says what failed, naming the port or device.
    fn open(&mut self) -> impl Future<Output = Result<Self::Conn, String>> + Send;

    /// Reads from (and, with commands, writes to) an open connection until it fails or
    /// `cancel` fires.
    fn session(
        &mut self,
        conn: Self::Conn,
        events: &mpsc::Sender<DeviceEvent>,
        commands: &mut Commands,
        cancel: &CancellationToken,
    ) -> impl Future<Output = SessionEnd> + Send;

    /// What to call the device in logs (`port /dev/ttyACM0`, `HID 0c2e:0b61`).
    fn describe(&self) -> String;
}

/// A device with its id and reconnect delays: what a driver is. Drivers of new device kinds
/// are this type with their [`Device`] (`OutputDriver`, `InputDriver`), so construction,
/// reconnect settings and running are written once.
#[derive(Debug)]
pub struct Driver<D> {
    id: Arc<str>,
    device: D,
    reconnect: Reconnect,
}

impl<D: Device> Driver<D> {
    /// A driver for device `id`, with the default reconnect delays.
    pub fn with_device(id: Arc<str>, device: D) -> Self {
        Driver {
            id,
            device,
            reconnect: Reconnect::default(),
        }
    }

    /// Uses other reconnect delays.
    pub fn with_reconnect(mut self, reconnect: Reconnect) -> Self {
        self.reconnect = reconnect;
        self
    }

    /// Runs until `cancel`, reporting into `events` and carrying out `commands` while the
    /// device is up.
    pub async fn run(
        self,
        events: mpsc::Sender<DeviceEvent>,
        commands: Commands,
        cancel: CancellationToken,
    ) {
        run(
            self.id,
            self.device,
            self.reconnect,
            events,
            commands,
            cancel,
        )
        .await;
    }
}

/// Runs `device`'s life cycle for `id` until `cancel` fires or the channel closes, taking
/// commands from `commands`.
pub async fn run<D: Device>(
    id: Arc<str>,
    mut device: D,
    mut reconnect: Reconnect,
    events: mpsc::Sender<DeviceEvent>,
    mut commands: Commands,
    cancel: CancellationToken,
) {
    let mut states = StateReporter::new(id.clone(), events.clone());
    loop {
        if !states.is(DeviceState::Down) {
            states.set(DeviceState::Connecting, None).await;
        }
        let opened = {
            let open = device.open();
            tokio::pin!(open);
            loop {
                tokio::select! {
                    biased;
                    _ = cancel.cancelled() => break None,
                    opened = &mut open => break Some(opened),
                    request = commands.next() => not_up(request, "connecting"),
                }
            }
        };
        let Some(opened) = opened else { break };
        let detail = match opened {
            Ok(conn) => {
                tracing::info!(device = %id, on = %device.describe(), "device connected");
                states.set(DeviceState::Up, None).await;
                reconnect.reset();
                let end = if D::TAKES_COMMANDS {
                    device.session(conn, &events, &mut commands, &cancel).await
                } else {
                    let mut none = Commands::none();
                    let session = device.session(conn, &events, &mut none, &cancel);
                    refusing_commands(session, &mut commands).await
                };
                match end {
                    SessionEnd::Cancelled | SessionEnd::ChannelClosed => break,
                    SessionEnd::Lost(why) => why,
                }
            }
            Err(why) => why,
        };
        if !states.is(DeviceState::Down) {
            tracing::warn!(device = %id, "device down: {detail}; retrying");
        } else if !states.has_detail(&detail) {
            // Still down, for another reason now (the reader answers, but refuses): say so
            // once, so status shows why it is down today, not why it went down.
            tracing::warn!(device = %id, "device still down: {detail}; retrying");
        }
        states.set(DeviceState::Down, Some(detail.clone())).await;
        let retry = tokio::time::sleep(reconnect.next_delay());
        tokio::pin!(retry);
        loop {
            tokio::select! {
                _ = &mut retry => break,
                _ = cancel.cancelled() => {
                    states.set(DeviceState::Stopped, None).await;
                    answer_stopped(&mut commands);
                    return;
                }
                request = commands.next() => not_up(request, &format!("down: {detail}")),
            }
        }
    }
    states.set(DeviceState::Stopped, None).await;
    answer_stopped(&mut commands);
}

/// Answers a command that found the device not up.
fn not_up(request: CommandRequest, why: &str) {
    request.answer(Err(CommandError::NotUp(why.to_string())));
}

/// Answers what is still queued when the driver stops.
fn answer_stopped(commands: &mut Commands) {
    while let Some(request) = commands.try_next() {
        request.answer(Err(CommandError::Stopped));
    }
}

/// Runs `session`, answering each command `Unsupported` meanwhile.
async fn refusing_commands(
    session: impl Future<Output = SessionEnd>,
    commands: &mut Commands,
) -> SessionEnd {
    tokio::pin!(session);
    loop {
        tokio::select! {
            end = &mut session => return end,
            request = commands.next() => request.unsupported(),
        }
    }
}

/// Sends a device's state changes, once per transition.
#[derive(Debug)]
pub struct StateReporter {
    device: Arc<str>,
    events: mpsc::Sender<DeviceEvent>,
    reported: Option<DeviceState>,
    detail: Option<String>,
}

impl StateReporter {
    /// A reporter for `device`.
    pub fn new(device: Arc<str>, events: mpsc::Sender<DeviceEvent>) -> Self {
        StateReporter {
            device,
            events,
            reported: None,
            detail: None,
        }
    }

    /// Whether `state` is the last one reported.
    pub fn is(&self, state: DeviceState) -> bool {
        self.reported == Some(state)
    }

    /// Whether `detail` is the reason last reported.
    pub fn has_detail(&self, detail: &str) -> bool {
        self.detail.as_deref() == Some(detail)
    }

    /// Reports `state` unless it is already the current one with the same reason. Best
    /// effort: at shutdown the receiver may be gone.
    pub async fn set(&mut self, state: DeviceState, detail: Option<String>) {
        if self.is(state) && self.detail == detail {
            return;
        }
        self.reported = Some(state);
        self.detail = detail.clone();
        let _ = self
            .events
            .send(DeviceEvent::State {
                device: self.device.clone(),
                state,
                detail,
            })
            .await;
    }
}
