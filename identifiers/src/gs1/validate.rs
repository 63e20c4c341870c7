//! Rules over a whole message, as the GS1 Barcode Syntax Engine applies them by default:
//! mutually exclusive AIs (`ex=`), requisite AIs (`req=`, can be relaxed per device), repeated
//! AIs with different values, and the digital signature's serialised key (General
//! Specifications §4.14 "Invalid pairs" and "Mandatory associations").

use super::element::AiValue;
use crate::DecodeError;

/// Which message rules apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// Enforce `req=` associations. Off for logistic labels whose AIs are split across several
    /// symbols, where one symbol alone cannot satisfy them.
    pub requisites: bool,
    /// Take a GS right after the symbology identifier (a redundant FNC1 in first position,
    /// which some scanners transmit) as nothing. Off by default: GS1's Barcode Syntax Engine
    /// rejects such data, and so does tracegate unless a device is configured otherwise.
    pub leading_gs: bool,
}

impl Default for Rules {
    /// The Syntax Engine's defaults: every check on.
    fn default() -> Self {
        Rules {
            requisites: true,
            leading_gs: false,
        }
    }
}

/// Does `ai` match `pattern` (`"01"`, `"310n"`, `"31nn"`)? `ignore` is never matched: an AI
/// is not exclusive of, nor required by, itself.
fn matches(pattern: &str, ai: &str, ignore: Option<&str>) -> bool {
    let fixed = pattern.bytes().take_while(u8::is_ascii_digit).count();
    pattern.len() == ai.len()
        && ai.as_bytes()[..fixed] == pattern.as_bytes()[..fixed]
        && ignore != Some(ai)
}

fn find<'a>(ais: &'a [AiValue], pattern: &str, ignore: Option<&str>) -> Option<&'a AiValue> {
    ais.iter().find(|a| matches(pattern, a.ai(), ignore))
}

fn named(ai: &AiValue) -> String {
    format!("AI ({}) {}", ai.ai(), ai.title())
}

/// Checks the message-level rules over `ais`.
pub fn check(ais: &[AiValue], rules: Rules) -> Result<(), DecodeError> {
    // The Syntax Engine walks the AIs in lexical order, so the first violation it reports
    // is the first in that order; walk the same way to report the same one.
    let mut sorted: Vec<&AiValue> = ais.iter().collect();
    sorted.sort_by_key(|a| a.ai());
    for ai in sorted.iter().copied() {
        for pattern in &ai.entry.ex {
            if let Some(other) = find(ais, pattern, Some(ai.ai())) {
                return Err(DecodeError::at(
                    "exclusive_ais",
                    other.position,
                    format!("{} and {} cannot appear together", named(ai), named(other)),
                ));
            }
        }
    }
    if rules.requisites {
        for ai in sorted.iter().copied() {
            for req in &ai.entry.req {
                let satisfied = req.iter().any(|group| {
                    group
                        .iter()
                        .all(|pattern| find(ais, pattern, Some(ai.ai())).is_some())
                });
                if !satisfied {
                    let options: Vec<String> = req
                        .iter()
                        .map(|g| {
                            g.iter()
                                .map(|p| format!("({p})"))
                                .collect::<Vec<_>>()
                                .join(" with ")
                        })
                        .collect();
                    return Err(DecodeError::at(
                        "missing_requisite",
                        ai.position,
                        format!(
                            "{} needs {} in the same message",
                            named(ai),
                            one_of(&options)
                        ),
                    ));
                }
            }
        }
    }
    for (i, a) in ais.iter().enumerate() {
        if let Some(b) = ais[i + 1..]
            .iter()
            .find(|b| b.ai() == a.ai() && b.value != a.value)
        {
            return Err(DecodeError::at(
                "repeated_ai",
                b.position,
                format!("{} appears twice with different values", named(a)),
            ));
        }
    }
    if find(ais, "8030", None).is_some() {
        for key in ["253", "255", "8003"] {
            if let Some(ai) = find(ais, key, None)
                && ai.value.len() == ai.entry.min_len()
            {
                return Err(DecodeError::at(
                    "serial_required",
                    ai.position,
                    format!(
                        "{} has no serial component, which a digital signature (8030) requires",
                        named(ai)
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn one_of(options: &[String]) -> String {
    match options {
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
        [] => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gs1::element::parse_bracketed;

    fn check_str(s: &str, rules: Rules) -> Result<(), DecodeError> {
        check(&parse_bracketed(s, 0).unwrap(), rules)
    }

    #[test]
    fn patterns() {
        assert!(matches("310n", "3103", None));
        assert!(matches("31nn", "3152", None));
        assert!(!matches("310n", "3113", None));
        assert!(!matches("310n", "3103", Some("3103")));
        assert!(!matches("01", "010", None));
    }

    #[test]
    fn association_rules_match_the_syntax_engine() {
        let ok = Rules::default();
        assert!(check_str("(01)09506000134352(21)ABC", ok).is_ok());
        let e = check_str("(21)ABC", ok).unwrap_err();
        assert_eq!(e.kind, "missing_requisite");
        assert!(
            e.message
                .contains("AI (21) SERIAL needs (01), (03) or (8006)"),
            "{}",
            e.message
        );
        assert!(
            check_str(
                "(21)ABC",
                Rules {
                    requisites: false,
                    ..Rules::default()
                }
            )
            .is_ok()
        );

        let e = check_str("(01)09506000134352(02)09506000134352", ok).unwrap_err();
        assert_eq!(e.kind, "exclusive_ais");
        assert!(
            e.message.contains("(02) CONTENT and AI (01) GTIN"),
            "{}",
            e.message
        );
        let e = check_str("(01)09506000134352(02)09506000134352(37)5", ok).unwrap_err();
        assert!(
            e.message.contains("(01) GTIN and AI (37) COUNT"),
            "first violation in AI order: {}",
            e.message
        );

        let e = check_str("(01)09506000134352(3103)000500(3102)000050", ok).unwrap_err();
        assert_eq!(e.kind, "exclusive_ais");
        assert!(check_str("(01)09506000134352(3103)000500(3203)000500", ok).is_ok());

        let e = check_str("(01)09506000134352(10)A(10)B", ok).unwrap_err();
        assert_eq!(e.kind, "repeated_ai");
        assert!(check_str("(01)09506000134352(10)A(10)A", ok).is_ok());

        let e = check_str("(253)4012345000009(8030)AAAA", ok).unwrap_err();
        assert_eq!(e.kind, "serial_required");
        assert!(check_str("(253)4012345000009S1(8030)AAAA", ok).is_ok());

        // (250) needs (21) as well as (01) or (8006): both req= attributes apply.
        let e = check_str("(01)09506000134352(250)X", ok).unwrap_err();
        assert!(e.message.contains("(21)"), "{}", e.message);
        // req=01+21 groups: (8030) with (01) alone is not enough.
        let e = check_str("(01)09506000134352(8030)AAAA", ok).unwrap_err();
        assert!(e.message.contains("(01) with (21)"), "{}", e.message);
    }
}
