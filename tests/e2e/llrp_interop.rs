//! The LLRP client and the simulated reader checked against implementations tracegate did
//! not write, so the two halves are not one misunderstanding:
//! - sllurp (PyPI), an LLRP client, runs its own inventory session against the simulator;
//! - llrpkit's reader emulator (PyPI) is read by tracegate's client;
//! - tshark's LLRP dissector (Debian) decodes a capture of a whole tracegate session and
//!   finds no malformed packet and no expert warning.
//!
//! `./scripts/test` installs both Python packages into `target/interop-venv` (pinned in
//! `tests/interop/requirements.txt`) and tshark with apt; without them these tests fail
//! and say so, they are never skipped.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracegate_drivers::backoff::Reconnect;
use tracegate_drivers::rfid::llrp::message::kind;
use tracegate_drivers::rfid::llrp::{LlrpReader, LlrpSettings};
use tracegate_drivers::sim::llrp::{Leg, SimReader, SimReaderConfig, TagPass, sgtin96};
use tracegate_drivers::{Commands, DeviceEvent, DeviceState};

/// The interop venv's python, or a failure saying how to get it.
fn python() -> PathBuf {
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/interop-venv/bin/python");
    assert!(
        venv.exists(),
        "{} is missing: run ./scripts/test, which installs sllurp and llrpkit there (tests/interop/requirements.txt)",
        venv.display()
    );
    venv
}

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/interop")
        .join(name)
}

fn tags_on_two_antennas() -> SimReaderConfig {
    let script = (0..6u64)
        .map(|i| TagPass {
            epc: sgtin96(1, 614_141, 812_345, 100 + i),
            after: Duration::ZERO,
            legs: vec![Leg {
                antenna: (i % 2) as u16 + 1,
                dwell: Duration::from_secs(3600),
                peak_dbm: -50.0,
            }],
            overlap: Duration::ZERO,
        })
        .collect();
    SimReaderConfig {
        script,
        report_rate: 10.0,
        ..SimReaderConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sllurp_runs_an_inventory_against_the_simulated_reader() {
    let sim = SimReader::start(tags_on_two_antennas()).await.unwrap();
    let python = python();
    let port = sim.port;
    let out = tokio::task::spawn_blocking(move || {
        let mut child = Command::new(python)
            .arg(script("sllurp_inventory.py"))
            .args(["127.0.0.1", &port.to_string(), "2"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // A session of 2 s plus sllurp's own timeouts; a client that never exits fails the
        // test instead of hanging the suite.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while child.try_wait().unwrap().is_none() {
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "sllurp failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    eprintln!("sllurp against the simulator: {summary}");
    let epcs: Vec<String> = summary["epcs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap().to_lowercase())
        .collect();
    for i in 0..6u64 {
        let want: String = sgtin96(1, 614_141, 812_345, 100 + i)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert!(epcs.contains(&want), "{want} not among {epcs:?}");
    }
    assert_eq!(summary["antennas"], serde_json::json!([1, 2]));
    // sllurp's own session reached the simulator and was answered throughout.
    let received = sim.received();
    for k in [
        kind::GET_READER_CAPABILITIES,
        kind::ADD_ROSPEC,
        kind::ENABLE_ROSPEC,
    ] {
        assert!(
            received.contains(&k),
            "{} not received: {received:?}",
            kind::name(k)
        );
    }
    assert!(
        sim.stats.tags_sent.load(Ordering::Relaxed) as u64 >= summary["reports"].as_u64().unwrap()
    );
}

/// A tracegate LLRP client for `port`, and its event channel.
fn client(
    port: u16,
) -> (
    mpsc::Receiver<DeviceEvent>,
    CancellationToken,
    tokio::task::JoinHandle<()>,
) {
    let mut settings = LlrpSettings::new("127.0.0.1", port);
    settings.keepalive_s = 1;
    let (tx, rx) = mpsc::channel(1024);
    let cancel = CancellationToken::new();
    let driver = LlrpReader::new(Arc::from("reader"), settings).with_reconnect(Reconnect::new(
        Duration::from_millis(50),
        Duration::from_millis(200),
    ));
    let task = tokio::spawn(driver.run(tx, Commands::none(), cancel.clone()));
    (rx, cancel, task)
}

/// Receives until `reads` tag reports have arrived after the reader came up, failing with
/// the last down reason after `within`.
async fn reads_after_up(
    rx: &mut mpsc::Receiver<DeviceEvent>,
    reads: usize,
    within: Duration,
) -> Vec<tracegate_drivers::RawRead> {
    let deadline = Instant::now() + within;
    let mut up = false;
    let mut last_down = None;
    let mut got = Vec::new();
    while got.len() < reads {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "{} reads; up: {up}; last down: {last_down:?}",
            got.len()
        );
        match tokio::time::timeout(left, rx.recv()).await {
            Ok(Some(DeviceEvent::State {
                state: DeviceState::Up,
                ..
            })) => up = true,
            Ok(Some(DeviceEvent::State {
                state: DeviceState::Down,
                detail,
                ..
            })) => last_down = detail,
            Ok(Some(DeviceEvent::Read(read))) if up => got.push(read),
            Ok(Some(_)) | Err(_) => {}
            Ok(None) => panic!("driver gone"),
        }
    }
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tracegate_reads_llrpkit_s_reader_emulator() {
    let port = crate::support::free_port();
    let llrpkit = python().with_file_name("llrpkit");
    let mut emulator = Command::new(llrpkit)
        .args([
            "emulate",
            "--port",
            &port.to_string(),
            "--tags",
            "8",
            "--rate",
            "200",
            "--antennas",
            "2",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // It says "emulated Impinj-style reader on port N" once it listens. (A probe connection
    // would be taken for the one client it allows.)
    let stdout = emulator.stdout.take().unwrap();
    let listening = tokio::task::spawn_blocking(move || {
        use std::io::BufRead;
        std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .any(|l| l.contains("on port"))
    });
    let listening = tokio::time::timeout(Duration::from_secs(30), listening).await;
    assert!(
        matches!(listening, Ok(Ok(true))),
        "llrpkit's emulator did not start"
    );
    let (mut rx, cancel, task) = client(port);
    let reads = reads_after_up(&mut rx, 50, Duration::from_secs(30)).await;
    cancel.cancel();
    task.await.unwrap();
    let _ = emulator.kill();
    let _ = emulator.wait();
    // llrpkit's default population: EPC E200001701 0B01621000 00nn on antennas 1..=2.
    let mut epcs: Vec<_> = reads
        .iter()
        .map(|r| String::from_utf8_lossy(&r.payload).into_owned())
        .collect();
    epcs.sort();
    epcs.dedup();
    eprintln!(
        "llrpkit emulator: {} reads, {} tags: {epcs:?}",
        reads.len(),
        epcs.len()
    );
    assert!(
        epcs.iter().all(|e| e.starts_with("E2000017010B0162100000")),
        "{epcs:?}"
    );
    assert!(epcs.len() >= 4, "{epcs:?}");
    for r in &reads {
        assert!(matches!(r.meta.antenna, Some(1 | 2)), "{:?}", r.meta);
        let rssi = r.meta.rssi_dbm.unwrap();
        assert!((-90.0..=-30.0).contains(&rssi), "{rssi}");
        assert!(r.meta.device_time.is_some());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tshark_finds_no_malformed_packet_in_a_whole_session() {
    let sim = SimReader::start(tags_on_two_antennas()).await.unwrap();
    // tshark decodes live, one line per packet: the session's port as LLRP, and a UDP probe
    // port that tells when the capture really runs ("Capturing on" comes a little before).
    let probe = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let probe_port = probe.local_addr().unwrap().port();
    let tshark = crate::support::require("tshark");
    let mut live = Command::new(&tshark)
        .args([
            "-l",
            "-i",
            "lo",
            "-f",
            &format!("tcp port {} or udp port {probe_port}", sim.port),
        ])
        .args(["-d", &format!("tcp.port=={},llrp", sim.port)])
        .args([
            "-T",
            "fields",
            "-E",
            "separator=|",
            "-e",
            "frame.number",
            "-e",
            "udp.dstport",
        ])
        .args([
            "-e",
            "llrp.type",
            "-e",
            "_ws.malformed",
            "-e",
            "_ws.expert.severity",
            "-e",
            "_ws.expert.message",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let stdout = live.stdout.take().unwrap();
    // Each line tshark prints is kept and announced, so the waits below wake on a new line.
    let (line_tx, mut line_rx) = mpsc::unbounded_channel::<()>();
    let reader = {
        let lines = lines.clone();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                lines.lock().unwrap().push(line);
                let _ = line_tx.send(());
            }
        })
    };
    let seen = |pred: &dyn Fn(&str) -> bool| lines.lock().unwrap().iter().any(|l| pred(l));
    let deadline = Instant::now() + Duration::from_secs(20);
    while !seen(&|l| l.split('|').nth(1) == Some(&probe_port.to_string())) {
        assert!(Instant::now() < deadline, "tshark captured nothing in 20 s");
        // A probe, then wait for tshark to print something (or probe again in 100 ms).
        probe.send_to(b"probe", ("127.0.0.1", probe_port)).unwrap();
        let _ = tokio::time::timeout(Duration::from_millis(100), line_rx.recv()).await;
    }

    // A whole session: handshake, reports, keepalives (1 s), close.
    let (mut rx, cancel, task) = client(sim.port);
    reads_after_up(&mut rx, 20, Duration::from_secs(20)).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while sim.stats.keepalive_acks.load(Ordering::Relaxed) == 0 {
        assert!(Instant::now() < deadline, "no keepalive answered");
        let _ = tokio::time::timeout(Duration::from_millis(200), rx.recv()).await;
    }
    cancel.cancel();
    task.await.unwrap();
    assert_eq!(sim.received().last(), Some(&kind::CLOSE_CONNECTION));
    // The session ends with CLOSE_CONNECTION_RESPONSE (type 4): wait for tshark to show it.
    let llrp_type = |l: &str, t: &str| {
        l.split('|')
            .nth(2)
            .is_some_and(|f| f.split(',').any(|x| x == t))
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !seen(&|l| llrp_type(l, "4")) {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "tshark did not show the close");
        let _ = tokio::time::timeout(left, line_rx.recv()).await;
    }
    unsafe { libc::kill(live.id() as i32, libc::SIGINT) };
    let _ = live.wait();
    reader.join().unwrap();

    let lines = lines.lock().unwrap().clone();
    let llrp: Vec<&String> = lines
        .iter()
        .filter(|l| l.split('|').nth(2).is_some_and(|f| !f.is_empty()))
        .collect();
    // Malformed, or an expert note of warning or error severity.
    let bad: Vec<&String> = lines
        .iter()
        .filter(|l| {
            let f: Vec<&str> = l.split('|').collect();
            let severe = f.get(4).is_some_and(|s| {
                s.split(',').any(|v| {
                    v.parse::<u64>().is_ok_and(|v| v >= 0x0060_0000)
                        || v.contains("Warn")
                        || v.contains("Error")
                })
            });
            f.get(3).is_some_and(|m| !m.is_empty()) || severe
        })
        .collect();
    let types: std::collections::BTreeSet<String> = llrp
        .iter()
        .filter_map(|l| l.split('|').nth(2))
        .flat_map(|t| t.split(',').map(str::to_string))
        .collect();
    eprintln!(
        "tshark: {} packets carrying LLRP, message types {types:?}, {} flagged",
        llrp.len(),
        bad.len()
    );
    assert!(bad.is_empty(), "tshark flags: {bad:#?}");
    // Every message of the session was dissected as LLRP: ADD_ROSPEC (20), RO_ACCESS_REPORT
    // (61), KEEPALIVE (62) and its ACK (72), CLOSE_CONNECTION (14) and its response (4) …
    for t in ["1", "11", "20", "30", "61", "62", "63", "72", "14", "4"] {
        assert!(
            types.contains(t),
            "no LLRP message of type {t} in {types:?}"
        );
    }
}
