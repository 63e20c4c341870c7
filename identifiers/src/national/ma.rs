//! MA codes (IDcode): identifiers under the ISO/IEC 15459 issuing agency code `MA`, and the
//! medical-device UDI China's NMPA accepts in that system.
//!
//! What is checked, and where each rule comes from (nothing else is checked; see
//! docs/identifiers.md, "MA codes", for what could not be verified):
//!
//! - **The issuer**: the code begins with the issuing agency code `MA` (ISO/IEC 15459-2
//!   registers issuing agency codes; an MA code carries its IAC first) and a `.`.
//! - **The country**: the next node is a 3-digit ISO 3166-1 numeric country code (`156`,
//!   China, in every published example: `MA.156.1003.16291`).
//! - **The nodes**: the rest is a tree of nodes separated by `.` or `/` (the issuer's published
//!   item example `MA.156.1003.1629/73.10000000.6/` uses both and ends in `/`); a node is never
//!   empty (a final `/` excepted) and never holds a space or a control character, which cannot
//!   be told apart from the scanner's own framing.
//! - **The medical-device UDI** (NMPA's UDI rules accept GS1, MA and AHM issuers): the DI is
//!   `MA.156.M0.<registrant, 6 digits>.<product, 8 digits>`; production identifiers follow,
//!   each led by its letter — `S` serial, `M` production date, `L` lot, `D` sterilisation lot,
//!   `E` expiry date, `V` validity date (dates `YYMMDD`), `Y` medical-insurance code — and a
//!   check field `C` last. A letter appears at most once; a date is a calendar date.
//!   Two-digit years are read as 20YY, as in the published decodings (the flashcloud
//!   ma-parser project's test vectors: `M220117` is 2022-01-17).
//! - **The check field's algorithm is not published** (as the drug traceability code's check
//!   code): its presence and form are checked, its value is not.
//! - **A resolution URL** (`http://s.idcode.org.cn/?code=MA.…`, the form the issuer prints in
//!   QR codes) is recognised and decoded to the code it carries.

use serde::Serialize;

use crate::DecodeError;
use crate::digital_link::unescape;
use crate::gs1::codelists::{ISO3166_NUMERIC, contains};

/// The resolver host the issuer prints in QR codes (its resolution URL's host).
pub const RESOLVER_HOST: &str = "s.idcode.org.cn";

/// A decoded MA code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MaCode {
    /// The code itself, as printed (from a resolution URL: the code it carries).
    pub code: String,
    /// ISO 3166-1 numeric country code of the node that issued it (`156`).
    pub country: String,
    /// The nodes after the country, in order (separators dropped).
    pub nodes: Vec<String>,
    /// The medical-device UDI fields, when the code is one (`MA.156.M0.…`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub udi: Option<MaUdi>,
}

/// A medical-device UDI in the MA system: the device identifier and production identifiers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MaUdi {
    /// The device identifier: `MA.156.M0.<registrant>.<product>`.
    pub di: String,
    /// 6-digit registrant code.
    pub registrant: String,
    /// 8-digit product code.
    pub product: String,
    /// `S`: serial number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    /// `M`: production date, ISO 8601.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub production_date: Option<String>,
    /// `L`: lot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lot: Option<String>,
    /// `D`: sterilisation lot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sterilisation_lot: Option<String>,
    /// `E`: expiry date, ISO 8601.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiry_date: Option<String>,
    /// `V`: validity date, ISO 8601.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validity_date: Option<String>,
    /// `Y`: medical-insurance code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub insurance_code: Option<String>,
    /// `C`: the check field (its algorithm is not published: not verified).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check: Option<String>,
}

impl MaCode {
    /// The issuer's resolution URL for this code (what would end or alter the query value —
    /// `%`, `&`, `#`, `+`, non-ASCII — percent-encoded).
    pub fn resolver_url(&self) -> String {
        let mut url = format!("http://{RESOLVER_HOST}/?code=");
        for &b in self.code.as_bytes() {
            match b {
                b'%' | b'&' | b'#' | b'+' | 0x80.. => url.push_str(&format!("%{b:02X}")),
                b => url.push(b as char),
            }
        }
        url
    }
}

/// Is `s` an MA code or its resolution URL, by its unambiguous signs (for `auto`)?
pub fn looks_like(s: &str) -> bool {
    s.starts_with("MA.") && s.as_bytes().get(3).is_some_and(u8::is_ascii_digit)
        || resolution_url_code(s).is_some()
}

/// The code a resolution URL carries, and its byte offset, when `s` is one.
fn resolution_url_code(s: &str) -> Option<(&str, usize)> {
    let rest = super::strip_resolver(s, RESOLVER_HOST)?;
    let query = rest.strip_prefix("/?").or_else(|| rest.strip_prefix('?'))?;
    let query_at = s.len() - query.len();
    let mut at = query_at;
    for pair in query.split('&') {
        if let Some(code) = pair.strip_prefix("code=") {
            return Some((code, at + 5));
        }
        at += pair.len() + 1;
    }
    None
}

/// Decodes an MA code, or the issuer's resolution URL carrying one.
pub fn cn_ma(input: &str) -> Result<MaCode, DecodeError> {
    if let Some((code, at)) = resolution_url_code(input) {
        let code = unescape(code, true, at)?;
        return code_at(&code, at);
    }
    code_at(input, 0)
}

fn code_at(code: &str, at: usize) -> Result<MaCode, DecodeError> {
    let bad =
        |i: usize, kind: &'static str, message: String| DecodeError::at(kind, at + i, message);
    if let Some(i) = code.bytes().position(|b| b.is_ascii_control() || b == b' ') {
        return Err(bad(
            i,
            "invalid_character",
            "an MA code holds no space or control character".into(),
        ));
    }
    let Some(rest) = code.strip_prefix("MA.") else {
        return Err(bad(
            0,
            "not_ma",
            "an MA code begins with its issuing agency code \"MA.\"".into(),
        ));
    };
    let country_end = rest.find(['.', '/']).unwrap_or(rest.len());
    let country = &rest[..country_end];
    if country.len() != 3 || !country.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(
            3,
            "invalid_value",
            format!("the country node {country:?} is not 3 digits (ISO 3166-1 numeric)"),
        ));
    }
    if !contains(ISO3166_NUMERIC, country.as_bytes()) {
        return Err(bad(
            3,
            "invalid_value",
            format!("{country} is not an ISO 3166-1 numeric country code"),
        ));
    }
    // The nodes after the country, each with its offset in `code`.
    let mut nodes: Vec<(&str, usize)> = Vec::new();
    let mut start = 3 + country_end + 1;
    if 3 + country_end >= code.len() {
        return Err(bad(
            code.len(),
            "bad_length",
            "an MA code names more than its country".into(),
        ));
    }
    for (i, b) in code.bytes().enumerate().skip(start) {
        if b == b'.' || b == b'/' {
            nodes.push((&code[start..i], start));
            start = i + 1;
        }
    }
    let trailing_slash = code.ends_with('/');
    if !trailing_slash {
        nodes.push((&code[start..], start));
    }
    if let Some((_, i)) = nodes.iter().find(|(n, _)| n.is_empty()) {
        return Err(bad(
            *i,
            "invalid_value",
            "an empty node in the MA code".into(),
        ));
    }
    if nodes.is_empty() {
        return Err(bad(
            code.len(),
            "bad_length",
            "an MA code names more than its country".into(),
        ));
    }
    let udi = if country == "156" && nodes[0].0 == "M0" {
        Some(udi(code, &nodes, at)?)
    } else {
        None
    };
    Ok(MaCode {
        code: code.to_string(),
        country: country.to_string(),
        nodes: nodes.iter().map(|(n, _)| n.to_string()).collect(),
        udi,
    })
}

/// The production identifier letters, in the words the errors use.
const PI_FIELDS: [(u8, &str); 8] = [
    (b'S', "serial"),
    (b'M', "production date"),
    (b'L', "lot"),
    (b'D', "sterilisation lot"),
    (b'E', "expiry date"),
    (b'V', "validity date"),
    (b'Y', "medical-insurance code"),
    (b'C', "check field"),
];

fn udi(code: &str, nodes: &[(&str, usize)], at: usize) -> Result<MaUdi, DecodeError> {
    let bad =
        |i: usize, kind: &'static str, message: String| DecodeError::at(kind, at + i, message);
    if let Some(i) = code.find('/') {
        return Err(bad(
            i,
            "invalid_character",
            "a medical-device UDI separates its fields with \".\" only".into(),
        ));
    }
    let digits = |(node, i): (&str, usize), n: usize, what: &str| {
        if node.len() == n && node.bytes().all(|b| b.is_ascii_digit()) {
            Ok(node.to_string())
        } else {
            Err(bad(
                i,
                "invalid_value",
                format!("the UDI's {what} is {n} digits, not {node:?}"),
            ))
        }
    };
    let missing = || {
        bad(
            code.len(),
            "bad_length",
            "a medical-device UDI's DI is MA.156.M0.<registrant, 6 digits>.<product, 8 digits>"
                .into(),
        )
    };
    let registrant = digits(*nodes.get(1).ok_or_else(missing)?, 6, "registrant code")?;
    let product = digits(*nodes.get(2).ok_or_else(missing)?, 8, "product code")?;
    let mut udi = MaUdi {
        di: format!("MA.156.M0.{registrant}.{product}"),
        registrant,
        product,
        ..MaUdi::default()
    };
    let mut seen = Vec::new();
    let pis = &nodes[3..];
    for (k, &(field, i)) in pis.iter().enumerate() {
        let letter = field.as_bytes()[0];
        let Some((_, name)) = PI_FIELDS.iter().find(|(l, _)| *l == letter) else {
            return Err(bad(
                i,
                "invalid_value",
                format!(
                    "{:?} is not a UDI production identifier (S, M, L, D, E, V, Y, then C)",
                    &field[..field.chars().next().map_or(1, char::len_utf8)]
                ),
            ));
        };
        if seen.contains(&letter) {
            return Err(bad(
                i,
                "invalid_value",
                format!("the {name} ({}) appears twice", letter as char),
            ));
        }
        seen.push(letter);
        let value = &field[1..];
        if value.is_empty() {
            return Err(bad(
                i,
                "invalid_value",
                format!("the {name} ({}) is empty", letter as char),
            ));
        }
        let date = |v: &str| {
            iso_date(v).ok_or_else(|| {
                bad(
                    i + 1,
                    "invalid_date",
                    format!("the {name} {v:?} is not a date YYMMDD"),
                )
            })
        };
        match letter {
            b'S' => udi.serial = Some(value.into()),
            b'M' => udi.production_date = Some(date(value)?),
            b'L' => udi.lot = Some(value.into()),
            b'D' => udi.sterilisation_lot = Some(value.into()),
            b'E' => udi.expiry_date = Some(date(value)?),
            b'V' => udi.validity_date = Some(date(value)?),
            b'Y' => udi.insurance_code = Some(value.into()),
            _ => {
                if k + 1 != pis.len() {
                    return Err(bad(
                        i,
                        "invalid_value",
                        "the check field (C) comes last".into(),
                    ));
                }
                udi.check = Some(value.into());
            }
        }
    }
    Ok(udi)
}

/// `YYMMDD` as an ISO date (20YY), when it is a calendar date (checked by the GS1 linter's
/// `YYYYMMDD` rule, which knows month lengths and leap years).
fn iso_date(v: &str) -> Option<String> {
    let full = format!("20{v}");
    crate::gs1::linters::calendar_date(full.as_bytes()).ok()?;
    Some(format!("{}-{}-{}", &full[..4], &full[4..6], &full[6..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The flashcloud/ma-parser project's test vector (ISC licence; its expected fields).
    const UDI: &str =
        "MA.156.M0.100761.21234561.Sx00008.M220117.L20220117.D20220118.E220130.V220117.C3";

    #[test]
    fn the_published_udi_decodes_into_its_fields() {
        let ma = cn_ma(UDI).unwrap();
        assert_eq!(ma.country, "156");
        let udi = ma.udi.unwrap();
        assert_eq!(udi.di, "MA.156.M0.100761.21234561");
        assert_eq!(udi.registrant, "100761");
        assert_eq!(udi.product, "21234561");
        assert_eq!(udi.serial.as_deref(), Some("x00008"));
        assert_eq!(udi.production_date.as_deref(), Some("2022-01-17"));
        assert_eq!(udi.lot.as_deref(), Some("20220117"));
        assert_eq!(udi.sterilisation_lot.as_deref(), Some("20220118"));
        assert_eq!(udi.expiry_date.as_deref(), Some("2022-01-30"));
        assert_eq!(udi.validity_date.as_deref(), Some("2022-01-17"));
        assert_eq!(udi.check.as_deref(), Some("3"));
        // The DI alone (ma-parser: no PI).
        let di = cn_ma("MA.156.M0.100761.21234561").unwrap().udi.unwrap();
        assert_eq!((di.serial, di.lot, di.check), (None, None, None));
    }

    #[test]
    fn the_issuers_organisation_and_item_examples_decode() {
        let org = cn_ma("MA.156.1003.16291").unwrap();
        assert_eq!(org.nodes, ["1003", "16291"]);
        assert!(org.udi.is_none());
        let item = cn_ma("MA.156.1003.1629/73.10000000.6/").unwrap();
        assert_eq!(item.nodes, ["1003", "1629", "73", "10000000", "6"]);
    }

    #[test]
    fn a_resolution_url_decodes_to_the_code_it_carries() {
        let url = format!("http://s.idcode.org.cn/?code={UDI}");
        let ma = cn_ma(&url).unwrap();
        assert_eq!(ma.code, UDI);
        assert_eq!(ma.resolver_url(), url);
        assert!(looks_like(&url));
        // A value that would end the query is encoded, and decodes back.
        let odd = cn_ma("MA.156.1003.A&B").unwrap();
        assert_eq!(
            odd.resolver_url(),
            "http://s.idcode.org.cn/?code=MA.156.1003.A%26B"
        );
        assert_eq!(cn_ma(&odd.resolver_url()).unwrap().code, "MA.156.1003.A&B");
        let e = cn_ma("https://S.IDCODE.ORG.CN/?x=1&code=MA.999.1").unwrap_err();
        // The country node of the carried code, at its offset in the URL.
        assert_eq!((e.kind, e.position), ("invalid_value", Some(37)));
    }

    #[test]
    fn malformed_codes_are_refused_with_the_field_and_the_reason() {
        let refused = |code: &str| cn_ma(code).unwrap_err();
        let e = refused("MB.156.1003");
        assert_eq!((e.kind, e.position), ("not_ma", Some(0)));
        assert_eq!(refused("MA.15.1003").kind, "invalid_value");
        assert!(refused("MA.999.1003").message.contains("ISO 3166"));
        assert_eq!(refused("MA.156").kind, "bad_length");
        assert_eq!(refused("MA.156..1").position, Some(7));
        assert_eq!(refused("MA.156.1 2").kind, "invalid_character");
        let e = refused("MA.156.M0.10076.21234561");
        assert!(e.message.contains("registrant code is 6 digits"), "{e}");
        assert_eq!(e.position, Some(10));
        assert!(refused("MA.156.M0.100761").message.contains("DI is"));
        let e = refused("MA.156.M0.100761.21234561.M220230");
        assert_eq!((e.kind, e.position), ("invalid_date", Some(27)));
        let e = refused("MA.156.M0.100761.21234561.Q1");
        assert!(e.message.contains("not a UDI production identifier"), "{e}");
        assert!(
            refused("MA.156.M0.100761.21234561.L1.L2")
                .message
                .contains("twice")
        );
        assert!(
            refused("MA.156.M0.100761.21234561.C3.L1")
                .message
                .contains("comes last")
        );
        assert!(
            refused("MA.156.M0.100761.21234561.S")
                .message
                .contains("empty")
        );
        assert!(
            refused("MA.156.M0.100761.21234561/S1")
                .message
                .contains("\".\" only")
        );
    }

    #[test]
    fn dates_are_calendar_dates() {
        assert_eq!(iso_date("240229").as_deref(), Some("2024-02-29"));
        assert_eq!(iso_date("230229"), None);
        assert_eq!(iso_date("221300"), None);
        assert_eq!(iso_date("220100"), None);
    }
}
