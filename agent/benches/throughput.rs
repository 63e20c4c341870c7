//! Outbox and uplink throughput on this machine, each against a baseline measured in the same
//! run (so the ratios hold whatever the machine):
//!
//! - capture: events/s committed to the outbox through the writer's group commit, against the
//!   same rows inserted one transaction (one fsync) per event;
//! - delivery: events/s of a 100k-event backlog published to a real mosquitto and acknowledged
//!   (and counted by a real subscriber), against one QoS 1 message per event;
//! - backlog drain while new reads keep arriving.
//!
//! `cargo bench -p tracegate --bench throughput` (needs the `mosquitto` binary, as the tests do).

#[path = "../../tests/support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use rumqttc::{AsyncClient, Event, MqttOptions, Outgoing, Packet, QoS};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracegate::capture::event::build::EventBuilder;
use tracegate::capture::event::ids::IdMapper;
use tracegate::capture::integrity::chain;
use tracegate::capture::integrity::key::GatewayKey;
use tracegate::capture::pipeline::verdict::{Verdict, judge};
use tracegate::capture::store::{ChainSigner, NewEvent, Store};
use tracegate::capture::sync::Sync;
use tracegate::config::{CaptureSettings, Config};
use tracegate::ops::status::{BrokerStatus, DeviceRegistry, StatusCollector};
use tracegate_drivers::{RawRead, ReadMeta};

fn sample_events(n: usize) -> Vec<NewEvent> {
    let config = config_for(1, std::path::Path::new("/tmp/unused.db"));
    let builder = EventBuilder::new(
        IdMapper::from_config(&config.identifiers).unwrap(),
        jiff::tz::TimeZone::UTC,
    );
    let context = tracegate::capture::event::context::BizContext::default();
    (0..n)
        .map(|i| {
            let read = RawRead {
                device: Arc::from("line-1-scanner"),
                at: SystemTime::now(),
                mono: Instant::now(),
                payload: format!("]d20109506000134352172712311026L1127\u{1d}21{i:012}").into(),
                meta: ReadMeta::default(),
            };
            let Verdict::Accept(id) = judge(&read.payload, &CaptureSettings::default()) else {
                panic!("sample reads are valid")
            };
            let at = jiff::Timestamp::try_from(read.at).unwrap();
            builder.finish(builder.read_event(at, &read, &id, &context), &read.device)
        })
        .collect()
}

fn config_for(port: u16, outbox: &std::path::Path) -> Config {
    let text = format!(
        "[gateway]\nid = \"gw-bench\"\n[location]\nread_point = \"urn:epc:id:sgln:9506000134.00.0\"\n\
         [store]\npath = \"{}\"\nkeep_delivered_s = 0\n[mqtt]\nhost = \"127.0.0.1\"\nport = {port}\n\
         reconnect_min_ms = 50\nreconnect_max_s = 1\nmax_inflight = 32\nbatch_max_events = 500\nbatch_max_bytes = \"512KiB\"\n\
         [clock]\nsync_check = \"trust\"\n",
        outbox.display()
    );
    Config::parse(std::path::Path::new("/tmp/bench.toml"), &text).unwrap()
}

/// Events/s committed through the writer; `signed`: the hash chain's head and gaps signed
/// with a gateway key at each commit, as the daemon does (unsigned: the chain is still
/// hashed, only the signatures are left out).
async fn capture_with_group_commit(events: &[NewEvent], signed: bool) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let config = config_for(1, &dir.path().join("outbox.db"));
    let signer = signed.then(|| {
        Arc::new(ChainSigner {
            key: GatewayKey::from_seed([7; 32]),
            gateway: "gw-bench".into(),
        })
    });
    let (store, thread) = Store::open_signed(&config.store, signer).unwrap();
    let started = Instant::now();
    let mut pending = Vec::with_capacity(events.len());
    for e in events {
        pending.push(store.append(e.clone()).await);
    }
    for p in pending {
        p.await;
    }
    let rate = events.len() as f64 / started.elapsed().as_secs_f64();
    store.close().await;
    drop(store);
    tokio::task::spawn_blocking(move || thread.join())
        .await
        .unwrap();
    rate
}

fn capture_one_transaction_per_event(events: &[NewEvent]) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let conn = rusqlite::Connection::open(dir.path().join("naive.db")).unwrap();
    conn.query_row("PRAGMA journal_mode=WAL", [], |_| Ok(()))
        .unwrap();
    conn.pragma_update(None, "synchronous", "FULL").unwrap();
    conn.execute_batch("CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT, captured_at INTEGER, device TEXT, body TEXT, bytes INTEGER, delivered_at INTEGER)").unwrap();
    let started = Instant::now();
    for e in events {
        conn.execute(
            "INSERT INTO events (event_id, captured_at, device, body, bytes) VALUES (?1, ?2, ?3, ?4, ?5)",
            rusqlite::params![e.event_id, e.captured_at_ms, &*e.device, e.body, e.body.len() as i64],
        )
        .unwrap();
    }
    events.len() as f64 / started.elapsed().as_secs_f64()
}

/// Subscribes and counts events on the events topic.
async fn count_events(port: u16) -> (mpsc::UnboundedReceiver<usize>, tokio::task::JoinHandle<()>) {
    let mut sub = support::Subscriber::connect(port, &["tracegate/gw-bench/events"]).await;
    let (tx, rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        while let Some((_, payload)) = sub.next(Duration::from_secs(3600)).await {
            let doc: serde_json::Value = serde_json::from_slice(&payload).unwrap();
            let _ = tx.send(
                doc["epcisBody"]["eventList"]
                    .as_array()
                    .map_or(0, |l| l.len()),
            );
        }
    });
    (rx, task)
}

struct Delivery {
    /// Events/s until the broker had acknowledged everything.
    acked_per_s: f64,
    /// Events/s until the subscriber had received the backlog (the first `events`).
    received_per_s: f64,
}

/// Fills an outbox with `events`, then starts the uplink and times until every event is
/// acknowledged, and until a subscriber has received them all. With `live`, new events are
/// appended at `live` events/s during the drain.
async fn deliver_backlog(events: &[NewEvent], live: Option<(&[NewEvent], f64)>) -> Delivery {
    let broker = support::Broker::start();
    let dir = tempfile::tempdir().unwrap();
    let config = Arc::new(config_for(broker.port, &dir.path().join("outbox.db")));
    let (store, thread) = Store::open(&config.store).unwrap();
    let mut pending = Vec::new();
    for e in events {
        pending.push(store.append(e.clone()).await);
    }
    for p in pending {
        p.await;
    }
    let (mut received, counter) = count_events(broker.port).await;
    let status = Arc::new(StatusCollector::new(
        &config,
        store.clone(),
        DeviceRegistry::new(&config),
        Arc::new(BrokerStatus::default()),
    ));
    let (cmd_tx, _cmd_rx) = mpsc::channel(8);
    let (_reply_tx, reply_rx) = mpsc::channel(8);
    let cancel = CancellationToken::new();
    let total = events.len() + live.map_or(0, |(l, _)| l.len());
    let started = Instant::now();
    let sync = tokio::spawn(
        Sync::new(config.clone(), store.clone(), status, cmd_tx, reply_rx).run(cancel.clone()),
    );
    let feeder = live.map(|(live, rate)| {
        let store = store.clone();
        let live = live.to_vec();
        tokio::spawn(async move {
            let every = Duration::from_secs_f64(1.0 / rate);
            let mut tick = tokio::time::interval(every);
            for e in live {
                tick.tick().await;
                // Fire and forget: the commit happens whether or not anyone awaits it.
                drop(store.append(e).await);
            }
        })
    });
    let mut acked_at = None;
    let mut backlog_at = None;
    let mut got = 0usize;
    let mut stats = store.watch_stats();
    while got < total || acked_at.is_none() {
        tokio::select! {
            n = received.recv() => {
                got += n.unwrap();
                if backlog_at.is_none() && got >= events.len() {
                    backlog_at = Some(started.elapsed());
                }
            }
            _ = stats.changed() => {
                let s = stats.borrow_and_update().clone();
                if acked_at.is_none() && s.delivered_total as usize >= total {
                    acked_at = Some(started.elapsed());
                }
            }
        }
    }
    if let Some(f) = feeder {
        f.await.unwrap();
    }
    cancel.cancel();
    sync.await.unwrap();
    counter.abort();
    store.close().await;
    drop(store);
    tokio::task::spawn_blocking(move || thread.join())
        .await
        .unwrap();
    Delivery {
        acked_per_s: total as f64 / acked_at.unwrap().as_secs_f64(),
        received_per_s: events.len() as f64 / backlog_at.unwrap().as_secs_f64(),
    }
}

/// Baseline: the same events published one QoS 1 message each, up to 32 in flight.
async fn one_message_per_event(events: &[NewEvent]) -> f64 {
    let broker = support::Broker::start();
    let (mut received, counter) = count_events(broker.port).await;
    let mut options = MqttOptions::new("bench-naive", "127.0.0.1", broker.port);
    options
        .set_inflight(32)
        .set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut eventloop) = AsyncClient::new(options, 64);
    let bodies: Vec<Vec<u8>> = events
        .iter()
        .map(|e| {
            let mut doc = tracegate::capture::event::DocumentWriter::new(
                jiff::Timestamp::now(),
                e.body.len(),
            );
            doc.push(&e.body);
            doc.finish()
        })
        .collect();
    let total = bodies.len();
    let started = Instant::now();
    let publisher = tokio::spawn(async move {
        for body in bodies {
            client
                .publish("tracegate/gw-bench/events", QoS::AtLeastOnce, false, body)
                .await
                .unwrap();
        }
        client
    });
    let mut acked = 0;
    let mut got = 0;
    while acked < total || got < total {
        tokio::select! {
            ev = eventloop.poll() => match ev.unwrap() {
                Event::Incoming(Packet::PubAck(_)) => acked += 1,
                Event::Outgoing(Outgoing::Publish(_)) | Event::Incoming(_) | Event::Outgoing(_) => {}
            },
            n = received.recv() => got += n.unwrap(),
        }
    }
    let rate = total as f64 / started.elapsed().as_secs_f64();
    drop(publisher.await.unwrap());
    counter.abort();
    rate
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // `cargo test --benches` runs benches in test mode: keep that quick.
    let quick = std::env::args().any(|a| a == "--test")
        || std::env::var_os("TRACEGATE_BENCH_QUICK").is_some();
    let n = if quick { 2_000 } else { 100_000 };
    let events = sample_events(n + n / 2);
    let (backlog, live) = events.split_at(n);
    let body_bytes = events[0].body.len();
    println!(
        "tracegate throughput ({n} events of ~{body_bytes} bytes; {} cores)\n",
        std::thread::available_parallelism().map_or(1, |p| p.get())
    );

    let grouped = capture_with_group_commit(backlog, true).await;
    let unsigned = capture_with_group_commit(backlog, false).await;
    let started = Instant::now();
    let mut link = chain::genesis("bench");
    for e in backlog {
        link = chain::next(&link, e.body.as_bytes());
    }
    std::hint::black_box(link);
    let hashing = backlog.len() as f64 / started.elapsed().as_secs_f64();
    let naive_n = (n / 50).max(200);
    let naive = tokio::task::spawn_blocking({
        let sample = backlog[..naive_n].to_vec();
        move || capture_one_transaction_per_event(&sample)
    })
    .await
    .unwrap();
    println!("capture into the outbox (synchronous=FULL, WAL)");
    println!("  group commit, chain signed   {grouped:>10.0} events/s");
    println!(
        "  group commit, chain unsigned {unsigned:>10.0} events/s  (signed / unsigned {:.2})",
        grouped / unsigned
    );
    println!(
        "  chain links alone (SHA-256)  {hashing:>10.0} events/s  ({:.1} % of a captured event's time)",
        100.0 * grouped / hashing
    );
    println!("  baseline: 1 commit per event {naive:>10.0} events/s  ({naive_n} events)");
    println!(
        "  ratio                        {:>10.1}x\n",
        grouped / naive
    );

    let delivery = deliver_backlog(backlog, None).await;
    let naive_n = (n / 10).max(500);
    let naive = one_message_per_event(&backlog[..naive_n]).await;
    println!("delivery of a backlog to mosquitto (QoS 1)");
    println!(
        "  acknowledged (PUBACK)        {:>10.0} events/s",
        delivery.acked_per_s
    );
    println!(
        "  received by a subscriber     {:>10.0} events/s",
        delivery.received_per_s
    );
    println!("  baseline: 1 message per event{naive:>10.0} events/s  ({naive_n} events, received)");
    println!(
        "  ratio (received)             {:>10.1}x\n",
        delivery.received_per_s / naive
    );

    let live_rate = 2_000.0;
    let drain = deliver_backlog(backlog, Some((live, live_rate))).await;
    println!("backlog drain while {live_rate:.0} new reads/s keep arriving");
    println!(
        "  backlog received             {:>10.0} events/s ({} events)",
        drain.received_per_s,
        backlog.len()
    );
    println!(
        "  ratio to the idle drain      {:>10.2}x",
        drain.received_per_s / delivery.received_per_s
    );
}
