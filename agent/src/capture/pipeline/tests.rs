//! The pipeline against a real outbox, with an injected clock: held reads and their correction,
//! and packing sessions.

use std::time::{Instant, SystemTime};

use serde_json::Value;
use tracegate_drivers::ReadMeta;

use super::*;
use crate::capture::event::ids::IdMapper;
use crate::clock::TestClock;
use tracegate_identifiers::gcp::GcpTable;

struct Rig {
    _dir: tempfile::TempDir,
    config: Config,
    store: Store,
    thread: Option<crate::outbox::store::StoreThread>,
    builder: EventBuilder,
    live: Arc<LiveFeed>,
}

impl Rig {
    fn new(devices: &str) -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "[gateway]\nid = \"gw\"\n[location]\nread_point = \"urn:epc:id:sgln:0614141.00777.0\"\n\
             [store]\npath = \"outbox.db\"\n[mqtt]\nhost = \"127.0.0.1\"\n{devices}"
        );
        let config = Config::parse(
            &dir.path().join("t.toml"),
            &text,
            &crate::capture::devices::builtin(),
        )
        .unwrap();
        let (store, thread) = Store::open(&config.store).unwrap();
        let mut gcp = GcpTable::default();
        gcp.set("0614141", 7).unwrap();
        let builder = EventBuilder::new(
            IdMapper::new(crate::config::UriForm::Epc, Arc::new(gcp)),
            jiff::tz::TimeZone::UTC,
        );
        Rig {
            _dir: dir,
            config,
            store,
            thread: Some(thread),
            builder,
            live: LiveFeed::new(),
        }
    }

    /// Runs the pipeline over `reads` (device, payload), moving `clock` on 10 s after each.
    async fn scan(&self, clock: &Arc<TestClock>, reads: &[(&str, &str)]) {
        let reads: Vec<(&str, &str, Option<&str>)> =
            reads.iter().map(|(d, p)| (*d, *p, None)).collect();
        self.scan_with(clock, &reads).await;
    }

    /// As [`scan`](Self::scan), with an out-of-band symbology (HID POS) per read.
    async fn scan_with(&self, clock: &Arc<TestClock>, reads: &[(&str, &str, Option<&str>)]) {
        let registry = DeviceRegistry::new(self.config.device_kinds());
        let contexts = ContextRegistry::load(&self.config, Some(self.store.clone()));
        let pipeline = Pipeline::new(
            &self.config,
            self.store.clone(),
            registry,
            contexts,
            self.builder.clone(),
            clock.clone(),
        )
        .with_live(self.live.clone());
        // Capacity 1: a send returns once the event before the one queued was taken, and the
        // pipeline takes the next event only when it is done with the previous one.
        let (tx, rx) = mpsc::channel(1);
        let run = tokio::spawn(pipeline.run(rx));
        for (device, payload, symbology) in reads {
            tx.send(DeviceEvent::Read(RawRead {
                device: Arc::from(*device),
                at: SystemTime::try_from(clock.now()).unwrap(),
                mono: Instant::now(),
                payload: payload.as_bytes().to_vec().into(),
                meta: ReadMeta {
                    symbology: symbology.map(str::to_string),
                    ..ReadMeta::default()
                },
            }))
            .await
            .unwrap();
            // Two fences after the read: once the second is queued, the first was taken, so
            // the read has been dated and time may move on.
            for _ in 0..2 {
                tx.send(DeviceEvent::State {
                    device: Arc::from(*device),
                    state: tracegate_drivers::DeviceState::Up,
                    detail: None,
                })
                .await
                .unwrap();
            }
            clock.advance_ms(10_000);
        }
        drop(tx);
        run.await.unwrap();
        self.store.flush().await;
    }

    fn events(&self) -> Vec<Value> {
        let mut reader = self.store.reader().unwrap();
        reader
            .tail(100, false)
            .unwrap()
            .into_iter()
            .map(|row| serde_json::from_str(&row.body).unwrap())
            .collect()
    }

    async fn close(mut self) {
        self.store.close().await;
        let thread = self.thread.take().unwrap();
        tokio::task::spawn_blocking(move || thread.join())
            .await
            .unwrap();
    }
}

const SCANNER: &str = "[[devices]]\nid = \"s1\"\nkind = \"sim-scanner\"\n";

#[tokio::test]
async fn reads_before_ntp_are_held_then_dated_exactly() {
    let rig = Rig::new(SCANNER);
    // A Pi without RTC: booted at 1970 + 5 min, not synchronised.
    let clock = Arc::new(TestClock::new(
        "1970-01-01T00:05:00Z".parse().unwrap(),
        false,
        "boot-a",
    ));
    rig.scan(
        &clock,
        &[
            ("s1", "(01)80614141123458(21)1"),
            ("s1", "(01)80614141123458(21)2"),
        ],
    )
    .await;
    let stats = rig.store.stats();
    assert_eq!(stats.held, 2);
    assert_eq!(stats.undelivered, 2);
    assert!(rig.events().is_empty(), "nothing publishable yet");

    // Reads were at boot time +0 s and +10 s; it is now +20 s when NTP sets the clock.
    clock.sync_to("2026-11-26T08:00:00Z".parse().unwrap());
    let dyn_clock: Arc<dyn Clock> = clock.clone();
    assert_eq!(
        release::release_all(&rig.store, &rig.builder, &dyn_clock).await,
        2
    );
    let events = rig.events();
    assert_eq!(rig.store.stats().held, 0);
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["eventTime"], "2026-11-26T07:59:40.000Z");
    assert_eq!(events[1]["eventTime"], "2026-11-26T07:59:50.000Z");
    assert_eq!(events[0]["epcList"][0], "urn:epc:id:sgtin:0614141.812345.1");
    assert!(events[0].get("tg:timeEstimated").is_none());
    // The ID is the hash of the corrected event.
    let mut e = events[0].as_object().unwrap().clone();
    let id = e.remove("eventID").unwrap();
    assert_eq!(
        id,
        rig.builder
            .event_id(&serde_json::from_value(Value::Object(e)).unwrap())
    );
    rig.close().await;
}

#[tokio::test]
async fn reads_of_a_boot_that_never_synchronised_are_estimated_and_say_so() {
    let rig = Rig::new(SCANNER);
    let clock = Arc::new(TestClock::new(
        "1970-01-01T00:05:00Z".parse().unwrap(),
        false,
        "boot-a",
    ));
    rig.store
        .set_setting(
            release::LAST_GOOD.into(),
            Some(
                "2026-11-25T18:00:00Z"
                    .parse::<jiff::Timestamp>()
                    .unwrap()
                    .as_millisecond()
                    .to_string(),
            ),
        )
        .await
        .unwrap();
    rig.scan(&clock, &[("s1", "(01)80614141123458(21)9")]).await;
    clock.reboot("boot-b", "1970-01-01T00:00:30Z".parse().unwrap());
    clock.sync_to("2026-11-26T08:00:00Z".parse().unwrap());
    let dyn_clock: Arc<dyn Clock> = clock.clone();
    release::release_all(&rig.store, &rig.builder, &dyn_clock).await;
    let events = rig.events();
    assert_eq!(events.len(), 1);
    // Not 1970: no earlier than the clock was last known good.
    assert_eq!(events[0]["eventTime"], "2026-11-25T18:00:00.000Z");
    assert_eq!(events[0]["tg:timeEstimated"], true);
    rig.close().await;
}

#[tokio::test]
async fn a_synchronised_clock_dates_reads_directly() {
    let rig = Rig::new(SCANNER);
    let clock = Arc::new(TestClock::new(
        "2026-11-26T08:00:00Z".parse().unwrap(),
        true,
        "boot-a",
    ));
    rig.scan(&clock, &[("s1", "(01)80614141123458(21)1")]).await;
    assert_eq!(rig.store.stats().held, 0);
    let events = rig.events();
    assert_eq!(events[0]["eventTime"], "2026-11-26T08:00:00.000Z");
    assert_eq!(
        events[0]["readPoint"]["id"],
        "urn:epc:id:sgln:0614141.00777.0"
    );
    rig.close().await;
}

#[tokio::test]
async fn a_packing_session_becomes_one_aggregation_event() {
    let rig = Rig::new(
        "[[devices]]\nid = \"packer\"\nkind = \"sim-scanner\"\nevent = \"aggregation\"\nbiz_step = \"packing\"\n",
    );
    let clock = Arc::new(TestClock::new(
        "2026-11-26T08:00:00Z".parse().unwrap(),
        true,
        "boot-a",
    ));
    rig.scan(
        &clock,
        &[
            ("packer", "(01)80614141123458(21)1"),
            ("packer", "(01)80614141123458(21)2"),
            ("packer", "(01)80614141123458(10)LOT-3"),
            ("packer", "(00)106141412345678908"),
            // Contents of the next case, never closed: no event.
            ("packer", "(01)80614141123458(21)4"),
        ],
    )
    .await;
    let events = rig.events();
    assert_eq!(events.len(), 1, "{events:?}");
    let e = &events[0];
    assert_eq!(e["type"], "AggregationEvent");
    assert_eq!(e["action"], "ADD");
    assert_eq!(e["bizStep"], "packing");
    assert_eq!(e["parentID"], "urn:epc:id:sscc:0614141.1234567890");
    assert_eq!(e["childEPCs"].as_array().unwrap().len(), 2);
    assert_eq!(
        e["childQuantityList"][0]["epcClass"],
        "urn:epc:class:lgtin:0614141.812345.LOT-3"
    );
    assert_eq!(
        e["eventTime"], "2026-11-26T08:00:30.000Z",
        "the closing read's time"
    );
    rig.close().await;
}

#[tokio::test]
async fn double_scans_within_the_window_are_one_read() {
    let rig = Rig::new(
        "[[devices]]\nid = \"s1\"\nkind = \"sim-scanner\"\ndedupe_ms = 1000\n\
         [[devices]]\nid = \"s2\"\nkind = \"sim-scanner\"\n",
    );
    let clock = Arc::new(TestClock::new(
        "2026-11-26T08:00:00Z".parse().unwrap(),
        true,
        "b",
    ));
    let a = "(01)80614141123458(21)1";
    let b = "(01)80614141123458(21)2";
    // Reads come 20 ms apart: s1 drops its repeats, s2 (no window) keeps every read.
    rig.scan(
        &clock,
        &[
            ("s1", a),
            ("s1", a),
            ("s1", b),
            ("s1", a),
            ("s2", a),
            ("s2", a),
        ],
    )
    .await;
    let raw: Vec<(String, String)> = rig
        .events()
        .iter()
        .map(|e| {
            (
                e["tg:deviceId"].as_str().unwrap().to_string(),
                e["tg:rawData"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let s1: Vec<&str> = raw
        .iter()
        .filter(|(d, _)| d == "s1")
        .map(|(_, r)| r.as_str())
        .collect();
    assert_eq!(s1, [a, b, a]);
    assert_eq!(raw.iter().filter(|(d, _)| d == "s2").count(), 2);
    rig.close().await;
}

#[tokio::test]
async fn hid_pos_symbology_beside_the_data_decodes_as_in_band() {
    let rig = Rig::new("[[devices]]\nid = \"hid\"\nkind = \"sim-scanner\"\naccept = [\"gs1\"]\n");
    let clock = Arc::new(TestClock::new(
        "2026-11-26T08:00:00Z".parse().unwrap(),
        true,
        "b",
    ));
    // GS1 data with no brackets and no leading GS: only the ]d2 beside it says it is GS1.
    rig.scan_with(&clock, &[("hid", "018061414112345821777", Some("]d2"))])
        .await;
    let events = rig.events();
    assert_eq!(events.len(), 1, "accepted as GS1");
    assert_eq!(
        events[0]["epcList"][0],
        "urn:epc:id:sgtin:0614141.812345.777"
    );
    assert_eq!(events[0]["tg:symbology"], "]d2");
    assert_eq!(
        events[0]["tg:rawData"], "018061414112345821777",
        "the data as read"
    );
    rig.close().await;
}

#[tokio::test]
async fn with_max_hold_reads_held_too_long_are_released_flagged_and_the_rest_wait() {
    let rig = Rig::new(SCANNER);
    // A gateway that never sees NTP, its clock roughly right.
    let clock = Arc::new(TestClock::new(
        "2026-11-26T08:00:00Z".parse().unwrap(),
        false,
        "boot-a",
    ));
    // Reads at boot +0 s, +10 s and +20 s; it is +30 s after the scan.
    rig.scan(
        &clock,
        &[
            ("s1", "(01)80614141123458(21)1"),
            ("s1", "(01)80614141123458(21)2"),
            ("s1", "(01)80614141123458(21)3"),
        ],
    )
    .await;
    assert_eq!(rig.store.stats().held, 3);
    let dyn_clock: Arc<dyn Clock> = clock.clone();
    // max_hold 15 s: the two reads at least 15 s old go, the newest stays held.
    assert_eq!(
        release::release_expired(&rig.store, &rig.builder, &dyn_clock, 15).await,
        2
    );
    assert_eq!(rig.store.stats().held, 1);
    let events = rig.events();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["eventTime"], "2026-11-26T08:00:00.000Z");
    assert_eq!(events[1]["eventTime"], "2026-11-26T08:00:10.000Z");
    assert_eq!(events[0]["tg:timeEstimated"], true);
    clock.advance_ms(10_000);
    assert_eq!(
        release::release_expired(&rig.store, &rig.builder, &dyn_clock, 15).await,
        1
    );
    assert_eq!(rig.store.stats().held, 0);
    rig.close().await;
}

#[tokio::test]
async fn the_live_feed_gets_each_read_with_its_verdict_only_while_watched() {
    let rig = Rig::new(
        "[[devices]]\nid = \"s1\"\nkind = \"sim-scanner\"\ndedupe_ms = 1000\naccept = [\"gs1\"]\n",
    );
    let clock = Arc::new(TestClock::new(
        "2026-11-26T08:00:00Z".parse().unwrap(),
        true,
        "b",
    ));
    let good = "(01)80614141123458(21)1";
    let bad = "(01)80614141123459(21)2";
    // Nobody watching: nothing kept.
    rig.scan(&clock, &[("s1", good)]).await;
    assert_eq!(rig.live.last_seq(), 0);

    let watch = rig.live.watch();
    let again = "(01)80614141123458(21)3";
    rig.scan(&clock, &[("s1", again), ("s1", again), ("s1", bad)])
        .await;
    let (reads, missed) = rig.live.reads_since(0, 10);
    assert_eq!(missed, 0);
    let outcomes: Vec<ReadOutcome> = reads.iter().map(|r| r.outcome).collect();
    assert_eq!(
        outcomes,
        [
            ReadOutcome::Recorded,
            ReadOutcome::Duplicate,
            ReadOutcome::Refused
        ]
    );
    let stored = rig.events();
    let last = stored.last().unwrap();
    assert_eq!(reads[0].events, [last["eventID"].as_str().unwrap()]);
    assert!(
        reads[2].reason.as_deref().unwrap().contains("check digit"),
        "{:?}",
        reads[2].reason
    );
    assert_eq!(&reads[2].payload[..], bad.as_bytes());
    drop(watch);
    rig.close().await;
}
