//! The transparency log of what is payable, end to end on a SQLite ledger: 24
//! months closed one by one, each close signing a checkpoint and a city's witness
//! cosigning it; every entity's proof of every month verifies offline with the
//! bureau's and the witness's keys. Then, each on its own copy of the ledger:
//! one byte of a stored statement line changed, the newest month dropped, the
//! log rewritten and re-signed with the bureau's key, a checkpoint that is not
//! an extension offered to the witness: `audit`, `witness` or `verify` fails
//! and says what is wrong.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;
use subsidy_core::{parse_record, Fingerprint, Ledger, PolicyDocument, Registry};
use subsidy_store::{BusPosition, LedgerStore, LineRow, RegistryRows, SqliteStore, WriteBatch};
use support::*;

const ORIGIN: &str = "anhui.gov.cn/compute-subsidy/test";
const WITNESS: &str = "hefei.gov.cn/witness";

fn golden(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/golden").join(name)
}

fn run(args: &[&str]) -> Output {
    meter().args(args).env_remove("SUBSIDY_POLICY").env_remove("SUBSIDY_SIGNING_KEY").env_remove("SUBSIDY_SIGNING_KEY_FILE").env_remove("SUBSIDY_BUREAU_KEY").env("RUST_LOG", "warn").output().unwrap()
}

fn ok(args: &[&str]) -> String {
    let o = run(args);
    assert!(o.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Runs a command that must fail, and returns what it said.
fn fails(args: &[&str]) -> String {
    let o = run(args);
    assert!(!o.status.success(), "{args:?} succeeded: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The 24 months, 2024-01 to 2025-12.
fn months() -> Vec<String> {
    (0..24).map(|i| format!("{}-{:02}", 2024 + i / 12, i % 12 + 1)).collect()
}

/// The golden records moved into `month` (ids suffixed), as JSON lines.
fn records_in(month: &str, suffix: &str) -> Vec<String> {
    std::fs::read_to_string(golden("records.jsonl"))
        .unwrap()
        .lines()
        .filter_map(|l| {
            // The golden set holds malformed records too: they are left out here.
            let mut v: serde_json::Value = serde_json::from_str(l).ok().filter(serde_json::Value::is_object)?;
            let id = v["record_id"].as_str()?.to_string();
            v["record_id"] = format!("{id}-{suffix}").into();
            v["usage_start"] = format!("{month}-01T00:00:00+08:00").into();
            v["usage_end"] = format!("{month}-15T12:00:00+08:00").into();
            Some(v.to_string())
        })
        .collect()
}

struct Book {
    dir: tempfile::TempDir,
    path: PathBuf,
    offset: i64,
    document: PolicyDocument,
    registry: Registry,
}

impl Book {
    fn sqlite(&self) -> String {
        self.path.display().to_string()
    }

    fn file(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    /// Writes the lines the core settles for these records, after those written before.
    async fn write(&mut self, records: &[String]) {
        let mut ledger = Ledger::new(&self.document.set);
        for (i, line) in records.iter().enumerate() {
            if let Ok(record) = parse_record(line.as_bytes()) {
                ledger.ingest(&record, Fingerprint::of(&record), i as u64, &self.registry);
            }
        }
        let mut lines = Vec::new();
        for (id, line) in ledger.lines() {
            lines.push(LineRow::new(id, line, &self.document, BusPosition { partition: 0, offset: self.offset }, line.standing.version(1)));
            self.offset += 1;
        }
        let store = SqliteStore::open(&self.path).unwrap();
        store.write_batch(&WriteBatch { lines, registry: Some(RegistryRows::of(&self.registry, 1)), ..WriteBatch::default() }).await.unwrap();
    }
}

/// A ledger of 24 months, closed one by one with the bureau's key, each checkpoint cosigned
/// by the witness; a record of 2024-03 arrives late, so a later close books an adjustment.
async fn history() -> (Book, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.sqlite");
    let policy = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/policy/default.toml");
    let document = PolicyDocument::from_toml(&std::fs::read_to_string(&policy).unwrap()).unwrap();
    let mut registry = Registry::new();
    registry.load_entities(&std::fs::read_to_string(golden("entities.json")).unwrap()).unwrap();
    registry.load_centers(&std::fs::read_to_string(golden("centers.json")).unwrap()).unwrap();
    let mut book = Book { dir, path, offset: 0, document, registry };
    ok(&["policy", "apply", &policy.display().to_string(), "--sqlite", &book.sqlite()]);
    let bureau = ok(&["key", "new", "--name", ORIGIN, "--out", &book.file("bureau.key")]).trim().to_string();
    let witness = ok(&["key", "new", "--name", WITNESS, "--witness", "--out", &book.file("witness.key")]).trim().to_string();
    let records: Vec<String> = months().iter().flat_map(|m| records_in(m, m)).collect();
    book.write(&records).await;
    for (i, month) in months().iter().enumerate() {
        if i == 12 {
            let late: Vec<String> = records_in("2024-03", "late").into_iter().take(3).collect();
            book.write(&late).await;
        }
        ok(&["close", "--period", month, "--sqlite", &book.sqlite(), "--signing-key", &book.file("bureau.key")]);
        book.witness(&bureau).unwrap();
    }
    (book, bureau, witness)
}

impl Book {
    fn witness(&self, bureau: &str) -> Result<String, String> {
        let o = run(&["witness", "--sqlite", &self.sqlite(), "--key", &self.file("witness.key"), "--bureau-key", bureau, "--state", &self.file("witness.state")]);
        let said = String::from_utf8_lossy(&o.stderr).into_owned();
        if o.status.success() { Ok(said) } else { Err(said) }
    }

    fn audit(&self, bureau: &str, witness: &str) -> Output {
        run(&["audit", "--sqlite", &self.sqlite(), "--bureau-key", bureau, "--witness-key", witness])
    }

    /// A copy of this ledger and witness state, to tamper with.
    fn copy(&self) -> Book {
        let dir = tempfile::tempdir().unwrap();
        for name in ["ledger.sqlite", "bureau.key", "witness.key", "witness.state"] {
            std::fs::copy(self.dir.path().join(name), dir.path().join(name)).unwrap();
        }
        let path = dir.path().join("ledger.sqlite");
        Book { dir, path, offset: self.offset, document: self.document.clone(), registry: self.registry.clone() }
    }

    fn sql(&self, sql: &str) -> usize {
        let conn = rusqlite::Connection::open(&self.path).unwrap();
        conn.execute_batch("PRAGMA journal_mode = DELETE").ok();
        conn.execute(sql, []).unwrap()
    }

    fn proof(&self, entity: &str, month: &str) -> String {
        let out = self.file(&format!("{entity}-{month}.tlog-proof"));
        ok(&["log", "proof", "--sqlite", &self.sqlite(), "--entity", entity, "--period", month, "--out", &out]);
        out
    }
}

fn said(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[tokio::test]
async fn a_closed_history_proves_every_line_and_every_tampering_is_named() {
    let (book, bureau, witness) = history().await;
    let store = SqliteStore::open(&book.path).unwrap();
    let statements = store.statements().await.unwrap();
    let checkpoints = store.tlog_checkpoints().await.unwrap();
    assert_eq!(checkpoints.len(), 24, "one checkpoint per close that added lines");
    assert_eq!(checkpoints.last().unwrap().size as usize, statements.len(), "every statement line is in the log");
    assert!(statements.iter().any(|s| s.kind == subsidy_core::StatementKind::Adjustment), "the late record is booked as an adjustment");
    assert_eq!(store.tlog_cosignatures().await.unwrap().len(), 24, "the witness cosigned every checkpoint");

    // The whole log holds; the checkpoint printed is the newest, cosigned.
    let o = book.audit(&bureau, &witness);
    assert!(o.status.success(), "{}", said(&o));
    let cp = ok(&["log", "checkpoint", "--sqlite", &book.sqlite()]);
    assert!(cp.starts_with(&format!("{ORIGIN}\n{}\n", statements.len())), "{cp}");
    assert!(cp.contains(&format!("— {WITNESS} ")), "{cp}");
    // Signing again changes nothing.
    ok(&["log", "sign", "--sqlite", &book.sqlite(), "--signing-key", &book.file("bureau.key")]);
    assert_eq!(store.tlog_checkpoints().await.unwrap(), checkpoints);

    // Every entity's proof of every month it has lines in verifies, and shows its lines only.
    let mut pairs: Vec<(String, String)> = statements.iter().map(|s| (s.credit_code.to_string(), s.payout_period.to_string())).collect();
    pairs.dedup();
    pairs.sort();
    pairs.dedup();
    assert!(pairs.len() >= 24);
    for (entity, month) in &pairs {
        let proof = book.proof(entity, month);
        let shown = ok(&["verify", "--proof", &proof, "--bureau-key", &bureau, "--witness-key", &witness]);
        let want = statements.iter().filter(|s| s.credit_code.as_str() == entity && s.payout_period.to_string() == *month).count();
        assert_eq!(shown.lines().count(), want, "{entity} {month}: {shown}");
        assert!(shown.lines().all(|l| l.contains(&format!("period={month} entity={entity} "))), "{shown}");
        let text = std::fs::read_to_string(&proof).unwrap();
        for other in pairs.iter().map(|(e, _)| e).filter(|e| *e != entity) {
            assert!(!text.contains(other.as_str()), "{entity}'s proof names {other}");
        }
    }
    let (entity, month) = pairs.iter().find(|(_, m)| m == "2024-05").unwrap().clone();
    let good_proof = book.proof(&entity, &month);

    // One byte of a stored statement line changed: audit names the month; the entity's proof
    // from the changed store does not verify.
    let t = book.copy();
    let changed = t.sql(&format!("UPDATE statements SET subsidy = CASE WHEN substr(subsidy, 1, 1) = '9' THEN '8' ELSE '9' END || substr(subsidy, 2) WHERE credit_code = '{entity}' AND payout_period = 202405 AND kind = 'settled'"));
    assert_eq!(changed, 1);
    let o = t.audit(&bureau, &witness);
    assert!(!o.status.success());
    assert!(said(&o).contains("the statements of 2024-05") && said(&o).contains("changed"), "{}", said(&o));
    let proof = t.proof(&entity, "2024-05");
    let e = fails(&["verify", "--proof", &proof, "--bureau-key", &bureau]);
    assert!(e.contains("is not in the checkpoint"), "{e}");
    // The bureau's next signing refuses to sign over it.
    let e = fails(&["log", "sign", "--sqlite", &t.sqlite(), "--signing-key", &t.file("bureau.key")]);
    assert!(e.contains("no longer match the signed checkpoint"), "{e}");
    // The proof the entity kept from before still verifies: it is the bureau's signed word.
    ok(&["verify", "--proof", &good_proof, "--bureau-key", &bureau, "--witness-key", &witness]);

    // The newest month dropped: audit says so while its checkpoint is there; with the
    // checkpoint dropped too, the witness (which keeps its own state) refuses a log that shrank.
    let t = book.copy();
    t.sql("DELETE FROM statements WHERE payout_period = 202512");
    t.sql("DELETE FROM period_closures WHERE period = 202512");
    let o = t.audit(&bureau, &witness);
    assert!(!o.status.success());
    assert!(said(&o).contains("the newest closed months were dropped"), "{}", said(&o));
    t.sql(&format!("DELETE FROM tlog_checkpoints WHERE size > {}", checkpoints[22].size));
    let e = t.witness(&bureau).unwrap_err();
    assert!(e.contains("not an extension") && e.contains("shrank"), "{e}");

    // The log rewritten (a line changed) and every checkpoint re-signed with the bureau's own key:
    // the store is consistent with itself, but the witness refuses it, the audit finds no
    // cosignature of the witness, and a new proof lacks the witness's cosignature.
    let t = book.copy();
    t.sql(&format!("UPDATE statements SET subsidy = '1' || subsidy WHERE credit_code = '{entity}' AND payout_period = 202405 AND kind = 'settled'"));
    t.sql("DELETE FROM tlog_checkpoints");
    t.sql("DELETE FROM tlog_cosignatures");
    ok(&["log", "sign", "--sqlite", &t.sqlite(), "--signing-key", &t.file("bureau.key")]);
    let e = t.witness(&bureau).unwrap_err();
    assert!(e.contains("is not an extension of the checkpoint"), "{e}");
    let o = t.audit(&bureau, &witness);
    assert!(!o.status.success());
    assert!(said(&o).contains(&format!("witness {WITNESS} cosigned no stored checkpoint")), "{}", said(&o));
    let proof = t.proof(&entity, "2024-05");
    let e = fails(&["verify", "--proof", &proof, "--bureau-key", &bureau, "--witness-key", &witness]);
    assert!(e.contains(&format!("carries no cosignature by witness {WITNESS}")), "{e}");

    // A checkpoint of the same size with another root (a fork) is not an extension either;
    // and a cosignature moved onto it does not hold.
    let t = book.copy();
    let last = checkpoints.last().unwrap();
    let forked = subsidy_core::tlog::sign_checkpoint(ORIGIN, last.size, subsidy_core::tlog::Hash([7; 32]), std::fs::read_to_string(t.file("bureau.key")).unwrap().trim()).unwrap();
    t.sql(&format!("UPDATE tlog_checkpoints SET note = '{forked}' WHERE size = {}", last.size));
    let e = t.witness(&bureau).unwrap_err();
    assert!(e.contains("not an extension") && e.contains("rewritten"), "{e}");
    let o = t.audit(&bureau, &witness);
    assert!(!o.status.success());
    assert!(said(&o).contains(&format!("size {}", last.size)), "{}", said(&o));

    // A proof checked with another bureau key, or changed in transit, fails and says why.
    let other = ok(&["key", "new", "--name", ORIGIN, "--out", &book.file("other.key")]).trim().to_string();
    let e = fails(&["verify", "--proof", &good_proof, "--bureau-key", &other]);
    assert!(e.contains("not signed by"), "{e}");
    let text = std::fs::read_to_string(&good_proof).unwrap();
    let bent = book.file("bent.tlog-proof");
    std::fs::write(&bent, text.replacen(&format!("\n{}\n", last.size), &format!("\n{}\n", last.size + 1), 1)).unwrap();
    let e = fails(&["verify", "--proof", &bent, "--bureau-key", &bureau]);
    assert!(e.contains("bad signature"), "{e}");
    let _ = Path::new(&bent);
}

/// `token new`: (token, file entry).
fn new_token(args: &[&str]) -> (String, String) {
    let stdout = ok(&[&["token", "new"], args].concat());
    let (token, entry) = stdout.split_once('\n').unwrap();
    (token.to_string(), entry.trim_start().to_string())
}

async fn get(base: &str, path: &str, token: &str) -> (u16, String) {
    let r = reqwest::Client::new().get(format!("{base}{path}")).bearer_auth(token).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn through_the_api_a_city_witness_cosigns_and_an_entity_gets_only_its_own_proof() {
    let (book, bureau, witness) = history().await;
    let store = SqliteStore::open(&book.path).unwrap();
    let statements = store.statements().await.unwrap();
    let entity = statements[0].credit_code.to_string();
    let other = statements.iter().map(|s| s.credit_code.to_string()).find(|c| *c != entity).unwrap();
    let month = statements[0].payout_period.to_string();
    let (city, city_entry) = new_token(&["--role", "city", "--city", "阜阳市"]);
    let (own, own_entry) = new_token(&["--role", "entity", "--credit-code", &entity]);
    let tokens = book.file("tokens.toml");
    std::fs::write(&tokens, format!("{city_entry}{own_entry}")).unwrap();
    // A second city's witness, from nothing: the server is given its verifier key.
    let fuyang = ok(&["key", "new", "--name", "fuyang.gov.cn/witness", "--witness", "--out", &book.file("fuyang.key")]).trim().to_string();
    let addr = free_addr();
    let base = format!("http://{addr}");
    let mut serve = meter();
    serve.args(["serve", "--listen", &addr, "--tokens", &tokens, "--sqlite", &book.sqlite(), "--witness-key", &fuyang]).env_remove("SUBSIDY_POLICY").env("RUST_LOG", "warn");
    let server = Proc::start("serve", serve);
    let mut answering = false;
    for _ in 0..300 {
        if reqwest::get(format!("{base}/openapi.json")).await.is_ok_and(|r| r.status().is_success()) {
            answering = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    if !answering {
        server.fail("serve did not answer");
    }

    // A witness the server is not given is refused, and cosigns nothing.
    ok(&["key", "new", "--name", "rogue.example/witness", "--witness", "--out", &book.file("rogue.key")]);
    let o = run(&["witness", "--api", &base, "--token", &city, "--key", &book.file("rogue.key"), "--bureau-key", &bureau, "--state", &book.file("rogue.state")]);
    assert!(!o.status.success() && said(&o).contains("signed by none of the 1 witness keys"), "{}", said(&o));

    // The second city's witness cosigns through the API.
    let o = run(&["witness", "--api", &base, "--token", &city, "--key", &book.file("fuyang.key"), "--bureau-key", &bureau, "--state", &book.file("fuyang.state")]);
    assert!(o.status.success(), "{}", said(&o));
    let (status, note) = get(&base, "/v1/log/checkpoint", &own).await;
    assert_eq!(status, 200);
    assert!(note.contains("— fuyang.gov.cn/witness ") && note.contains(&format!("— {WITNESS} ")), "{note}");
    assert!(!note.contains("rogue.example"), "{note}");
    // A line under the given witness's name whose signature was changed is refused, naming it.
    let good = note.lines().find(|l| l.starts_with("— fuyang.gov.cn/witness ")).unwrap();
    let size: u64 = note.lines().nth(1).unwrap().parse().unwrap();
    let mut forged: Vec<char> = good.chars().collect();
    let at = forged.len() - 10;
    forged[at] = if forged[at] == 'A' { 'B' } else { 'A' };
    let forged: String = forged.into_iter().collect();
    let r = reqwest::Client::new().post(format!("{base}/v1/log/cosignatures")).bearer_auth(&city).json(&serde_json::json!({"size": size, "line": forged})).send().await.unwrap();
    let (status, body) = (r.status().as_u16(), r.text().await.unwrap());
    assert!(status == 400 && body.contains("fuyang.gov.cn/witness"), "{status} {body}");
    // An entity may not post a cosignature.
    let r = reqwest::Client::new().post(format!("{base}/v1/log/cosignatures")).bearer_auth(&own).json(&serde_json::json!({"size": 1, "line": "x"})).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 403);

    // The entity's proof verifies with the bureau's and both witnesses' keys; another entity's is refused.
    let (status, proof) = get(&base, &format!("/v1/log/proof?period={month}"), &own).await;
    assert_eq!(status, 200, "{proof}");
    assert!(!proof.contains(&other));
    let file = book.file("api.tlog-proof");
    std::fs::write(&file, &proof).unwrap();
    ok(&["verify", "--proof", &file, "--bureau-key", &bureau, "--witness-key", &witness, "--witness-key", &fuyang]);
    let (status, _) = get(&base, &format!("/v1/log/proof?period={month}&credit_code={other}"), &own).await;
    assert_eq!(status, 403);
    let (status, body) = get(&base, "/v1/log/consistency?old=5&new=3", &city).await;
    assert_eq!(status, 400, "{body}");
    server.kill();
}
