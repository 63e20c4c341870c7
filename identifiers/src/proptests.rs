//! Round trips over generated data: AIs → element string → AIs, AIs → Digital Link → AIs,
//! GS1 key → EPC hex → GS1 key; and no panic on any input for every parser.

use proptest::prelude::*;

use super::gs1::linters::CSET82;
use super::gs1::{self, AiValue};
use super::{Epc, Mode, Rules, decode, digital_link, gs1_check_digit};

fn with_check(body: String) -> String {
    let c = gs1_check_digit(body.as_bytes()).expect("digits") as char;
    format!("{body}{c}")
}

fn digits(n: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(0u8..10, n)
        .prop_map(|v| v.into_iter().map(|d| (b'0' + d) as char).collect())
}

fn cset82(max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(CSET82.to_vec()), 1..=max)
        .prop_map(|v| String::from_utf8(v).expect("ASCII"))
}

fn gtin() -> impl Strategy<Value = String> {
    digits(13).prop_map(with_check)
}

fn date() -> impl Strategy<Value = String> {
    (0u32..100, 1u32..13, 0u32..29).prop_map(|(y, m, d)| format!("{y:02}{m:02}{d:02}"))
}

/// A valid GS1 message around a GTIN: optional lot, serial, expiry, net weight, count.
fn message() -> impl Strategy<Value = Vec<(String, String)>> {
    (
        gtin(),
        proptest::option::of(cset82(20)),
        proptest::option::of(cset82(20)),
        proptest::option::of(date()),
        proptest::option::of((0u8..6, digits(6))),
        proptest::option::of(digits(8)),
        proptest::sample::subsequence((0..6).collect::<Vec<_>>(), 0..=6),
    )
        .prop_map(|(gtin, lot, serial, expiry, weight, count, order)| {
            let mut others: Vec<(String, String)> = Vec::new();
            if let Some(v) = lot {
                others.push(("10".into(), v));
            }
            if let Some(v) = serial {
                others.push(("21".into(), v));
            }
            if let Some(v) = expiry {
                others.push(("17".into(), v));
            }
            if let Some((d, v)) = weight {
                others.push((format!("310{d}"), v));
            }
            if let Some(v) = count {
                others.push(("30".into(), v));
            }
            // Shuffle deterministically by the sampled order, GTIN first.
            let mut out = vec![("01".to_string(), gtin)];
            for i in order {
                if i < others.len() {
                    out.push(others[i].clone());
                }
            }
            for o in others {
                if !out.contains(&o) {
                    out.push(o);
                }
            }
            out
        })
}

fn values(pairs: &[(String, String)]) -> Vec<AiValue> {
    pairs
        .iter()
        .map(|(ai, v)| AiValue::new(ai, v.clone(), 0).expect("in table"))
        .collect()
}

fn pairs(ais: &[AiValue]) -> Vec<(String, String)> {
    ais.iter()
        .map(|a| (a.ai().to_string(), a.value.clone()))
        .collect()
}

proptest! {
    #[test]
    fn ais_to_element_string_and_back(msg in message()) {
        let ais = values(&msg);
        let raw = gs1::to_element_string(&ais);
        let back = gs1::parse_element_string(&raw, 0).unwrap();
        prop_assert_eq!(pairs(&back), msg.clone());
        let bracketed = gs1::to_bracketed(&ais);
        prop_assert_eq!(pairs(&gs1::parse_bracketed(&bracketed, 0).unwrap()), msg.clone());
        // And through the scanner path with an AIM identifier and the message rules.
        let mut scanned = b"]d2".to_vec();
        scanned.extend_from_slice(&raw);
        let d = decode(&scanned, Mode::Auto, Rules::default());
        prop_assert_eq!(pairs(&d.result.unwrap().ais), msg);
    }

    #[test]
    fn ais_to_digital_link_and_back(msg in message(), stem in prop_oneof![Just(None), Just(Some("https://brand.example/p"))]) {
        let ais = values(&msg);
        let uri = digital_link::to_uri(&ais, stem).unwrap();
        let back = digital_link::parse(&uri, 0).unwrap();
        let mut got = pairs(&back.ais);
        let mut want = msg;
        got.sort();
        want.sort();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn gtin_and_serial_to_sgtin_and_back(gtin in gtin(), serial in prop_oneof![
            (0u64..(1 << 38)).prop_map(|n| n.to_string()),
            cset82(20)],
        cp_len in 6usize..=12, filter in 0u8..8) {
        let epc = Epc::sgtin(&gtin, &serial, cp_len, filter).unwrap();
        let hex = epc.to_hex().unwrap();
        let back = Epc::from_hex(&hex).unwrap();
        prop_assert_eq!(&back, &epc);
        prop_assert_eq!(back.gs1(), vec![("01", gtin), ("21", serial)]);
        prop_assert_eq!(Epc::from_uri(&back.tag_uri()).unwrap(), back.clone());
    }

    #[test]
    fn sscc_and_gln_to_epc_and_back(body in digits(17), gln in digits(12), ext in proptest::option::of(cset82(20)), cp_len in 6usize..=12) {
        let sscc = with_check(body);
        let epc = Epc::sscc(&sscc, cp_len, 1).unwrap();
        prop_assert_eq!(Epc::from_hex(&epc.to_hex().unwrap()).unwrap().gs1(), vec![("00", sscc)]);
        let gln = with_check(gln);
        let epc = Epc::sgln(&gln, ext.as_deref(), cp_len, 1).unwrap();
        let mut want = vec![("414", gln)];
        if let Some(e) = ext.filter(|e| e != "0") {
            want.push(("254", e));
        }
        prop_assert_eq!(Epc::from_hex(&epc.to_hex().unwrap()).unwrap().gs1(), want);
    }

    /// Whatever arrives from a device, every mode answers without panicking.
    #[test]
    fn no_input_panics(input in proptest::collection::vec(any::<u8>(), 0..120), prefix in prop_oneof![
            Just(&b""[..]), Just(&b"]d2"[..]), Just(&b"]C1"[..]), Just(&b"]E0"[..]), Just(&b"]Q1https://a/01/"[..]),
            Just(&b"("[..]), Just(&b"30"[..]), Just(&b"urn:epc:tag:sgtin-96:"[..])]) {
        let mut data = prefix.to_vec();
        data.extend_from_slice(&input);
        for mode in [Mode::Auto, Mode::Gs1, Mode::DigitalLink, Mode::Epc, Mode::CnDrug, Mode::CnLivestock, Mode::Iso11784, Mode::Plain] {
            let d = decode(&data, mode, Rules::default());
            if let Err(e) = &d.result {
                prop_assert!(e.position.is_none_or(|p| p <= data.len()), "{:?} {:?}", e, data);
            }
        }
    }

    /// Digit strings of national-code lengths with multi-byte characters mixed in (the fuzzer
    /// found an ISO 11784 panic slicing inside one).
    #[test]
    fn national_codes_with_multibyte_characters(s in "[0-9 _Ͼé]{12,17}") {
        for mode in [Mode::CnDrug, Mode::CnLivestock, Mode::Iso11784, Mode::Auto] {
            let _ = decode(s.as_bytes(), mode, Rules::default());
        }
    }

    /// Valid-looking element strings built from real AIs but arbitrary values never panic.
    #[test]
    fn no_panic_on_ai_shaped_garbage(ai in proptest::sample::select(gs1::TABLE.entries().iter().map(|e| e.ai.clone()).collect::<Vec<_>>()),
                                     value in proptest::collection::vec(any::<u8>(), 0..100)) {
        let mut data = ai.into_bytes();
        data.extend_from_slice(&value);
        let _ = gs1::parse_element_string(&data, 0);
        let text = String::from_utf8_lossy(&data).into_owned();
        let _ = gs1::parse_bracketed(&format!("({text}"), 0);
    }
}
