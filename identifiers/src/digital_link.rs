//! GS1 Digital Link URIs, uncompressed (GS1 Digital Link URI Syntax 1.x): any domain and path
//! stem, then the primary key and its qualifiers as `/AI/value` path pairs, then data
//! attributes as `AI=value` query parameters. Parsed and generated as the GS1 Barcode Syntax
//! Engine does, against the same AI table.

use super::DecodeError;
use super::gs1::TABLE;
use super::gs1::element::{AiValue, check_value};

/// The canonical stem (Digital Link URI Syntax §6.1).
pub const CANONICAL_STEM: &str = "https://id.gs1.org";

/// Characters allowed anywhere in a URI (RFC 3986), `%` included.
fn is_uri_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~:/?#[]@!$&'()*+,;=%".contains(&b)
}

/// Does `input` start like a Digital Link (an http or https URI)?
pub fn looks_like(input: &[u8]) -> bool {
    [&b"https://"[..], b"HTTPS://", b"http://", b"HTTP://"]
        .iter()
        .any(|s| input.starts_with(s))
}

/// A parsed Digital Link: the AIs, path ones first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigitalLink {
    /// Primary key, qualifiers, then data attributes.
    pub ais: Vec<AiValue>,
    /// How many of `ais` came from the path.
    pub path_len: usize,
}

pub(crate) fn unescape(s: &str, query: bool, at: usize) -> Result<String, DecodeError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && b[i + 1].is_ascii_hexdigit()
            && b[i + 2].is_ascii_hexdigit()
        {
            let v = u8::from_str_radix(&s[i + 1..i + 3], 16).expect("hex");
            if v == 0 {
                return Err(DecodeError::at(
                    "bad_uri",
                    at + i,
                    "percent-encoded NUL in a value",
                ));
            }
            out.push(v);
            i += 3;
        } else if query && b[i] == b'+' {
            out.push(b' ');
            i += 1;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out)
        .map_err(|_| DecodeError::at("bad_uri", at, "percent-decoded value is not UTF-8"))
}

/// Parses `uri`; `base` is its offset in the input, for error positions.
pub fn parse(uri: &str, base: usize) -> Result<DigitalLink, DecodeError> {
    let bytes = uri.as_bytes();
    if let Some(i) = bytes.iter().position(|b| !is_uri_char(*b)) {
        return Err(DecodeError::at(
            "bad_uri",
            base + i,
            "character not allowed in a URI",
        ));
    }
    let scheme_len = if uri.starts_with("https://") || uri.starts_with("HTTPS://") {
        8
    } else if uri.starts_with("http://") || uri.starts_with("HTTP://") {
        7
    } else {
        return Err(DecodeError::at(
            "bad_uri",
            base,
            "a GS1 Digital Link starts with http:// or https://",
        ));
    };
    let after = &uri[scheme_len..];
    let slash = after
        .find('/')
        .filter(|i| *i > 0)
        .ok_or_else(|| DecodeError::at("bad_uri", base + scheme_len, "no domain and path"))?;
    if let Some(i) = after[..slash].find(|c| "_~?#@!$&'()*+,;=%".contains(c)) {
        return Err(DecodeError::at(
            "bad_uri",
            base + scheme_len + i,
            "character not allowed in a domain name",
        ));
    }
    let path_start = scheme_len + slash;
    let rest = &uri[path_start..];
    let rest = rest.split('#').next().unwrap_or("");
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    // Path segments with their offsets; the leading '/' gives an empty first segment.
    let mut segments = Vec::new();
    let mut off = path_start;
    for seg in path.split('/') {
        segments.push((seg, off));
        off += seg.len() + 1;
    }
    // Walk /AI/value pairs back from the end to the primary key (the rightmost key whose
    // following pairs are all AIs); whatever is before it is the stem.
    let mut root = None;
    let mut i = segments.len();
    while i >= 3 {
        let (ai, _) = segments[i - 2];
        let Some(entry) = TABLE.get(ai) else { break };
        if entry.dl_primary_key {
            root = Some(i - 2);
            break;
        }
        i -= 2;
    }
    let Some(root) = root else {
        return Err(DecodeError::at(
            "not_digital_link",
            base + path_start,
            "no GS1 Digital Link primary key (/01/…, /00/…, /414/… …) in the path",
        ));
    };
    let mut ais = Vec::new();
    let mut path_ais = Vec::new();
    for pair in segments[root..].chunks(2) {
        let [(ai, ai_at), (value, value_at)] = pair else {
            return Err(DecodeError::at(
                "bad_uri",
                base + pair[0].1,
                "path ends with an AI and no value",
            ));
        };
        let entry = TABLE.get(ai).expect("walked above");
        if value.is_empty() {
            return Err(DecodeError::at(
                "bad_length",
                base + value_at,
                format!("AI ({ai}): value is empty"),
            ));
        }
        let value = unescape(value, false, base + value_at)?;
        check_value(entry, value.as_bytes(), base + value_at, true)?;
        path_ais.push(ai.to_string());
        ais.push(AiValue {
            entry,
            value,
            position: base + ai_at,
        });
    }
    let path_len = ais.len();
    if let Some(query) = query {
        let mut off = base + uri.len() - query.len() - rest_tail_len(uri, path_start);
        for param in query.split('&') {
            let param_at = off;
            off += param.len() + 1;
            let Some((key, value)) = param.split_once('=') else {
                continue; // singleton parameters carry no AI
            };
            if key.is_empty() || !key.bytes().all(|b| b.is_ascii_digit()) {
                continue; // linkType and other non-AI parameters
            }
            let Some(entry) = TABLE.get(key) else {
                return Err(DecodeError::at(
                    "unknown_ai",
                    param_at,
                    format!("query parameter {key} is not a GS1 Application Identifier"),
                ));
            };
            let value_at = param_at + key.len() + 1;
            if value.is_empty() {
                return Err(DecodeError::at(
                    "bad_length",
                    value_at,
                    format!("AI ({key}): value is empty"),
                ));
            }
            let mut value = unescape(value, true, value_at)?;
            // A GTIN given as GTIN-8/12/13 in a query parameter is padded to 14 digits.
            if key == "01" && matches!(value.len(), 8 | 12 | 13) {
                value = format!("{value:0>14}");
            }
            check_value(entry, value.as_bytes(), value_at, true)?;
            ais.push(AiValue {
                entry,
                value,
                position: param_at,
            });
        }
    }
    if !TABLE.is_dl_path(&path_ais) {
        return Err(DecodeError::at(
            "not_digital_link",
            ais[0].position,
            format!(
                "/{}/ is not a valid key and qualifier sequence",
                path_ais.join("/…/")
            ),
        ));
    }
    for (i, attr) in ais.iter().enumerate().skip(path_len) {
        if ais[..i].iter().any(|a| a.ai() == attr.ai()) {
            return Err(DecodeError::at(
                "repeated_ai",
                attr.position,
                format!("AI ({}) is given twice", attr.ai()),
            ));
        }
        if !attr.entry.dl_attribute {
            return Err(DecodeError::at(
                "not_digital_link",
                attr.position,
                format!(
                    "AI ({}) is not allowed as a Digital Link data attribute",
                    attr.ai()
                ),
            ));
        }
        for at in 1..=path_ais.len() {
            let mut trial = path_ais.clone();
            trial.insert(at, attr.ai().to_string());
            if TABLE.is_dl_path(&trial) {
                return Err(DecodeError::at(
                    "not_digital_link",
                    attr.position,
                    format!(
                        "AI ({}) is a key qualifier: it belongs in the path, not the query",
                        attr.ai()
                    ),
                ));
            }
        }
    }
    Ok(DigitalLink { ais, path_len })
}

/// Length of the part of `uri` after the query (a fragment), for offset arithmetic.
fn rest_tail_len(uri: &str, path_start: usize) -> usize {
    match uri[path_start..].find('#') {
        Some(i) => uri.len() - path_start - i,
        None => 0,
    }
}

fn escape(value: &str, query: bool) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else if query && b == b' ' {
            out.push('+');
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The Digital Link URI of `ais`, under `stem` (default the canonical `https://id.gs1.org`):
/// the first primary key in the data, the qualifiers of its longest-matching sequence in
/// order, then the other AIs as query parameters (predefined-length ones first).
pub fn to_uri(ais: &[AiValue], stem: Option<&str>) -> Result<String, DecodeError> {
    let key = ais.iter().find(|a| a.entry.dl_primary_key).ok_or_else(|| {
        DecodeError::whole(
            "not_digital_link",
            "no GS1 Digital Link primary key among the AIs",
        )
    })?;
    let present = |ai: &str| ais.iter().find(|a| a.ai() == ai);
    let best = key
        .entry
        .dl_qualifiers
        .iter()
        .max_by_key(|seq| {
            (
                seq.iter().filter(|q| present(q).is_some()).count(),
                std::cmp::Reverse(seq.len()),
            )
        })
        .cloned()
        .unwrap_or_default();
    let mut path: Vec<&AiValue> = vec![key];
    path.extend(best.iter().filter_map(|q| present(q)));
    let mut uri = stem
        .unwrap_or(CANONICAL_STEM)
        .trim_end_matches('/')
        .to_string();
    for ai in &path {
        uri.push('/');
        uri.push_str(ai.ai());
        uri.push('/');
        uri.push_str(&escape(&ai.value, false));
    }
    let mut params = Vec::new();
    for fixed_first in [true, false] {
        for (i, ai) in ais.iter().enumerate() {
            if path.iter().any(|p| p.ai() == ai.ai()) || ai.entry.fnc1 == fixed_first {
                continue;
            }
            if ais[..i].iter().any(|a| a.ai() == ai.ai()) {
                continue;
            }
            if !ai.entry.dl_attribute {
                return Err(DecodeError::at(
                    "not_digital_link",
                    ai.position,
                    format!("AI ({}) cannot be a Digital Link data attribute", ai.ai()),
                ));
            }
            params.push(format!("{}={}", ai.ai(), escape(&ai.value, true)));
        }
    }
    if !params.is_empty() {
        uri.push('?');
        uri.push_str(&params.join("&"));
    }
    Ok(uri)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(dl: &DigitalLink) -> Vec<(&str, &str)> {
        dl.ais.iter().map(|a| (a.ai(), a.value.as_str())).collect()
    }

    #[test]
    fn path_and_query_with_any_domain_and_stem() {
        let dl = parse("https://example.com/shop/01/09506000134352/10/ABC%2F1/21/XYZ?17=201231&3103=000500&linkType=gs1:pip", 0).unwrap();
        assert_eq!(
            pairs(&dl),
            vec![
                ("01", "09506000134352"),
                ("10", "ABC/1"),
                ("21", "XYZ"),
                ("17", "201231"),
                ("3103", "000500")
            ]
        );
        assert_eq!(dl.path_len, 3);
        let dl = parse("HTTP://a/00/106141411234567897", 0).unwrap();
        assert_eq!(pairs(&dl), vec![("00", "106141411234567897")]);
        // "https://a" + "/00" + "/faux" + "/": the key's AI starts at byte 18.
        let dl = parse("https://a/00/faux/00/106141411234567897", 0).unwrap();
        assert_eq!(dl.ais[0].position, 18);
    }

    #[test]
    fn rejects_what_the_standard_forbids() {
        let kind = |u: &str| parse(u, 0).unwrap_err().kind;
        assert_eq!(kind("ftp://a/01/09506000134352"), "bad_uri");
        assert_eq!(kind("HtTp://a/01/09506000134352"), "bad_uri");
        assert_eq!(kind("https://a b/01/09506000134352"), "bad_uri");
        assert_eq!(kind("https://a/b/c"), "not_digital_link");
        assert_eq!(
            kind("https://a/01/09506000134352/21/X/10/Y"),
            "not_digital_link"
        ); // order
        assert_eq!(kind("https://a/01/9506000134352"), "bad_length"); // zero-suppressed GTIN in path
        assert_eq!(kind("https://a/01/09506000134352?21=X"), "not_digital_link"); // qualifier in query
        assert_eq!(kind("https://a/01/09506000134352?89=X"), "unknown_ai");
        assert_eq!(
            kind("https://a/01/09506000134352?17=201231&17=201231"),
            "repeated_ai"
        );
        assert_eq!(kind("https://a/01/09506000134353"), "bad_check_digit");
        assert_eq!(
            kind("https://a/01/09506000134352?254=X"),
            "not_digital_link"
        ); // not an attribute
        assert_eq!(kind("https://a/01/09506000134352?17="), "bad_length");
    }

    #[test]
    fn query_gtin_is_padded_and_values_are_unescaped() {
        let dl = parse("https://a/414/9506000134352?01=9506000134352&7002=A%2FB", 0).unwrap();
        assert_eq!(dl.ais[1].value, "09506000134352");
        assert_eq!(dl.ais[2].value, "A/B");
        assert_eq!(unescape("A+B%41", true, 0).unwrap(), "A BA");
        assert_eq!(unescape("A+B", false, 0).unwrap(), "A+B");
        assert_eq!(unescape("%00", false, 0).unwrap_err().kind, "bad_uri");
        assert_eq!(unescape("%4", false, 0).unwrap(), "%4");
    }

    #[test]
    fn canonical_uri_orders_path_and_query() {
        let ais = crate::gs1::parse_bracketed(
            "(10)ABC&1(3103)000500(01)09506000134352(21)S/1(17)201231",
            0,
        )
        .unwrap();
        assert_eq!(
            to_uri(&ais, None).unwrap(),
            "https://id.gs1.org/01/09506000134352/10/ABC%261/21/S%2F1?3103=000500&17=201231"
        );
        assert_eq!(
            to_uri(&ais, Some("https://brand.example/")).unwrap(),
            "https://brand.example/01/09506000134352/10/ABC%261/21/S%2F1?3103=000500&17=201231"
        );
        let no_key = crate::gs1::parse_bracketed("(10)ABC", 0).unwrap();
        assert_eq!(to_uri(&no_key, None).unwrap_err().kind, "not_digital_link");
        let round = parse(&to_uri(&ais, None).unwrap(), 0).unwrap();
        let mut got: Vec<_> = round
            .ais
            .iter()
            .map(|a| (a.ai(), a.value.clone()))
            .collect();
        let mut want: Vec<_> = ais.iter().map(|a| (a.ai(), a.value.clone())).collect();
        got.sort();
        want.sort();
        assert_eq!(got, want);
    }
}
