//! Serial UHF modules and desktop / handheld readers built on the Impinj R2000 or E710 chip
//! that speak the vendors' common "CMD" protocol (frames headed `0xA0`): Invelion / INNOD
//! YR9xx, Rodinbell D100 / M-series, and the many white-label USB and RS-232 readers and
//! modules on the same design. These are command/response devices: the gateway drives the
//! inventory, the module answers.
//!
//! - [`frame`]: the frame codec (`Decoder` / `Encoder`, for `Framed`), resynchronising on
//!   noise and bad checks;
//! - [`message`]: the requests and replies as types, the error codes in words;
//! - [`R2000Module`]: the driver.
//!
//! The session, once the port is open:
//!
//! ```text
//!   open ─▶ get firmware version ──no answer in answer_timeout_ms──▶ Lost ("not answering")
//!                 │ version
//!                 ▼
//!           set output power (if tx_power_dbm) ──error code──▶ Lost (the code in words)
//!                 ▼
//!   ┌──▶ set work antenna A ──▶ inventory round ──tag frames──▶ RawRead (EPC hex, antenna, RSSI)
//!   │          │ (missing antenna: reported, next antenna)     │
//!   │          └──────────────── round end / round error ◀─────┘
//!   └──── next antenna (after round_pause_ms) ◀─┘     silence mid-round ─▶ Lost ("stopped answering")
//! ```

pub mod frame;
pub mod message;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use futures_util::SinkExt;
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio_serial::SerialStream;
use tokio_util::codec::Framed;
use tokio_util::sync::CancellationToken;

pub use frame::{Frame, R2000Codec, R2000Item};
pub use message::{Reply, Request, TagRead, error_text};

use crate::command::Commands;
use crate::lifecycle::{Device, Driver, SessionEnd};
use crate::read::{DeviceEvent, RawRead, ReadMeta};
use crate::serial::SerialSettings;

use super::serial_link::{self, LineWords};

/// How a silent R2000 module is named.
const LINE: LineWords = LineWords {
    what: "module",
    baud_hint: "R2000 modules default to 115200",
};

/// How to drive one module. Keys as in `[[devices]]` (beside the serial line's).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct R2000Settings {
    /// The module's address; 255 (the default) is the public address every module answers.
    #[serde(default = "public")]
    pub address: u8,
    /// Antenna ports to cycle through, 1-4.
    #[serde(default = "first_antenna")]
    pub antennas: Vec<u8>,
    /// Output power in dBm (the module's range, typically 0-33), set at connect; none: as
    /// the module is set.
    #[serde(default)]
    pub tx_power_dbm: Option<u8>,
    /// Gen2 session 0-3 for the session/target inventory (`0x8B`); none: the real-time
    /// inventory (`0x89`) with the module's own session.
    #[serde(default)]
    pub session: Option<u8>,
    /// Gen2 target with `session`: `a` or `b`.
    #[serde(default)]
    pub target: Target,
    /// Inventory rounds per command (1-255; 255: as fast as the module can).
    #[serde(default = "one")]
    pub repeat: u8,
    /// Longest wait for any answer from the module; silence this long is a lost module.
    #[serde(default = "default_answer_timeout")]
    pub answer_timeout_ms: u64,
    /// Pause between inventory commands, so that the gateway does not spin on a module that
    /// answers at once (an empty field) — what bounds its CPU when nothing is in view.
    #[serde(default = "default_round_pause")]
    pub round_pause_ms: u64,
}

/// Gen2 inventory target.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// A.
    #[default]
    A,
    /// B.
    B,
}

fn public() -> u8 {
    frame::PUBLIC_ADDRESS
}
fn first_antenna() -> Vec<u8> {
    vec![1]
}
fn one() -> u8 {
    1
}
fn default_answer_timeout() -> u64 {
    2000
}
fn default_round_pause() -> u64 {
    20
}

impl Default for R2000Settings {
    fn default() -> Self {
        R2000Settings {
            address: public(),
            antennas: first_antenna(),
            tx_power_dbm: None,
            session: None,
            target: Target::A,
            repeat: one(),
            answer_timeout_ms: default_answer_timeout(),
            round_pause_ms: default_round_pause(),
        }
    }
}

impl R2000Settings {
    /// Checks what a module can take; the error names the key.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.antennas.is_empty() || self.antennas.iter().any(|a| !(1..=4).contains(a)) {
            return Err((
                "antennas",
                format!(
                    "antennas = {:?}: an R2000 module has ports 1 to 4; list the ones with an antenna",
                    self.antennas
                ),
            ));
        }
        let mut seen = self.antennas.clone();
        seen.sort_unstable();
        seen.dedup();
        if seen.len() != self.antennas.len() {
            return Err(("antennas", "antennas lists a port twice".into()));
        }
        if let Some(p) = self.tx_power_dbm
            && p > 33
        {
            return Err((
                "tx_power_dbm",
                format!("tx_power_dbm = {p}: R2000 modules transmit 0 to 33 dBm"),
            ));
        }
        if let Some(s) = self.session
            && s > 3
        {
            return Err((
                "session",
                format!("session = {s}: Gen2 sessions are 0 to 3"),
            ));
        }
        if self.repeat == 0 {
            return Err(("repeat", "repeat must be 1 to 255".into()));
        }
        if !(50..=60_000).contains(&self.answer_timeout_ms) {
            return Err((
                "answer_timeout_ms",
                "answer_timeout_ms must be 50 to 60000".into(),
            ));
        }
        if self.round_pause_ms > 60_000 {
            return Err((
                "round_pause_ms",
                "round_pause_ms must be at most 60000".into(),
            ));
        }
        Ok(())
    }

    fn inventory(&self) -> Request {
        match self.session {
            Some(session) => Request::SessionTargetInventory {
                session,
                target_b: self.target == Target::B,
                repeat: self.repeat,
            },
            None => Request::RealTimeInventory {
                repeat: self.repeat,
            },
        }
    }
}

/// An R2000 module driver: open, check the module answers, cycle inventories over the
/// antennas, report each tag; reconnect whenever the port goes or the module falls silent.
pub type R2000Module = Driver<R2000Port>;

impl R2000Module {
    /// A driver for the module `device` on `serial` with `settings`.
    pub fn new(device: Arc<str>, serial: SerialSettings, settings: R2000Settings) -> Self {
        Driver::with_device(
            device.clone(),
            R2000Port {
                id: device,
                serial,
                settings,
            },
        )
    }
}

/// The port side of an R2000 module (see [`R2000Module`]).
#[derive(Debug)]
pub struct R2000Port {
    id: Arc<str>,
    serial: SerialSettings,
    settings: R2000Settings,
}

type Link = Framed<SerialStream, R2000Codec>;

impl R2000Port {
    async fn report(
        &self,
        events: &mpsc::Sender<DeviceEvent>,
        message: String,
    ) -> Result<(), SessionEnd> {
        serial_link::report_frame_error(&self.id, events, message).await
    }

    async fn send(&self, link: &mut Link, request: Request) -> Result<(), SessionEnd> {
        link.send(request.frame(self.settings.address))
            .await
            .map_err(|e| SessionEnd::Lost(format!("write error: {e}")))
    }

    /// The next reply to `command`, reporting noise, bad checks and malformed frames on the
    /// way; silence longer than the answer timeout loses the session.
    async fn reply(
        &self,
        link: &mut Link,
        command: u8,
        doing: &str,
        events: &mpsc::Sender<DeviceEvent>,
        cancel: &CancellationToken,
    ) -> Result<Reply, SessionEnd> {
        let limit = Duration::from_millis(self.settings.answer_timeout_ms);
        loop {
            let item = serial_link::next_item(link, limit, doing, LINE, cancel).await?;
            match item {
                R2000Item::Frame(frame) if frame.command == command => {
                    match Reply::parse(&frame) {
                        Ok(reply) => return Ok(reply),
                        Err(e) => self.report(events, e.to_string()).await?,
                    }
                }
                R2000Item::Frame(frame) => {
                    self.report(
                        events,
                        format!(
                            "unexpected frame for command {:#04X} while waiting for {command:#04X}; ignored",
                            frame.command
                        ),
                    )
                    .await?
                }
                R2000Item::Noise { bytes } => {
                    self.report(events, format!("{bytes} bytes of line noise between frames"))
                        .await?
                }
                R2000Item::BadCheck { command, got, want } => {
                    self.report(
                        events,
                        format!(
                            "frame for command {command:#04X} with check {got:#04X}, its bytes sum to {want:#04X}: damaged, dropped"
                        ),
                    )
                    .await?
                }
            }
        }
    }

    /// Sends a command that answers with a status byte; an error code ends the session.
    async fn expect_success(
        &self,
        link: &mut Link,
        request: Request,
        doing: &str,
        events: &mpsc::Sender<DeviceEvent>,
        cancel: &CancellationToken,
    ) -> Result<u8, SessionEnd> {
        let frame = request.frame(self.settings.address);
        self.send(link, request).await?;
        match self
            .reply(link, frame.command, doing, events, cancel)
            .await?
        {
            Reply::Status { code, .. } => Ok(code),
            other => Err(SessionEnd::Lost(format!(
                "{doing}: unexpected answer {other:?}"
            ))),
        }
    }

    async fn run(
        &mut self,
        mut link: Link,
        events: &mpsc::Sender<DeviceEvent>,
        cancel: &CancellationToken,
    ) -> Result<(), SessionEnd> {
        self.send(&mut link, Request::GetFirmwareVersion).await?;
        let version = self
            .reply(
                &mut link,
                message::GET_FIRMWARE_VERSION,
                "at connect, asking its firmware version",
                events,
                cancel,
            )
            .await?;
        match version {
            Reply::Version { major, minor } => {
                tracing::info!(device = %self.id, "R2000 module firmware {major}.{minor:02}")
            }
            other => {
                return Err(SessionEnd::Lost(format!(
                    "not an R2000 module? its firmware-version answer was {other:?}"
                )));
            }
        }
        if let Some(dbm) = self.settings.tx_power_dbm {
            let code = self
                .expect_success(
                    &mut link,
                    Request::SetOutputPower(dbm),
                    "setting output power",
                    events,
                    cancel,
                )
                .await?;
            if code != message::COMMAND_SUCCESS {
                return Err(SessionEnd::Lost(format!(
                    "the module refused tx_power_dbm = {dbm}: {}",
                    error_text(code)
                )));
            }
        }
        let inventory = self.settings.inventory();
        let inventory_cmd = inventory.frame(0).command;
        let pause = Duration::from_millis(self.settings.round_pause_ms);
        let antennas = self.settings.antennas.clone();
        let mut working = None;
        loop {
            for &antenna in &antennas {
                if working != Some(antenna) {
                    let code = self
                        .expect_success(
                            &mut link,
                            Request::SetWorkAntenna(antenna - 1),
                            "setting the working antenna",
                            events,
                            cancel,
                        )
                        .await?;
                    if code != message::COMMAND_SUCCESS {
                        self.report(
                            events,
                            format!("antenna {antenna} refused: {}", error_text(code)),
                        )
                        .await?;
                        working = None;
                    } else {
                        working = Some(antenna);
                    }
                }
                // A refused antenna is not read, but still paced: a module refusing every
                // antenna must not spin the gateway.
                if working == Some(antenna) {
                    self.send(&mut link, inventory).await?;
                    loop {
                        let reply = self
                            .reply(&mut link, inventory_cmd, "mid-inventory", events, cancel)
                            .await?;
                        match reply {
                            Reply::Tag(tag) => {
                                let read = self.read(tag);
                                if events.send(DeviceEvent::Read(read)).await.is_err() {
                                    return Err(SessionEnd::ChannelClosed);
                                }
                            }
                            Reply::RoundEnd { .. } => break,
                            Reply::RoundFailed { antenna: at, code } => {
                                let at = at.unwrap_or(antenna);
                                self.report(
                                    events,
                                    format!(
                                        "inventory on antenna {at} failed: {}",
                                        error_text(code)
                                    ),
                                )
                                .await?;
                                break;
                            }
                            other => {
                                self.report(
                                    events,
                                    format!("unexpected inventory answer {other:?}"),
                                )
                                .await?;
                                break;
                            }
                        }
                    }
                }
                if !pause.is_zero() {
                    tokio::select! {
                        biased;
                        _ = cancel.cancelled() => return Err(SessionEnd::Cancelled),
                        _ = tokio::time::sleep(pause) => {}
                    }
                }
            }
        }
    }

    fn read(&self, tag: TagRead) -> RawRead {
        RawRead {
            device: self.id.clone(),
            at: SystemTime::now(),
            mono: Instant::now(),
            payload: hex::encode_upper(&tag.epc).into(),
            meta: ReadMeta {
                antenna: Some(u16::from(tag.antenna)),
                rssi_dbm: Some(tag.rssi_dbm()),
                ..ReadMeta::default()
            },
        }
    }
}

impl Device for R2000Port {
    type Conn = SerialStream;

    fn open(&mut self) -> impl Future<Output = Result<SerialStream, String>> + Send {
        let opened = self.serial.open_for_session();
        async move { opened }
    }

    fn describe(&self) -> String {
        format!("R2000 module on port {}", self.serial.port)
    }

    async fn session(
        &mut self,
        port: SerialStream,
        events: &mpsc::Sender<DeviceEvent>,
        _commands: &mut Commands,
        cancel: &CancellationToken,
    ) -> SessionEnd {
        let link = Framed::new(port, R2000Codec);
        match self.run(link, events, cancel).await {
            Ok(()) => SessionEnd::Lost("session ended".into()),
            Err(end) => end,
        }
    }
}
