//! The CBV 2.0 event hash of every event in an EPCIS 2.0 JSON document.
//!
//!     cargo run -p tracegate-epcis --example hash -- document.json

use tracegate_epcis::hash::{document_events, event_hash};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: hash DOCUMENT.json (an EPCISDocument in JSON/JSON-LD)")?;
    let document: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
    let (events, namespaces) =
        document_events(&document).ok_or("no epcisBody.eventList or epcisBody.event")?;
    for event in events {
        println!("{}", event_hash(event, &namespaces));
    }
    Ok(())
}
