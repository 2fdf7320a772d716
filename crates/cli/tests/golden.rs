//! Golden test: `recompute` over the hand-checked data set in `tests/golden`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Command;

fn golden(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/golden").join(name)
}

/// `recompute` of `records` against `entities` and the golden centers, writing `out`; callers add the rest.
fn recompute_cmd(records: &std::path::Path, entities: &std::path::Path, out: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_subsidy-meter"));
    c.args(["recompute", "--records"]).arg(records).arg("--entities").arg(entities).arg("--centers").arg(golden("centers.json")).arg("--out").arg(out);
    c
}

fn recompute_with(records: &std::path::Path, dir: &std::path::Path, extra: &[&std::ffi::OsStr]) -> (String, String, String) {
    let out = dir.join("s.csv");
    let excl = dir.join("x.jsonl");
    let o = recompute_cmd(records, &golden("entities.json"), &out).arg("--exclusions").arg(&excl).args(extra).output().unwrap();
    assert!(o.status.success(), "recompute failed: {}", String::from_utf8_lossy(&o.stderr));
    (std::fs::read_to_string(out).unwrap(), std::fs::read_to_string(excl).unwrap(), String::from_utf8(o.stderr).unwrap())
}

fn recompute(records: &std::path::Path, dir: &std::path::Path) -> (String, String, String) {
    recompute_with(records, dir, &[])
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
    // Every reason code of the core appears in the golden sets (double funding has its own).
    let funding = std::fs::read_to_string(golden("funding/expected_exclusions.txt")).unwrap();
    for code in subsidy_core::ReasonCode::ALL {
        let in_funding = funding.lines().any(|l| l.split_once(' ').is_some_and(|(_, r)| r == code.as_str()));
        assert!(in_funding || expected.iter().any(|(_, r)| r == code.as_str()), "golden sets lack {code}");
    }
    // The refused entity is reported, and the summary accounts for every line.
    assert!(stderr.contains("item 8: refused: invalid_credit_code"), "{stderr}");
    assert!(stderr.contains("46 lines"), "{stderr}");
    // Every line is accounted for once.
    assert_eq!(excl.lines().count() + csv_records(&csv), 46, "{excl}");
}

/// Eligible standing lines counted in a settlement CSV.
fn csv_records(csv: &str) -> usize {
    csv.lines().skip(1).map(|l| l.split(',').nth(2).unwrap().parse::<usize>().unwrap()).sum()
}

#[test]
fn one_cap_per_entity_and_year_across_policy_versions() {
    let dir = tempfile::tempdir().unwrap();
    let (csv, _, _) = recompute_with(&golden("records.jsonl"), dir.path(), &["--policy".as_ref(), golden("capped.toml").as_os_str()]);
    assert_eq!(csv, std::fs::read_to_string(golden("expected_settlements_capped.csv")).unwrap());
}

#[test]
fn registry_findings_are_reported_not_refused() {
    let dir = tempfile::tempdir().unwrap();
    let findings = dir.path().join("findings.jsonl");
    let (_, _, stderr) = recompute_with(&golden("records.jsonl"), dir.path(), &["--findings".as_ref(), findings.as_os_str()]);
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&findings).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let issues: Vec<(&str, &str)> = lines.iter().map(|f| (f["issue"].as_str().unwrap(), f["key"].as_str().unwrap())).collect();
    assert_eq!(issues, vec![("repeated_entry", "91340100MA0000011L"), ("city_disagrees_with_code", "91340100MA0000011L")]);
    assert!(stderr.contains("city_disagrees_with_code"), "{stderr}");
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
    // Same reasons, line numbers mirrored (46 lines).
    let mut mirrored: Vec<(u64, String)> = line_reasons(&excl).into_iter().map(|(n, r)| (47 - n, r)).collect();
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
    let o = recompute_cmd(std::path::Path::new("/nonexistent/r.jsonl"), &golden("entities.json"), &dir.path().join("s.csv")).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot read records file"));

    let bad_policy = dir.path().join("p.toml");
    std::fs::write(&bad_policy, "[[versions]]\nid = \"v1\"\n").unwrap();
    let o = recompute_cmd(&golden("records.jsonl"), &golden("entities.json"), &dir.path().join("s.csv")).arg("--policy").arg(&bad_policy).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("missing field `effective_from`"), "{err}");
}

/// Every `SUBSIDY_*` variable the README and the operations guide name for the services
/// is one the binary reads.
#[test]
fn every_variable_the_docs_name_is_read_by_the_binary() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let read = |p: &str| std::fs::read_to_string(root.join(p)).unwrap();
    let sources: String = ["crates/cli/src/cli.rs", "crates/cli/src/commands/api.rs"].iter().map(|p| read(p)).collect();
    let operations = read("docs/OPERATIONS.md");
    let services = operations.split("## Scaling").next().unwrap();
    let readme = read("README.md");
    let pipeline = readme.split("## The pipeline, one process per job").nth(1).unwrap().split("## Layout").next().unwrap();
    let mut named: Vec<String> = Vec::new();
    for text in [services, pipeline] {
        for (i, _) in text.match_indices("SUBSIDY_") {
            let name: String = text[i..].chars().take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_').collect();
            if !named.contains(&name) {
                named.push(name);
            }
        }
    }
    assert!(named.len() > 20, "{named:?}");
    let missing: Vec<&String> = named.iter().filter(|n| !sources.contains(&format!("\"{n}\""))).collect();
    assert!(missing.is_empty(), "named in the docs but read nowhere: {missing:?}");
}

/// Registry text with terminal control sequences (an escape that clears the screen, a
/// bidirectional override) reaches stderr escaped, never raw.
#[test]
fn registry_text_is_escaped_on_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let mut entities: Vec<serde_json::Value> = serde_json::from_str(&std::fs::read_to_string(golden("entities.json")).unwrap()).unwrap();
    entities[0]["city"] = serde_json::Value::from("\u{1b}[2J\u{1b}]0;owned\u{7}\u{202e}阜阳");
    let hostile = dir.path().join("entities.json");
    std::fs::write(&hostile, serde_json::to_string(&entities).unwrap()).unwrap();
    let o = recompute_cmd(&golden("records.jsonl"), &hostile, &dir.path().join("s.csv")).output().unwrap();
    assert!(o.status.success(), "recompute failed: {}", String::from_utf8_lossy(&o.stderr));
    let stderr = String::from_utf8(o.stderr).unwrap();
    assert!(stderr.contains("city_disagrees_with_code"), "{stderr}");
    assert!(!stderr.contains('\u{1b}') && !stderr.contains('\u{7}') && !stderr.contains('\u{202e}'), "raw control characters reach the terminal: {stderr:?}");
    assert!(stderr.contains("\\u{1b}[2J\\u{1b}]0;owned\\u{7}\\u{202e}阜阳"), "{stderr}");
}

/// `recompute` judges each record by the registry entries standing on its usage day: an
/// entity that re-registers in 阜阳市 from 2025-10-15 gets 20% before that day and 24% from
/// it; a center sold to that entity from 2025-11-01 makes its usage there self-built from then.
#[test]
fn recompute_judges_each_record_by_the_entries_of_its_day() {
    let dir = tempfile::tempdir().unwrap();
    let user = "91340100MA0000001K";
    let mut entities: Vec<serde_json::Value> = serde_json::from_str(&std::fs::read_to_string(golden("entities.json")).unwrap()).unwrap();
    let mut moved = entities.iter().find(|e| e["credit_code"] == user).unwrap().clone();
    assert_eq!(moved["city"], "合肥市");
    moved["city"] = "阜阳市".into();
    moved["valid_from"] = "2025-10-15".into();
    entities.push(moved);
    let mut centers: Vec<serde_json::Value> = serde_json::from_str(&std::fs::read_to_string(golden("centers.json")).unwrap()).unwrap();
    let mut sold = centers.iter().find(|c| c["center_id"] == "C1").unwrap().clone();
    assert_ne!(sold["owner_credit_code"], user);
    sold["owner_credit_code"] = user.into();
    sold["valid_from"] = "2025-11-01".into();
    centers.push(sold);
    let record = |id: &str, end: &str| {
        serde_json::json!({"record_id": id, "revision": 1, "user_credit_code": user, "center_id": "C1", "accelerator": "Ascend-910B", "cards": 8,
            "card_hours": "10", "usage_start": "2025-09-01T00:00:00+08:00", "usage_end": end, "updated_at": "2025-12-01T00:00:00+08:00",
            "unit_price": "100", "amount": "1000.00", "paid_amount": "1000.00", "payment_status": "paid", "currency": "CNY"})
        .to_string()
    };
    let records = [record("d1", "2025-09-30T12:00:00+08:00"), record("d2", "2025-10-14T23:59:59+08:00"), record("d3", "2025-10-15T00:00:00+08:00"), record("d4", "2025-11-02T12:00:00+08:00")];
    let paths = [("entities.json", serde_json::to_string(&entities).unwrap()), ("centers.json", serde_json::to_string(&centers).unwrap()), ("records.jsonl", records.join("\n"))];
    for (name, text) in &paths {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let (out, excl) = (dir.path().join("s.csv"), dir.path().join("x.jsonl"));
    let o = Command::new(env!("CARGO_BIN_EXE_subsidy-meter"))
        .args(["recompute", "--records"])
        .arg(dir.path().join("records.jsonl"))
        .arg("--entities")
        .arg(dir.path().join("entities.json"))
        .arg("--centers")
        .arg(dir.path().join("centers.json"))
        .arg("--out")
        .arg(&out)
        .arg("--exclusions")
        .arg(&excl)
        .output()
        .unwrap();
    assert!(o.status.success(), "recompute failed: {}", String::from_utf8_lossy(&o.stderr));
    let csv = std::fs::read_to_string(out).unwrap();
    // September at 20%; October: 1000 × 20% before the 15th plus 1000 × 24% from it.
    assert!(csv.contains(&format!("{user},2025-09,1,1000.00,200.00\n")), "{csv}");
    assert!(csv.contains(&format!("{user},2025-10,2,2000.00,440.00\n")), "{csv}");
    assert!(!csv.contains(&format!("{user},2025-11")), "{csv}");
    assert_eq!(line_reasons(&std::fs::read_to_string(excl).unwrap()), vec![(4, "self_built_self_used".to_string())]);
}

/// `recompute` of the double-funding set in `tests/golden/funding` with `extra` arguments:
/// the exit status, the settlement CSV (if written) and stderr.
fn recompute_funding(dir: &std::path::Path, extra: &[&std::ffi::OsStr]) -> (std::process::ExitStatus, Option<String>, String) {
    let out = dir.join("s.csv");
    let g = |n: &str| golden(&format!("funding/{n}"));
    let o = Command::new(env!("CARGO_BIN_EXE_subsidy-meter"))
        .args(["recompute", "--records"])
        .arg(g("records.jsonl"))
        .arg("--entities")
        .arg(g("entities.json"))
        .arg("--centers")
        .arg(g("centers.json"))
        .arg("--out")
        .arg(&out)
        .args(extra)
        .output()
        .unwrap();
    (o.status, std::fs::read_to_string(out).ok(), String::from_utf8(o.stderr).unwrap())
}

/// The hand-worked table of `tests/golden/funding/README.md`: a record funded by a city voucher
/// (by contract), one by another scheme (by record id), one claimed by its center's owner, a
/// claim refused because the claimant does not own the center, entries naming no record.
#[test]
fn double_funding_matches_the_hand_worked_table() {
    let dir = tempfile::tempdir().unwrap();
    let (excl, findings) = (dir.path().join("x.jsonl"), dir.path().join("f.jsonl"));
    let (funded, claims) = (golden("funding/funded_elsewhere.csv"), golden("funding/supplier_claims.json"));
    let args: [&std::ffi::OsStr; 8] = ["--funded-elsewhere".as_ref(), funded.as_os_str(), "--supplier-claims".as_ref(), claims.as_os_str(), "--exclusions".as_ref(), excl.as_os_str(), "--findings".as_ref(), findings.as_os_str()];
    let (status, csv, stderr) = recompute_funding(dir.path(), &args);
    assert!(status.success(), "{stderr}");
    assert_eq!(csv.unwrap(), std::fs::read_to_string(golden("funding/expected_settlements.csv")).unwrap());
    let excl = std::fs::read_to_string(&excl).unwrap();
    let expected: Vec<(u64, String)> = std::fs::read_to_string(golden("funding/expected_exclusions.txt"))
        .unwrap()
        .lines()
        .map(|l| {
            let (n, r) = l.split_once(' ').unwrap();
            (n.parse().unwrap(), r.to_string())
        })
        .collect();
    assert_eq!(line_reasons(&excl), expected);
    // Each exclusion names the scheme or the supplier.
    let details: Vec<(String, String)> = excl
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .map(|v| (v["record_id"].as_str().unwrap().to_string(), v["detail"].as_str().unwrap_or("").to_string()))
        .collect();
    assert_eq!(details, vec![
        ("f1".to_string(), "scheme hefei-voucher-2026 (contract K-100)".to_string()),
        ("f2".to_string(), "supplier 91340100MA0000009C owns center C1 and claims record f2".to_string()),
        ("f5".to_string(), "scheme fuyang-2026 (record f5)".to_string()),
        ("f7".to_string(), String::new()),
    ]);
    // What the lists name that no line bears out is a finding, and nothing is dropped silently.
    let issues: Vec<(String, String)> = std::fs::read_to_string(&findings)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .map(|v| (v["issue"].as_str().unwrap().to_string(), v["key"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(issues, vec![
        ("claim_refused".to_string(), "f4|91340100MA0000009C".to_string()),
        ("unknown_record".to_string(), "f404|91340100MA00000076".to_string()),
        ("unknown_record".to_string(), "hefei-voucher-2026|record:f99".to_string()),
        ("repeated_entry".to_string(), String::new()),
    ]);
    assert!(stderr.contains("center C2 is owned by 91340100MA00000076 on 2026-03-05, not by the claimant"), "{stderr}");
    assert!(stderr.contains("item 2 repeats item 1; it counts once"), "{stderr}");
    let counted = |words: &[&str]| stderr.lines().any(|l| l.split_whitespace().eq(words.iter().copied()));
    assert!(counted(&["funded-elsewhere", "entries", "4"]) && counted(&["supplier", "claims", "3"]), "{stderr}");
    // Without the lists the same records pay 360.00 and 132.12: the lists take 324.00.
    let (status, csv, _) = recompute_funding(dir.path(), &["--force".as_ref()]);
    assert!(status.success());
    assert_eq!(csv.unwrap(), "credit_code,period,eligible_records,eligible_base,subsidy\n12341200000000002A,2026-03,3,550.50,132.12\n91340100MA0000001K,2026-03,3,1800.00,360.00\n");
    // JSON and CSV lists are the same list.
    let json = dir.path().join("funded.json");
    std::fs::write(&json, r#"[{"scheme":"hefei-voucher-2026","contract_id":"K-100"},{"scheme":"fuyang-2026","record_id":"f5"},{"scheme":"hefei-voucher-2026","record_id":"f99"},{"scheme":"hefei-voucher-2026","record_id":"f7"}]"#).unwrap();
    let (status, csv, stderr) = recompute_funding(dir.path(), &["--force".as_ref(), "--funded-elsewhere".as_ref(), json.as_os_str(), "--supplier-claims".as_ref(), claims.as_os_str()]);
    assert!(status.success(), "{stderr}");
    assert_eq!(csv.unwrap(), std::fs::read_to_string(golden("funding/expected_settlements.csv")).unwrap());
}

/// A list file that cannot be read whole is an error naming the item and the reason, and no
/// settlement is written: an entry left out would pay the usage twice.
#[test]
fn bad_funding_lists_fail_with_a_reason_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &str, &str); 7] = [
        ("--funded-elsewhere", "scheme,record_id\n,f1\n", "item 0: missing_field: `scheme` is missing or empty"),
        ("--funded-elsewhere", "scheme,record_id,contract_id\nx,f1,K-1\n", "item 0: invalid_field: an entry names either a `record_id` or a `contract_id`, not both"),
        ("--funded-elsewhere", "scheme,record_id\nx,\"f1\n", "CSV line 2: a quoted cell is not closed"),
        ("--funded-elsewhere", "scheme,record_id\nx,f1,f2\n", "CSV line 2: 3 cells, the header has 2"),
        ("--funded-elsewhere", "[{\"scheme\": \"x\"", "not a JSON array of objects"),
        ("--supplier-claims", "record_id,supplier_credit_code\nf2,91340100MA0000009X\n", "item 0: invalid_credit_code"),
        ("--supplier-claims", "[{\"record_id\": \"f2\"}, 7]", "2 refused item(s)"),
    ];
    for (flag, text, want) in cases {
        let list = dir.path().join("list");
        std::fs::write(&list, text).unwrap();
        let (status, csv, stderr) = recompute_funding(dir.path(), &[flag.as_ref(), list.as_os_str()]);
        assert_eq!(status.code(), Some(2), "{text}: {stderr}");
        assert!(stderr.contains(want), "{text}: {stderr}");
        assert!(csv.is_none(), "{text}: a settlement was written");
    }
}
