//! The programme after the ledger, through the built binary, on SQLite and on
//! ClickHouse (whose steps are fenced by the log of closes, so those tests need
//! the broker too): a claim's whole life (filed, reviewed by its city and the
//! bureau, paid in a batch; a refund after payment becomes a receivable at the
//! next close and the entity's next batch nets it), several claims of one
//! month filed at once (exactly one stands, the others are refused naming it),
//! and a year running out of budget under each rule of the policy file.
//!
//! The ledgers are filled through the store with the golden data set's lines
//! as the core settles them (what `aggregate` leaves), then driven only by the
//! binary. Expected figures come from the `statements` CSV, never from the
//! programme's own output.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use subsidy_core::{parse_record, Fingerprint, Ledger, PolicyDocument, Registry};
use subsidy_store::{BusPosition, LineRow, RegistryRows, WriteBatch};
use support::*;

fn golden(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/golden").join(name)
}

/// 阜阳师范大学 (阜阳市, 皖北): lines in 2025-08, 2025-10, 2025-11 and 2025-12.
const FUYANG: &str = "12341200000000002A";

/// A ledger driven by the binary: its store, the log of closes (ClickHouse), a scratch directory.
struct Book {
    store: TestStore,
    document: PolicyDocument,
    topic: String,
    dir: tempfile::TempDir,
}

impl Book {
    /// A new ledger under `policy` (recorded with `policy apply`), filled with the golden lines.
    async fn new(store: TestStore, dir: tempfile::TempDir, policy: &Path) -> Book {
        if matches!(store, TestStore::ClickHouse(_)) {
            require_broker().await;
        }
        let document = PolicyDocument::from_toml(&std::fs::read_to_string(policy).unwrap()).unwrap();
        let book = Book { store, document, topic: unique("test.closes"), dir };
        book.write(&["policy", "apply", &policy.display().to_string()]);
        book.fill(&book.document, &[]).await;
        book
    }

    async fn sqlite(policy: &Path) -> Book {
        let dir = tempfile::tempdir().unwrap();
        let store = TestStore::sqlite(dir.path());
        Book::new(store, dir, policy).await
    }

    async fn clickhouse(policy: &Path) -> Book {
        Book::new(TestStore::clickhouse("programme"), tempfile::tempdir().unwrap(), policy).await
    }

    /// Writes the lines the core settles from the golden records and `extra` record lines
    /// (later revisions replace earlier ones), with the registry they were settled against.
    async fn fill(&self, document: &PolicyDocument, extra: &[String]) {
        let mut registry = Registry::new();
        registry.load_entities(&std::fs::read_to_string(golden("entities.json")).unwrap()).unwrap();
        registry.load_centers(&std::fs::read_to_string(golden("centers.json")).unwrap()).unwrap();
        let mut ledger = Ledger::new(&document.set);
        let records = std::fs::read_to_string(golden("records.jsonl")).unwrap();
        for (offset, line) in records.lines().map(str::to_string).chain(extra.iter().cloned()).enumerate() {
            if let Ok(record) = parse_record(line.as_bytes()) {
                ledger.ingest(&record, Fingerprint::of(&record), offset as u64, &registry);
            }
        }
        let lines: Vec<LineRow> =
            ledger.lines().enumerate().map(|(i, (id, line))| LineRow::new(id, line, document, BusPosition { partition: 0, offset: i as i64 }, line.standing.version(1))).collect();
        let store = self.store.open().await;
        store.write_batch(&WriteBatch { lines, registry: Some(RegistryRows::of(&registry, 1)), ..WriteBatch::default() }).await.unwrap();
    }

    /// `subsidy-meter ARGS` on this ledger.
    fn command(&self, args: &[&str]) -> Command {
        let mut c = meter();
        c.args(args).args(self.store.flags()).env_remove("SUBSIDY_POLICY").env("RUST_LOG", "warn");
        c
    }

    /// A command that writes: with the log of closes.
    fn writing(&self, args: &[&str]) -> Command {
        let mut c = self.command(args);
        c.args(["--kafka-brokers", &brokers(), "--topic-closes", &self.topic]);
        c
    }

    fn read(&self, args: &[&str]) -> String {
        ok(self.command(args).output().unwrap(), args)
    }

    fn write(&self, args: &[&str]) -> String {
        ok(self.writing(args).output().unwrap(), args)
    }

    /// A write the programme refuses: exits non-zero naming each of `names`.
    fn refused(&self, args: &[&str], names: &[&str]) {
        let o = self.writing(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{args:?} was not refused: {stderr}");
        for n in names {
            assert!(stderr.contains(n), "the refusal of {args:?} does not say {n:?}: {stderr}");
        }
    }

    fn close(&self, month: &str) {
        self.write(&["close", "--period", month]);
    }

    /// Closes, oldest first, every open month with lines up to `month`, and `month`.
    async fn close_through(&self, month: &str) {
        let closed: Vec<String> = self.store.open().await.closures().await.unwrap().iter().map(|c| c.period.to_string()).collect();
        let months: Vec<String> = self.store.open().await.months_with_lines().await.unwrap().iter().map(ToString::to_string).collect();
        for m in months.iter().filter(|m| m.as_str() < month && !closed.contains(m)) {
            self.close(m);
        }
        self.close(month);
    }

    fn statements(&self) -> String {
        self.store.statements(self.dir.path())
    }

    /// `claims list --json`, by claim id.
    fn claims(&self) -> BTreeMap<String, serde_json::Value> {
        let list: Vec<serde_json::Value> = serde_json::from_str(&self.read(&["claims", "list", "--json"])).unwrap();
        list.into_iter().map(|c| (c["claim_id"].as_str().unwrap().to_string(), c)).collect()
    }

    fn file(&self, code: &str, months: &str) -> String {
        self.write(&["claims", "file", "--credit-code", code, "--months", months]).trim().to_string()
    }

    /// Files a claim and has its city and the bureau approve it.
    fn approved(&self, code: &str, months: &str) -> String {
        let id = self.file(code, months);
        self.write(&["claims", "review", &id, "--stage", "city", "--approve", "--reason", "papers in order"]);
        self.write(&["claims", "review", &id, "--stage", "bureau", "--approve", "--reason", "checked"]);
        id
    }
}

fn ok(o: Output, args: &[&str]) -> String {
    assert!(o.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

fn money(v: &serde_json::Value) -> Decimal {
    v.as_str().unwrap_or_else(|| panic!("not money: {v}")).parse().unwrap()
}

/// Σ subsidy of the statement lines of `code` for `months`, booked by a close of a month in `payout` (inclusive).
fn fixed_for(statements: &str, code: &str, months: &[&str], payout: (&str, &str)) -> Decimal {
    statements
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|f| f[0] == code && months.contains(&f[2]) && (payout.0..=payout.1).contains(&f[1]))
        .map(|f| f[5].parse::<Decimal>().unwrap())
        .sum()
}

/// The rows of a batch's finance CSV, by claim id: (credit code, name, amount, recovered, net paid).
fn batch_rows(csv: &str) -> BTreeMap<String, (String, String, Decimal, Decimal, Decimal)> {
    assert!(csv.starts_with("credit_code,name,claim_id,province_part,city_part,amount,recovered,net_paid\n"), "{csv}");
    csv.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let d = |i: usize| f[i].parse::<Decimal>().unwrap();
            assert_eq!(d(3) + d(4), d(5), "province + city part is the amount: {l}");
            (f[2].to_string(), (f[0].to_string(), f[1].trim_matches('"').to_string(), d(5), d(6), d(7)))
        })
        .collect()
}

/// Claim, reviews, batch; a refund of a paid month becomes a receivable the next batch nets.
async fn lifecycle(book: &Book) {
    book.close_through("2025-09").await;
    // Refused steps say the core's reason.
    book.refused(&["claims", "file", "--credit-code", FUYANG, "--months", "2025-10"], &["refused", "2025-10 is not closed"]);
    let first = book.file(FUYANG, "2025-08");
    book.refused(&["claims", "file", "--credit-code", FUYANG, "--months", "2025-08"], &["refused", &format!("claimed already by {first}")]);
    book.refused(&["claims", "review", &first, "--stage", "bureau", "--approve", "--reason", "x"], &["its city reviews first"]);
    book.refused(&["claims", "review", &first, "--stage", "city", "--approve", "--reason", "x", "--acting-as", "city:合肥市"], &["reviewed first by 阜阳市"]);
    book.write(&["claims", "review", &first, "--stage", "city", "--approve", "--reason", "papers in order"]);
    book.write(&["claims", "review", &first, "--stage", "bureau", "--approve", "--reason", "checked"]);
    let claim = &book.claims()[&first];
    assert_eq!((claim["status"].as_str(), claim["city"].as_str()), (Some("approved"), Some("阜阳市")));
    let asked = fixed_for(&book.statements(), FUYANG, &["2025-08"], ("0000-00", "2025-09"));
    assert!(asked > Decimal::ZERO, "the month pays something");
    assert_eq!(money(&claim["parts"][0]["asked"]), asked, "the claim asks what the statements fixed for its month");

    let batch = book.write(&["batches", "make", "--payout-date", "2025-10-20", "--claims", &first]).trim().to_string();
    book.refused(&["batches", "make", "--payout-date", "2025-10-21", "--claims", &first], &[&format!("paid already, in batch {batch}")]);
    let rows = batch_rows(&book.read(&["batches", "show", &batch, "--csv"]));
    assert_eq!(rows[&first], (FUYANG.to_string(), "阜阳师范大学".to_string(), asked, Decimal::ZERO, asked), "nothing is owed yet: the whole grant is paid");

    // A later revision refunds part of a paid record of 2025-08; the next close books it.
    let refund = std::fs::read_to_string(golden("records.jsonl")).unwrap().lines().find(|l| l.contains("\"record_id\": \"r3\"")).unwrap().replace("\"revision\": 1", "\"revision\": 2").replace("\"paid_amount\": \"500.00\"", "\"paid_amount\": \"200.00\"");
    book.fill(&book.document, &[refund]).await;
    book.close("2025-10");
    let statements = book.statements();
    let adjustment = fixed_for(&statements, FUYANG, &["2025-08"], ("2025-10", "2025-10"));
    assert!(adjustment < Decimal::ZERO, "the refund is a negative adjustment booked in 2025-10:\n{statements}");
    let owed: Vec<serde_json::Value> = serde_json::from_str(&book.read(&["receivables", "--credit-code", FUYANG, "--json"])).unwrap();
    assert_eq!(owed.len(), 1, "{owed:?}");
    assert_eq!(owed[0]["claim_id"].as_str(), Some(first.as_str()));
    assert_eq!(money(&owed[0]["amount"]), -adjustment, "without a budget the claim was granted what it asked: all of the refund is owed");
    assert_eq!(money(&owed[0]["recovered"]), Decimal::ZERO);
    assert!(book.read(&["receivables"]).contains(&format!("adjustment:{FUYANG}:2025-10:2025-08")));

    // The entity's next claim is paid net of what it owes.
    let second = book.approved(FUYANG, "2025-10");
    let next = book.write(&["batches", "make", "--payout-date", "2025-11-20", "--all-payable"]).trim().to_string();
    let rows = batch_rows(&book.read(&["batches", "show", &next, "--csv"]));
    let asked = fixed_for(&statements, FUYANG, &["2025-10"], ("2025-10", "2025-10"));
    let recovered = (-adjustment).min(asked);
    assert_eq!(rows.keys().collect::<Vec<_>>(), vec![&second], "only the new claim is payable");
    assert_eq!((rows[&second].2, rows[&second].3, rows[&second].4), (asked, recovered, asked - recovered), "the grant, less what is owed, is transferred");
    let owed: Vec<serde_json::Value> = serde_json::from_str(&book.read(&["receivables", "--credit-code", FUYANG, "--json"])).unwrap();
    assert_eq!(money(&owed[0]["recovered"]), recovered);
    book.refused(&["batches", "make", "--payout-date", "2025-11-21", "--all-payable"], &["no claim is payable"]);

    // The year's view: what the batches paid, nothing approved and unpaid, no budget set.
    let view: serde_json::Value = serde_json::from_str(&book.read(&["budget", "--year", "2025", "--json"])).unwrap();
    let paid: Decimal = [first.as_str(), second.as_str()].iter().map(|c| money(&book.claims()[*c]["parts"][0]["granted"])).sum();
    assert_eq!(money(&view["figures"]["paid"]), paid);
    assert_eq!(money(&view["figures"]["approved_unpaid"]), Decimal::ZERO);
    assert!(view["budget"].is_null() && view["headroom"].is_null(), "{view}");
    assert_eq!(money(&view["by_city"]["阜阳市"]["paid"]), paid);
    let listed = book.read(&["batches", "list"]);
    assert!(listed.contains(&batch) && listed.contains(&next), "{listed}");
}

#[tokio::test]
async fn sqlite_a_claim_is_filed_reviewed_paid_and_a_later_refund_is_netted_from_the_next_batch() {
    let book = Book::sqlite(&default_policy()).await;
    lifecycle(&book).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clickhouse_a_claim_is_filed_reviewed_paid_and_a_later_refund_is_netted_from_the_next_batch() {
    let book = Book::clickhouse(&default_policy()).await;
    lifecycle(&book).await;
    book.store.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clickhouse_of_claims_of_one_month_filed_at_once_exactly_one_stands() {
    const FILERS: usize = 6;
    let book = Book::clickhouse(&default_policy()).await;
    book.close_through("2025-08").await;
    let args = ["claims", "file", "--credit-code", FUYANG, "--months", "2025-08"];
    let running: Vec<Proc> = (0..FILERS)
        .map(|i| {
            let mut filer = book.writing(&args);
            filer.args(["--label", &format!("filer {i}")]);
            Proc::start("claims file", filer)
        })
        .collect();
    let done: Vec<Finished> = running.into_iter().map(|p| p.wait(RUN_LIMIT)).collect();
    let won: Vec<&Finished> = done.iter().filter(|d| d.status.success()).collect();
    let logs: Vec<&str> = done.iter().map(|d| d.stderr.as_str()).collect();
    assert_eq!(won.len(), 1, "exactly one claim of the month stands:\n{}", logs.join("\n---\n"));
    let winner = won[0].stdout.trim();
    for d in done.iter().filter(|d| !d.status.success()) {
        assert!(d.stderr.contains(&format!("claimed already by {winner}")), "a refused filer names the claim that stands ({winner}): {}", d.stderr);
    }
    let claims = book.claims();
    assert_eq!(claims.keys().collect::<Vec<_>>(), vec![winner], "one claim in the programme");
    // The history has no gap: the next step takes the next number.
    let next = book.file("91340100MA0000001K", "2025-07");
    assert_eq!(next, format!("C-{}", winner[2..].parse::<u64>().unwrap() + 1));
    book.store.drop().await;
}

fn default_policy() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/policy/default.toml")
}

/// The default policy with a budget for 2025 under `rule`, written in `dir`.
fn budget_policy(dir: &Path, amount: Decimal, rule: &str) -> PathBuf {
    let path = dir.join(format!("budget-{rule}.toml"));
    let text = std::fs::read_to_string(default_policy()).unwrap();
    std::fs::write(&path, format!("{text}\n[[budgets]]\nyear = 2025\namount_yuan = \"{amount}\"\nover_budget = \"{rule}\"\ncity_shares = {{ \"阜阳市\" = \"0.5\" }}\n")).unwrap();
    path
}

/// Entities with statement lines in 2025-07..09, and the months each claims.
const CLAIMANTS: [(&str, &str); 4] = [("91340100MA0000001K", "2025-07,2025-09"), (FUYANG, "2025-08"), ("12341300000000010A", "2025-08,2025-09"), ("123403000000000036", "2025-09")];

/// A 2025 budget well below what the claims ask, applied to a filled ledger; the claims approved
/// in order. Returns the book, the budget and what each claim asks (from the statements).
async fn short_year(rule: &str) -> (Book, Decimal, Vec<(String, Decimal)>) {
    let book = Book::sqlite(&default_policy()).await;
    book.close_through("2025-09").await;
    let statements = book.statements();
    let asked: Vec<Decimal> = CLAIMANTS.iter().map(|(code, months)| fixed_for(&statements, code, &months.split(',').collect::<Vec<_>>(), ("0000-00", "2025-09"))).collect();
    let total: Decimal = asked.iter().sum();
    // Less than the first two claims ask together: the second crosses the line.
    let budget = (asked[0] + asked[1] / Decimal::TWO).round_dp(2);
    assert!(budget < total && asked.iter().all(|a| *a > Decimal::ZERO), "{asked:?}");
    book.write(&["policy", "apply", &budget_policy(book.dir.path(), budget, rule).display().to_string()]);
    let ids: Vec<String> = CLAIMANTS.iter().map(|(code, months)| book.approved(code, months)).collect();
    (book, budget, ids.into_iter().zip(asked).collect())
}

#[tokio::test]
async fn first_come_a_year_out_of_budget_pays_in_approval_order_and_the_crossing_claim_gets_what_is_left() {
    let (book, budget, asked) = short_year("first_come").await;
    let claims = book.claims();
    let mut left = budget;
    for (id, a) in &asked {
        let want = (*a).min(left);
        left -= want;
        assert_eq!(money(&claims[id]["parts"][0]["granted"]), want, "{id} asks {a} with {} left", left + want);
    }
    assert_eq!(left, Decimal::ZERO, "the year is spent");
    let batch = book.write(&["batches", "make", "--payout-date", "2025-10-20", "--all-payable"]).trim().to_string();
    let rows = batch_rows(&book.read(&["batches", "show", &batch, "--csv"]));
    assert_eq!(rows.values().map(|r| r.4).sum::<Decimal>(), budget, "the batch pays exactly the budget");
    let view: serde_json::Value = serde_json::from_str(&book.read(&["budget", "--year", "2025", "--json"])).unwrap();
    assert_eq!((money(&view["budget"]), money(&view["figures"]["paid"]), view["over_budget"].as_str()), (budget, budget, Some("first_come")));
    assert!(money(&view["headroom"]) <= Decimal::ZERO, "{view}");
    assert!(view["forecast"]["reached"].as_bool().unwrap(), "{view}");
    let text = book.read(&["budget", "--year", "2025"]);
    assert!(text.contains("# by city") && text.contains("阜阳市") && text.contains("# by version"), "{text}");
}

#[tokio::test]
async fn pro_rata_a_year_out_of_budget_waits_for_its_close_then_pays_every_claim_in_proportion() {
    let (book, budget, asked) = short_year("pro_rata").await;
    assert!(book.claims().values().all(|c| c["parts"][0]["granted"].is_null()), "grants wait for the year's division");
    book.refused(&["batches", "make", "--payout-date", "2025-10-20", "--all-payable"], &["no claim is payable"]);
    book.refused(&["batches", "make", "--payout-date", "2025-10-20", "--claims", &asked[0].0], &["waits for its year's division"]);
    book.write(&["claims", "close-year", "2025"]);
    book.refused(&["claims", "file", "--credit-code", "91340100MA0000011L", "--months", "2025-09"], &["the claims of 2025 are closed"]);
    let claims = book.claims();
    let total: Decimal = asked.iter().map(|(_, a)| *a).sum();
    let mut granted = Decimal::ZERO;
    for (id, a) in &asked {
        let g = money(&claims[id]["parts"][0]["granted"]);
        let exact = *a * budget / total;
        assert!(g <= *a && (g - exact).abs() < Decimal::new(1, 2), "{id}: granted {g}, its proportional share is {exact}");
        granted += g;
    }
    assert_eq!(granted, budget, "the year pays exactly its budget");
    let batch = book.write(&["batches", "make", "--payout-date", "2025-12-20", "--all-payable"]).trim().to_string();
    let shown = book.read(&["batches", "show", &batch, "--json"]);
    let shown: serde_json::Value = serde_json::from_str(&shown).unwrap();
    let fuyang = shown["by_city"].as_array().unwrap().iter().find(|t| t["city"] == "阜阳市").unwrap();
    let amount = money(&fuyang["amount"]);
    assert_eq!(money(&fuyang["city_part"]), (amount / Decimal::TWO).round_dp_with_strategy(2, rust_decimal::RoundingStrategy::ToZero), "阜阳市 pays its half, floored");
    let view: serde_json::Value = serde_json::from_str(&book.read(&["budget", "--year", "2025", "--json"])).unwrap();
    assert_eq!(money(&view["figures"]["paid"]), budget);
    assert!(view["claims_closed"].as_bool().unwrap());
}
