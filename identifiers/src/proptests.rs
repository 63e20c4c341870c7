//! Round trips over generated data: AIs → element string → AIs, AIs → Digital Link → AIs,
//! GS1 key → EPC hex → GS1 key; and no panic on any input for every parser.

use proptest::prelude::*;

use super::gs1::linters::CSET82;
use super::gs1::{self, AiValue};
use super::{Epc, Mode, Rules, decode, digital_link, gs1_check_digit, national};

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
            Just(&b"("[..]), Just(&b"30"[..]), Just(&b"urn:epc:tag:sgtin-96:"[..]),
            Just(&b"MA.156."[..]), Just(&b"MA.156.M0.100761.21234561."[..]), Just(&b"88.608."[..]),
            Just(&b"http://s.idcode.org.cn/?code="[..]), Just(&b"https://hdl.handle.net/"[..]), Just(&b"urn:oid:2.16.156."[..])]) {
        let mut data = prefix.to_vec();
        data.extend_from_slice(&input);
        for mode in [Mode::Auto, Mode::Gs1, Mode::DigitalLink, Mode::Epc, Mode::CnDrug, Mode::CnLivestock, Mode::Iso11784, Mode::CnMa, Mode::CnHandle, Mode::CnOid, Mode::Plain] {
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

    /// An MA medical-device UDI formatted from its fields decodes back into them.
    #[test]
    fn ma_udi_round_trips(registrant in "[0-9]{6}", product in "[0-9]{8}",
                          serial in proptest::option::of("[0-9A-Za-z]{1,20}"),
                          lot in proptest::option::of("[0-9A-Za-z-]{1,20}"),
                          made in proptest::option::of((0u32..100, 1u32..13, 1u32..29)),
                          expiry in proptest::option::of((0u32..100, 1u32..13, 1u32..29)),
                          check in proptest::option::of("[0-9A-Z]{1,2}")) {
        let yymmdd = |(y, m, d): (u32, u32, u32)| format!("{y:02}{m:02}{d:02}");
        let iso = |(y, m, d): (u32, u32, u32)| format!("20{y:02}-{m:02}-{d:02}");
        let mut code = format!("MA.156.M0.{registrant}.{product}");
        if let Some(s) = &serial { code += &format!(".S{s}"); }
        if let Some(d) = made { code += &format!(".M{}", yymmdd(d)); }
        if let Some(l) = &lot { code += &format!(".L{l}"); }
        if let Some(d) = expiry { code += &format!(".E{}", yymmdd(d)); }
        if let Some(c) = &check { code += &format!(".C{c}"); }
        let ma = national::ma::cn_ma(&code).unwrap();
        prop_assert_eq!(&ma.code, &code);
        let udi = ma.udi.unwrap();
        prop_assert_eq!(udi.di, format!("MA.156.M0.{registrant}.{product}"));
        prop_assert_eq!(udi.serial, serial);
        prop_assert_eq!(udi.lot, lot);
        prop_assert_eq!(udi.production_date, made.map(iso));
        prop_assert_eq!(udi.expiry_date, expiry.map(iso));
        prop_assert_eq!(udi.check, check);
        // And through the resolution URL, to the same code.
        let url = national::ma::cn_ma(&format!("http://s.idcode.org.cn/?code={code}")).unwrap();
        prop_assert_eq!(url.code, code);
    }

    /// A handle formatted from its prefix and suffix decodes back into them, bare and
    /// through the Handle.Net proxy.
    #[test]
    fn handle_round_trips(segments in proptest::collection::vec("[0-9]{1,5}", 1..4),
                          suffix in "[0-9A-Za-z_./-]{1,30}") {
        let prefix = format!("88.{}", segments.join("."));
        let handle = format!("{prefix}/{suffix}");
        let h = national::handle::cn_handle(&handle).unwrap();
        prop_assert_eq!((&h.prefix, &h.suffix, h.idis), (&prefix, &suffix, true));
        prop_assert_eq!(h.handle(), handle.clone());
        prop_assert!(national::handle::looks_like(&handle));
        let proxied = national::handle::cn_handle(&format!("https://hdl.handle.net/{handle}")).unwrap();
        prop_assert_eq!(proxied, h);
    }

    /// An OID under China's roots formatted from its arcs decodes back into them, dotted and
    /// as a URN.
    #[test]
    fn oid_round_trips(root in proptest::sample::select(national::oid::ROOTS.to_vec()),
                       arcs in proptest::collection::vec(0u64..10_000_000, 1..6)) {
        let below: Vec<String> = arcs.iter().map(u64::to_string).collect();
        let dotted = format!("{root}.{}", below.join("."));
        let oid = national::oid::cn_oid(&dotted).unwrap();
        prop_assert_eq!(oid.root, root);
        prop_assert_eq!(&oid.arcs, &below);
        prop_assert_eq!(national::oid::cn_oid(&oid.urn()).unwrap(), oid);
        prop_assert!(national::oid::looks_like(&dotted));
    }
}
