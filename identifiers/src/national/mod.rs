//! National identification codes met at the edge, each checked as far as its public
//! specification allows.
//!
//! - China drug traceability code, 20-digit form (药品追溯码): the code issued through the
//!   national drug traceability platform ("码上放心", AliHealth eCode), admitted alongside GS1
//!   codes by NMPA standard NMPAB/T 1002-2019 《药品追溯码编码要求》: 7-digit drug
//!   identification code, 9-digit serial, 4-digit check code. The platform's codes begin with 8.
//!   The check code is computed by the issuing platform with an unpublished algorithm, so only
//!   the structure can be verified here.
//! - China livestock ear tag number (畜禽标识编码), 15 digits: species code, county-level
//!   administrative division code (GB/T 2260), sequence number — 《畜禽标识和养殖档案管理办法》
//!   (Ministry of Agriculture Order 2006 No. 67), article 9: pig 1, cattle 2, sheep 3.
//! - ISO 11784 animal identification code, as LF (134.2 kHz, ISO 11785 FDX-B/HDX) readers report
//!   it: 3-digit country code and 12-digit national identification code (15 digits, often
//!   shown as `982 000123456789`), or the 64-bit code structure of ISO 11784 Table 1 in hex.
//! - MA codes (IDcode) and the medical-device UDI in the MA system: [`ma`].
//! - Handle identifiers of China's industrial-internet Identifier Resolution System: [`handle`].
//! - Object identifiers under China's national arcs (`1.2.156`, `2.16.156`): [`oid`].

pub mod handle;
pub mod ma;
pub mod oid;

use serde::Serialize;

use super::DecodeError;
use super::gs1::codelists::{ISO3166_NUMERIC, contains};

/// A decoded national code (in JSON: its fields and `"system"`, the kind's name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "system", rename_all = "snake_case")]
pub enum National {
    /// China drug traceability code.
    CnDrug {
        /// 7-digit drug identification code.
        product: String,
        /// 9-digit serial.
        serial: String,
        /// 4-digit check code (not verifiable offline).
        check: String,
    },
    /// China livestock ear tag.
    CnLivestock {
        /// 1 pig, 2 cattle, 3 sheep.
        species: u8,
        /// 6-digit county-level division code.
        county: String,
        /// 8-digit sequence number.
        sequence: String,
    },
    /// ISO 11784 animal identification.
    Iso11784 {
        /// ISO 3166 numeric country code, or 900-998 for a manufacturer code, 999 test.
        country: u16,
        /// 38-bit national identification code.
        national_id: u64,
        /// From the 64-bit form: the animal application flag (ISO 11784 bit 1).
        #[serde(skip_serializing_if = "Option::is_none")]
        animal: Option<bool>,
    },
    /// An MA code (IDcode), a medical-device UDI among them.
    CnMa(Box<ma::MaCode>),
    /// A Handle identifier (China's industrial-internet identifiers).
    CnHandle(handle::Handle),
    /// An object identifier under China's national arcs.
    CnOid(oid::Oid),
}

fn all_digits(s: &str) -> Option<usize> {
    s.bytes().position(|b| !b.is_ascii_digit())
}

/// `s` without `prefix`, compared ASCII case-insensitively (URL schemes and hosts, `urn:oid:`).
fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// `s` without an `http://` or `https://` scheme and then `host`: the rest of a resolver's
/// URL after its host.
fn strip_resolver<'a>(s: &'a str, host: &str) -> Option<&'a str> {
    let rest = strip_prefix_ignore_case(s, "http://")
        .or_else(|| strip_prefix_ignore_case(s, "https://"))?;
    strip_prefix_ignore_case(rest, host)
}

/// An MA code or its resolution URL ([`ma`]).
pub fn cn_ma(input: &str) -> Result<National, DecodeError> {
    ma::cn_ma(input).map(|code| National::CnMa(Box::new(code)))
}

/// A handle or its Handle.Net proxy URL ([`handle`]).
pub fn cn_handle(input: &str) -> Result<National, DecodeError> {
    handle::cn_handle(input).map(National::CnHandle)
}

/// An OID under `1.2.156` or `2.16.156`, dotted or as `urn:oid:` ([`oid`]).
pub fn cn_oid(input: &str) -> Result<National, DecodeError> {
    oid::cn_oid(input).map(National::CnOid)
}

/// A China 20-digit drug traceability code.
pub fn cn_drug(input: &str) -> Result<National, DecodeError> {
    if let Some(i) = all_digits(input) {
        return Err(DecodeError::at(
            "invalid_character",
            i,
            "drug traceability code is digits only",
        ));
    }
    if input.len() != 20 {
        return Err(DecodeError::whole(
            "bad_length",
            format!("drug traceability code has 20 digits, not {}", input.len()),
        ));
    }
    if !input.starts_with('8') {
        return Err(DecodeError::at(
            "invalid_value",
            0,
            "20-digit drug traceability codes begin with 8",
        ));
    }
    Ok(National::CnDrug {
        product: input[..7].to_string(),
        serial: input[7..16].to_string(),
        check: input[16..].to_string(),
    })
}

/// Province-level codes of GB/T 2260, which begin every county-level code.
const PROVINCES: [&str; 34] = [
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41",
    "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "71",
    "81", "82",
];

/// A China livestock ear tag number.
pub fn cn_livestock(input: &str) -> Result<National, DecodeError> {
    if let Some(i) = all_digits(input) {
        return Err(DecodeError::at(
            "invalid_character",
            i,
            "ear tag number is digits only",
        ));
    }
    if input.len() != 15 {
        return Err(DecodeError::whole(
            "bad_length",
            format!("ear tag number has 15 digits, not {}", input.len()),
        ));
    }
    let species = input.as_bytes()[0] - b'0';
    if !(1..=3).contains(&species) {
        return Err(DecodeError::at(
            "invalid_value",
            0,
            format!("species code {species} is not assigned (1 pig, 2 cattle, 3 sheep)"),
        ));
    }
    let county = &input[1..7];
    if !PROVINCES.contains(&&county[..2]) {
        return Err(DecodeError::at(
            "invalid_value",
            1,
            format!("{} is not a GB/T 2260 province code", &county[..2]),
        ));
    }
    if &county[2..4] == "00" || &county[4..] == "00" {
        return Err(DecodeError::at(
            "invalid_value",
            1,
            format!("{county} is not a county-level division code"),
        ));
    }
    Ok(National::CnLivestock {
        species,
        county: county.to_string(),
        sequence: input[7..].to_string(),
    })
}

/// Largest national identification code (38 bits, ISO 11784 Table 1).
const NATIONAL_ID_MAX: u64 = (1 << 38) - 1;

fn iso_country(country: u16, at: usize) -> Result<(), DecodeError> {
    if (900..=999).contains(&country)
        || contains(ISO3166_NUMERIC, format!("{country:03}").as_bytes())
    {
        Ok(())
    } else {
        Err(DecodeError::at(
            "invalid_value",
            at,
            format!(
                "{country:03} is neither an ISO 3166 numeric country code nor a manufacturer code (900-998)"
            ),
        ))
    }
}

/// An ISO 11784 code: 15 digits (a space, `_` or `-` may separate country and id) or 16 hex
/// digits of the 64-bit code structure.
pub fn iso11784(input: &str) -> Result<National, DecodeError> {
    if input.len() == 16
        && input.bytes().all(|b| b.is_ascii_hexdigit())
        && !input.bytes().all(|b| b.is_ascii_digit())
    {
        let v = u64::from_str_radix(input, 16).expect("hex");
        let country = ((v >> 38) & 0x3FF) as u16;
        let national_id = v & NATIONAL_ID_MAX;
        iso_country(country, 4)?;
        return Ok(National::Iso11784 {
            country,
            national_id,
            animal: Some(v >> 63 == 1),
        });
    }
    // Slicing below is by byte; a multi-byte character would split (found by fuzzing).
    if let Some(i) = input.bytes().position(|b| !b.is_ascii()) {
        return Err(DecodeError::at(
            "invalid_character",
            i,
            "an ISO 11784 code is digits only",
        ));
    }
    let (country, id, id_at) = match input.len() {
        15 => (&input[..3], &input[3..], 3),
        16 if matches!(input.as_bytes()[3], b' ' | b'_' | b'-') => (&input[..3], &input[4..], 4),
        n => {
            return Err(DecodeError::whole(
                "bad_length",
                format!("an ISO 11784 code has 15 digits, not {n}"),
            ));
        }
    };
    if let Some(i) = all_digits(country) {
        return Err(DecodeError::at(
            "invalid_character",
            i,
            "country code is 3 digits",
        ));
    }
    if let Some(i) = all_digits(id) {
        return Err(DecodeError::at(
            "invalid_character",
            id_at + i,
            "national identification code is 12 digits",
        ));
    }
    let country: u16 = country.parse().expect("digits");
    iso_country(country, 0)?;
    let national_id: u64 = id.parse().expect("digits");
    if national_id > NATIONAL_ID_MAX {
        return Err(DecodeError::at(
            "invalid_value",
            id_at,
            format!(
                "national identification code {national_id} exceeds 38 bits ({NATIONAL_ID_MAX})"
            ),
        ));
    }
    Ok(National::Iso11784 {
        country,
        national_id,
        animal: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn china_drug_code_structure() {
        assert_eq!(
            cn_drug("81234560000000011234").unwrap(),
            National::CnDrug {
                product: "8123456".into(),
                serial: "000000001".into(),
                check: "1234".into()
            }
        );
        assert_eq!(
            cn_drug("71234560000000011234").unwrap_err().kind,
            "invalid_value"
        );
        assert_eq!(
            cn_drug("8123456000000001123").unwrap_err().kind,
            "bad_length"
        );
        assert_eq!(
            cn_drug("8123456000000001123X").unwrap_err().position,
            Some(19)
        );
    }

    #[test]
    fn china_ear_tag_structure() {
        assert_eq!(
            cn_livestock("111010100000001").unwrap(),
            National::CnLivestock {
                species: 1,
                county: "110101".into(),
                sequence: "00000001".into()
            }
        );
        assert_eq!(
            cn_livestock("411010100000001").unwrap_err().position,
            Some(0)
        );
        assert_eq!(
            cn_livestock("199010100000001").unwrap_err().position,
            Some(1)
        );
        assert_eq!(
            cn_livestock("111010000000001").unwrap_err().kind,
            "invalid_value",
            "prefecture-level code"
        );
    }

    #[test]
    fn iso11784_rejects_multibyte_characters_where_digits_belong() {
        // Fuzzer find: 16 bytes with a two-byte character across the country/id split.
        let e = iso11784("80\u{3fe}36$0(400(40").unwrap_err();
        assert_eq!((e.kind, e.position), ("invalid_character", Some(2)));
    }

    #[test]
    fn iso11784_decimal_and_binary() {
        let want = National::Iso11784 {
            country: 982,
            national_id: 123456789,
            animal: None,
        };
        assert_eq!(iso11784("982000123456789").unwrap(), want);
        assert_eq!(iso11784("982 000123456789").unwrap(), want);
        assert_eq!(
            iso11784("156000000000042").unwrap(),
            National::Iso11784 {
                country: 156,
                national_id: 42,
                animal: None
            }
        );
        assert_eq!(
            iso11784("111000000000042").unwrap_err().kind,
            "invalid_value"
        );
        assert_eq!(
            iso11784("982999999999999").unwrap_err().kind,
            "invalid_value",
            "over 38 bits"
        );
        // 64-bit structure: animal flag, country 982 in bits 17-26, id in bits 27-64.
        let v: u64 = (1 << 63) | (982u64 << 38) | 123456789;
        let hex = format!("{v:016X}");
        assert_eq!(
            iso11784(&hex).unwrap(),
            National::Iso11784 {
                country: 982,
                national_id: 123456789,
                animal: Some(true)
            }
        );
    }
}
