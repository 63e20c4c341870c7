//! Rules 17–18 of the event hash: every GS1 identifier as a *constrained canonical* GS1 Digital
//! Link URI — on `https://id.gs1.org`, without query string, with only the most fine-grained
//! key and key qualifier (`00`, `01`, `01/21`, `01/10`, `01/235`, `253`, `255`, `401`, `402`,
//! `414`, `414/254`, `417`, `8003`, `8004`, `8006`, `8006/21`, `8006/10`, `8010`,
//! `8010/8011`, `8017`, `8018`).
//!
//! Inputs are EPC pure-identity URIs (`urn:epc:id:…`, GS1 EPC TDS 2.1 §6.3), EPC class URIs
//! (`urn:epc:class:lgtin:…`, §6.4.1), EPC pattern URIs (`urn:epc:idpat:…`, §13) and Digital Link
//! URIs on any domain (GS1 Digital Link URI Syntax 1.2 §4). From an EPC URI the serial part is
//! carried over as written (its TDS escapes are already Digital Link escapes), as the reference
//! implementation does. Anything else is not an identifier and is left alone (`None`).

use tracegate_identifiers::gs1_check_digit;

/// The canonical Digital Link URI of `value`, when it is a GS1 identifier.
pub fn normalise(value: &str) -> Option<String> {
    if let Some(body) = value.strip_prefix("urn:epc:id:") {
        return epc_id(body);
    }
    if let Some(body) = value.strip_prefix("urn:epc:class:lgtin:") {
        let [cp, ir, lot] = parts::<3>(body)?;
        let gtin = gtin(cp, ir)?;
        return Some(format!("{ID}/01/{gtin}/10/{lot}"));
    }
    if let Some(body) = value.strip_prefix("urn:epc:idpat:") {
        return epc_pattern(body);
    }
    if value.starts_with("https://") || value.starts_with("http://") {
        return digital_link(value);
    }
    None
}

const ID: &str = "https://id.gs1.org";

/// `N` dot-separated parts.
fn parts<const N: usize>(body: &str) -> Option<[&str; N]> {
    let v: Vec<&str> = body.splitn(N, '.').collect();
    v.try_into().ok()
}

fn digits(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_digit())
}

/// A GS1 company prefix: 6 to 12 digits (TDS §6.3).
fn company_prefix(cp: &str) -> Option<&str> {
    ((6..=12).contains(&cp.len()) && digits(cp)).then_some(cp)
}

/// `digits` followed by its check digit.
fn with_check(body: &str) -> Option<String> {
    let check = gs1_check_digit(body.as_bytes())?;
    Some(format!("{body}{}", check as char))
}

/// GTIN-14 from company prefix and indicator + item reference (13 digits together).
fn gtin(cp: &str, ir: &str) -> Option<String> {
    let cp = company_prefix(cp)?;
    if cp.len() + ir.len() != 13 || !digits(ir) || ir.is_empty() {
        return None;
    }
    with_check(&format!("{}{cp}{}", &ir[..1], &ir[1..]))
}

/// A 12-digit-plus-check key (GLN, GDTI, GRAI body, GCN, PGLN): prefix and reference
/// together 12 digits.
fn key13(cp: &str, reference: &str) -> Option<String> {
    let cp = company_prefix(cp)?;
    if cp.len() + reference.len() != 12 || !digits(reference) {
        return None;
    }
    with_check(&format!("{cp}{reference}"))
}

/// Company prefix and reference together `n` digits, plus check digit (SSCC 17, GSRN 17,
/// GSIN 16). `leading` moves the reference's first digit in front (SSCC extension digit).
fn key_n(cp: &str, reference: &str, n: usize, leading: bool) -> Option<String> {
    let cp = company_prefix(cp)?;
    if cp.len() + reference.len() != n || !digits(reference) {
        return None;
    }
    if leading {
        if reference.is_empty() {
            return None;
        }
        with_check(&format!("{}{cp}{}", &reference[..1], &reference[1..]))
    } else {
        with_check(&format!("{cp}{reference}"))
    }
}

/// Text after the key in a Digital Link path segment: non-empty, no raw `/`.
fn text(s: &str) -> Option<&str> {
    (!s.is_empty() && !s.contains('/')).then_some(s)
}

fn epc_id(body: &str) -> Option<String> {
    let (scheme, rest) = body.split_once(':')?;
    Some(match scheme {
        "sgtin" => {
            let [cp, ir, serial] = parts::<3>(rest)?;
            format!("{ID}/01/{}/21/{}", gtin(cp, ir)?, text(serial)?)
        }
        "sscc" => {
            let [cp, sr] = parts::<2>(rest)?;
            format!("{ID}/00/{}", key_n(cp, sr, 17, true)?)
        }
        "sgln" => {
            let [cp, lr, ext] = parts::<3>(rest)?;
            let gln = key13(cp, lr)?;
            match ext {
                "0" => format!("{ID}/414/{gln}"),
                ext => format!("{ID}/414/{gln}/254/{}", text(ext)?),
            }
        }
        "grai" => {
            let [cp, at, serial] = parts::<3>(rest)?;
            let grai = with_check(&format!("0{cp}{at}")).filter(|_| {
                company_prefix(cp).is_some() && cp.len() + at.len() == 12 && digits(at)
            })?;
            format!("{ID}/8003/{grai}{serial}")
        }
        "giai" => {
            let [cp, asset] = parts::<2>(rest)?;
            format!("{ID}/8004/{}{}", company_prefix(cp)?, text(asset)?)
        }
        "gsrn" => {
            let [cp, sr] = parts::<2>(rest)?;
            format!("{ID}/8018/{}", key_n(cp, sr, 17, false)?)
        }
        "gsrnp" => {
            let [cp, sr] = parts::<2>(rest)?;
            format!("{ID}/8017/{}", key_n(cp, sr, 17, false)?)
        }
        "gdti" => {
            let [cp, dt, serial] = parts::<3>(rest)?;
            format!("{ID}/253/{}{serial}", key13(cp, dt)?)
        }
        "sgcn" => {
            let [cp, ct, serial] = parts::<3>(rest)?;
            format!("{ID}/255/{}{serial}", key13(cp, ct)?)
        }
        "cpi" => {
            let [cp, part, serial] = parts::<3>(rest)?;
            format!(
                "{ID}/8010/{}{}/8011/{}",
                company_prefix(cp)?,
                text(part)?,
                text(serial)?
            )
        }
        "ginc" => {
            let [cp, reference] = parts::<2>(rest)?;
            format!("{ID}/401/{}{}", company_prefix(cp)?, text(reference)?)
        }
        "gsin" => {
            let [cp, sr] = parts::<2>(rest)?;
            format!("{ID}/402/{}", key_n(cp, sr, 16, false)?)
        }
        "itip" => {
            let [cp, ir, piece, total, serial] = parts::<5>(rest)?;
            let pieces = (piece.len() == 2 && total.len() == 2 && digits(piece) && digits(total))
                .then(|| format!("{piece}{total}"))?;
            format!("{ID}/8006/{}{pieces}/21/{}", gtin(cp, ir)?, text(serial)?)
        }
        "upui" => {
            let [cp, ir, tpx] = parts::<3>(rest)?;
            format!("{ID}/01/{}/235/{}", gtin(cp, ir)?, text(tpx)?)
        }
        "pgln" => {
            let [cp, pr] = parts::<2>(rest)?;
            format!("{ID}/417/{}", key13(cp, pr)?)
        }
        _ => return None,
    })
}

fn epc_pattern(body: &str) -> Option<String> {
    let (scheme, rest) = body.split_once(':')?;
    Some(match scheme {
        "sgtin" => {
            let [cp, ir, "*"] = parts::<3>(rest)? else {
                return None;
            };
            format!("{ID}/01/{}", gtin(cp, ir)?)
        }
        "grai" => {
            let [cp, at, "*"] = parts::<3>(rest)? else {
                return None;
            };
            key13(cp, at)?;
            format!("{ID}/8003/{}", with_check(&format!("0{cp}{at}"))?)
        }
        "gdti" => {
            let [cp, dt, "*"] = parts::<3>(rest)? else {
                return None;
            };
            format!("{ID}/253/{}", key13(cp, dt)?)
        }
        "sgcn" => {
            let [cp, ct, "*"] = parts::<3>(rest)? else {
                return None;
            };
            format!("{ID}/255/{}", key13(cp, ct)?)
        }
        "cpi" => {
            let [cp, part, "*"] = parts::<3>(rest)? else {
                return None;
            };
            format!("{ID}/8010/{}{}", company_prefix(cp)?, text(part)?)
        }
        "itip" => {
            let [cp, ir, piece, total, "*"] = parts::<5>(rest)? else {
                return None;
            };
            if !(piece.len() == 2 && total.len() == 2 && digits(piece) && digits(total)) {
                return None;
            }
            format!("{ID}/8006/{}{piece}{total}", gtin(cp, ir)?)
        }
        _ => return None,
    })
}

/// Primary keys of the constrained form, with the short names Digital Link 1.x also allowed.
const KEYS: [(&str, &str); 28] = [
    ("00", "00"),
    ("sscc", "00"),
    ("01", "01"),
    ("gtin", "01"),
    ("253", "253"),
    ("gdti", "253"),
    ("255", "255"),
    ("gcn", "255"),
    ("401", "401"),
    ("ginc", "401"),
    ("402", "402"),
    ("gsin", "402"),
    ("414", "414"),
    ("gln", "414"),
    ("417", "417"),
    ("party", "417"),
    ("8003", "8003"),
    ("grai", "8003"),
    ("8004", "8004"),
    ("giai", "8004"),
    ("8006", "8006"),
    ("itip", "8006"),
    ("8010", "8010"),
    ("cpid", "8010"),
    ("8017", "8017"),
    ("gsrnp", "8017"),
    ("8018", "8018"),
    ("gsrn", "8018"),
];

/// Key qualifiers kept for each key, finest first.
fn kept_qualifiers(key: &str) -> &'static [&'static str] {
    match key {
        "01" => &["21", "235", "10"],
        "8006" => &["21", "10"],
        "414" => &["254"],
        "8010" => &["8011"],
        _ => &[],
    }
}

/// Characters a qualifier or alphanumeric key value may have in the constrained form: the
/// reference's check (GS1 character set 82 less the characters that need percent-encoding).
fn plain_chars(s: &str, max: usize) -> bool {
    s.len() <= max
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(b, b'"' | b'\'' | b'-' | b'.' | b';'..=b'?' | b'_')
        })
}

fn digital_link(uri: &str) -> Option<String> {
    let without_fragment = uri.split('#').next()?;
    let path_and_query = without_fragment
        .split_once("://")
        .map(|(_, rest)| rest)?
        .split_once('/')?
        .1;
    let path = path_and_query.split('?').next()?;
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    // The primary key is the first key segment followed by a value that starts with four
    // digits (every key value does: GS1 company prefixes are at least that long).
    let at = segments.windows(2).position(|w| {
        KEYS.iter().any(|(name, _)| *name == w[0])
            && w[1].len() > 4
            && w[1].bytes().take(4).all(|b| b.is_ascii_digit())
    })?;
    let key = KEYS.iter().find(|(name, _)| *name == segments[at])?.1;
    let mut value = segments[at + 1].to_string();
    if key == "01" {
        // GTIN-8, -12 and -13 are written as GTIN-14.
        if digits(&value) && matches!(value.len(), 8 | 12 | 13) {
            value = format!("{value:0>14}");
        }
    }
    let mut qualifiers: Vec<(&str, &str)> = Vec::new();
    for pair in segments[at + 2..].chunks(2) {
        let [name, v] = pair else { break };
        let name = match *name {
            "cpv" => "22",
            "lot" => "10",
            "ser" => "21",
            other => other,
        };
        qualifiers.push((name, v));
    }
    let finest = kept_qualifiers(key)
        .iter()
        .find_map(|q| qualifiers.iter().find(|(n, _)| n == q).copied());
    let out = match finest {
        Some((q, v)) => format!("{ID}/{key}/{value}/{q}/{v}"),
        None => format!("{ID}/{key}/{value}"),
    };
    valid(key, &value, finest).then_some(out)
}

/// The syntax the constrained form must have; anything else is not normalised.
fn valid(key: &str, value: &str, qualifier: Option<(&str, &str)>) -> bool {
    // Everything below slices by byte; the constrained form is ASCII anyway (found by fuzzing).
    if !value.is_ascii() {
        return false;
    }
    let n = |len: usize| value.len() == len && digits(value);
    let key_ok = match key {
        "00" => n(18),
        "01" => n(14),
        "253" => value.len() >= 13 && digits(&value[..13]) && plain_chars(&value[13..], 17),
        "255" => value.len() >= 13 && value.len() <= 25 && digits(value),
        "401" | "8004" => plain_chars(value, 30),
        "402" => n(17),
        "414" | "417" => n(13),
        "8003" => value.len() >= 14 && digits(&value[..14]) && plain_chars(&value[14..], 16),
        "8006" => n(18),
        "8010" => {
            value.len() <= 30
                && value.bytes().all(|b| {
                    b.is_ascii_digit() || b.is_ascii_uppercase() || matches!(b, b'#' | b'-' | b'/')
                })
        }
        "8017" | "8018" => n(18),
        _ => false,
    };
    let qualifier_ok = match qualifier {
        None => true,
        Some(("8011", v)) => v.len() <= 12 && digits(v),
        Some(("235", v)) => plain_chars(v, 28),
        Some((_, v)) => plain_chars(v, 20),
    };
    key_ok && qualifier_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epc_uris_to_constrained_digital_links() {
        for (urn, dl) in [
            (
                "urn:epc:id:sgtin:0614141.107346.2018",
                "https://id.gs1.org/01/10614141073464/21/2018",
            ),
            (
                "urn:epc:id:sgtin:415056789012.0.987654",
                "https://id.gs1.org/01/04150567890128/21/987654",
            ),
            (
                "urn:epc:id:sscc:0614141.1234567890",
                "https://id.gs1.org/00/106141412345678908",
            ),
            (
                "urn:epc:id:sgln:0012345.11111.400",
                "https://id.gs1.org/414/0012345111112/254/400",
            ),
            (
                "urn:epc:id:sgln:0012345.11111.0",
                "https://id.gs1.org/414/0012345111112",
            ),
            (
                "urn:epc:id:grai:4012345.55555.987",
                "https://id.gs1.org/8003/04012345555554987",
            ),
            (
                "urn:epc:id:giai:4000001.111",
                "https://id.gs1.org/8004/4000001111",
            ),
            (
                "urn:epc:id:gsrn:0614141.0000010253",
                "https://id.gs1.org/8018/061414100000102534",
            ),
            (
                "urn:epc:id:gdti:0614141.00001.1618034",
                "https://id.gs1.org/253/06141410000121618034",
            ),
            (
                "urn:epc:id:gdti:987659999999..9",
                "https://id.gs1.org/253/98765999999929",
            ),
            (
                "urn:epc:id:pgln:999999999999.",
                "https://id.gs1.org/417/9999999999994",
            ),
            (
                "urn:epc:id:itip:4012345.012345.01.02.999",
                "https://id.gs1.org/8006/040123451234560102/21/999",
            ),
            (
                "urn:epc:class:lgtin:4012345.012345.998877",
                "https://id.gs1.org/01/04012345123456/10/998877",
            ),
            (
                "urn:epc:idpat:sgtin:4012345.098765.*",
                "https://id.gs1.org/01/04012345987652",
            ),
            (
                "urn:epc:idpat:grai:4012345.66666.*",
                "https://id.gs1.org/8003/04012345666663",
            ),
        ] {
            assert_eq!(normalise(urn).as_deref(), Some(dl), "{urn}");
        }
        for not in [
            "urn:epc:id:sgtin:0614141.10734.2018",
            "urn:epc:id:gid:95100000.12345.400",
            "urn:epc:id:sscc:06141.12345678901",
            "urn:epc:idpat:sgtin:4012345.*.*",
            "urn:epcglobal:cbv:bt:5200001000008:4711",
        ] {
            assert_eq!(normalise(not), None, "{not}");
        }
    }

    #[test]
    fn non_ascii_never_panics() {
        // Fuzzer find: a multi-byte character where key digits are sliced.
        assert_eq!(
            normalise("https://10/44$/8003/4444[[[\" \"@\u{5f5}44G5["),
            None
        );
        assert_eq!(normalise("https://x/253/401234500005\u{e9}"), None);
        assert_eq!(normalise("urn:epc:id:sgtin:061414\u{e9}.107346.1"), None);
    }

    proptest::proptest! {
        #[test]
        fn any_text_after_an_identifier_prefix_is_safe(
            prefix in proptest::sample::select(vec![
                "urn:epc:id:sgtin:", "urn:epc:id:grai:", "urn:epc:id:itip:", "urn:epc:class:lgtin:",
                "urn:epc:idpat:grai:", "https://a/01/", "https://a/8003/", "https://a/253/", "http://b/x/414/",
            ]),
            digits in "[0-9]{0,16}",
            rest in "[0-9.*/%A-Za-z\u{80}-\u{7ff}]{0,24}",
        ) {
            let _ = normalise(&format!("{prefix}{digits}{rest}"));
        }
    }

    #[test]
    fn digital_links_on_any_domain_become_constrained() {
        for (uri, dl) in [
            (
                "https://example.com/gtin/09780345418913/21/765tz?abc=211121",
                "https://id.gs1.org/01/09780345418913/21/765tz",
            ),
            (
                "https://id.gs1.org/gtin/09780345418913",
                "https://id.gs1.org/01/09780345418913",
            ),
            (
                "https://brand.example/p/01/9506000134352/22/2A/10/L1/21/S9",
                "https://id.gs1.org/01/09506000134352/21/S9",
            ),
            (
                "https://id.gs1.de/414/4012345000115",
                "https://id.gs1.org/414/4012345000115",
            ),
            (
                "https://example.com/253/4012345000054987",
                "https://id.gs1.org/253/4012345000054987",
            ),
            (
                "http://id.example.com/8003/040123450007718765#x",
                "https://id.gs1.org/8003/040123450007718765",
            ),
        ] {
            assert_eq!(normalise(uri).as_deref(), Some(dl), "{uri}");
        }
        for not in [
            "https://www.ncbi.nlm.nih.gov/taxonomy/1126011",
            "https://accreditation-council.example.org/certificate/ABC12345",
            "https://example.org/01/123",
            "http://www.opengis.net/def/crs/EPSG/0/27700",
        ] {
            assert_eq!(normalise(not), None, "{not}");
        }
    }
}
