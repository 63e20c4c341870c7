//! The event as a tree of named values, and the two passes over it that make the pre-hash
//! string: the canonical property order, then everything left over.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::canon;
use crate::vocab::{self, Field};

/// Prefix → namespace IRI, from a document's `@context`, used to write extension keys as
/// `{namespace}local` (rule 20) and to expand standard CURIEs in values (rule 15).
#[derive(Debug, Clone)]
pub struct Namespaces(HashMap<String, String>);

impl Default for Namespaces {
    fn default() -> Self {
        Namespaces::from_context(&Value::Null)
    }
}

impl Namespaces {
    /// The well-known prefixes, then those of `context` (a string, an object or a list of
    /// both; strings are remote contexts and add nothing), and `gs1` always as GS1's Web
    /// Vocabulary on `ref.gs1.org`, as the reference implementation has it.
    pub fn from_context(context: &Value) -> Self {
        let mut map: HashMap<String, String> = [
            ("gs1", "https://ref.gs1.org/voc/"),
            ("cbv", "https://ref.gs1.org/cbv/"),
            ("epcis", "https://ref.gs1.org/epcis/"),
            ("cbvmda", "urn:epcglobal:cbv:mda"),
        ]
        .into_iter()
        .map(|(p, ns)| (p.to_string(), ns.to_string()))
        .collect();
        let mut add = |obj: &Map<String, Value>| {
            for (prefix, iri) in obj {
                let iri = iri
                    .as_str()
                    .or_else(|| iri.get("@id").and_then(Value::as_str));
                if let Some(iri) = iri {
                    map.insert(prefix.clone(), iri.to_string());
                }
            }
        };
        match context {
            Value::Object(obj) => add(obj),
            Value::Array(items) => items.iter().filter_map(Value::as_object).for_each(&mut add),
            _ => {}
        }
        map.insert("gs1".into(), "https://ref.gs1.org/voc/".into());
        Namespaces(map)
    }

    /// `prefix:local` as `{namespace}local` when the prefix is declared.
    fn key(&self, key: &str) -> String {
        match key.split_once(':') {
            Some((prefix, local)) => match self.0.get(prefix) {
                Some(ns) => format!("{{{ns}}}{local}"),
                None => key.to_string(),
            },
            None => key.to_string(),
        }
    }

    /// A value `prefix:rest` with a GS1 standard prefix, expanded (`gs1:Angle` →
    /// `https://ref.gs1.org/voc/Angle`); user CURIEs stay as written.
    fn value(&self, text: &str) -> String {
        if let Some((prefix, rest)) = text.split_once(':')
            && let Some(ns) = self.0.get(prefix)
            && (ns.starts_with("https://ref.gs1.org") || ns.starts_with("https://gs1.org"))
        {
            return format!("{ns}{rest}");
        }
        text.to_string()
    }
}

/// One named value with children (XML-like, as the standard's property order is written).
#[derive(Debug, Clone)]
pub struct Node {
    name: String,
    value: String,
    children: Vec<Node>,
}

/// Event fields the hash leaves out (§8.9: they do not change which event it is).
const EXCLUDED: [&str; 5] = [
    "type",
    "eventID",
    "recordTime",
    "errorDeclaration",
    "certificationInfo",
];

/// Keys that are never content.
const IGNORED: [&str; 4] = ["@context", "#text", "rdfs:comment", "comment"];

/// The event's nodes.
pub fn event_nodes(event: &Map<String, Value>, ns: &Namespaces) -> Vec<Node> {
    let mut nodes = Vec::new();
    for (key, value) in event {
        if !EXCLUDED.contains(&key.as_str()) {
            push(&mut nodes, key, value, ns);
        }
    }
    nodes
}

/// Appends the node(s) of `key: value` to `out`.
fn push(out: &mut Vec<Node>, key: &str, value: &Value, ns: &Namespaces) {
    if IGNORED.contains(&key) {
        return;
    }
    let name = ns.key(key);
    match value {
        Value::Null => {}
        Value::Array(items) => {
            if key == "sensorElementList" {
                // Sensor elements stand on their own, without a list node, in the reference.
                for item in items {
                    push(out, "sensorElement", item, ns);
                }
            } else if let Some(child) = list_child_name(key, &name) {
                let mut list = Node {
                    name,
                    value: String::new(),
                    children: Vec::new(),
                };
                for item in items {
                    push(&mut list.children, &child, item, ns);
                }
                out.push(list);
            } else {
                // Other arrays are repeated elements of the same name, as in XML.
                for item in items {
                    push(out, key, item, ns);
                }
            }
        }
        Value::Object(obj) => {
            let mut node = Node {
                name,
                value: String::new(),
                children: Vec::new(),
            };
            for (k, v) in obj {
                push(&mut node.children, k, v, ns);
            }
            // bizTransaction, source and destination carry their identifier as a child of the
            // same name in JSON but as the element's own value in the standard's model.
            if matches!(key, "bizTransaction" | "source" | "destination")
                && let Some(i) = node.children.iter().position(|c| c.name == key)
            {
                node.value = node.children.remove(i).value;
            }
            out.push(node);
        }
        scalar => {
            let text = match scalar {
                Value::String(s) => ns.value(s),
                Value::Bool(b) => b.to_string(),
                other => other.to_string(),
            };
            if matches!(key, "readPoint" | "bizLocation") {
                // The EPCIS 1.x JSON form `"readPoint": "urn:…"` is the location's id.
                out.push(Node {
                    name,
                    value: String::new(),
                    children: vec![Node {
                        name: "id".into(),
                        value: text,
                        children: Vec::new(),
                    }],
                });
            } else {
                out.push(Node {
                    name,
                    value: text,
                    children: Vec::new(),
                });
            }
        }
    }
}

/// The element name of a list: `epc` in EPC lists, `quantityElement` in quantity lists, the
/// list name without `List` otherwise; `None` for arrays that are not lists.
fn list_child_name(key: &str, name: &str) -> Option<String> {
    Some(match key {
        "epcList" | "inputEPCList" | "outputEPCList" | "childEPCs" => "epc".into(),
        "quantityList" | "childQuantityList" | "inputQuantityList" | "outputQuantityList" => {
            "quantityElement".into()
        }
        _ => name.strip_suffix("List")?.to_string(),
    })
}

/// How a value in the ordered part is written.
#[derive(Debug, Clone, Copy)]
enum Form {
    /// [`canon::value`], or a timestamp when the name says time.
    Plain,
    /// A bare word of this vocabulary is first expanded to its Web URI.
    Vocab(Field),
    /// `type=…` (a business transaction / source / destination type) before the element's own
    /// value, as the reference writes them.
    Typed(Field),
}

/// One entry of the canonical property order.
#[derive(Debug)]
pub struct Spec {
    name: &'static str,
    form: Form,
    children: &'static [Spec],
}

const fn leaf(name: &'static str) -> Spec {
    Spec {
        name,
        form: Form::Plain,
        children: &[],
    }
}

const fn vocab(name: &'static str, field: Field) -> Spec {
    Spec {
        name,
        form: Form::Vocab(field),
        children: &[],
    }
}

const fn group(name: &'static str, children: &'static [Spec]) -> Spec {
    Spec {
        name,
        form: Form::Plain,
        children,
    }
}

const EPCS: &[Spec] = &[leaf("epc")];
const QUANTITY: &[Spec] = &[group(
    "quantityElement",
    &[leaf("epcClass"), leaf("quantity"), leaf("uom")],
)];

/// The canonical property order (CBV 2.0 §8.9.3), the same for every event type.
pub const EVENT_ORDER: &[Spec] = &[
    leaf("eventTime"),
    leaf("eventTimeZoneOffset"),
    group("epcList", EPCS),
    leaf("parentID"),
    group("inputEPCList", EPCS),
    group("childEPCs", EPCS),
    group("quantityList", QUANTITY),
    group("childQuantityList", QUANTITY),
    group("inputQuantityList", QUANTITY),
    group("outputEPCList", EPCS),
    group("outputQuantityList", QUANTITY),
    leaf("action"),
    leaf("transformationID"),
    vocab("bizStep", Field::BizStep),
    vocab("disposition", Field::Disposition),
    group(
        "persistentDisposition",
        &[
            vocab("set", Field::Disposition),
            vocab("unset", Field::Disposition),
        ],
    ),
    group("readPoint", &[leaf("id")]),
    group("bizLocation", &[leaf("id")]),
    group(
        "bizTransactionList",
        &[Spec {
            name: "bizTransaction",
            form: Form::Typed(Field::BizTransactionType),
            children: &[],
        }],
    ),
    group(
        "sourceList",
        &[Spec {
            name: "source",
            form: Form::Typed(Field::SourceDestType),
            children: &[],
        }],
    ),
    group(
        "destinationList",
        &[Spec {
            name: "destination",
            form: Form::Typed(Field::SourceDestType),
            children: &[],
        }],
    ),
    group(
        "sensorElement",
        &[
            group(
                "sensorMetadata",
                &[
                    leaf("time"),
                    leaf("startTime"),
                    leaf("endTime"),
                    leaf("deviceID"),
                    leaf("deviceMetadata"),
                    leaf("rawData"),
                    leaf("dataProcessingMethod"),
                    leaf("bizRules"),
                ],
            ),
            group(
                "sensorReport",
                &[
                    vocab("type", Field::MeasurementType),
                    vocab("exception", Field::SensorAlert),
                    leaf("deviceID"),
                    leaf("deviceMetadata"),
                    leaf("rawData"),
                    leaf("dataProcessingMethod"),
                    leaf("time"),
                    leaf("microorganism"),
                    leaf("chemicalSubstance"),
                    leaf("value"),
                    vocab("component", Field::Component),
                    leaf("stringValue"),
                    leaf("booleanValue"),
                    leaf("hexBinaryValue"),
                    leaf("uriValue"),
                    leaf("minValue"),
                    leaf("maxValue"),
                    leaf("meanValue"),
                    leaf("sDev"),
                    leaf("percRank"),
                    leaf("percValue"),
                    leaf("uom"),
                    leaf("coordinateReferenceSystem"),
                ],
            ),
        ],
    ),
];

/// The ordered part for `nodes` under `order`. Consumed nodes are removed; a node keeps only
/// its children that the order did not cover, for [`rest`].
pub fn ordered(nodes: &mut Vec<Node>, order: &[Spec]) -> String {
    let mut out = String::new();
    for spec in order {
        let mut parts = Vec::new();
        let mut i = 0;
        while i < nodes.len() {
            if nodes[i].name == spec.name {
                let part = node_string(&mut nodes[i], spec);
                if !part.is_empty() {
                    parts.push(part);
                }
                // Fully covered nodes go; the others stay with their uncovered children (and,
                // as in the reference, their value) for the rest.
                if nodes[i].children.is_empty() {
                    nodes.remove(i);
                    continue;
                }
            }
            i += 1;
        }
        parts.sort_unstable();
        parts.iter().for_each(|p| out.push_str(p));
    }
    out
}

fn node_string(node: &mut Node, spec: &Spec) -> String {
    if let Form::Typed(field) = spec.form {
        let type_part = node
            .children
            .iter()
            .position(|c| c.name == "type")
            .map(|i| node.children.remove(i))
            .map(|t| format!("type={}", vocab_value(&t.value, field)))
            .unwrap_or_default();
        let own = value_part(&node.name, &node.value, Form::Plain);
        return if own.is_empty() && type_part.is_empty() {
            String::new()
        } else {
            format!("{type_part}{}{own}", node.name)
        };
    }
    let grand = if spec.children.is_empty() {
        String::new()
    } else {
        ordered(&mut node.children, spec.children)
    };
    let text = value_part(&node.name, &node.value, spec.form);
    if text.is_empty() && grand.is_empty() {
        String::new()
    } else {
        format!("{}{text}{grand}", node.name)
    }
}

/// `=value` in canonical form, or nothing for an empty value.
fn value_part(name: &str, value: &str, form: Form) -> String {
    let text = value.trim();
    if text.is_empty() {
        return String::new();
    }
    let text = match form {
        Form::Vocab(field) => vocab_value(text, field),
        _ if contains_ignoring_case(name, "time") && !contains_ignoring_case(name, "offset") => {
            canon::time(text).unwrap_or_else(|| text.to_string())
        }
        _ => canon::value(text),
    };
    format!("={text}")
}

/// Whether `name` contains the lower-case ASCII `word` in any case (without allocating a
/// lower-cased copy: this runs for every value of every event).
fn contains_ignoring_case(name: &str, word: &str) -> bool {
    name.as_bytes()
        .windows(word.len())
        .any(|w| w.eq_ignore_ascii_case(word.as_bytes()))
}

/// A bare CBV word as its Web URI (rule 16); anything else as an ordinary value.
fn vocab_value(text: &str, field: Field) -> String {
    let text = text.trim();
    match vocab::compact_iri(field, text) {
        Some(compact) => expand_standard(compact),
        None => canon::value(text),
    }
}

/// `cbv:…` / `gs1:…` of the bundled context, on `ref.gs1.org`.
fn expand_standard(compact: &str) -> String {
    match compact.split_once(':') {
        Some(("cbv", rest)) => format!("https://ref.gs1.org/cbv/{rest}"),
        Some(("gs1", rest)) => format!("https://ref.gs1.org/voc/{rest}"),
        _ => compact.to_string(),
    }
}

/// Everything the ordered part did not cover, each as `name=value` followed by its children,
/// sorted (rules 19–21).
pub fn rest(nodes: &[Node]) -> String {
    let mut parts: Vec<String> = nodes
        .iter()
        .map(|n| {
            let text = n.value.trim();
            let value = if text.is_empty() {
                String::new()
            } else {
                format!("={}", canon::value(text))
            };
            format!("{}{value}{}", n.name, rest(&n.children))
        })
        .collect();
    parts.sort_unstable();
    parts.concat()
}
