//! The label printer driver: one session per connection, which sends a job, confirms from the
//! printer's own status that it printed, holds while the printer has a fault, and polls the
//! status with backoff so that polling never competes with printing (lprint#161: a poller
//! that asks every 100 ms slows a busy printer down).
//!
//! ```text
//!                    Print, printer ready            status shows the job printed
//!   ┌──────┐ ─────────────────────────▶ ┌─────────┐ ───────────────────────────────▶ answer
//!   │ Idle │   write the job's bytes    │ Printing│   (ZPL: formats 0, labels left 0, Printed,
//!   └──────┘ ◀───────────────────────── └─────────┘    no partial format; TSPL: idle  back to
//!     │  ▲   Print while faulted:         │    ▲       and faultless for `settle`)    Idle
//!     │  │   answer Held (not sent)       │    │ fault (paper out mid-batch …): keep
//!     │  │                                │    │ polling, the job waits, never re-sent
//!     │  └── status answer (any time) ────┘────┘
//!     ▼
//!   link lost / write failed / cancelled: a job being printed is answered OutcomeUnknown
//!   (the queue holds it for an operator), the session ends Lost and the life cycle reconnects
//! ```
//!
//! Polling: one status request outstanding at a time. Idle, every `idle` (10 s). While a job
//! prints or a fault stands, from `busy_min` (200 ms) doubling to `busy_max` (2 s), back to
//! `busy_min` when the status changes, so a cleared fault is seen within `busy_max`. A request
//! unanswered within `answer` is the fault [`Fault::Silent`] (Zebra firmware does not answer
//! `~HS` while out of media; see [`super::zpl`]).
//!
//! Confirmation differs by language, because the languages report different things:
//!
//! - **ZPL** `~HS` counts: formats in the receive buffer, labels remaining in the batch, and
//!   whether a format is partly received. A job is printed when, on an answer to a request sent
//!   after the whole job was written, all three are zero and no fault stands. `~HS` is a tilde
//!   command, handled on arrival, but it arrives after the job's bytes on the same stream, so
//!   the job is already counted in the buffer when it is answered.
//! - **TSPL** `<ESC>!?` has no counter, only a `printing` bit, and is answered at once, even
//!   ahead of a job still being interpreted. A job is printed when the printer, after the job
//!   was written, either showed `printing` and then idle, or has answered idle and faultless
//!   for `settle` (1 s) without interruption. That is weaker than ZPL's counters; a TSPL line
//!   that must prove each label should use a printer with ZPL emulation or a verifier.

use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::codec::{Decoder, FramedRead};
use tokio_util::sync::CancellationToken;

use super::zpl::{self, HostStatusCodec, ZplItem};
use super::{Fault, PrinterStatus, tspl};
use crate::command::{CommandDone, CommandError, CommandRequest, Commands, DeviceCommand};
use crate::lifecycle::{Device, Driver, SessionEnd};
use crate::read::DeviceEvent;
use crate::serial::SerialSettings;

/// The printer language, which decides the status request and how a job is confirmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    /// Zebra ZPL II (and ZPL emulations).
    Zpl,
    /// TSC TSPL / TSPL2.
    Tspl,
}

/// How the gateway reaches the printer.
#[derive(Debug, Clone, PartialEq)]
pub enum Transport {
    /// Raw TCP, usually port 9100 (`host:port`).
    Tcp(String),
    /// A serial line (RS-232 or USB-serial).
    Serial(SerialSettings),
    /// A USB printer class device (`/dev/usb/lp0`), read and written as a file.
    UsbPrinter(PathBuf),
}

/// How often the status is asked for, and how long answers may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollTimes {
    /// Between requests while idle and faultless.
    pub idle: Duration,
    /// First interval while a job prints or a fault stands.
    pub busy_min: Duration,
    /// Longest interval while a job prints or a fault stands.
    pub busy_max: Duration,
    /// A request unanswered this long makes the printer [`Fault::Silent`].
    pub answer: Duration,
    /// TSPL: idle and faultless this long after a job was written means it printed.
    pub settle: Duration,
    /// Writing a job (or a request) that takes longer than this fails the link.
    pub write: Duration,
}

impl Default for PollTimes {
    fn default() -> Self {
        PollTimes {
            idle: Duration::from_secs(10),
            busy_min: Duration::from_millis(200),
            busy_max: Duration::from_secs(2),
            answer: Duration::from_secs(2),
            settle: Duration::from_secs(1),
            write: Duration::from_secs(30),
        }
    }
}

/// A printer: its language, transport and poll times.
#[derive(Debug, Clone)]
pub struct PrinterDevice {
    id: Arc<str>,
    language: Language,
    transport: Transport,
    poll: PollTimes,
}

impl PrinterDevice {
    /// Printer `id` speaking `language` over `transport`, with the default poll times.
    pub fn new(id: Arc<str>, language: Language, transport: Transport) -> Self {
        PrinterDevice {
            id,
            language,
            transport,
            poll: PollTimes::default(),
        }
    }

    /// Uses other poll times.
    pub fn with_poll(mut self, poll: PollTimes) -> Self {
        self.poll = poll;
        self
    }

    /// Its driver, with the default reconnect delays.
    pub fn driver(self) -> PrinterDriver {
        Driver::with_device(self.id.clone(), self)
    }
}

/// The label printer driver.
pub type PrinterDriver = Driver<PrinterDevice>;

/// A printer connection, whatever its transport.
pub trait PrinterIo: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> PrinterIo for T {}

/// An open printer connection.
pub type PrinterConn = Pin<Box<dyn PrinterIo>>;

/// One status answer, as the session reads it.
#[derive(Debug, Clone, PartialEq)]
enum Answer {
    /// A status; `batch_done` is the ZPL counters' verdict (none for TSPL).
    Status {
        status: PrinterStatus,
        batch_done: Option<bool>,
    },
    /// Bytes that are no status, or a malformed one (counted as frame errors).
    Garbage(String),
}

/// Decodes a printer's status answers in its language.
#[derive(Debug)]
enum AnswerCodec {
    Zpl(HostStatusCodec),
    Tspl,
}

impl Decoder for AnswerCodec {
    type Item = Answer;
    type Error = std::io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Answer>, std::io::Error> {
        match self {
            AnswerCodec::Zpl(codec) => Ok(codec.decode(src)?.map(|item| match item {
                ZplItem::Status(hs) => Answer::Status {
                    batch_done: Some(
                        hs.formats_in_buffer == 0 && hs.labels_remaining == 0 && !hs.partial_format,
                    ),
                    status: hs.status(),
                },
                ZplItem::Noise { bytes } => {
                    Answer::Garbage(format!("{bytes} bytes outside a ~HS answer"))
                }
                ZplItem::Malformed(why) => Answer::Garbage(why),
            })),
            // Only `<ESC>!?` is ever sent, and it is answered with exactly one byte.
            AnswerCodec::Tspl => Ok((!src.is_empty()).then(|| {
                let byte = src.split_to(1)[0];
                Answer::Status {
                    status: tspl::status_byte(byte),
                    batch_done: None,
                }
            })),
        }
    }
}

/// The job being printed.
struct Printing {
    request: CommandRequest,
    labels: u32,
    /// Status requests sent before this instant were sent before the job was written.
    written_at: Instant,
    saw_printing: bool,
    /// Since when the TSPL printer has answered idle and faultless, without a break.
    idle_since: Option<Instant>,
}

/// The session's moving parts.
struct Session<'a> {
    id: Arc<str>,
    language: Language,
    poll: PollTimes,
    events: &'a mpsc::Sender<DeviceEvent>,
    writer: WriteHalf<PrinterConn>,
    status: PrinterStatus,
    /// Whether the printer has answered a status request in this session yet (until then
    /// nothing is known, and no job is sent).
    known: bool,
    printing: Option<Printing>,
    /// When the outstanding request was sent.
    asked_at: Option<Instant>,
    next_poll: Instant,
    busy_interval: Duration,
}

impl Device for PrinterDevice {
    type Conn = PrinterConn;
    const TAKES_COMMANDS: bool = true;

    async fn open(&mut self) -> Result<PrinterConn, String> {
        match &self.transport {
            Transport::Tcp(addr) => {
                let stream = tokio::time::timeout(
                    Duration::from_secs(10),
                    tokio::net::TcpStream::connect(addr.as_str()),
                )
                .await
                .map_err(|_| format!("printer {addr}: no answer to connect within 10 s"))?
                .map_err(|e| format!("printer {addr}: {e}"))?;
                let _ = stream.set_nodelay(true);
                Ok(Box::pin(stream))
            }
            Transport::Serial(settings) => Ok(Box::pin(settings.open_for_session()?)),
            Transport::UsbPrinter(path) => {
                let file = tokio::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(path)
                    .await
                    .map_err(|e| {
                        format!(
                            "{}: {e} (is the printer on and the usblp module loaded? the user \
                             needs the lp group)",
                            path.display()
                        )
                    })?;
                Ok(Box::pin(file))
            }
        }
    }

    async fn session(
        &mut self,
        conn: PrinterConn,
        events: &mpsc::Sender<DeviceEvent>,
        commands: &mut Commands,
        cancel: &CancellationToken,
    ) -> SessionEnd {
        let (reader, writer) = tokio::io::split(conn);
        let codec = match self.language {
            Language::Zpl => AnswerCodec::Zpl(HostStatusCodec::new()),
            Language::Tspl => AnswerCodec::Tspl,
        };
        let mut answers: FramedRead<ReadHalf<PrinterConn>, AnswerCodec> =
            FramedRead::new(reader, codec);
        let mut session = Session {
            id: self.id.clone(),
            language: self.language,
            poll: self.poll,
            events,
            writer,
            status: PrinterStatus::default(),
            known: false,
            printing: None,
            asked_at: None,
            next_poll: Instant::now(),
            busy_interval: self.poll.busy_min,
        };
        let end = session.run(&mut answers, commands, cancel).await;
        if let Some(job) = session.printing.take() {
            let why = match &end {
                SessionEnd::Lost(why) => why.clone(),
                _ => "the daemon stopped while the job was printing".to_string(),
            };
            job.request.answer(Err(CommandError::OutcomeUnknown(why)));
        }
        end
    }

    fn describe(&self) -> String {
        match &self.transport {
            Transport::Tcp(addr) => format!("printer {addr}"),
            Transport::Serial(s) => format!("printer port {}", s.port),
            Transport::UsbPrinter(path) => format!("printer {}", path.display()),
        }
    }
}

impl Session<'_> {
    async fn run(
        &mut self,
        answers: &mut FramedRead<ReadHalf<PrinterConn>, AnswerCodec>,
        commands: &mut Commands,
        cancel: &CancellationToken,
    ) -> SessionEnd {
        loop {
            let wake = match self.asked_at {
                Some(asked) => asked + self.poll.answer,
                None => self.next_poll,
            };
            tokio::select! {
                _ = cancel.cancelled() => return SessionEnd::Cancelled,
                _ = self.events.closed() => return SessionEnd::ChannelClosed,
                answer = answers.next() => match answer {
                    None => return SessionEnd::Lost("the printer closed the connection".into()),
                    Some(Err(e)) => return SessionEnd::Lost(format!("reading from the printer: {e}")),
                    Some(Ok(Answer::Garbage(why))) => {
                        let _ = self.events.try_send(DeviceEvent::FrameError {
                            device: self.id.clone(),
                            message: format!("printer status: {why}"),
                        });
                    }
                    Some(Ok(Answer::Status { status, batch_done })) => {
                        self.answered(status, batch_done).await;
                    }
                },
                request = commands.next() => {
                    if let Err(why) = self.command(request).await {
                        return SessionEnd::Lost(why);
                    }
                }
                _ = tokio::time::sleep_until(wake) => {
                    if let Some(asked) = self.asked_at.take()
                        && asked + self.poll.answer <= Instant::now()
                    {
                        let mut silent = self.status.clone();
                        silent.add(true, Fault::Silent);
                        self.set_status(silent).await;
                        self.schedule(true);
                        continue;
                    }
                    if let Err(why) = self.ask().await {
                        return SessionEnd::Lost(why);
                    }
                }
            }
        }
    }

    /// Sends a status request.
    async fn ask(&mut self) -> Result<(), String> {
        let request = match self.language {
            Language::Zpl => zpl::HOST_STATUS,
            Language::Tspl => tspl::STATUS_BYTE,
        };
        self.write(request).await?;
        self.asked_at = Some(Instant::now());
        Ok(())
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), String> {
        let write = async {
            self.writer.write_all(bytes).await?;
            self.writer.flush().await
        };
        match tokio::time::timeout(self.poll.write, write).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(format!("writing to the printer: {e}")),
            Err(_) => Err(format!(
                "the printer took no data for {} s (buffer full or link stuck)",
                self.poll.write.as_secs()
            )),
        }
    }

    /// A status answer arrived for the outstanding request.
    async fn answered(&mut self, status: PrinterStatus, batch_done: Option<bool>) {
        let asked = self.asked_at.take();
        let changed = status != self.status;
        self.set_status(status.clone()).await;
        if let Some(job) = &mut self.printing {
            // An answer to a request that left before the job did says nothing about it.
            let after_job = asked.is_some_and(|at| at >= job.written_at);
            if after_job {
                job.saw_printing |= status.printing;
                let idle = status.ready() && !status.printing;
                let done = match batch_done {
                    Some(done) => done && status.ready(),
                    None => {
                        let now = Instant::now();
                        if idle {
                            let since = *job.idle_since.get_or_insert(now);
                            job.saw_printing || now.duration_since(since) >= self.poll.settle
                        } else {
                            job.idle_since = None;
                            false
                        }
                    }
                };
                if done && let Some(job) = self.printing.take() {
                    job.request
                        .answer(Ok(CommandDone::Printed { labels: job.labels }));
                }
            }
        }
        self.schedule(changed);
    }

    /// Sets when the next request goes out.
    fn schedule(&mut self, changed: bool) {
        let busy = self.printing.is_some() || !self.status.ready();
        let interval = if busy {
            if changed {
                self.busy_interval = self.poll.busy_min;
            }
            let interval = self.busy_interval;
            self.busy_interval = (self.busy_interval * 2).min(self.poll.busy_max);
            interval
        } else {
            self.busy_interval = self.poll.busy_min;
            self.poll.idle
        };
        self.next_poll = Instant::now() + interval;
    }

    /// Takes `status` as the printer's; reports it when it changed, and the first one of a
    /// session always (the pipeline may still show the last session's fault).
    async fn set_status(&mut self, status: PrinterStatus) {
        if status != self.status || !self.known {
            self.known = true;
            self.status = status.clone();
            let _ = self
                .events
                .send(DeviceEvent::Printer {
                    device: self.id.clone(),
                    status,
                })
                .await;
        }
    }

    /// Why a job would not be sent now, if it would not: one at a time, and only to a printer
    /// that has answered and shows no fault.
    fn refusal(&self) -> Option<CommandError> {
        if self.printing.is_some() {
            return Some(CommandError::Busy);
        }
        if !self.known {
            let why = "the printer has not answered a status request yet".to_string();
            return Some(CommandError::Held(why));
        }
        if !self.status.ready() {
            return Some(CommandError::Held(self.status.describe()));
        }
        None
    }

    /// Carries out one command; an error is the link failing.
    async fn command(&mut self, request: CommandRequest) -> Result<(), String> {
        match &request.command {
            DeviceCommand::PrintReady => {
                request.answer(self.refusal().map_or(Ok(CommandDone::Ready), Err));
                Ok(())
            }
            DeviceCommand::Print { data, labels } => {
                if let Some(refusal) = self.refusal() {
                    request.answer(Err(refusal));
                    return Ok(());
                }
                let (data, labels): (Bytes, u32) = (data.clone(), *labels);
                // From the first byte on, the outcome of a failure is unknown.
                self.printing = Some(Printing {
                    request,
                    labels,
                    written_at: Instant::now(),
                    saw_printing: false,
                    idle_since: None,
                });
                self.write(&data).await?;
                if let Some(job) = &mut self.printing {
                    job.written_at = Instant::now();
                }
                // Ask now (unless a request is out: its answer is not about this job, and
                // the next one goes out when it is in).
                self.busy_interval = self.poll.busy_min;
                if self.asked_at.is_none() {
                    self.ask().await?;
                }
                Ok(())
            }
            DeviceCommand::Send(bytes) => {
                let bytes = bytes.clone();
                self.write(&bytes).await?;
                request.answer(Ok(CommandDone::Sent { bytes: bytes.len() }));
                Ok(())
            }
            _ => {
                request.unsupported();
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zpl_answers_say_whether_the_batch_is_done() {
        let mut codec = AnswerCodec::Zpl(HostStatusCodec::new());
        let mut hs = zpl::HostStatus {
            formats_in_buffer: 1,
            ..zpl::HostStatus::default()
        };
        let mut buf = BytesMut::from(&hs.to_bytes()[..]);
        hs.formats_in_buffer = 0;
        hs.labels_remaining = 0;
        buf.extend_from_slice(&hs.to_bytes());
        let first = codec.decode(&mut buf).unwrap().unwrap();
        let second = codec.decode(&mut buf).unwrap().unwrap();
        assert!(matches!(
            first,
            Answer::Status {
                batch_done: Some(false),
                ..
            }
        ));
        assert!(matches!(
            second,
            Answer::Status {
                batch_done: Some(true),
                ..
            }
        ));
        assert_eq!(codec.decode(&mut buf).unwrap(), None);
    }

    #[test]
    fn tspl_answers_are_one_byte_each() {
        let mut codec = AnswerCodec::Tspl;
        let mut buf = BytesMut::from(&[0x00u8, 0x04][..]);
        let Answer::Status { status, .. } = codec.decode(&mut buf).unwrap().unwrap() else {
            panic!("a status")
        };
        assert!(status.ready());
        let Answer::Status { status, .. } = codec.decode(&mut buf).unwrap().unwrap() else {
            panic!("a status")
        };
        assert_eq!(status.faults, [Fault::PaperOut]);
        assert_eq!(codec.decode(&mut buf).unwrap(), None);
    }

    #[test]
    fn zpl_noise_is_reported_not_taken_for_status() {
        let mut codec = AnswerCodec::Zpl(HostStatusCodec::new());
        let mut buf = BytesMut::from(&b"xyz"[..]);
        assert!(matches!(
            codec.decode(&mut buf).unwrap(),
            Some(Answer::Garbage(_))
        ));
    }
}
