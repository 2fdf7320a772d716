//! Runs the conformance suite against both stores: SQLite (in memory) and
//! ClickHouse (one fresh database per case, dropped afterwards). ClickHouse
//! is found at `SUBSIDY_CLICKHOUSE_URL` (default `http://127.0.0.1:8123`);
//! when it is unreachable the ClickHouse cases fail, they never skip.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod conformance;

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use subsidy_store::{ClickHouseConfig, ClickHouseStore, LedgerStore, SqliteStore};

fn clickhouse_url() -> String {
    std::env::var("SUBSIDY_CLICKHOUSE_URL").unwrap_or_else(|_| "http://127.0.0.1:8123".to_string())
}

/// A fresh, uniquely named database for one case.
async fn fresh_clickhouse(case: &str) -> ClickHouseStore {
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    let name = format!("subsidy_test_{case}_{}_{nanos}_{}", std::process::id(), SEQ.fetch_add(1, Ordering::Relaxed));
    let url = clickhouse_url();
    match ClickHouseStore::connect(&ClickHouseConfig::new(&url).with_database(name)).await {
        Ok(store) => store,
        Err(e) => panic!(
            "ClickHouse is required for the ClickHouse store tests but {url} does not answer: {e}. \
             Start it with `bash deploy/dev/services.sh start clickhouse` or point SUBSIDY_CLICKHOUSE_URL at a server."
        ),
    }
}

/// Runs `case` against a fresh ClickHouse database, dropping it whether the case passes or panics.
async fn with_clickhouse<F, Fut>(name: &str, case: F)
where
    F: FnOnce(Arc<ClickHouseStore>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let store = Arc::new(fresh_clickhouse(name).await);
    let outcome = tokio::spawn(case(Arc::clone(&store))).await;
    store.drop_database().await.unwrap();
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

macro_rules! sqlite_cases {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $case() {
                    let store = subsidy_store::SqliteStore::open_in_memory().unwrap();
                    crate::conformance::$case(&store).await;
                }
            )*
        }
    };
}

macro_rules! clickhouse_cases {
    ($($case:ident),* $(,)?) => {
        mod clickhouse {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    crate::with_clickhouse(stringify!($case), |store| async move { crate::conformance::$case(&*store).await }).await;
                }
            )*
        }
    };
}

for_each_case!(sqlite_cases);
for_each_case!(clickhouse_cases);

#[tokio::test]
async fn sqlite_file_uses_wal_and_persists() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    {
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.migrate().await.unwrap().len(), 12);
        let u = conformance::code(70);
        let l = conformance::line("persist", 1, u, "2025-09", conformance::pos(0, 1), "1.00", "0.36");
        store.write_batch(&conformance::batch_of(vec![l])).await.unwrap();
    }
    assert!(dir.path().join("ledger.db-wal").exists() || dir.path().join("ledger.db").exists());
    let store = SqliteStore::open(&path).unwrap();
    assert!(store.migrate().await.unwrap().is_empty());
    assert_eq!(store.lines_of(&["persist".to_string()]).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_database_in_the_retired_layout_is_refused() {
    let store = SqliteStore::open_in_memory().unwrap();
    store.migrate().await.unwrap();
    // A database migrated by the releases that kept settlements per member.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE schema_migrations (id TEXT PRIMARY KEY, applied_at TEXT NOT NULL); INSERT INTO schema_migrations VALUES ('0001_ledger', 'x'), ('0002_settlements', 'x');").unwrap();
    }
    let old = SqliteStore::open(&path).unwrap();
    let err = old.migrate().await.unwrap_err();
    assert!(err.to_string().contains("retired ledger layout"), "{err}");
    assert!(!err.is_retryable());
}

/// Writers at once, each through its own handle: on ClickHouse each handle is a stream of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn clickhouse_writers_at_once_fold_to_a_full_read() {
    let first = fresh_clickhouse("writers_at_once").await;
    let config = ClickHouseConfig::new(&clickhouse_url()).with_database(first.database());
    let mut handles: Vec<Arc<dyn LedgerStore>> = vec![Arc::new(first.clone())];
    for _ in 0..3 {
        handles.push(Arc::new(ClickHouseStore::connect(&config).await.unwrap()));
    }
    let outcome = tokio::spawn(conformance::writers_at_once_fold_to_a_full_read(handles)).await;
    first.drop_database().await.unwrap();
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// A line inserted by hand (no stamp) is summed by a base read, and does not stop it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clickhouse_a_line_inserted_without_a_stamp_is_summed_from_the_lines() {
    let store = fresh_clickhouse("unstamped").await;
    store.migrate().await.unwrap();
    let u = conformance::code(71);
    store.write_batch(&conformance::batch_of(vec![conformance::line("stamped", 1, u, "2025-09", conformance::pos(0, 1), "10.00", "3.60")])).await.unwrap();
    let raw = ::clickhouse::Client::default().with_url(clickhouse_url()).with_database(store.database()).with_validation(false);
    raw.query("INSERT INTO ledger_lines (record_id, user_credit_code, period, usage_date, center_id, paid_amount, base, contribution, version) SELECT concat('hand-', record_id), user_credit_code, period, usage_date, center_id, paid_amount, base, contribution, version FROM ledger_lines")
        .execute()
        .await
        .unwrap();
    let outcome = store.ledger_base().await;
    let sums = store.line_sums().await;
    store.drop_database().await.unwrap();
    let base = outcome.unwrap().unwrap();
    assert_eq!(base.sums.line_sums(), sums.unwrap(), "both lines, the stamped and the hand-inserted");
    assert_eq!(base.sums.line_sums().iter().map(|s| s.records).sum::<u64>(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_writers_at_once_fold_to_a_full_read() {
    let store: Arc<dyn LedgerStore> = Arc::new(SqliteStore::open_in_memory().unwrap());
    conformance::writers_at_once_fold_to_a_full_read(vec![Arc::clone(&store), Arc::clone(&store), Arc::clone(&store)]).await;
}

#[tokio::test]
async fn clickhouse_unreachable_is_retryable() {
    // Port 9 (discard) is closed on test machines: the error must say "retry later".
    let store = ClickHouseStore::new(&ClickHouseConfig::new("http://127.0.0.1:9")).unwrap();
    let err = store.ping().await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert!(ClickHouseStore::new(&ClickHouseConfig::new("http://127.0.0.1:8123").with_database("bad-name")).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_add_column_already_applied_is_skipped_when_its_migration_runs_again() {
    let store = fresh_clickhouse("rerun_alter").await;
    store.migrate().await.unwrap();
    let db: String = {
        let probe = ::clickhouse::Client::default().with_url(clickhouse_url()).with_validation(false);
        let mut names: Vec<String> = probe.query("SELECT name FROM system.databases WHERE name LIKE 'subsidy_test_rerun_alter_%'").fetch_all().await.unwrap();
        names.sort();
        names.pop().unwrap()
    };
    let raw = ::clickhouse::Client::default().with_url(clickhouse_url()).with_database(&db).with_validation(false);
    // As if the migration stopped after its ALTER, before its row was written.
    raw.query("DROP TABLE schema_migrations").execute().await.unwrap();
    raw.query("CREATE TABLE schema_migrations (id String, applied_at DateTime) ENGINE = ReplacingMergeTree ORDER BY id").execute().await.unwrap();
    raw.query("INSERT INTO schema_migrations SELECT arrayJoin(['0001_ledger', '0002_statements', '0003_registry', '0004_lines_by_user']), now()")
        .execute()
        .await
        .unwrap();
    let outcome = store.migrate().await;
    store.drop_database().await.unwrap();
    assert_eq!(outcome.unwrap(), vec!["0005_line_accelerator".to_string(), "0006_close_fence".to_string(), "0007_policy_document".to_string(), "0008_registry_as_of".to_string(), "0009_programme".to_string(), "0010_completeness".to_string(), "0011_funding".to_string(), "0012_tlog".to_string(), "0013_line_changes".to_string()]);
}

/// Several writers (each its own connection, as separate processes would be) append at
/// once: steps that all fit all land, numbered without gaps; of several claims of one
/// month exactly one lands and the others are refused naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_steps_on_sqlite_are_fenced_by_the_transaction() {
    use subsidy_core::programme::{Action, Party};
    use subsidy_core::{PolicySet, StatementKind};
    use subsidy_store::{append_step, AppendError, Step};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let first = SqliteStore::open(&path).unwrap();
    first.migrate().await.unwrap();
    let users: Vec<_> = (0..6).map(|i| conformance::code(80 + i)).collect();
    let lines: Vec<_> = users.iter().map(|u| conformance::fixtures::statement(*u, "2025-09", "2025-09", StatementKind::Settled, "10.00", "2.00")).collect();
    first.commit_close(&conformance::fixtures::closure("2025-09", "close-a"), &lines).await.unwrap();
    let claim = |u: subsidy_core::CreditCode| Step {
        party: Party::Entity { credit_code: u },
        label: format!("entity:{u}"),
        at: conformance::fixtures::utc("2025-10-02T08:00:00Z"),
        action: Action::Claim { credit_code: u, city: "合肥市".into(), months: vec![conformance::fixtures::month("2025-09")] },
    };
    let run = |steps: Vec<Step>| {
        let path = path.clone();
        async move {
            let tasks: Vec<_> = steps
                .into_iter()
                .map(|step| {
                    let store = SqliteStore::open(&path).unwrap();
                    tokio::spawn(async move { append_step(&store, None, &PolicySet::builtin(), step).await })
                })
                .collect();
            let mut out = Vec::new();
            for t in tasks {
                out.push(t.await.unwrap());
            }
            out
        }
    };
    // Six entities claim their own month at once: all land, 1..=6.
    let outcomes = run(users.iter().map(|u| claim(*u)).collect()).await;
    let mut sequences: Vec<u64> = outcomes.iter().map(|o| o.as_ref().unwrap().sequence).collect();
    sequences.sort_unstable();
    assert_eq!(sequences, (1..=6).collect::<Vec<_>>());
    // A second claim of the same month, five at once (bureau for the first entity): all refused.
    let outcomes = run((0..5).map(|_| Step { party: Party::Bureau, ..claim(users[0]) }).collect()).await;
    for o in outcomes {
        match o {
            Err(AppendError::Refused(e)) => assert!(e.to_string().contains("claimed already"), "{e}"),
            other => panic!("a claimed month is refused, got {other:?}"),
        }
    }
    assert_eq!(first.programme_events().await.unwrap().len(), 6);
}
