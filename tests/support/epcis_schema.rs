//! Validation against GS1's EPCIS 2.0 JSON schema (tests/fixtures/epcis), shared by the unit
//! tests of the event model and the end-to-end tests of what is published.

use std::sync::LazyLock;

use serde_json::Value;

static VALIDATOR: LazyLock<jsonschema::Validator> = LazyLock::new(|| {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/epcis/EPCIS-JSON-Schema.json"
    );
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("GS1's schema compiles")
});

/// Every schema violation in `doc`, as readable lines (empty when valid).
pub fn schema_errors(doc: &Value) -> Vec<String> {
    VALIDATOR
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

/// Panics with the violations unless `doc` is a valid EPCIS 2.0 document (or event).
pub fn assert_schema_valid(doc: &Value) {
    let errors = schema_errors(doc);
    assert!(
        errors.is_empty(),
        "not valid EPCIS 2.0:\n{}\n{doc:#}",
        errors.join("\n")
    );
}
