//! Building the EPCIS event for a read (or for a closed packing session), and finishing it: the
//! event hash as `eventID`, and the JSON stored and published.
//!
//! Every event carries the gateway's own fields under `tg:` (declared in each document's
//! `@context`): the device, the payload as read (`tg:rawData`, or `tg:rawHex` when it is not
//! UTF-8), what it decoded as (`tg:kind`), the AIM symbology, RFID antenna and RSSI, and for a
//! flagged read why it was rejected.

use std::sync::Arc;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::{Map, Number, Value, json};
use tracegate_drivers::RawRead;

use super::ids::{IdMapper, Mapped, Subject};
use crate::outbox::store::NewEvent;
use tracegate_epcis::context::{BizContext, EventKind};
use tracegate_epcis::hash::{self, Namespaces};
use tracegate_epcis::model::{
    Action, AggregationEvent, AssociationEvent, Event, Location, ObjectEvent, SensorElement,
    SensorMetadata, SensorReport, TimeZoneOffset, When, Why,
};
use tracegate_identifiers::{DecodeError, Identified, Kind};

/// Builds and finishes events.
#[derive(Debug, Clone)]
pub struct EventBuilder {
    mapper: IdMapper,
    time_zone: TimeZone,
    namespaces: Namespaces,
}

/// What the pipeline decided about a read, as the event records it.
#[derive(Debug, Clone, Copy)]
pub enum Outcome<'a> {
    /// Accepted: what it identifies.
    Accepted(&'a Mapped, Kind, Option<&'a str>),
    /// Rejected but kept (`on_reject = "flag"`): why.
    Flagged(Kind, &'a DecodeError),
}

/// A settled input edge to record ([`EventBuilder::input_event`]).
#[derive(Debug, Clone, Copy)]
pub struct InputEdge<'a> {
    /// When the edge happened (its first bounce).
    pub at: Timestamp,
    /// The GPIO device.
    pub device: &'a str,
    /// The line's name.
    pub line: &'a str,
    /// Its new level: true = active.
    pub active: bool,
    /// The level in the role's words (`beam broken`).
    pub words: &'a str,
    /// The line's bizStep.
    pub biz_step: Option<&'a str>,
    /// `[location]`'s read point.
    pub read_point: Option<&'a str>,
    /// `[location]`'s business location.
    pub biz_location: Option<&'a str>,
}

/// A label whose print settled ([`EventBuilder::label_event`]).
#[derive(Debug, Clone, Copy)]
pub struct PrintedLabel<'a> {
    /// When its outcome was known (confirmed by the printer, or voided).
    pub at: Timestamp,
    /// The printer.
    pub device: &'a str,
    /// The job's idempotency key.
    pub key: &'a str,
    /// The GS1 data of the label's symbols, bracketed, as they were encoded.
    pub gs1: &'a [String],
    /// Times the job was reprinted by an operator's decision.
    pub reprints: u32,
    /// True: printed (commissioning); false: voided (decommissioning).
    pub printed: bool,
    /// `[location]`'s read point.
    pub read_point: Option<&'a str>,
    /// `[location]`'s business location.
    pub biz_location: Option<&'a str>,
}

/// Most children in one aggregation or association event; a larger case is recorded in
/// parts. 500 EPC URIs make an event of about 30 KB.
pub const CHILDREN_PER_EVENT: usize = 500;

impl EventBuilder {
    /// A builder mapping identifiers with `mapper`, writing offsets for `time_zone`.
    pub fn new(mapper: IdMapper, time_zone: TimeZone) -> Self {
        let context: Value = serde_json::from_str(tracegate_epcis::document::CONTEXT)
            .expect("document context is JSON");
        EventBuilder {
            mapper,
            time_zone,
            namespaces: Namespaces::from_context(&context),
        }
    }

    /// The identifier mapper.
    pub fn mapper(&self) -> &IdMapper {
        &self.mapper
    }

    fn when(&self, at: Timestamp) -> When {
        When {
            event_time: at,
            time_zone_offset: TimeZoneOffset::from_offset(self.time_zone.to_offset(at)),
            event_id: None,
            certification_info: None,
            error_declaration: None,
        }
    }

    /// The ObjectEvent for one read at `at`.
    pub fn object_event(
        &self,
        at: Timestamp,
        read: &RawRead,
        outcome: Outcome<'_>,
        context: &BizContext,
    ) -> Event {
        let action = context.action();
        let mut event = ObjectEvent {
            when: self.when(at),
            epc_list: Vec::new(),
            quantity_list: Vec::new(),
            action,
            why: context.why(),
            persistent_disposition: None,
            ilmd: None,
            extensions: read_extensions(read),
        };
        match outcome {
            Outcome::Accepted(mapped, kind, symbology) => {
                match &mapped.subject {
                    Subject::Instance(uri) => event.epc_list.push(uri.clone()),
                    Subject::Class(q) => event.quantity_list.push(q.clone()),
                    Subject::Nothing => {}
                }
                if action == Action::Add && !mapped.ilmd.is_empty() {
                    event.ilmd = Some(mapped.ilmd.clone());
                }
                event.extensions.insert("tg:kind".into(), json!(kind));
                if let Some(s) = symbology {
                    event.extensions.insert("tg:symbology".into(), json!(s));
                }
            }
            Outcome::Flagged(kind, error) => {
                event.extensions.insert("tg:kind".into(), json!(kind));
                let mut rejected = Map::new();
                rejected.insert("tg:reason".into(), json!(error.kind));
                rejected.insert("tg:message".into(), json!(error.message));
                if let Some(p) = error.position {
                    rejected.insert("tg:position".into(), json!(p));
                }
                event
                    .extensions
                    .insert("tg:rejected".into(), Value::Object(rejected));
            }
        }
        Event::ObjectEvent(event)
    }

    /// The ObjectEvent of an accepted read: its identifiers mapped (dates by `at`'s year).
    pub fn read_event(
        &self,
        at: Timestamp,
        read: &RawRead,
        id: &Identified,
        context: &BizContext,
    ) -> Event {
        let mapped = self.map(id, at);
        self.object_event(
            at,
            read,
            Outcome::Accepted(&mapped, id.kind, id.symbology.as_deref()),
            context,
        )
    }

    /// `id` as EPCIS identifies it, two-digit years read around `at`.
    pub fn map(&self, id: &Identified, at: Timestamp) -> Mapped {
        self.mapper
            .map(id, at.to_zoned_datetime(TimeZone::UTC).date())
    }

    /// The event that closes a packing session: `parent` with `children`, at `at`.
    /// The events that close a packing session: one, or — for a case of more than
    /// [`CHILDREN_PER_EVENT`] items — several with the same parent, each adding its share of
    /// the children (EPCIS 2.0 §7.4.3: an `ADD` aggregation may be recorded in several events
    /// naming the same parent), numbered `tg:casePart` of `tg:caseParts`. Each part stays far
    /// below what the uplink sends in one message.
    pub fn parent_events(
        &self,
        at: Timestamp,
        device: &str,
        parent: &Mapped,
        children: &[Mapped],
        context: &BizContext,
    ) -> Vec<Event> {
        if children.len() <= CHILDREN_PER_EVENT {
            return vec![self.parent_event(at, device, parent, children, context)];
        }
        let parts = children.len().div_ceil(CHILDREN_PER_EVENT);
        children
            .chunks(CHILDREN_PER_EVENT)
            .enumerate()
            .map(|(index, chunk)| {
                let mut event = self.parent_event(at, device, parent, chunk, context);
                let extensions = event.extensions_mut();
                extensions.insert("tg:casePart".into(), json!(index + 1));
                extensions.insert("tg:caseParts".into(), json!(parts));
                extensions.insert("tg:caseReads".into(), json!(children.len() + 1));
                event
            })
            .collect()
    }

    fn parent_event(
        &self,
        at: Timestamp,
        device: &str,
        parent: &Mapped,
        children: &[Mapped],
        context: &BizContext,
    ) -> Event {
        let parent_id = match &parent.subject {
            Subject::Instance(uri) => uri.clone(),
            _ => String::new(),
        };
        let mut child_epcs = Vec::new();
        let mut child_quantity_list = Vec::new();
        for child in children {
            match &child.subject {
                Subject::Instance(uri) => child_epcs.push(uri.clone()),
                Subject::Class(q) => child_quantity_list.push(q.clone()),
                Subject::Nothing => {}
            }
        }
        let mut extensions = Map::new();
        extensions.insert("tg:deviceId".into(), json!(device));
        extensions.insert("tg:reads".into(), json!(children.len() + 1));
        match context.event {
            EventKind::Association => Event::AssociationEvent(AssociationEvent {
                when: self.when(at),
                parent_id,
                child_epcs,
                child_quantity_list,
                action: context.action(),
                why: context.why(),
                extensions,
            }),
            _ => Event::AggregationEvent(AggregationEvent {
                when: self.when(at),
                parent_id: Some(parent_id),
                child_epcs,
                child_quantity_list,
                action: context.action(),
                why: context.why(),
                extensions,
            }),
        }
    }

    /// The ObjectEvent recording a settled GPIO input edge: no objects, one sensor report
    /// (EPCIS 2.0 §7.3.7 sensor data, here about the read point; GS1's JSON schema lets an
    /// ObjectEvent's epcList be empty, and the tests validate against it) whose `booleanValue` is the line's new level (true = active) and whose `stringValue`
    /// says it in words; its type is `tg:ContactState`, CBV 2.0 having no measurement type for
    /// a two-state contact.
    pub fn input_event(&self, edge: &InputEdge<'_>) -> Event {
        let report = SensorReport {
            kind: Some("tg:ContactState".into()),
            boolean_value: Some(edge.active),
            string_value: Some(edge.words.into()),
            ..SensorReport::default()
        };
        let mut extensions = Map::new();
        extensions.insert("tg:deviceId".into(), json!(edge.device));
        extensions.insert("tg:line".into(), json!(edge.line));
        Event::ObjectEvent(ObjectEvent {
            when: self.when(edge.at),
            epc_list: Vec::new(),
            quantity_list: Vec::new(),
            action: Action::Observe,
            why: Why {
                biz_step: edge.biz_step.map(str::to_string),
                read_point: edge.read_point.map(|id| Location { id: id.into() }),
                biz_location: edge.biz_location.map(|id| Location { id: id.into() }),
                sensor_elements: vec![SensorElement {
                    metadata: Some(SensorMetadata {
                        time: Some(edge.at),
                        ..SensorMetadata::default()
                    }),
                    reports: vec![report],
                }],
                ..Why::default()
            },
            persistent_disposition: None,
            ilmd: None,
            extensions,
        })
    }

    /// The event of a label whose print settled: printed, the CBV 2.0 commissioning
    /// ObjectEvent (ADD, bizStep `commissioning`, disposition `active`, ILMD from the label's
    /// lot and dates); voided, the decommissioning one (DELETE, `decommissioning`,
    /// `inactive`). Its objects are the label's GS1 keys mapped as a scan of the label would
    /// be; `None` when the label carries no GS1 key (nothing to commission).
    pub fn label_event(&self, label: &PrintedLabel<'_>) -> Option<Event> {
        let mut event = ObjectEvent {
            when: self.when(label.at),
            epc_list: Vec::new(),
            quantity_list: Vec::new(),
            action: if label.printed {
                Action::Add
            } else {
                Action::Delete
            },
            why: Why {
                biz_step: Some(
                    if label.printed {
                        "commissioning"
                    } else {
                        "decommissioning"
                    }
                    .into(),
                ),
                disposition: Some(if label.printed { "active" } else { "inactive" }.into()),
                read_point: label.read_point.map(|id| Location { id: id.into() }),
                biz_location: label.biz_location.map(|id| Location { id: id.into() }),
                ..Why::default()
            },
            persistent_disposition: None,
            ilmd: None,
            extensions: Map::new(),
        };
        let mut ilmd = Map::new();
        for data in label.gs1 {
            let Ok(ais) = tracegate_identifiers::gs1::parse_bracketed(data, 0) else {
                continue; // checked when the job was rendered; a changed AI table skips it
            };
            let id = Identified {
                kind: Kind::Gs1,
                symbology: None,
                ais,
                epc: None,
                national: None,
                text: None,
            };
            let mapped = self.map(&id, label.at);
            match mapped.subject {
                Subject::Instance(uri) if !event.epc_list.contains(&uri) => {
                    event.epc_list.push(uri)
                }
                Subject::Class(q) if !event.quantity_list.contains(&q) => {
                    event.quantity_list.push(q)
                }
                _ => {}
            }
            ilmd.extend(mapped.ilmd);
        }
        if event.epc_list.is_empty() && event.quantity_list.is_empty() {
            return None;
        }
        if label.printed && !ilmd.is_empty() {
            event.ilmd = Some(ilmd);
        }
        let ext = &mut event.extensions;
        ext.insert("tg:deviceId".into(), json!(label.device));
        ext.insert("tg:printJob".into(), json!(label.key));
        ext.insert("tg:labelData".into(), json!(label.gs1));
        if label.reprints > 0 {
            ext.insert("tg:reprint".into(), json!(label.reprints));
        }
        Some(Event::ObjectEvent(event))
    }

    /// Dates `event` at `at` (a held read being released).
    pub fn retime(&self, event: &mut Event, at: Timestamp) {
        let when = event.when_mut();
        when.event_time = at;
        when.time_zone_offset = TimeZoneOffset::from_offset(self.time_zone.to_offset(at));
    }

    /// The event's hash ID (CBV 2.0), computed from its content.
    pub fn event_id(&self, event: &Event) -> String {
        let value = serde_json::to_value(event).expect("events serialise");
        let Value::Object(mut map) = value else {
            unreachable!("an event serialises to an object")
        };
        map.remove("eventID");
        hash::event_hash(&map, &self.namespaces)
    }

    /// The event with its `eventID` set, as stored and published.
    pub fn finish(&self, mut event: Event, device: &Arc<str>) -> NewEvent {
        let event_id = self.event_id(&event);
        event.when_mut().event_id = Some(event_id.clone());
        let captured_at_ms = event.when().event_time.as_millisecond();
        NewEvent {
            event_id,
            captured_at_ms,
            device: device.clone(),
            body: serde_json::to_string(&event).expect("events serialise"),
        }
    }
}

/// `tg:` fields every read's event has.
fn read_extensions(read: &RawRead) -> Map<String, Value> {
    let mut ext = Map::new();
    ext.insert("tg:deviceId".into(), json!(&*read.device));
    match std::str::from_utf8(&read.payload) {
        Ok(text) => ext.insert("tg:rawData".into(), json!(text)),
        Err(_) => ext.insert("tg:rawHex".into(), json!(hex::encode(&read.payload))),
    };
    if let Some(antenna) = read.meta.antenna {
        ext.insert("tg:antenna".into(), json!(antenna));
    }
    if let Some(rssi) = read
        .meta
        .rssi_dbm
        .and_then(|r| Number::from_f64(f64::from(r)))
    {
        ext.insert("tg:rssi".into(), Value::Number(rssi));
    }
    ext
}

#[cfg(test)]
mod tests;
