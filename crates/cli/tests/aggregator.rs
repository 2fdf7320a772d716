//! The aggregator against the real broker and the real ClickHouse: `export`
//! equals `recompute` over the same records, byte for byte — through SIGKILLs
//! at random points, a full redelivery, and two members sharing the topic
//! while one dies.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use rand::Rng;
use std::time::Duration;
use subsidy_platform::generate::{generate, GenConfig};
use subsidy_platform::server::{spawn, SimConfig, SimState};
use subsidy_store::LedgerStore;
use support::*;

const TOKEN: &str = "test-token";

/// Eligible records in the ledger so far.
async fn settled_records(store: &subsidy_store::ClickHouseStore) -> u64 {
    store.line_sums().await.map(|s| s.iter().filter(|a| a.reason.is_none()).map(|a| a.records).sum()).unwrap_or(0)
}

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

    // Killed with SIGKILL three times, each at a random point once it has written something.
    let mut rng = rand::rng();
    for _ in 0..3 {
        let before = settled_records(&store).await;
        let child = spawn_aggregate(&prefix, &db, &g1, &["--batch-rows", "200", "--batch-linger-ms", "50", "--session-timeout-ms", "6000", "--max-poll-interval-ms", "15000"]);
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        while settled_records(&store).await == before {
            assert!(std::time::Instant::now() < deadline, "a run wrote nothing in 120 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..1500))).await;
        child.kill();
    }
    // Then run to the end.
    let stderr = spawn_aggregate(&prefix, &db, &g1, &["--exit-when-idle-secs", "4", "--session-timeout-ms", "6000", "--max-poll-interval-ms", "15000"]).finish();
    assert!(stderr.contains("aggregate: "), "{stderr}");
    assert_same(&export(&db, dir.path()), &expected, "after kills");

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
    // The second joins and gets its share; then the first dies with work left.
    let addr = free_addr();
    let survivor = spawn_aggregate(&prefix, &db, &group, &[&slow[..], &["--exit-when-idle-secs", "4", "--metrics-addr", &addr]].concat());
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while scrape_metric(&addr, "subsidy_aggregator_partitions_owned").await < 1.0 {
        assert!(std::time::Instant::now() < deadline, "the second member got no partition in 120 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
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
