//! GS1 element strings: the AI data of GS1-128, GS1 DataMatrix, GS1 QR, GS1 DataBar and GS1
//! DotCode, as a scanner transmits it (FNC1 separators as ASCII GS, 0x1D — General
//! Specifications §7.8.4 and §5.4.7.5), and the bracketed human-readable form
//! `(01)09506000134352(10)ABC123` (§4.15).
//!
//! Parsing follows the GS1 Barcode Syntax Engine: an AI is recognised by its leading digits
//! (all AIs starting with the same two digits have one length, §7.8.4), its value runs to the
//! next GS (or its predefined length), and the value is checked component by component against
//! the Syntax Dictionary: lengths, character set, then each linter.

use super::linters::{self, describe};
use super::table::{AiEntry, TABLE};
use crate::DecodeError;

/// ASCII GS, which carries FNC1 in transmitted data.
pub const GS: u8 = 0x1D;

/// One AI and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AiValue {
    /// The AI's table entry.
    pub entry: &'static AiEntry,
    /// The value, as transmitted.
    pub value: String,
    /// Byte offset of the AI in the input.
    pub position: usize,
}

impl AiValue {
    /// A value for AI `ai` (which must be in the table) at `position`.
    pub fn new(ai: &str, value: impl Into<String>, position: usize) -> Option<AiValue> {
        Some(AiValue {
            entry: TABLE.get(ai)?,
            value: value.into(),
            position,
        })
    }

    /// The AI digits.
    pub fn ai(&self) -> &'static str {
        &self.entry.ai
    }

    /// The AI's data title.
    pub fn title(&self) -> &'static str {
        &self.entry.title
    }
}

fn label(entry: &AiEntry) -> String {
    if entry.title.is_empty() {
        format!("AI ({})", entry.ai)
    } else {
        format!("AI ({}) {}", entry.ai, entry.title)
    }
}

/// Checks `value` (starting at input offset `at`) against `entry`'s components. With
/// `exact`, the value must be consumed whole (bracketed form, Digital Link); otherwise the
/// number of bytes the format consumed is returned and the caller decides what follows.
pub fn check_value(
    entry: &'static AiEntry,
    value: &[u8],
    at: usize,
    exact: bool,
) -> Result<usize, DecodeError> {
    if value.is_empty() {
        return Err(DecodeError::at(
            "bad_length",
            at,
            format!("{}: value is empty", label(entry)),
        ));
    }
    if exact {
        if value.len() < entry.min_len() {
            return Err(DecodeError::at(
                "bad_length",
                at,
                format!(
                    "{}: value is {} characters, its format {} needs at least {}",
                    label(entry),
                    value.len(),
                    entry.format(),
                    entry.min_len()
                ),
            ));
        }
        if value.len() > entry.max_len() {
            return Err(DecodeError::at(
                "bad_length",
                at + entry.max_len(),
                format!(
                    "{}: value is {} characters, its format {} allows at most {}",
                    label(entry),
                    value.len(),
                    entry.format(),
                    entry.max_len()
                ),
            ));
        }
    }
    let mut p = 0;
    for comp in &entry.components {
        let len = (value.len() - p).min(comp.max);
        if comp.optional && len == 0 {
            continue;
        }
        if len < comp.min {
            return Err(DecodeError::at(
                "bad_length",
                at + p,
                format!(
                    "{}: value is too short for its format {} ({} characters where {} are needed)",
                    label(entry),
                    entry.format(),
                    value.len(),
                    entry.min_len()
                ),
            ));
        }
        let part = &value[p..p + len];
        let result = linters::lint_cset(comp.cset, part)
            .and_then(|()| comp.linters.iter().try_for_each(|l| l.lint(part)));
        if let Err(f) = result {
            return Err(DecodeError::at(
                f.kind,
                at + p + f.pos,
                format!("{}: {}", label(entry), f.message),
            ));
        }
        p += len;
    }
    Ok(p)
}

/// Parses an unbracketed element string (what follows the AIM symbology identifier). `base` is
/// the offset of `data` in the input, for error positions.
///
/// A GS first is an error, as in GS1's Barcode Syntax Engine: FNC1 in first position is what
/// the symbology identifier already says, and a scanner that transmits it as a GS too sends
/// data the reference rejects (a device can be told to accept it: `accept_leading_gs`).
pub fn parse_element_string(data: &[u8], base: usize) -> Result<Vec<AiValue>, DecodeError> {
    let mut p = 0;
    if data.first() == Some(&GS) {
        return Err(DecodeError::at(
            "leading_gs",
            base,
            "GS right after the symbology identifier (a redundant FNC1 in first position);              GS1's Syntax Engine rejects this. Configure the scanner not to transmit it, or set              accept_leading_gs = true for this device",
        ));
    }
    if p == data.len() {
        return Err(DecodeError::at("bad_length", base, "no AI data"));
    }
    let mut out = Vec::new();
    while p < data.len() {
        let rest = &data[p..];
        let Some(entry) = TABLE.lookup_prefix(rest) else {
            let shown: String = rest
                .iter()
                .take(4)
                .map(|b| {
                    if b.is_ascii_graphic() {
                        *b as char
                    } else {
                        '?'
                    }
                })
                .collect();
            let message = if rest[0] == GS {
                "two GS separators in a row (empty element)".to_string()
            } else if p > 0 && !rest[0].is_ascii_digit() {
                format!(
                    "data after the last AI does not start with an AI: {} …",
                    describe(rest[0])
                )
            } else {
                format!("no known GS1 Application Identifier starts with {shown:?}")
            };
            return Err(DecodeError::at("unknown_ai", base + p, message));
        };
        let ai_at = p;
        p += entry.ai.len();
        let end = data[p..]
            .iter()
            .position(|b| *b == GS)
            .map_or(data.len(), |i| p + i);
        let consumed = check_value(entry, &data[p..end], base + p, false)?;
        let value = String::from_utf8(data[p..p + consumed].to_vec())
            .expect("checked character sets are ASCII");
        p += consumed;
        if entry.fnc1 && p != end {
            return Err(DecodeError::at(
                "bad_length",
                base + p,
                format!(
                    "{}: value is longer than its format {} allows; is a GS separator missing after it?",
                    label(entry),
                    entry.format()
                ),
            ));
        }
        out.push(AiValue {
            entry,
            value,
            position: base + ai_at,
        });
        // A separator after a predefined-length AI is redundant but harmless.
        if data.get(p) == Some(&GS) {
            p += 1;
        }
    }
    Ok(out)
}

/// Parses the bracketed form `(AI)value(AI)value…`; a `(` inside a value is written `\(`.
pub fn parse_bracketed(text: &str, base: usize) -> Result<Vec<AiValue>, DecodeError> {
    let bytes = text.as_bytes();
    let mut p = 0;
    let mut out = Vec::new();
    while p < bytes.len() {
        if bytes[p] != b'(' {
            return Err(DecodeError::at(
                "syntax",
                base + p,
                "expected '(' starting an AI",
            ));
        }
        let Some(close) = bytes[p + 1..].iter().position(|b| *b == b')') else {
            return Err(DecodeError::at(
                "syntax",
                base + p,
                "'(' without a closing ')'",
            ));
        };
        let ai = &text[p + 1..p + 1 + close];
        let Some(entry) = TABLE.get(ai) else {
            return Err(DecodeError::at(
                "unknown_ai",
                base + p + 1,
                format!("({ai}) is not a GS1 Application Identifier"),
            ));
        };
        let ai_at = p;
        p += close + 2;
        let mut value = Vec::new();
        let value_at = p;
        while p < bytes.len() && bytes[p] != b'(' {
            if bytes[p] == b'\\' && bytes.get(p + 1) == Some(&b'(') {
                value.push(b'(');
                p += 2;
            } else {
                value.push(bytes[p]);
                p += 1;
            }
        }
        check_value(entry, &value, base + value_at, true)?;
        out.push(AiValue {
            entry,
            value: String::from_utf8(value).expect("checked character sets are ASCII"),
            position: base + ai_at,
        });
    }
    if out.is_empty() {
        return Err(DecodeError::at("syntax", base, "no AI data"));
    }
    Ok(out)
}

/// The unbracketed element string of `ais`: GS after every variable-length AI but the last.
pub fn to_element_string(ais: &[AiValue]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, ai) in ais.iter().enumerate() {
        out.extend_from_slice(ai.ai().as_bytes());
        out.extend_from_slice(ai.value.as_bytes());
        if ai.entry.fnc1 && i + 1 < ais.len() {
            out.push(GS);
        }
    }
    out
}

/// The bracketed form of `ais`.
pub fn to_bracketed(ais: &[AiValue]) -> String {
    ais.iter()
        .map(|ai| format!("({}){}", ai.ai(), ai.value.replace('(', "\\(")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(ais: &[AiValue]) -> Vec<(&str, &str)> {
        ais.iter().map(|a| (a.ai(), a.value.as_str())).collect()
    }

    #[test]
    fn unbracketed_with_fixed_and_variable_length_ais() {
        let ais = parse_element_string(b"0109506000134352172012311012345\x1d21ABC", 0).unwrap();
        assert_eq!(
            pairs(&ais),
            vec![
                ("01", "09506000134352"),
                ("17", "201231"),
                ("10", "12345"),
                ("21", "ABC")
            ]
        );
        assert_eq!(ais[3].position, 32);
        // A redundant GS after a fixed-length AI is harmless.
        let ais = parse_element_string(b"0109506000134352\x1d10ABC", 0).unwrap();
        assert_eq!(pairs(&ais), vec![("01", "09506000134352"), ("10", "ABC")]);
        // A leading GS (FNC1 in first transmitted as GS) is refused, as the reference does.
        let e = parse_element_string(b"\x1d0109506000134352\x1d10ABC", 3).unwrap_err();
        assert_eq!((e.kind, e.position), ("leading_gs", Some(3)));
    }

    #[test]
    fn rejections_say_what_and_where() {
        let e = parse_element_string(b"0109506000134353", 3).unwrap_err();
        assert_eq!((e.kind, e.position), ("bad_check_digit", Some(3 + 15)));
        assert!(
            e.message
                .contains("AI (01) GTIN: check digit is 3, should be 2"),
            "{e}"
        );

        let e = parse_element_string(b"01095060001343521012345678901234567890123", 0).unwrap_err();
        assert_eq!(e.kind, "bad_length");
        assert!(e.message.contains("GS separator missing"), "{e}");

        let e = parse_element_string(b"010950600013435299", 0).unwrap_err();
        assert_eq!(e.kind, "bad_length");

        let e = parse_element_string(b"2345XX", 0).unwrap_err();
        assert_eq!((e.kind, e.position), ("unknown_ai", Some(0)));

        let e = parse_element_string(b"17201331", 0).unwrap_err();
        assert_eq!((e.kind, e.position), ("invalid_date", Some(4)));

        let e = parse_element_string(b"10AB|C", 0).unwrap_err();
        assert_eq!((e.kind, e.position), ("invalid_character", Some(4)));

        let e = parse_element_string(b"10ABC\x1d\x1d21X", 0).unwrap_err();
        assert_eq!(e.kind, "unknown_ai");

        let e = parse_element_string(b"0109506000134352junk", 0).unwrap_err();
        assert_eq!((e.kind, e.position), ("unknown_ai", Some(16)));
    }

    #[test]
    fn decimal_point_and_multi_component_ais() {
        let ais = parse_element_string(b"3103000500", 0).unwrap();
        assert_eq!(pairs(&ais), vec![("3103", "000500")]);
        assert!(parse_element_string(b"310300050", 0).is_err());
        assert!(parse_element_string(b"3106000500", 0).is_err(), "no (3106)");
        // GDTI: N13 with optional serial X..17.
        let e = parse_element_string(b"2539506000134353", 0).unwrap_err();
        assert_eq!(
            (e.kind, e.position),
            ("bad_check_digit", Some(15)),
            "check digit of the N13 component"
        );
        assert_eq!(
            pairs(&parse_element_string(b"2539506000134352", 0).unwrap()),
            vec![("253", "9506000134352")]
        );
        let ais = parse_element_string(b"2534012345000009SERIAL", 0).unwrap();
        assert_eq!(pairs(&ais), vec![("253", "4012345000009SERIAL")]);
    }

    #[test]
    fn bracketed_form() {
        let ais = parse_bracketed("(01)09506000134352(17)201231(10)ABC123", 0).unwrap();
        assert_eq!(
            pairs(&ais),
            vec![("01", "09506000134352"), ("17", "201231"), ("10", "ABC123")]
        );
        let ais = parse_bracketed("(10)AB\\(C", 0).unwrap();
        assert_eq!(ais[0].value, "AB(C");
        assert_eq!(to_bracketed(&ais), "(10)AB\\(C");
        assert_eq!(parse_bracketed("(1A)12", 0).unwrap_err().kind, "unknown_ai");
        assert_eq!(parse_bracketed("(10)", 0).unwrap_err().kind, "bad_length");
        assert_eq!(parse_bracketed("10)X", 0).unwrap_err().kind, "syntax");
        assert_eq!(
            parse_bracketed("(01)095060001343521", 0).unwrap_err().kind,
            "bad_length"
        );
    }

    #[test]
    fn element_string_round_trip() {
        let ais = parse_bracketed("(10)ABC(01)09506000134352(21)X1", 0).unwrap();
        let raw = to_element_string(&ais);
        assert_eq!(raw, b"10ABC\x1d010950600013435221X1");
        assert_eq!(pairs(&parse_element_string(&raw, 0).unwrap()), pairs(&ais));
    }
}
