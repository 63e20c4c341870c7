use super::*;

fn ok(input: &[u8]) -> Identified {
    let d = decode(input, Mode::Auto, Rules::default());
    d.result
        .unwrap_or_else(|e| panic!("{:?}: {e}", String::from_utf8_lossy(input)))
}

fn kind_of(input: &[u8]) -> (Kind, bool) {
    let d = decode(input, Mode::Auto, Rules::default());
    (d.kind, d.result.is_ok())
}

fn pairs(id: &Identified) -> Vec<(&str, &str)> {
    id.ais.iter().map(|a| (a.ai(), a.value.as_str())).collect()
}

#[test]
fn classification_in_auto_mode() {
    assert_eq!(kind_of(b"]d20109506000134352\x1d10ABC"), (Kind::Gs1, true));
    assert_eq!(
        kind_of(b"]d210ABC"),
        (Kind::Gs1, false),
        "(10) needs (01), (02), (03), (8006) or (8026)"
    );
    assert_eq!(kind_of(b"]C10109506000134352"), (Kind::Gs1, true));
    assert_eq!(kind_of(b"]C0ABC-123"), (Kind::Plain, true));
    assert_eq!(kind_of(b"ABC-123"), (Kind::Plain, true));
    assert_eq!(
        kind_of(b"]Q1https://id.gs1.org/01/09506000134352"),
        (Kind::DigitalLink, true)
    );
    assert_eq!(kind_of(b"https://example.com/about"), (Kind::Plain, true));
    assert_eq!(
        kind_of(b"https://example.com/01/09506000134353"),
        (Kind::DigitalLink, false)
    );
    assert_eq!(kind_of(b"(01)09506000134352(10)A"), (Kind::Gs1, true));
    assert_eq!(kind_of(b"\x1d0109506000134352"), (Kind::Gs1, true));
    // After a GS1 symbology identifier a GS is a redundant FNC1: refused, as GS1's Syntax
    // Engine refuses it, unless the device accepts it.
    assert_eq!(kind_of(b"]d2\x1d0109506000134352"), (Kind::Gs1, false));
    let lenient = Rules {
        leading_gs: true,
        ..Rules::default()
    };
    assert!(
        decode(b"]d2\x1d0109506000134352", Mode::Auto, lenient)
            .result
            .is_ok()
    );
    assert_eq!(kind_of(b"3074257BF7194E4000001A85"), (Kind::Epc, true));
    assert_eq!(
        kind_of(b"urn:epc:id:sgtin:0614141.812345.6789"),
        (Kind::Epc, true)
    );
    assert_eq!(kind_of(b"4012345000009"), (Kind::Gs1, true));
    assert_eq!(
        kind_of(b"4012345000008"),
        (Kind::Plain, true),
        "no AIM, bad check digit: not taken for a GTIN"
    );
    assert_eq!(
        kind_of(b"]E04012345000008"),
        (Kind::Gs1, false),
        "with AIM it is an EAN-13 with a bad check digit"
    );
    assert_eq!(kind_of(b"81234560000000011234"), (Kind::CnDrug, true));
    assert_eq!(kind_of(b"111010100000001"), (Kind::CnLivestock, true));
    assert_eq!(kind_of(b"982000123456789"), (Kind::Iso11784, true));
    assert_eq!(kind_of(b"982 000123456789"), (Kind::Iso11784, true));
    assert_eq!(kind_of(b"\xff\xfe"), (Kind::Plain, true));
    // China's other systems, by their unambiguous signs.
    assert_eq!(
        kind_of(b"MA.156.M0.100761.21234561.Sx00008.M220117.L20220117.C3"),
        (Kind::CnMa, true)
    );
    assert_eq!(
        kind_of(b"MA.156.M0.100761.2123456.S1"),
        (Kind::CnMa, false),
        "an MA UDI with a 7-digit product code is refused, not taken for text"
    );
    assert_eq!(
        kind_of(b"http://s.idcode.org.cn/?code=MA.156.1003.16291"),
        (Kind::CnMa, true)
    );
    assert_eq!(kind_of(b"88.608.8889/87654321"), (Kind::CnHandle, true));
    assert_eq!(
        kind_of(b"https://hdl.handle.net/88.1000.2/mm"),
        (Kind::CnHandle, true)
    );
    assert_eq!(
        kind_of(b"20.500.12345/abc"),
        (Kind::Plain, true),
        "not an IDIS prefix"
    );
    assert_eq!(
        kind_of(b"MA.B"),
        (Kind::Plain, true),
        "no country digit: text"
    );
    assert_eq!(kind_of(b"urn:oid:1.2.156.10197.1.301"), (Kind::CnOid, true));
    assert_eq!(kind_of(b"2.16.156.10011.1"), (Kind::CnOid, true));
    assert_eq!(
        kind_of(b"1.2.840.113549"),
        (Kind::Plain, true),
        "not China's arc"
    );
    // With a QR code's symbology identifier (]Q1: plain data) as well.
    assert_eq!(kind_of(b"]Q188.608.8889/87654321"), (Kind::CnHandle, true));
}

#[test]
fn gs1_from_every_carrier() {
    let id = ok(b"]d20109506000134352172012311012345\x1d21ABC");
    assert_eq!(id.symbology.as_deref(), Some("]d2"));
    assert_eq!(
        pairs(&id),
        vec![
            ("01", "09506000134352"),
            ("17", "201231"),
            ("10", "12345"),
            ("21", "ABC")
        ]
    );
    assert_eq!(
        pairs(&ok(b"]E04012345000009")),
        vec![("01", "04012345000009")]
    );
    assert_eq!(pairs(&ok(b"]E412345670")), vec![("01", "00000012345670")]);
    assert_eq!(
        pairs(&ok(b"]I110614141123459")),
        vec![("01", "10614141123459")]
    );
    assert_eq!(
        pairs(&ok(b"]E3401234500000912")),
        vec![("01", "04012345000009")]
    );
    assert_eq!(
        pairs(&ok(b"]E04012345000009|]e01012345")),
        vec![("01", "04012345000009"), ("10", "12345")]
    );
}

#[test]
fn errors_carry_positions_in_the_whole_input() {
    let d = decode(b"]C10109506000134353", Mode::Auto, Rules::default());
    let e = d.result.unwrap_err();
    assert_eq!((e.kind, e.position), ("bad_check_digit", Some(3 + 2 + 13)));
    let d = decode(b"]d221ABC", Mode::Auto, Rules::default());
    assert_eq!(d.result.unwrap_err().kind, "missing_requisite");
    let d = decode(
        b"]d221ABC",
        Mode::Auto,
        Rules {
            requisites: false,
            ..Rules::default()
        },
    );
    assert!(d.result.is_ok(), "relaxed for split logistic labels");
}

#[test]
fn explicit_modes() {
    assert_eq!(
        decode(b"]C0ABC", Mode::Gs1, Rules::default())
            .result
            .unwrap_err()
            .kind,
        "not_gs1"
    );
    assert!(
        decode(b"0109506000134352", Mode::Gs1, Rules::default())
            .result
            .is_ok()
    );
    assert_eq!(
        decode(b"https://a/b", Mode::DigitalLink, Rules::default())
            .result
            .unwrap_err()
            .kind,
        "not_digital_link"
    );
    assert_eq!(
        decode(b"FF00", Mode::Epc, Rules::default())
            .result
            .unwrap_err()
            .kind,
        "unknown_header"
    );
    assert!(
        decode(b"0109506000134352", Mode::Plain, Rules::default())
            .result
            .unwrap()
            .text
            .is_some()
    );
    assert_eq!(
        decode(b"12", Mode::CnDrug, Rules::default()).kind,
        Kind::CnDrug
    );
}
