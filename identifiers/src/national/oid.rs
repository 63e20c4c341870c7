//! Object identifiers under China's national arcs: `1.2.156` (iso, member-body, China) and
//! `2.16.156` (joint-iso-itu-t, country, China), the roots of OID-based product and
//! organisation codes registered in China.
//!
//! What is checked, and where each rule comes from:
//!
//! - **The syntax** (ITU-T X.660 | ISO/IEC 9834-1 §6–7; the dotted form of IETF RFC 3061 §2):
//!   arcs are non-negative decimal integers separated by `.`, without leading zeros; the
//!   first arc is 0, 1 or 2, and under 0 and 1 the second is at most 39.
//! - **The root**: `1.2.156` or `2.16.156` (X.660 Annex A; ISO 3166-1 numeric 156 is China),
//!   with at least one arc below it.
//! - **The URN form** `urn:oid:…` (RFC 3061) is read as the OID it names, and is how an OID
//!   is written in events.
//!
//! Not checked: what the arcs below China's root mean (each registration authority's own
//! rules) or whether an arc is registered (only the registry knows).

use serde::Serialize;

use crate::DecodeError;

/// China's two national roots.
pub const ROOTS: [&str; 2] = ["1.2.156", "2.16.156"];

/// A decoded OID under one of China's roots.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Oid {
    /// The dotted form (`2.16.156.10011.1`).
    pub oid: String,
    /// Which of the national roots it is under (`1.2.156` or `2.16.156`).
    pub root: &'static str,
    /// The arcs below the root.
    pub arcs: Vec<String>,
}

impl Oid {
    /// `urn:oid:…` (RFC 3061).
    pub fn urn(&self) -> String {
        format!("urn:oid:{}", self.oid)
    }
}

/// Is `s` an OID under China's roots, as a URN or dotted (for `auto`)?
pub fn looks_like(s: &str) -> bool {
    let dotted = s.strip_prefix("urn:oid:").unwrap_or(s);
    ROOTS.iter().any(|root| {
        dotted
            .strip_prefix(root)
            .is_some_and(|rest| rest.starts_with('.'))
    }) && cn_oid(s).is_ok()
}

/// Decodes an OID under `1.2.156` or `2.16.156`, dotted or as `urn:oid:…`.
pub fn cn_oid(input: &str) -> Result<Oid, DecodeError> {
    let (dotted, at) = match super::strip_prefix_ignore_case(input, "urn:oid:") {
        Some(dotted) => (dotted, 8),
        None => (input, 0),
    };
    let mut arcs = Vec::new();
    let mut i = 0;
    for arc in dotted.split('.') {
        if arc.is_empty() {
            return Err(DecodeError::at(
                "invalid_value",
                at + i,
                "an empty arc in the OID",
            ));
        }
        if let Some(j) = arc.bytes().position(|b| !b.is_ascii_digit()) {
            return Err(DecodeError::at(
                "invalid_character",
                at + i + j,
                "an OID's arcs are decimal numbers separated by \".\"",
            ));
        }
        if arc.len() > 1 && arc.starts_with('0') {
            return Err(DecodeError::at(
                "invalid_value",
                at + i,
                format!("the arc {arc} has a leading zero (X.660 §7)"),
            ));
        }
        arcs.push(arc);
        i += arc.len() + 1;
    }
    // X.660 §7: three roots; under itu-t (0) and iso (1), at most 40 second-level arcs.
    match (arcs.first().copied(), arcs.get(1)) {
        (Some("0" | "1"), Some(second))
            if second.len() > 2 || second.parse::<u8>().is_ok_and(|n| n > 39) =>
        {
            return Err(DecodeError::at(
                "invalid_value",
                at + arcs[0].len() + 1,
                format!(
                    "under arc {} the second arc is at most 39, not {second}",
                    arcs[0]
                ),
            ));
        }
        (Some("0" | "1" | "2"), _) => {}
        (first, _) => {
            return Err(DecodeError::at(
                "invalid_value",
                at,
                format!(
                    "an OID's first arc is 0, 1 or 2, not {}",
                    first.unwrap_or_default()
                ),
            ));
        }
    }
    let Some(root) = ROOTS.into_iter().find(|root| {
        dotted
            .strip_prefix(root)
            .is_some_and(|rest| rest.starts_with('.'))
    }) else {
        return Err(DecodeError::at(
            "not_cn_oid",
            at,
            "not under China's arcs 1.2.156 or 2.16.156 (with an arc below)",
        ));
    };
    let below = root.split('.').count();
    Ok(Oid {
        oid: dotted.to_string(),
        root,
        arcs: arcs[below..].iter().map(|a| a.to_string()).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oids_under_chinas_roots_decode_dotted_and_as_urns() {
        let oid = cn_oid("2.16.156.10011.1.5").unwrap();
        assert_eq!(oid.root, "2.16.156");
        assert_eq!(oid.arcs, ["10011", "1", "5"]);
        assert_eq!(oid.urn(), "urn:oid:2.16.156.10011.1.5");
        assert_eq!(
            cn_oid("urn:oid:1.2.156.10197.1.301").unwrap().root,
            "1.2.156"
        );
        assert_eq!(cn_oid("URN:OID:1.2.156.1").unwrap().oid, "1.2.156.1");
        assert!(looks_like("urn:oid:1.2.156.10197.1.301"));
        assert!(looks_like("2.16.156.10011"));
        assert!(!looks_like("2.16.156"), "the root alone names no product");
        assert!(!looks_like("1.2.840.113549"), "another country's arc");
        assert!(!looks_like("1.2.1560.1"));
    }

    #[test]
    fn malformed_oids_are_refused_with_the_arc_and_the_reason() {
        let refused = |s: &str| cn_oid(s).unwrap_err();
        assert_eq!(refused("2.16.156..1").position, Some(9));
        assert_eq!(refused("2.16.156.01").kind, "invalid_value");
        assert_eq!(refused("2.16.156.a").position, Some(9));
        assert!(refused("3.16.156.1").message.contains("first arc"));
        assert!(refused("1.40.156.1").message.contains("at most 39"));
        assert_eq!(refused("1.2.840.1").kind, "not_cn_oid");
        assert_eq!(refused("urn:oid:2.16.840.1").position, Some(8));
    }
}
