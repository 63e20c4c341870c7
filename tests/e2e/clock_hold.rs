//! On a host whose kernel does not report the clock synchronised (no NTP daemon: this CI
//! machine, many VMs), the default `sync_check = "kernel"` holds every read. The product
//! says so where a user looks — `tracegate status` and the status report show the held
//! count, since when, and the key to set — and a reload to `sync_check = "trust"` is
//! reported as needing a restart, after which the held reads go out.

use std::time::Duration;

use crate::support::{
    Broker, Daemon, Received, Subscriber, TestConfig, codes, scan, serial_scanner, tracegate,
};
use tracegate_drivers::sim::VirtualSerialPort;

/// What this kernel says, read the way the daemon reads it.
fn kernel_synced() -> bool {
    // SAFETY: adjtimex with modes = 0 only reads; the struct is zero-initialised.
    let mut tx: libc::timex = unsafe { std::mem::zeroed() };
    let state = unsafe { libc::adjtimex(&mut tx) };
    state != -1 && state != libc::TIME_ERROR && tx.status & libc::STA_UNSYNC == 0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_reads_are_explained_in_status_and_go_out_once_the_clock_is_trusted() {
    let broker = Broker::start();
    let mut pty = VirtualSerialPort::new().unwrap();
    let config = TestConfig::new(broker.port, "", &serial_scanner("door", pty.path()));
    let text = std::fs::read_to_string(&config.path).unwrap();
    std::fs::write(
        &config.path,
        text.replace("sync_check = \"trust\"", "sync_check = \"kernel\""),
    )
    .unwrap();
    let mut sub = Subscriber::connect(broker.port, &["tracegate/gw-test/events"]).await;
    let mut daemon = Daemon::start(&config.path);
    daemon.wait_devices_up().await;
    let sent = codes("HELD", 5);
    scan(&mut pty, &sent).await;

    if kernel_synced() {
        // An NTP daemon runs here: nothing is held, and status says the clock is trusted.
        let status = daemon
            .wait_status(Duration::from_secs(10), "reads published", |s| {
                s["queue"]["undelivered"] == 0 && s["broker"]["events_acked_total"] == 5
            })
            .await;
        assert_eq!(status["clock"]["synced"], true, "{status}");
        eprintln!("this kernel reports the clock synchronised: the held branch did not run");
        return;
    }

    let status = daemon
        .wait_status(Duration::from_secs(10), "reads held", |s| {
            s["clock"]["held"] == 5
        })
        .await;
    let clock = &status["clock"];
    assert_eq!(clock["synced"], false, "{status}");
    assert!(clock["holding_since"].is_string(), "{status}");
    let advice = clock["advice"].as_str().unwrap();
    assert!(
        advice.contains("sync_check = \"trust\"") && advice.contains("NTP"),
        "{advice}"
    );
    let (code, out, _) = tracegate(&["status", "--config", config.path.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(out.contains("CLOCK    5 reads held since"), "{out}");
    assert!(
        daemon.log().contains("wall clock NOT synchronised"),
        "the log says it too"
    );

    // The user sets the key; a reload says it needs a restart; after the restart the held
    // reads are released and published.
    std::fs::write(&config.path, text).unwrap();
    let (code, out, err) = tracegate(&["cmd", "--config", config.path.to_str().unwrap(), "reload"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("\"clock\""),
        "restart_required names [clock]: {out}"
    );
    assert!(daemon.terminate().success());
    let daemon = Daemon::start(&config.path);
    let mut got = Received::default();
    got.collect_until(&mut sub, Duration::from_secs(20), |r| {
        r.distinct_reads() >= sent.len()
    })
    .await;
    assert_eq!(got.first_arrivals(), sent);
    drop(daemon);
}
