//! The LLRP client session for one fixed reader: connect, handshake, configure, read.
//!
//! ```text
//!  connect TCP ─▶ READER_EVENT_NOTIFICATION (ConnectionAttemptEvent) ── status ≠ 0 ──▶ Down
//!     │ success                         ("another client is connected": retried with backoff)
//!     ▼
//!  GET_READER_CAPABILITIES ─▶ (Impinj: IMPINJ_ENABLE_EXTENSIONS, if its extensions are used)
//!     ▼
//!  DELETE_ACCESSSPEC 0, DELETE_ROSPEC 0 (the reader's state is ours alone)
//!     ▼
//!  SET_READER_CONFIG (events, keepalive, report spec) ─▶ ENABLE_EVENTS_AND_REPORTS
//!     ▼
//!  ADD_ROSPEC ─▶ ENABLE_ROSPEC (continuous: START_ROSPEC) ───▶ Up
//!                                                              │ RO_ACCESS_REPORT → reads
//!   read-window command ─▶ START_ROSPEC / STOP_ROSPEC ◀────────┤ KEEPALIVE → KEEPALIVE_ACK
//!                                                              │ silence > 3 keepalives,
//!   cancel ─▶ CLOSE_CONNECTION ─▶ Stopped                      │ EOF, ConnectionCloseEvent ─▶ Down
//! ```
//!
//! Connection and reconnection are [`crate::lifecycle`]'s: a refused step is the device going
//! down with the reader's own words (its LLRPStatus) and the config key to change, retried
//! with backoff. Tag reports become raw reads (EPC in upper-case hex) carrying antenna, RSSI,
//! the reader's first-seen time and seen count; a report is never dropped by the driver — a
//! slow pipeline holds the socket, and the reader buffers (and says so).

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_util::codec::Framed;
use tokio_util::sync::CancellationToken;

use super::frame::{Frame, LlrpCodec};
use super::message::{
    AntennaSettings, Capabilities, IMPINJ, Message, ReaderConfig, ReportSpec, RoSpec, StartTrigger,
    Status, StopTrigger, TagReport, content, impinj, kind,
};
use crate::command::{CommandDone, CommandError, CommandRequest, Commands, DeviceCommand};
use crate::lifecycle::{Device, Driver, SessionEnd};
use crate::read::{DeviceEvent, RawRead, ReadMeta};

/// The ROSpec tracegate adds (it deletes every other one first).
pub const ROSPEC_ID: u32 = 1;

/// How long a request may wait for its response.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);

/// When the reader reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReadWindow {
    /// Always (started once configured, no stop trigger).
    #[default]
    Continuous,
    /// For `duration_ms` every `period_ms` (Periodic start, Duration stop).
    Periodic,
    /// While the reader's own GPI `gpi_port` is high (a photo-eye wired to the reader), at
    /// most `duration_ms` after it went high when that is set.
    Gpi,
    /// Opened and closed by `read-window` commands (START_ROSPEC / STOP_ROSPEC), so a
    /// photo-eye on the gateway, or the platform, can drive it.
    Command,
}

/// Gen2 inventory search mode, sent as Impinj's ImpinjInventorySearchMode where the reader is
/// an Impinj with its extensions; other readers choose themselves (and the log says so).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SearchMode {
    /// The reader's choice.
    #[default]
    ReaderSelected,
    /// Single target: each tag answers once per session persistence (large populations).
    SingleTarget,
    /// Dual target: tags answer again and again (a dock door, tags moving).
    DualTarget,
    /// Single target with suppression (Impinj TagFocus).
    SingleTargetWithSuppression,
}

impl SearchMode {
    fn impinj_value(self) -> Option<u16> {
        match self {
            SearchMode::ReaderSelected => None,
            SearchMode::SingleTarget => Some(1),
            SearchMode::DualTarget => Some(2),
            SearchMode::SingleTargetWithSuppression => Some(3),
        }
    }
}

/// How to reach and set up one LLRP reader. Keys as in `[[devices]]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LlrpSettings {
    /// Reader host name or address.
    pub host: String,
    /// LLRP port (5084, LLRP 1.0.1 §17).
    #[serde(default = "default_port")]
    pub port: u16,
    /// Antenna ports to read with; empty: all the reader has.
    #[serde(default)]
    pub antennas: Vec<u16>,
    /// Transmit power in dBm, mapped to the nearest entry at or below it in the reader's own
    /// power table; none: the table's highest.
    #[serde(default)]
    pub tx_power_dbm: Option<f32>,
    /// Gen2 session 0–3 (a dock door: 2 or 3, a tag answers once while it stays).
    #[serde(default = "default_session")]
    pub session: u8,
    /// Expected tag population (helps the reader's Q algorithm).
    #[serde(default = "default_population")]
    pub tag_population: u16,
    /// Gen2 search mode (Impinj readers).
    #[serde(default)]
    pub search_mode: SearchMode,
    /// When the reader reads.
    #[serde(default)]
    pub read_window: ReadWindow,
    /// `periodic`: time between windows.
    #[serde(default)]
    pub period_ms: Option<u32>,
    /// `periodic`: each window's length; `gpi`: longest window after the input went high.
    #[serde(default)]
    pub duration_ms: Option<u32>,
    /// `gpi`: the reader's input port.
    #[serde(default)]
    pub gpi_port: Option<u16>,
    /// How often the reader sends KEEPALIVE; three missed ones mean the link is dead.
    #[serde(default = "default_keepalive")]
    pub keepalive_s: u32,
    /// Ask an Impinj reader for its peak RSSI in hundredths of a dBm.
    #[serde(default = "default_true")]
    pub impinj_peak_rssi: bool,
}

fn default_port() -> u16 {
    5084
}
fn default_session() -> u8 {
    2
}
fn default_population() -> u16 {
    32
}
fn default_keepalive() -> u32 {
    10
}
fn default_true() -> bool {
    true
}

/// A setting that cannot work, with the key to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SettingsError {
    /// The key.
    pub key: &'static str,
    /// What is wrong and what to set.
    pub message: String,
}

impl LlrpSettings {
    /// Settings for a reader at `host:port` with every default.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        LlrpSettings {
            host: host.into(),
            port,
            antennas: Vec::new(),
            tx_power_dbm: None,
            session: default_session(),
            tag_population: default_population(),
            search_mode: SearchMode::default(),
            read_window: ReadWindow::default(),
            period_ms: None,
            duration_ms: None,
            gpi_port: None,
            keepalive_s: default_keepalive(),
            impinj_peak_rssi: true,
        }
    }

    /// Checks what can be checked without the reader.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let err = |key, message: String| Err(SettingsError { key, message });
        if self.host.trim().is_empty() {
            return err("host", "host is empty: set the reader's address".into());
        }
        if self.session > 3 {
            return err(
                "session",
                format!(
                    "session {} does not exist: Gen2 sessions are 0 to 3",
                    self.session
                ),
            );
        }
        if self.antennas.contains(&0) {
            return err(
                "antennas",
                "antenna ports are numbered from 1 (leave antennas empty for all)".into(),
            );
        }
        if let Some(p) = self.tx_power_dbm
            && !(0.0..=36.0).contains(&p)
        {
            return err("tx_power_dbm", format!("{p} dBm is outside 0 to 36 dBm"));
        }
        if self.keepalive_s == 0 || self.keepalive_s > 3600 {
            return err(
                "keepalive_s",
                "keepalive_s must be 1 to 3600 seconds".into(),
            );
        }
        match self.read_window {
            ReadWindow::Periodic if self.period_ms.is_none() || self.duration_ms.is_none() => err(
                "read_window",
                "read_window = \"periodic\" needs period_ms and duration_ms".into(),
            ),
            ReadWindow::Periodic if self.duration_ms >= self.period_ms => err(
                "duration_ms",
                "duration_ms must be shorter than period_ms".into(),
            ),
            ReadWindow::Gpi if self.gpi_port.is_none() => err(
                "read_window",
                "read_window = \"gpi\" needs gpi_port (the reader's input the sensor is wired to)"
                    .into(),
            ),
            _ => Ok(()),
        }
    }

    /// The ROSpec for these settings on a reader with `caps`.
    pub fn rospec(
        &self,
        caps: &Capabilities,
        impinj_extensions: bool,
    ) -> Result<RoSpec, SettingsError> {
        if let Some(&a) = self
            .antennas
            .iter()
            .find(|&&a| caps.max_antennas > 0 && a > caps.max_antennas)
        {
            return Err(SettingsError {
                key: "antennas",
                message: format!(
                    "antenna {a} does not exist: the reader has {} antenna ports",
                    caps.max_antennas
                ),
            });
        }
        let power = match self.tx_power_dbm {
            Some(dbm) => caps.power_index(dbm),
            None => caps.max_power(),
        };
        let search = if impinj_extensions {
            self.search_mode.impinj_value()
        } else {
            None
        };
        let (start, stop) = match self.read_window {
            // Started by START_ROSPEC right after ENABLE_ROSPEC rather than by an Immediate
            // trigger: the same on every reader, including those (llrpkit's emulator) that
            // only run an ROSpec that was started.
            ReadWindow::Continuous => (StartTrigger::Null, StopTrigger::Null),
            ReadWindow::Command => (StartTrigger::Null, StopTrigger::Null),
            ReadWindow::Periodic => (
                StartTrigger::Periodic {
                    offset_ms: 0,
                    period_ms: self.period_ms.unwrap_or(1000),
                },
                StopTrigger::Duration(self.duration_ms.unwrap_or(500)),
            ),
            ReadWindow::Gpi => {
                let port = self.gpi_port.unwrap_or(1);
                (
                    StartTrigger::Gpi {
                        port,
                        level: true,
                        timeout_ms: 0,
                    },
                    StopTrigger::Gpi {
                        port,
                        level: false,
                        timeout_ms: self.duration_ms.unwrap_or(0),
                    },
                )
            }
        };
        Ok(RoSpec {
            id: ROSPEC_ID,
            priority: 0,
            start,
            stop,
            antennas: if self.antennas.is_empty() {
                vec![0]
            } else {
                self.antennas.clone()
            },
            ai_duration_ms: None,
            antenna_settings: vec![AntennaSettings {
                antenna: 0,
                power_index: power.map(|p| p.index),
                session: Some((self.session, self.tag_population)),
                impinj_search_mode: search,
            }],
            report: Some(self.report_spec(impinj_extensions)),
        })
    }

    fn report_spec(&self, impinj_extensions: bool) -> ReportSpec {
        ReportSpec {
            // Upon N = 1 tag or the end of the AISpec: each tag as soon as it is singulated.
            trigger: 1,
            n: 1,
            content: content::ROSPEC_ID
                | content::ANTENNA_ID
                | content::CHANNEL_INDEX
                | content::PEAK_RSSI
                | content::FIRST_SEEN
                | content::TAG_SEEN_COUNT,
            impinj_peak_rssi: impinj_extensions && self.impinj_peak_rssi,
        }
    }

    /// SET_READER_CONFIG: the events tracegate reports, the keepalive, the report spec.
    pub fn reader_config(&self, impinj_extensions: bool) -> ReaderConfig {
        ReaderConfig {
            reset_to_factory_default: false,
            // GPI, ROSpec, report buffer fill warning, reader exception, antenna events.
            events: vec![
                (1, self.read_window == ReadWindow::Gpi),
                (2, true),
                (3, true),
                (4, true),
                (8, true),
            ],
            report: Some(self.report_spec(impinj_extensions)),
            keepalive_ms: Some(self.keepalive_s.saturating_mul(1000)),
            hold_events_and_reports: Some(false),
        }
    }

    fn uses_impinj_extensions(&self) -> bool {
        self.impinj_peak_rssi || self.search_mode != SearchMode::ReaderSelected
    }
}

/// An LLRP reader driver. Construct it, then run it in its own task
/// ([`Driver::run`](crate::lifecycle::Driver::run)): it reconnects whenever the reader goes
/// away.
pub type LlrpReader = Driver<ReaderLink>;

impl LlrpReader {
    /// A driver for the reader `device`.
    pub fn new(device: Arc<str>, settings: LlrpSettings) -> Self {
        Driver::with_device(
            device.clone(),
            ReaderLink {
                id: device,
                settings,
            },
        )
    }
}

/// The link to one reader, as the life cycle runs it (see [`LlrpReader`]).
#[derive(Debug)]
pub struct ReaderLink {
    id: Arc<str>,
    settings: LlrpSettings,
}

/// An open, configured reader connection.
pub struct Connection {
    framed: Framed<TcpStream, LlrpCodec>,
    next_id: u32,
    /// What the reader said it can do.
    pub capabilities: Capabilities,
}

impl Connection {
    fn id(&mut self) -> u32 {
        self.next_id = self.next_id.wrapping_add(1).max(1);
        self.next_id
    }

    async fn send(&mut self, message: &Message) -> Result<u32, String> {
        let id = self.id();
        self.framed
            .send(message.to_frame(id))
            .await
            .map_err(|e| format!("cannot send {}: {e}", kind::name(message.kind())))?;
        Ok(id)
    }

    /// Sends `message` and waits for its response, answering keepalives meanwhile.
    async fn transact(&mut self, message: &Message) -> Result<Message, String> {
        let request = message.kind();
        let expected = kind::response_to(request).expect("a request with a response");
        let id = self.send(message).await?;
        let deadline = tokio::time::Instant::now() + RESPONSE_TIMEOUT;
        loop {
            let frame = match tokio::time::timeout_at(deadline, self.framed.next()).await {
                Err(_) => {
                    return Err(format!(
                        "no answer to {} within {RESPONSE_TIMEOUT:?}",
                        kind::name(request)
                    ));
                }
                Ok(None) => {
                    return Err(format!(
                        "the reader closed the connection after {}",
                        kind::name(request)
                    ));
                }
                Ok(Some(Err(e))) => return Err(e.to_string()),
                Ok(Some(Ok(frame))) => frame,
            };
            if frame.kind == kind::KEEPALIVE {
                self.send(&Message::KeepaliveAck).await?;
                continue;
            }
            let answer =
                frame.id == id && (frame.kind == expected || frame.kind == kind::ERROR_MESSAGE);
            if !answer {
                tracing::debug!(
                    kind = kind::name(frame.kind),
                    "LLRP message while waiting for {}",
                    kind::name(expected)
                );
                continue;
            }
            let decoded =
                Message::decode(&frame).map_err(|e| format!("{}: {e}", kind::name(frame.kind)))?;
            if let Message::ErrorMessage(status) = &decoded {
                return Err(format!(
                    "the reader could not process {}: {status}",
                    kind::name(request)
                ));
            }
            return Ok(decoded);
        }
    }

    /// Sends `message`; its response must report success, or the error says `fix`.
    async fn require(&mut self, message: &Message, fix: &str) -> Result<(), String> {
        let response = self.transact(message).await?;
        match response.status() {
            Some(status) if status.is_success() => Ok(()),
            Some(status) => Err(format!(
                "the reader refused {}: {status}{fix}",
                kind::name(message.kind())
            )),
            None => Err(format!(
                "{} without an LLRPStatus",
                kind::name(response.kind())
            )),
        }
    }
}

/// Opens and configures a reader connection as the doc comment above draws it.
pub async fn connect(settings: &LlrpSettings) -> Result<Connection, String> {
    let address = format!("{}:{}", settings.host, settings.port);
    let stream = tokio::time::timeout(RESPONSE_TIMEOUT, TcpStream::connect(&address))
        .await
        .map_err(|_| format!("no TCP connection to {address} within {RESPONSE_TIMEOUT:?}"))?
        .map_err(|e| format!("cannot connect to {address}: {e}"))?;
    let _ = stream.set_nodelay(true);
    let mut framed = Framed::new(stream, LlrpCodec);
    // §17: the reader speaks first, with a ConnectionAttemptEvent.
    let first = tokio::time::timeout(RESPONSE_TIMEOUT, framed.next())
        .await
        .map_err(|_| {
            format!(
                "{address} accepted TCP but sent no LLRP connection event: is it an LLRP reader?"
            )
        })?
        .ok_or_else(|| format!("{address} closed the connection before its connection event"))?
        .map_err(|e| format!("{address}: {e}"))?;
    let attempt = match Message::decode(&first) {
        Ok(Message::ReaderEventNotification(event)) => event.connection_attempt,
        _ => None,
    };
    match attempt {
        Some(0) => {}
        Some(status) => return Err(connection_refused(status)),
        None => {
            return Err(format!(
                "{address} opened with {} instead of a ConnectionAttemptEvent: is it an LLRP reader?",
                kind::name(first.kind)
            ));
        }
    }
    let mut conn = Connection {
        framed,
        next_id: 0,
        capabilities: Capabilities::default(),
    };
    match conn
        .transact(&Message::GetReaderCapabilities { requested: 0 })
        .await?
    {
        Message::GetReaderCapabilitiesResponse {
            status,
            capabilities,
        } if status.is_success() => {
            conn.capabilities = *capabilities;
        }
        other => {
            return Err(format!(
                "GET_READER_CAPABILITIES failed: {}",
                other.status().unwrap_or_default()
            ));
        }
    }
    let impinj = conn.capabilities.manufacturer == IMPINJ
        && settings.uses_impinj_extensions()
        && enable_impinj(&mut conn).await;
    if settings.search_mode != SearchMode::ReaderSelected && !impinj {
        tracing::info!(reader = %address, "search_mode applies to Impinj readers only; this reader chooses its own");
    }
    // ID 0 is "all" (§16 DELETE_ROSPEC, DELETE_ACCESSSPEC). Some readers (llrpkit's
    // emulator among them) refuse it when there is nothing to delete: that is a clean state
    // too. A spec that really stayed makes ADD_ROSPEC fail below, with the reader's words.
    for clear in [Message::DeleteAccessspec(0), Message::DeleteRospec(0)] {
        if let Err(why) = conn.require(&clear, "").await {
            tracing::debug!("{why}; carrying on");
        }
    }
    conn.require(
        &Message::SetReaderConfig(settings.reader_config(impinj)),
        "; check keepalive_s",
    )
    .await?;
    conn.send(&Message::EnableEventsAndReports).await?;
    let rospec = settings
        .rospec(&conn.capabilities, impinj)
        .map_err(|e| format!("{e} (key {})", e.key))?;
    conn.require(
        &Message::AddRospec(Box::new(rospec)),
        "; check antennas, tx_power_dbm, session, read_window and gpi_port against what the reader has",
    )
    .await?;
    conn.require(&Message::EnableRospec(ROSPEC_ID), "").await?;
    if settings.read_window == ReadWindow::Continuous {
        conn.require(&Message::StartRospec(ROSPEC_ID), "").await?;
    }
    Ok(conn)
}

/// IMPINJ_ENABLE_EXTENSIONS; false (extensions unused) when the reader refuses.
async fn enable_impinj(conn: &mut Connection) -> bool {
    match conn.transact(&Message::impinj_enable_extensions()).await {
        Ok(Message::Custom {
            vendor: IMPINJ,
            subtype: impinj::ENABLE_EXTENSIONS_RESPONSE,
            data,
        }) => {
            let ok = Message::Custom {
                vendor: IMPINJ,
                subtype: impinj::ENABLE_EXTENSIONS_RESPONSE,
                data,
            }
            .status()
            .is_some_and(|s| s.is_success());
            if !ok {
                tracing::warn!(
                    "the Impinj reader refused IMPINJ_ENABLE_EXTENSIONS: reading without its extensions"
                );
            }
            ok
        }
        other => {
            tracing::warn!(answer = ?other.map(|m| m.kind()), "no IMPINJ_ENABLE_EXTENSIONS_RESPONSE: reading without Impinj extensions");
            false
        }
    }
}

/// What a failed ConnectionAttemptEvent means, and what to do (§16 ConnectionAttemptEvent).
fn connection_refused(status: u16) -> String {
    match status {
        1 => "the reader refuses: it already has a reader-initiated connection; switch the reader's \
              LLRP connection to client-initiated (tracegate connects to it)"
            .into(),
        2 => "the reader refuses: another client is connected (status 2: a client-initiated connection \
              already exists); close the other LLRP client (the reader's web console, ItemSense, another gateway)"
            .into(),
        4 => "the reader reports another connection attempt (status 4)".into(),
        s => format!("the reader refuses the connection (ConnectionAttemptEvent status {s})"),
    }
}

/// How often one kind of reader notice (antenna up/down, buffer filling) is logged; the
/// rest are counted and said with the next one let through. A reader whose antenna cable
/// flaps, or that reports its buffer level on every tick, must not fill an SD card.
const NOTICE_EVERY: Duration = Duration::from_secs(10);

/// Rate limit for a session's reader notices, per kind.
#[derive(Debug, Default)]
struct Notices {
    last: std::collections::HashMap<&'static str, (Instant, u64)>,
}

impl Notices {
    /// `Some(left out since the last one logged)` when a notice of `kind` may be logged now.
    fn allow(&mut self, kind: &'static str) -> Option<u64> {
        let now = Instant::now();
        match self.last.get_mut(kind) {
            Some((at, skipped)) if now.duration_since(*at) < NOTICE_EVERY => {
                *skipped += 1;
                None
            }
            Some((at, skipped)) => {
                *at = now;
                Some(std::mem::take(skipped))
            }
            None => {
                self.last.insert(kind, (now, 0));
                Some(0)
            }
        }
    }
}

/// " (N more like it not logged)" for a notice that follows left-out ones.
fn more(skipped: u64) -> String {
    if skipped == 0 {
        String::new()
    } else {
        format!(" ({skipped} more like it not logged)")
    }
}

/// A read window command waiting for the reader's answer.
struct Pending {
    id: u32,
    open: bool,
    request: CommandRequest,
    since: Instant,
}

impl Device for ReaderLink {
    type Conn = Connection;
    const TAKES_COMMANDS: bool = true;

    fn open(&mut self) -> impl Future<Output = Result<Connection, String>> + Send {
        let settings = self.settings.clone();
        async move { connect(&settings).await }
    }

    fn describe(&self) -> String {
        format!("LLRP reader {}:{}", self.settings.host, self.settings.port)
    }

    async fn session(
        &mut self,
        mut conn: Connection,
        events: &mpsc::Sender<DeviceEvent>,
        commands: &mut Commands,
        cancel: &CancellationToken,
    ) -> SessionEnd {
        // Three missed keepalives mean a dead link (a reader powered off, a cut cable, a
        // stalled switch: TCP alone may not tell for minutes).
        let silence_limit = Duration::from_secs(u64::from(self.settings.keepalive_s) * 3)
            + Duration::from_millis(500);
        let mut last_heard = Instant::now();
        let mut pending: Option<Pending> = None;
        let mut notices = Notices::default();
        loop {
            // No periodic wake-up: the one deadline that matters is slept to (a gateway on a
            // battery must not spin for an idle reader).
            let mut deadline = last_heard + silence_limit;
            if let Some(p) = &pending {
                deadline = deadline.min(p.since + RESPONSE_TIMEOUT);
            }
            tokio::select! {
                biased;
                _ = cancel.cancelled() => {
                    if let Some(p) = pending.take() {
                        p.request.answer(Err(CommandError::Stopped));
                    }
                    close(&mut conn).await;
                    return SessionEnd::Cancelled;
                }
                frame = conn.framed.next() => {
                    let frame = match frame {
                        None => return SessionEnd::Lost("the reader closed the connection".into()),
                        Some(Err(e)) => return SessionEnd::Lost(e.to_string()),
                        Some(Ok(frame)) => frame,
                    };
                    last_heard = Instant::now();
                    if let Some(end) = self.handle(&mut conn, frame, events, &mut pending, &mut notices).await {
                        return end;
                    }
                }
                _ = tokio::time::sleep_until(deadline.into()) => {
                    if last_heard.elapsed() >= silence_limit {
                        return SessionEnd::Lost(format!(
                            "nothing from the reader for {} s: {} keepalives missed (keepalive_s = {})",
                            last_heard.elapsed().as_secs(), 3, self.settings.keepalive_s
                        ));
                    }
                    if let Some(p) = &pending && p.since.elapsed() >= RESPONSE_TIMEOUT {
                        let p = pending.take().expect("checked");
                        p.request.answer(Err(CommandError::Timeout(RESPONSE_TIMEOUT.as_millis() as u64)));
                    }
                }
                request = commands.next(), if pending.is_none() => {
                    let DeviceCommand::ReadWindow(open) = request.command else {
                        request.unsupported();
                        continue;
                    };
                    let message = if open { Message::StartRospec(ROSPEC_ID) } else { Message::StopRospec(ROSPEC_ID) };
                    match conn.send(&message).await {
                        Ok(id) => pending = Some(Pending { id, open, request, since: Instant::now() }),
                        Err(e) => {
                            request.answer(Err(CommandError::Failed(e.clone())));
                            return SessionEnd::Lost(e);
                        }
                    }
                }
            }
        }
    }
}

impl ReaderLink {
    /// Handles one message from the reader; `Some` ends the session.
    async fn handle(
        &self,
        conn: &mut Connection,
        frame: Frame,
        events: &mpsc::Sender<DeviceEvent>,
        pending: &mut Option<Pending>,
        notices: &mut Notices,
    ) -> Option<SessionEnd> {
        if frame.kind == kind::KEEPALIVE {
            return conn
                .send(&Message::KeepaliveAck)
                .await
                .err()
                .map(SessionEnd::Lost);
        }
        if let Some(p) = pending
            && p.id == frame.id
            && matches!(
                frame.kind,
                kind::START_ROSPEC_RESPONSE | kind::STOP_ROSPEC_RESPONSE | kind::ERROR_MESSAGE
            )
        {
            let p = pending.take().expect("checked");
            let status = Message::decode(&frame)
                .ok()
                .and_then(|m| m.status())
                .unwrap_or_else(|| Status::error(0xFFFF, "no LLRPStatus"));
            p.request.answer(if status.is_success() {
                Ok(CommandDone::ReadWindow { open: p.open })
            } else {
                Err(CommandError::Failed(format!(
                    "the reader refused {}: {status}",
                    if p.open {
                        "START_ROSPEC"
                    } else {
                        "STOP_ROSPEC"
                    }
                )))
            });
            return None;
        }
        let message = match Message::decode(&frame) {
            Ok(m) => m,
            Err(e) => {
                return self
                    .frame_error(events, format!("{}: {e}", kind::name(frame.kind)))
                    .await;
            }
        };
        match message {
            Message::RoAccessReport(tags) => {
                let now = SystemTime::now();
                let mono = Instant::now();
                for tag in tags {
                    if events
                        .send(DeviceEvent::Read(self.read(tag, now, mono)))
                        .await
                        .is_err()
                    {
                        return Some(SessionEnd::ChannelClosed);
                    }
                }
                None
            }
            Message::ReaderEventNotification(event) => {
                if event.connection_close {
                    return Some(SessionEnd::Lost(
                        "the reader is closing the connection (ConnectionCloseEvent)".into(),
                    ));
                }
                if let Some((connected, antenna)) = event.antenna
                    && let Some(skipped) = notices.allow("antenna")
                {
                    let state = if connected {
                        "connected"
                    } else {
                        "disconnected"
                    };
                    tracing::warn!(device = %self.id, antenna, "the reader reports antenna {antenna} {state}{}", more(skipped));
                }
                if event.buffer_overflow {
                    return self
                        .frame_error(
                            events,
                            "the reader's report buffer overflowed: it discarded tag reports"
                                .into(),
                        )
                        .await;
                }
                if let Some(pct) = event.buffer_warning
                    && let Some(skipped) = notices.allow("buffer")
                {
                    tracing::warn!(device = %self.id, "the reader's report buffer is {pct} % full{}", more(skipped));
                }
                if let Some(message) = event.exception {
                    return self
                        .frame_error(events, format!("reader exception: {message}"))
                        .await;
                }
                None
            }
            Message::ErrorMessage(status) => {
                self.frame_error(
                    events,
                    format!("the reader could not process a message: {status}"),
                )
                .await
            }
            other => {
                tracing::debug!(device = %self.id, kind = kind::name(other.kind()), "LLRP message ignored");
                None
            }
        }
    }

    async fn frame_error(
        &self,
        events: &mpsc::Sender<DeviceEvent>,
        message: String,
    ) -> Option<SessionEnd> {
        let event = DeviceEvent::FrameError {
            device: self.id.clone(),
            message,
        };
        events
            .send(event)
            .await
            .err()
            .map(|_| SessionEnd::ChannelClosed)
    }

    fn read(&self, tag: TagReport, now: SystemTime, mono: Instant) -> RawRead {
        RawRead {
            device: self.id.clone(),
            at: now,
            mono,
            payload: hex::encode_upper(&tag.epc).into(),
            meta: ReadMeta {
                antenna: tag.antenna,
                rssi_dbm: tag.rssi_dbm(),
                device_time: tag
                    .first_seen_utc_us
                    .map(|us| SystemTime::UNIX_EPOCH + Duration::from_micros(us)),
                seen_count: tag.seen_count.map(u32::from),
                ..ReadMeta::default()
            },
        }
    }
}

/// CLOSE_CONNECTION, waiting briefly for its response (a reader that does not answer is
/// closed on anyway).
async fn close(conn: &mut Connection) {
    let _ = tokio::time::timeout(
        Duration::from_secs(2),
        conn.transact(&Message::CloseConnection),
    )
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flapping_notice_is_logged_once_per_window_and_the_rest_counted() {
        let mut n = Notices::default();
        assert_eq!(n.allow("antenna"), Some(0));
        assert_eq!(n.allow("antenna"), None);
        assert_eq!(n.allow("antenna"), None);
        assert_eq!(n.allow("buffer"), Some(0), "each kind has its own window");
        // The window passed: the next one says how many were left out.
        n.last.get_mut("antenna").unwrap().0 -= NOTICE_EVERY;
        assert_eq!(n.allow("antenna"), Some(2));
        assert_eq!(more(2), " (2 more like it not logged)");
    }
}
