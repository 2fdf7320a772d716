//! The JSON Schemas in `schemas/` agree with the parser on the golden examples.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use subsidy_core::{parse_record, ReasonCode};

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").join(path)
}

fn schema(name: &str) -> jsonschema::Validator {
    let text = std::fs::read_to_string(repo(&format!("schemas/{name}"))).unwrap();
    jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).unwrap()
}

#[test]
fn golden_records_follow_the_schema_exactly_when_the_parser_says_so() {
    let v = schema("usage-record.schema.json");
    let text = std::fs::read_to_string(repo("tests/golden/records.jsonl")).unwrap();
    let (mut valid, mut invalid) = (0, 0);
    for line in text.lines() {
        let parsed = parse_record(line.as_bytes());
        let json: Result<serde_json::Value, _> = serde_json::from_str(line);
        match parsed {
            Ok(_) => {
                assert!(v.is_valid(&json.unwrap()), "parser accepts but schema refuses: {line}");
                valid += 1;
            }
            // Reasons a schema can see: shape, types, patterns, enums.
            Err(r) if matches!(r.reason, ReasonCode::MissingField | ReasonCode::InvalidField | ReasonCode::InvalidAmount | ReasonCode::UnsupportedCurrency) => {
                assert!(!v.is_valid(&json.unwrap()), "schema accepts what the parser refuses ({}): {line}", r.reason);
                invalid += 1;
            }
            Err(r) if r.reason == ReasonCode::Malformed => assert!(json.is_err()),
            // Check characters and time order are beyond JSON Schema; the parser alone refuses them.
            Err(_) => {}
        }
    }
    assert!(valid >= 20 && invalid >= 4, "valid {valid}, invalid {invalid}");
}

#[test]
fn golden_registries_follow_their_schemas() {
    let entities: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(repo("tests/golden/entities.json")).unwrap()).unwrap();
    assert!(schema("entities.schema.json").is_valid(&entities));
    let centers: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(repo("tests/golden/centers.json")).unwrap()).unwrap();
    assert!(schema("compute-centers.schema.json").is_valid(&centers));
    let bad: serde_json::Value = serde_json::json!([{"credit_code": "x", "name": "n", "kind": "alien", "province": "p", "city": "c"}]);
    assert!(!schema("entities.schema.json").is_valid(&bad));
}
