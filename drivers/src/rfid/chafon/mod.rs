//! Chafon UHF readers and modules speaking the UHFReader18 command set (the CF-RU5102
//! desktop reader, UHFReader18 boards, and the white-label one-port readers sold with the same
//! demo program; not the later UHFReader288 command set of the multi-port models): `Len, Adr, Cmd, Data, CRC-16`
//! frames at 57600 baud. Command/response: the gateway asks for an inventory, the reader
//! reads for its scan time and answers with the EPCs it saw.
//!
//! - [`frame`]: the frame codec (host and reader sides, for `Framed`), resynchronising;
//! - [`message`]: the requests and replies as types, the status codes in words;
//! - [`ChafonReader`]: the driver.
//!
//! The session, once the port is open:
//!
//! ```text
//!   open ─▶ get reader information ──no answer in answer_timeout_ms──▶ Lost ("not answering")
//!                 │ version, power, region, scan time (what its EEPROM holds)
//!                 ▼
//!           set power / region / scan time, each only where the config differs
//!                 │                 ──status ≠ 0──▶ Lost (the status in words)
//!                 ▼
//!   ┌──▶ inventory ──status 0x03 (more)──▶ next frame of the round ─┐
//!   │        │ ◀──────────────────────────────────────────────────────┘
//!   │        ├─ status 0x01 / 0x02 / 0x04: EPCs ─▶ RawRead each (0x02, 0x04 also reported)
//!   │        ├─ status 0xFB: an empty field
//!   │        └─ silence past scan time + answer_timeout_ms ─▶ Lost ("stopped answering")
//!   └──── after round_pause_ms ◀──┘
//! ```

pub mod frame;
pub mod message;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use futures_util::SinkExt;
use tokio::sync::mpsc;
use tokio_serial::SerialStream;
use tokio_util::codec::Framed;
use tokio_util::sync::CancellationToken;

pub use frame::{ChafonItem, Command, HostCodec, ReaderCodec, Response};
pub use message::{Band, ReaderInfo, Region, Reply, Request, status_text};

use crate::command::Commands;
use crate::lifecycle::{Device, Driver, SessionEnd};
use crate::read::{DeviceEvent, RawRead, ReadMeta};
use crate::serial::SerialSettings;

use super::serial_link::{self, LineWords};

/// How a silent Chafon reader is named.
const LINE: LineWords = LineWords {
    what: "reader",
    baud_hint: "Chafon readers default to 57600",
};

/// The line speed UHFReader18-family readers ship with (§8.4.5).
pub const DEFAULT_BAUD: u32 = 57_600;

/// How to drive one reader. Keys as in `[[devices]]` (beside the serial line's).
#[derive(Debug, Clone, PartialEq)]
pub struct ChafonSettings {
    /// The reader's address; 255 (the default) is the broadcast address every reader answers.
    pub address: u8,
    /// Output power 0-30 dBm; none: as the reader is set.
    pub tx_power_dbm: Option<u8>,
    /// Frequency band (all its channels); none: as the reader is set.
    pub region: Option<Band>,
    /// Inventory scan time, 300-25500 ms in steps of 100; none: as the reader is set
    /// (factory: 1000 ms).
    pub scan_time_ms: Option<u64>,
    /// Longest wait for an answer beyond the reader's scan time.
    pub answer_timeout_ms: u64,
    /// Pause between inventories.
    pub round_pause_ms: u64,
}

impl Default for ChafonSettings {
    fn default() -> Self {
        ChafonSettings {
            address: frame::BROADCAST,
            tx_power_dbm: None,
            region: None,
            scan_time_ms: None,
            answer_timeout_ms: 2000,
            round_pause_ms: 20,
        }
    }
}

impl ChafonSettings {
    /// Checks what a reader can take; the error names the key.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if let Some(p) = self.tx_power_dbm
            && p > 30
        {
            return Err((
                "tx_power_dbm",
                format!("tx_power_dbm = {p}: UHFReader18-family readers transmit 0 to 30 dBm"),
            ));
        }
        if let Some(ms) = self.scan_time_ms
            && (!(300..=25_500).contains(&ms) || ms % 100 != 0)
        {
            return Err((
                "scan_time_ms",
                format!("scan_time_ms = {ms}: the reader takes 300 to 25500 ms in steps of 100"),
            ));
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

    fn scan_units(&self) -> Option<u8> {
        self.scan_time_ms.map(|ms| (ms / 100) as u8)
    }
}

/// A Chafon reader driver: open, ask the reader what it is, align its settings, run
/// inventories, report each tag; reconnect whenever the port goes or the reader falls silent.
pub type ChafonReader = Driver<ChafonPort>;

impl ChafonReader {
    /// A driver for the reader `device` on `serial` with `settings`.
    pub fn new(device: Arc<str>, serial: SerialSettings, settings: ChafonSettings) -> Self {
        Driver::with_device(
            device.clone(),
            ChafonPort {
                id: device,
                serial,
                settings,
            },
        )
    }
}

/// The port side of a Chafon reader (see [`ChafonReader`]).
#[derive(Debug)]
pub struct ChafonPort {
    id: Arc<str>,
    serial: SerialSettings,
    settings: ChafonSettings,
}

type Link = Framed<SerialStream, HostCodec>;

impl ChafonPort {
    async fn report(
        &self,
        events: &mpsc::Sender<DeviceEvent>,
        message: String,
    ) -> Result<(), SessionEnd> {
        serial_link::report_frame_error(&self.id, events, message).await
    }

    /// Sends `request` and reads the answer to it, reporting noise, damaged and unexpected
    /// frames on the way; silence longer than `limit` loses the session.
    async fn ask(
        &self,
        link: &mut Link,
        request: Request,
        limit: Duration,
        doing: &str,
        events: &mpsc::Sender<DeviceEvent>,
        cancel: &CancellationToken,
    ) -> Result<Reply, SessionEnd> {
        let command = request.command(self.settings.address);
        let code = command.command;
        link.send(command)
            .await
            .map_err(|e| SessionEnd::Lost(format!("write error: {e}")))?;
        self.answer(link, code, limit, doing, events, cancel).await
    }

    /// The next answer to command `code`.
    async fn answer(
        &self,
        link: &mut Link,
        code: u8,
        limit: Duration,
        doing: &str,
        events: &mpsc::Sender<DeviceEvent>,
        cancel: &CancellationToken,
    ) -> Result<Reply, SessionEnd> {
        loop {
            let item = serial_link::next_item(link, limit, doing, LINE, cancel).await?;
            let message = match item {
                ChafonItem::Frame(response) if response.command == code => {
                    match Reply::parse(&response) {
                        Ok(reply) => return Ok(reply),
                        Err(e) => e.to_string(),
                    }
                }
                ChafonItem::Frame(response) if response.command == 0 => {
                    // reCmd 0x00: the reader did not recognise what it was sent.
                    return Ok(Reply::Status(response.status));
                }
                ChafonItem::Frame(response) => format!(
                    "unexpected answer to command {:#04X} while waiting for {code:#04X}; ignored",
                    response.command
                ),
                ChafonItem::Noise { bytes } => {
                    format!("{bytes} bytes of line noise between frames")
                }
                ChafonItem::BadCrc { bytes, got, want } => format!(
                    "{bytes} bytes dropped: a frame with CRC {got:#06X}, its bytes have {want:#06X}"
                ),
            };
            self.report(events, message).await?;
        }
    }

    /// Writes one setting the reader holds in EEPROM, when `want` differs from what it has.
    #[allow(clippy::too_many_arguments)]
    async fn align(
        &self,
        link: &mut Link,
        key: &str,
        have: String,
        want: Option<(String, Request)>,
        limit: Duration,
        events: &mpsc::Sender<DeviceEvent>,
        cancel: &CancellationToken,
    ) -> Result<(), SessionEnd> {
        let Some((want, request)) = want else {
            return Ok(());
        };
        if want == have {
            return Ok(());
        }
        tracing::info!(device = %self.id, "writing {key} = {want} to the reader's EEPROM (it had {have})");
        match self.ask(link, request, limit, key, events, cancel).await? {
            Reply::Status(message::SUCCESS) => Ok(()),
            Reply::Status(status) => Err(SessionEnd::Lost(format!(
                "the reader refused {key} = {want}: {}",
                status_text(status)
            ))),
            other => Err(SessionEnd::Lost(format!(
                "setting {key}: unexpected answer {other:?}"
            ))),
        }
    }

    async fn run(
        &mut self,
        mut link: Link,
        events: &mpsc::Sender<DeviceEvent>,
        cancel: &CancellationToken,
    ) -> Result<(), SessionEnd> {
        let limit = Duration::from_millis(self.settings.answer_timeout_ms);
        let info = match self
            .ask(
                &mut link,
                Request::GetReaderInfo,
                limit,
                "at connect, asking for its reader information",
                events,
                cancel,
            )
            .await?
        {
            Reply::Info(info) => info,
            other => {
                return Err(SessionEnd::Lost(format!(
                    "not a UHFReader18-family reader? its reader-information answer was {other:?}"
                )));
            }
        };
        let band = |region: Option<Region>| match region {
            Some(r) => format!("{} channels {}-{}", r.band.name(), r.min, r.max),
            None => format!("band bytes {:#04X} {:#04X}", info.max_fre, info.min_fre),
        };
        tracing::info!(
            device = %self.id,
            "Chafon reader type {:#04X}, firmware {}.{:02}, {} dBm, {}, scan time {} ms",
            info.reader_type, info.version.0, info.version.1, info.power,
            band(info.region()), u64::from(info.scan_time) * 100
        );
        let s = self.settings.clone();
        let steps = [
            (
                "tx_power_dbm",
                format!("{} dBm", info.power),
                s.tx_power_dbm
                    .map(|p| (format!("{p} dBm"), Request::SetPower(p))),
            ),
            (
                "region",
                band(info.region()),
                s.region.map(|b| {
                    let r = Region::whole(b);
                    (band(Some(r)), Request::SetRegion(r))
                }),
            ),
            (
                "scan_time_ms",
                format!("{} ms", u64::from(info.scan_time) * 100),
                s.scan_units().map(|u| {
                    (
                        format!("{} ms", u64::from(u) * 100),
                        Request::SetScanTime(u),
                    )
                }),
            ),
        ];
        for (key, have, want) in steps {
            self.align(&mut link, key, have, want, limit, events, cancel)
                .await?;
        }
        // An inventory answers after up to the reader's scan time (plus the manual's 75 ms).
        let scan = Duration::from_millis(u64::from(s.scan_units().unwrap_or(info.scan_time)) * 100);
        let round_limit = scan + Duration::from_millis(75) + limit;
        let pause = Duration::from_millis(s.round_pause_ms);
        loop {
            let mut reply = self
                .ask(
                    &mut link,
                    Request::Inventory,
                    round_limit,
                    "inventory",
                    events,
                    cancel,
                )
                .await?;
            loop {
                match reply {
                    Reply::Inventory(frame) => {
                        for epc in &frame.epcs {
                            if events
                                .send(DeviceEvent::Read(self.read(epc)))
                                .await
                                .is_err()
                            {
                                return Err(SessionEnd::ChannelClosed);
                            }
                        }
                        if frame.more() {
                            reply = self
                                .answer(
                                    &mut link,
                                    message::INVENTORY,
                                    limit,
                                    "mid-inventory",
                                    events,
                                    cancel,
                                )
                                .await?;
                            continue;
                        }
                        if frame.status != message::INVENTORY_DONE {
                            self.report(
                                events,
                                format!("inventory: {}", status_text(frame.status)),
                            )
                            .await?;
                        }
                    }
                    Reply::Status(message::NO_TAG) => {}
                    Reply::Status(status) => {
                        self.report(events, format!("inventory failed: {}", status_text(status)))
                            .await?;
                    }
                    Reply::Info(_) => {
                        self.report(events, "unexpected reader information mid-inventory".into())
                            .await?;
                    }
                }
                break;
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

    fn read(&self, epc: &[u8]) -> RawRead {
        RawRead {
            device: self.id.clone(),
            at: SystemTime::now(),
            mono: Instant::now(),
            payload: hex::encode_upper(epc).into(),
            meta: ReadMeta {
                // One antenna port: zones name it 1, as on a multi-port reader.
                antenna: Some(1),
                ..ReadMeta::default()
            },
        }
    }
}

impl Device for ChafonPort {
    type Conn = SerialStream;

    fn open(&mut self) -> impl Future<Output = Result<SerialStream, String>> + Send {
        let opened = self.serial.open_for_session();
        async move { opened }
    }

    fn describe(&self) -> String {
        format!("Chafon reader on port {}", self.serial.port)
    }

    async fn session(
        &mut self,
        port: SerialStream,
        events: &mpsc::Sender<DeviceEvent>,
        _commands: &mut Commands,
        cancel: &CancellationToken,
    ) -> SessionEnd {
        let link = Framed::new(port, HostCodec);
        match self.run(link, events, cancel).await {
            Ok(()) => SessionEnd::Lost("session ended".into()),
            Err(end) => end,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_refuse_what_a_reader_cannot_take() {
        let bad = |s: ChafonSettings| s.validate().unwrap_err().0;
        let ok = ChafonSettings::default();
        assert!(ok.validate().is_ok());
        assert_eq!(
            bad(ChafonSettings {
                tx_power_dbm: Some(31),
                ..ok.clone()
            }),
            "tx_power_dbm"
        );
        for ms in [200, 1050, 30_000] {
            assert_eq!(
                bad(ChafonSettings {
                    scan_time_ms: Some(ms),
                    ..ok.clone()
                }),
                "scan_time_ms"
            );
        }
        assert_eq!(
            bad(ChafonSettings {
                answer_timeout_ms: 10,
                ..ok
            }),
            "answer_timeout_ms"
        );
    }
}
