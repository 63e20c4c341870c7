//! The serial scanner driver against a simulated scanner on a pseudo-terminal: the same code
//! path as a scanner on /dev/ttyACM0.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracegate_drivers::scanner::{FrameSettings, SerialScanner, SerialScannerSettings};
use tracegate_drivers::serial::SerialSettings;
use tracegate_drivers::sim::{ScannerSim, SimFrame, VirtualSerialPort};
use tracegate_drivers::{DeviceEvent, DeviceState};

async fn next_event(rx: &mut mpsc::Receiver<DeviceEvent>) -> DeviceEvent {
    tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("driver event within 5 s")
        .expect("driver channel open")
}

async fn next_read(rx: &mut mpsc::Receiver<DeviceEvent>) -> Vec<u8> {
    loop {
        if let DeviceEvent::Read(read) = next_event(rx).await {
            return read.payload.to_vec();
        }
    }
}

async fn wait_state(rx: &mut mpsc::Receiver<DeviceEvent>, want: DeviceState) {
    loop {
        if let DeviceEvent::State { state, .. } = next_event(rx).await
            && state == want
        {
            return;
        }
    }
}

#[tokio::test]
async fn reads_frames_written_to_the_pty() {
    let mut port = VirtualSerialPort::new().unwrap();
    let settings = SerialScannerSettings {
        serial: SerialSettings::new(port.path().to_string_lossy()),
        frame: FrameSettings::default(),
    };
    let (tx, mut rx) = mpsc::channel(64);
    let cancel = CancellationToken::new();
    let driver =
        tokio::spawn(SerialScanner::new(Arc::from("s1"), settings).run(tx, cancel.clone()));
    wait_state(&mut rx, DeviceState::Up).await;

    let sim = ScannerSim::default();
    for code in [&b"]C1\x1d0109506000134352"[..], b"PLAIN-123", b"\xff\xfe"] {
        sim.send(port.master(), &SimFrame::new(code)).await.unwrap();
    }
    assert_eq!(next_read(&mut rx).await, b"]C1\x1d0109506000134352");
    assert_eq!(next_read(&mut rx).await, b"PLAIN-123");
    assert_eq!(next_read(&mut rx).await, b"\xff\xfe");

    cancel.cancel();
    wait_state(&mut rx, DeviceState::Stopped).await;
    driver.await.unwrap();
}
