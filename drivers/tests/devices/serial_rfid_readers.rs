//! The serial RFID drivers against their simulators on pseudo-terminals — the code path of a
//! module on /dev/ttyUSB0 — byte for byte: an R2000 module's inventory over several antennas
//! (one with nothing connected), noise between frames and answers a byte at a time, a module
//! that falls silent mid-inventory (reported down, reconnected when it answers again); an LF
//! stick reader sending every documented format, damaged frames and codes to refuse.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracegate_drivers::backoff::Reconnect;
use tracegate_drivers::command::Commands;
use tracegate_drivers::rfid::lf::LfReader;
use tracegate_drivers::rfid::r2000::{R2000Module, R2000Settings};
use tracegate_drivers::serial::SerialSettings;
use tracegate_drivers::sim::lf::{LfFormat, SimStick, wire};
use tracegate_drivers::sim::{SimModule, SimModuleConfig, SimTag};
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

fn quick() -> Reconnect {
    Reconnect::new(Duration::from_millis(20), Duration::from_millis(100))
}

fn tag(epc: u8, antenna: u8) -> SimTag {
    let mut bytes = vec![0x30, 0x14, 0x25, 0x7B, 0xF7, 0x19, 0x4E, 0x40, 0, 0, 0];
    bytes.push(epc);
    SimTag {
        epc: bytes,
        antenna,
        from: Duration::ZERO,
        until: Duration::from_secs(3600),
        rssi: 0x62,
    }
}

fn module_settings(antennas: Vec<u8>) -> R2000Settings {
    R2000Settings {
        antennas,
        tx_power_dbm: Some(27),
        answer_timeout_ms: 300,
        round_pause_ms: 0,
        ..R2000Settings::default()
    }
}

fn run_module(
    path: &std::path::Path,
    settings: R2000Settings,
) -> (mpsc::Receiver<DeviceEvent>, CancellationToken) {
    let mut serial = SerialSettings::new(path.to_string_lossy());
    serial.baud = 115200;
    let driver = R2000Module::new(Arc::from("uhf"), serial, settings).with_reconnect(quick());
    let (tx, rx) = mpsc::channel(256);
    let cancel = CancellationToken::new();
    tokio::spawn(driver.run(tx, Commands::none(), cancel.clone()));
    (rx, cancel)
}

#[tokio::test]
async fn an_r2000_inventory_cycles_the_antennas_and_reports_each_tag_with_antenna_and_rssi() {
    let sim = SimModule::start(
        SimModuleConfig {
            antennas: BTreeSet::from([1, 2]),
            tags: vec![tag(1, 1), tag(2, 2), tag(3, 2)],
            ..SimModuleConfig::default()
        },
        None,
    )
    .unwrap();
    let (mut rx, cancel) = run_module(&sim.path, module_settings(vec![1, 2, 3]));
    wait_state(&mut rx, DeviceState::Up).await;
    let mut seen = BTreeSet::new();
    let mut missing = 0;
    while seen.len() < 3 || missing == 0 {
        match next_item(&mut rx).await {
            Ok(read) => {
                let epc = String::from_utf8(read.payload.to_vec()).unwrap();
                assert_eq!(read.meta.rssi_dbm, Some(-31.0));
                let antenna = read.meta.antenna.unwrap();
                let want = if epc.ends_with("01") { 1 } else { 2 };
                assert_eq!(antenna, want, "{epc}");
                assert!(epc.starts_with("3014257BF7194E40"), "{epc}");
                seen.insert(epc);
            }
            Err(message) => {
                assert!(
                    message.contains("antenna 3") && message.contains("antenna missing"),
                    "{message}"
                );
                missing += 1;
            }
        }
    }
    cancel.cancel();
}

#[tokio::test]
async fn noise_between_frames_and_bytewise_answers_lose_no_tag() {
    let sim = SimModule::start(
        SimModuleConfig {
            tags: vec![tag(7, 1)],
            noise: vec![0x00, 0x55, 0xA0, 0x01],
            bytewise: true,
            ..SimModuleConfig::default()
        },
        None,
    )
    .unwrap();
    let (mut rx, cancel) = run_module(&sim.path, module_settings(vec![1]));
    wait_state(&mut rx, DeviceState::Up).await;
    let (mut reads, mut noise) = (0, 0);
    while reads < 5 {
        match next_item(&mut rx).await {
            Ok(read) => {
                assert!(read.payload.ends_with(b"07"));
                reads += 1;
            }
            Err(message) => {
                assert!(message.contains("noise"), "{message}");
                noise += 1;
            }
        }
    }
    assert!(noise > 0, "the noise was reported");
    cancel.cancel();
}

#[tokio::test]
async fn a_module_silent_mid_inventory_is_reported_down_and_read_again_once_it_answers() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("ttyUSB-uhf");
    let hung = SimModule::start(
        SimModuleConfig {
            tags: vec![tag(9, 1)],
            silent_after_rounds: Some(2),
            ..SimModuleConfig::default()
        },
        Some(&link),
    )
    .unwrap();
    let (mut rx, cancel) = run_module(&link, module_settings(vec![1]));
    wait_state(&mut rx, DeviceState::Up).await;
    let detail = wait_state(&mut rx, DeviceState::Down).await.unwrap();
    assert!(
        detail.contains("stopped answering") && detail.contains("mid-inventory"),
        "{detail}"
    );
    // Power-cycled: a module that answers again on the same path.
    drop(hung);
    let _fresh = SimModule::start(
        SimModuleConfig {
            tags: vec![tag(9, 1)],
            ..SimModuleConfig::default()
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
async fn a_refused_power_setting_is_the_reason_the_module_is_down() {
    let sim = SimModule::start(SimModuleConfig::default(), None).unwrap();
    let mut settings = module_settings(vec![1]);
    settings.tx_power_dbm = Some(34); // past what validate() lets through, so the module says it
    let (mut rx, cancel) = run_module(&sim.path, settings);
    let detail = wait_state(&mut rx, DeviceState::Down).await.unwrap();
    assert!(detail.contains("tx_power_dbm = 34"), "{detail}");
    cancel.cancel();
}

#[tokio::test]
async fn an_lf_stick_in_every_format_gives_the_same_code_and_refuses_what_is_not_one() {
    let stick = SimStick::start(None).unwrap();
    let serial = SerialSettings::new(stick.path.to_string_lossy());
    let driver = LfReader::new(Arc::from("stick"), serial).with_reconnect(quick());
    let (tx, mut rx) = mpsc::channel(64);
    let cancel = CancellationToken::new();
    tokio::spawn(driver.run(tx, Commands::none(), cancel.clone()));
    wait_state(&mut rx, DeviceState::Up).await;
    for format in LfFormat::ALL {
        stick.send(wire(format, 982, 255_895)).await;
        let read = next_item(&mut rx)
            .await
            .unwrap_or_else(|e| panic!("{format:?}: {e}"));
        assert_eq!(read.payload, "982000000255895", "{format:?}");
    }
    // A damaged WL-134 frame, an HDX industrial tag: refused with the reason.
    let mut damaged = wire(LfFormat::Wl134, 982, 255_895);
    damaged[3] = b'F';
    stick.send(damaged).await;
    assert!(next_item(&mut rx).await.unwrap_err().contains("checksum"));
    stick.send(b"LR 0006 0000000018514243\r\n".to_vec()).await;
    assert!(
        next_item(&mut rx)
            .await
            .unwrap_err()
            .contains("HDX industrial")
    );
    // An unassigned country is the identifier layer's to refuse: the driver passes the code.
    stick.send(wire(LfFormat::Allflex, 111, 42)).await;
    assert_eq!(next_item(&mut rx).await.unwrap().payload, "111000000000042");
    // Split across writes: one read.
    let bytes = wire(LfFormat::Spaced, 156, 7);
    stick.send(bytes[..5].to_vec()).await;
    stick.send(bytes[5..].to_vec()).await;
    assert_eq!(next_item(&mut rx).await.unwrap().payload, "156000000000007");
    cancel.cancel();
}
