use jiff::civil::date;
use serde_json::json;

use super::*;
use tracegate_identifiers::{Mode, Rules, decode};

fn table() -> Arc<GcpTable> {
    let mut t = GcpTable::default();
    t.set("0614141", 7).unwrap();
    t.set("4012345", 7).unwrap();
    t.set("95060001343", 11).unwrap();
    Arc::new(t)
}

fn map_with(form: UriForm, input: &str) -> Mapped {
    let id = decode(input.as_bytes(), Mode::Auto, Rules::default())
        .result
        .unwrap_or_else(|e| panic!("{input}: {e}"));
    IdMapper::new(form, table()).map(&id, date(2026, 11, 26))
}

fn map(input: &str) -> Mapped {
    map_with(UriForm::Epc, input)
}

fn instance(m: &Mapped) -> &str {
    match &m.subject {
        Subject::Instance(s) => s,
        other => panic!("not an instance: {other:?}"),
    }
}

fn class(m: &Mapped) -> &QuantityElement {
    match &m.subject {
        Subject::Class(q) => q,
        other => panic!("not a class: {other:?}"),
    }
}

#[test]
fn gs1_keys_become_epc_uris_when_the_prefix_length_is_known() {
    // TDS 2.1 examples: GTIN 80614141123458 serial 6789 → sgtin:0614141.812345.6789.
    assert_eq!(
        instance(&map("(01)80614141123458(21)6789")),
        "urn:epc:id:sgtin:0614141.812345.6789"
    );
    assert_eq!(
        instance(&map("(01)80614141123458(21)A/B")),
        "urn:epc:id:sgtin:0614141.812345.A%2FB"
    );
    assert_eq!(
        instance(&map("(00)106141412345678908")),
        "urn:epc:id:sscc:0614141.1234567890"
    );
    assert_eq!(
        instance(&map("(414)0614141123452(254)5678")),
        "urn:epc:id:sgln:0614141.12345.5678"
    );
    assert_eq!(
        instance(&map("(414)0614141123452")),
        "urn:epc:id:sgln:0614141.12345.0"
    );
    assert_eq!(
        instance(&map("(8003)006141411234525678")),
        "urn:epc:id:grai:0614141.12345.5678"
    );
    assert_eq!(
        instance(&map("(8004)0614141ABC123")),
        "urn:epc:id:giai:0614141.ABC123"
    );
    assert_eq!(
        instance(&map("(8018)061414112345678902")),
        "urn:epc:id:gsrn:0614141.1234567890"
    );
    assert_eq!(
        instance(&map("(253)0614141123452XYZ")),
        "urn:epc:id:gdti:0614141.12345.XYZ"
    );
    assert!(map("(00)106141412345678908").is_container());
    assert!(!map("(01)80614141123458(21)6789").is_container());
}

#[test]
fn lots_and_bare_gtins_are_classes_with_quantities() {
    let m = map("(01)04012345123456(10)L1(3102)001250");
    let q = class(&m);
    assert_eq!(q.epc_class, "urn:epc:class:lgtin:4012345.012345.L1");
    assert_eq!(q.quantity, Some("12.5".parse().unwrap()));
    assert_eq!(q.uom.as_deref(), Some("KGM"));
    let q = map("(01)04012345123456(30)24").subject;
    let Subject::Class(q) = q else { panic!() };
    assert_eq!(q.epc_class, "urn:epc:idpat:sgtin:4012345.012345.*");
    assert_eq!(q.quantity, Some(24.into()));
    assert_eq!(q.uom, None);
    // One item scanned, nothing stated: quantity 1.
    assert_eq!(class(&map("]E04012345123456")).quantity, Some(1.into()));
}

#[test]
fn unknown_prefixes_and_digital_link_form_use_digital_links() {
    // 520 (GS1 Greece) is not in this table: no guessing.
    assert_eq!(
        instance(&map("(01)05200001000008(21)77")),
        "https://id.gs1.org/01/05200001000008/21/77"
    );
    assert_eq!(
        class(&map("(01)05200001000008(10)L/2")).epc_class,
        "https://id.gs1.org/01/05200001000008/10/L%2F2"
    );
    assert_eq!(
        instance(&map_with(
            UriForm::DigitalLink,
            "(01)80614141123458(21)6789(17)271231"
        )),
        "https://id.gs1.org/01/80614141123458/21/6789"
    );
    assert_eq!(
        instance(&map_with(UriForm::DigitalLink, "(00)106141412345678908")),
        "https://id.gs1.org/00/106141412345678908"
    );
}

#[test]
fn tags_keep_their_epc_and_national_codes_get_uris() {
    assert_eq!(
        instance(&map("3074257BF7194E4000001A85")),
        "urn:epc:id:sgtin:0614141.812345.6789"
    );
    assert_eq!(
        instance(&map_with(UriForm::DigitalLink, "3074257BF7194E4000001A85")),
        "https://id.gs1.org/01/80614141123458/21/6789"
    );
    assert_eq!(
        instance(&map("982000123456789")),
        "https://ns.tracegate.dev/id/iso11784/982000123456789"
    );
    assert_eq!(map("hello").subject, Subject::Nothing);
}

#[test]
fn ilmd_from_lot_and_dates() {
    let m = map("(01)04012345123456(10)ABC(17)271200(11)261125");
    assert_eq!(
        serde_json::Value::Object(m.ilmd),
        json!({"cbvmda:lotNumber": "ABC", "cbvmda:itemExpirationDate": "2027-12-31",
               "cbvmda:productionDate": "2026-11-25"})
    );
    // GS1 GenSpecs §7.12: 51 or more years ahead is the previous century.
    assert_eq!(gs1_date("800101", date(2026, 1, 1)), Some(date(1980, 1, 1)));
    assert_eq!(gs1_date("760101", date(2026, 1, 1)), Some(date(2076, 1, 1)));
    assert_eq!(gs1_date("780101", date(2026, 1, 1)), Some(date(1978, 1, 1)));
    assert_eq!(gs1_date("990101", date(2060, 1, 1)), Some(date(2099, 1, 1)));
    assert_eq!(gs1_date("050101", date(2060, 1, 1)), Some(date(2105, 1, 1)));
    assert_eq!(
        gs1_date("240200", date(2026, 1, 1)),
        Some(date(2024, 2, 29))
    );
    assert_eq!(gs1_date("241301", date(2026, 1, 1)), None);
}

#[test]
fn an_ma_udi_is_its_di_and_serial_with_lot_and_dates_as_ilmd() {
    let m = map("MA.156.M0.100761.21234561.Sx00008.M220117.L20220117.D20220118.E220130.V220117.C3");
    assert_eq!(
        instance(&m),
        "http://s.idcode.org.cn/?code=MA.156.M0.100761.21234561.Sx00008"
    );
    assert_eq!(
        Value::Object(m.ilmd.clone()),
        json!({
            "cbvmda:lotNumber": "20220117",
            "cbvmda:productionDate": "2022-01-17",
            "cbvmda:itemExpirationDate": "2022-01-30",
        })
    );
    // Without a serial: the DI and lot as a class, one item.
    let m = map("MA.156.M0.100761.21234561.L20220117.E220130");
    let q = class(&m);
    assert_eq!(
        q.epc_class,
        "http://s.idcode.org.cn/?code=MA.156.M0.100761.21234561.L20220117"
    );
    assert_eq!(q.quantity, Some(Number::from(1)));
    assert_eq!(
        class(&map("MA.156.M0.100761.21234561")).epc_class,
        "http://s.idcode.org.cn/?code=MA.156.M0.100761.21234561"
    );
    // Any other MA code is an instance by its whole code, "/" escaped in the query.
    assert_eq!(
        instance(&map("MA.156.1003.1629/73.10000000.6/")),
        "http://s.idcode.org.cn/?code=MA.156.1003.1629%2F73.10000000.6%2F"
    );
}

#[test]
fn a_handle_is_its_proxy_url_or_a_tracegate_uri() {
    assert_eq!(
        instance(&map("88.608.8889/87654321")),
        "https://hdl.handle.net/88.608.8889/87654321"
    );
    // The same handle from its proxy URL is the same identifier.
    assert_eq!(
        instance(&map("https://hdl.handle.net/88.608.8889/87654321")),
        "https://hdl.handle.net/88.608.8889/87654321"
    );
    let id = decode(b"88.608.8899/META zj?02", Mode::CnHandle, Rules::default()).result;
    assert!(id.is_err(), "a space is refused");
    let id = decode(
        "88.608.8899/件/02".as_bytes(),
        Mode::CnHandle,
        Rules::default(),
    )
    .result
    .unwrap();
    let tracegate = IdMapper::new(UriForm::Epc, table()).with_national_uri(NationalUri::Tracegate);
    assert_eq!(
        instance(&tracegate.map(&id, date(2026, 11, 26))),
        "https://ns.tracegate.dev/id/cn-handle/88.608.8899/%E4%BB%B6%2F02"
    );
    let ma = decode(b"MA.156.1003.16291", Mode::Auto, Rules::default())
        .result
        .unwrap();
    assert_eq!(
        instance(&tracegate.map(&ma, date(2026, 11, 26))),
        "https://ns.tracegate.dev/id/cn-ma/MA.156.1003.16291"
    );
}

#[test]
fn an_oid_under_chinas_arcs_is_its_urn() {
    assert_eq!(
        instance(&map("2.16.156.10011.1.5")),
        "urn:oid:2.16.156.10011.1.5"
    );
    assert_eq!(
        instance(&map("urn:oid:1.2.156.10197.1.301")),
        "urn:oid:1.2.156.10197.1.301"
    );
}
