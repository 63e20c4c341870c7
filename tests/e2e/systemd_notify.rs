//! The daemon under systemd, over the real sd_notify protocol on a datagram socket the test
//! binds as `$NOTIFY_SOCKET`: READY=1 once the devices are up, WATCHDOG=1 every half
//! `WatchdogSec`, no pings while the outbox writer is wedged (here: another program holds
//! the database's write lock), pings again once it is free, and STOPPING=1 on SIGTERM.

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use crate::support::{Broker, Daemon, TestConfig, serial_scanner};
use tracegate_drivers::sim::VirtualSerialPort;

/// `WatchdogSec=1` as systemd passes it.
const WATCHDOG_USEC: &str = "1000000";

/// The next notification (one datagram, `KEY=VALUE` lines) within `timeout`.
fn next(socket: &UnixDatagram, timeout: Duration) -> Option<(Instant, String)> {
    socket.set_read_timeout(Some(timeout)).unwrap();
    let mut buf = [0u8; 4096];
    let n = socket.recv(&mut buf).ok()?;
    Some((
        Instant::now(),
        String::from_utf8_lossy(&buf[..n]).into_owned(),
    ))
}

/// Every notification during `span`.
fn during(socket: &UnixDatagram, span: Duration) -> Vec<(Instant, String)> {
    let end = Instant::now() + span;
    let mut got = Vec::new();
    while let Some(left) = end.checked_duration_since(Instant::now()) {
        if left.is_zero() {
            break;
        }
        if let Some(message) = next(socket, left) {
            got.push(message);
        }
    }
    got
}

fn pings(messages: &[(Instant, String)]) -> Vec<Instant> {
    messages
        .iter()
        .filter(|(_, m)| m.lines().any(|l| l == "WATCHDOG=1"))
        .map(|(at, _)| *at)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_watchdog_pings_a_stall_and_stopping() {
    let broker = Broker::start();
    let pty = VirtualSerialPort::new().unwrap();
    let config = TestConfig::new(broker.port, "", &serial_scanner("scanner-1", pty.path()));
    let socket_path = config.dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    let mut daemon = Daemon::start_with_env(
        &config.path,
        &[
            ("NOTIFY_SOCKET", socket_path.to_str().unwrap()),
            ("WATCHDOG_USEC", WATCHDOG_USEC),
        ],
    );

    // READY=1 comes first, and only once the device is up.
    let (_, ready) = next(&socket, Duration::from_secs(30))
        .unwrap_or_else(|| panic!("no notification; log:\n{}", daemon.log()));
    assert!(ready.lines().any(|l| l == "READY=1"), "{ready:?}");
    assert!(ready.contains("STATUS=1/1 devices up"), "{ready:?}");
    let status = daemon.status().await.unwrap();
    assert_eq!(status["devices"][0]["state"], "up");

    // Pings every half WatchdogSec (0.5 s): at least 4 in 3 s.
    let healthy = during(&socket, Duration::from_secs(3));
    let beats = pings(&healthy);
    assert!(beats.len() >= 4, "{healthy:?}");

    // Another program takes the outbox's write lock: the writer cannot commit, so its
    // probe goes unanswered and the pings stop for longer than WatchdogSec.
    let db = rusqlite::Connection::open(config.outbox()).unwrap();
    db.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let locked_at = Instant::now();
    let wedged = during(&socket, Duration::from_secs(3));
    db.execute_batch("ROLLBACK").unwrap();
    let freed_at = Instant::now();
    let mut beats: Vec<Instant> = pings(&wedged);
    beats.insert(0, locked_at);
    beats.push(freed_at);
    let longest_gap = beats
        .windows(2)
        .map(|w| w[1].duration_since(w[0]))
        .max()
        .unwrap();
    assert!(
        longest_gap > Duration::from_secs(1),
        "pings went on while the store was wedged: {wedged:?}"
    );
    assert!(
        wedged
            .iter()
            .any(|(_, m)| m.contains("STATUS=STALLED: outbox writer")),
        "{wedged:?}"
    );

    // Free again: pings resume.
    let recovered = during(&socket, Duration::from_secs(3));
    assert!(pings(&recovered).len() >= 2, "{recovered:?}");

    // SIGTERM: STOPPING=1, then a clean exit.
    let stop = std::thread::spawn(move || {
        let mut seen = Vec::new();
        while let Some((_, m)) = next(&socket, Duration::from_secs(20)) {
            let stopping = m.lines().any(|l| l == "STOPPING=1");
            seen.push(m);
            if stopping {
                return (true, seen);
            }
        }
        (false, seen)
    });
    assert!(daemon.terminate().success());
    let (stopping, seen) = stop.join().unwrap();
    assert!(stopping, "no STOPPING=1: {seen:?}");
}
