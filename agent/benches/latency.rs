//! Scan-to-committed latency over a pseudo-terminal, on this machine: a simulated scanner
//! writes a GS1 DataMatrix scan to the pty; the real serial driver frames it, the pipeline
//! decodes, maps, builds and hashes the event, and the outbox commits it (WAL,
//! synchronous=FULL, a real file). Measured from the write to the commit, one scan at a time
//! at a handheld's pace, median and p99 over 2,000 scans.
//!
//! Baseline in the same run: write to the pty until the driver hands over the frame (the
//! transport alone).
//!
//! `cargo bench -p tracegate --bench latency`

#[path = "common/report.rs"]
mod report;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracegate::capture::contexts::ContextRegistry;
use tracegate::capture::devices::kinds::serial_scanner::SerialScannerConfig;
use tracegate::capture::event::build::EventBuilder;
use tracegate::capture::event::ids::IdMapper;
use tracegate::capture::pipeline::Pipeline;
use tracegate::clock::{Clock, SystemClock};
use tracegate::config::{Config, SyncCheck};
use tracegate::outbox::store::Store;
use tracegate::telemetry::DeviceRegistry;
use tracegate_drivers::Commands;
use tracegate_drivers::scanner::{FrameSettings, SerialScanner, SerialScannerSettings};
use tracegate_drivers::serial::SerialSettings;
use tracegate_drivers::sim::{ScannerSim, SimFrame, VirtualSerialPort};
use tracegate_drivers::{DeviceEvent, DeviceState};

/// Scans per measurement (fewer in a quick run).
fn scans() -> usize {
    if report::quick() { 100 } else { 2000 }
}
const PACE: Duration = Duration::from_millis(5);

fn percentiles(mut v: Vec<Duration>) -> (Duration, Duration) {
    v.sort();
    (v[v.len() / 2], v[v.len() * 99 / 100])
}

fn code(i: usize) -> SimFrame {
    SimFrame::new(format!("]d20109506000134352172712311026L1127\u{1d}21{i:012}").into_bytes())
}

async fn transport_only() -> Vec<Duration> {
    let mut port = VirtualSerialPort::new().unwrap();
    let settings = SerialScannerSettings {
        serial: SerialSettings::new(port.path().to_string_lossy()),
        frame: FrameSettings::default(),
    };
    let (tx, mut rx) = mpsc::channel(64);
    let cancel = CancellationToken::new();
    let driver = tokio::spawn(SerialScanner::new(Arc::from("s"), settings).run(
        tx,
        Commands::none(),
        cancel.clone(),
    ));
    while !matches!(
        rx.recv().await,
        Some(DeviceEvent::State {
            state: DeviceState::Up,
            ..
        })
    ) {}
    let sim = ScannerSim::default();
    let mut out = Vec::with_capacity(scans());
    for i in 0..scans() {
        let t0 = Instant::now();
        sim.send(port.master(), &code(i)).await.unwrap();
        loop {
            if let Some(DeviceEvent::Read(_)) = rx.recv().await {
                break;
            }
        }
        out.push(t0.elapsed());
        tokio::time::sleep(PACE).await;
    }
    cancel.cancel();
    driver.await.unwrap();
    out
}

async fn scan_to_commit() -> Vec<Duration> {
    let dir = tempfile::tempdir().unwrap();
    let mut port = VirtualSerialPort::new().unwrap();
    let text = format!(
        "[gateway]\nid = \"gw\"\n[location]\nread_point = \"urn:epc:id:sgln:0614141.00777.0\"\n\
         [store]\npath = \"outbox.db\"\n[mqtt]\nhost = \"127.0.0.1\"\n[clock]\nsync_check = \"trust\"\n\
         [[devices]]\nid = \"line-1\"\nkind = \"serial-scanner\"\nport = \"{}\"\nbiz_step = \"commissioning\"\naction = \"ADD\"\n",
        port.path().display()
    );
    let config = Config::parse(
        &dir.path().join("t.toml"),
        &text,
        &tracegate::capture::devices::builtin(),
    )
    .unwrap();
    let (store, thread) = Store::open(&config.store).unwrap();
    let registry = DeviceRegistry::new(config.device_kinds());
    let builder = EventBuilder::new(
        IdMapper::from_config(&config.identifiers).unwrap(),
        jiff::tz::TimeZone::UTC,
    );
    let clock: Arc<dyn Clock> = Arc::new(SystemClock::new(SyncCheck::Trust));
    let pipeline = Pipeline::new(
        &config,
        store.clone(),
        registry,
        ContextRegistry::load(&config, Some(store.clone())),
        builder,
        clock,
    );
    let (tx, rx) = mpsc::channel(1024);
    let run = tokio::spawn(pipeline.run(rx));
    let cancel = CancellationToken::new();
    let settings = config.devices[0]
        .settings_as::<SerialScannerConfig>()
        .expect("a serial scanner")
        .scanner
        .clone();
    let driver = tokio::spawn(SerialScanner::new(Arc::from("line-1"), settings).run(
        tx,
        Commands::none(),
        cancel.clone(),
    ));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut stats = store.watch_stats();
    let sim = ScannerSim::default();
    let mut out = Vec::with_capacity(scans());
    for i in 0..scans() {
        let before = stats.borrow_and_update().last_seq;
        let t0 = Instant::now();
        sim.send(port.master(), &code(i)).await.unwrap();
        while stats.borrow_and_update().last_seq == before {
            stats.changed().await.unwrap();
        }
        out.push(t0.elapsed());
        tokio::time::sleep(PACE).await;
    }
    cancel.cancel();
    driver.await.unwrap();
    run.await.unwrap();
    store.close().await;
    tokio::task::spawn_blocking(move || thread.join())
        .await
        .unwrap();
    out
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let (t50, t99) = percentiles(transport_only().await);
    let (c50, c99) = percentiles(scan_to_commit().await);
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    report::record(report::Figure {
        bench: "latency",
        what: "scan → committed to the outbox, one at a time, median",
        value: ms(c50),
        unit: "ms",
        limit: Some(("pty → driver, the transport alone", ms(t50))),
        target: None,
    });
    report::record(report::Figure {
        bench: "latency",
        what: "scan → committed to the outbox, one at a time, p99",
        value: ms(c99),
        unit: "ms",
        limit: Some(("pty → driver, the transport alone", ms(t99))),
        target: None,
    });
}
