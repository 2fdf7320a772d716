//! Golden test: `recompute` over the hand-checked data set in `tests/golden`.

use std::path::PathBuf;
use std::process::Command;

fn golden(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/golden").join(name)
}

fn recompute(records: &std::path::Path, dir: &std::path::Path) -> (String, String, String) {
    let out = dir.join("s.csv");
    let excl = dir.join("x.jsonl");
    let o = Command::new(env!("CARGO_BIN_EXE_subsidy-meter"))
        .args(["recompute", "--records"])
        .arg(records)
        .arg("--entities")
        .arg(golden("entities.json"))
        .arg("--centers")
        .arg(golden("centers.json"))
        .arg("--out")
        .arg(&out)
        .arg("--exclusions")
        .arg(&excl)
        .output()
        .unwrap();
    assert!(o.status.success(), "recompute failed: {}", String::from_utf8_lossy(&o.stderr));
    (std::fs::read_to_string(out).unwrap(), std::fs::read_to_string(excl).unwrap(), String::from_utf8(o.stderr).unwrap())
}

fn line_reasons(exclusions: &str) -> Vec<(u64, String)> {
    let mut v: Vec<(u64, String)> = exclusions
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (v["line"].as_u64().unwrap(), v["reason"].as_str().unwrap().to_string())
        })
        .collect();
    v.sort();
    v
}

#[test]
fn recompute_matches_the_hand_checked_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let (csv, excl, stderr) = recompute(&golden("records.jsonl"), dir.path());
    assert_eq!(csv, std::fs::read_to_string(golden("expected_settlements.csv")).unwrap());
    let expected: Vec<(u64, String)> = std::fs::read_to_string(golden("expected_exclusions.txt"))
        .unwrap()
        .lines()
        .map(|l| {
            let (n, r) = l.split_once(' ').unwrap();
            (n.parse().unwrap(), r.to_string())
        })
        .collect();
    assert_eq!(line_reasons(&excl), expected);
    // Every reason code of the core appears in the golden set.
    for code in subsidy_core::ReasonCode::ALL {
        assert!(expected.iter().any(|(_, r)| r == code.as_str()), "golden set lacks {code}");
    }
    // The refused entity is reported, and the summary accounts for every line.
    assert!(stderr.contains("item 8: refused: invalid_credit_code"), "{stderr}");
    assert!(stderr.contains("32 lines"), "{stderr}");
}

#[test]
fn reversed_input_gives_the_same_settlements() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(golden("records.jsonl")).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.reverse();
    let reversed = dir.path().join("reversed.jsonl");
    std::fs::write(&reversed, lines.join("\n")).unwrap();
    let (csv, excl, _) = recompute(&reversed, dir.path());
    assert_eq!(csv, std::fs::read_to_string(golden("expected_settlements.csv")).unwrap());
    // Same reasons, line numbers mirrored (32 lines).
    let mut mirrored: Vec<(u64, String)> = line_reasons(&excl).into_iter().map(|(n, r)| (33 - n, r)).collect();
    mirrored.sort();
    let reasons: Vec<&str> = mirrored.iter().map(|(_, r)| r.as_str()).collect();
    // Out-of-order pairs swap which line is superseded/duplicate, but the multiset of reasons is the same.
    let mut got = reasons.clone();
    got.sort();
    let mut want: Vec<String> = std::fs::read_to_string(golden("expected_exclusions.txt")).unwrap().lines().map(|l| l.split_once(' ').unwrap().1.to_string()).collect();
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn unreadable_inputs_fail_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_subsidy-meter"))
        .args(["recompute", "--records", "/nonexistent/r.jsonl"])
        .arg("--entities")
        .arg(golden("entities.json"))
        .arg("--centers")
        .arg(golden("centers.json"))
        .arg("--out")
        .arg(dir.path().join("s.csv"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot read records file"));

    let bad_policy = dir.path().join("p.toml");
    std::fs::write(&bad_policy, "[[versions]]\nid = \"v1\"\n").unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_subsidy-meter"))
        .args(["recompute", "--records"])
        .arg(golden("records.jsonl"))
        .arg("--entities")
        .arg(golden("entities.json"))
        .arg("--centers")
        .arg(golden("centers.json"))
        .arg("--policy")
        .arg(&bad_policy)
        .arg("--out")
        .arg(dir.path().join("s.csv"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("missing field `effective_from`"), "{err}");
}
