//! The daemon measured from outside, as a user runs it: the release binary, a simulated
//! scanner on a pty, a real broker, a real subscriber; CPU and memory read from /proc.
//!
//! - reads/s end to end (scan written to the pty → event at a subscriber) and the CPU it
//!   took, against the pty alone carrying the same bytes;
//! - latency from a scan written to the pty to its event at a QoS 1 subscriber, at 10, 100,
//!   1,000 and 10,000 reads/s (mosquitto sends the PUBACK and forwards the message in the same
//!   pass over its socket, so this is the PUBACK latency plus one loopback hop);
//! - the commissioning page: the daemon's CPU at 10,000 reads/s with its live stream open,
//!   against the same run with nobody watching;
//! - footprint: resident memory with an empty outbox and with 1,000,000 undelivered events,
//!   its peak while they drain, DB bytes per event, and CPU at idle with a device connected
//!   and the broker up;
//! - a fleet of 50 daemons publishing to one mosquitto;
//! - a 3-node NATS JetStream cluster: events/s through it, and the gap when the node the
//!   gateway is connected to is killed;
//! - a 1,000,000-event backlog drained into an EPCIS 2.0 repository (`[epcis]`, the tests'
//!   capture interface), against the same documents posted to the same server by a bare
//!   HTTP client (`curl --parallel`) in the same run.
//!
//! `cargo bench -p tracegate --bench system` (mosquitto and nats-server installed, as for the
//! tests); `./scripts/bench` runs it with the others and tabulates the figures.

#[path = "common/report.rs"]
mod report;
#[path = "../../tests/support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use report::Figure;
use serde_json::Value;
use support::nats::NatsCluster;
use support::{Broker, Daemon, Subscriber, free_port};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tracegate_drivers::sim::VirtualSerialPort;

/// A scan carrying serial number `i`: a GS1 DataMatrix (AIM `]d2`) with GTIN, expiry, lot and
/// serial, as a packing-line scanner sends it.
fn scan(i: usize) -> String {
    format!("]d20109506000134352172712311026L1127\u{1d}21{i:012}")
}

/// The serial number of a scan, from an event's `tg:rawData`.
fn serial_of(event: &Value) -> Option<usize> {
    let raw = event["tg:rawData"].as_str()?;
    raw.get(raw.len().checked_sub(12)?..)?.parse().ok()
}

/// Writes a gateway config: `gateway` on the broker at `port`, its outbox in `dir`. Not the
/// tests' `TestConfig`: that one names every gateway `gw-test` and publishes its status every
/// second (tests wait on it), which a fleet and an idle-CPU figure cannot have.
fn write_config(dir: &Path, gateway: &str, port: u16, mqtt_extra: &str, devices: &str) -> PathBuf {
    let path = dir.join(format!("{gateway}.toml"));
    let text = format!(
        "[gateway]\nid = \"{gateway}\"\n\
         [location]\nread_point = \"urn:epc:id:sgln:9506000134.00.0\"\n\
         [store]\npath = \"{gateway}.db\"\n\
         [mqtt]\nhost = \"127.0.0.1\"\nport = {port}\nkeep_alive_s = 5\nreconnect_min_ms = 100\nreconnect_max_s = 1\n{mqtt_extra}\n\
         [clock]\nsync_check = \"trust\"\n\
         {devices}\n"
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// The gateway's scanner on `pty`.
fn scanner_on(pty: &VirtualSerialPort) -> String {
    support::serial_scanner("scanner-1", pty.path())
}

/// The daemon, logging warnings only (a bench measures the daemon, not its debug log).
fn daemon(config: &Path) -> Daemon {
    Daemon::start_with_env(config, &[("TRACEGATE_LOG", "warn")])
}

/// A gateway under measurement: the daemon with a serial scanner on a pty, publishing to the
/// broker on `port` (with `mqtt_extra` in `[mqtt]`), and a subscriber to its events on
/// `sub_port`.
struct Gateway {
    pty: VirtualSerialPort,
    sub: Subscriber,
    daemon: Daemon,
    _dir: tempfile::TempDir,
}

impl Gateway {
    /// Starts it and returns once its scanner is up and it is connected.
    async fn start(port: u16, sub_port: u16, mqtt_extra: &str) -> Gateway {
        Gateway::start_with(port, sub_port, mqtt_extra, "").await
    }

    /// As [`Gateway::start`], with `sections` (`[web]` …) in the config before the scanner.
    async fn start_with(port: u16, sub_port: u16, mqtt_extra: &str, sections: &str) -> Gateway {
        let dir = tempfile::tempdir().unwrap();
        let pty = VirtualSerialPort::new().unwrap();
        let devices = format!("{sections}\n{}", scanner_on(&pty));
        let config = write_config(dir.path(), "gw-bench", port, mqtt_extra, &devices);
        let sub = Subscriber::connect(sub_port, &["tracegate/gw-bench/events"]).await;
        let daemon = daemon(&config);
        daemon.wait_devices_up().await;
        daemon
            .wait_status(Duration::from_secs(30), "connected", |s| {
                s["broker"]["connected"] == true
            })
            .await;
        Gateway {
            pty,
            sub,
            daemon,
            _dir: dir,
        }
    }
}

/// CPU seconds (user + system) process `pid` has used.
fn cpu_s(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name (which is in parentheses and may hold spaces).
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // SAFETY: sysconf has no preconditions.
    let per_s = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    ticks as f64 / per_s
}

/// A `/proc/{pid}/status` figure in MiB (`VmRSS`, `VmHWM`).
fn mem_mib(pid: u32, key: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    kib / 1024.0
}

/// Reads events from `sub` until `done` says so (given the serials seen so far), recording
/// when each serial first arrived. Panics after `within`.
async fn receive_until(
    sub: &mut Subscriber,
    arrived: &mut HashMap<usize, Instant>,
    within: Duration,
    done: impl Fn(&HashMap<usize, Instant>) -> bool,
) {
    let deadline = Instant::now() + within;
    while !done(arrived) {
        assert!(
            Instant::now() < deadline,
            "events did not arrive in {within:?}"
        );
        let Some((topic, payload)) = sub.next(Duration::from_millis(200)).await else {
            continue;
        };
        if !topic.ends_with("/events") {
            continue;
        }
        let now = Instant::now();
        let doc: Value = serde_json::from_slice(&payload).unwrap();
        for event in doc["epcisBody"]["eventList"].as_array().unwrap() {
            if let Some(serial) = serial_of(event) {
                arrived.entry(serial).or_insert(now);
            }
        }
    }
}

/// Scans `first..first + n` written to the pty, paced at `per_s` (`None`: as fast as the
/// line takes them); returns when each was written.
async fn write_scans(
    pty: &mut VirtualSerialPort,
    first: usize,
    n: usize,
    per_s: Option<f64>,
) -> Vec<Instant> {
    let mut sent = Vec::with_capacity(n);
    let started = tokio::time::Instant::now();
    let master = pty.master();
    let mut line = Vec::new();
    for i in first..first + n {
        if let Some(rate) = per_s {
            let due = started + Duration::from_secs_f64((i - first) as f64 / rate);
            tokio::time::sleep_until(due).await;
        }
        line.clear();
        line.extend_from_slice(scan(i).as_bytes());
        line.extend_from_slice(b"\r\n");
        master.write_all(&line).await.unwrap();
        sent.push(Instant::now());
    }
    master.flush().await.unwrap();
    sent
}

/// The limit of the transport: `n` scans' bytes written to a pty and read back on its other
/// side, nothing else. Reads/s.
async fn pty_alone(n: usize) -> f64 {
    let mut pty = VirtualSerialPort::new().unwrap();
    let mut slave =
        tokio_serial::SerialStream::open(&tokio_serial::new(pty.path().to_string_lossy(), 115_200))
            .unwrap();
    let total: usize = (0..n).map(|i| scan(i).len() + 2).sum();
    let reader = tokio::spawn(async move {
        let mut buf = vec![0u8; 64 * 1024];
        let mut got = 0;
        while got < total {
            got += slave.read(&mut buf).await.unwrap();
        }
    });
    let started = Instant::now();
    write_scans(&mut pty, 0, n, None).await;
    reader.await.unwrap();
    n as f64 / started.elapsed().as_secs_f64()
}

/// Reads/s end to end and the CPU per read.
async fn end_to_end(n: usize) {
    let broker = Broker::start();
    // Bound whole: dropping the gateway stops its daemon.
    let mut gateway = Gateway::start(broker.port, broker.port, "").await;
    let (pty, sub, daemon) = (&mut gateway.pty, &mut gateway.sub, &gateway.daemon);
    let cpu_before = cpu_s(daemon.pid());
    let started = Instant::now();
    let writer = write_scans(&mut *pty, 0, n, None);
    let mut arrived = HashMap::new();
    let receiver = receive_until(&mut *sub, &mut arrived, Duration::from_secs(600), |a| {
        a.len() >= n
    });
    tokio::join!(writer, receiver);
    let wall = started.elapsed().as_secs_f64();
    let cores = (cpu_s(daemon.pid()) - cpu_before) / wall;
    let per_s = n as f64 / wall;
    let limit = pty_alone(n).await;
    report::record(Figure {
        bench: "end to end",
        what: "reads/s, scan on a pty → event at a QoS 1 subscriber",
        value: per_s,
        unit: "reads/s",
        limit: Some(("the pty alone carrying the same bytes", limit)),
        target: Some(("≥ 100,000 reads/s", per_s >= 100_000.0)),
    });
    report::record(Figure {
        bench: "end to end",
        what: "daemon CPU meanwhile",
        value: cores,
        unit: "cores",
        limit: None,
        target: Some(("≤ 1 core", cores <= 1.0)),
    });
    report::record(Figure {
        bench: "end to end",
        what: "CPU per read",
        value: cores / per_s * 1e6,
        unit: "µs",
        limit: None,
        target: None,
    });
}

/// The page's live stream as a browser holds it open: reads `/api/live` until dropped and
/// counts the reads it was shown and the reads it was told it missed.
struct Watcher {
    task: tokio::task::JoinHandle<()>,
    counts: std::sync::Arc<std::sync::Mutex<(u64, u64, u64)>>,
}

impl Watcher {
    async fn open(port: u16) -> Watcher {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        stream
            .write_all(
                format!("GET /api/live HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n").as_bytes(),
            )
            .await
            .unwrap();
        let counts = std::sync::Arc::new(std::sync::Mutex::new((0u64, 0u64, 0u64)));
        let shared = counts.clone();
        let task = tokio::spawn(async move {
            let mut buf = vec![0u8; 64 * 1024];
            let mut pending = Vec::new();
            loop {
                let n = match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                pending.extend_from_slice(&buf[..n]);
                // Server-sent events end with a blank line (inside HTTP chunks whose size
                // lines do not contain one).
                while let Some(end) = pending.windows(2).position(|w| w == b"\n\n") {
                    let frame = String::from_utf8_lossy(&pending[..end]).to_string();
                    pending.drain(..end + 2);
                    let Some(data) = frame
                        .lines()
                        .find_map(|l| l.strip_prefix("data: "))
                        .filter(|_| frame.contains("event: reads"))
                    else {
                        continue;
                    };
                    let Ok(batch) = serde_json::from_str::<Value>(data) else {
                        continue;
                    };
                    let mut c = shared.lock().unwrap();
                    c.0 += batch["reads"].as_array().map_or(0, |r| r.len() as u64);
                    c.1 += batch["missed"].as_u64().unwrap_or(0);
                    c.2 += 1;
                }
            }
        });
        Watcher { task, counts }
    }

    /// (reads shown, reads missed, batches).
    fn counts(&self) -> (u64, u64, u64) {
        *self.counts.lock().unwrap()
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What the commissioning page costs: the daemon's CPU at `rate` reads/s for `seconds` with
/// nobody watching (the baseline) and with the page's live stream open, in turn `rounds`
/// times on one daemon (means reported); every read must reach the subscriber.
async fn page_cost(rate: f64, seconds: f64, rounds: usize) {
    let broker = Broker::start();
    let web = free_port();
    let mut gateway = Gateway::start_with(
        broker.port,
        broker.port,
        "",
        &format!("[web]\nlisten = \"127.0.0.1:{web}\"\n"),
    )
    .await;
    let (pty, sub, daemon) = (&mut gateway.pty, &mut gateway.sub, &gateway.daemon);
    let n = (rate * seconds) as usize;
    let mut arrived = HashMap::new();
    let mut run = async |first: usize| -> f64 {
        let cpu_before = cpu_s(daemon.pid());
        let started = Instant::now();
        let writer = write_scans(&mut *pty, first, n, Some(rate));
        // Ranges are disjoint and each run waits for all of its own: a count suffices (a
        // scan over the range per message would cost the bench a core beside the daemon).
        let target = arrived.len() + n;
        let receiver = receive_until(&mut *sub, &mut arrived, Duration::from_secs(600), |a| {
            a.len() >= target
        });
        tokio::join!(writer, receiver);
        (cpu_s(daemon.pid()) - cpu_before) / started.elapsed().as_secs_f64()
    };
    // Warm up (statements, buffers), then nobody watching and the page open in turn,
    // `rounds` times each: the machine's drift falls on both alike.
    run(0).await;
    let (mut alone, mut watched) = (0.0, 0.0);
    let (mut shown, mut missed, mut batches) = (0, 0, 0);
    for round in 0..rounds {
        alone += run((1 + 2 * round) * n).await / rounds as f64;
        let watcher = Watcher::open(web).await;
        watched += run((2 + 2 * round) * n).await / rounds as f64;
        let (s, m, b) = watcher.counts();
        (shown, missed, batches) = (shown + s, missed + m, batches + b);
    }
    let written = (1 + 2 * rounds) * n;
    report::record(Figure {
        bench: "page",
        what: "daemon CPU, reads at 10,000/s, nobody watching",
        value: alone,
        unit: "cores",
        limit: None,
        target: None,
    });
    report::record(Figure {
        bench: "page",
        what: "daemon CPU, the same with the page's live stream open",
        value: watched,
        unit: "cores",
        limit: Some(("the same run, nobody watching", alone)),
        target: Some(("< 0.05 core more", watched - alone < 0.05)),
    });
    report::record(Figure {
        bench: "page",
        what: "reads the page was shown (the rest counted as missed)",
        value: shown as f64,
        unit: "reads",
        limit: Some(("reads shown + counted as missed", (shown + missed) as f64)),
        target: Some((
            "a batch at most every 250 ms",
            batches as f64 <= rounds as f64 * (seconds * 4.0 + 8.0),
        )),
    });
    report::record(Figure {
        bench: "page",
        what: "reads captured and delivered, both runs",
        value: arrived.len() as f64,
        unit: "reads",
        limit: Some(("reads written", written as f64)),
        target: Some(("none lost", arrived.len() == written)),
    });
}

/// Scan → subscriber latency at `rates`, `seconds` each.
async fn latency(rates: &[(f64, f64)]) {
    let broker = Broker::start();
    let mut gateway = Gateway::start(broker.port, broker.port, "").await;
    let (pty, sub) = (&mut gateway.pty, &mut gateway.sub);
    // Warm up: the first scans open the outbox's statements and the session's buffers.
    let mut arrived = HashMap::new();
    let mut first = 0;
    write_scans(&mut *pty, first, 100, Some(1000.0)).await;
    receive_until(&mut *sub, &mut arrived, Duration::from_secs(30), |a| {
        a.len() >= 100
    })
    .await;
    first += 100;
    for &(rate, seconds) in rates {
        let n = (rate * seconds).ceil() as usize;
        arrived.clear();
        let start = first;
        let writer = write_scans(&mut *pty, start, n, Some(rate));
        let receiver = receive_until(&mut *sub, &mut arrived, Duration::from_secs(120), |a| {
            a.len() >= n
        });
        let (sent, ()) = tokio::join!(writer, receiver);
        first += n;
        let mut ms: Vec<f64> = sent
            .iter()
            .enumerate()
            .map(|(k, at)| (arrived[&(start + k)] - *at).as_secs_f64() * 1000.0)
            .collect();
        ms.sort_by(f64::total_cmp);
        let pct = |p: f64| ms[((ms.len() - 1) as f64 * p).round() as usize];
        let (p50, p99) = (pct(0.5), pct(0.99));
        let target = match rate as u64 {
            1000 => Some(("p99 < 2 ms", p99 < 2.0)),
            10000 => Some(("p99 < 10 ms", p99 < 10.0)),
            _ => None,
        };
        let what_p50 = format!("scan → subscriber at {rate:.0} reads/s, median ({n} scans)");
        let what_p99 = format!("scan → subscriber at {rate:.0} reads/s, p99");
        report::record(Figure {
            bench: "latency",
            what: &what_p50,
            value: p50,
            unit: "ms",
            limit: None,
            target: None,
        });
        report::record(Figure {
            bench: "latency",
            what: &what_p99,
            value: p99,
            unit: "ms",
            limit: None,
            target,
        });
    }
}

/// Memory with an empty outbox, with `backlog` undelivered events, and while they drain; DB
/// bytes per event; CPU at idle.
async fn footprint(backlog: usize, idle_s: u64) {
    // The broker's port is chosen now and its broker started later: the gateway is offline
    // while the backlog builds up.
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let mut pty = VirtualSerialPort::new().unwrap();
    let config = write_config(dir.path(), "gw-bench", port, "", &scanner_on(&pty));
    let daemon = daemon(&config);
    daemon.wait_devices_up().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let empty = mem_mib(daemon.pid(), "VmRSS");
    let empty_peak = mem_mib(daemon.pid(), "VmHWM");
    write_scans(&mut pty, 0, backlog, None).await;
    daemon
        .wait_status(Duration::from_secs(600), "the backlog captured", |s| {
            s["queue"]["undelivered"].as_u64() >= Some(backlog as u64)
        })
        .await;
    let with_backlog = mem_mib(daemon.pid(), "VmRSS");
    let status = daemon.status().await.unwrap();
    let db_bytes = status["queue"]["db_bytes"].as_f64().unwrap();
    let mut broker = Broker::start_on(port, "");
    let mut sub = Subscriber::connect(port, &["tracegate/gw-bench/events"]).await;
    let mut arrived = HashMap::new();
    receive_until(&mut sub, &mut arrived, Duration::from_secs(600), |a| {
        a.len() >= backlog
    })
    .await;
    let peak = mem_mib(daemon.pid(), "VmHWM");
    let after = mem_mib(daemon.pid(), "VmRSS");
    let what_backlog = format!("RSS with {backlog} undelivered events");
    let what_peak = format!("peak RSS (VmHWM) over capturing and draining {backlog} events");
    for (what, value, target) in [
        ("RSS, outbox empty, a scanner connected", empty, None),
        ("peak RSS at start-up (VmHWM)", empty_peak, None),
        (
            what_backlog.as_str(),
            with_backlog,
            Some(("< 16 MiB", with_backlog < 16.0)),
        ),
        (what_peak.as_str(), peak, Some(("< 16 MiB", peak < 16.0))),
        ("RSS after the drain", after, None),
    ] {
        report::record(Figure {
            bench: "footprint",
            what,
            value,
            unit: "MiB",
            limit: None,
            target,
        });
    }
    report::record(Figure {
        bench: "footprint",
        what: "outbox bytes per event on disk (DB + WAL, GS1 DataMatrix scans)",
        value: db_bytes / backlog as f64,
        unit: "bytes",
        limit: None,
        target: None,
    });
    // Idle: the scanner connected, the broker up, nothing happening.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = cpu_s(daemon.pid());
    let broker_before = cpu_s(broker.pid());
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(idle_s)).await;
    let wall = started.elapsed().as_secs_f64();
    let idle = (cpu_s(daemon.pid()) - before) / wall * 100.0;
    let broker_idle = (cpu_s(broker.pid()) - broker_before) / wall * 100.0;
    let what = format!("CPU at idle, a scanner connected, the broker up ({idle_s} s)");
    report::record(Figure {
        bench: "footprint",
        what: &what,
        value: idle,
        unit: "% of a core",
        limit: Some(("mosquitto at idle, same time", broker_idle)),
        target: Some(("< 0.5 %", idle < 0.5)),
    });
    broker.stop();
}

/// `write_bytes` of `/proc/{pid}/io`: bytes the process caused to be written to storage
/// (page-cache writeback of the outbox, its WAL and checkpoints, the high-water mark, logs;
/// not the file system's journal, which its kernel thread writes, nor the card's own write
/// amplification).
fn write_bytes(pid: u32) -> u64 {
    let io = std::fs::read_to_string(format!("/proc/{pid}/io")).unwrap();
    io.lines()
        .find_map(|l| l.strip_prefix("write_bytes:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap()
}

/// The card endurance assumed for the life estimate: a 32 GB industrial MLC microSD card
/// rated for 3,000 program/erase cycles (the common rating of industrial MLC cards; pSLC
/// cards are rated higher, consumer TLC cards far lower) is 96 TB of flash writes; small
/// synced writes are taken to cost 4× on the flash (write amplification), so 24 TB written
/// by the host.
const CARD_HOST_BYTES: f64 = 24e12;

/// Bytes written to storage per event, captured and delivered, at each of `rates` reads/s
/// for `seconds` each, and the card life each implies at that rate around the clock.
async fn card_wear(rates: &[(f64, f64)]) {
    let broker = Broker::start();
    let mut gateway = Gateway::start(broker.port, broker.port, "").await;
    let pid = gateway.daemon.pid();
    let mut first = 0;
    for &(rate, seconds) in rates {
        let n = (rate * seconds).ceil() as usize;
        let mut arrived = HashMap::new();
        let before = write_bytes(pid);
        let writer = write_scans(&mut gateway.pty, first, n, Some(rate));
        let receiver = receive_until(
            &mut gateway.sub,
            &mut arrived,
            Duration::from_secs(300),
            |a| a.len() >= n,
        );
        tokio::join!(writer, receiver);
        first += n;
        // The delivery marks of the last events are committed just after they arrive.
        gateway
            .daemon
            .wait_status(Duration::from_secs(60), "every delivery marked", |s| {
                s["queue"]["undelivered"] == 0
            })
            .await;
        let per_event = (write_bytes(pid) - before) as f64 / n as f64;
        let what = format!("bytes written to storage per event at {rate:.0} reads/s ({n} events)");
        report::record(Figure {
            bench: "card",
            what: &what,
            value: per_event,
            unit: "bytes",
            limit: None,
            target: None,
        });
        let years = CARD_HOST_BYTES / (per_event * rate * 365.25 * 86_400.0);
        let what = format!(
            "life of a 32 GB industrial card (24 TB host writes) at {rate:.0} reads/s around the clock"
        );
        report::record(Figure {
            bench: "card",
            what: &what,
            value: years,
            unit: "years",
            limit: None,
            target: None,
        });
    }
}

/// `daemons` gateways with a simulated scanner each at `rate` reads/s, one mosquitto.
async fn fleet(daemons: usize, rate: f64, seconds: u64) {
    let broker = Broker::start();
    let dir = tempfile::tempdir().unwrap();
    let mut sub = Subscriber::connect(broker.port, &["tracegate/+/events"]).await;
    let fleet: Vec<Daemon> = (0..daemons)
        .map(|i| {
            let devices = format!(
                "[[devices]]\nid = \"scanner-1\"\nkind = \"sim-scanner\"\nrate_per_s = {rate}\n"
            );
            let config = write_config(dir.path(), &format!("gw-{i:03}"), broker.port, "", &devices);
            daemon(&config)
        })
        .collect();
    for d in &fleet {
        d.wait_devices_up().await;
    }
    // Settle: every daemon connected and publishing.
    tokio::time::sleep(Duration::from_secs(3)).await;
    while sub.next(Duration::from_millis(10)).await.is_some() {}
    let cpu_before: Vec<f64> = fleet.iter().map(|d| cpu_s(d.pid())).collect();
    let broker_before = cpu_s(broker.pid());
    let started = Instant::now();
    let mut events = 0usize;
    while started.elapsed() < Duration::from_secs(seconds) {
        if let Some((_, payload)) = sub.next(Duration::from_millis(100)).await {
            let doc: Value = serde_json::from_slice(&payload).unwrap();
            events += doc["epcisBody"]["eventList"]
                .as_array()
                .map_or(0, |l| l.len());
        }
    }
    let wall = started.elapsed().as_secs_f64();
    let cpu: Vec<f64> = fleet
        .iter()
        .zip(&cpu_before)
        .map(|(d, before)| (cpu_s(d.pid()) - before) / wall * 100.0)
        .collect();
    let rss: Vec<f64> = fleet.iter().map(|d| mem_mib(d.pid(), "VmRSS")).collect();
    let broker_cpu = (cpu_s(broker.pid()) - broker_before) / wall * 100.0;
    let offered = daemons as f64 * rate;
    let what = format!("{daemons} daemons → one mosquitto: events/s at a subscriber");
    report::record(Figure {
        bench: "fleet",
        what: &what,
        value: events as f64 / wall,
        unit: "events/s",
        limit: Some(("the reads offered (daemons × rate)", offered)),
        target: None,
    });
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let max = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
    for (what, value, unit) in [
        ("per-daemon RSS, mean", mean(&rss), "MiB"),
        ("per-daemon RSS, highest", max(&rss), "MiB"),
        ("per-daemon CPU, mean", mean(&cpu), "% of a core"),
        ("mosquitto CPU for the fleet", broker_cpu, "% of a core"),
    ] {
        report::record(Figure {
            bench: "fleet",
            what,
            value,
            unit,
            limit: None,
            target: None,
        });
    }
}

/// Events/s through a 3-node NATS cluster against one mosquitto in the same run, and the
/// failover gap when the gateway's node is killed.
async fn cluster(n: usize) {
    // One mosquitto: the same scans, as fast as the pty takes them.
    let single = {
        let broker = Broker::start();
        stream_through(broker.port, broker.port, "", n).await
    };
    let mut cluster = NatsCluster::start(3).await;
    let ports: Vec<u16> = cluster.nodes.iter().map(|node| node.mqtt_port).collect();
    let failover = format!(
        "failover_hosts = [\"127.0.0.1:{}\", \"127.0.0.1:{}\"]",
        ports[1], ports[2]
    );
    let through = stream_through(ports[0], ports[2], &failover, n).await;
    report::record(Figure {
        bench: "cluster",
        what: "events/s, gateway on NATS node 1 → subscriber on node 3 (R3 streams)",
        value: through,
        unit: "events/s",
        limit: Some(("one mosquitto, same scans, same run", single)),
        target: None,
    });

    // Failover: scans at 500/s, the gateway's node killed, the longest silence at the
    // subscriber and the time until the gateway is connected to another node.
    let mut gateway = Gateway::start(ports[0], ports[2], &failover).await;
    let total = 10_000;
    let mut arrived = HashMap::new();
    let (pty, sub, daemon) = (&mut gateway.pty, &mut gateway.sub, &gateway.daemon);
    let writer = write_scans(pty, 0, total, Some(500.0));
    let failover = async {
        receive_until(sub, &mut arrived, Duration::from_secs(60), |a| {
            a.len() >= 2_000
        })
        .await;
        cluster.kill(0);
        let killed = Instant::now();
        daemon
            .wait_status(Duration::from_secs(60), "on another node", |s| {
                s["broker"]["connected"] == true && s["broker"]["port"] != ports[0]
            })
            .await;
        let reconnected = killed.elapsed().as_secs_f64();
        receive_until(sub, &mut arrived, Duration::from_secs(120), |a| {
            a.len() >= total
        })
        .await;
        reconnected
    };
    let (_, reconnected) = tokio::join!(writer, failover);
    let mut times: Vec<Instant> = arrived.values().copied().collect();
    times.sort();
    let silence = times
        .windows(2)
        .map(|w| (w[1] - w[0]).as_secs_f64())
        .fold(0.0, f64::max);
    for (what, value) in [
        (
            "failover: node killed → gateway connected to another node",
            reconnected,
        ),
        (
            "failover: longest silence at the subscriber (nothing lost)",
            silence,
        ),
    ] {
        report::record(Figure {
            bench: "cluster",
            what,
            value,
            unit: "s",
            limit: None,
            target: None,
        });
    }
}

/// A backlog of `backlog` events captured while the repository is away, then drained into
/// it once it is up; against the same documents posted by `curl --parallel` (4 at a time) to
/// the same server, started afresh. Events/s captured by the repository, both ways.
async fn epcis_drain(backlog: usize) {
    use support::epcis_repository::Repository;
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let mut pty = VirtualSerialPort::new().unwrap();
    let config = dir.path().join("gw-epcis.toml");
    std::fs::write(
        &config,
        format!(
            "[gateway]\nid = \"gw-epcis\"\n\
             [location]\nread_point = \"urn:epc:id:sgln:9506000134.00.0\"\n\
             [store]\npath = \"gw-epcis.db\"\nmax_events = {}\n\
             [epcis]\nurl = \"http://127.0.0.1:{port}/\"\nretry_min_ms = 100\nretry_max_s = 1\n\
             [clock]\nsync_check = \"trust\"\n\
             {}\n",
            backlog * 2,
            scanner_on(&pty)
        ),
    )
    .unwrap();
    let daemon = daemon(&config);
    daemon.wait_devices_up().await;
    write_scans(&mut pty, 0, backlog, None).await;
    daemon
        .wait_status(Duration::from_secs(900), "the backlog captured", |s| {
            s["queue"]["undelivered"].as_u64() >= Some(backlog as u64)
        })
        .await;
    let state = std::sync::Arc::new(std::sync::Mutex::new(
        support::epcis_repository::State::default(),
    ));
    state.lock().unwrap().documents = Some(Vec::new());
    state.lock().unwrap().faults.count_only = true;
    let started = Instant::now();
    let cpu_before = cpu_s(daemon.pid());
    let repository = Repository::start_on(port, state.clone()).await;
    while repository.with(|s| s.captured_total) < backlog {
        assert!(
            started.elapsed() < Duration::from_secs(1800),
            "the drain stalled; log:\n{}",
            daemon.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // From the gateway's first request: its retry delay while the repository was away is
    // not the drain.
    let first = repository.with(|s| s.first_request).unwrap_or(started);
    let wall = first.elapsed().as_secs_f64();
    let cores = (cpu_s(daemon.pid()) - cpu_before) / started.elapsed().as_secs_f64();
    let tracegate_rate = backlog as f64 / wall;
    drop(daemon);
    let (documents, violations, posts) = repository.with(|s| {
        (
            s.documents.clone().unwrap_or_default(),
            s.violations.len(),
            s.posts,
        )
    });
    drop(repository);
    assert_eq!(
        violations, 0,
        "the documents tracegate posted are off the standard"
    );
    // The bare client: the same documents, files on disk, curl posting 4 at a time to the
    // same server, started afresh (no eventID held, so each is captured again).
    let docs_dir = dir.path().join("documents");
    std::fs::create_dir(&docs_dir).unwrap();
    let port = free_port();
    let mut curl_config = String::new();
    // One `--next` group per document: a group's data options are joined, its headers kept.
    for (i, document) in documents.iter().enumerate() {
        let file = docs_dir.join(format!("{i}.json"));
        std::fs::write(&file, document).unwrap();
        if i > 0 {
            curl_config.push_str("next\n");
        }
        curl_config.push_str(&format!(
            "url = \"http://127.0.0.1:{port}/capture\"\n\
             header = \"Content-Type: application/json\"\n\
             header = \"GS1-EPCIS-Version: 2.0.0\"\n\
             header = \"GS1-CBV-Version: 2.0.0\"\n\
             header = \"GS1-Capture-Error-Behaviour: rollback\"\n\
             data-binary = \"@{}\"\n\
             output = \"/dev/null\"\n\
             fail\n\
             silent\n\
             show-error\n",
            file.display()
        ));
    }
    let curl_file = dir.path().join("curl.config");
    std::fs::write(&curl_file, curl_config).unwrap();
    let state = std::sync::Arc::new(std::sync::Mutex::new(
        support::epcis_repository::State::default(),
    ));
    state.lock().unwrap().faults.count_only = true;
    let repository = Repository::start_on(port, state).await;
    let started = Instant::now();
    // curl's parallel progress meter ignores --silent: its stderr is kept and shown only if
    // it failed.
    let curl = tokio::process::Command::new("curl")
        .args(["--parallel", "--parallel-max", "4"])
        .arg("--config")
        .arg(&curl_file)
        .output()
        .await
        .expect("curl runs");
    assert!(
        curl.status.success(),
        "curl did not post every document: {}",
        String::from_utf8_lossy(&curl.stderr)
    );
    let bare_rate = repository.with(|s| s.captured_total) as f64 / started.elapsed().as_secs_f64();
    assert_eq!(repository.with(|s| s.captured_total), backlog);
    let what =
        format!("{backlog}-event backlog drained into an EPCIS repository ({posts} capture jobs)");
    report::record(Figure {
        bench: "epcis",
        what: &what,
        value: tracegate_rate,
        unit: "events/s",
        limit: Some((
            "the same documents, same server, curl --parallel (4)",
            bare_rate,
        )),
        target: Some(("ratio ≥ 0.8", tracegate_rate >= 0.8 * bare_rate)),
    });
    report::record(Figure {
        bench: "epcis",
        what: "daemon CPU per event drained",
        value: cores / tracegate_rate * 1e6,
        unit: "µs",
        limit: None,
        target: None,
    });
}

/// Scans `n` reads through a gateway on `port` to a subscriber on `sub_port`; events/s.
async fn stream_through(port: u16, sub_port: u16, mqtt_extra: &str, n: usize) -> f64 {
    let mut gateway = Gateway::start(port, sub_port, mqtt_extra).await;
    let (pty, sub) = (&mut gateway.pty, &mut gateway.sub);
    let started = Instant::now();
    let mut arrived = HashMap::new();
    let writer = write_scans(&mut *pty, 0, n, None);
    let receiver = receive_until(&mut *sub, &mut arrived, Duration::from_secs(600), |a| {
        a.len() >= n
    });
    tokio::join!(writer, receiver);
    n as f64 / started.elapsed().as_secs_f64()
}

/// Whether section `name` runs: all do, unless `TRACEGATE_BENCH_ONLY` names some
/// (comma-separated: `end-to-end,latency,page,footprint,card,fleet,cluster,epcis`).
fn runs(name: &str) -> bool {
    match std::env::var("TRACEGATE_BENCH_ONLY") {
        Ok(only) if !only.trim().is_empty() => only.split(',').any(|s| s.trim() == name),
        _ => true,
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let quick = report::quick();
    println!(
        "tracegate from outside ({}; {} cores)\n",
        if quick { "quick" } else { "full" },
        std::thread::available_parallelism().map_or(1, |p| p.get())
    );
    if runs("end-to-end") {
        println!("end to end");
        end_to_end(if quick { 2_000 } else { 200_000 }).await;
    }
    if runs("latency") {
        println!("\nlatency");
        let rates: &[(f64, f64)] = if quick {
            &[(100.0, 1.0), (1000.0, 1.0)]
        } else {
            &[(10.0, 20.0), (100.0, 10.0), (1000.0, 5.0), (10000.0, 3.0)]
        };
        latency(rates).await;
    }
    if runs("page") {
        println!("\nthe commissioning page");
        page_cost(
            10_000.0,
            if quick { 1.0 } else { 10.0 },
            if quick { 1 } else { 3 },
        )
        .await;
    }
    if runs("footprint") {
        println!("\nfootprint");
        if quick {
            footprint(2_000, 2).await;
        } else {
            footprint(1_000_000, 30).await;
        }
    }
    if runs("card") {
        println!("\nwhat each event costs the card");
        let card: &[(f64, f64)] = if quick {
            &[(10.0, 2.0), (1000.0, 1.0)]
        } else {
            &[(1.0, 60.0), (10.0, 30.0), (100.0, 20.0), (1000.0, 10.0)]
        };
        card_wear(card).await;
    }
    if runs("fleet") {
        println!("\nfleet");
        if quick {
            fleet(3, 50.0, 2).await;
        } else {
            fleet(50, 100.0, 20).await;
        }
    }
    if runs("cluster") {
        println!("\ncluster");
        cluster(if quick { 2_000 } else { 50_000 }).await;
    }
    if runs("epcis") {
        println!("\nEPCIS repository");
        epcis_drain(if quick { 2_000 } else { 1_000_000 }).await;
    }
}
