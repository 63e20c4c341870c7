//! The serial scanner driver against a simulated scanner on a pseudo-terminal — the same code
//! path as a scanner on /dev/ttyACM0 — byte for byte: split writes, several frames per write,
//! every terminator, an over-long frame, invalid UTF-8, line noise, and unplug / replug.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracegate_drivers::backoff::Reconnect;
use tracegate_drivers::command::{
    CommandDone, CommandError, CommandRequest, Commands, DeviceCommand,
};
use tracegate_drivers::scanner::{FrameEnd, FrameSettings, SerialScanner, SerialScannerSettings};
use tracegate_drivers::serial::SerialSettings;
use tracegate_drivers::sim::{ScannerSim, SimFrame, VirtualSerialPort};
use tracegate_drivers::{DeviceEvent, DeviceState};

use crate::support::{next_event, wait_state};

/// The next read or frame error (state changes skipped).
async fn next_item(rx: &mut mpsc::Receiver<DeviceEvent>) -> Result<Vec<u8>, String> {
    loop {
        match next_event(rx).await {
            DeviceEvent::Read(read) => return Ok(read.payload.to_vec()),
            DeviceEvent::FrameError { message, .. } => return Err(message),
            _ => {}
        }
    }
}

async fn next_read(rx: &mut mpsc::Receiver<DeviceEvent>) -> Vec<u8> {
    next_item(rx).await.expect("a read, not an error")
}

struct Rig {
    rx: mpsc::Receiver<DeviceEvent>,
    cancel: CancellationToken,
    driver: tokio::task::JoinHandle<()>,
}

/// The driver for the scanner at `path`, reconnecting quickly.
fn scanner(path: &std::path::Path, frame: FrameSettings) -> SerialScanner {
    let settings = SerialScannerSettings {
        serial: SerialSettings::new(path.to_string_lossy()),
        frame,
    };
    SerialScanner::new(Arc::from("s1"), settings).with_reconnect(Reconnect::new(
        Duration::from_millis(20),
        Duration::from_millis(100),
    ))
}

impl Rig {
    async fn start(path: &std::path::Path, frame: FrameSettings) -> Rig {
        Rig::run(scanner(path, frame), Commands::none()).await
    }

    /// Runs `driver` with `commands` and waits until its port is open.
    async fn run(driver: SerialScanner, commands: Commands) -> Rig {
        let (tx, mut rx) = mpsc::channel(64);
        let cancel = CancellationToken::new();
        let driver = tokio::spawn(driver.run(tx, commands, cancel.clone()));
        wait_state(&mut rx, DeviceState::Up).await;
        Rig { rx, cancel, driver }
    }

    async fn stop(mut self) {
        self.cancel.cancel();
        wait_state(&mut self.rx, DeviceState::Stopped).await;
        self.driver.await.unwrap();
    }
}

#[tokio::test]
async fn gs1_data_aim_gs_and_invalid_utf8_pass_byte_for_byte() {
    let mut port = VirtualSerialPort::new().unwrap();
    let mut rig = Rig::start(port.path(), FrameSettings::default()).await;
    let sim = ScannerSim::default();
    for code in [
        &b"]C1\x1d0109506000134352"[..],
        b"PLAIN-123",
        b"\xff\xfe\x00\x1b",
    ] {
        sim.send(port.master(), &SimFrame::new(code)).await.unwrap();
    }
    assert_eq!(next_read(&mut rig.rx).await, b"]C1\x1d0109506000134352");
    assert_eq!(next_read(&mut rig.rx).await, b"PLAIN-123");
    assert_eq!(next_read(&mut rig.rx).await, b"\xff\xfe\x00\x1b");
    // The scanner adds its AIM identifier itself; line noise before a scan stays in it (the
    // pipeline, not the driver, rejects it).
    let sim = ScannerSim {
        aim: Some("]d2".into()),
        noise: vec![0x00],
        ..ScannerSim::default()
    };
    sim.send(port.master(), &SimFrame::new(&b"0109506000134352"[..]))
        .await
        .unwrap();
    assert_eq!(next_read(&mut rig.rx).await, b"\x00]d20109506000134352");
    rig.stop().await;
}

#[tokio::test]
async fn frames_split_across_writes_and_several_in_one_write() {
    let mut port = VirtualSerialPort::new().unwrap();
    let mut rig = Rig::start(port.path(), FrameSettings::default()).await;
    let slow = ScannerSim {
        split: Some((3, Duration::from_millis(15))),
        ..ScannerSim::default()
    };
    slow.send(
        port.master(),
        &SimFrame::new(&b"]d2010950600013435221SPLIT"[..]),
    )
    .await
    .unwrap();
    assert_eq!(next_read(&mut rig.rx).await, b"]d2010950600013435221SPLIT");
    ScannerSim::send_raw(port.master(), b"ONE\r\nTWO\r\nTHREE\r\n")
        .await
        .unwrap();
    for want in [&b"ONE"[..], b"TWO", b"THREE"] {
        assert_eq!(next_read(&mut rig.rx).await, want);
    }
    rig.stop().await;
}

/// A terminator setting, what the scanner sends, and the frames the driver must hand over.
type TerminatorCase = (FrameEnd, &'static [u8], &'static [&'static [u8]]);

#[tokio::test]
async fn each_terminator_setting() {
    let cases: [TerminatorCase; 5] = [
        // `any` takes CR, LF and CRLF alike, and no empty frames between CR and LF.
        (
            FrameEnd::Any,
            b"A\rB\nC\r\nD\n\r",
            &[b"A", b"B", b"C", b"D"],
        ),
        (FrameEnd::Cr, b"A\rB\nC\r", &[b"A", b"B\nC"]),
        (FrameEnd::Lf, b"A\nB\rC\n", &[b"A", b"B\rC"]),
        (FrameEnd::Crlf, b"A\r\nB\rC\nD\r\n", &[b"A", b"B\rC\nD"]),
        (FrameEnd::Crlf, b"\r\nE\r\n", &[b"E"]),
    ];
    for (end, wire, want) in cases {
        let mut port = VirtualSerialPort::new().unwrap();
        let mut rig = Rig::start(
            port.path(),
            FrameSettings {
                frame_end: end,
                ..FrameSettings::default()
            },
        )
        .await;
        ScannerSim::send_raw(port.master(), wire).await.unwrap();
        for w in want {
            assert_eq!(next_read(&mut rig.rx).await, *w, "{end:?}");
        }
        rig.stop().await;
    }
}

#[tokio::test]
async fn no_terminator_a_pause_ends_the_frame() {
    let mut port = VirtualSerialPort::new().unwrap();
    let mut rig = Rig::start(
        port.path(),
        FrameSettings {
            frame_end: FrameEnd::None,
            idle_ms: 40,
            ..FrameSettings::default()
        },
    )
    .await;
    let sim = ScannerSim {
        terminator: Vec::new(),
        ..ScannerSim::default()
    };
    sim.send(port.master(), &SimFrame::new(&b"]E04012345000009"[..]))
        .await
        .unwrap();
    assert_eq!(next_read(&mut rig.rx).await, b"]E04012345000009");
    tokio::time::sleep(Duration::from_millis(100)).await;
    sim.send(port.master(), &SimFrame::new(&b"NEXT"[..]))
        .await
        .unwrap();
    assert_eq!(next_read(&mut rig.rx).await, b"NEXT");
    rig.stop().await;
}

#[tokio::test]
async fn a_10kb_frame_without_terminator_is_reported_and_reading_recovers() {
    let mut port = VirtualSerialPort::new().unwrap();
    let mut rig = Rig::start(port.path(), FrameSettings::default()).await;
    // A scanner set to no terminator while the driver expects one: 10 KB of data, then the
    // operator fixes the setting and scans again.
    let junk = vec![b'X'; 10 * 1024];
    ScannerSim::send_raw(port.master(), &junk).await.unwrap();
    ScannerSim::send_raw(port.master(), b"\r\nGOOD\r\n")
        .await
        .unwrap();
    let error = next_item(&mut rig.rx).await.unwrap_err();
    assert!(error.contains("max_frame_len = 4096"), "{error}");
    assert_eq!(next_read(&mut rig.rx).await, b"GOOD");
    rig.stop().await;
}

#[tokio::test]
async fn unplug_and_replug_on_a_stable_path() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("usb-Honeywell_1900-if00");
    let mut port = VirtualSerialPort::with_link(&link).unwrap();
    let mut rig = Rig::start(&link, FrameSettings::default()).await;
    ScannerSim::default()
        .send(port.master(), &SimFrame::new(&b"BEFORE"[..]))
        .await
        .unwrap();
    assert_eq!(next_read(&mut rig.rx).await, b"BEFORE");

    // Unplugged: the pty closes and udev's link goes; the driver reports down once.
    port.unplug();
    let why = wait_state(&mut rig.rx, DeviceState::Down).await.unwrap();
    assert!(
        why.contains("unplugged") || why.contains("read error") || why.contains("cannot open"),
        "{why}"
    );
    // Plugged back in: a new device node behind the same link; reading resumes.
    let mut port = VirtualSerialPort::with_link(&link).unwrap();
    wait_state(&mut rig.rx, DeviceState::Up).await;
    ScannerSim::default()
        .send(port.master(), &SimFrame::new(&b"AFTER"[..]))
        .await
        .unwrap();
    assert_eq!(next_read(&mut rig.rx).await, b"AFTER");
    rig.stop().await;
}

#[tokio::test]
async fn host_commands_reach_the_scanner_byte_for_byte_between_reads() {
    let mut port = VirtualSerialPort::new().unwrap();
    let (commands, commands_rx) = mpsc::channel(8);
    let mut rig = Rig::run(
        scanner(port.path(), FrameSettings::default()),
        Commands::new(commands_rx),
    )
    .await;

    let sim = ScannerSim::default();
    sim.send(port.master(), &SimFrame::new(&b"]C1OK"[..]))
        .await
        .unwrap();
    assert_eq!(next_read(&mut rig.rx).await, b"]C1OK");
    // Datalogic's good-read tone, answered once written; then its "not on file" tone with a
    // control byte, fire and forget as operator feedback sends it.
    let (request, answer) = CommandRequest::with_reply(DeviceCommand::Send("B".into()));
    commands.send(request).await.unwrap();
    assert_eq!(port.receive(1, Duration::from_secs(5)).await.unwrap(), b"B");
    assert_eq!(answer.await.unwrap(), Ok(CommandDone::Sent { bytes: 1 }));
    commands
        .send(CommandRequest::fire_and_forget(DeviceCommand::Send(
            bytes::Bytes::from_static(b"\x01F\r"),
        )))
        .await
        .unwrap();
    assert_eq!(
        port.receive(3, Duration::from_secs(5)).await.unwrap(),
        b"\x01F\r"
    );
    // A scanner has no output lines: the command is answered, not lost.
    let (request, answer) = CommandRequest::with_reply(DeviceCommand::SetOutput {
        line: "red".into(),
        pattern: tracegate_drivers::output::pattern::Pattern::On,
        priority: 0,
        owner: "command".into(),
        for_ms: None,
    });
    commands.send(request).await.unwrap();
    assert_eq!(
        answer.await.unwrap(),
        Err(CommandError::Unsupported("output"))
    );
    // Reading carries on after writing.
    sim.send(port.master(), &SimFrame::new(&b"NEXT"[..]))
        .await
        .unwrap();
    assert_eq!(next_read(&mut rig.rx).await, b"NEXT");

    rig.stop().await;
}
