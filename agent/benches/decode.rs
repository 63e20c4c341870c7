//! Decodes per second on this machine, each against a baseline measured in the same run:
//!
//! - GS1 element strings as scanners send them (GS1 DataMatrix with AIM identifier, GTIN,
//!   expiry, lot and serial; a GS1-128 SSCC; the bracketed form) through `identify::decode`
//!   with the default checks, against a naive split at GS into owned strings (touching every
//!   byte and allocating, validating nothing);
//! - EPC tag memory (TDS example SGTIN-96, SSCC-96 and SGTIN-198 hex) to pure-identity URI and GS1 AIs, against
//!   plain hex decoding of the same strings.
//!
//! `cargo bench -p tracegate --bench decode`

#[path = "common/report.rs"]
mod report;

use std::hint::black_box;
use std::time::{Duration, Instant};

use tracegate_identifiers::{Epc, Mode, Rules, decode};

const GS1: &[&[u8]] = &[
    b"]d2010950600013435217271231102612345\x1d21000000123456",
    b"]C100106141411234567897",
    b"]d2010950600013435210ABC\x1d3103000195\x1d21XYZ-789",
    b"(01)09506000134352(17)271231(10)L1234(21)SN0001",
];

const EPC_HEX: &[&str] = &[
    "3034257BF400B7800004CB2F",
    "3174257BF4499602D2000000",
    "3074257BF7194E4000001A85",
    "3674257BF6B7A659B2C2BF1000000000000000000000000000",
];

/// Runs `f` over `inputs` repeatedly for about `budget`; the best of five rounds, in calls/s.
fn rate<T: ?Sized>(inputs: &[&T], budget: Duration, mut f: impl FnMut(&T)) -> f64 {
    let mut best = 0f64;
    for _ in 0..5 {
        let started = Instant::now();
        let mut calls = 0u64;
        while started.elapsed() < budget / 5 {
            for input in inputs {
                f(input);
            }
            calls += inputs.len() as u64;
        }
        best = best.max(calls as f64 / started.elapsed().as_secs_f64());
    }
    best
}

fn naive_split(input: &[u8]) -> Vec<String> {
    input
        .split(|b| *b == 0x1D)
        .map(|part| String::from_utf8_lossy(part).into_owned())
        .collect()
}

fn main() {
    let budget = Duration::from_millis(if report::quick() { 100 } else { 2000 });
    for input in GS1 {
        assert!(decode(input, Mode::Auto, Rules::default()).result.is_ok());
    }
    for hex in EPC_HEX {
        assert!(Epc::from_hex(hex).is_ok(), "{hex}");
    }

    let gs1 = rate(GS1, budget, |i| {
        black_box(decode(black_box(i), Mode::Auto, Rules::default()));
    });
    let split = rate(GS1, budget, |i| {
        black_box(naive_split(black_box(i)));
    });
    report::record(report::Figure {
        bench: "decode",
        what: "GS1 element strings decoded and validated",
        value: gs1,
        unit: "decodes/s",
        limit: Some(("split at GS, no validation", split)),
        target: None,
    });
    let epc = rate(EPC_HEX, budget, |h| {
        let epc = Epc::from_hex(black_box(h)).unwrap();
        black_box((epc.pure_uri(), epc.gs1()));
    });
    let plain_hex = rate(EPC_HEX, budget, |h| {
        black_box(hex::decode(black_box(h)).unwrap());
    });
    report::record(report::Figure {
        bench: "decode",
        what: "EPC hex → pure-identity URI + GS1 AIs",
        value: epc,
        unit: "decodes/s",
        limit: Some(("hex to bytes", plain_hex)),
        target: None,
    });
    let epc_auto = rate(EPC_HEX, budget, |h| {
        black_box(decode(
            black_box(h.as_bytes()),
            Mode::Auto,
            Rules::default(),
        ));
    });
    report::record(report::Figure {
        bench: "decode",
        what: "EPC hex, auto mode (classify + decode + AIs)",
        value: epc_auto,
        unit: "decodes/s",
        limit: None,
        target: None,
    });
}
