//! Fault injection against the outbox, from outside: an event too large to send, a case of
//! thousands of items, an event already in the outbox that cannot be sent, a full disk on a
//! small file system, a page scribbled over, a torn write-ahead log. Nothing may stop
//! delivery of the rest, and every loss is detected and said.

use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::{
    Broker, Daemon, Received, Subscriber, TestConfig, codes, free_port, scan, serial_scanner,
    tracegate,
};
use tracegate_drivers::sim::VirtualSerialPort;

/// Sets `[mqtt] key = value` in the config (the test config writes `port = …` first).
fn set_mqtt(config: &TestConfig, line: &str) {
    let text = std::fs::read_to_string(&config.path).unwrap();
    let text = text.replacen("[mqtt]\n", &format!("[mqtt]\n{line}\n"), 1);
    std::fs::write(&config.path, text).unwrap();
}

/// Points the config at the broker on `port`.
fn set_port(config: &TestConfig, port: u16) {
    let text = std::fs::read_to_string(&config.path).unwrap();
    let start = text.find("\nport = ").unwrap() + 1;
    let end = start + text[start..].find('\n').unwrap();
    let text = format!("{}port = {port}{}", &text[..start], &text[end..]);
    std::fs::write(&config.path, text).unwrap();
}

fn plain_scanner(id: &str, pty: &VirtualSerialPort) -> String {
    format!(
        "{}decode_as = \"plain\"\nmax_frame_len = 262144\n",
        serial_scanner(id, pty.path())
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_too_large_to_send_is_refused_at_capture_and_a_big_case_is_recorded_in_parts() {
    let broker = Broker::start();
    let mut plain = VirtualSerialPort::new().unwrap();
    let mut packer = VirtualSerialPort::new().unwrap();
    let devices = format!(
        "{}{}event = \"aggregation\"\nbiz_step = \"packing\"\n",
        plain_scanner("plain", &plain),
        serial_scanner("packer", packer.path())
    );
    let config = TestConfig::new(broker.port, "", &devices);
    set_mqtt(&config, "batch_max_bytes = \"64KiB\"");
    let mut sub = Subscriber::connect(broker.port, &["tracegate/gw-test/events"]).await;
    let daemon = Daemon::start(&config.path);
    daemon.wait_devices_up().await;

    // 70 KB of text makes an event larger than one message may carry: refused, counted.
    scan(
        &mut plain,
        &["X".repeat(70_000), "AFTER-THE-BIG-ONE".to_string()],
    )
    .await;
    // A case of 1,200 items: three AggregationEvents with the same parent.
    let items: Vec<String> = (0..1200)
        .map(|i| format!("]d2018061414112345821{i}"))
        .collect();
    scan(&mut packer, &items).await;
    scan(&mut packer, &["]C100106141411234567897"]).await;

    let mut got = Received::default();
    got.collect_until(&mut sub, Duration::from_secs(60), |r| {
        r.events
            .iter()
            .filter(|e| e["type"] == "AggregationEvent")
            .count()
            >= 3
            && r.events
                .iter()
                .any(|e| e["tg:rawData"] == "AFTER-THE-BIG-ONE")
    })
    .await;
    let parts: Vec<&serde_json::Value> = got
        .events
        .iter()
        .filter(|e| e["type"] == "AggregationEvent")
        .collect();
    assert_eq!(parts.len(), 3);
    let children: usize = parts
        .iter()
        .map(|e| e["childEPCs"].as_array().unwrap().len())
        .sum();
    assert_eq!(children, 1200);
    for (i, part) in parts.iter().enumerate() {
        assert_eq!(part["parentID"], "urn:epc:id:sscc:0614141.1123456789");
        assert_eq!(part["tg:casePart"], i + 1);
        assert_eq!(part["tg:caseParts"], 3);
    }
    assert!(
        !got.events.iter().any(|e| e["tg:rawData"]
            .as_str()
            .is_some_and(|r| r.starts_with("XXXX"))),
        "the oversized read was not published"
    );
    let status = daemon.status().await.unwrap();
    assert_eq!(status["devices"][0]["oversized_total"], 1, "{status}");
    assert!(daemon.log().contains("more than the uplink can send"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_in_the_outbox_that_cannot_be_sent_is_set_aside_and_the_rest_delivered() {
    let broker = Broker::start();
    let mut pty = VirtualSerialPort::new().unwrap();
    // First offline, with a generous message size: three events committed.
    let config = TestConfig::new(free_port(), "", &plain_scanner("plain", &pty));
    set_mqtt(&config, "batch_max_bytes = \"256KiB\"");
    let mut daemon = Daemon::start(&config.path);
    daemon.wait_devices_up().await;
    scan(
        &mut pty,
        &[
            "BEFORE".to_string(),
            "B".repeat(100_000),
            "AFTER".to_string(),
        ],
    )
    .await;
    daemon
        .wait_status(Duration::from_secs(20), "three committed", |s| {
            s["queue"]["undelivered"] == 3
        })
        .await;
    assert!(daemon.terminate().success());

    // Then online with a smaller one: the 100 KB event can never go; it must not block.
    set_port(&config, broker.port);
    let text = std::fs::read_to_string(&config.path).unwrap();
    std::fs::write(
        &config.path,
        text.replace(
            "batch_max_bytes = \"256KiB\"",
            "batch_max_bytes = \"64KiB\"",
        ),
    )
    .unwrap();
    let mut sub = Subscriber::connect(broker.port, &["tracegate/gw-test/events"]).await;
    let daemon = Daemon::start(&config.path);
    let mut got = Received::default();
    got.collect_until(&mut sub, Duration::from_secs(30), |r| {
        r.distinct_reads() >= 2
    })
    .await;
    assert_eq!(got.first_arrivals(), ["BEFORE", "AFTER"]);
    let status = daemon
        .wait_status(Duration::from_secs(20), "nothing left", |s| {
            s["queue"]["undelivered"] == 0
        })
        .await;
    assert_eq!(status["queue"]["set_aside_total"], 1, "{status}");
    let (code, out, err) = tracegate(&[
        "events",
        "set-aside",
        "--config",
        config.path.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1);
    assert!(
        lines[0]["reason"]
            .as_str()
            .unwrap()
            .contains("mqtt.batch_max_bytes = 65536")
    );
    assert_eq!(
        lines[0]["event"]["tg:rawData"].as_str().unwrap().len(),
        100_000
    );
}

/// A tmpfs mounted for the test, unmounted when dropped.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    /// A file system of `size` (tmpfs syntax, `1m`). None (said) where mounting is not allowed.
    fn mount(size: &str) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().unwrap();
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status();
        match status {
            Ok(s) if s.success() => Some(SmallDisk { dir }),
            _ => None,
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn grow(&self, size: &str) {
        let status = std::process::Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(self.dir.path())
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_an_outbox_state_and_delivery_marks_are_written_once_space_is_back() {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let Some(disk) = SmallDisk::mount("1m") else {
        assert!(
            !root,
            "running as root but a tmpfs could not be mounted: the disk-full test cannot run"
        );
        eprintln!(
            "FALLBACK: not root, so no small file system could be mounted; the disk-full test did not run"
        );
        return;
    };
    let broker = Broker::start();
    let mut pty = VirtualSerialPort::new().unwrap();
    let config = TestConfig::new(
        broker.port,
        "wal_max_bytes = \"64KiB\"",
        &serial_scanner("door", pty.path()),
    );
    let text = std::fs::read_to_string(&config.path).unwrap();
    let outbox = disk.path().join("outbox.db");
    std::fs::write(
        &config.path,
        text.replace(
            "path = \"outbox.db\"",
            &format!("path = \"{}\"", outbox.display()),
        ),
    )
    .unwrap();
    let mut sub = Subscriber::connect(broker.port, &["tracegate/gw-test/events"]).await;
    let daemon = Daemon::start(&config.path);
    daemon.wait_devices_up().await;

    // Reads until the 1 MiB file system is full.
    let sent = codes("FULL", 6000);
    scan(&mut pty, &sent).await;
    let status = daemon
        .wait_status(Duration::from_secs(60), "disk full seen", |s| {
            s["queue"]["disk_full"] == true
        })
        .await;
    let (_, human, _) = tracegate(&["status", "--config", config.path.to_str().unwrap()]);
    assert!(human.contains("DISK     FULL"), "{human}");
    assert!(
        status["devices"][0]["errors_total"].as_u64().unwrap() > 0,
        "reads refused"
    );

    // Space comes back: capture resumes, the marks that failed are written, nothing stays
    // "undelivered" that the subscriber has.
    disk.grow("16m");
    let after = codes("AFTER", 20);
    scan(&mut pty, &after).await;
    let status = daemon
        .wait_status(Duration::from_secs(60), "recovered", |s| {
            s["queue"]["disk_full"] == false
                && s["queue"]["undelivered"] == 0
                && s["queue"]["pending_retries"] == 0
        })
        .await;
    assert!(status["queue"]["write_failures_total"].as_u64().unwrap() > 0);
    let mut got = Received::default();
    got.collect_until(&mut sub, Duration::from_secs(30), |r| {
        after.iter().all(|c| r.has_read(c))
    })
    .await;
    assert!(daemon.log().contains("DISK FULL"));
    // Every read captured while space lasted was delivered, ahead of the later ones.
    let fitted = got
        .first_arrivals()
        .iter()
        .filter(|c| c.starts_with("FULL"))
        .count();
    eprintln!(
        "1 MiB file system: {fitted} of {} reads captured before it was full",
        sent.len()
    );
    assert!(fitted >= 300, "only {fitted} events fit in 1 MiB");
    drop(daemon);
}

/// Writes `len` bytes of `byte` at `offset` of `path`.
fn scribble(path: &Path, offset: u64, len: usize, byte: u8) {
    let mut file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    file.seek(SeekFrom::Start(offset)).unwrap();
    file.write_all(&vec![byte; len]).unwrap();
    file.sync_all().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scribbled_outbox_is_moved_aside_and_what_can_be_read_is_delivered() {
    let broker = Broker::start();
    let mut pty = VirtualSerialPort::new().unwrap();
    let config = TestConfig::new(free_port(), "", &serial_scanner("door", pty.path()));
    let mut daemon = Daemon::start(&config.path);
    daemon.wait_devices_up().await;
    let sent = codes("DAMAGE", 3000);
    scan(&mut pty, &sent).await;
    daemon
        .wait_status(Duration::from_secs(30), "all committed", |s| {
            s["queue"]["undelivered"] == 3000
        })
        .await;
    assert!(daemon.terminate().success()); // checkpointed: everything is in the file

    // Eight page headers in the middle of the file zeroed.
    let len = std::fs::metadata(config.outbox()).unwrap().len();
    let pages = len / 4096;
    for p in 0..8 {
        scribble(&config.outbox(), (pages / 2 + p * 3) * 4096, 16, 0);
    }
    set_port(&config, broker.port);
    let mut sub = Subscriber::connect(broker.port, &["tracegate/gw-test/events"]).await;
    let daemon = Daemon::start(&config.path);
    let status = daemon
        .wait_status(Duration::from_secs(60), "salvaged and delivered", |s| {
            s["queue"]["salvaged_total"].as_u64().unwrap_or(0) > 0 && s["queue"]["undelivered"] == 0
        })
        .await;
    let salvaged = status["queue"]["salvaged_total"].as_u64().unwrap();
    let lost = status["queue"]["lost_total"].as_u64().unwrap();
    eprintln!(
        "8 zeroed page headers in a 3,000-event outbox: {salvaged} salvaged, {lost} unreadable"
    );
    assert!(salvaged >= 2800, "only {salvaged} salvaged");
    let mut got = Received::default();
    got.collect_until(&mut sub, Duration::from_secs(60), |r| {
        r.distinct_reads() as u64 >= salvaged
    })
    .await;
    assert!(daemon.log().contains("SALVAGED"));
    // The moved file can still be inspected.
    let moved = std::fs::read_dir(config.dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .contains(".unusable-")
                && !p.to_string_lossy().ends_with("-wal")
                && !p.to_string_lossy().ends_with("-shm")
        })
        .expect("the moved file");
    let (code, out, err) =
        tracegate(&["events", "tail", "-n", "5", "--db", moved.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 5, "{out}{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_torn_write_ahead_log_is_detected_and_the_loss_counted() {
    let broker = Broker::start();
    let mut pty = VirtualSerialPort::new().unwrap();
    // A WAL large enough to hold everything: nothing is checkpointed before the kill.
    let config = TestConfig::new(
        free_port(),
        "wal_max_bytes = \"64MiB\"",
        &serial_scanner("door", pty.path()),
    );
    let mut daemon = Daemon::start(&config.path);
    daemon.wait_devices_up().await;
    let sent = codes("TORN", 2000);
    scan(&mut pty, &sent).await;
    daemon
        .wait_status(Duration::from_secs(30), "all committed", |s| {
            s["queue"]["undelivered"] == 2000
        })
        .await;
    daemon.kill();
    let wal = config.outbox().with_extension("db-wal");
    let len = std::fs::metadata(&wal).unwrap().len();
    assert!(len > 100_000, "the events are in the WAL ({len} bytes)");
    scribble(&wal, len / 2, 4096, 0xA5);

    set_port(&config, broker.port);
    let mut sub = Subscriber::connect(broker.port, &["tracegate/gw-test/events"]).await;
    let daemon = Daemon::start(&config.path);
    let status = daemon
        .wait_status(Duration::from_secs(60), "delivered what is left", |s| {
            s["queue"]["undelivered"] == 0 && s["broker"]["connected"] == true
        })
        .await;
    let lost = status["queue"]["lost_total"].as_u64().unwrap();
    let delivered = status["queue"]["delivered_total"].as_u64().unwrap();
    eprintln!("torn WAL: {delivered} delivered, {lost} committed events detected lost");
    assert!(lost > 0, "the loss is detected");
    assert_eq!(
        lost + delivered,
        2000,
        "every committed event delivered or counted lost"
    );
    assert!(daemon.log().contains("COMMITTED EVENTS LOST"));
    let mut got = Received::default();
    let deadline = Instant::now() + Duration::from_secs(30);
    got.collect_until(&mut sub, deadline - Instant::now(), |r| {
        r.distinct_reads() as u64 >= delivered
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_or_empty_high_water_mark_is_said_not_taken_as_no_loss() {
    // A power cut before the mark beside the outbox was ever synced leaves it missing or
    // empty: the daemon cannot then tell whether committed events were lost, and says so.
    let mut pty = VirtualSerialPort::new().unwrap();
    let config = TestConfig::new(free_port(), "", &serial_scanner("door", pty.path()));
    let mark = {
        let mut s = config.outbox().into_os_string();
        s.push(".seq");
        std::path::PathBuf::from(s)
    };
    let mut daemon = Daemon::start(&config.path);
    daemon.wait_devices_up().await;
    scan(&mut pty, &codes("MARK", 20)).await;
    daemon
        .wait_status(Duration::from_secs(30), "all committed", |s| {
            s["queue"]["undelivered"] == 20
        })
        .await;
    assert!(daemon.terminate().success());
    // A clean stop leaves the mark synced at the last commit.
    let on_disk = std::fs::read_to_string(&mark).unwrap();
    assert_eq!(on_disk.trim().parse::<i64>().unwrap(), 20, "{on_disk:?}");

    for (damage, word) in [(None, "missing"), (Some(&b""[..]), "unreadable")] {
        match damage {
            None => std::fs::remove_file(&mark).unwrap(),
            Some(bytes) => std::fs::write(&mark, bytes).unwrap(),
        }
        let mut daemon = Daemon::start(&config.path);
        daemon
            .wait_status(Duration::from_secs(30), "started", |s| {
                s["queue"]["undelivered"] == 20
            })
            .await;
        assert!(daemon.terminate().success());
        let log = daemon.log();
        assert!(
            log.contains(&format!(
                "the committed high-water mark beside the outbox is {word}"
            )),
            "{log}"
        );
        assert!(log.contains("cannot be ruled out"), "{log}");
        // And the mark is made again, whole.
        let on_disk = std::fs::read_to_string(&mark).unwrap();
        assert_eq!(on_disk.trim().parse::<i64>().unwrap(), 20, "{on_disk:?}");
    }
}
