//! The LLRP client against the simulated reader over loopback TCP: the handshake in the
//! order LLRP 1.0.1 wants it, reads with their antenna, RSSI and reader time, read windows by
//! command, reconnection after a dropped link and after keepalives stop, a refused ROSpec and
//! a reader held by another client reported down in the reader's own words, and 200 tags on
//! 4 antennas at full rate with every report accounted for.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracegate_drivers::backoff::Reconnect;
use tracegate_drivers::command::{
    CommandDone, CommandRequest, CommandResult, Commands, DeviceCommand,
};
use tracegate_drivers::rfid::llrp::message::kind;
use tracegate_drivers::rfid::llrp::{LlrpReader, LlrpSettings, ReadWindow, SearchMode};
use tracegate_drivers::sim::llrp::{Leg, SimReader, SimReaderConfig, TagPass, gate_pass, sgtin96};
use tracegate_drivers::{DeviceEvent, DeviceState, RawRead};

struct Rig {
    sim: SimReader,
    events: mpsc::Receiver<DeviceEvent>,
    commands: mpsc::Sender<CommandRequest>,
    cancel: CancellationToken,
    driver: tokio::task::JoinHandle<()>,
}

impl Rig {
    async fn start(config: SimReaderConfig, tune: impl FnOnce(&mut LlrpSettings)) -> Rig {
        let sim = SimReader::start(config).await.unwrap();
        let mut settings = LlrpSettings::new("127.0.0.1", sim.port);
        settings.keepalive_s = 1;
        tune(&mut settings);
        settings.validate().unwrap();
        let (tx, events) = mpsc::channel(1024);
        let (commands, inbox) = mpsc::channel(8);
        let cancel = CancellationToken::new();
        let driver = LlrpReader::new(Arc::from("dock-1"), settings).with_reconnect(Reconnect::new(
            Duration::from_millis(20),
            Duration::from_millis(100),
        ));
        let driver = tokio::spawn(driver.run(tx, Commands::new(inbox), cancel.clone()));
        Rig {
            sim,
            events,
            commands,
            cancel,
            driver,
        }
    }

    async fn next(&mut self) -> DeviceEvent {
        tokio::time::timeout(Duration::from_secs(15), self.events.recv())
            .await
            .expect("a device event within 15 s")
            .expect("driver running")
    }

    /// Waits for `want`, returning its detail; reads meanwhile are dropped.
    async fn state(&mut self, want: DeviceState) -> Option<String> {
        loop {
            if let DeviceEvent::State { state, detail, .. } = self.next().await
                && state == want
            {
                return detail;
            }
        }
    }

    async fn read(&mut self) -> RawRead {
        loop {
            if let DeviceEvent::Read(read) = self.next().await {
                return read;
            }
        }
    }

    async fn command(&self, command: DeviceCommand) -> CommandResult {
        let (request, rx) = CommandRequest::with_reply(command);
        self.commands.send(request).await.unwrap();
        tokio::time::timeout(Duration::from_secs(10), rx)
            .await
            .unwrap()
            .unwrap()
    }

    async fn stop(self) -> SimReader {
        self.cancel.cancel();
        self.driver.await.unwrap();
        self.sim
    }
}

fn one_tag() -> SimReaderConfig {
    SimReaderConfig {
        script: vec![TagPass {
            epc: sgtin96(1, 614_141, 812_345, 6789),
            after: Duration::ZERO,
            legs: vec![Leg {
                antenna: 2,
                dwell: Duration::from_secs(3600),
                peak_dbm: -40.0,
            }],
            overlap: Duration::ZERO,
        }],
        ..SimReaderConfig::default()
    }
}

#[tokio::test]
async fn handshake_in_order_then_reads_with_antenna_rssi_and_reader_time_then_close() {
    let mut rig = Rig::start(one_tag(), |s| {
        s.tx_power_dbm = Some(30.0);
        s.search_mode = SearchMode::DualTarget;
    })
    .await;
    rig.state(DeviceState::Up).await;
    let read = rig.read().await;
    assert_eq!(&read.payload[..], b"3034257BF7194E4000001A85");
    assert_eq!(read.meta.antenna, Some(2));
    let rssi = read.meta.rssi_dbm.unwrap();
    assert!((-52.0..=-40.0).contains(&rssi), "{rssi}");
    let reader_time = read.meta.device_time.unwrap();
    assert!(reader_time.elapsed().unwrap_or_default() < Duration::from_secs(5));
    assert_eq!(read.meta.seen_count, Some(1));

    let sim = rig.stop().await;
    // The client closes politely and waits for the answer.
    let received = sim.received();
    assert_eq!(
        received,
        [
            kind::GET_READER_CAPABILITIES,
            kind::CUSTOM_MESSAGE, // IMPINJ_ENABLE_EXTENSIONS: the reader is an Impinj
            kind::DELETE_ACCESSSPEC,
            kind::DELETE_ROSPEC,
            kind::SET_READER_CONFIG,
            kind::ENABLE_EVENTS_AND_REPORTS,
            kind::ADD_ROSPEC,
            kind::ENABLE_ROSPEC,
            kind::START_ROSPEC, // a continuous window is started once enabled
        ]
        .iter()
        .copied()
        .chain(
            received[9..]
                .iter()
                .copied()
                .filter(|&k| k == kind::KEEPALIVE_ACK)
        )
        .chain([kind::CLOSE_CONNECTION])
        .collect::<Vec<_>>()
    );
    // 30 dBm through the reader's own power table (10 dBm + 0.25 dB steps: index 81).
    let spec = sim.rospec().unwrap();
    assert_eq!(spec.antenna_settings[0].power_index, Some(81));
    assert_eq!(spec.antenna_settings[0].session, Some((2, 32)));
    assert_eq!(spec.antenna_settings[0].impinj_search_mode, Some(2));
    assert!(spec.report.unwrap().impinj_peak_rssi);
}

#[tokio::test]
async fn a_read_window_opened_and_closed_by_command() {
    let mut rig = Rig::start(one_tag(), |s| s.read_window = ReadWindow::Command).await;
    rig.state(DeviceState::Up).await;
    assert!(!rig.sim.running(), "a command window waits for its command");
    assert_eq!(
        rig.command(DeviceCommand::ReadWindow(true)).await,
        Ok(CommandDone::ReadWindow { open: true })
    );
    rig.read().await;
    assert_eq!(
        rig.command(DeviceCommand::ReadWindow(false)).await,
        Ok(CommandDone::ReadWindow { open: false })
    );
    assert!(!rig.sim.running());
    // What a reader cannot do is refused, not ignored.
    let refused = rig.command(DeviceCommand::Send("x".into())).await;
    assert!(refused.is_err());
    rig.stop().await;
}

#[tokio::test]
async fn reconnects_after_a_dropped_connection_and_after_keepalives_stop() {
    let mut rig = Rig::start(one_tag(), |_| {}).await;
    rig.state(DeviceState::Up).await;
    rig.sim.drop_connection();
    let why = rig.state(DeviceState::Down).await.unwrap();
    assert!(why.contains("closed the connection"), "{why}");
    rig.state(DeviceState::Up).await;
    rig.read().await;

    // A reader that hangs with its socket open: only the missing keepalives tell.
    rig.sim.stop_keepalives(true);
    let started = Instant::now();
    let why = rig.state(DeviceState::Down).await.unwrap();
    assert!(why.contains("keepalives missed"), "{why}");
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "three keepalives of 1 s"
    );
    rig.sim.stop_keepalives(false);
    rig.state(DeviceState::Up).await;
    rig.read().await;
    // The reader's keepalives (every 1 s) are answered.
    let deadline = Instant::now() + Duration::from_secs(10);
    while rig.sim.stats.keepalive_acks.load(Ordering::Relaxed) == 0 {
        assert!(Instant::now() < deadline, "no KEEPALIVE_ACK in 10 s");
        rig.read().await;
    }
    assert!(rig.sim.stats.sessions.load(Ordering::Relaxed) >= 3);
    rig.stop().await;
}

#[tokio::test]
async fn a_refused_rospec_and_a_reader_held_by_another_client_are_down_with_the_reason() {
    let mut rig = Rig::start(one_tag(), |_| {}).await;
    rig.sim.refuse_rospec(true);
    let why = rig.state(DeviceState::Down).await.unwrap();
    assert!(
        why.contains("the reader refused ADD_ROSPEC: P_FieldError (201)"),
        "{why}"
    );
    assert!(
        why.contains("check antennas, tx_power_dbm"),
        "{why}: names the keys to change"
    );
    rig.sim.refuse_rospec(false);
    rig.state(DeviceState::Up).await;

    rig.sim.occupy(true);
    rig.sim.drop_connection();
    let why = loop {
        let why = rig.state(DeviceState::Down).await.unwrap();
        if why.contains("another client") {
            break why;
        }
    };
    assert!(why.contains("close the other LLRP client"), "{why}");
    rig.sim.occupy(false);
    rig.state(DeviceState::Up).await;
    rig.stop().await;
}

#[tokio::test]
async fn an_antenna_the_reader_does_not_have_is_a_clear_error() {
    let mut rig = Rig::start(one_tag(), |s| s.antennas = vec![1, 7]).await;
    let why = rig.state(DeviceState::Down).await.unwrap();
    assert!(
        why.contains("antenna 7 does not exist: the reader has 4 antenna ports (key antennas)"),
        "{why}"
    );
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_tags_on_four_antennas_at_full_rate_lose_no_report() {
    // 200 tags, each dwelling 2 s on one of 4 antennas, reported 50 times a second.
    let script = (0..200u64)
        .map(|i| TagPass {
            epc: sgtin96(1, 614_141, 812_345, 10_000 + i),
            after: Duration::ZERO,
            legs: vec![Leg {
                antenna: (i % 4) as u16 + 1,
                dwell: Duration::from_secs(2),
                peak_dbm: -50.0,
            }],
            overlap: Duration::ZERO,
        })
        .collect();
    let mut rig = Rig::start(
        SimReaderConfig {
            report_rate: 50.0,
            script,
            ..SimReaderConfig::default()
        },
        |_| {},
    )
    .await;
    rig.state(DeviceState::Up).await;
    let mut reads = 0u64;
    let mut per_antenna = [0u64; 5];
    // Every pass is over after 2 s: wait until the simulator finds no tag in any field and
    // every report it sent has arrived.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let sent = rig.sim.stats.tags_sent.load(Ordering::Relaxed);
        if reads > 0 && reads == sent && rig.sim.stats.quiet.load(Ordering::SeqCst) {
            break;
        }
        assert!(Instant::now() < deadline, "{reads} reads of {sent} sent");
        match tokio::time::timeout(Duration::from_millis(500), rig.events.recv()).await {
            Ok(Some(DeviceEvent::Read(read))) => {
                reads += 1;
                per_antenna[usize::from(read.meta.antenna.unwrap())] += 1;
            }
            Ok(Some(_)) | Err(_) => {}
            Ok(None) => panic!("driver gone"),
        }
    }
    let reports = rig.sim.stats.reports_sent.load(Ordering::Relaxed);
    eprintln!(
        "200 tags x 4 antennas: {reads} tag reports in {reports} RO_ACCESS_REPORTs, per antenna {:?}",
        &per_antenna[1..]
    );
    assert!(
        reads >= 200 * 50,
        "{reads}: each tag reported about 100 times"
    );
    assert!(per_antenna[1..].iter().all(|&n| n == reads / 4));
    rig.stop().await;
}

#[test]
fn settings_that_cannot_work_name_their_key() {
    let mut s = LlrpSettings::new("reader", 5084);
    s.session = 4;
    assert_eq!(s.validate().unwrap_err().key, "session");
    let mut s = LlrpSettings::new("reader", 5084);
    s.read_window = ReadWindow::Periodic;
    assert_eq!(s.validate().unwrap_err().key, "read_window");
    s.period_ms = Some(100);
    s.duration_ms = Some(200);
    assert_eq!(s.validate().unwrap_err().key, "duration_ms");
    let mut s = LlrpSettings::new("reader", 5084);
    s.read_window = ReadWindow::Gpi;
    assert!(s.validate().unwrap_err().message.contains("gpi_port"));
}

#[tokio::test]
async fn a_gate_pass_is_seen_on_one_antenna_then_the_other() {
    let config = SimReaderConfig {
        script: vec![gate_pass(
            sgtin96(1, 614_141, 812_345, 1),
            Duration::ZERO,
            2,
            1,
        )],
        ..SimReaderConfig::default()
    };
    let mut rig = Rig::start(config, |_| {}).await;
    rig.state(DeviceState::Up).await;
    let mut antennas = Vec::new();
    while antennas.last() != Some(&1) {
        let a = rig.read().await.meta.antenna.unwrap();
        if antennas.last() != Some(&a) {
            antennas.push(a);
        }
    }
    assert_eq!(antennas, [2, 1]);
    rig.stop().await;
}
