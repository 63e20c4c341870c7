//! A simulated Chafon / UHFReader18 reader on a pty: it answers the commands of
//! [`crate::rfid::chafon`] byte for byte as the manual lays them out — Get Reader
//! Information from its (simulated) EEPROM; Set Power (`0xFF` parameter error above 30 dBm),
//! Set Region (`0xFF` for channels outside the band) and Set Scan Time (below 3 units: the
//! factory 10, as §8.4.4 says), each counted as an EEPROM write; Inventory answered after the
//! round time with the EPCs in view, split over frames of `tags_per_frame` with status `0x03`
//! (more data) and the last `0x01`, or `0xFB` for an empty field; reCmd `0x00` with status
//! `0xFE` for a command it does not know — and ignores frames with a bad CRC, as a reader does.
//!
//! The tags are a script as for the R2000 simulator ([`super::r2000::SimTag`], antenna 1).
//! Faults for the tests: line noise before each answer, answers written a byte at a time,
//! falling silent mid-round after a given number of inventories.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::time::Instant;
use tokio_util::codec::Framed;
use tokio_util::sync::CancellationToken;

use super::VirtualSerialPort;
use super::r2000::{SimTag, script_time, write_with_faults};
use crate::rfid::chafon::frame::{ChafonItem, ReaderCodec, Response};
use crate::rfid::chafon::message::{
    ILLEGAL_COMMAND, INVENTORY_DONE, InventoryFrame, MORE_DATA, NO_TAG, PARAMETER_ERROR,
    ReaderInfo, Region, Request, SUCCESS,
};

/// How the simulated reader behaves.
#[derive(Debug, Clone)]
pub struct SimChafonConfig {
    /// Its address (commands to another address, other than 255, are ignored).
    pub address: u8,
    /// What Get Reader Information answers at start (version, type, power, region, scan time).
    pub info: ReaderInfo,
    /// The tags (antenna 1 sees them all).
    pub tags: Vec<SimTag>,
    /// Repeat the script this often.
    pub repeat_every: Option<Duration>,
    /// How long an inventory takes (a real reader: up to its scan time).
    pub round_time: Duration,
    /// Most EPCs in one inventory frame before the next is sent with status 0x03.
    pub tags_per_frame: usize,
    /// Noise bytes written before every answer.
    pub noise: Vec<u8>,
    /// Write answers one byte at a time.
    pub bytewise: bool,
    /// After this many inventories, send the first frame of the next (with status 0x03 if it
    /// has tags) and fall silent.
    pub silent_after_rounds: Option<u64>,
}

impl Default for SimChafonConfig {
    fn default() -> Self {
        SimChafonConfig {
            address: 0,
            info: ReaderInfo {
                version: (2, 36),
                reader_type: 0x09,
                protocols: 0b10,
                // US band, channels 0-49 (the factory setting of the US-market readers).
                max_fre: Region::whole(crate::rfid::chafon::Band::Us).to_bytes()[0],
                min_fre: Region::whole(crate::rfid::chafon::Band::Us).to_bytes()[1],
                power: 30,
                scan_time: 10,
            },
            tags: Vec::new(),
            repeat_every: None,
            round_time: Duration::from_millis(5),
            tags_per_frame: 4,
            noise: Vec::new(),
            bytewise: false,
            silent_after_rounds: None,
        }
    }
}

/// What the simulator saw, for tests.
#[derive(Debug, Default)]
pub struct SimChafonStats {
    /// Inventories answered.
    pub rounds: AtomicU64,
    /// EPCs sent.
    pub epcs: AtomicU64,
    /// Settings written to the (simulated) EEPROM.
    pub eeprom_writes: AtomicU64,
    /// Commands ignored for a bad CRC.
    pub bad_crcs: AtomicU64,
}

/// A running simulated reader.
#[derive(Debug)]
pub struct SimChafon {
    /// The path a driver opens.
    pub path: std::path::PathBuf,
    /// Counters.
    pub stats: Arc<SimChafonStats>,
    cancel: CancellationToken,
}

impl Drop for SimChafon {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

impl SimChafon {
    /// Starts a reader on a new pty (reached through `link` when given).
    pub fn start(config: SimChafonConfig, link: Option<&std::path::Path>) -> io::Result<SimChafon> {
        let port = match link {
            Some(link) => VirtualSerialPort::with_link(link)?,
            None => VirtualSerialPort::new()?,
        };
        let path = port.path().to_path_buf();
        let stats = Arc::new(SimChafonStats::default());
        let cancel = CancellationToken::new();
        tokio::spawn(serve(port, config, stats.clone(), cancel.clone()));
        Ok(SimChafon {
            path,
            stats,
            cancel,
        })
    }
}

/// The answer to a setting: success (and the EEPROM written) or a parameter error.
fn set(stats: &SimChafonStats, ok: bool, apply: impl FnOnce()) -> u8 {
    if !ok {
        return PARAMETER_ERROR;
    }
    apply();
    stats.eeprom_writes.fetch_add(1, Ordering::Relaxed);
    SUCCESS
}

/// The inventory frames for the EPCs in view: chunks with status 0x03, the last 0x01.
fn inventory_frames(epcs: Vec<Bytes>, per_frame: usize) -> Vec<InventoryFrame> {
    let chunks: Vec<Vec<Bytes>> = epcs
        .chunks(per_frame.max(1))
        .map(<[Bytes]>::to_vec)
        .collect();
    let last = chunks.len().saturating_sub(1);
    chunks
        .into_iter()
        .enumerate()
        .map(|(n, epcs)| InventoryFrame {
            status: if n == last { INVENTORY_DONE } else { MORE_DATA },
            epcs,
        })
        .collect()
}

async fn serve(
    mut port: VirtualSerialPort,
    config: SimChafonConfig,
    stats: Arc<SimChafonStats>,
    cancel: CancellationToken,
) {
    let start = Instant::now();
    let mut info = config.info;
    let mut frames = Framed::new(port.master(), ReaderCodec);
    loop {
        let item = tokio::select! {
            _ = cancel.cancelled() => return,
            item = frames.next() => item,
        };
        let command = match item {
            Some(Ok(ChafonItem::Frame(command))) => command,
            Some(Ok(ChafonItem::BadCrc { .. })) => {
                stats.bad_crcs.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            Some(Ok(ChafonItem::Noise { .. })) => continue,
            // No host has the line open (a pty master reads EIO): wait for the next one.
            Some(Err(_)) | None => {
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_millis(10)) => {}
                }
                frames = Framed::new(frames.into_inner(), ReaderCodec);
                continue;
            }
        };
        if command.address != config.address && command.address != 0xFF {
            continue;
        }
        let answer = |status: u8, data: Vec<u8>| {
            Response::new(config.address, command.command, status, data)
        };
        let mut answers = Vec::new();
        match Request::parse(&command) {
            Some(Request::GetReaderInfo) => answers.push(answer(SUCCESS, info.to_data())),
            Some(Request::SetPower(dbm)) => {
                answers.push(answer(set(&stats, dbm <= 30, || info.power = dbm), vec![]))
            }
            Some(Request::SetRegion(r)) => {
                let ok = r.min <= r.max && r.max <= r.band.last_channel();
                let [max, min] = r.to_bytes();
                let status = set(&stats, ok, || {
                    info.max_fre = max;
                    info.min_fre = min;
                });
                answers.push(answer(status, vec![]));
            }
            Some(Request::SetScanTime(units)) => {
                let units = if units < 3 { 10 } else { units };
                answers.push(answer(set(&stats, true, || info.scan_time = units), vec![]));
            }
            Some(Request::Inventory) => {
                let round = stats.rounds.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(config.round_time).await;
                let t = script_time(start, config.repeat_every);
                let epcs: Vec<Bytes> = config
                    .tags
                    .iter()
                    .filter(|tag| tag.in_view(t))
                    .map(|tag| Bytes::from(tag.epc.clone()))
                    .collect();
                let mut frames_out = inventory_frames(epcs, config.tags_per_frame);
                if config.silent_after_rounds.is_some_and(|n| round >= n) {
                    // The first frame of the round (marked "more"), then silence: a hung reader.
                    if let Some(mut first) = frames_out.into_iter().next() {
                        first.status = MORE_DATA;
                        let bytes = answer(first.status, first.to_data()).to_bytes();
                        let _ = write_with_faults(
                            frames.get_mut(),
                            &config.noise,
                            config.bytewise,
                            &bytes,
                        )
                        .await;
                    }
                    cancel.cancelled().await;
                    return;
                }
                if frames_out.is_empty() {
                    answers.push(answer(NO_TAG, vec![]));
                }
                for frame in frames_out.drain(..) {
                    stats
                        .epcs
                        .fetch_add(frame.epcs.len() as u64, Ordering::Relaxed);
                    answers.push(answer(frame.status, frame.to_data()));
                }
            }
            None => answers.push(Response::new(config.address, 0x00, ILLEGAL_COMMAND, vec![])),
        }
        for answer in &answers {
            let bytes = answer.to_bytes();
            if write_with_faults(frames.get_mut(), &config.noise, config.bytewise, &bytes)
                .await
                .is_err()
            {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_round_is_split_into_frames_marked_more_but_the_last() {
        let epcs: Vec<Bytes> = (0..9u8).map(|n| Bytes::from(vec![n; 12])).collect();
        let frames = inventory_frames(epcs, 4);
        let statuses: Vec<u8> = frames.iter().map(|f| f.status).collect();
        assert_eq!(statuses, [MORE_DATA, MORE_DATA, INVENTORY_DONE]);
        assert_eq!(frames[2].epcs.len(), 1);
        assert!(inventory_frames(Vec::new(), 4).is_empty());
    }
}
