//! The EPCIS 2.0 document that carries a batch of events: what each MQTT message on the events
//! topic is, and what `tracegate events export` writes.
//!
//! Events are stored as the exact JSON they are published as, so a document is assembled by
//! concatenation: no event is parsed or re-serialised between capture and the platform, and
//! every event arrives byte-identical to what was committed.

use jiff::Timestamp;

/// The JSON-LD context of every document: GS1's EPCIS 2.0 context, plus the `tg` prefix for the
/// gateway's own extension fields (device, antenna, raw data).
pub const CONTEXT: &str = r#"["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",{"tg":"https://ns.tracegate.dev/epcis/"}]"#;

/// Everything of a document before its first event.
fn header(created: Timestamp) -> String {
    // Millisecond precision, UTC, as EPCIS 2.0 dateTime values are written.
    format!(
        r#"{{"@context":{CONTEXT},"type":"EPCISDocument","schemaVersion":"2.0","creationDate":"{created:.3}","epcisBody":{{"eventList":["#
    )
}

/// Writes one `EPCISDocument` holding `events` (stored bodies, in order) to `out`, streaming:
/// as many events as the outbox holds, in constant memory. Returns how many were written.
pub fn write_document<W: std::io::Write>(
    mut out: W,
    created: Timestamp,
    events: impl IntoIterator<Item = std::io::Result<String>>,
) -> std::io::Result<u64> {
    out.write_all(header(created).as_bytes())?;
    let mut n = 0u64;
    for body in events {
        if n > 0 {
            out.write_all(b",")?;
        }
        out.write_all(body?.as_bytes())?;
        n += 1;
    }
    out.write_all(b"]}}\n")?;
    out.flush()?;
    Ok(n)
}

/// Builds one `EPCISDocument` from stored event bodies.
#[derive(Debug)]
pub struct DocumentWriter {
    buf: Vec<u8>,
    events: usize,
}

impl DocumentWriter {
    /// Starts a document created at `created`, with room for about `capacity` bytes of events.
    pub fn new(created: Timestamp, capacity: usize) -> Self {
        let mut buf = Vec::with_capacity(capacity + 256);
        buf.extend_from_slice(header(created).as_bytes());
        DocumentWriter { buf, events: 0 }
    }

    /// Appends one stored event body (a JSON object).
    pub fn push(&mut self, event_json: &str) {
        if self.events > 0 {
            self.buf.push(b',');
        }
        self.buf.extend_from_slice(event_json.as_bytes());
        self.events += 1;
    }

    /// Events pushed so far.
    pub fn len(&self) -> usize {
        self.events
    }

    /// No events yet.
    pub fn is_empty(&self) -> bool {
        self.events == 0
    }

    /// The finished document.
    pub fn finish(mut self) -> Vec<u8> {
        self.buf.extend_from_slice(b"]}}");
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_is_valid_json_with_events_in_order() {
        let created: Timestamp = "2026-11-26T03:40:00.5Z".parse().unwrap();
        let mut w = DocumentWriter::new(created, 0);
        w.push(r#"{"type":"ObjectEvent","n":1}"#);
        w.push(r#"{"type":"ObjectEvent","n":2}"#);
        assert_eq!(w.len(), 2);
        let doc: serde_json::Value = serde_json::from_slice(&w.finish()).unwrap();
        assert_eq!(doc["type"], "EPCISDocument");
        assert_eq!(doc["schemaVersion"], "2.0");
        assert_eq!(doc["creationDate"], "2026-11-26T03:40:00.500Z");
        assert_eq!(doc["epcisBody"]["eventList"][1]["n"], 2);
        assert_eq!(doc["@context"][1]["tg"], "https://ns.tracegate.dev/epcis/");
    }
}
