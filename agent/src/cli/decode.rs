//! `tracegate decode`: what a payload means, one JSON object per input.
//!
//! ```text
//! {"input": …, "kind": "gs1", "valid": true,
//!  "ais": [{"ai": "01", "value": "09506000134352", "title": "GTIN"}, …],
//!  "epc": {"scheme": "sgtin-96", "pure_uri": …, "tag_uri": …, "filter": 3, "hex": …},
//!  "national": {"system": "cn_ma", "code": …, "country": "156", "udi": {"di": …, …}},
//!  "error": {"kind": …, "message": …, "position": …}}
//! ```
//! Fields that do not apply are left out; `ais` keeps the order of the input.

use std::io::{BufRead, Write};

use serde::Serialize;

use tracegate_identifiers::{self as identify, DecodeError, Decoding, Mode, National, Rules};

/// Arguments of `decode`.
#[derive(Debug, clap::Args)]
pub struct DecodeArgs {
    /// How to read the inputs.
    #[arg(long = "as", value_enum, default_value_t = Mode::Auto)]
    pub mode: Mode,
    /// Do not check requisite AI associations (for labels that split one message across
    /// several symbols).
    #[arg(long)]
    pub no_requisites: bool,
    /// Inputs. Without any, one input per line is read from stdin, bytes kept as they are
    /// (GS included), only the line end removed.
    pub inputs: Vec<std::ffi::OsString>,
}

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
    let out = Output {
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
    };
    serde_json::to_string(&out).expect("serialisable")
}

/// Runs `decode`, writing to `out`.
pub fn run(args: &DecodeArgs, stdin: impl BufRead, mut out: impl Write) -> std::io::Result<()> {
    let rules = Rules {
        requisites: !args.no_requisites,
        ..Rules::default()
    };
    let one = |input: &[u8], out: &mut dyn Write| -> std::io::Result<()> {
        let decoding = identify::decode(input, args.mode, rules);
        writeln!(out, "{}", json_line(input, &decoding))
    };
    if args.inputs.is_empty() {
        for line in stdin.split(b'\n') {
            let mut line = line?;
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            one(&line, &mut out)?;
        }
    } else {
        use std::os::unix::ffi::OsStrExt;
        for input in &args.inputs {
            one(input.as_bytes(), &mut out)?;
        }
    }
    out.flush()
}
