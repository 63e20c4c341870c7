//! The business context of a device's events: what kind of event a read makes, and the what /
//! why / where EPCIS records with it (bizStep, disposition, readPoint, bizLocation, business
//! transactions, source and destination).
//!
//! It comes from the device's table in the config and can be changed while running by the
//! `context` command (a dock door switching from receiving to shipping, the current purchase
//! order or despatch advice). The same keys and checks apply in both places: CBV 2.0 bare words
//! are checked against GS1's vocabulary, anything else must be a full URI.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::model::{Action, BizTransaction, Destination, Location, Source, Why};
use super::vocab::{self, Field};

/// What a read becomes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    /// One ObjectEvent per read.
    #[default]
    Object,
    /// Packing: reads of contents are collected until a container is read (an SSCC, or a
    /// GRAI / GIAI returnable asset); then one AggregationEvent with the container as parent.
    Aggregation,
    /// Like aggregation, closed by a read of an asset (GIAI / GRAI): one AssociationEvent.
    Association,
}

/// A business transaction in config and commands: `{ type = "po", id = "urn:…" }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransactionRef {
    /// CBV business transaction type (`po`, `desadv`, `inv`, `bol` …) or a URI; may be left out.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The transaction's identifier, a URI (`urn:epcglobal:cbv:bt:<GLN>:<id>`, a GDTI URI …).
    pub id: String,
}

/// A source or destination in config and commands: `{ type = "owning_party", id = "urn:…" }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartyRef {
    /// `owning_party`, `possessing_party`, `location`, or a URI.
    #[serde(rename = "type")]
    pub kind: String,
    /// The party or location (PGLN / SGLN URI, Digital Link URI …).
    pub id: String,
}

/// A device's business context.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BizContext {
    /// What a read becomes.
    #[serde(default)]
    pub event: EventKind,
    /// ADD, OBSERVE or DELETE (default OBSERVE; ADD for aggregation and association).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
    /// CBV business step (`receiving`, `shipping`, `commissioning` …) or a URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub biz_step: Option<String>,
    /// CBV disposition (`in_progress`, `in_transit`, `active` …) or a URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disposition: Option<String>,
    /// readPoint id (default `[location] read_point`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_point: Option<String>,
    /// bizLocation id (default `[location] biz_location`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub biz_location: Option<String>,
    /// Current business transactions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub biz_transactions: Vec<TransactionRef>,
    /// Sources.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<PartyRef>,
    /// Destinations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub destinations: Vec<PartyRef>,
}

impl Default for BizContext {
    fn default() -> Self {
        BizContext {
            event: EventKind::Object,
            action: None,
            biz_step: None,
            disposition: None,
            read_point: None,
            biz_location: None,
            biz_transactions: Vec::new(),
            sources: Vec::new(),
            destinations: Vec::new(),
        }
    }
}

/// Longest value a context key takes: a URI or a CBV word is far shorter. Checked before
/// anything else, so a 700 KB value is refused by its length, not parsed.
pub const MAX_VALUE_CHARS: usize = 512;

/// Most entries in one of the context's lists (business transactions, sources, destinations).
pub const MAX_LIST_ITEMS: usize = 16;

fn bounded(key: &str, value: &str) -> Result<(), (String, String)> {
    if value.len() > MAX_VALUE_CHARS {
        return Err((
            key.to_string(),
            format!(
                "{key} is {} bytes long; at most {MAX_VALUE_CHARS} are allowed",
                value.len()
            ),
        ));
    }
    Ok(())
}

/// The keys of a context, for splitting a device table.
pub const KEYS: [&str; 9] = [
    "event",
    "action",
    "biz_step",
    "disposition",
    "read_point",
    "biz_location",
    "biz_transactions",
    "sources",
    "destinations",
];

impl BizContext {
    /// The action events get.
    pub fn action(&self) -> Action {
        self.action.unwrap_or(match self.event {
            EventKind::Object => Action::Observe,
            EventKind::Aggregation | EventKind::Association => Action::Add,
        })
    }

    /// Checks every value; the error names the key (`biz_transactions[1].type`) and says what
    /// is allowed. Every value and list is bounded ([`MAX_VALUE_CHARS`], [`MAX_LIST_ITEMS`]):
    /// a context is stamped on every event, and an event must fit the uplink.
    pub fn validate(&self) -> Result<(), (String, String)> {
        for (name, len) in [
            ("biz_transactions", self.biz_transactions.len()),
            ("sources", self.sources.len()),
            ("destinations", self.destinations.len()),
        ] {
            if len > MAX_LIST_ITEMS {
                return Err((
                    name.to_string(),
                    format!("{name} has {len} entries; at most {MAX_LIST_ITEMS} are allowed"),
                ));
            }
        }
        let uri = |key: &str, value: &str| -> Result<(), (String, String)> {
            bounded(key, value)?;
            if vocab::is_uri(value) {
                Ok(())
            } else {
                Err((
                    key.to_string(),
                    format!(
                        "{key} = {value:?} must be a URI (e.g. urn:epc:id:sgln:0614141.00777.0 or https://id.gs1.org/414/0614141007776)"
                    ),
                ))
            }
        };
        let word = |key: &str, field: Field, value: &str| -> Result<(), (String, String)> {
            bounded(key, value)?;
            vocab::check(field, value).map_err(|m| (key.to_string(), format!("{key}: {m}")))
        };
        if let Some(v) = &self.biz_step {
            word("biz_step", Field::BizStep, v)?;
        }
        if let Some(v) = &self.disposition {
            word("disposition", Field::Disposition, v)?;
        }
        if let Some(v) = &self.read_point {
            uri("read_point", v)?;
        }
        if let Some(v) = &self.biz_location {
            uri("biz_location", v)?;
        }
        for (i, t) in self.biz_transactions.iter().enumerate() {
            if let Some(kind) = &t.kind {
                word(
                    &format!("biz_transactions[{i}].type"),
                    Field::BizTransactionType,
                    kind,
                )?;
            }
            uri(&format!("biz_transactions[{i}].id"), &t.id)?;
        }
        for (name, list) in [
            ("sources", &self.sources),
            ("destinations", &self.destinations),
        ] {
            for (i, p) in list.iter().enumerate() {
                word(&format!("{name}[{i}].type"), Field::SourceDestType, &p.kind)?;
                uri(&format!("{name}[{i}].id"), &p.id)?;
            }
        }
        Ok(())
    }

    /// This context with `changes` applied: each key of `changes` replaces the current value,
    /// `null` clears it. Validated as a whole.
    pub fn with_changes(&self, changes: &Map<String, Value>) -> Result<BizContext, String> {
        let mut current = match serde_json::to_value(self).expect("context serialises") {
            Value::Object(m) => m,
            _ => unreachable!("a struct serialises to an object"),
        };
        for (key, value) in changes {
            if !KEYS.contains(&key.as_str()) {
                return Err(format!(
                    "unknown context key {key:?}; keys: {}",
                    KEYS.join(", ")
                ));
            }
            if value.is_null() {
                current.remove(key);
            } else {
                current.insert(key.clone(), value.clone());
            }
        }
        let next: BizContext =
            serde_json::from_value(Value::Object(current)).map_err(|e| e.to_string())?;
        next.validate().map_err(|(_, message)| message)?;
        Ok(next)
    }

    /// The EPCIS why / where of an event in this context.
    pub fn why(&self) -> Why {
        Why {
            biz_step: self.biz_step.clone(),
            disposition: self.disposition.clone(),
            read_point: self.read_point.clone().map(|id| Location { id }),
            biz_location: self.biz_location.clone().map(|id| Location { id }),
            biz_transactions: self
                .biz_transactions
                .iter()
                .map(|t| BizTransaction {
                    kind: t.kind.clone(),
                    id: t.id.clone(),
                })
                .collect(),
            sources: self
                .sources
                .iter()
                .map(|p| Source {
                    kind: p.kind.clone(),
                    id: p.id.clone(),
                })
                .collect(),
            destinations: self
                .destinations
                .iter()
                .map(|p| Destination {
                    kind: p.kind.clone(),
                    id: p.id.clone(),
                })
                .collect(),
            sensor_elements: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn dock() -> BizContext {
        toml::from_str(
            r#"
            biz_step = "receiving"
            disposition = "in_progress"
            read_point = "urn:epc:id:sgln:0614141.00777.0"
            biz_transactions = [{ type = "po", id = "urn:epcglobal:cbv:bt:0614141000005:PO-4711" }]
            sources = [{ type = "owning_party", id = "urn:epc:id:pgln:4012345.00000" }]
            "#,
        )
        .unwrap()
    }

    #[test]
    fn oversized_values_and_lists_are_refused_by_their_size() {
        let huge = "x".repeat(700_000);
        let e = dock()
            .with_changes(json!({ "biz_step": huge }).as_object().unwrap())
            .unwrap_err();
        assert!(
            e.contains("biz_step is 700000 bytes long; at most 512"),
            "{e}"
        );
        let many: Vec<Value> = (0..17)
            .map(|i| json!({"type": "po", "id": format!("urn:epcglobal:cbv:bt:0614141000005:PO-{i}")}))
            .collect();
        let e = dock()
            .with_changes(json!({ "biz_transactions": many }).as_object().unwrap())
            .unwrap_err();
        assert!(
            e.contains("biz_transactions has 17 entries; at most 16"),
            "{e}"
        );
    }

    #[test]
    fn config_form_validates_and_becomes_epcis() {
        let ctx = dock();
        ctx.validate().unwrap();
        assert_eq!(ctx.action(), Action::Observe);
        let why = serde_json::to_value(ctx.why()).unwrap();
        assert_eq!(why["bizStep"], "receiving");
        assert_eq!(why["readPoint"]["id"], "urn:epc:id:sgln:0614141.00777.0");
        assert_eq!(why["bizTransactionList"][0]["type"], "po");
        assert_eq!(
            why["sourceList"][0]["source"],
            "urn:epc:id:pgln:4012345.00000"
        );
        let packing = BizContext {
            event: EventKind::Aggregation,
            ..BizContext::default()
        };
        assert_eq!(packing.action(), Action::Add);
    }

    #[test]
    fn bad_values_name_their_key() {
        let mut ctx = dock();
        ctx.biz_transactions[0].kind = Some("purchase_order".into());
        let (key, message) = ctx.validate().unwrap_err();
        assert_eq!(key, "biz_transactions[0].type");
        assert!(message.contains("CBV 2.0"), "{message}");
        let mut ctx = dock();
        ctx.read_point = Some("dock 7".into());
        assert_eq!(ctx.validate().unwrap_err().0, "read_point");
        let mut ctx = dock();
        ctx.biz_step = Some("https://example.com/voc/weighing".into());
        ctx.validate().unwrap();
        assert!(toml::from_str::<BizContext>("bizStep = \"shipping\"").is_err());
    }

    #[test]
    fn changes_replace_clear_and_are_checked() {
        let ctx = dock();
        let next = ctx
            .with_changes(
                json!({"biz_step": "shipping", "disposition": null,
                       "biz_transactions": [{"type": "desadv", "id": "urn:epcglobal:cbv:bt:0614141000005:DA-1"}]})
                .as_object()
                .unwrap(),
            )
            .unwrap();
        assert_eq!(next.biz_step.as_deref(), Some("shipping"));
        assert_eq!(next.disposition, None);
        assert_eq!(next.biz_transactions[0].kind.as_deref(), Some("desadv"));
        assert_eq!(next.read_point, ctx.read_point);
        let e = ctx
            .with_changes(json!({"biz_step": "shiping"}).as_object().unwrap())
            .unwrap_err();
        assert!(e.contains("did you mean shipping?"), "{e}");
        let e = ctx
            .with_changes(json!({"bizStep": "shipping"}).as_object().unwrap())
            .unwrap_err();
        assert!(e.contains("unknown context key"), "{e}");
        let e = ctx
            .with_changes(json!({"action": "MOVE"}).as_object().unwrap())
            .unwrap_err();
        assert!(e.contains("MOVE"), "{e}");
    }
}
