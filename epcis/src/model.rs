//! The EPCIS 2.0 event model (ISO/IEC 19987, JSON binding of EPCIS 2.0 §12), with the fields a
//! capture device fills.
//!
//! Field names and shapes follow GS1's EPCIS 2.0 JSON schema; every event tracegate publishes
//! is validated against it in the tests. Standard vocabulary is written as bare words
//! (`"bizStep": "receiving"`) or full URIs for user vocabulary. The gateway's own fields are
//! extensions under the `tg:` prefix, declared in each document's `@context`.

use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Number, Value};

/// An EPCIS 2.0 event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Event {
    /// Objects observed, commissioned (ADD) or decommissioned (DELETE).
    ObjectEvent(ObjectEvent),
    /// Children packed into (ADD), seen in (OBSERVE) or unpacked from (DELETE) a parent.
    AggregationEvent(AggregationEvent),
    /// Inputs consumed to make outputs (harvest lots into a processed lot).
    TransformationEvent(TransformationEvent),
    /// Children associated with a parent that is not a container (a sensor with an asset).
    AssociationEvent(AssociationEvent),
}

impl Event {
    /// When it happened, and its identity.
    pub fn when(&self) -> &When {
        match self {
            Event::ObjectEvent(e) => &e.when,
            Event::AggregationEvent(e) => &e.when,
            Event::TransformationEvent(e) => &e.when,
            Event::AssociationEvent(e) => &e.when,
        }
    }

    /// Mutable access to [`Event::when`].
    pub fn when_mut(&mut self) -> &mut When {
        match self {
            Event::ObjectEvent(e) => &mut e.when,
            Event::AggregationEvent(e) => &mut e.when,
            Event::TransformationEvent(e) => &mut e.when,
            Event::AssociationEvent(e) => &mut e.when,
        }
    }

    /// The extension fields.
    pub fn extensions_mut(&mut self) -> &mut Map<String, Value> {
        match self {
            Event::ObjectEvent(e) => &mut e.extensions,
            Event::AggregationEvent(e) => &mut e.extensions,
            Event::TransformationEvent(e) => &mut e.extensions,
            Event::AssociationEvent(e) => &mut e.extensions,
        }
    }

    /// The event type name (`ObjectEvent` …).
    pub fn type_name(&self) -> &'static str {
        match self {
            Event::ObjectEvent(_) => "ObjectEvent",
            Event::AggregationEvent(_) => "AggregationEvent",
            Event::TransformationEvent(_) => "TransformationEvent",
            Event::AssociationEvent(_) => "AssociationEvent",
        }
    }
}

/// When an event happened and which event it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct When {
    /// When it happened (written in UTC with milliseconds).
    #[serde(rename = "eventTime", with = "ms_time")]
    pub event_time: Timestamp,
    /// The local time zone offset where it happened, `±hh:mm`.
    #[serde(rename = "eventTimeZoneOffset")]
    pub time_zone_offset: TimeZoneOffset,
    /// Its ID: the CBV 2.0 event hash of its content.
    #[serde(rename = "eventID", default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// Certification information (a URI).
    #[serde(
        rename = "certificationInfo",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub certification_info: Option<String>,
    /// Present when this event declares an earlier one erroneous.
    #[serde(
        rename = "errorDeclaration",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub error_declaration: Option<ErrorDeclaration>,
}

/// What happened, where and why: the business context shared by every event type.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Why {
    /// Business step (CBV bare word or URI).
    #[serde(rename = "bizStep", default, skip_serializing_if = "Option::is_none")]
    pub biz_step: Option<String>,
    /// Disposition (CBV bare word or URI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disposition: Option<String>,
    /// Where the event was observed.
    #[serde(rename = "readPoint", default, skip_serializing_if = "Option::is_none")]
    pub read_point: Option<Location>,
    /// Where the objects are afterwards.
    #[serde(
        rename = "bizLocation",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub biz_location: Option<Location>,
    /// Business transactions (purchase order, despatch advice …).
    #[serde(
        rename = "bizTransactionList",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub biz_transactions: Vec<BizTransaction>,
    /// Sources (shipping party, location).
    #[serde(rename = "sourceList", default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<Source>,
    /// Destinations.
    #[serde(
        rename = "destinationList",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub destinations: Vec<Destination>,
    /// Sensor data captured with the event.
    #[serde(
        rename = "sensorElementList",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub sensor_elements: Vec<SensorElement>,
}

/// `ADD`, `OBSERVE` or `DELETE` (EPCIS 2.0 §7.3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Action {
    /// Created or added.
    Add,
    /// Seen, unchanged.
    Observe,
    /// Ended or removed.
    Delete,
}

impl Action {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Add => "ADD",
            Action::Observe => "OBSERVE",
            Action::Delete => "DELETE",
        }
    }
}

/// An ObjectEvent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectEvent {
    /// When.
    #[serde(flatten)]
    pub when: When,
    /// Instance-level identifiers.
    #[serde(rename = "epcList", default)]
    pub epc_list: Vec<String>,
    /// Class-level identifiers with quantities.
    #[serde(
        rename = "quantityList",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub quantity_list: Vec<QuantityElement>,
    /// What happened to them.
    pub action: Action,
    /// Why and where.
    #[serde(flatten)]
    pub why: Why,
    /// Dispositions that persist until unset.
    #[serde(
        rename = "persistentDisposition",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub persistent_disposition: Option<PersistentDisposition>,
    /// Instance / lot master data, at commissioning (ADD).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ilmd: Option<Map<String, Value>>,
    /// Extension fields (`tg:…` and others), by their prefixed names.
    #[serde(flatten)]
    pub extensions: Map<String, Value>,
}

/// An AggregationEvent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AggregationEvent {
    /// When.
    #[serde(flatten)]
    pub when: When,
    /// The container (SSCC, GRAI …).
    #[serde(rename = "parentID", default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    /// The contents, by instance.
    #[serde(rename = "childEPCs", default, skip_serializing_if = "Vec::is_empty")]
    pub child_epcs: Vec<String>,
    /// The contents, by class and quantity.
    #[serde(
        rename = "childQuantityList",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub child_quantity_list: Vec<QuantityElement>,
    /// Packed, seen or unpacked.
    pub action: Action,
    /// Why and where.
    #[serde(flatten)]
    pub why: Why,
    /// Extension fields.
    #[serde(flatten)]
    pub extensions: Map<String, Value>,
}

/// A TransformationEvent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransformationEvent {
    /// When.
    #[serde(flatten)]
    pub when: When,
    /// Inputs, by instance.
    #[serde(
        rename = "inputEPCList",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub input_epc_list: Vec<String>,
    /// Inputs, by class and quantity.
    #[serde(
        rename = "inputQuantityList",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub input_quantity_list: Vec<QuantityElement>,
    /// Outputs, by instance.
    #[serde(
        rename = "outputEPCList",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub output_epc_list: Vec<String>,
    /// Outputs, by class and quantity.
    #[serde(
        rename = "outputQuantityList",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub output_quantity_list: Vec<QuantityElement>,
    /// Links transformations that happen in several steps.
    #[serde(
        rename = "transformationID",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub transformation_id: Option<String>,
    /// Why and where.
    #[serde(flatten)]
    pub why: Why,
    /// Dispositions that persist until unset.
    #[serde(
        rename = "persistentDisposition",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub persistent_disposition: Option<PersistentDisposition>,
    /// Master data of the outputs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ilmd: Option<Map<String, Value>>,
    /// Extension fields.
    #[serde(flatten)]
    pub extensions: Map<String, Value>,
}

/// An AssociationEvent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssociationEvent {
    /// When.
    #[serde(flatten)]
    pub when: When,
    /// The parent (an asset, a location).
    #[serde(rename = "parentID")]
    pub parent_id: String,
    /// Associated instances.
    #[serde(rename = "childEPCs", default, skip_serializing_if = "Vec::is_empty")]
    pub child_epcs: Vec<String>,
    /// Associated classes with quantities.
    #[serde(
        rename = "childQuantityList",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub child_quantity_list: Vec<QuantityElement>,
    /// Associated, observed or dissociated.
    pub action: Action,
    /// Why and where.
    #[serde(flatten)]
    pub why: Why,
    /// Extension fields.
    #[serde(flatten)]
    pub extensions: Map<String, Value>,
}

/// A class-level identifier with an optional quantity (EPCIS 2.0 §7.3.3.3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuantityElement {
    /// `urn:epc:class:lgtin:…`, an EPC pattern, or a Digital Link URI of the class.
    #[serde(rename = "epcClass")]
    pub epc_class: String,
    /// How many (a count without `uom`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<Number>,
    /// UN/CEFACT Rec. 20 unit code (`KGM`, `LTR` …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uom: Option<String>,
}

/// A read point or business location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    /// SGLN URI, Digital Link URI of a GLN, or another URI (`geo:` …).
    pub id: String,
}

/// A business transaction reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BizTransaction {
    /// Type (CBV bare word `po`, `desadv` …, or URI).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The transaction's identifier (a URI).
    #[serde(rename = "bizTransaction")]
    pub id: String,
}

/// Where objects come from (CBV 2.0 §7.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// Type: `owning_party`, `possessing_party`, `location`, or a URI.
    #[serde(rename = "type")]
    pub kind: String,
    /// The party or location (PGLN / SGLN URI …).
    #[serde(rename = "source")]
    pub id: String,
}

/// Where objects go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Destination {
    /// Type: `owning_party`, `possessing_party`, `location`, or a URI.
    #[serde(rename = "type")]
    pub kind: String,
    /// The party or location.
    #[serde(rename = "destination")]
    pub id: String,
}

/// `persistentDisposition`: dispositions set and unset by this event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersistentDisposition {
    /// Set.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub set: Vec<String>,
    /// Unset.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unset: Vec<String>,
}

/// A declaration that an earlier event was in error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDeclaration {
    /// When the error was declared.
    #[serde(rename = "declarationTime", with = "ms_time")]
    pub declaration_time: Timestamp,
    /// Why (`did_not_occur`, `incorrect_data`, or a URI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Events that correct the erroneous one.
    #[serde(
        rename = "correctiveEventIDs",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub corrective_event_ids: Vec<String>,
}

/// Sensor data that came with a read (EPCIS 2.0 §7.3.7).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SensorElement {
    /// About the sensor and the measurement.
    #[serde(
        rename = "sensorMetadata",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub metadata: Option<SensorMetadata>,
    /// The readings.
    #[serde(rename = "sensorReport")]
    pub reports: Vec<SensorReport>,
}

/// Sensor metadata.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SensorMetadata {
    /// When the readings were taken.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "ms_time::option"
    )]
    pub time: Option<Timestamp>,
    /// The sensor (a URI, e.g. its GIAI).
    #[serde(rename = "deviceID", default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    /// Where the sensor's metadata is.
    #[serde(
        rename = "deviceMetadata",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub device_metadata: Option<String>,
    /// Where the raw data is.
    #[serde(rename = "rawData", default, skip_serializing_if = "Option::is_none")]
    pub raw_data: Option<String>,
    /// Start of the measuring interval.
    #[serde(
        rename = "startTime",
        default,
        skip_serializing_if = "Option::is_none",
        with = "ms_time::option"
    )]
    pub start_time: Option<Timestamp>,
    /// End of the measuring interval.
    #[serde(
        rename = "endTime",
        default,
        skip_serializing_if = "Option::is_none",
        with = "ms_time::option"
    )]
    pub end_time: Option<Timestamp>,
}

/// One sensor reading.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SensorReport {
    /// Measurement type (`Temperature`, `RelativeHumidity` … or a URI).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Alert condition (`ALARM_CONDITION`, `ERROR_CONDITION`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exception: Option<String>,
    /// The sensor that took this reading.
    #[serde(rename = "deviceID", default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    /// When, when it differs from the metadata's time.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "ms_time::option"
    )]
    pub time: Option<Timestamp>,
    /// The value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Number>,
    /// A text value.
    #[serde(
        rename = "stringValue",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub string_value: Option<String>,
    /// A boolean value.
    #[serde(
        rename = "booleanValue",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub boolean_value: Option<bool>,
    /// Minimum over the interval.
    #[serde(rename = "minValue", default, skip_serializing_if = "Option::is_none")]
    pub min_value: Option<Number>,
    /// Maximum over the interval.
    #[serde(rename = "maxValue", default, skip_serializing_if = "Option::is_none")]
    pub max_value: Option<Number>,
    /// Mean over the interval.
    #[serde(rename = "meanValue", default, skip_serializing_if = "Option::is_none")]
    pub mean_value: Option<Number>,
    /// UN/CEFACT Rec. 20 unit (`CEL`, `P1` …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uom: Option<String>,
}

/// `±hh:mm`, as `eventTimeZoneOffset` must be (EPCIS 2.0 §7.3.1: −14:00 … +14:00).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeZoneOffset(String);

impl TimeZoneOffset {
    /// UTC.
    pub fn utc() -> Self {
        TimeZoneOffset("+00:00".into())
    }

    /// Parses `±hh:mm` (`Z` is taken as `+00:00`).
    pub fn parse(s: &str) -> Result<Self, String> {
        if s == "Z" {
            return Ok(Self::utc());
        }
        let b = s.as_bytes();
        let ok = b.len() == 6
            && matches!(b[0], b'+' | b'-')
            && b[3] == b':'
            && [1, 2, 4, 5].iter().all(|&i| b[i].is_ascii_digit());
        if !ok {
            return Err(format!(
                "time zone offset {s:?} is not ±hh:mm (e.g. \"+08:00\")"
            ));
        }
        let hours: u32 = s[1..3].parse().expect("digits");
        let minutes: u32 = s[4..6].parse().expect("digits");
        if minutes > 59 || hours > 14 || (hours == 14 && minutes > 0) {
            return Err(format!("time zone offset {s:?} is outside -14:00 … +14:00"));
        }
        Ok(TimeZoneOffset(s.to_string()))
    }

    /// From a jiff offset.
    pub fn from_offset(offset: jiff::tz::Offset) -> Self {
        let secs = offset.seconds();
        let sign = if secs < 0 { '-' } else { '+' };
        let abs = secs.unsigned_abs();
        TimeZoneOffset(format!("{sign}{:02}:{:02}", abs / 3600, abs % 3600 / 60))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TimeZoneOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for TimeZoneOffset {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for TimeZoneOffset {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        TimeZoneOffset::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Timestamps written in UTC with exactly three fractional digits (`2024-05-01T10:00:00.000Z`),
/// read from any RFC 3339 form.
pub mod ms_time {
    use jiff::Timestamp;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Serialises.
    pub fn serialize<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("{t:.3}"))
    }

    /// Deserialises.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }

    /// The same for optional fields.
    pub mod option {
        use jiff::Timestamp;
        use serde::{Deserialize, Deserializer, Serializer};

        /// Serialises.
        pub fn serialize<S: Serializer>(t: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => super::serialize(t, s),
                None => s.serialize_none(),
            }
        }

        /// Deserialises.
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
            let s: Option<String> = Option::deserialize(d)?;
            s.map(|s| s.parse().map_err(serde::de::Error::custom))
                .transpose()
        }
    }
}

#[cfg(test)]
mod tests;
