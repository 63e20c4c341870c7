//! What a payload means: GS1 element strings, GS1 Digital Link, EPC (Tag Data Standard) and
//! national codes — exact to the standards, rejecting malformed data at the point of capture
//! with a message that says what is wrong and where.
//!
//! [`decode`] is the one entry point. With [`Mode::Auto`] it classifies the input: an AIM
//! symbology identifier decides when present (enable them on scanners); without one, only
//! unambiguous signs are trusted (a URI scheme, brackets, a leading GS, an EPC header with an
//! EPC length, a GTIN with a valid check digit, a 20-digit code starting with 8, …) and
//! anything else is plain text.

pub mod aim;
pub mod check_digit;
pub mod digital_link;
pub mod epc;
mod error;
pub mod gcp;
pub mod gs1;
pub mod national;

use serde::{Deserialize, Serialize};

pub use check_digit::{gs1_check_digit, has_valid_check_digit};
pub use epc::Epc;
pub use error::DecodeError;
pub use gs1::{AiValue, Rules};
pub use national::National;

/// What an input turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// GS1 AI data (element string, bracketed, or a GTIN from EAN/UPC/ITF-14).
    Gs1,
    /// A GS1 Digital Link URI.
    #[serde(alias = "digital-link")]
    DigitalLink,
    /// An EPC (tag memory hex or EPC URI).
    Epc,
    /// China 20-digit drug traceability code.
    #[serde(alias = "cn-drug")]
    CnDrug,
    /// China livestock ear tag number.
    #[serde(alias = "cn-livestock")]
    CnLivestock,
    /// ISO 11784 animal identification.
    Iso11784,
    /// MA code (IDcode), the MA medical-device UDI among them.
    #[serde(alias = "cn-ma")]
    CnMa,
    /// Handle identifier (China's industrial-internet identifiers).
    #[serde(alias = "cn-handle")]
    CnHandle,
    /// Object identifier under China's national arcs (1.2.156, 2.16.156).
    #[serde(alias = "cn-oid")]
    CnOid,
    /// Anything else, kept as text.
    Plain,
}

impl Kind {
    /// Every kind. (Config accepts `digital-link` as well as `digital_link`, so the spelling of
    /// `--as` works too.)
    pub const ALL: &'static [Kind] = &[
        Kind::Gs1,
        Kind::DigitalLink,
        Kind::Epc,
        Kind::CnDrug,
        Kind::CnLivestock,
        Kind::Iso11784,
        Kind::CnMa,
        Kind::CnHandle,
        Kind::CnOid,
        Kind::Plain,
    ];

    /// The name used in JSON and config (`digital_link` …).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Gs1 => "gs1",
            Kind::DigitalLink => "digital_link",
            Kind::Epc => "epc",
            Kind::CnDrug => "cn_drug",
            Kind::CnLivestock => "cn_livestock",
            Kind::Iso11784 => "iso11784",
            Kind::CnMa => "cn_ma",
            Kind::CnHandle => "cn_handle",
            Kind::CnOid => "cn_oid",
            Kind::Plain => "plain",
        }
    }
}

/// How to read an input.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Classify the input (see the module documentation).
    #[default]
    Auto,
    /// GS1 AI data only.
    Gs1,
    /// GS1 Digital Link only.
    DigitalLink,
    /// EPC hex or EPC URI only.
    Epc,
    /// China drug traceability code only.
    CnDrug,
    /// China livestock ear tag only.
    CnLivestock,
    /// ISO 11784 animal identification only.
    Iso11784,
    /// MA code (IDcode) only.
    CnMa,
    /// Handle identifier only.
    CnHandle,
    /// OID under China's national arcs only.
    CnOid,
    /// Never interpret: plain text.
    Plain,
}

impl Mode {
    /// The kind every read decoded this way has (`None` for [`Mode::Auto`]).
    pub fn kind(self) -> Option<Kind> {
        Some(match self {
            Mode::Auto => return None,
            Mode::Gs1 => Kind::Gs1,
            Mode::DigitalLink => Kind::DigitalLink,
            Mode::Epc => Kind::Epc,
            Mode::CnDrug => Kind::CnDrug,
            Mode::CnLivestock => Kind::CnLivestock,
            Mode::Iso11784 => Kind::Iso11784,
            Mode::CnMa => Kind::CnMa,
            Mode::CnHandle => Kind::CnHandle,
            Mode::CnOid => Kind::CnOid,
            Mode::Plain => Kind::Plain,
        })
    }

    /// The `--as` / `decode_as` spelling.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Auto => "auto",
            Mode::Gs1 => "gs1",
            Mode::DigitalLink => "digital-link",
            Mode::Epc => "epc",
            Mode::CnDrug => "cn-drug",
            Mode::CnLivestock => "cn-livestock",
            Mode::Iso11784 => "iso11784",
            Mode::CnMa => "cn-ma",
            Mode::CnHandle => "cn-handle",
            Mode::CnOid => "cn-oid",
            Mode::Plain => "plain",
        }
    }
}

/// A successfully identified input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identified {
    /// What it is.
    pub kind: Kind,
    /// AIM symbology identifier, when the scanner sent one.
    pub symbology: Option<String>,
    /// GS1 AIs, in the order of the input (for an EPC: its GS1 key and serial).
    pub ais: Vec<AiValue>,
    /// The EPC, for EPC inputs.
    pub epc: Option<Epc>,
    /// The national code, for national kinds.
    pub national: Option<National>,
    /// The text, for plain inputs.
    pub text: Option<String>,
}

impl Identified {
    fn new(kind: Kind) -> Self {
        Identified {
            kind,
            symbology: None,
            ais: Vec::new(),
            epc: None,
            national: None,
            text: None,
        }
    }

    fn gs1(kind: Kind, ais: Vec<AiValue>) -> Self {
        Identified {
            ais,
            ..Identified::new(kind)
        }
    }
}

/// The result of reading one input: what it was taken for, and whether it is valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoding {
    /// What the input was read as (also when it was rejected).
    pub kind: Kind,
    /// The identifiers, or why the input was rejected.
    pub result: Result<Identified, DecodeError>,
}

impl Decoding {
    fn ok(id: Identified) -> Self {
        Decoding {
            kind: id.kind,
            result: Ok(id),
        }
    }

    fn err(kind: Kind, e: DecodeError) -> Self {
        Decoding {
            kind,
            result: Err(e),
        }
    }

    fn from(kind: Kind, r: Result<Identified, DecodeError>) -> Self {
        Decoding { kind, result: r }
    }

    fn with_symbology(mut self, sym: Option<&aim::Symbology>) -> Self {
        if let (Ok(id), Some(sym)) = (&mut self.result, sym) {
            id.symbology = Some(sym.id.clone());
        }
        self
    }
}

/// Reads `input` (bytes as a scanner or reader delivered them) as `mode` says, applying the
/// GS1 message `rules`.
pub fn decode(input: &[u8], mode: Mode, rules: Rules) -> Decoding {
    match mode {
        Mode::Auto => auto(input, rules),
        Mode::Gs1 => gs1_any(input, rules),
        Mode::DigitalLink => {
            let (sym, rest, at) = strip_aim(input);
            match text(rest, at) {
                Ok(s) => Decoding::from(Kind::DigitalLink, digital_link_checked(s, at, rules))
                    .with_symbology(sym.as_ref()),
                Err(e) => Decoding::err(Kind::DigitalLink, e),
            }
        }
        Mode::Epc => match text(input, 0) {
            Ok(s) => Decoding::from(Kind::Epc, epc_any(s)),
            Err(e) => Decoding::err(Kind::Epc, e),
        },
        Mode::CnDrug => national_with(input, Kind::CnDrug, national::cn_drug),
        Mode::CnLivestock => national_with(input, Kind::CnLivestock, national::cn_livestock),
        Mode::Iso11784 => national_with(input, Kind::Iso11784, national::iso11784),
        Mode::CnMa => national_with(input, Kind::CnMa, national::cn_ma),
        Mode::CnHandle => national_with(input, Kind::CnHandle, national::cn_handle),
        Mode::CnOid => national_with(input, Kind::CnOid, national::cn_oid),
        Mode::Plain => plain(input),
    }
}

fn strip_aim(input: &[u8]) -> (Option<aim::Symbology>, &[u8], usize) {
    match aim::split(input) {
        Some((sym, rest)) => (Some(sym), rest, 3),
        None => (None, input, 0),
    }
}

fn text(bytes: &[u8], at: usize) -> Result<&str, DecodeError> {
    std::str::from_utf8(bytes).map_err(|e| {
        DecodeError::at(
            "invalid_character",
            at + e.valid_up_to(),
            "not valid UTF-8 text",
        )
    })
}

fn plain(input: &[u8]) -> Decoding {
    let mut id = Identified::new(Kind::Plain);
    id.text = Some(String::from_utf8_lossy(input).into_owned());
    Decoding::ok(id)
}

fn national_with(
    input: &[u8],
    kind: Kind,
    f: fn(&str) -> Result<National, DecodeError>,
) -> Decoding {
    let (sym, rest, at) = strip_aim(input);
    let r = text(rest, at)
        .and_then(|s| f(s).map_err(|e| e.shifted(at)))
        .map(|n| Identified {
            national: Some(n),
            ..Identified::new(kind)
        });
    Decoding::from(kind, r).with_symbology(sym.as_ref())
}

/// GS1 data checked against the message rules.
fn gs1_checked(ais: Vec<AiValue>, rules: Rules) -> Result<Identified, DecodeError> {
    gs1::validate::check(&ais, rules)?;
    Ok(Identified::gs1(Kind::Gs1, ais))
}

fn digital_link_checked(uri: &str, at: usize, rules: Rules) -> Result<Identified, DecodeError> {
    let dl = digital_link::parse(uri, at)?;
    gs1::validate::check(&dl.ais, rules)?;
    Ok(Identified::gs1(Kind::DigitalLink, dl.ais))
}

/// A GTIN carried by EAN-13/UPC (13 digits), EAN-8 or ITF-14, as AI (01).
fn gtin(digits: &[u8], at: usize, len: usize, name: &str) -> Result<Vec<AiValue>, DecodeError> {
    if digits.len() != len {
        return Err(DecodeError::at(
            "bad_length",
            at,
            format!("{name} carries {len} digits, not {}", digits.len()),
        ));
    }
    if let Some(i) = digits.iter().position(|b| !b.is_ascii_digit()) {
        return Err(DecodeError::at(
            "invalid_character",
            at + i,
            format!("{name} carries digits only"),
        ));
    }
    if !has_valid_check_digit(digits) {
        let want = gs1_check_digit(&digits[..len - 1]).expect("digits") as char;
        return Err(DecodeError::at(
            "bad_check_digit",
            at + len - 1,
            format!(
                "{name} check digit is {}, should be {want}",
                digits[len - 1] as char
            ),
        ));
    }
    let value = format!("{:0>14}", std::str::from_utf8(digits).expect("digits"));
    Ok(vec![
        AiValue::new("01", value, at).expect("(01) is in the table"),
    ])
}

/// GS1 data in any of its forms (used by `Mode::Gs1`).
fn gs1_any(input: &[u8], rules: Rules) -> Decoding {
    if let Some((sym, rest)) = aim::split(input) {
        let r = match sym.carrier {
            aim::Carrier::Gs1 => element_string(rest, 3, rules),
            aim::Carrier::Plain => match text(rest, 3) {
                Ok(s) if s.starts_with('(') => {
                    gs1::parse_bracketed(s, 3).and_then(|ais| gs1_checked(ais, rules))
                }
                Ok(_) | Err(_) => Err(DecodeError::at(
                    "not_gs1",
                    0,
                    format!("symbology {} does not carry GS1 data", sym.id),
                )),
            },
            _ => ean_family(&sym, rest, rules),
        };
        return Decoding::from(Kind::Gs1, r).with_symbology(Some(&sym));
    }
    let r = if input.first() == Some(&b'(') {
        text(input, 0).and_then(|s| gs1::parse_bracketed(s, 0))
    } else if input.iter().all(u8::is_ascii_digit)
        && matches!(input.len(), 8 | 12 | 13 | 14)
        && has_valid_check_digit(input)
    {
        gtin(input, 0, input.len(), "GTIN")
    } else {
        // No symbology identifier: a leading GS is the FNC1 that marks GS1 data.
        let (data, base) = match input {
            [gs1::GS, rest @ ..] => (rest, 1),
            _ => (input, 0),
        };
        return Decoding::from(Kind::Gs1, element_string(data, base, rules));
    };
    Decoding::from(Kind::Gs1, r.and_then(|ais| gs1_checked(ais, rules)))
}

/// An element string's AIs, checked by `rules`; a leading GS is skipped only where the
/// device accepts it.
fn element_string(data: &[u8], base: usize, rules: Rules) -> Result<Identified, DecodeError> {
    let (data, base) = match data {
        [gs1::GS, rest @ ..] if rules.leading_gs => (rest, base + 1),
        _ => (data, base),
    };
    gs1::parse_element_string(data, base).and_then(|ais| gs1_checked(ais, rules))
}

fn ean_family(sym: &aim::Symbology, rest: &[u8], rules: Rules) -> Result<Identified, DecodeError> {
    let ais = match sym.carrier {
        aim::Carrier::Ean13 => {
            // A composite component follows the primary as "|]e0" and AI data.
            match rest.windows(4).position(|w| w == b"|]e0") {
                Some(13) => {
                    let mut ais = gtin(&rest[..13], 3, 13, "EAN-13/UPC")?;
                    ais.extend(gs1::parse_element_string(&rest[17..], 3 + 17)?);
                    ais
                }
                _ => gtin(rest, 3, 13, "EAN-13/UPC")?,
            }
        }
        aim::Carrier::Ean13AddOn => {
            if !matches!(rest.len(), 15 | 18) {
                return Err(DecodeError::at(
                    "bad_length",
                    3,
                    "EAN-13 with add-on carries 15 or 18 digits",
                ));
            }
            // The add-on (issue number, price) is not an identifier: only the GTIN is kept.
            gtin(&rest[..13], 3, 13, "EAN-13/UPC")?
        }
        aim::Carrier::Ean8 => gtin(rest, 3, 8, "EAN-8")?,
        aim::Carrier::Itf => gtin(rest, 3, 14, "ITF-14")?,
        aim::Carrier::Gs1 | aim::Carrier::Plain => unreachable!("handled by callers"),
    };
    gs1_checked(ais, rules)
}

/// Is this (after optional "0x") hex of an EPC encoding's length with a TDS header?
fn looks_like_epc_hex(s: &str) -> bool {
    s.len() >= 24
        && s.len() <= 64
        && s.len().is_multiple_of(4)
        && s.bytes().all(|b| b.is_ascii_hexdigit())
        && u8::from_str_radix(&s[..2], 16).is_ok_and(|h| (0x2C..=0x44).contains(&h))
}

fn epc_any(s: &str) -> Result<Identified, DecodeError> {
    let epc = if s.starts_with("urn:epc:") {
        Epc::from_uri(s)?
    } else if let Some(i) = s.bytes().position(|b| !b.is_ascii_hexdigit()) {
        return Err(DecodeError::at(
            "bad_epc",
            i,
            "not an EPC: expected the EPC memory bank in hex or an urn:epc: URI",
        ));
    } else {
        Epc::from_hex(s)?
    };
    let ais = epc
        .gs1()
        .into_iter()
        .map(|(ai, v)| AiValue::new(ai, v, 0).expect("EPC keys are in the table"))
        .collect();
    Ok(Identified {
        ais,
        epc: Some(epc),
        ..Identified::new(Kind::Epc)
    })
}

fn auto(input: &[u8], rules: Rules) -> Decoding {
    let (sym, rest, at) = strip_aim(input);
    if let Some(sym) = &sym {
        match sym.carrier {
            aim::Carrier::Gs1 => {
                let r = element_string(rest, at, rules);
                return Decoding::from(Kind::Gs1, r).with_symbology(Some(sym));
            }
            aim::Carrier::Plain => {}
            _ => {
                return Decoding::from(Kind::Gs1, ean_family(sym, rest, rules))
                    .with_symbology(Some(sym));
            }
        }
    }
    // Plain symbology, or no identifier: only unambiguous forms are interpreted.
    let Ok(s) = std::str::from_utf8(rest) else {
        return plain(input).with_symbology(sym.as_ref());
    };
    // The issuers' resolution URLs before Digital Link (which would call them text), and the
    // codes by their unambiguous signs: "MA." and a country digit; an IDIS prefix and "/"; an
    // OID under China's arcs with an arc below.
    if national::ma::looks_like(s) {
        return national_with(input, Kind::CnMa, national::cn_ma);
    }
    if national::handle::looks_like(s) {
        return national_with(input, Kind::CnHandle, national::cn_handle);
    }
    if national::oid::looks_like(s) {
        return national_with(input, Kind::CnOid, national::cn_oid);
    }
    if digital_link::looks_like(rest) {
        return match digital_link_checked(s, at, rules) {
            // A web address that is not a Digital Link is just text.
            Err(e)
                if e.kind == "not_digital_link"
                    && e.message.starts_with("no GS1 Digital Link primary key") =>
            {
                plain(input)
            }
            r => Decoding::from(Kind::DigitalLink, r),
        }
        .with_symbology(sym.as_ref());
    }
    if s.starts_with("urn:epc:") {
        return Decoding::from(Kind::Epc, epc_any(s).map_err(|e| e.shifted(at)))
            .with_symbology(sym.as_ref());
    }
    if sym.is_none() {
        if s.starts_with('(') && s.as_bytes().get(1).is_some_and(u8::is_ascii_digit) {
            return Decoding::from(
                Kind::Gs1,
                gs1::parse_bracketed(s, 0).and_then(|ais| gs1_checked(ais, rules)),
            );
        }
        if s.starts_with('\x1d') {
            // Without a symbology identifier the GS is the FNC1 that marks GS1 data, not a
            // redundant one.
            return Decoding::from(Kind::Gs1, element_string(&rest[1..], 1, rules));
        }
        if looks_like_epc_hex(s) {
            return Decoding::from(Kind::Epc, epc_any(s));
        }
        if s.bytes().all(|b| b.is_ascii_digit()) {
            match s.len() {
                8 | 12 | 13 | 14 if has_valid_check_digit(rest) => {
                    return Decoding::from(
                        Kind::Gs1,
                        gtin(rest, 0, s.len(), "GTIN").and_then(|ais| gs1_checked(ais, rules)),
                    );
                }
                20 if s.starts_with('8') => {
                    return national_with(input, Kind::CnDrug, national::cn_drug);
                }
                15 => {
                    // Both a Chinese ear tag and an ISO 11784 code are 15 digits; take the one
                    // that validates, the ear tag first (its province prefix rules out most
                    // ISO country codes). Configure the device's accepted kinds to be sure.
                    if national::cn_livestock(s).is_ok() {
                        return national_with(input, Kind::CnLivestock, national::cn_livestock);
                    }
                    if national::iso11784(s).is_ok() {
                        return national_with(input, Kind::Iso11784, national::iso11784);
                    }
                }
                _ => {}
            }
        }
        if s.len() == 16 && matches!(s.as_bytes()[3], b' ' | b'_') && national::iso11784(s).is_ok()
        {
            return national_with(input, Kind::Iso11784, national::iso11784);
        }
    }
    plain(input).with_symbology(sym.as_ref())
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
