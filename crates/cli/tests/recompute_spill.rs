//! `recompute` with a memory budget too small for its state spills it to disk and writes
//! the same files and the same summary, byte for byte, as when it keeps it in memory: the
//! golden sets, and a simulator file with duplicates, revisions, same-revision conflicts,
//! malformed and blank lines added.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

fn golden(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/golden").join(name)
}

/// Everything a run writes: settlements, exclusions, findings, stderr.
#[derive(Debug, PartialEq)]
struct Written {
    settlements: String,
    exclusions: String,
    findings: String,
    stderr: String,
}

/// `recompute` with `args` (records, registry, lists, policy) and `extra`, into a fresh folder of `dir`.
fn recompute(dir: &Path, name: &str, args: &[OsString], extra: &[&str]) -> Written {
    let out = dir.join(name);
    std::fs::create_dir_all(&out).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_subsidy-meter"))
        .arg("recompute")
        .args(args)
        .arg("--out")
        .arg(out.join("s.csv"))
        .arg("--exclusions")
        .arg(out.join("x.jsonl"))
        .arg("--findings")
        .arg(out.join("f.jsonl"))
        .args(extra)
        .output()
        .unwrap();
    let stderr = String::from_utf8(o.stderr).unwrap();
    assert!(o.status.success(), "recompute {extra:?} failed: {stderr}");
    let read = |f: &str| std::fs::read_to_string(out.join(f)).unwrap();
    // Nothing is left of the spill.
    let left: Vec<_> = std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).filter(|n| n.starts_with('.')).collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    Written { settlements: read("s.csv"), exclusions: read("x.jsonl"), findings: read("f.jsonl"), stderr }
}

fn os(parts: &[&dyn AsRef<std::ffi::OsStr>]) -> Vec<OsString> {
    parts.iter().map(|p| p.as_ref().to_os_string()).collect()
}

/// In memory (the default budget) and spilled with tiny budgets (a group per bucket, a few
/// groups) give the same bytes; the spilled run really spills (it needs its `--temp-dir`).
fn assert_spilling_changes_nothing(args: &[OsString]) -> Written {
    let dir = tempfile::tempdir().unwrap();
    let want = recompute(dir.path(), "memory", args, &[]);
    for (i, budget) in ["1K", "16K", "1M"].iter().enumerate() {
        let got = recompute(dir.path(), &format!("spilled-{i}"), args, &["--memory-budget", budget]);
        assert_eq!(got, want, "spilled with --memory-budget {budget}");
    }
    let missing = dir.path().join("missing");
    let o = Command::new(env!("CARGO_BIN_EXE_subsidy-meter"))
        .arg("recompute")
        .args(args)
        .arg("--out")
        .arg(dir.path().join("s.csv"))
        .args(["--memory-budget", "1K", "--temp-dir"])
        .arg(&missing)
        .output()
        .unwrap();
    assert!(!o.status.success(), "a tiny budget spills into --temp-dir");
    assert!(String::from_utf8_lossy(&o.stderr).contains(&*missing.to_string_lossy()), "{}", String::from_utf8_lossy(&o.stderr));
    want
}

#[test]
fn the_golden_sets_spilled_are_byte_identical() {
    let g = |n: &str| golden(n);
    let main = os(&[&"--records", &g("records.jsonl"), &"--entities", &g("entities.json"), &"--centers", &g("centers.json")]);
    let w = assert_spilling_changes_nothing(&main);
    assert_eq!(w.settlements, std::fs::read_to_string(g("expected_settlements.csv")).unwrap());
    let mut capped = main.clone();
    capped.extend(os(&[&"--policy", &g("capped.toml")]));
    assert_eq!(assert_spilling_changes_nothing(&capped).settlements, std::fs::read_to_string(g("expected_settlements_capped.csv")).unwrap());
    // Reversed: other line numbers, other first copies.
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(g("records.jsonl")).unwrap();
    let reversed = dir.path().join("reversed.jsonl");
    std::fs::write(&reversed, text.lines().rev().collect::<Vec<_>>().join("\n")).unwrap();
    assert_spilling_changes_nothing(&os(&[&"--records", &reversed, &"--entities", &g("entities.json"), &"--centers", &g("centers.json")]));
    let f = |n: &str| golden(&format!("funding/{n}"));
    let funding = os(&[
        &"--records",
        &f("records.jsonl"),
        &"--entities",
        &f("entities.json"),
        &"--centers",
        &f("centers.json"),
        &"--funded-elsewhere",
        &f("funded_elsewhere.csv"),
        &"--supplier-claims",
        &f("supplier_claims.json"),
    ]);
    let w = assert_spilling_changes_nothing(&funding);
    assert_eq!(w.settlements, std::fs::read_to_string(f("expected_settlements.csv")).unwrap());
    assert!(w.findings.contains("claim_refused") && w.findings.contains("unknown_record"), "{}", w.findings);
}

/// A simulator file with copies appended: exact repeats, higher revisions, same-revision
/// copies with other content (conflicts), malformed and blank lines; with funding lists
/// naming some of its records and contracts.
#[test]
fn a_generated_file_spilled_is_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let o = Command::new(env!("CARGO_BIN_EXE_subsidy-meter"))
        .args(["platform-sim", "--token", "t", "--records", "6000", "--entities", "60", "--seed", "22", "--write-only", "--write-files"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(data.join("records.jsonl")).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let records: Vec<serde_json::Value> = text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let mut funded = String::from("scheme,record_id,contract_id\n");
    let mut claims = Vec::new();
    for (i, r) in records.iter().enumerate().step_by(7) {
        let mut copy = r.clone();
        match i % 5 {
            0 => lines.push(r.to_string()),
            1 => {
                copy["revision"] = (r["revision"].as_u64().unwrap() + 1).into();
                lines.push(copy.to_string());
            }
            2 => {
                copy["paid_amount"] = "0.01".into();
                lines.push(copy.to_string());
            }
            3 => {
                lines.insert(i % lines.len(), String::new());
                lines.push(format!("{{\"record_id\": {}", r["record_id"]));
            }
            _ => {
                copy["contract_id"] = format!("K-{}", i % 3).into();
                copy["revision"] = (r["revision"].as_u64().unwrap() + 2).into();
                lines.insert(i / 2, copy.to_string());
            }
        }
        if i % 49 == 0 {
            funded.push_str(&format!("s-{},{},\n", i % 2, r["record_id"].as_str().unwrap()));
            claims.push(serde_json::json!({"record_id": r["record_id"], "supplier_credit_code": r["user_credit_code"]}));
        }
    }
    funded.push_str("s-k,,K-1\ns-k,,K-404\ns-x,no-such-record,\n");
    claims.push(serde_json::json!({"record_id": "no-such-record", "supplier_credit_code": "91340100MA0000009C"}));
    let records_path = dir.path().join("records.jsonl");
    std::fs::write(&records_path, lines.join("\n")).unwrap();
    let (funded_path, claims_path) = (dir.path().join("funded.csv"), dir.path().join("claims.json"));
    std::fs::write(&funded_path, funded).unwrap();
    std::fs::write(&claims_path, serde_json::to_string(&claims).unwrap()).unwrap();
    let args = os(&[
        &"--records",
        &records_path,
        &"--entities",
        &data.join("entities.json"),
        &"--centers",
        &data.join("centers.json"),
        &"--funded-elsewhere",
        &funded_path,
        &"--supplier-claims",
        &claims_path,
    ]);
    let w = assert_spilling_changes_nothing(&args);
    for reason in ["duplicate", "superseded", "revision_conflict", "malformed", "subsidized_elsewhere"] {
        assert!(w.exclusions.contains(&format!("\"reason\":\"{reason}\"")), "no {reason} exclusion");
    }
    assert!(w.stderr.contains("blank lines"), "{}", w.stderr);
    assert!(w.findings.contains("unknown_record") && w.findings.contains("unknown_contract"), "{}", w.findings);
}
