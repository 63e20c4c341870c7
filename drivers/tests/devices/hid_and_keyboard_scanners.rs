//! The HID POS and keyboard-emulation scanner drivers against their simulators, through the
//! same transport interfaces hidraw and evdev implement: scans with symbology and GS, long
//! scans over several reports, every keyboard layout, bad input, and unplug / replug.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracegate_drivers::backoff::Reconnect;
use tracegate_drivers::command::Commands;
use tracegate_drivers::scanner::keymap::{KeyTerminator, Layout};
use tracegate_drivers::scanner::{HidScanner, KeyboardScanner, KeyboardScannerSettings};
use tracegate_drivers::sim::{SimHidScanner, SimKeyboardScanner};
use tracegate_drivers::{DeviceEvent, DeviceState, RawRead};

use crate::support::{next_event, wait_state};

fn quick() -> Reconnect {
    Reconnect::new(Duration::from_millis(20), Duration::from_millis(100))
}

async fn next_read(rx: &mut mpsc::Receiver<DeviceEvent>) -> RawRead {
    loop {
        match next_event(rx).await {
            DeviceEvent::Read(read) => return read,
            DeviceEvent::FrameError { message, .. } => panic!("unexpected error: {message}"),
            _ => {}
        }
    }
}

async fn next_error(rx: &mut mpsc::Receiver<DeviceEvent>) -> String {
    loop {
        match next_event(rx).await {
            DeviceEvent::FrameError { message, .. } => return message,
            DeviceEvent::Read(r) => panic!("unexpected read {:?}", r.payload),
            _ => {}
        }
    }
}

#[tokio::test]
async fn hid_pos_scans_arrive_with_their_symbology() {
    let scanner = SimHidScanner::new("handheld");
    let (tx, mut rx) = mpsc::channel(64);
    let cancel = CancellationToken::new();
    let driver = tokio::spawn(
        HidScanner::with_opener(Arc::from("hid1"), scanner.opener(), 4096)
            .with_reconnect(quick())
            .run(tx, Commands::none(), cancel.clone()),
    );
    wait_state(&mut rx, DeviceState::Up).await;

    assert!(scanner.scan(Some("]d2"), b"010950600013435217271231\x1d10ABC"));
    let read = next_read(&mut rx).await;
    assert_eq!(&read.payload[..], b"010950600013435217271231\x1d10ABC");
    assert_eq!(read.meta.symbology.as_deref(), Some("]d2"));

    // 300 bytes: six reports, one scan.
    let long: Vec<u8> = (0..300).map(|i| b'A' + (i % 26) as u8).collect();
    assert!(scanner.scan(Some("]Q1"), &long));
    assert_eq!(&next_read(&mut rx).await.payload[..], &long[..]);

    // A malformed report is reported; the next scan still works.
    let mut bad = vec![0x02, 60, b']', b'C', b'1'];
    bad.resize(64, 0);
    assert!(scanner.send_reports([bad]));
    assert!(next_error(&mut rx).await.contains("HID POS"));
    assert!(scanner.scan(None, b"NOAIM"));
    let read = next_read(&mut rx).await;
    assert_eq!(
        (&read.payload[..], read.meta.symbology),
        (&b"NOAIM"[..], None)
    );

    // Unplugged mid-scan: the partial scan is dropped (reported), the device is down, and it
    // comes back when plugged in.
    let first_half = tracegate_drivers::scanner::hidpos::encode_scan(Some("]d2"), &long, 0);
    assert!(scanner.send_reports([first_half[0].to_vec()]));
    scanner.unplug();
    assert!(
        next_error(&mut rx)
            .await
            .contains("incomplete frame of 56 bytes")
    );
    let why = wait_state(&mut rx, DeviceState::Down).await.unwrap();
    assert!(why.contains("unplugged"), "{why}");
    scanner.plug_in();
    wait_state(&mut rx, DeviceState::Up).await;
    assert!(scanner.scan(Some("]C1"), b"AFTER"));
    assert_eq!(&next_read(&mut rx).await.payload[..], b"AFTER");

    cancel.cancel();
    wait_state(&mut rx, DeviceState::Stopped).await;
    driver.await.unwrap();
}

#[tokio::test]
async fn a_missing_hid_scanner_is_down_not_fatal() {
    let scanner = SimHidScanner::new("absent");
    scanner.unplug();
    let (tx, mut rx) = mpsc::channel(64);
    let cancel = CancellationToken::new();
    let driver = tokio::spawn(
        HidScanner::with_opener(Arc::from("hid1"), scanner.opener(), 4096)
            .with_reconnect(quick())
            .run(tx, Commands::none(), cancel.clone()),
    );
    let why = wait_state(&mut rx, DeviceState::Down).await.unwrap();
    assert!(why.contains("not connected"), "{why}");
    scanner.plug_in();
    wait_state(&mut rx, DeviceState::Up).await;
    cancel.cancel();
    driver.await.unwrap();
}

#[tokio::test]
async fn keyboard_scans_on_every_layout() {
    for layout in [Layout::Us, Layout::Uk, Layout::De, Layout::Fr] {
        let scanner = SimKeyboardScanner::new(layout);
        let settings = KeyboardScannerSettings {
            path: "/dev/input/by-id/sim-event-kbd".into(),
            layout,
            terminator: KeyTerminator::Enter,
            grab: true,
            max_frame_len: 64,
        };
        let (tx, mut rx) = mpsc::channel(64);
        let cancel = CancellationToken::new();
        let driver = tokio::spawn(
            KeyboardScanner::with_opener(Arc::from("kbd"), scanner.opener(), &settings)
                .with_reconnect(quick())
                .run(tx, Commands::none(), cancel.clone()),
        );
        wait_state(&mut rx, DeviceState::Up).await;
        let code = b"]d20109506000134352\x1d10ABC-12/x";
        assert!(scanner.scan(code));
        assert_eq!(&next_read(&mut rx).await.payload[..], code, "{layout:?}");
        // Longer than max_frame_len: reported, then the next scan is fine.
        assert!(scanner.scan(&[b'9'; 100]));
        assert!(next_error(&mut rx).await.contains("max_frame_len = 64"));
        assert!(scanner.scan(b"OK"));
        assert_eq!(&next_read(&mut rx).await.payload[..], b"OK");
        // Unplugged and back.
        scanner.unplug();
        wait_state(&mut rx, DeviceState::Down).await;
        scanner.plug_in();
        wait_state(&mut rx, DeviceState::Up).await;
        assert!(scanner.scan(b"AFTER"));
        assert_eq!(&next_read(&mut rx).await.payload[..], b"AFTER");
        cancel.cancel();
        driver.await.unwrap();
    }
}
