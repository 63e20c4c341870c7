//! A corrupt outbox file at start is moved aside, loudly, and capture continues in a fresh one.

use std::time::Duration;

use crate::support::{
    Daemon, TestConfig, codes, free_port, scan_in_background, serial_scanner, tracegate,
};
use tracegate_drivers::sim::VirtualSerialPort;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_outbox_is_moved_aside_and_capture_continues() {
    let pty = VirtualSerialPort::new().unwrap();
    let config = TestConfig::new(free_port(), "", &serial_scanner("scanner-1", pty.path()));
    // A page of garbage where a database should be, as a torn SD card write might leave.
    let garbage: Vec<u8> = (0..16384u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(config.outbox(), &garbage).unwrap();

    let mut daemon = Daemon::start(&config.path);
    daemon.wait_devices_up().await;
    let (scanner, _stop) = scan_in_background(pty, codes("AFTER", 3), 0.0);
    let _pty = scanner.await.unwrap();
    daemon
        .wait_status(Duration::from_secs(10), "capture continues", |s| {
            s["queue"]["undelivered"] == 3
        })
        .await;
    assert!(daemon.log().contains("OUTBOX UNUSABLE"), "said loudly");
    assert!(daemon.terminate().success());

    let moved: Vec<_> = std::fs::read_dir(config.dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("outbox.db.unusable-")
        })
        .collect();
    assert_eq!(moved.len(), 1, "{moved:?}");
    assert_eq!(
        std::fs::read(&moved[0]).unwrap(),
        garbage,
        "the old file is kept as it was"
    );
    let (code, out, _) = tracegate(&["events", "tail", "--config", config.path.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 3);
}
