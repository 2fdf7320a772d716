//! The policy is part of the ledger. The ledger records the policy document in
//! force; `aggregate` and `close` refuse a policy file that is not it and, given
//! none, compute under it, so a ledger aggregated under a capped policy is never
//! closed past the cap. `policy apply` records a new document, re-settles the
//! open months to what `recompute` makes under it, and the next close books the
//! closed months' differences as adjustments. Several `policy apply` started at
//! once never record two documents at one sequence.
//!
//! The ledgers here are SQLite files filled through the store with the golden
//! data set's lines as the core settles them (no broker needed); the last test
//! drives the real `aggregate` and needs the broker.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use subsidy_core::{parse_record, Fingerprint, Ledger, PolicyDocument, Registry};
use subsidy_store::{BusPosition, LedgerStore, LineRow, RegistryRows, SqliteStore, WriteBatch};
use support::*;

fn golden(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/golden").join(name)
}

fn default_policy() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/policy/default.toml")
}

/// A ledger file and the flags that name it.
struct Book {
    dir: tempfile::TempDir,
    path: PathBuf,
}

impl Book {
    fn new() -> Book {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.sqlite");
        Book { dir, path }
    }

    /// `subsidy-meter ARGS --sqlite FILE`, with no policy in the environment.
    fn command(&self, args: &[&str]) -> Command {
        let mut c = meter();
        c.args(args).arg("--sqlite").arg(&self.path).env_remove("SUBSIDY_POLICY").env("RUST_LOG", "warn");
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> Output {
        let o = self.run(args);
        assert!(o.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&o.stderr));
        o
    }

    fn store(&self) -> SqliteStore {
        SqliteStore::open(&self.path).unwrap()
    }

    /// Records `policy` as the ledger's first document and writes the golden data set's lines
    /// settled under it, with the registry they were settled against: what `aggregate` with
    /// `--policy FILE` leaves in a new ledger.
    async fn filled(policy: &Path) -> (Book, PolicyDocument) {
        let book = Book::new();
        let out = book.ok(&["policy", "apply", &policy.display().to_string()]);
        assert!(String::from_utf8_lossy(&out.stdout).starts_with("1 "), "the first document is sequence 1");
        let document = PolicyDocument::from_toml(&std::fs::read_to_string(policy).unwrap()).unwrap();
        let mut registry = Registry::new();
        registry.load_entities(&std::fs::read_to_string(golden("entities.json")).unwrap()).unwrap();
        registry.load_centers(&std::fs::read_to_string(golden("centers.json")).unwrap()).unwrap();
        let mut ledger = Ledger::new(&document.set);
        for (offset, line) in std::fs::read_to_string(golden("records.jsonl")).unwrap().lines().enumerate() {
            if let Ok(record) = parse_record(line.as_bytes()) {
                ledger.ingest(&record, Fingerprint::of(&record), offset as u64, &registry);
            }
        }
        let lines: Vec<LineRow> = ledger
            .lines()
            .enumerate()
            .map(|(i, (id, line))| LineRow::new(id, line, &document, BusPosition { partition: 0, offset: i as i64 }, line.standing.version(1)))
            .collect();
        assert!(lines.len() > 20, "the golden set settles into lines");
        let store = book.store();
        store.write_batch(&WriteBatch { lines, registry: Some(RegistryRows::of(&registry, 1)), ..WriteBatch::default() }).await.unwrap();
        (book, document)
    }

    fn csv(&self, command: &str) -> String {
        let out = self.dir.path().join(format!("{}.csv", unique(command)));
        self.ok(&[command, "--out", &out.display().to_string()]);
        std::fs::read_to_string(out).unwrap()
    }

    fn close(&self, month: &str) -> String {
        String::from_utf8_lossy(&self.ok(&["close", "--period", month]).stderr).into_owned()
    }

    /// Every month with ledger lines, oldest first (months close in order).
    async fn months(&self) -> Vec<String> {
        self.store().months_with_lines().await.unwrap().iter().map(ToString::to_string).collect()
    }
}

/// `recompute` of the golden set under a policy file.
fn recompute(policy: &Path, dir: &Path) -> String {
    let out = dir.join(format!("{}.csv", unique("recompute")));
    let o = meter()
        .arg("recompute")
        .arg("--records")
        .arg(golden("records.jsonl"))
        .arg("--entities")
        .arg(golden("entities.json"))
        .arg("--centers")
        .arg(golden("centers.json"))
        .arg("--policy")
        .arg(policy)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "recompute failed: {}", String::from_utf8_lossy(&o.stderr));
    std::fs::read_to_string(out).unwrap()
}

fn refused(o: &Output, names: &[&str]) {
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "not refused: {stderr}");
    for n in names {
        assert!(stderr.contains(n), "the refusal does not name {n}: {stderr}");
    }
}

/// Σ subsidy fixed per entity and calendar year.
fn fixed_per_year(statements: &str) -> BTreeMap<(String, String), Decimal> {
    let mut out = BTreeMap::new();
    for ((code, month), (_, subsidy)) in fixed(statements) {
        *out.entry((code, month[..4].to_string())).or_default() += subsidy;
    }
    out
}

#[tokio::test]
async fn a_ledger_settled_under_a_capped_policy_is_closed_under_it_whatever_the_closer_is_given() {
    let capped = golden("capped.toml");
    let (book, document) = Book::filled(&capped).await;
    let builtin = PolicyDocument::builtin();
    let default = default_policy().display().to_string();
    let months = book.months().await;
    // Another policy, as a flag or in the environment: refused, naming both documents and the way to change it.
    for o in [
        book.run(&["close", "--period", &months[0], "--policy", &default]),
        book.command(&["close", "--period", &months[0]]).env("SUBSIDY_POLICY", &default).output().unwrap(),
        book.run(&["aggregate", "--policy", &default, "--kafka-brokers", "127.0.0.1:9", "--metrics-addr", "127.0.0.1:0"]),
        book.run(&["export", "--out", "/dev/null", "--force", "--policy", &default]),
    ] {
        refused(&o, &[document.short(), builtin.short(), "policy apply"]);
    }
    assert!(book.store().closures().await.unwrap().is_empty(), "a refused close closes nothing");
    // The capped file itself is accepted; none at all means the ledger's.
    book.ok(&["close", "--period", &months[0], "--policy", &capped.display().to_string()]);
    for m in &months[1..] {
        let said = book.close(m);
        assert!(said.contains(&document.hash), "the close names the document it computed under: {said}");
    }
    let statements = book.statements_csv();
    let want = std::fs::read_to_string(golden("expected_settlements_capped.csv")).unwrap();
    assert_eq!(fixed(&statements), settled(&want), "what is fixed is the capped settlement");
    assert_ne!(settled(&want), settled(&recompute(&default_policy(), book.dir.path())), "the cap matters in this data set");
    for ((code, year), total) in fixed_per_year(&statements) {
        assert!(total <= Decimal::from(250), "{code} is paid {total} in {year}, past the cap of 250");
    }
    assert!(statements.lines().skip(1).all(|l| l.ends_with(&format!(",{}", document.hash))), "every line names its document:\n{statements}");
    for c in book.store().closures().await.unwrap() {
        assert_eq!(c.policy_hash, document.hash, "{}", c.period);
    }
    assert_eq!(book.csv("export"), want, "export computes under the ledger's document too");
}

impl Book {
    fn statements_csv(&self) -> String {
        self.csv("statements")
    }
}

#[tokio::test]
async fn policy_apply_resettles_open_months_and_the_next_close_adjusts_the_closed_ones() {
    let default = default_policy();
    let (book, first) = Book::filled(&default).await;
    let months = book.months().await;
    // Closed: every month through 2025-09; the next close is the month after.
    let through = months.iter().position(|m| m == "2025-09").unwrap() + 1;
    let (closed, next) = (&months[..through], &months[through]);
    for m in closed {
        book.close(m);
    }
    let before = book.statements_csv();
    let old = recompute(&default, book.dir.path());
    assert_eq!(book.csv("export"), old);

    let changed = book.dir.path().join("rate-25.toml");
    std::fs::write(&changed, std::fs::read_to_string(&default).unwrap().replace("rate = \"0.20\"", "rate = \"0.25\"")).unwrap();
    let second = PolicyDocument::from_toml(&std::fs::read_to_string(&changed).unwrap()).unwrap();
    let out = book.ok(&["policy", "apply", &changed.display().to_string()]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), format!("2 {}", second.hash));
    let new = recompute(&changed, book.dir.path());
    assert_ne!(new, old);
    assert_eq!(book.csv("export"), new, "the ledger is re-settled to what recompute makes under the new document");
    assert_eq!(book.statements_csv(), before, "closed months keep their frozen figures");
    assert!(book.store().lines_not_under(&second.hash, None, "", 1).await.unwrap().is_empty(), "every line names the new document");
    // The old document is refused now, by every command.
    refused(&book.run(&["close", "--period", next, "--policy", &default.display().to_string()]), &[first.short(), second.short()]);

    book.close(next);
    let after = book.statements_csv();
    let want: BTreeMap<_, _> = settled(&new).into_iter().filter(|((_, m), _)| closed.contains(m) || m == next).collect();
    assert_eq!(fixed(&after), want, "frozen + adjustments is the settlement under the new document");
    let (old, new) = (settled(&old), settled(&new));
    let mut adjustments = 0;
    for l in after.lines().skip(1).filter(|l| l.contains(",adjustment,")) {
        let f: Vec<&str> = l.split(',').collect();
        let key = (f[0].to_string(), f[2].to_string());
        let subsidy: Decimal = f[5].parse().unwrap();
        assert_eq!(f[1], next, "booked by the next close");
        assert_eq!(subsidy, new[&key].1 - old[&key].1, "{key:?}: the adjustment is the difference");
        assert_eq!(f[6], second.hash, "an adjustment names the document it was computed under");
        adjustments += 1;
    }
    let differ = old.iter().filter(|(k, v)| closed.contains(&k.1) && new[*k].1 != v.1).count();
    assert!(differ > 0 && adjustments == differ, "{adjustments} adjustments for {differ} changed closed months");
    for l in after.lines().skip(1).filter(|l| l.contains(",settled,")) {
        let want = if closed.iter().any(|m| l.contains(&format!(",{m},{m},"))) { &first.hash } else { &second.hash };
        assert!(l.ends_with(want.as_str()), "{l}");
    }
    let shown = String::from_utf8_lossy(&book.ok(&["policy", "show"]).stdout).into_owned();
    assert!(shown.contains(&second.hash) && shown.contains("sequence 2") && shown.contains("rate = \"0.25\""), "{shown}");
}

#[tokio::test]
async fn policy_applies_started_at_once_never_share_a_sequence() {
    const APPLIERS: usize = 6;
    let default = default_policy();
    let (book, first) = Book::filled(&default).await;
    let text = std::fs::read_to_string(&default).unwrap();
    let files: Vec<(PathBuf, String)> = (0..APPLIERS)
        .map(|i| {
            let path = book.dir.path().join(format!("rate-{i}.toml"));
            std::fs::write(&path, text.replace("rate = \"0.20\"", &format!("rate = \"0.2{}\"", i + 1))).unwrap();
            let hash = PolicyDocument::from_toml(&std::fs::read_to_string(&path).unwrap()).unwrap().hash;
            (path, hash)
        })
        .collect();
    let running: Vec<Proc> = files.iter().map(|(path, _)| Proc::start("policy apply", book.command(&["policy", "apply", &path.display().to_string()]))).collect();
    let done: Vec<Finished> = running.into_iter().map(|p| p.wait(RUN_LIMIT)).collect();
    let recorded = book.store().policy_documents().await.unwrap();
    let sequences: Vec<u64> = recorded.iter().map(|d| d.sequence).collect();
    assert_eq!(sequences, (1..=recorded.len() as u64).collect::<Vec<_>>(), "one document per sequence, none skipped");
    assert_eq!(recorded[0].hash, first.hash);
    let mut winners = 0;
    for (d, (_, hash)) in done.iter().zip(&files) {
        if d.status.success() {
            winners += 1;
            let (sequence, printed) = d.stdout.trim().split_once(' ').unwrap();
            assert_eq!(printed, hash);
            assert_eq!(recorded[sequence.parse::<usize>().unwrap() - 1].hash, *hash, "a winner's document stands at its sequence");
        } else {
            assert!(d.stderr.contains("another change was recorded first") || d.stderr.contains("database is locked"), "a loser says why: {}", d.stderr);
            assert!(!recorded.iter().any(|r| r.hash == *hash), "a loser's document is not recorded");
        }
    }
    assert!(winners >= 1 && winners == recorded.len() - 1, "{winners} appliers won, {} documents after the first", recorded.len() - 1);
    // The last document is in force; applying it again re-settles anything an earlier winner wrote after it.
    let last = recorded.last().unwrap();
    let (file, _) = files.iter().find(|(_, h)| *h == last.hash).unwrap();
    book.ok(&["policy", "apply", &file.display().to_string()]);
    assert!(book.store().lines_not_under(&last.hash, None, "", 1).await.unwrap().is_empty());
    assert_eq!(book.csv("export"), recompute(file, book.dir.path()));
    book.close(&book.months().await[0]);
}

/// The real `aggregate`, through the broker: aggregated with the capped policy, closed with none
/// or with another, and re-aggregated with another.
#[tokio::test]
async fn aggregate_with_a_capped_policy_then_close_without_it() {
    require_broker().await;
    let dir = tempfile::tempdir().unwrap();
    let dataset = subsidy_platform::dataset::Dataset::from_dir(&golden("")).unwrap();
    let sim = subsidy_platform::server::spawn(subsidy_platform::server::SimState::new(dataset, subsidy_platform::server::SimConfig::new("t")).unwrap()).await.unwrap();
    let prefix = unique("policy");
    let (p, url) = (prefix.clone(), sim.base_url());
    tokio::task::spawn_blocking(move || collect_all(&p, &url, "t")).await.unwrap();
    let store = TestStore::sqlite(dir.path());
    let capped = golden("capped.toml").display().to_string();
    let mut aggregate = meter();
    aggregate.arg("aggregate").args(topic_args(&prefix)).args(store.flags()).args(["--policy", &capped, "--group", &unique("g"), "--exit-when-idle-secs", "3"]);
    aggregate.args(["--metrics-addr", "127.0.0.1:0"]).env_remove("SUBSIDY_POLICY");
    Proc::start("aggregate", aggregate).finish();
    let document = PolicyDocument::from_toml(&std::fs::read_to_string(&capped).unwrap()).unwrap();
    let default = default_policy().display().to_string();
    let months: Vec<String> = store.open().await.months_with_lines().await.unwrap().iter().map(ToString::to_string).collect();
    let o = meter().args(["close", "--period", &months[0]]).args(store.flags()).env("SUBSIDY_POLICY", &default).output().unwrap();
    refused(&o, &[document.short(), "policy apply"]);
    let o = meter().arg("aggregate").args(topic_args(&prefix)).args(store.flags()).args(["--policy", &default, "--metrics-addr", "127.0.0.1:0"]).output().unwrap();
    refused(&o, &[document.short(), "policy apply"]);
    for m in &months {
        let o = meter().args(["close", "--period", m]).args(store.flags()).env_remove("SUBSIDY_POLICY").output().unwrap();
        assert!(o.status.success(), "close {m}: {}", String::from_utf8_lossy(&o.stderr));
    }
    let statements = store.statements(dir.path());
    let want = std::fs::read_to_string(golden("expected_settlements_capped.csv")).unwrap();
    assert_eq!(fixed(&statements), settled(&want));
    for ((code, year), total) in fixed_per_year(&statements) {
        assert!(total <= Decimal::from(250), "{code} is paid {total} in {year}, past the cap");
    }
}
