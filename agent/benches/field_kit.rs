//! How long a field kit's outbox holds out offline: the disk an animal read's event takes,
//! and what the default bounds (`store.max_events` 5,000,000, `store.max_bytes` 2 GiB) hold.
//!
//! 200,000 LF stick reads (15-digit ISO 11784 codes, `decode_as = "iso11784"`, bizStep
//! `inspecting`, the farm kit's read point) are built into events exactly as the daemon
//! builds them and committed to a real outbox (group commit, `synchronous = FULL`, WAL),
//! nothing delivered; then the database is checkpointed and measured on disk. The baseline in
//! the same run is the events' own JSON bytes: what any store of them must write at least.
//!
//! `cargo bench -p tracegate --bench field_kit`

#[path = "common/report.rs"]
mod report;

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use tracegate::capture::event::build::EventBuilder;
use tracegate::capture::event::ids::IdMapper;
use tracegate::capture::pipeline::verdict::{Verdict, judge};
use tracegate::config::{CaptureSettings, Config};
use tracegate::outbox::store::{NewEvent, Store};
use tracegate_drivers::{RawRead, ReadMeta};
use tracegate_epcis::context::BizContext;
use tracegate_identifiers::Mode;

const EVENTS: u64 = 200_000;

fn config(outbox: &std::path::Path) -> Config {
    let text = format!(
        "[gateway]\nid = \"kit-farm-07\"\n[location]\nread_point = \"urn:epc:id:sgln:9506000134.00.7\"\n\
         [store]\npath = \"{}\"\n[mqtt]\nhost = \"127.0.0.1\"\nport = 1\n[clock]\nsync_check = \"trust\"\n",
        outbox.display()
    );
    Config::parse(
        std::path::Path::new("/tmp/field-kit.toml"),
        &text,
        &tracegate::capture::devices::builtin(),
    )
    .unwrap()
}

fn animal_events(config: &Config) -> Vec<NewEvent> {
    let builder = EventBuilder::new(
        IdMapper::from_config(&config.identifiers).unwrap(),
        jiff::tz::TimeZone::UTC,
    );
    let context = BizContext {
        biz_step: Some("inspecting".into()),
        read_point: Some("urn:epc:id:sgln:9506000134.00.7".into()),
        ..BizContext::default()
    };
    let settings = CaptureSettings {
        decode_as: Mode::Iso11784,
        ..CaptureSettings::default()
    };
    (0..EVENTS)
        .map(|n| {
            let read = RawRead {
                device: Arc::from("stick"),
                at: SystemTime::now(),
                mono: Instant::now(),
                payload: format!("982{:012}", 255_895 + n).into(),
                meta: ReadMeta::default(),
            };
            let Verdict::Accept(id) = judge(&read.payload, &settings) else {
                panic!("sample reads are valid")
            };
            let at = jiff::Timestamp::try_from(read.at).unwrap();
            builder.finish(builder.read_event(at, &read, &id, &context), &read.device)
        })
        .collect()
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("outbox.db");
    let config = config(&path);
    let events = animal_events(&config);
    let json: usize = events.iter().map(|e| e.body.len()).sum();
    let (store, thread) = Store::open(&config.store).unwrap();
    let mut pending = Vec::with_capacity(events.len());
    for e in events {
        pending.push(store.append(e).await);
    }
    for p in pending {
        p.await;
    }
    store.close().await;
    drop(store);
    tokio::task::spawn_blocking(move || thread.join())
        .await
        .unwrap();
    // Fold the write-ahead log into the file, as the daemon's checkpoints do.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    drop(conn);
    let on_disk = std::fs::metadata(&path).unwrap().len();
    let per_event = on_disk as f64 / EVENTS as f64;
    let json_per_event = json as f64 / EVENTS as f64;
    report::record(report::Figure {
        bench: "footprint",
        what: "outbox bytes per LF animal read event (checkpointed)",
        value: per_event,
        unit: "bytes",
        limit: Some(("the event's JSON alone", json_per_event)),
        target: None,
    });
    // The default bounds: 5,000,000 events or 2 GiB of counted (JSON) bytes, whichever first.
    let by_count = 5_000_000f64;
    let by_bytes = 2.0 * 1024.0 * 1024.0 * 1024.0 / json_per_event;
    let held = by_count.min(by_bytes);
    report::record(report::Figure {
        bench: "footprint",
        what: "weeks of a field kit's reads the default bounds hold, at 1,000 reads a day",
        value: held / 1_000.0 / 7.0,
        unit: "weeks",
        limit: None,
        target: None,
    });
}
