//! `tracegate epcis hash`: the CBV 2.0 event hash ID of each event on stdin, one per line, in
//! order — so a platform team can check the IDs tracegate sends against their own.
//!
//! Input is an EPCISDocument (or EPCISQueryDocument), or JSON Lines with one event object (or
//! one document) per line. Events on their own lines have no `@context`; their extension
//! prefixes are read with tracegate's document context (`tg:`), or with `--context`.

use std::io::{Read, Write};

use anyhow::{Context, bail};
use serde_json::{Map, Value};

use tracegate_epcis::document::CONTEXT;
use tracegate_epcis::hash::{self, Namespaces};

/// Arguments of `epcis hash`.
#[derive(Debug, clap::Args)]
pub struct HashArgs {
    /// Also print each event's pre-hash string, after its hash ID and a tab.
    #[arg(long)]
    pub prehash: bool,
    /// JSON-LD `@context` (JSON) for events given on their own, declaring their extension
    /// prefixes. Default: tracegate's own document context.
    #[arg(long, value_name = "JSON")]
    pub context: Option<String>,
}

/// Runs `epcis hash` over `input`, writing to `out`.
pub fn hash(args: &HashArgs, mut input: impl Read, mut out: impl Write) -> anyhow::Result<()> {
    let mut text = String::new();
    input
        .read_to_string(&mut text)
        .context("reading stdin (EPCIS 2.0 JSON is UTF-8)")?;
    let line_context: Value = match &args.context {
        Some(c) => serde_json::from_str(c).context("--context is not JSON")?,
        None => serde_json::from_str(CONTEXT).expect("the document context is JSON"),
    };
    let line_ns = Namespaces::from_context(&line_context);
    let mut emit = |event: &Map<String, Value>, ns: &Namespaces| -> std::io::Result<()> {
        let pre = hash::prehash(event, ns);
        if args.prehash {
            writeln!(out, "{}\t{pre}", hash::hash_id(&pre))
        } else {
            writeln!(out, "{}", hash::hash_id(&pre))
        }
    };
    // One JSON value (typically a pretty-printed document), or JSON Lines.
    if let Ok(value) = serde_json::from_str::<Value>(&text) {
        return one_value(&value, &line_ns, &mut emit, "the input");
    }
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let value: Value = serde_json::from_str(line).with_context(|| {
            format!(
                "line {}: not JSON; give one event or document per line",
                i + 1
            )
        })?;
        one_value(&value, &line_ns, &mut emit, &format!("line {}", i + 1))?;
    }
    out.flush()?;
    Ok(())
}

fn one_value(
    value: &Value,
    line_ns: &Namespaces,
    emit: &mut impl FnMut(&Map<String, Value>, &Namespaces) -> std::io::Result<()>,
    place: &str,
) -> anyhow::Result<()> {
    let Some(obj) = value.as_object() else {
        bail!("{place}: expected a JSON object (an EPCIS document or event)");
    };
    if obj.contains_key("epcisBody") {
        let Some((events, ns)) = hash::document_events(value) else {
            bail!("{place}: an EPCIS document without an event list (epcisBody.eventList)");
        };
        for event in events {
            emit(event, &ns)?;
        }
        return Ok(());
    }
    match obj.get("type").and_then(Value::as_str) {
        Some(t) if t.ends_with("Event") => {
            emit(obj, line_ns)?;
            Ok(())
        }
        _ => bail!(
            "{place}: neither an EPCIS document (no epcisBody) nor an event (type ObjectEvent, \
             AggregationEvent, TransformationEvent, AssociationEvent or TransactionEvent)"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(input: &str, args: HashArgs) -> anyhow::Result<String> {
        let mut out = Vec::new();
        hash(&args, input.as_bytes(), &mut out)?;
        Ok(String::from_utf8(out).unwrap())
    }

    fn plain() -> HashArgs {
        HashArgs {
            prehash: false,
            context: None,
        }
    }

    const EVENT: &str = r#"{"type":"ObjectEvent","eventTime":"2020-03-04T11:00:30.000+01:00","eventTimeZoneOffset":"+01:00","epcList":["urn:epc:id:sscc:4012345.0000000333","urn:epc:id:sscc:4012345.0000000111","urn:epc:id:sscc:4012345.0000000222"],"action":"OBSERVE","bizStep":"departing","readPoint":{"id":"urn:epc:id:sgln:4012345.00011.987"},"example:myField1":{"example:mySubField1":"2","example:mySubField2":"5"},"example:myField2":"0","example:myField3":{"example:mySubField3":["3","1"]}}"#;
    /// The reference implementation's first example (ReferenceEventHashAlgorithm).
    const WANT: &str =
        "ni:///sha-256;6ae96341e0acc6d7a261364751f60e68278a81cdf51da0abb6b4e617014e39d7?ver=CBV2.0";

    #[test]
    fn documents_and_event_lines() {
        let doc = format!(
            r#"{{"@context":["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",{{"example":"https://ns.example.com/epcis/"}}],"type":"EPCISDocument","schemaVersion":"2.0","creationDate":"2022-02-17T11:30:47.0Z","epcisBody":{{"eventList":[{EVENT},{EVENT}]}}}}"#
        );
        assert_eq!(run(&doc, plain()).unwrap(), format!("{WANT}\n{WANT}\n"));
        // On their own lines, events need the context that declares `example:`.
        let lines = format!("{EVENT}\n\n{EVENT}\n");
        let args = HashArgs {
            prehash: true,
            context: Some(r#"{"example":"https://ns.example.com/epcis/"}"#.into()),
        };
        let out = run(&lines, args).unwrap();
        assert_eq!(out.lines().count(), 2);
        assert!(out.starts_with(&format!("{WANT}\teventType=ObjectEvent")));
        // Without it the keys are hashed as written: a different ID.
        assert_ne!(run(&lines, plain()).unwrap().lines().next(), Some(WANT));
    }

    #[test]
    fn bad_input_names_the_line() {
        let e = run(&format!("{EVENT}\n{{nope\n"), plain()).unwrap_err();
        assert!(format!("{e:#}").starts_with("line 2: not JSON"), "{e:#}");
        let e = run("[1,2]", plain()).unwrap_err();
        assert!(format!("{e:#}").contains("expected a JSON object"), "{e:#}");
        let e = run(r#"{"type":"EPCISDocument","epcisBody":{}}"#, plain()).unwrap_err();
        assert!(format!("{e:#}").contains("without an event list"), "{e:#}");
    }
}
