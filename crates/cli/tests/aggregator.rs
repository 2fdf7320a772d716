//! The aggregator against the real broker and the real ClickHouse: `export`
//! equals `recompute` over the same records, byte for byte — through SIGKILLs
//! at random points, a full redelivery, and two members sharing the topic
//! while one dies; and late changes to a closed month become adjustments.

mod support;

use rand::Rng;
use rust_decimal::Decimal;
use std::str::FromStr;
use std::time::Duration;
use subsidy_platform::dataset::Dataset;
use subsidy_platform::generate::{generate, GenConfig};
use subsidy_platform::server::{spawn, Release, SimConfig, SimState};
use subsidy_store::LedgerStore;
use support::*;

const TOKEN: &str = "test-token";

/// Serves a generated data set, collects it into fresh topics and writes the files for `recompute`.
async fn collected(records: usize, seed: u64, dir: &std::path::Path) -> String {
    let generated = generate(&GenConfig { seed, records, ..GenConfig::default() }).unwrap();
    generated.dataset.write_files(dir).unwrap();
    let sim = spawn(SimState::new(generated.dataset, SimConfig::new(TOKEN)).unwrap()).await.unwrap();
    let prefix = unique("agg");
    let url = sim.base_url();
    let p = prefix.clone();
    tokio::task::spawn_blocking(move || collect_all(&p, &url, TOKEN)).await.unwrap();
    prefix
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_equals_recompute_through_kills_and_redelivery() {
    require_broker().await;
    let dir = tempfile::tempdir().unwrap();
    let prefix = collected(30_000, 21, dir.path()).await;
    let db = unique("agg_kill").replace('-', "_");
    let (g1, g2) = (unique("g1"), unique("g2"));
    let store = clickhouse(&db).await;
    let expected = recompute(dir.path());
    assert!(expected.lines().count() > 500, "too few settlements to be a test");

    // Killed with SIGKILL at random points, three times.
    let mut rng = rand::rng();
    for _ in 0..3 {
        let child = spawn_aggregate(&prefix, &db, &g1, &["--batch-rows", "2000", "--batch-linger-ms", "50", "--session-timeout-ms", "6000", "--max-poll-interval-ms", "15000"]);
        tokio::time::sleep(Duration::from_millis(rng.random_range(2500..6000))).await;
        child.kill();
    }
    let partial = store.settlements().await.unwrap();
    // Then run to the end.
    let stderr = spawn_aggregate(&prefix, &db, &g1, &["--exit-when-idle-secs", "4", "--session-timeout-ms", "6000", "--max-poll-interval-ms", "15000"]).finish();
    assert!(stderr.contains("aggregate: "), "{stderr}");
    assert_same(&export(&db, dir.path()), &expected, "after kills");
    assert!(partial.len() < expected.lines().count() - 1 || !partial.is_empty(), "kills left some state");

    // A whole redelivery (a new group reads everything again) changes nothing.
    spawn_aggregate(&prefix, &db, &g2, &["--exit-when-idle-secs", "4", "--batch-rows", "3000"]).finish();
    assert_same(&export(&db, dir.path()), &expected, "after a redelivery");
    store.drop_database().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_members_share_the_topic_and_one_dies() {
    require_broker().await;
    let dir = tempfile::tempdir().unwrap();
    let prefix = collected(30_000, 33, dir.path()).await;
    let db = unique("agg_pair").replace('-', "_");
    let store = clickhouse(&db).await;
    let expected = recompute(dir.path());
    let group = unique("pair");
    let slow = ["--batch-rows", "100", "--batch-linger-ms", "20", "--session-timeout-ms", "6000", "--max-poll-interval-ms", "15000"];
    // The first member takes every partition and works through them slowly.
    let doomed = spawn_aggregate(&prefix, &db, &group, &slow);
    tokio::time::sleep(Duration::from_secs(4)).await;
    // The second joins and gets half; then the first dies with work left.
    let survivor = spawn_aggregate(&prefix, &db, &group, &[&slow[..], &["--exit-when-idle-secs", "4"]].concat());
    tokio::time::sleep(Duration::from_secs(5)).await;
    let doomed_log = doomed.kill();
    let log = survivor.finish();
    assert!(doomed_log.contains("partitions assigned"), "the first member never got partitions");
    let assigned: Vec<&str> = log.lines().filter(|l| l.contains("partitions assigned")).collect();
    assert!(assigned.len() >= 2, "the survivor was not reassigned after the death: {assigned:?}");
    // It ended up owning every partition (the topic has 8).
    assert!(assigned.last().is_some_and(|l| l.contains("=8")), "the survivor did not take over every partition: {assigned:?}");
    assert_same(&export(&db, dir.path()), &expected, "after a member died");
    store.drop_database().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_changes_to_a_closed_month_become_adjustments() {
    require_broker().await;
    let dir = tempfile::tempdir().unwrap();
    let golden = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/golden");
    let mut data = Dataset::from_dir(&golden).unwrap();
    let initial = data.records.len();
    // A late correction of r11 (蚌埠, v2, 2025-09): paid 250.55 → 500.00.
    let late = data.records.iter().find(|l| l.contains("\"r11\"")).unwrap().replace("\"revision\": 1", "\"revision\": 2").replace("250.55", "500.00");
    data.records.push(late);
    let state = SimState::new(data, SimConfig { release: Release::Manual { initial }, ..SimConfig::new(TOKEN) }).unwrap();
    let sim = spawn(state.clone()).await.unwrap();
    let prefix = unique("agg-close");
    let db = unique("agg_close").replace('-', "_");
    let group = unique("close");
    let store = clickhouse(&db).await;
    let url = sim.base_url();
    let (p, u) = (prefix.clone(), url.clone());
    tokio::task::spawn_blocking(move || collect_all(&p, &u, TOKEN)).await.unwrap();
    spawn_aggregate(&prefix, &db, &group, &["--exit-when-idle-secs", "3"]).finish();
    assert_eq!(export(&db, dir.path()), std::fs::read_to_string(golden.join("expected_settlements.csv")).unwrap());

    let o = meter().args(["close", "--clickhouse-url", &clickhouse_url(), "--clickhouse-database", &db, "--period", "2025-09"]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = meter().args(["close", "--clickhouse-url", &clickhouse_url(), "--clickhouse-database", &db, "--period", "2025-09"]).output().unwrap();
    assert!(!o.status.success(), "closing twice must fail");
    let frozen = store.closed_settlements().await.unwrap();
    assert_eq!(frozen.len(), 3, "2025-09 had three settlements: {frozen:?}");

    state.release_to(initial + 1);
    let (p, u) = (prefix.clone(), url.clone());
    tokio::task::spawn_blocking(move || collect_all(&p, &u, TOKEN)).await.unwrap();
    spawn_aggregate(&prefix, &db, &group, &["--exit-when-idle-secs", "3"]).finish();

    assert_eq!(store.closed_settlements().await.unwrap(), frozen, "a closed month moved");
    let adjustments = store.adjustments().await.unwrap();
    assert_eq!(adjustments.len(), 1, "{adjustments:?}");
    let a = &adjustments[0];
    assert_eq!((a.record_id.as_str(), a.revision), ("r11", 2));
    assert_eq!((a.original_period.to_string(), a.target_period.to_string()), ("2025-09".into(), "2025-10".into()));
    assert_eq!(a.delta_base, Decimal::from_str("249.45").unwrap());
    assert_eq!(a.delta_contribution, Decimal::from_str("59.868").unwrap());
    store.drop_database().await.unwrap();
}
