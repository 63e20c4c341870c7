//! Conformance with the examples published with the reference implementation of the CBV 2.0
//! event hash (epcis-event-hash-generator): every event of every example document gets the
//! published hash ID, and where the pre-hash string is published, exactly that string.

use std::path::PathBuf;

use serde_json::{Value, json};

use super::*;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/epcis-event-hash")
}

#[test]
fn every_published_example_hashes_as_published() {
    let docs = std::fs::read_dir(fixtures().join("documents")).unwrap();
    let mut checked = 0;
    let mut failures = Vec::new();
    for entry in docs {
        let path = entry.unwrap().path();
        let stem = path.file_stem().unwrap().to_str().unwrap().to_string();
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let (events, ns) = document_events(&doc).unwrap();
        let expected =
            std::fs::read_to_string(fixtures().join(format!("expected/{stem}.hashes"))).unwrap();
        let expected: Vec<&str> = expected.lines().collect();
        assert_eq!(events.len(), expected.len(), "{stem}: event count");
        let prehashes =
            std::fs::read_to_string(fixtures().join(format!("expected/{stem}.prehashes"))).ok();
        for (i, (event, want)) in events.iter().zip(&expected).enumerate() {
            let pre = prehash(event, &ns);
            let got = hash_id(&pre);
            if got != *want {
                let published = prehashes
                    .as_deref()
                    .and_then(|p| p.lines().nth(i))
                    .unwrap_or("(not published)");
                failures.push(format!(
                    "{stem} event {i}:\n  got  {got}\n  want {want}\n  our pre-hash:       {pre}\n  published pre-hash: {published}"
                ));
            }
            checked += 1;
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(checked >= 30, "only {checked} events checked");
}

#[test]
fn content_decides_not_form() {
    let ns = Namespaces::default();
    let a = json!({
        "type": "ObjectEvent", "eventTime": "2024-05-01T12:00:00+02:00",
        "eventTimeZoneOffset": "+02:00", "action": "OBSERVE", "bizStep": "shipping",
        "epcList": ["urn:epc:id:sgtin:9506000.013435.2", "urn:epc:id:sgtin:9506000.013435.1"],
        "eventID": "urn:uuid:1", "recordTime": "2024-05-01T10:00:01Z",
        "readPoint": {"id": "urn:epc:id:sgln:9506000134.00.0"}
    });
    // Same event: other key order, list order, time zone, identifier syntax, vocabulary form,
    // no eventID / recordTime.
    let b = json!({
        "readPoint": {"id": "https://id.gs1.org/414/9506000134000"},
        "epcList": ["https://example.com/01/09506000134352/21/1", "https://id.gs1.org/01/09506000134352/21/2"],
        "bizStep": "urn:epcglobal:cbv:bizstep:shipping", "action": "OBSERVE",
        "eventTimeZoneOffset": "+02:00", "eventTime": "2024-05-01T10:00:00.000Z",
        "type": "ObjectEvent"
    });
    let (a, b) = (a.as_object().unwrap(), b.as_object().unwrap());
    assert_eq!(prehash(a, &ns), prehash(b, &ns));
    // Any change of content changes the hash.
    let mut c = b.clone();
    c.insert("disposition".into(), json!("in_transit"));
    assert_ne!(event_hash(b, &ns), event_hash(&c, &ns));
    let mut d = b.clone();
    d.insert("eventTime".into(), json!("2024-05-01T10:00:00.001Z"));
    assert_ne!(event_hash(b, &ns), event_hash(&d, &ns));
    assert!(event_hash(b, &ns).starts_with("ni:///sha-256;"));
    assert!(event_hash(b, &ns).ends_with("?ver=CBV2.0"));
}
