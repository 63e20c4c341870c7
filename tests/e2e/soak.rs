//! Nothing grows: the daemon under the demo's mixed load for a while — every device kind the
//! demo runs (serial and HID scanners raised to tens of reads/s, an LLRP dock door passing
//! pallets, an R2000 and a Chafon module, an LF stick reader, a photo-eye's GPIO edges, a
//! label printer printing), commands every few seconds, the broker restarted and the config
//! reloaded every few minutes — sampled once a second: RSS (anonymous and file-backed), open
//! file descriptors, threads, the outbox and its WAL, the log, events delivered. Each
//! quantity's slope is reported per hour; the test fails on any growth of file descriptors
//! (the median count of the second half above that of the first, after a warm-up: a leak
//! never gives back what it took, while a descriptor open for an instant moves a sample, not
//! the median), on threads beyond one more for tokio's elastic blocking pool, and on delivery
//! that stalls.
//!
//! `TRACEGATE_SOAK_S` sets the duration (the test suite: 120 s); `./scripts/soak DURATION`
//! runs it longer and writes the table to `target/soak/figures.md`.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::{Broker, Daemon, Subscriber, demo_config, send_command_to};

/// The test suite's soak.
const SOAK_S: u64 = 120;
/// Threads tokio's blocking pool may hold beyond the first half's without a leak.
const BLOCKING_POOL_SLACK: f64 = 1.0;

/// One sample of the daemon from outside.
#[derive(Debug, Clone, Copy, Default)]
struct Sample {
    at_s: f64,
    rss_kib: f64,
    rss_anon_kib: f64,
    rss_file_kib: f64,
    fds: f64,
    threads: f64,
    outbox_bytes: f64,
    wal_bytes: f64,
    log_bytes: f64,
    delivered: f64,
}

fn proc_status_kib(status: &str, key: &str) -> f64 {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0.0)
}

fn file_len(path: &std::path::Path) -> f64 {
    std::fs::metadata(path)
        .map(|m| m.len() as f64)
        .unwrap_or(0.0)
}

/// Least-squares slope of `y` over `at_s`, per hour.
fn slope_per_hour(samples: &[Sample], y: impl Fn(&Sample) -> f64) -> f64 {
    let n = samples.len() as f64;
    if n < 2.0 {
        return 0.0;
    }
    let mean_x = samples.iter().map(|s| s.at_s).sum::<f64>() / n;
    let mean_y = samples.iter().map(&y).sum::<f64>() / n;
    let (mut num, mut den) = (0.0, 0.0);
    for s in samples {
        num += (s.at_s - mean_x) * (y(s) - mean_y);
        den += (s.at_s - mean_x).powi(2);
    }
    if den == 0.0 { 0.0 } else { num / den * 3600.0 }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_a_mixed_load_with_broker_restarts_and_reloads_nothing_grows() {
    let duration = Duration::from_secs(
        std::env::var("TRACEGATE_SOAK_S")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(SOAK_S),
    );
    // Every few minutes in a long run; six times in a short one, so that a thread or a
    // descriptor leaked per restart or reload shows between the halves.
    let every = (duration / 6).min(Duration::from_secs(180));
    let mut broker = Broker::start();
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(dir.path(), broker.port);
    let outbox = dir.path().join("outbox.db");
    let wal = dir.path().join("outbox.db-wal");
    let mut ctl = Subscriber::connect(
        broker.port,
        &["tracegate/gw-demo/reply/+", "tracegate/gw-demo/status"],
    )
    .await;
    // At the log level a gateway runs at (the tests' default is debug).
    let daemon = Daemon::start_with_env(&config, &[("TRACEGATE_LOG", "info")]);
    daemon.wait_devices_up().await;
    ctl.wait_online(daemon.pid()).await;
    let pid = daemon.pid();
    let log = daemon.log_path();

    let started = Instant::now();
    let mut samples: Vec<Sample> = Vec::new();
    let (mut restarts, mut reloads, mut commands) = (0u32, 0u32, 0u64);
    let mut next_restart = every;
    let mut next_reload = every + every / 2;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while started.elapsed() < duration {
        tick.tick().await;
        let at = started.elapsed();
        // Commands every few seconds: a light, a label, the queue's counts.
        let n = at.as_secs();
        if n.is_multiple_of(3) {
            let (name, body) = match (n / 3) % 3 {
                0 => (
                    "output",
                    json!({"device": "dock-light", "line": "green", "state": "on", "for_ms": 200}),
                ),
                1 => (
                    "print",
                    json!({"device": "line-printer", "template": "case", "key": format!("soak-{n}"),
                           "vars": {"gtin": "09506000134352", "lot": "S1", "expiry": "271231", "serial": n.to_string()}}),
                ),
                _ => ("print-status", json!({})),
            };
            send_command_to(&ctl, "tracegate/gw-demo", name, &format!("soak-{n}"), body).await;
            commands += 1;
        }
        // Drain the replies and statuses (a subscriber that never reads would hold the broker's
        // queue, not the daemon's).
        while ctl.next(Duration::from_millis(1)).await.is_some() {}
        if at >= next_restart {
            broker.restart();
            restarts += 1;
            next_restart += every;
        }
        if at >= next_reload {
            crate::support::signal(pid, libc::SIGHUP);
            reloads += 1;
            next_reload += every;
        }
        let status =
            std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the daemon is running");
        let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
            .unwrap()
            .count();
        let delivered = daemon
            .status()
            .await
            .map(|s| s["queue"]["delivered_total"].as_f64().unwrap_or(0.0))
            .unwrap_or(0.0);
        samples.push(Sample {
            at_s: at.as_secs_f64(),
            rss_kib: proc_status_kib(&status, "VmRSS:"),
            rss_anon_kib: proc_status_kib(&status, "RssAnon:"),
            rss_file_kib: proc_status_kib(&status, "RssFile:"),
            fds: fds as f64,
            threads: proc_status_kib(&status, "Threads:"),
            outbox_bytes: file_len(&outbox),
            wal_bytes: file_len(&wal),
            log_bytes: file_len(&log),
            delivered,
        });
    }

    // The first fifth is warm-up (caches, the first connections, the first pass of each
    // simulated device); the rest is compared half against half.
    let steady = &samples[samples.len() / 5..];
    let (first, second) = steady.split_at(steady.len() / 2);
    let max = |part: &[Sample], y: fn(&Sample) -> f64| part.iter().map(y).fold(0.0, f64::max);
    let median = |part: &[Sample], y: fn(&Sample) -> f64| {
        let mut values: Vec<f64> = part.iter().map(y).collect();
        values.sort_by(f64::total_cmp);
        values.get(values.len() / 2).copied().unwrap_or(0.0)
    };
    type Quantity = (&'static str, &'static str, fn(&Sample) -> f64, f64);
    let quantities: [Quantity; 9] = [
        ("RSS", "MiB", |s| s.rss_kib, 1024.0),
        ("RssAnon", "MiB", |s| s.rss_anon_kib, 1024.0),
        ("RssFile", "MiB", |s| s.rss_file_kib, 1024.0),
        ("open file descriptors", "", |s| s.fds, 1.0),
        ("threads", "", |s| s.threads, 1.0),
        ("outbox file", "MiB", |s| s.outbox_bytes, 1048576.0),
        ("WAL file", "MiB", |s| s.wal_bytes, 1048576.0),
        ("log", "KiB", |s| s.log_bytes, 1024.0),
        ("events delivered", "", |s| s.delivered, 1.0),
    ];
    let mut table = format!(
        "soak: {:.0} s, broker restarted {restarts}×, config reloaded {reloads}×, {commands} \
         commands, {} samples\n\n| quantity | at the start of the steady part | at the end | \
         median, first half | median, second half | highest | slope per hour |\n| --- | --- | --- \
         | --- | --- | --- | --- |\n",
        started.elapsed().as_secs_f64(),
        samples.len()
    );
    for (name, unit, y, scale) in quantities {
        let unit = if unit.is_empty() {
            String::new()
        } else {
            format!(" {unit}")
        };
        table.push_str(&format!(
            "| {name} | {:.1}{unit} | {:.1}{unit} | {:.1}{unit} | {:.1}{unit} | {:.1}{unit} | {:+.2}{unit} |\n",
            y(&steady[0]) / scale,
            y(steady.last().unwrap()) / scale,
            median(first, y) / scale,
            median(second, y) / scale,
            max(steady, y) / scale,
            slope_per_hour(steady, y) / scale,
        ));
    }
    eprintln!("{table}");
    let out = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/soak"));
    std::fs::create_dir_all(out).unwrap();
    std::fs::write(out.join("figures.md"), &table).unwrap();

    assert!(
        median(second, |s| s.fds) <= median(first, |s| s.fds),
        "open file descriptors grew:\n{table}"
    );
    // tokio's blocking pool is elastic (a thread joins while two outbox reads overlap and
    // leaves after 10 s idle): one more is the pool, two more is a leak (at least two
    // restarts or reloads fall in each half).
    assert!(
        median(second, |s| s.threads) <= median(first, |s| s.threads) + BLOCKING_POOL_SLACK,
        "threads grew:\n{table}"
    );
    assert!(restarts >= 1 && reloads >= 1, "{table}");
    // Delivery went on across the broker's restarts: more delivered in the second half.
    assert!(
        second.last().unwrap().delivered > first.last().unwrap().delivered,
        "delivery stalled:\n{table}"
    );
    let status = daemon.status().await.expect("status");
    assert_eq!(status["queue"]["lost_total"], 0, "{status}");
}
