//! `tracegate epcis hash` reproduces the expected hash files published with the reference
//! implementation of the CBV 2.0 event hash, byte for byte, for every example document.

use std::io::Write;
use std::path::PathBuf;
use std::process::Stdio;

fn hash(input: &[u8], args: &[&str]) -> (i32, String, String) {
    let mut child = crate::support::tracegate_command()
        .args(["epcis", "hash"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/epcis-event-hash")
}

#[test]
fn every_example_document_gives_the_published_hash_file() {
    let mut documents = 0;
    for entry in std::fs::read_dir(fixtures().join("documents")).unwrap() {
        let path = entry.unwrap().path();
        let stem = path.file_stem().unwrap().to_str().unwrap().to_string();
        let (code, out, err) = hash(&std::fs::read(&path).unwrap(), &[]);
        assert_eq!(code, 0, "{stem}: {err}");
        let want =
            std::fs::read_to_string(fixtures().join(format!("expected/{stem}.hashes"))).unwrap();
        assert_eq!(out, want, "{stem}");
        documents += 1;
    }
    assert!(documents >= 16);
}

#[test]
fn event_lines_in_and_a_clear_error_for_bad_input() {
    // The events of one example document, one per line, with that document's context.
    let doc: serde_json::Value = serde_json::from_slice(
        &std::fs::read(fixtures().join("documents/ReferenceEventHashAlgorithm3.jsonld")).unwrap(),
    )
    .unwrap();
    let lines: String = doc["epcisBody"]["eventList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| format!("{e}\n"))
        .collect();
    let context = doc["@context"].to_string();
    let (code, out, _) = hash(lines.as_bytes(), &["--context", &context]);
    assert_eq!(code, 0);
    let want =
        std::fs::read_to_string(fixtures().join("expected/ReferenceEventHashAlgorithm3.hashes"))
            .unwrap();
    assert_eq!(out, want);

    let (code, out, err) = hash(b"{\"type\":\"ObjectEvent\"}\nnot json\n", &[]);
    assert_eq!(code, 1);
    assert_eq!(
        out.lines().count(),
        1,
        "the good line before the bad one: {out}"
    );
    assert!(err.contains("line 2: not JSON"), "{err}");
}
