//! Every fuzzing seed (`fuzz/seeds/TARGET/`) through the decoder its target
//! fuzzes, under the ordinary test command: a crash `scripts/fuzz.sh` finds is
//! copied into the seeds, so it stays a test here, on the stable toolchain.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds").join(target);
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no seeds for {target}");
    out
}

#[test]
fn record_decoder_seeds_decode_or_refuse_with_a_reason() {
    let (mut accepted, mut refused) = (0, 0);
    for (name, bytes) in seeds("record_decoder") {
        match subsidy_core::parse_record(&bytes) {
            Ok(record) => {
                let _ = subsidy_core::Fingerprint::of(&record);
                accepted += 1;
            }
            Err(rejection) => {
                assert!(!rejection.detail.is_empty(), "{name}: a refusal without a detail");
                refused += 1;
            }
        }
    }
    assert!(accepted > 0 && refused > 0, "seeds should hold good and bad lines: {accepted} accepted, {refused} refused");
}

#[test]
fn policy_file_seeds_parse_or_fail_with_a_message() {
    for (name, bytes) in seeds("policy_file") {
        if let Ok(text) = std::str::from_utf8(&bytes) {
            if let Err(e) = subsidy_core::PolicySet::from_toml(text) {
                assert!(!e.to_string().is_empty(), "{name}");
            }
        }
    }
}

#[test]
fn token_file_seeds_parse_or_fail_with_a_message() {
    for (name, bytes) in seeds("token_file") {
        if let Ok(text) = std::str::from_utf8(&bytes) {
            if let Err(e) = subsidy_api::auth::Tokens::parse(text) {
                assert!(!e.to_string().is_empty(), "{name}");
            }
        }
    }
}
