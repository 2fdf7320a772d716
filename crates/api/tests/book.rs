//! The incremental book equals a full read: a served SQLite ledger, written by
//! another connection (as an aggregator would) with random lines, replays,
//! re-settlements, closes, platform counts and a change of policy document
//! between refreshes; after every refresh the book advanced from the change log
//! equals the book read whole (settlements, each entity's months, exclusions
//! and statements, months, closed months) and so do the reconciliation gaps.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use subsidy_api::state::{refresh, verify};
use subsidy_api::Book;
use subsidy_core::{CreditCode, DayCount, Fingerprint, PaymentStatus, Period, PolicyDocument, PolicySet, ReasonCode};
use subsidy_store::{BusPosition, ClickHouseConfig, ClickHouseStore, CountRow, LedgerStore, LineRow, PolicyRecord, SqliteStore, WriteBatch};
use support::{a, b, c, d};

/// A small deterministic generator (xorshift64*), so a failing history can be replayed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

const MONTHS: [&str; 4] = ["2025-09", "2025-10", "2025-11", "2025-12"];
const REASONS: [Option<ReasonCode>; 4] = [None, None, Some(ReasonCode::Refunded), Some(ReasonCode::UnknownEntity)];

fn users() -> [CreditCode; 4] {
    [a(), b(), c(), d()]
}

/// A random line of one of a few records: a later one may move it to another user, month,
/// reason, center, day, amount or policy document, or lose to the standing one.
fn random_line(rng: &mut Rng, offset: &mut i64, hashes: &[String]) -> LineRow {
    let period = Period::parse(MONTHS[rng.below(4) as usize]).unwrap();
    let paid = rust_decimal::Decimal::new(100 + rng.below(900_000) as i64, 2);
    let reason = REASONS[rng.below(4) as usize];
    let revision = 1 + rng.below(3) as u32;
    *offset += 1;
    LineRow {
        record_id: format!("rand-{:02}", rng.below(30)),
        revision,
        fingerprint: Fingerprint(u128::from(rng.below(3))),
        conflict: false,
        user_credit_code: users()[rng.below(4) as usize],
        center_id: ["c-pub", "c-own"][rng.below(2) as usize].to_string(),
        usage_date: chrono::NaiveDate::from_ymd_opt(period.year(), period.month(), 1 + rng.below(28) as u32).unwrap(),
        payment_status: PaymentStatus::Paid,
        paid_amount: paid,
        accelerator: "Ascend-910B".to_string(),
        period,
        policy_version: "v2".to_string(),
        rate: rust_decimal::Decimal::new(20, 2),
        uplift: rust_decimal::Decimal::ONE,
        base: paid,
        contribution: if reason.is_none() { paid * rust_decimal::Decimal::new(20, 2) } else { rust_decimal::Decimal::ZERO },
        reason,
        position: BusPosition { partition: rng.below(2) as i32, offset: 100 + *offset },
        version: (u64::from(revision) << 32) + rng.below(3),
        policy_hash: hashes[rng.below(hashes.len() as u64) as usize].clone(),
        entity_entry: None,
        center_entry: None,
        contract_id: None,
    }
}

/// The builtin rules with a cap of 300 yuan per entity and year: a document that settles
/// the same sums differently.
fn capped() -> PolicyDocument {
    let mut set = PolicySet::builtin();
    for v in &mut set.versions {
        v.annual_cap_yuan = Some(rust_decimal::Decimal::new(30_000, 2));
    }
    PolicyDocument::of(&set).unwrap()
}

/// The book in force equals the book read whole, and the gaps it shows equal the store's.
async fn assert_same(api: &support::Api, reader: &dyn LedgerStore, step: usize) {
    let ours = api.state.book();
    let whole = Book::read(reader, &PolicySet::builtin(), String::new()).await.unwrap();
    assert_eq!(ours.settlements, whole.settlements, "settlements after step {step}");
    assert_eq!(ours.months, whole.months, "months after step {step}");
    assert_eq!(ours.closed, whole.closed, "closed months after step {step}");
    assert_eq!(ours.policy.hash, whole.policy.hash, "document after step {step}");
    let mut codes: Vec<&CreditCode> = ours.entities.keys().collect();
    codes.sort();
    let mut theirs: Vec<&CreditCode> = whole.entities.keys().collect();
    theirs.sort();
    assert_eq!(codes, theirs, "entities after step {step}");
    for code in codes {
        assert_eq!(ours.entities[code], whole.entities[code], "the book of {code} after step {step}");
    }
    for period in whole.open_months() {
        let gap = subsidy_core::reconcile(period, &reader.usage_counts(period).await.unwrap(), &reader.ledger_counts(period).await.unwrap()).gap_records();
        let shown = api.state.metrics.reconciliation_gap_records.with_label_values(&[&period.to_string()]).get();
        assert_eq!(shown, i64::try_from(gap).unwrap(), "gap of {period} after step {step}");
    }
}

/// The support ledger in a SQLite file, written through one connection and served
/// through another: the folder (kept alive), the writer, the reader and the API over it.
async fn served_ledger() -> (tempfile::TempDir, SqliteStore, Arc<dyn LedgerStore>, support::Api) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let writer = SqliteStore::open(&path).unwrap();
    support::load(&writer).await;
    let reader: Arc<dyn LedgerStore> = Arc::new(SqliteStore::open(&path).unwrap());
    let api = support::api(reader.clone()).await;
    (dir, writer, reader, api)
}

#[tokio::test]
async fn the_incremental_book_equals_a_full_read_after_random_histories() {
    let (_dir, writer, reader, api) = served_ledger().await;
    random_histories(&writer, reader.as_ref(), &api).await;
}

/// The same on ClickHouse: the writer and the server on handles of their own (two streams),
/// the log kept from what the writer says each line replaces.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_clickhouse_the_incremental_book_equals_a_full_read_after_random_histories() {
    let url = std::env::var("SUBSIDY_CLICKHOUSE_URL").unwrap_or_else(|_| "http://127.0.0.1:8123".to_string());
    let config = ClickHouseConfig::new(&url).with_database(format!("subsidy_test_book_{}_{}", std::process::id(), rand_suffix()));
    let writer = ClickHouseStore::connect(&config).await.unwrap_or_else(|e| panic!("ClickHouse is required at {url}: {e}"));
    support::load(&writer).await;
    let reader: Arc<dyn LedgerStore> = Arc::new(ClickHouseStore::connect(&config).await.unwrap());
    let api = support::api(reader.clone()).await;
    let outcome = {
        let (writer, reader) = (writer.clone(), reader.clone());
        tokio::spawn(async move { random_histories(&writer, reader.as_ref(), &api).await }).await
    };
    writer.drop_database().await.unwrap();
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

fn rand_suffix() -> u32 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0)
}

/// Random histories written through `writer` (revisions, conflicts, replays, a close, usage
/// counts, a change of document); after each, the book the server advanced equals one read whole.
async fn random_histories(writer: &dyn LedgerStore, reader: &dyn LedgerStore, api: &support::Api) {
    let builtin = PolicyDocument::of(&PolicySet::builtin()).unwrap();
    let mut hashes = vec![builtin.hash.clone()];
    let (mut rng, mut offset) = (Rng(0x0b00_c022), 0);
    let mut written: Vec<WriteBatch> = Vec::new();
    for step in 0..40 {
        match step {
            12 => support::close(writer, &PolicySet::builtin(), "2025-11").await,
            20 => {
                let document = capped();
                writer.record_policy(&PolicyRecord::of(&builtin, 1, chrono::Utc::now(), "test")).await.unwrap();
                writer.record_policy(&PolicyRecord::of(&document, 2, chrono::Utc::now(), "test: a cap")).await.unwrap();
                hashes.push(document.hash);
            }
            _ if step % 7 == 3 => {
                let day = chrono::NaiveDate::from_ymd_opt(2025, 12, 1 + rng.below(28) as u32).unwrap();
                let count = DayCount { center_id: "c-pub".to_string(), day, records: rng.below(4), paid: rust_decimal::Decimal::new(rng.below(100_000) as i64, 2) };
                writer.write_usage_counts(&[CountRow { count, version: step as i64 }]).await.unwrap();
            }
            _ => {}
        }
        let batch = if rng.below(5) == 0 && !written.is_empty() {
            written[rng.below(written.len() as u64) as usize].clone()
        } else {
            let lines: Vec<LineRow> = (0..1 + rng.below(8)).map(|_| random_line(&mut rng, &mut offset, &hashes)).collect();
            WriteBatch { lines, ..WriteBatch::default() }
        };
        writer.write_batch(&batch).await.unwrap();
        written.push(batch);
        refresh(&api.state).await.unwrap();
        assert_same(api, reader, step).await;
    }
    let incremental = api.state.metrics.book_refresh.with_label_values(&["incremental"]).get_sample_count();
    assert!(incremental >= 20, "the refreshes after the first fold the changes: {incremental}");
    assert_eq!(api.state.metrics.book_refresh.with_label_values(&["full"]).get_sample_count(), 1, "only the first read is whole");
    assert!(api.state.metrics.book_changes.get() > 0);
    assert_eq!(verify(&api.state).await.unwrap(), Some(0), "the fold agrees with a full read");
}

#[tokio::test]
async fn a_change_the_log_missed_is_found_by_the_check_and_the_book_read_whole() {
    let (dir, _writer, reader, api) = served_ledger().await;
    let path = dir.path().join("ledger.db");
    assert_eq!(verify(&api.state).await.unwrap(), Some(0));
    // A hand edit of the table with its trigger dropped: the log never sees it.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("DROP TRIGGER ledger_lines_logged_update; UPDATE ledger_lines SET paid_amount = '1.00', base = '1.00' WHERE record_id = 'r-a2';").unwrap();
    assert!(refresh(&api.state).await.unwrap(), "the generation moved");
    let whole = Book::read(reader.as_ref(), &PolicySet::builtin(), String::new()).await.unwrap();
    assert_ne!(api.state.book().settlements, whole.settlements, "the fold missed the edit");
    let differ = verify(&api.state).await.unwrap().unwrap();
    assert_eq!(differ, 2, "A's October sum and the center-day of the edited line");
    assert_eq!(api.state.metrics.book_divergence.get(), 2);
    assert_same(&api, reader.as_ref(), 0).await;
    assert_eq!(api.state.metrics.book_refresh.with_label_values(&["full"]).get_sample_count(), 2, "read whole again");
}

/// Figures for the record, not a check (run by hand: `--ignored --nocapture`): what the
/// change log costs a SQLite writer, and a refresh read whole against one advanced by a
/// batch, over a ledger of `BOOK_LINES` lines (default 300,000).
#[tokio::test]
#[ignore]
async fn what_a_refresh_costs() {
    let n: usize = std::env::var("BOOK_LINES").ok().and_then(|v| v.parse().ok()).unwrap_or(300_000);
    let dir = tempfile::tempdir().unwrap();
    let (mut rng, mut offset) = (Rng(7), 0);
    let hashes = vec![PolicyDocument::of(&PolicySet::builtin()).unwrap().hash];
    let mut batches: Vec<WriteBatch> = (0..n / 10_000)
        .map(|i| {
            let mut lines: Vec<LineRow> = (0..10_000).map(|_| random_line(&mut rng, &mut offset, &hashes)).collect();
            for (j, l) in lines.iter_mut().enumerate() {
                l.record_id = format!("bench-{i}-{j}");
            }
            WriteBatch { lines, ..WriteBatch::default() }
        })
        .collect();
    for logged in [false, true] {
        let path = dir.path().join(format!("ledger-{logged}.db"));
        let store = SqliteStore::open(&path).unwrap();
        store.migrate().await.unwrap();
        if !logged {
            let conn = rusqlite::Connection::open(&path).unwrap();
            conn.execute_batch("DROP TRIGGER ledger_lines_logged_insert; DROP TRIGGER ledger_lines_logged_update; DROP TRIGGER ledger_lines_logged_delete;").unwrap();
        }
        let started = std::time::Instant::now();
        for b in &batches {
            store.write_batch(b).await.unwrap();
        }
        println!("write {n} lines, change log {logged}: {:.2} s", started.elapsed().as_secs_f64());
    }
    let path = dir.path().join("ledger-true.db");
    let reader: Arc<dyn LedgerStore> = Arc::new(SqliteStore::open(&path).unwrap());
    let writer = SqliteStore::open(&path).unwrap();
    let api = support::api(reader).await;
    let full = api.state.metrics.book_refresh.with_label_values(&["full"]).get_sample_sum();
    println!("refresh read whole: {full:.3} s ({} keys)", api.state.metrics.book_keys.get());
    // Revisions of 1,000 of the lines: each moves its sums.
    let batch = batches.pop().unwrap();
    let lines: Vec<LineRow> = batch.lines.into_iter().take(1_000).map(|mut l| {
        l.version += 1 << 32;
        l.paid_amount += rust_decimal::Decimal::ONE;
        l
    }).collect();
    writer.write_batch(&WriteBatch { lines, ..WriteBatch::default() }).await.unwrap();
    assert!(refresh(&api.state).await.unwrap());
    let incremental = api.state.metrics.book_refresh.with_label_values(&["incremental"]).get_sample_sum();
    println!("refresh advanced by 1,000 changes: {incremental:.4} s");
}
