//! Building the event for one read.

use jiff::Timestamp;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use tracegate_drivers::RawRead;

use crate::config::LocationConfig;
use crate::pipeline::verdict::Verdict;
use crate::store::NewEvent;

/// An ObjectEvent (action OBSERVE) recording that `read` happened, with the raw payload in the
/// gateway's extension fields, and for a flagged read the reason it was rejected.
pub fn observe(read: &RawRead, location: &LocationConfig, verdict: &Verdict) -> NewEvent {
    let at = Timestamp::try_from(read.at).unwrap_or(Timestamp::UNIX_EPOCH);
    let mut event = Map::new();
    event.insert("type".into(), json!("ObjectEvent"));
    event.insert("eventTime".into(), json!(format!("{at:.3}")));
    event.insert("eventTimeZoneOffset".into(), json!("+00:00"));
    event.insert("epcList".into(), json!([]));
    event.insert("action".into(), json!("OBSERVE"));
    if let Some(rp) = &location.read_point {
        event.insert("readPoint".into(), json!({ "id": rp.as_str() }));
    }
    if let Some(bl) = &location.biz_location {
        event.insert("bizLocation".into(), json!({ "id": bl.as_str() }));
    }
    event.insert("tg:deviceId".into(), json!(&*read.device));
    match std::str::from_utf8(&read.payload) {
        Ok(text) => event.insert("tg:rawData".into(), json!(text)),
        Err(_) => event.insert("tg:rawHex".into(), json!(hex::encode(&read.payload))),
    };
    match verdict {
        Verdict::Accept(id) => {
            event.insert("tg:kind".into(), json!(id.kind));
            if let Some(symbology) = &id.symbology {
                event.insert("tg:symbology".into(), json!(symbology));
            }
        }
        Verdict::Reject { kind, error } => {
            event.insert("tg:kind".into(), json!(kind));
            event.insert("tg:rejected".into(), json!(error));
        }
    }
    let digest = Sha256::digest(Value::Object(event.clone()).to_string().as_bytes());
    let event_id = format!("ni:///sha-256;{}", hex::encode(digest));
    event.insert("eventID".into(), json!(event_id));
    NewEvent {
        event_id,
        captured_at_ms: at.as_millisecond(),
        device: read.device.clone(),
        body: Value::Object(event).to_string(),
    }
}
