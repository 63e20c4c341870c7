//! A simulated LLRP reader on loopback TCP: it does the connection handshake, answers the
//! client's configuration, keeps the ROSpec it was given and, while that ROSpec runs, streams
//! RO_ACCESS_REPORTs for a scripted tag population moving through its antennas' zones —
//! arrive, dwell, leave — at a configurable report rate. It can misbehave on cue: drop the
//! connection, stop sending keepalives, refuse the ROSpec, or say another client is connected.
//!
//! ```text
//!  accept ─▶ ConnectionAttemptEvent (0, or 2 while "occupied" / a client is already on)
//!    ▼
//!  answer GET_READER_CAPABILITIES · IMPINJ_ENABLE_EXTENSIONS · DELETE_* · SET_READER_CONFIG
//!    ▼
//!  ADD_ROSPEC (kept, or refused on cue) ─▶ ENABLE_ROSPEC (Immediate: running)
//!    ▼                                     START_ROSPEC / STOP_ROSPEC: running or not
//!  every 1/rate s while running: each tag in a zone now ─▶ TagReportData (N per report)
//!  every keepalive: KEEPALIVE (unless told to stop)      CLOSE_CONNECTION ─▶ response, close
//! ```
//!
//! A tag's RSSI in a zone rises to its peak at the middle of its dwell and falls again, like a
//! tag carried past an antenna. Every message goes through the same codec the client uses;
//! the tests also drive it with LLRP clients the project did not write.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio_util::codec::Framed;
use tokio_util::sync::CancellationToken;

use crate::rfid::llrp::frame::{Frame, LlrpCodec};
use crate::rfid::llrp::message::{
    Capabilities, IMPINJ, Message, PowerLevel, ReaderEvent, RoSpec, StartTrigger, Status,
    TagReport, impinj, kind,
};

/// One zone a tag passes through: an antenna, how long the tag stays in its field, and the
/// strongest RSSI it reaches there.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Leg {
    /// Antenna port.
    pub antenna: u16,
    /// Time in the field.
    pub dwell: Duration,
    /// Peak RSSI (dBm), at the middle of the dwell.
    pub peak_dbm: f32,
}

/// One tag's pass through the reader's zones, starting `after` the ROSpec starts running.
#[derive(Debug, Clone, PartialEq)]
pub struct TagPass {
    /// The EPC (12 bytes for SGTIN-96).
    pub epc: Vec<u8>,
    /// Delay from the start of the script.
    pub after: Duration,
    /// Zones in order; legs may overlap by giving a later one a negative gap via `overlap`.
    pub legs: Vec<Leg>,
    /// How long consecutive legs overlap (a tag between two antennas is seen by both).
    pub overlap: Duration,
}

impl TagPass {
    /// The leg the tag is in at `t` since the script started, and how far through it (0–1);
    /// during an overlap both legs count, so this yields every leg active at `t`.
    fn active(&self, t: Duration) -> impl Iterator<Item = (&Leg, f32)> {
        let mut start = self.after;
        self.legs.iter().filter_map(move |leg| {
            let begin = start;
            let end = begin + leg.dwell;
            start = end.saturating_sub(self.overlap);
            (t >= begin && t < end).then(|| {
                let through = (t - begin).as_secs_f32() / leg.dwell.as_secs_f32().max(1e-6);
                (leg, through)
            })
        })
    }

    /// When the pass ends.
    fn end(&self) -> Duration {
        let legs: Duration = self.legs.iter().map(|l| l.dwell).sum();
        let overlaps = self.overlap * self.legs.len().saturating_sub(1) as u32;
        self.after + legs.saturating_sub(overlaps)
    }
}

/// An SGTIN-96 EPC (EPC TDS 2.x §14.5.1: header 0x30, filter, partition 5 — a 7-digit
/// company prefix in 24 bits and a 6-digit indicator + item reference in 20 bits — and a
/// 38-bit serial).
pub fn sgtin96(filter: u8, company: u32, item: u32, serial: u64) -> Vec<u8> {
    let value: u128 = (0x30u128 << 88)
        | (u128::from(filter & 0x7) << 85)
        | (5u128 << 82)
        | (u128::from(company & 0xFF_FFFF) << 58)
        | (u128::from(item & 0xF_FFFF) << 38)
        | u128::from(serial & 0x3F_FFFF_FFFF);
    value.to_be_bytes()[4..].to_vec()
}

/// How the simulated reader behaves.
#[derive(Debug, Clone)]
pub struct SimReaderConfig {
    /// What it answers to GET_READER_CAPABILITIES.
    pub capabilities: Capabilities,
    /// Report ticks per second while the ROSpec runs (each tick reports every tag in a zone).
    pub report_rate: f64,
    /// The tag passes, relative to the moment the ROSpec first runs.
    pub script: Vec<TagPass>,
    /// Replay the script this often (each round with new serials: `serial + round`), or
    /// play it once.
    pub repeat_every: Option<Duration>,
}

impl Default for SimReaderConfig {
    fn default() -> Self {
        SimReaderConfig {
            capabilities: impinj_r700(),
            report_rate: 20.0,
            script: Vec::new(),
            repeat_every: None,
        }
    }
}

/// An Impinj R700-like reader: four antennas, UTC clock, two GPIs and GPOs, a power table
/// from 10 to 33 dBm in 0.25 dB steps, a few Gen2 RF modes.
pub fn impinj_r700() -> Capabilities {
    Capabilities {
        manufacturer: IMPINJ,
        model: 2_001_002,
        firmware: "tracegate-sim 1.0".into(),
        max_antennas: 4,
        can_set_antenna_properties: false,
        has_utc_clock: true,
        gpis: 2,
        gpos: 2,
        max_rospecs: 1,
        state_aware_singulation: false,
        event_and_report_holding: true,
        country_code: 840,
        communications_standard: 1,
        transmit_power: (1..=93)
            .map(|i| PowerLevel {
                index: i,
                dbm100: 1000 + (i as i16 - 1) * 25,
            })
            .collect(),
        hopping: true,
        rf_modes: vec![0, 1, 2, 1002, 1004],
        max_select_filters: 2,
    }
}

/// What the simulated reader saw and did, for tests to assert on.
#[derive(Debug, Default)]
pub struct SimReaderStats {
    /// Tag reports (TagReportData) sent.
    pub tags_sent: AtomicU64,
    /// RO_ACCESS_REPORT messages sent.
    pub reports_sent: AtomicU64,
    /// KEEPALIVE_ACKs received.
    pub keepalive_acks: AtomicU64,
    /// Client connections accepted (handshake success).
    pub sessions: AtomicU64,
    /// Connections refused with "another client is connected".
    pub refused_connections: AtomicU64,
    /// Whether the latest report tick while running found no tag in any field (the script is
    /// between passes, or over).
    pub quiet: AtomicBool,
}

#[derive(Debug, Default)]
struct Controls {
    stop_keepalives: AtomicBool,
    refuse_rospec: AtomicBool,
    occupied: AtomicBool,
    drop_now: Notify,
    received: Mutex<Vec<u16>>,
    rospec: Mutex<Option<RoSpec>>,
    extra: Mutex<VecDeque<TagPass>>,
    running: AtomicBool,
}

/// A running simulated reader; dropping it stops it.
#[derive(Debug)]
pub struct SimReader {
    /// The loopback port it listens on.
    pub port: u16,
    /// Its counters.
    pub stats: Arc<SimReaderStats>,
    controls: Arc<Controls>,
    cancel: CancellationToken,
}

impl Drop for SimReader {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

impl SimReader {
    /// Starts a reader on a free loopback port.
    pub async fn start(config: SimReaderConfig) -> std::io::Result<SimReader> {
        SimReader::start_on("127.0.0.1:0", config).await
    }

    /// Starts a reader listening on `address` (loopback only, in tests and the demo).
    pub async fn start_on(address: &str, config: SimReaderConfig) -> std::io::Result<SimReader> {
        let listener = TcpListener::bind(address).await?;
        let port = listener.local_addr()?.port();
        let stats = Arc::new(SimReaderStats::default());
        let controls = Arc::new(Controls::default());
        let cancel = CancellationToken::new();
        tokio::spawn(serve(
            listener,
            Arc::new(config),
            stats.clone(),
            controls.clone(),
            cancel.clone(),
        ));
        Ok(SimReader {
            port,
            stats,
            controls,
            cancel,
        })
    }

    /// Drops the client's connection now (a reader rebooting, a cable pulled).
    pub fn drop_connection(&self) {
        self.controls.drop_now.notify_waiters();
    }

    /// Stops (or resumes) sending keepalives, and every other message: a reader that hangs
    /// with its TCP connection still open.
    pub fn stop_keepalives(&self, stop: bool) {
        self.controls.stop_keepalives.store(stop, Ordering::SeqCst);
    }

    /// Refuses the next ADD_ROSPECs (P_FieldError on the start trigger), or accepts them.
    pub fn refuse_rospec(&self, refuse: bool) {
        self.controls.refuse_rospec.store(refuse, Ordering::SeqCst);
    }

    /// Pretends another client holds the reader: new connections get ConnectionAttemptEvent
    /// status 2 and are closed.
    pub fn occupy(&self, occupied: bool) {
        self.controls.occupied.store(occupied, Ordering::SeqCst);
    }

    /// Adds a tag pass that starts `pass.after` from now.
    pub fn add_pass(&self, pass: TagPass) {
        self.controls
            .extra
            .lock()
            .expect("not poisoned")
            .push_back(pass);
    }

    /// The message types received so far, in order.
    pub fn received(&self) -> Vec<u16> {
        self.controls.received.lock().expect("not poisoned").clone()
    }

    /// The ROSpec the client added, if any.
    pub fn rospec(&self) -> Option<RoSpec> {
        self.controls.rospec.lock().expect("not poisoned").clone()
    }

    /// Whether the ROSpec is running.
    pub fn running(&self) -> bool {
        self.controls.running.load(Ordering::SeqCst)
    }
}

async fn serve(
    listener: TcpListener,
    config: Arc<SimReaderConfig>,
    stats: Arc<SimReaderStats>,
    controls: Arc<Controls>,
    cancel: CancellationToken,
) {
    let busy = Arc::new(AtomicBool::new(false));
    let mut sessions = tokio::task::JoinSet::new();
    loop {
        let stream = tokio::select! {
            _ = cancel.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => continue,
            },
        };
        let _ = stream.set_nodelay(true);
        let mut framed = Framed::new(stream, LlrpCodec);
        if controls.occupied.load(Ordering::SeqCst) || busy.load(Ordering::SeqCst) {
            // LLRP allows one client: the newcomer is told why and closed.
            stats.refused_connections.fetch_add(1, Ordering::Relaxed);
            let _ = framed.send(connection_event(2).to_frame(0)).await;
            continue;
        }
        busy.store(true, Ordering::SeqCst);
        let (config, stats, controls, cancel, busy) = (
            config.clone(),
            stats.clone(),
            controls.clone(),
            cancel.clone(),
            busy.clone(),
        );
        sessions.spawn(async move {
            let _ = Session::new(framed, config, stats, controls)
                .run(&cancel)
                .await;
            busy.store(false, Ordering::SeqCst);
        });
        while sessions.try_join_next().is_some() {}
    }
}

fn connection_event(status: u16) -> Message {
    Message::ReaderEventNotification(ReaderEvent {
        timestamp_us: now_us(),
        connection_attempt: Some(status),
        ..ReaderEvent::default()
    })
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

struct Session {
    framed: Framed<TcpStream, LlrpCodec>,
    config: Arc<SimReaderConfig>,
    stats: Arc<SimReaderStats>,
    controls: Arc<Controls>,
    keepalive: Option<Duration>,
    report_n: u16,
    next_id: u32,
    /// When the script's clock started (the ROSpec first ran).
    script_start: Option<Instant>,
    /// Passes added at run time, with the script time they start at.
    added: Vec<TagPass>,
}

impl Session {
    fn new(
        framed: Framed<TcpStream, LlrpCodec>,
        config: Arc<SimReaderConfig>,
        stats: Arc<SimReaderStats>,
        controls: Arc<Controls>,
    ) -> Self {
        Session {
            framed,
            config,
            stats,
            controls,
            keepalive: None,
            report_n: 1,
            next_id: 1000,
            script_start: None,
            added: Vec::new(),
        }
    }

    async fn send(&mut self, message: Message, id: Option<u32>) -> Result<(), ()> {
        let id = id.unwrap_or_else(|| {
            self.next_id += 1;
            self.next_id
        });
        self.framed.send(message.to_frame(id)).await.map_err(|_| ())
    }

    async fn run(mut self, cancel: &CancellationToken) -> Result<(), ()> {
        self.send(connection_event(0), Some(0)).await?;
        self.stats.sessions.fetch_add(1, Ordering::Relaxed);
        self.controls.running.store(false, Ordering::SeqCst);
        let tick = Duration::from_secs_f64(1.0 / self.config.report_rate.max(0.1));
        let mut reports = tokio::time::interval(tick);
        reports.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_keepalive = Instant::now();
        let drop_now = self.controls.clone();
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                _ = drop_now.drop_now.notified() => return Ok(()),
                frame = self.framed.next() => {
                    let Some(Ok(frame)) = frame else { return Ok(()) };
                    if !self.handle(frame).await? {
                        return Ok(());
                    }
                }
                _ = reports.tick() => {
                    if self.controls.stop_keepalives.load(Ordering::SeqCst) {
                        continue;
                    }
                    if let Some(every) = self.keepalive && last_keepalive.elapsed() >= every {
                        last_keepalive = Instant::now();
                        self.send(Message::Keepalive, None).await?;
                    }
                    if self.controls.running.load(Ordering::SeqCst) {
                        self.report().await?;
                    }
                }
            }
        }
    }

    /// Answers one client message; false once the connection is to close.
    async fn handle(&mut self, frame: Frame) -> Result<bool, ()> {
        self.controls
            .received
            .lock()
            .expect("not poisoned")
            .push(frame.kind);
        let id = Some(frame.id);
        let ok = |k: u16| Message::Response {
            kind: k,
            status: Status::success(),
        };
        let message = match Message::decode(&frame) {
            Ok(m) => m,
            Err(e) => {
                let status = Status::error(
                    100,
                    format!("cannot decode {}: {e}", kind::name(frame.kind)),
                );
                self.send(Message::ErrorMessage(status), id).await?;
                return Ok(true);
            }
        };
        match message {
            Message::GetReaderCapabilities { .. } => {
                let response = Message::GetReaderCapabilitiesResponse {
                    status: Status::success(),
                    capabilities: Box::new(self.config.capabilities.clone()),
                };
                self.send(response, id).await?;
            }
            Message::Custom {
                vendor: IMPINJ,
                subtype: impinj::ENABLE_EXTENSIONS,
                ..
            } if self.config.capabilities.manufacturer == IMPINJ => {
                self.send(
                    Message::impinj_enable_extensions_response(&Status::success()),
                    id,
                )
                .await?;
            }
            Message::SetReaderConfig(config) => {
                self.keepalive = config
                    .keepalive_ms
                    .filter(|&ms| ms > 0)
                    .map(|ms| Duration::from_millis(u64::from(ms)));
                if let Some(report) = config.report {
                    self.report_n = report.n;
                }
                self.send(ok(kind::SET_READER_CONFIG_RESPONSE), id).await?;
            }
            Message::DeleteAccessspec(_) => {
                self.send(ok(kind::DELETE_ACCESSSPEC_RESPONSE), id).await?
            }
            Message::DeleteRospec(_) => {
                *self.controls.rospec.lock().expect("not poisoned") = None;
                self.controls.running.store(false, Ordering::SeqCst);
                self.send(ok(kind::DELETE_ROSPEC_RESPONSE), id).await?;
            }
            Message::EnableEventsAndReports => {}
            Message::AddRospec(spec) => {
                let response = if self.controls.refuse_rospec.load(Ordering::SeqCst) {
                    let mut status = Status::error(
                        201,
                        "ROSpecStartTrigger: this reader cannot start ROSpecs that way",
                    );
                    status.field_error = Some((0, 1));
                    Message::Response {
                        kind: kind::ADD_ROSPEC_RESPONSE,
                        status,
                    }
                } else {
                    if let Some(report) = spec.report {
                        self.report_n = report.n;
                    }
                    *self.controls.rospec.lock().expect("not poisoned") = Some(*spec);
                    ok(kind::ADD_ROSPEC_RESPONSE)
                };
                self.send(response, id).await?;
            }
            Message::EnableRospec(_) => {
                let immediate = self
                    .controls
                    .rospec
                    .lock()
                    .expect("not poisoned")
                    .as_ref()
                    .is_some_and(|s| s.start == StartTrigger::Immediate);
                if immediate {
                    self.start_running();
                }
                self.send(ok(kind::ENABLE_ROSPEC_RESPONSE), id).await?;
            }
            Message::StartRospec(_) | Message::StopRospec(_) | Message::DisableRospec(_) => {
                let start = matches!(message, Message::StartRospec(_));
                let exists = self.controls.rospec.lock().expect("not poisoned").is_some();
                let response_kind = kind::response_to(frame.kind).expect("a request");
                if !exists {
                    let status = Status::error(100, "no such ROSpec");
                    self.send(
                        Message::Response {
                            kind: response_kind,
                            status,
                        },
                        id,
                    )
                    .await?;
                } else {
                    if start {
                        self.start_running();
                    } else {
                        self.controls.running.store(false, Ordering::SeqCst);
                    }
                    self.send(ok(response_kind), id).await?;
                }
            }
            Message::Other { kind: 2, .. } => {
                // GET_READER_CONFIG: nothing configured beyond the defaults to report.
                let response = Message::Response {
                    kind: 12,
                    status: Status::success(),
                };
                self.send(response, id).await?;
            }
            Message::KeepaliveAck => {
                self.stats.keepalive_acks.fetch_add(1, Ordering::Relaxed);
            }
            Message::CloseConnection => {
                self.send(ok(kind::CLOSE_CONNECTION_RESPONSE), id).await?;
                return Ok(false);
            }
            other => {
                let status = Status::error(
                    109,
                    format!("{} is not supported here", kind::name(other.kind())),
                );
                self.send(Message::ErrorMessage(status), id).await?;
            }
        }
        Ok(true)
    }

    fn start_running(&mut self) {
        self.controls.running.store(true, Ordering::SeqCst);
        self.script_start.get_or_insert_with(Instant::now);
    }

    /// One report tick: every tag in a zone now, N per RO_ACCESS_REPORT.
    async fn report(&mut self) -> Result<(), ()> {
        let start = *self.script_start.get_or_insert_with(Instant::now);
        let t = start.elapsed();
        {
            let mut extra = self.controls.extra.lock().expect("not poisoned");
            while let Some(mut pass) = extra.pop_front() {
                pass.after += t;
                self.added.push(pass);
            }
        }
        let now = now_us();
        let mut sightings = script_at(&self.config.script, self.config.repeat_every, t);
        for pass in &self.added {
            sightings.extend(
                pass.active(t)
                    .map(|(leg, through)| (pass.epc.clone(), *leg, through)),
            );
        }
        let mut tags = Vec::with_capacity(sightings.len());
        for (epc, leg, through) in sightings {
            // A tag carried past an antenna: 12 dB weaker at the edges of its field.
            let rssi = leg.peak_dbm - 12.0 * (2.0 * through - 1.0).abs();
            tags.push(TagReport {
                epc_bits: (epc.len() * 8) as u16,
                epc: Bytes::from(epc),
                rospec_id: Some(1),
                antenna: Some(leg.antenna),
                peak_rssi: Some(rssi.round().clamp(-128.0, 127.0) as i8),
                channel: Some(1),
                first_seen_utc_us: Some(now),
                seen_count: Some(1),
                impinj_peak_rssi: Some((rssi * 100.0).round() as i16),
            });
        }
        self.added.retain(|p| p.end() > t);
        self.stats.quiet.store(tags.is_empty(), Ordering::SeqCst);
        if tags.is_empty() {
            return Ok(());
        }
        let per = if self.report_n == 0 {
            tags.len()
        } else {
            usize::from(self.report_n)
        };
        for chunk in tags.chunks(per.max(1)) {
            self.stats
                .tags_sent
                .fetch_add(chunk.len() as u64, Ordering::Relaxed);
            self.stats.reports_sent.fetch_add(1, Ordering::Relaxed);
            self.send(Message::RoAccessReport(chunk.to_vec()), None)
                .await?;
        }
        Ok(())
    }
}

/// Every (EPC, leg, how far through it) of `script` at `t` since it started. Each replay
/// round is the script shifted by `repeat_every`, with serials advanced by the round number;
/// a pass longer than what is left of its round goes on into the next one, so the previous
/// round is looked at too.
fn script_at(
    script: &[TagPass],
    repeat_every: Option<Duration>,
    t: Duration,
) -> Vec<(Vec<u8>, Leg, f32)> {
    let rounds: Vec<(Duration, u64)> = match repeat_every {
        Some(every) if !every.is_zero() => {
            let n = (t.as_nanos() / every.as_nanos()) as u64;
            let current = (t - every * n as u32, n);
            match n.checked_sub(1) {
                Some(previous) => vec![current, (current.0 + every, previous)],
                None => vec![current],
            }
        }
        _ => vec![(t, 0)],
    };
    let mut out = Vec::new();
    for (at, round) in rounds {
        for pass in script {
            for (leg, through) in pass.active(at) {
                let mut epc = pass.epc.clone();
                bump_serial(&mut epc, round);
                out.push((epc, *leg, through));
            }
        }
    }
    out
}

/// Adds `round` to the low 38 bits of an SGTIN-96's serial (a new pallet each round).
fn bump_serial(epc: &mut [u8], round: u64) {
    if round == 0 || epc.len() != 12 {
        return;
    }
    let mut value = u128::from_be_bytes({
        let mut b = [0u8; 16];
        b[4..].copy_from_slice(epc);
        b
    });
    let serial = (value & 0x3F_FFFF_FFFF) as u64;
    value = (value & !0x3F_FFFF_FFFFu128) | u128::from(serial.wrapping_add(round) & 0x3F_FFFF_FFFF);
    epc.copy_from_slice(&value.to_be_bytes()[4..]);
}

/// A tag carried through a two-antenna gate: seen on `from`, then on `to`, a second apart
/// with a short overlap, as a pallet through a dock door.
pub fn gate_pass(epc: Vec<u8>, after: Duration, from: u16, to: u16) -> TagPass {
    TagPass {
        epc,
        after,
        legs: vec![
            Leg {
                antenna: from,
                dwell: Duration::from_millis(1200),
                peak_dbm: -45.0,
            },
            Leg {
                antenna: to,
                dwell: Duration::from_millis(1200),
                peak_dbm: -45.0,
            },
        ],
        overlap: Duration::from_millis(300),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pass_longer_than_its_round_goes_on_into_the_next() {
        let pass = gate_pass(sgtin96(1, 614_141, 812_345, 10), Duration::ZERO, 2, 1);
        let every = Some(Duration::from_millis(1500));
        // 1.8 s: round 0's pass is on its second antenna, round 1's has begun on the first.
        let got = script_at(
            std::slice::from_ref(&pass),
            every,
            Duration::from_millis(1800),
        );
        let mut seen: Vec<(Vec<u8>, u16)> = got
            .into_iter()
            .map(|(epc, leg, _)| (epc, leg.antenna))
            .collect();
        seen.sort();
        assert_eq!(
            seen,
            [
                (sgtin96(1, 614_141, 812_345, 10), 1),
                (sgtin96(1, 614_141, 812_345, 11), 2)
            ]
        );
    }

    #[test]
    fn sgtin96_matches_the_tag_data_standard_example() {
        // EPC TDS: urn:epc:id:sgtin:0614141.812345.6789, filter 3 = 3074257BF7194E4000001A85.
        assert_eq!(
            sgtin96(3, 614_141, 812_345, 6789),
            [
                0x30, 0x74, 0x25, 0x7B, 0xF7, 0x19, 0x4E, 0x40, 0x00, 0x00, 0x1A, 0x85
            ]
        );
        let mut epc = sgtin96(3, 614_141, 812_345, 6789);
        bump_serial(&mut epc, 2);
        assert_eq!(epc, sgtin96(3, 614_141, 812_345, 6791));
    }

    #[test]
    fn a_pass_is_in_each_zone_in_turn_and_in_both_while_they_overlap() {
        let pass = gate_pass(vec![0; 12], Duration::from_secs(1), 2, 1);
        let at = |ms| {
            pass.active(Duration::from_millis(ms))
                .map(|(l, _)| l.antenna)
                .collect::<Vec<_>>()
        };
        assert_eq!(at(500), Vec::<u16>::new());
        assert_eq!(at(1100), vec![2]);
        assert_eq!(at(2000), vec![2, 1]);
        assert_eq!(at(2500), vec![1]);
        assert_eq!(at(3200), Vec::<u16>::new());
        assert_eq!(pass.end(), Duration::from_millis(3100));
    }
}
