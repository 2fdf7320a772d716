//! Write throughput of `write_batch`: N accepted records (≈400-byte raw
//! text each) plus N ledger lines per batch, as the aggregator writes them.
//! Ignored by default; run with
//! `cargo test --release -p subsidy-store --test throughput -- --ignored --nocapture`.
//! `SUBSIDY_BENCH_RECORDS` sets N (default 100000), `SUBSIDY_BENCH_BATCHES` the batch count (default 3).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::DateTime;
use rust_decimal::Decimal;
use std::time::Instant;
use subsidy_core::{CreditCode, Period};
use subsidy_store::{AcceptedRecordRow, BusPosition, ClickHouseConfig, ClickHouseStore, LedgerStore, LineRow, SqliteStore, WriteBatch};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn batch(n: usize, first: usize) -> WriteBatch {
    let users: Vec<CreditCode> = (0..500).map(|i| CreditCode::complete(&format!("913401000000{i:05}")).unwrap()).collect();
    let usage_end = DateTime::parse_from_rfc3339("2025-09-15T10:00:00+08:00").unwrap();
    let mut b = WriteBatch::default();
    for i in first..first + n {
        let id = format!("rec-{i:012}");
        let user = users[i % users.len()];
        let position = BusPosition { partition: (i % 12) as i32, offset: i as i64 };
        let base = Decimal::new(12_345 + (i % 1000) as i64, 2);
        let raw = format!(
            r#"{{"record_id":"{id}","revision":1,"user_credit_code":"{user}","center_id":"hefei-ai-01","resource_type":"gpu","gpu_model":"A800","gpu_hours":"12.50","usage_start":"2025-09-15T08:00:00+08:00","usage_end":"2025-09-15T10:00:00+08:00","unit_price":"9.88","amount":"{base}","paid_amount":"{base}","currency":"CNY","payment_status":"paid","updated_at":"2025-09-15T10:05:00+08:00","invoice":"FP-2025-000000","pad":"xxxxxxxxxxxxxxxxxxxxxx"}}"#
        );
        b.records.push(AcceptedRecordRow {
            record_id: id.clone(),
            revision: 1,
            user_credit_code: user,
            center_id: "hefei-ai-01".to_string(),
            usage_end,
            updated_at: usage_end,
            amount: base,
            paid_amount: base,
            payment_status: "paid".to_string(),
            raw,
            position,
        });
        b.lines.push(LineRow {
            record_id: id,
            revision: 1,
            user_credit_code: user,
            center_id: "hefei-ai-01".to_string(),
            period: Period::parse("2025-09").unwrap(),
            policy_version: "2025-v1".to_string(),
            rate: Decimal::new(3, 1),
            uplift: Decimal::new(12, 1),
            base,
            contribution: base * Decimal::new(36, 2),
            reason: None,
            position,
        });
    }
    b
}

async fn measure(label: &str, store: &dyn LedgerStore) {
    let n = env_usize("SUBSIDY_BENCH_RECORDS", 100_000);
    let batches = env_usize("SUBSIDY_BENCH_BATCHES", 3);
    store.migrate().await.unwrap();
    let mut total = std::time::Duration::ZERO;
    for k in 0..batches {
        let b = batch(n, k * n);
        let raw_bytes: usize = b.records.iter().map(|r| r.raw.len()).sum();
        let t = Instant::now();
        store.write_batch(&b).await.unwrap();
        let dt = t.elapsed();
        total += dt;
        println!(
            "{label}: batch {k}: {n} records + {n} lines ({:.1} MB raw) in {:.3} s = {:.0} records/s",
            raw_bytes as f64 / 1e6,
            dt.as_secs_f64(),
            n as f64 / dt.as_secs_f64()
        );
    }
    let ids: Vec<String> = (0..n).map(|i| format!("rec-{i:012}")).collect();
    let t = Instant::now();
    let found = store.standing_lines(&ids).await.unwrap();
    println!("{label}: standing_lines of {n} ids: {} found in {:.3} s", found.len(), t.elapsed().as_secs_f64());
    let t = Instant::now();
    let sums = store.accrual_sums(&(0..12).collect::<Vec<i32>>()).await.unwrap();
    println!("{label}: accrual_sums over {} lines: {} groups in {:.3} s", n * batches, sums.len(), t.elapsed().as_secs_f64());
    println!("{label}: overall {:.0} records/s (each with its line)", (n * batches) as f64 / total.as_secs_f64());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run explicitly with --ignored --nocapture"]
async fn clickhouse_write_batch_throughput() {
    let url = std::env::var("SUBSIDY_CLICKHOUSE_URL").unwrap_or_else(|_| "http://127.0.0.1:8123".to_string());
    let db = format!("subsidy_bench_{}", std::process::id());
    let store = ClickHouseStore::connect(&ClickHouseConfig::new(url).with_database(db)).await.unwrap();
    measure("clickhouse", &store).await;
    store.drop_database().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run explicitly with --ignored --nocapture"]
async fn sqlite_write_batch_throughput() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("bench.db")).unwrap();
    measure("sqlite", &store).await;
}
