//! A simulated R2000 module on a pty: it answers the commands of [`crate::rfid::r2000`] byte
//! for byte as the protocol document lays them out — firmware version, working antenna,
//! output power (error `0x48` out of range), real-time and session inventories (a tag frame
//! per tag in view of the working antenna, then the round's end; `0x22` antenna missing for a
//! port with nothing on it), `0x11` command failed for commands it does not know — and
//! ignores frames with a bad check, as a module does.
//!
//! The tag population is a script: each tag is in view of one antenna from one time to
//! another (relative to the module's start, optionally repeating), so a pallet or a herd
//! can pass. Faults for the tests: line noise before each answer, answers written a byte at
//! a time, and falling silent mid-inventory after a given number of rounds.

use std::collections::BTreeSet;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio::time::Instant;
use tokio_util::codec::Framed;
use tokio_util::sync::CancellationToken;

use super::VirtualSerialPort;
use crate::rfid::r2000::frame::{Frame, R2000Codec, R2000Item};
use crate::rfid::r2000::message::{ANTENNA_MISSING, COMMAND_SUCCESS, Request, TagRead};

/// One tag of the simulated population.
#[derive(Debug, Clone, PartialEq)]
pub struct SimTag {
    /// Its EPC.
    pub epc: Vec<u8>,
    /// The antenna port (1-4) that sees it.
    pub antenna: u8,
    /// In view from this long after the start (of each repetition).
    pub from: Duration,
    /// Until this long after it.
    pub until: Duration,
    /// The RSSI byte it is read with (dBm + 129).
    pub rssi: u8,
}

impl SimTag {
    /// Whether the tag is in view `t` into the script.
    pub fn in_view(&self, t: Duration) -> bool {
        self.from <= t && t < self.until
    }
}

/// How far into its script a simulator started at `start` is (the script repeating `every`).
pub(crate) fn script_time(start: Instant, every: Option<Duration>) -> Duration {
    let t = start.elapsed();
    match every.filter(|e| !e.is_zero()) {
        Some(every) => Duration::from_nanos((t.as_nanos() % every.as_nanos()) as u64),
        None => t,
    }
}

/// How the simulated module behaves.
#[derive(Debug, Clone)]
pub struct SimModuleConfig {
    /// Its address (frames to another address, other than 255, are ignored).
    pub address: u8,
    /// Firmware version it reports.
    pub firmware: (u8, u8),
    /// Ports with an antenna connected.
    pub antennas: BTreeSet<u8>,
    /// The tags.
    pub tags: Vec<SimTag>,
    /// Repeat the script this often.
    pub repeat_every: Option<Duration>,
    /// How long an inventory round takes before its summary (a real round: tens of ms).
    pub round_time: Duration,
    /// Noise bytes written before every answer.
    pub noise: Vec<u8>,
    /// Write answers one byte at a time.
    pub bytewise: bool,
    /// After this many inventory rounds, send one tag frame of the next round and fall silent.
    pub silent_after_rounds: Option<u64>,
}

impl Default for SimModuleConfig {
    fn default() -> Self {
        SimModuleConfig {
            address: 1,
            firmware: (8, 1),
            antennas: BTreeSet::from([1]),
            tags: Vec::new(),
            repeat_every: None,
            round_time: Duration::from_millis(5),
            noise: Vec::new(),
            bytewise: false,
            silent_after_rounds: None,
        }
    }
}

/// What the simulator saw, for tests.
#[derive(Debug, Default)]
pub struct SimModuleStats {
    /// Inventory rounds answered.
    pub rounds: AtomicU64,
    /// Tag frames sent.
    pub tag_frames: AtomicU64,
    /// Frames ignored for a bad check.
    pub bad_checks: AtomicU64,
}

/// A running simulated module.
#[derive(Debug)]
pub struct SimModule {
    /// The path a driver opens.
    pub path: std::path::PathBuf,
    /// Counters.
    pub stats: Arc<SimModuleStats>,
    cancel: CancellationToken,
}

impl Drop for SimModule {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

impl SimModule {
    /// Starts a module on a new pty (reached through `link` when given).
    pub fn start(config: SimModuleConfig, link: Option<&std::path::Path>) -> io::Result<SimModule> {
        let port = match link {
            Some(link) => VirtualSerialPort::with_link(link)?,
            None => VirtualSerialPort::new()?,
        };
        let path = port.path().to_path_buf();
        let stats = Arc::new(SimModuleStats::default());
        let cancel = CancellationToken::new();
        tokio::spawn(serve(port, config, stats.clone(), cancel.clone()));
        Ok(SimModule {
            path,
            stats,
            cancel,
        })
    }
}

/// The data of a tag frame for `tag`.
fn tag_data(tag: &SimTag, round: u64) -> Vec<u8> {
    let words = (tag.epc.len() / 2) as u16;
    TagRead {
        antenna: tag.antenna,
        // Hop through the first 50 channels of the table, as FCC-region modules do.
        frequency: (round % 50) as u8,
        pc: words << 11,
        epc: Bytes::from(tag.epc.clone()),
        rssi: tag.rssi,
    }
    .to_data()
}

async fn serve(
    mut port: VirtualSerialPort,
    config: SimModuleConfig,
    stats: Arc<SimModuleStats>,
    cancel: CancellationToken,
) {
    let start = Instant::now();
    let mut working: u8 = 0;
    let reply = |command: u8, data: Vec<u8>| Frame::new(config.address, command, data);
    let mut frames = Framed::new(port.master(), R2000Codec);
    loop {
        let item = tokio::select! {
            _ = cancel.cancelled() => return,
            item = frames.next() => item,
        };
        let frame = match item {
            Some(Ok(R2000Item::Frame(frame))) => frame,
            Some(Ok(R2000Item::BadCheck { .. })) => {
                stats.bad_checks.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            Some(Ok(R2000Item::Noise { .. })) => continue,
            // No host has the line open (before the driver opens it, or between its
            // reconnects, a pty master reads EIO): a module just waits for the next one.
            Some(Err(_)) | None => {
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_millis(10)) => {}
                }
                frames = Framed::new(frames.into_inner(), R2000Codec);
                continue;
            }
        };
        if frame.address != config.address && frame.address != 0xFF {
            continue;
        }
        let mut answers = Vec::new();
        match Request::parse(&frame) {
            Some(Request::GetFirmwareVersion) => answers.push(reply(
                frame.command,
                vec![config.firmware.0, config.firmware.1],
            )),
            Some(Request::SetWorkAntenna(a)) => {
                let code = if a <= 3 {
                    working = a;
                    COMMAND_SUCCESS
                } else {
                    0x47
                };
                answers.push(reply(frame.command, vec![code]));
            }
            Some(Request::SetOutputPower(dbm)) => {
                let code = if dbm <= 33 { COMMAND_SUCCESS } else { 0x48 };
                answers.push(reply(frame.command, vec![code]));
            }
            Some(Request::RealTimeInventory { .. } | Request::SessionTargetInventory { .. }) => {
                let round = stats.rounds.fetch_add(1, Ordering::Relaxed);
                let antenna = working + 1;
                tokio::time::sleep(config.round_time).await;
                if !config.antennas.contains(&antenna) {
                    answers.push(reply(frame.command, vec![working, ANTENNA_MISSING]));
                } else {
                    let t = script_time(start, config.repeat_every);
                    let in_view: Vec<&SimTag> = config
                        .tags
                        .iter()
                        .filter(|tag| tag.antenna == antenna && tag.in_view(t))
                        .collect();
                    if config.silent_after_rounds.is_some_and(|n| round >= n) {
                        // One tag frame (or nothing), then silence: a module that hung.
                        if let Some(tag) = in_view.first() {
                            let _ = write(
                                frames.get_mut(),
                                &config,
                                &reply(frame.command, tag_data(tag, round)),
                            )
                            .await;
                        }
                        cancel.cancelled().await;
                        return;
                    }
                    for tag in &in_view {
                        answers.push(reply(frame.command, tag_data(tag, round)));
                        stats.tag_frames.fetch_add(1, Ordering::Relaxed);
                    }
                    let total = in_view.len() as u32;
                    let rate =
                        (f64::from(total) / config.round_time.as_secs_f64().max(1e-3)) as u16;
                    let mut end = vec![working];
                    end.extend(rate.to_be_bytes());
                    end.extend(total.to_be_bytes());
                    answers.push(reply(frame.command, end));
                }
            }
            None => answers.push(reply(frame.command, vec![0x11])),
        }
        for answer in &answers {
            if write(frames.get_mut(), &config, answer).await.is_err() {
                return;
            }
        }
    }
}

async fn write(
    writer: &mut (impl AsyncWriteExt + Unpin),
    config: &SimModuleConfig,
    frame: &Frame,
) -> io::Result<()> {
    write_with_faults(writer, &config.noise, config.bytewise, &frame.to_bytes()).await
}

/// Writes `frame` after `noise`, a byte at a time when `bytewise` (the line faults the
/// serial simulators can put on their answers).
pub(crate) async fn write_with_faults(
    writer: &mut (impl AsyncWriteExt + Unpin),
    noise: &[u8],
    bytewise: bool,
    frame: &[u8],
) -> io::Result<()> {
    let mut bytes = noise.to_vec();
    bytes.extend_from_slice(frame);
    if bytewise {
        for b in bytes {
            writer.write_all(&[b]).await?;
            writer.flush().await?;
        }
        Ok(())
    } else {
        writer.write_all(&bytes).await
    }
}
