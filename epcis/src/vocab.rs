//! The CBV 2.0 standard vocabulary, read from GS1's EPCIS 2.0 JSON-LD context
//! (`vocab/epcis-context.jsonld`, shipped unchanged as GS1 publishes it).
//!
//! In EPCIS 2.0 JSON, standard vocabulary is written as bare words (`"bizStep": "receiving"`);
//! the context maps each to its CBV term (`cbv:BizStep-receiving`). Reading the words from the
//! context itself keeps config validation and event hashing on exactly GS1's list, and a newer
//! context file is a drop-in update. Values that are not bare words must be full URIs
//! (CBV 2.0 §7.2: user vocabulary is written as a URI).

use std::collections::HashMap;
use std::sync::LazyLock;

use serde_json::Value;

/// A field whose values come from a CBV vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// `bizStep` (CBV 2.0 §7.1).
    BizStep,
    /// `disposition` and `persistentDisposition` (CBV 2.0 §7.2).
    Disposition,
    /// Business transaction type (CBV 2.0 §7.3).
    BizTransactionType,
    /// Source / destination type (CBV 2.0 §7.4).
    SourceDestType,
    /// Error reason (CBV 2.0 §7.5).
    ErrorReason,
    /// Sensor measurement type (GS1 Web Vocabulary, `gs1:`).
    MeasurementType,
    /// Sensor alert type (`gs1:`).
    SensorAlert,
    /// Sensor report component (CBV 2.0 §7.6).
    Component,
}

impl Field {
    /// The config / JSON key, for messages.
    pub fn key(self) -> &'static str {
        match self {
            Field::BizStep => "biz_step",
            Field::Disposition => "disposition",
            Field::BizTransactionType => "biz_transaction type",
            Field::SourceDestType => "source / destination type",
            Field::ErrorReason => "error reason",
            Field::MeasurementType => "sensor report type",
            Field::SensorAlert => "sensor exception",
            Field::Component => "component",
        }
    }
}

/// GS1's EPCIS 2.0 JSON-LD context, as published.
pub const EPCIS_CONTEXT_JSONLD: &str = include_str!("vocab/epcis-context.jsonld");

/// Every field's words, each with its compact IRI (`cbv:BizStep-receiving`).
struct Vocabulary(HashMap<Field, HashMap<String, String>>);

static VOCABULARY: LazyLock<Vocabulary> = LazyLock::new(|| {
    let root: Value = serde_json::from_str(EPCIS_CONTEXT_JSONLD).expect("bundled context is JSON");
    let ctx = &root["@context"];
    let words = |path: &[&str]| -> HashMap<String, String> {
        let mut node = ctx;
        for (i, key) in path.iter().enumerate() {
            node = &node[*key];
            if i + 1 < path.len() {
                node = &node["@context"];
            }
        }
        node["@context"]
            .as_object()
            .map(|m| {
                m.iter()
                    .filter(|(k, _)| !k.starts_with('@'))
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut map = HashMap::new();
    map.insert(Field::BizStep, words(&["bizStep"]));
    map.insert(Field::Disposition, words(&["disposition"]));
    map.insert(
        Field::BizTransactionType,
        words(&["bizTransactionList", "type"]),
    );
    map.insert(Field::SourceDestType, words(&["sourceList", "type"]));
    map.insert(Field::ErrorReason, words(&["errorDeclaration", "reason"]));
    map.insert(
        Field::MeasurementType,
        words(&["sensorElementList", "sensorReport", "type"]),
    );
    map.insert(
        Field::SensorAlert,
        words(&["sensorElementList", "sensorReport", "exception"]),
    );
    map.insert(
        Field::Component,
        words(&["sensorElementList", "sensorReport", "component"]),
    );
    Vocabulary(map)
});

/// The compact IRI of bare word `word` in `field`'s vocabulary (`cbv:BizStep-receiving`).
pub fn compact_iri(field: Field, word: &str) -> Option<&'static str> {
    VOCABULARY
        .0
        .get(&field)
        .and_then(|m| m.get(word))
        .map(String::as_str)
}

/// The bare words of `field`, sorted.
pub fn words(field: Field) -> Vec<&'static str> {
    let mut v: Vec<&str> = VOCABULARY
        .0
        .get(&field)
        .map(|m| m.keys().map(String::as_str).collect())
        .unwrap_or_default();
    v.sort_unstable();
    v
}

/// Checks a configured vocabulary value: a CBV bare word of `field`, or a full URI (user
/// vocabulary). The error says which words exist.
pub fn check(field: Field, value: &str) -> Result<(), String> {
    if compact_iri(field, value).is_some() || is_uri(value) {
        return Ok(());
    }
    let words = words(field);
    let near: Vec<&str> = words
        .iter()
        .copied()
        .filter(|w| strsim_close(w, value))
        .collect();
    let hint = if near.is_empty() {
        format!("CBV 2.0 words: {}", words.join(", "))
    } else {
        format!("did you mean {}?", near.join(" or "))
    };
    Err(format!(
        "{value:?} is not a CBV 2.0 {} word; {hint} (other values must be full URIs, e.g. \
         \"https://example.com/voc/{value}\")",
        field.key()
    ))
}

/// A URI with a scheme (`https:`, `urn:` …), as EPCIS requires for user vocabulary.
pub fn is_uri(value: &str) -> bool {
    match value.split_once(':') {
        Some((scheme, rest)) => {
            !rest.is_empty()
                && scheme.len() > 1
                && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        }
        None => false,
    }
}

/// Close enough to suggest: same word ignoring case and `-`/`_`, or one edit (insertion,
/// deletion, substitution or swap of neighbours) apart.
fn strsim_close(word: &str, typed: &str) -> bool {
    let norm = |s: &str| s.to_ascii_lowercase().replace('-', "_");
    let (a, b): (Vec<char>, Vec<char>) =
        (norm(word).chars().collect(), norm(typed).chars().collect());
    if a == b {
        return true;
    }
    if a.len().abs_diff(b.len()) > 1 {
        return false;
    }
    // Optimal string alignment distance ≤ 1.
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    d[0] = (0..=b.len()).collect();
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()] <= 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_come_from_gs1s_context() {
        assert_eq!(
            compact_iri(Field::BizStep, "receiving"),
            Some("cbv:BizStep-receiving")
        );
        assert_eq!(
            compact_iri(Field::Disposition, "in_transit"),
            Some("cbv:Disp-in_transit")
        );
        assert_eq!(
            compact_iri(Field::BizTransactionType, "desadv"),
            Some("cbv:BTT-desadv")
        );
        assert_eq!(
            compact_iri(Field::SourceDestType, "owning_party"),
            Some("cbv:SDT-owning_party")
        );
        assert_eq!(
            compact_iri(Field::MeasurementType, "Temperature"),
            Some("gs1:Temperature")
        );
        assert_eq!(
            compact_iri(Field::Component, "latitude"),
            Some("cbv:Comp-latitude")
        );
        assert!(words(Field::BizStep).len() >= 40);
        assert!(compact_iri(Field::BizStep, "in_transit").is_none());
    }

    #[test]
    fn config_values_are_words_or_uris() {
        check(Field::BizStep, "shipping").unwrap();
        check(Field::BizStep, "https://example.com/voc/BizStep-weighing").unwrap();
        check(Field::BizStep, "urn:example:bizstep:weighing").unwrap();
        let e = check(Field::BizStep, "recieving").unwrap_err();
        assert!(e.contains("did you mean receiving?"), "{e}");
        let e = check(Field::Disposition, "in-transit").unwrap_err();
        assert!(e.contains("in_transit"), "{e}");
        let e = check(Field::BizStep, "weighing").unwrap_err();
        assert!(e.contains("CBV 2.0 words: accepting"), "{e}");
        assert!(!is_uri("receiving") && !is_uri("x:") && is_uri("geo:1,2"));
    }
}
