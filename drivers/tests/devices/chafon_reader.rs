//! The Chafon driver against its simulator on a pseudo-terminal — the code path of a reader
//! on /dev/ttyUSB0 — byte for byte: a round of more EPCs than one frame holds (status 0x03
//! "more data" frames), the reader's EEPROM settings written once and not again at the next
//! connect, an empty field that is no error, noise between frames and answers a byte at a
//! time, a reader that falls silent mid-round (reported down, reconnected when it answers
//! again), a setting the reader refuses.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracegate_drivers::backoff::Reconnect;
use tracegate_drivers::command::Commands;
use tracegate_drivers::rfid::chafon::{Band, ChafonReader, ChafonSettings, DEFAULT_BAUD};
use tracegate_drivers::serial::SerialSettings;
use tracegate_drivers::sim::{SimChafon, SimChafonConfig, SimTag};
use tracegate_drivers::{DeviceEvent, DeviceState, RawRead};

use crate::support::{next_event, wait_state};

/// The next read or frame error, state changes skipped.
async fn next_item(rx: &mut mpsc::Receiver<DeviceEvent>) -> Result<RawRead, String> {
    loop {
        match next_event(rx).await {
            DeviceEvent::Read(read) => return Ok(read),
            DeviceEvent::FrameError { message, .. } => return Err(message),
            _ => {}
        }
    }
}

fn tag(n: u8) -> SimTag {
    let mut epc = vec![0x30, 0x14, 0x25, 0x7B, 0xF7, 0x19, 0x4E, 0x40, 0, 0, 0];
    epc.push(n);
    SimTag {
        epc,
        antenna: 1,
        from: Duration::ZERO,
        until: Duration::from_secs(3600),
        rssi: 0,
    }
}

fn settings() -> ChafonSettings {
    ChafonSettings {
        tx_power_dbm: Some(26),
        region: Some(Band::China2),
        answer_timeout_ms: 300,
        round_pause_ms: 0,
        ..ChafonSettings::default()
    }
}

fn run_reader(
    path: &std::path::Path,
    settings: ChafonSettings,
) -> (mpsc::Receiver<DeviceEvent>, CancellationToken) {
    let mut serial = SerialSettings::new(path.to_string_lossy());
    serial.baud = DEFAULT_BAUD;
    let driver = ChafonReader::new(Arc::from("chafon"), serial, settings).with_reconnect(
        Reconnect::new(Duration::from_millis(20), Duration::from_millis(100)),
    );
    let (tx, rx) = mpsc::channel(256);
    let cancel = CancellationToken::new();
    tokio::spawn(driver.run(tx, Commands::none(), cancel.clone()));
    (rx, cancel)
}

/// Reads until `want` different EPCs have been seen, asserting no error comes unless
/// `stale_ok` (a new session may first meet the answer to the last one's final inventory,
/// still in the line: reported as unexpected and skipped).
async fn read_all(
    rx: &mut mpsc::Receiver<DeviceEvent>,
    want: usize,
    stale_ok: bool,
) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    while seen.len() < want {
        let read = match next_item(rx).await {
            Ok(read) => read,
            Err(message) if stale_ok && message.contains("unexpected answer") => continue,
            Err(message) => panic!("reported: {message}"),
        };
        assert_eq!(read.meta.antenna, Some(1));
        assert_eq!(read.meta.rssi_dbm, None);
        let epc = String::from_utf8(read.payload.to_vec()).unwrap();
        assert!(epc.starts_with("3014257BF7194E40"), "{epc}");
        seen.insert(epc);
    }
    seen
}

#[tokio::test]
async fn a_round_over_several_frames_reports_every_epc_and_settings_are_written_once() {
    let sim = SimChafon::start(
        SimChafonConfig {
            tags: (1..=9).map(tag).collect(),
            tags_per_frame: 4,
            ..SimChafonConfig::default()
        },
        None,
    )
    .unwrap();
    let (mut rx, cancel) = run_reader(&sim.path, settings());
    wait_state(&mut rx, DeviceState::Up).await;
    let seen = read_all(&mut rx, 9, false).await;
    assert!(seen.contains("3014257BF7194E4000000009"), "{seen:?}");
    // Power 30 → 26 and US → China band 2: two EEPROM writes.
    assert_eq!(sim.stats.eeprom_writes.load(Ordering::Relaxed), 2);
    cancel.cancel();
    // The next connect finds the reader already so: nothing is written again.
    let (mut rx, cancel) = run_reader(&sim.path, settings());
    wait_state(&mut rx, DeviceState::Up).await;
    read_all(&mut rx, 9, true).await;
    assert_eq!(sim.stats.eeprom_writes.load(Ordering::Relaxed), 2);
    cancel.cancel();
}

#[tokio::test]
async fn an_empty_field_is_no_error() {
    let sim = SimChafon::start(SimChafonConfig::default(), None).unwrap();
    let (mut rx, cancel) = run_reader(&sim.path, settings());
    wait_state(&mut rx, DeviceState::Up).await;
    // Every round answers 0xFB (no tag); wait, with a deadline, for a few of them on the
    // simulator's count (checked each time the driver has had a turn).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while sim.stats.rounds.load(Ordering::Relaxed) < 5 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "five rounds within 10 s"
        );
        match rx.try_recv() {
            Ok(DeviceEvent::FrameError { message, .. }) => panic!("reported: {message}"),
            Ok(DeviceEvent::Read(read)) => panic!("read from an empty field: {read:?}"),
            Ok(_) | Err(mpsc::error::TryRecvError::Empty) => tokio::task::yield_now().await,
            Err(mpsc::error::TryRecvError::Disconnected) => panic!("driver gone"),
        }
    }
    while let Ok(event) = rx.try_recv() {
        assert!(
            !matches!(event, DeviceEvent::FrameError { .. } | DeviceEvent::Read(_)),
            "{event:?}"
        );
    }
    cancel.cancel();
}

#[tokio::test]
async fn noise_between_frames_and_bytewise_answers_lose_no_tag() {
    let sim = SimChafon::start(
        SimChafonConfig {
            tags: (1..=6).map(tag).collect(),
            noise: vec![0x00, 0x01, 0x02, 0x03],
            bytewise: true,
            ..SimChafonConfig::default()
        },
        None,
    )
    .unwrap();
    let (mut rx, cancel) = run_reader(&sim.path, settings());
    wait_state(&mut rx, DeviceState::Up).await;
    let (mut seen, mut noise) = (BTreeSet::new(), 0);
    while seen.len() < 6 || noise == 0 {
        match next_item(&mut rx).await {
            Ok(read) => {
                seen.insert(read.payload);
            }
            Err(message) => {
                assert!(message.contains("noise"), "{message}");
                noise += 1;
            }
        }
    }
    cancel.cancel();
}

#[tokio::test]
async fn a_reader_silent_mid_round_is_reported_down_and_read_again_once_it_answers() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("ttyUSB-chafon");
    let hung = SimChafon::start(
        SimChafonConfig {
            tags: vec![tag(9)],
            silent_after_rounds: Some(2),
            ..SimChafonConfig::default()
        },
        Some(&link),
    )
    .unwrap();
    let (mut rx, cancel) = run_reader(&link, settings());
    wait_state(&mut rx, DeviceState::Up).await;
    let detail = wait_state(&mut rx, DeviceState::Down).await.unwrap();
    assert!(
        detail.contains("stopped answering") && detail.contains("mid-inventory"),
        "{detail}"
    );
    drop(hung);
    let _fresh = SimChafon::start(
        SimChafonConfig {
            tags: vec![tag(9)],
            ..SimChafonConfig::default()
        },
        Some(&link),
    )
    .unwrap();
    wait_state(&mut rx, DeviceState::Up).await;
    let read = loop {
        if let Ok(read) = next_item(&mut rx).await {
            break read;
        }
    };
    assert!(read.payload.ends_with(b"09"));
    cancel.cancel();
}

#[tokio::test]
async fn a_refused_setting_is_the_reason_the_reader_is_down() {
    let sim = SimChafon::start(SimChafonConfig::default(), None).unwrap();
    // Past the config's own check (which refuses it at load): what the reader says.
    let (mut rx, cancel) = run_reader(
        &sim.path,
        ChafonSettings {
            tx_power_dbm: Some(31),
            ..settings()
        },
    );
    let detail = wait_state(&mut rx, DeviceState::Down).await.unwrap();
    assert!(
        detail.contains("refused tx_power_dbm = 31 dBm")
            && detail.contains("out of the reader's range"),
        "{detail}"
    );
    cancel.cancel();
}
