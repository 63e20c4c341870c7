//! What a read means, as JSON: the shape `tracegate decode` prints and the commissioning page
//! shows, one object per input.
//!
//! ```text
//! {"input": …, "kind": "gs1", "valid": true,
//!  "ais": [{"ai": "01", "value": "09506000134352", "title": "GTIN"}, …],
//!  "epc": {"scheme": "sgtin-96", "pure_uri": …, "tag_uri": …, "filter": 3, "hex": …},
//!  "national": {"system": "cn_ma", "code": …, "country": "156", "udi": {"di": …, …}},
//!  "error": {"kind": …, "message": …, "position": …}}
//! ```
//! Fields that do not apply are left out; `ais` keeps the order of the input.

use serde::Serialize;
use tracegate_identifiers::{DecodeError, Decoding, National};

#[derive(Serialize)]
struct Output<'a> {
    input: String,
    kind: &'static str,
    valid: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    ais: Vec<Ai<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    epc: Option<EpcOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    national: Option<&'a National>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a DecodeError>,
}

#[derive(Serialize)]
struct Ai<'a> {
    ai: &'a str,
    value: &'a str,
    title: &'a str,
}

#[derive(Serialize)]
struct EpcOut {
    scheme: &'static str,
    pure_uri: String,
    tag_uri: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    filter: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hex: Option<String>,
}

/// The JSON line for one input.
pub fn json_line(input: &[u8], decoding: &Decoding) -> String {
    serde_json::to_string(&output(input, decoding)).expect("serialisable")
}

/// The same as a JSON value (for a document that holds it, such as the page's reads).
pub fn json_value(input: &[u8], decoding: &Decoding) -> serde_json::Value {
    serde_json::to_value(output(input, decoding)).expect("serialisable")
}

fn output<'a>(input: &[u8], decoding: &'a Decoding) -> Output<'a> {
    let (ais, epc, error) = match &decoding.result {
        Ok(id) => (
            id.ais
                .iter()
                .map(|a| Ai {
                    ai: a.ai(),
                    value: &a.value,
                    title: a.title(),
                })
                .collect(),
            id.epc.as_ref().map(|e| EpcOut {
                scheme: e.scheme.name(),
                pure_uri: e.pure_uri(),
                tag_uri: e.tag_uri(),
                filter: e.filter,
                hex: e.to_hex().ok(),
            }),
            None,
        ),
        Err(e) => (Vec::new(), None, Some(e)),
    };
    Output {
        input: String::from_utf8_lossy(input).into_owned(),
        kind: decoding.kind.as_str(),
        valid: decoding.result.is_ok(),
        ais,
        epc,
        national: decoding
            .result
            .as_ref()
            .ok()
            .and_then(|id| id.national.as_ref()),
        error,
    }
}
