//! Instructions per read, counted by valgrind's callgrind: a figure that does not move with
//! what else the machine is doing (clock-time figures here vary by ±20 % between runs of one
//! binary), so a regression shows as a number.
//!
//! The bench runs itself under `valgrind --tool=callgrind` three times, each doing the same
//! set-up (an outbox opened, the event builder, the reads):
//!
//! - `none`: nothing more — the set-up's own count, subtracted from the others;
//! - `capture`: `n` GS1 DataMatrix scans through what the pipeline does per read — decode,
//!   verdict, map to EPC URIs, build the ObjectEvent, CBV 2.0 event hash, serialise;
//! - `commit`: the same, and each event appended to the outbox and committed, as in a burst
//!   (appends queued without waiting, so the writer's group commit takes many per
//!   transaction; `synchronous=FULL`, the hash chain, its head signed per commit).
//!
//! capture per read = (capture − none) / n; commit per read = (commit − capture) / n. Not
//! counted: the serial driver's framing (a few hundred instructions a read) and the MQTT
//! session's publish.
//!
//! `cargo bench -p tracegate --bench instructions` (valgrind installed).

#[path = "common/report.rs"]
mod report;

use std::hint::black_box;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use report::Figure;
use tracegate::capture::event::build::EventBuilder;
use tracegate::capture::event::ids::IdMapper;
use tracegate::capture::pipeline::verdict::{Verdict, judge};
use tracegate::config::{CaptureSettings, Config, IdentifiersConfig};
use tracegate::outbox::signing::key::GatewayKey;
use tracegate::outbox::store::{ChainSigner, Store};
use tracegate_drivers::{RawRead, ReadMeta};
use tracegate_epcis::context::BizContext;

/// The child's instructions: `{phase}:{n}`.
const CHILD: &str = "TRACEGATE_CALLGRIND_CHILD";

/// One run under callgrind: `phase` over `n` reads in `dir`.
fn child(phase: &str, n: usize, dir: &Path) {
    let config = Config::parse(
        &dir.join("t.toml"),
        "[gateway]\nid = \"gw\"\n[store]\npath = \"outbox.db\"\n[mqtt]\nhost = \"127.0.0.1\"\n",
        &tracegate::capture::devices::builtin(),
    )
    .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // Signed, as the daemon's: each commit signs the chain's head.
    let (key, _) =
        GatewayKey::load_or_create_for(&config.integrity.key_file, &config.integrity.algorithm)
            .unwrap();
    let signer = Arc::new(ChainSigner {
        key,
        gateway: "gw".into(),
    });
    let (store, _thread) = runtime
        .block_on(async { Store::open_signed(&config.store, Some(signer)) })
        .unwrap();
    let builder = EventBuilder::new(
        IdMapper::from_config(&IdentifiersConfig::default()).unwrap(),
        jiff::tz::TimeZone::UTC,
    );
    let context = BizContext {
        biz_step: Some("commissioning".into()),
        read_point: Some("urn:epc:id:sgln:0614141.00777.0".into()),
        ..BizContext::default()
    };
    let capture = CaptureSettings::default();
    let device: Arc<str> = Arc::from("line-1");
    let reads: Vec<RawRead> = (0..n)
        .map(|i| RawRead {
            device: device.clone(),
            at: SystemTime::now(),
            mono: Instant::now(),
            payload: format!("]d20109506000134352172712311026L1127\u{1d}21{i:012}").into(),
            meta: ReadMeta::default(),
        })
        .collect();
    let at = jiff::Timestamp::now();
    runtime.block_on(async {
        let mut pending = Vec::with_capacity(n);
        for read in reads.iter().take(if phase == "none" { 0 } else { n }) {
            let Verdict::Accept(id) = judge(&read.payload, &capture) else {
                panic!("a valid sample scan")
            };
            let event = builder.finish(builder.read_event(at, read, &id, &context), &device);
            if phase == "commit" {
                pending.push(store.append(event).await);
            } else {
                black_box(event);
            }
        }
        for append in pending {
            append.await;
        }
        store.flush().await;
    });
    // Exit now: the writer thread's shutdown is not what is counted.
    std::process::exit(0);
}

/// Instructions of one run of `phase` over `n` reads.
fn count(phase: &str, n: usize) -> u64 {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("callgrind.out");
    let status = Command::new("valgrind")
        .args(["--tool=callgrind", "--quiet"])
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(std::env::current_exe().unwrap())
        .env(CHILD, format!("{phase}:{n}:{}", dir.path().display()))
        .status()
        .expect("valgrind runs (apt install valgrind)");
    assert!(status.success(), "the {phase} run under callgrind failed");
    let text = std::fs::read_to_string(&out).unwrap();
    text.lines()
        .find_map(|l| {
            l.strip_prefix("summary:")
                .or_else(|| l.strip_prefix("totals:"))
        })
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("callgrind's total")
}

fn main() {
    if let Ok(spec) = std::env::var(CHILD) {
        let mut parts = spec.splitn(3, ':');
        let (phase, n, dir) = (
            parts.next().unwrap().to_string(),
            parts.next().unwrap().parse().unwrap(),
            parts.next().unwrap().to_string(),
        );
        child(&phase, n, Path::new(&dir));
        return;
    }
    let n = if report::quick() { 200 } else { 10_000 };
    println!("instructions per read, counted by callgrind over {n} reads\n");
    let none = count("none", n);
    let capture = count("capture", n);
    let commit = count("commit", n);
    let per = |a: u64, b: u64| a.saturating_sub(b) as f64 / n as f64;
    report::record(Figure {
        bench: "instructions",
        what: "capture path per read: decode, verdict, map, build, CBV hash, serialise",
        value: per(capture, none),
        unit: "instructions",
        limit: None,
        target: None,
    });
    report::record(Figure {
        bench: "instructions",
        what: "commit per read: the outbox append, group commit, hash chain",
        value: per(commit, capture),
        unit: "instructions",
        limit: None,
        target: None,
    });
}
