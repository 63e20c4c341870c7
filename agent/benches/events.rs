//! Event building and hashing per second on this machine, against a baseline measured in the
//! same run:
//!
//! - build + hash: a scanned GS1 DataMatrix (GTIN, expiry, lot, serial) decoded, mapped to EPC
//!   URIs, built into an ObjectEvent in a receiving-dock context, its CBV 2.0 event hash
//!   computed and the event serialised as stored;
//! - baseline: serialising the same, already built event to JSON once (what any event
//!   producer pays at least);
//! - hash only: the CBV 2.0 hash of an already built event.
//!
//! `cargo bench -p tracegate --bench events`

#[path = "common/report.rs"]
mod report;

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tracegate::capture::event::build::EventBuilder;
use tracegate::capture::event::ids::IdMapper;
use tracegate::capture::pipeline::verdict::{Verdict, judge};
use tracegate::config::{CaptureSettings, IdentifiersConfig};
use tracegate_drivers::{RawRead, ReadMeta};
use tracegate_epcis::context::{BizContext, TransactionRef};

fn rate(budget: Duration, mut f: impl FnMut(usize)) -> f64 {
    let mut best = 0f64;
    let mut i = 0;
    for _ in 0..5 {
        let started = Instant::now();
        let mut n = 0u64;
        while started.elapsed() < budget / 5 {
            for _ in 0..64 {
                f(i);
                i += 1;
            }
            n += 64;
        }
        best = best.max(n as f64 / started.elapsed().as_secs_f64());
    }
    best
}

fn main() {
    let builder = EventBuilder::new(
        IdMapper::from_config(&IdentifiersConfig::default()).unwrap(),
        jiff::tz::TimeZone::UTC,
    );
    let context = BizContext {
        biz_step: Some("receiving".into()),
        disposition: Some("in_progress".into()),
        read_point: Some("urn:epc:id:sgln:0614141.00777.0".into()),
        biz_transactions: vec![TransactionRef {
            kind: Some("po".into()),
            id: "urn:epcglobal:cbv:bt:0614141000005:PO-4711".into(),
        }],
        ..BizContext::default()
    };
    let reads: Vec<RawRead> = (0..1024)
        .map(|i| RawRead {
            device: Arc::from("dock-1"),
            at: SystemTime::now(),
            mono: Instant::now(),
            payload: format!("]d20180614141123458172712311026L1127\u{1d}21{i:012}").into(),
            meta: ReadMeta::default(),
        })
        .collect();
    let capture = CaptureSettings::default();
    let at = jiff::Timestamp::now();
    let build = |read: &RawRead| {
        let Verdict::Accept(id) = judge(&read.payload, &capture) else {
            panic!("valid sample")
        };
        builder.read_event(at, read, &id, &context)
    };
    let built: Vec<_> = reads.iter().map(build).collect();
    let sample = builder.finish(built[0].clone(), &reads[0].device);
    println!(
        "sample event ({} bytes): {}",
        sample.body.len(),
        sample.body
    );

    let budget = Duration::from_millis(if report::quick() { 100 } else { 3000 });
    let full = rate(budget, |i| {
        let read = &reads[i % reads.len()];
        black_box(builder.finish(build(black_box(read)), &read.device));
    });
    let serialise_only = rate(budget, |i| {
        black_box(serde_json::to_string(black_box(&built[i % built.len()])).unwrap());
    });
    let hash_only = rate(budget, |i| {
        black_box(builder.event_id(black_box(&built[i % built.len()])));
    });
    report::record(report::Figure {
        bench: "events",
        what: "decode + map + build + CBV hash + serialise an ObjectEvent",
        value: full,
        unit: "events/s",
        limit: Some(("serialising the built event alone", serialise_only)),
        target: None,
    });
    report::record(report::Figure {
        bench: "events",
        what: "CBV 2.0 event hash alone",
        value: hash_only,
        unit: "events/s",
        limit: None,
        target: None,
    });
}
