//! The wall clock steps (issue 33, item 3). A Pi without a real-time clock boots at the time
//! it last saved (or 1970), then NTP steps the clock — by hours or days, forward or back. The
//! daemon runs under libfaketime (Debian's `faketime`), its wall clock (`CLOCK_REALTIME`)
//! moved by the test while the monotonic and boot clocks run true
//! (`FAKETIME_DONT_FAKE_MONOTONIC`), as an NTP step moves them:
//! - a boot in 1970: reads are held (the clock is below the floor), then released with their
//!   true time once the clock is set (`now − (boottime_now − boottime_at_read)`);
//! - steps of hours back and forth while reads flow: every read is delivered dated by the wall
//!   clock at its read, the broker session is not dropped (keepalives run on the monotonic
//!   clock), a double scan inside `dedupe_ms` across a step is still one read, and no
//!   duration in status goes negative;
//! - the demo's every simulated kind under steps of −5 h and +7 h: the LLRP door's passes (tag
//!   smoothing, departures), the photo-eye's debounced edges, the LF reader's depart timer and
//!   a fast scanner all move on, a label goes through the durable queue after each step, the
//!   capacity estimate stays sane and the log's rate limit holds.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{
    Broker, Daemon, Received, Subscriber, TestConfig, codes, scan, serial_scanner,
};
use tracegate_drivers::sim::VirtualSerialPort;

/// Debian's libfaketime (package `faketime`, installed by scripts/test).
fn libfaketime() -> PathBuf {
    let found = std::fs::read_dir("/usr/lib")
        .into_iter()
        .flatten()
        .flatten()
        .map(|dir| dir.path().join("faketime/libfaketimeMT.so.1"))
        .find(|p| p.exists());
    found.expect("libfaketime is missing: install Debian's `faketime` (scripts/test does)")
}

/// The daemon under a wall clock the test moves through `clock_file` (libfaketime's
/// `FAKETIME_TIMESTAMP_FILE`: `+0`, `-3h`, `@1970-01-01 00:00:00` …, read again every second).
fn start_faked(config: &Path, clock_file: &Path) -> Daemon {
    let preload = libfaketime();
    Daemon::start_with_env(
        config,
        &[
            ("LD_PRELOAD", preload.to_str().unwrap()),
            ("FAKETIME_TIMESTAMP_FILE", clock_file.to_str().unwrap()),
            ("FAKETIME_CACHE_DURATION", "1"),
            ("FAKETIME_DONT_FAKE_MONOTONIC", "1"),
        ],
    )
}

/// The daemon's wall clock, as its `ping` answers on the control socket at `socket`.
async fn daemon_now(socket: &Path) -> jiff::Timestamp {
    let reply = tracegate::commands::control::request(
        socket,
        &json!({"cmd": "command", "name": "ping", "args": {}}),
    )
    .await
    .expect("ping");
    reply["result"]["pong"]
        .as_str()
        .unwrap_or_else(|| panic!("ping answered {reply}"))
        .parse()
        .unwrap()
}

/// Moves the daemon's wall clock to `offset` and waits until it says so (within 2 s).
async fn step(config: &Path, clock_file: &Path, offset: &str, by_s: i64) {
    let socket =
        tracegate::config::Config::load_for_tools(config, &tracegate::capture::devices::builtin())
            .unwrap()
            .control_socket();
    std::fs::write(clock_file, offset).unwrap();
    // libfaketime reads the file again once a second: ask until the daemon's clock moved.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let off = daemon_now(&socket).await.as_second() - jiff::Timestamp::now().as_second();
        if (off - by_s).abs() <= 2 {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the daemon's clock is {off} s off, not {by_s} s, after writing {offset:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every number in `status` under a key that names a duration or an age.
fn negative_durations(value: &Value, path: &str, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let here = format!("{path}.{k}");
                let timed = ["_s", "_ms", "_us", "age", "uptime", "since_s", "lag"]
                    .iter()
                    .any(|s| k.ends_with(s));
                if timed && v.as_f64().is_some_and(|n| n < 0.0) {
                    found.push(format!("{here} = {v}"));
                }
                negative_durations(v, &here, found);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                negative_durations(v, &format!("{path}[{i}]"), found);
            }
        }
        _ => {}
    }
}

fn event_time(event: &Value) -> jiff::Timestamp {
    event["eventTime"].as_str().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_booting_in_1970_holds_reads_then_dates_them_truly_once_the_clock_is_set() {
    let broker = Broker::start();
    let mut pty = VirtualSerialPort::new().unwrap();
    let config = TestConfig::new(broker.port, "", &serial_scanner("door", pty.path()));
    let clock = config.dir.path().join("faketime");
    std::fs::write(&clock, "@1970-01-01 00:00:00").unwrap();
    let mut sub = Subscriber::connect(broker.port, &["tracegate/gw-test/events"]).await;
    let daemon = start_faked(&config.path, &clock);
    daemon.wait_devices_up().await;

    let scanned_at = jiff::Timestamp::now();
    let sent = codes("BOOT", 5);
    scan(&mut pty, &sent).await;
    let status = daemon
        .wait_status(Duration::from_secs(20), "reads held", |s| {
            s["clock"]["held"] == 5
        })
        .await;
    let mut found = Vec::new();
    negative_durations(&status, "status", &mut found);
    assert!(found.is_empty(), "negative durations while held: {found:?}");
    assert_eq!(status["broker"]["events_published_total"], 0, "{status}");
    // The operator is told to set the clock, not to trust one that reads 1970.
    let advice = status["clock"]["advice"].as_str().unwrap();
    assert!(advice.contains("has not been set"), "{advice}");
    assert!(!advice.contains("set sync_check"), "{advice}");

    // NTP sets the clock: the held reads go out dated when they were read.
    std::fs::write(&clock, "+0").unwrap();
    let mut got = Received::default();
    got.collect_until(&mut sub, Duration::from_secs(30), |r| r.events.len() >= 5)
        .await;
    for event in &got.events {
        let off = (event_time(event).as_millisecond() - scanned_at.as_millisecond()).abs();
        assert!(
            off < 3_000,
            "a held read released {off} ms from when it was read: {event}"
        );
        assert_ne!(
            event["tg:timeEstimated"], true,
            "same boot: exact, not estimated"
        );
    }
    assert_eq!(got.first_arrivals(), sent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steps_of_hours_back_and_forth_while_reads_flow_lose_nothing_and_stall_nothing() {
    let broker = Broker::start();
    let mut pty = VirtualSerialPort::new().unwrap();
    let config = TestConfig::new(
        broker.port,
        "",
        &format!("{}dedupe_ms = 5000\n", serial_scanner("door", pty.path())),
    );
    let clock = config.dir.path().join("faketime");
    std::fs::write(&clock, "+0").unwrap();
    let mut sub = Subscriber::connect(broker.port, &["tracegate/gw-test/events"]).await;
    let daemon = start_faked(&config.path, &clock);
    let started = std::time::Instant::now();
    daemon.wait_devices_up().await;
    let mut got = Received::default();
    let mut expected = Vec::new();

    for (round, (offset, by_s)) in [
        ("+0", 0),
        ("-3h", -3 * 3600),
        ("+5h", 5 * 3600),
        ("-2d", -2 * 86400),
    ]
    .into_iter()
    .enumerate()
    {
        step(&config.path, &clock, offset, by_s).await;
        let sent = codes(&format!("STEP{round}"), 5);
        let scanned_at = jiff::Timestamp::now().as_second() + by_s;
        scan(&mut pty, &sent).await;
        expected.extend(sent.iter().cloned());
        got.collect_until(&mut sub, Duration::from_secs(30), |r| {
            r.distinct_reads() == expected.len()
        })
        .await;
        for event in got.events.iter().filter(|e| {
            e["tg:rawData"]
                .as_str()
                .is_some_and(|r| r.starts_with(&format!("STEP{round}")))
        }) {
            let off = (event_time(event).as_second() - scanned_at).abs();
            assert!(
                off <= 3,
                "round {round} ({offset}): eventTime {off} s from the wall clock at the read: {event}"
            );
        }
    }
    // A double scan across a step: the same code again 1 s later, the clock stepped back
    // meanwhile: one read (the window is the monotonic clock's).
    scan(&mut pty, &["DOUBLE-1".to_string()]).await;
    step(&config.path, &clock, "-6h", -6 * 3600).await;
    scan(&mut pty, &["DOUBLE-1".to_string()]).await;
    expected.push("DOUBLE-1".to_string());
    let status = daemon
        .wait_status(Duration::from_secs(20), "the double scan judged", |s| {
            s["devices"][0]["duplicates_total"] == 1
        })
        .await;
    got.collect_until(&mut sub, Duration::from_secs(30), |r| {
        r.distinct_reads() == expected.len()
    })
    .await;
    assert_eq!(got.first_arrivals(), expected, "every read once, in order");
    assert_eq!(
        got.events
            .iter()
            .filter(|e| e["tg:rawData"] == "DOUBLE-1")
            .count(),
        1,
        "a double scan across a step is one read"
    );
    assert_eq!(
        status["broker"]["reconnects_total"], 0,
        "a clock step dropped the broker session: {status}"
    );
    let mut found = Vec::new();
    negative_durations(&status, "status", &mut found);
    assert!(
        found.is_empty(),
        "negative durations after the steps: {found:?}"
    );
    // Uptime is the monotonic clock's: the wall clock stepped six hours back (and two days
    // before that) does not reset it to 0.
    let uptime = status["daemon"]["uptime_s"].as_u64().unwrap();
    let running = started.elapsed().as_secs();
    assert!(
        uptime >= 2 && uptime <= running + 1,
        "uptime {uptime} s after {running} s running"
    );
}

/// The status entry of device `id`.
fn device<'a>(status: &'a Value, id: &str) -> &'a Value {
    status["devices"]
        .as_array()
        .and_then(|d| d.iter().find(|d| d["id"] == id))
        .unwrap_or(&Value::Null)
}

/// What moves on each timer-driven device of the demo: an LLRP dock door's passes (tag
/// smoothing and departures), a photo-eye's debounced edges, an LF stick reader's arrivals
/// (its depart timer), a fast line scanner.
fn progress(status: &Value) -> [u64; 4] {
    let n = |id: &str, key: &str| device(status, id)[key].as_u64().unwrap_or(0);
    [
        n("dock-door-rfid", "reads_total"),
        n("dock-eye", "edges_total"),
        n("stick", "reads_total"),
        n("line-1-scanner", "reads_total"),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_timer_of_the_demo_gateway_runs_on_across_steps() {
    let broker = Broker::start();
    let dir = tempfile::tempdir().unwrap();
    let config = crate::support::demo_config(dir.path(), broker.port);
    let clock = dir.path().join("faketime");
    std::fs::write(&clock, "+0").unwrap();
    let mut ctl = Subscriber::connect(
        broker.port,
        &["tracegate/gw-demo/reply/+", "tracegate/gw-demo/status"],
    )
    .await;
    let daemon = start_faked(&config, &clock);
    let started = std::time::Instant::now();
    daemon.wait_devices_up().await;
    // Commands sent before the daemon has subscribed would be lost (a clean session).
    ctl.wait_online(daemon.pid()).await;

    for (round, (offset, by_s)) in [("+0", 0), ("-5h", -5 * 3600), ("+7h", 7 * 3600)]
        .into_iter()
        .enumerate()
    {
        step(&config, &clock, offset, by_s).await;
        let before = progress(&daemon.status().await.expect("status"));
        // A label through the durable queue (its retries and status polls are timers too).
        crate::support::send_command_to(
            &ctl,
            "tracegate/gw-demo",
            "print",
            &format!("print-{round}"),
            json!({"device": "line-printer", "template": "case", "key": format!("step-{round}"),
                   "vars": {"gtin": "09506000134352", "lot": "S1", "expiry": "271231",
                            "serial": round.to_string()}}),
        )
        .await;
        let printed = round + 1;
        // Every timer-driven device moves on within two of its periods (the door and the
        // photo-eye every 5 s, the stick every 4 s).
        let status = daemon
            .wait_status(Duration::from_secs(20), "every device moves on", |s| {
                let now = progress(s);
                now.iter().zip(before).all(|(now, then)| *now > then)
                    && s["print"]["confirmed"] == printed
            })
            .await;
        let mut found = Vec::new();
        negative_durations(&status, "status", &mut found);
        assert!(
            found.is_empty(),
            "after {offset}: negative durations {found:?}"
        );
        let days = &status["queue"]["capacity_left_days"];
        assert!(
            days.is_null() || days.as_f64().is_some_and(|d| d >= 0.0),
            "after {offset}: capacity_left_days {days}"
        );
    }
    let status = daemon.status().await.expect("status");
    assert_eq!(
        status["broker"]["reconnects_total"], 0,
        "a step dropped the broker session: {status}"
    );
    // The log's rate limit (5 lines per 10 s per device) held through the steps: the dock
    // scanner's bad code, a third of its reads, was not logged each time.
    let refused = daemon
        .log()
        .lines()
        .filter(|l| l.contains("REFUSED read") && l.contains("dock-scanner"))
        .count();
    assert!(
        refused > 0,
        "no refused-read line at all: the pattern no longer matches"
    );
    let windows = started.elapsed().as_secs() / 10 + 1;
    assert!(
        refused as u64 <= 5 * windows,
        "{refused} refused-read lines in {windows} windows of 10 s"
    );
    let rejects = device(&status, "dock-scanner")["rejects_total"]
        .as_u64()
        .unwrap();
    assert!(
        rejects > refused as u64,
        "{rejects} rejects, {refused} logged"
    );
}
