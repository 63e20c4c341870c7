use super::*;

/// (hex, tag URI, pure URI, GS1 element string) — the Tag Data Standard's own examples (TDS 2.1
/// §14 and Annex E), as published with the Tag Data Translation test suite.
const VECTORS: &[(&str, &str, &str, &str)] = &[
    (
        "3074257BF7194E4000001A85",
        "urn:epc:tag:sgtin-96:3.0614141.812345.6789",
        "urn:epc:id:sgtin:0614141.812345.6789",
        "(01)80614141123458(21)6789",
    ),
    (
        "3674257BF6B7A659B2C2BF1000000000000000000000000000",
        "urn:epc:tag:sgtin-198:3.0614141.712345.32a%2Fb",
        "urn:epc:id:sgtin:0614141.712345.32a%2Fb",
        "(01)70614141123451(21)32a/b",
    ),
    (
        "3174257BF4499602D2000000",
        "urn:epc:tag:sscc-96:3.0614141.1234567890",
        "urn:epc:id:sscc:0614141.1234567890",
        "(00)106141412345678908",
    ),
    (
        "3274257BF46072000000162E",
        "urn:epc:tag:sgln-96:3.0614141.12345.5678",
        "urn:epc:id:sgln:0614141.12345.5678",
        "(414)0614141123452(254)5678",
    ),
    (
        "3974257BF46072CD9615F8800000000000000000000000000",
        "urn:epc:tag:sgln-195:3.0614141.12345.32a%2Fb",
        "urn:epc:id:sgln:0614141.12345.32a%2Fb",
        "(414)0614141123452(254)32a/b",
    ),
    (
        "3374257BF40C0E400000162E",
        "urn:epc:tag:grai-96:3.0614141.12345.5678",
        "urn:epc:id:grai:0614141.12345.5678",
        "(8003)006141411234525678",
    ),
    (
        "3774257BF40C0E59B2C2BF100000000000000000000",
        "urn:epc:tag:grai-170:3.0614141.12345.32a%2Fb",
        "urn:epc:id:grai:0614141.12345.32a%2Fb",
        "(8003)0061414112345232a/b",
    ),
    (
        "3474257BF40000000000162E",
        "urn:epc:tag:giai-96:3.0614141.5678",
        "urn:epc:id:giai:0614141.5678",
        "(8004)06141415678",
    ),
    (
        "3874257BF59B2C2BF1000000000000000000000000000000000",
        "urn:epc:tag:giai-202:3.0614141.32a%2Fb",
        "urn:epc:id:giai:0614141.32a%2Fb",
        "(8004)061414132a/b",
    ),
    (
        "2D74257BF4499602D2000000",
        "urn:epc:tag:gsrn-96:3.0614141.1234567890",
        "urn:epc:id:gsrn:0614141.1234567890",
        "(8018)061414112345678902",
    ),
    (
        "2E74257BF4499602D2000000",
        "urn:epc:tag:gsrnp-96:3.0614141.1234567890",
        "urn:epc:id:gsrnp:0614141.1234567890",
        "(8017)061414112345678902",
    ),
    (
        "2C74257BF46072000000162E",
        "urn:epc:tag:gdti-96:3.0614141.12345.5678",
        "urn:epc:id:gdti:0614141.12345.5678",
        "(253)06141411234525678",
    ),
    (
        "3E74F4E4E7039B061438997367D0C18B266D1AB66EE0",
        "urn:epc:tag:gdti-174:3.4012345.98765.ABCDefgh012345678",
        "urn:epc:id:gdti:4012345.98765.ABCDefgh012345678",
        "(253)4012345987652ABCDefgh012345678",
    ),
    (
        "350007AB70425D4000000586",
        "urn:epc:tag:gid-96:31415.271828.1414",
        "urn:epc:id:gid:31415.271828.1414",
        "",
    ),
];

fn element(epc: &Epc) -> String {
    epc.gs1()
        .iter()
        .map(|(ai, v)| format!("({ai}){v}"))
        .collect()
}

#[test]
fn tag_data_standard_examples_decode_and_encode() {
    for (hex, tag, pure, gs1) in VECTORS {
        let epc = Epc::from_hex(hex).unwrap_or_else(|e| panic!("{hex}: {e}"));
        assert_eq!(epc.tag_uri(), *tag, "{hex}");
        assert_eq!(epc.pure_uri(), *pure, "{hex}");
        assert_eq!(element(&epc), *gs1, "{hex}");
        // Encoding gives the same bits (our hex is whole 16-bit words).
        let ours = epc.to_hex().unwrap();
        let n = hex.len().min(ours.len());
        assert_eq!(&ours[..n], &hex[..n], "{tag}");
        assert!(ours[n..].bytes().all(|b| b == b'0') && hex[n..].bytes().all(|b| b == b'0'));
        // And the tag URI parses back to the same EPC.
        assert_eq!(Epc::from_uri(tag).unwrap(), epc, "{tag}");
    }
}

#[test]
fn pure_identity_uris_choose_a_binary_scheme() {
    let epc = Epc::from_uri("urn:epc:id:sgtin:0614141.812345.6789").unwrap();
    assert_eq!((epc.scheme, epc.filter), (Scheme::Sgtin96, Some(0)));
    let epc = Epc::from_uri("urn:epc:id:sgtin:0614141.712345.32a%2Fb").unwrap();
    assert_eq!(epc.scheme, Scheme::Sgtin198);
    assert_eq!(epc.serial.as_deref(), Some("32a/b"));
    let epc = Epc::from_uri("urn:epc:id:sgtin:0614141.812345.06789").unwrap();
    assert_eq!(
        epc.scheme,
        Scheme::Sgtin198,
        "a leading zero does not fit the integer serial"
    );
}

#[test]
fn errors_name_the_fault() {
    let kind = |h: &str| Epc::from_hex(h).unwrap_err().kind;
    assert_eq!(kind("FF74257BF7194E4000001A85"), "unknown_header");
    assert_eq!(kind("3C74257BF400C0E680003039"), "unsupported_epc"); // CPI-96
    assert_eq!(kind("307C257BF7194E4000001A85"), "bad_partition"); // partition 7
    assert_eq!(kind("3074257BF7194E40"), "bad_length");
    assert_eq!(kind("3074257BF7194E4000001A8G"), "bad_epc");
    assert_eq!(kind("3074257BF7194E4000001A850001"), "trailing_data");
    assert_eq!(
        Epc::from_hex("3074257BF7194E4000001A850000")
            .unwrap()
            .serial
            .as_deref(),
        Some("6789")
    );
    // Company prefix field holding 10^7 or more with 7 digits (partition 5, 24 bits all ones).
    assert_eq!(kind("3077FFFFF7194E4000001A85"), "bad_epc");
    // SGTIN-198 serial with a character outside CSET 82 (0x7F).
    let mut w = BitWriter::default();
    w.write(0x36, 8);
    w.write(3, 3);
    w.write(5, 3);
    w.write(614141, 24);
    w.write(812345, 20);
    w.write(0x7F, 7);
    w.write(0, 133);
    let bad = hex::encode_upper(w.into_bytes());
    assert_eq!(kind(&bad), "bad_epc");
}

#[test]
fn gs1_keys_encode_for_printing() {
    let epc = Epc::sgtin("80614141123458", "6789", 7, 3).unwrap();
    assert_eq!(epc.to_hex().unwrap(), "3074257BF7194E4000001A85");
    let epc = Epc::sgtin("70614141123451", "32a/b", 7, 3).unwrap();
    assert_eq!(epc.scheme, Scheme::Sgtin198);
    assert!(epc.to_hex().unwrap().starts_with("3674257BF6B7A659B2C2BF1"));
    let epc = Epc::sscc("106141412345678908", 7, 3).unwrap();
    assert_eq!(epc.to_hex().unwrap(), "3174257BF4499602D2000000");
    let epc = Epc::sgln("0614141123452", Some("5678"), 7, 3).unwrap();
    assert_eq!(epc.to_hex().unwrap(), "3274257BF46072000000162E");
    // Errors: bad check digit, impossible company prefix length, serial too large.
    assert_eq!(
        Epc::sgtin("80614141123459", "1", 7, 3).unwrap_err().kind,
        "bad_check_digit"
    );
    assert!(Epc::sgtin("80614141123458", "1", 13, 3).is_err());
    let big = Epc::sgtin("80614141123458", "274877906944", 7, 3).unwrap();
    assert_eq!(big.scheme, Scheme::Sgtin198, "2^38 does not fit SGTIN-96");
    assert!(
        Epc::sgtin("80614141123458", "ABCDEFGHIJKLMNOPQRSTU", 7, 3).is_err(),
        "21 characters"
    );
}
