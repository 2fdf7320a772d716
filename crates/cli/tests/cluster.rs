//! The pipeline on a replicated ClickHouse cluster: ZooKeeper and two
//! ClickHouse servers forming one shard with two replicas
//! (`deploy/dev/services.sh start cluster`). The schema is created with
//! `migrate --cluster subsidy`; the collector and two aggregators run
//! against the first replica while the second replica is stopped for a
//! while mid-run and started again; then one aggregator stops and the other
//! finishes. At the end both replicas hold the same
//! ledger: `export` equals `recompute` read through either, and once every
//! month is closed, the statements read through either fix exactly what
//! `recompute` settles.
//!
//! Alone in its test binary, because it stops a server of the shared cluster.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;
use subsidy_platform::generate::{generate, GenConfig};
use subsidy_platform::server::{spawn, Release, SimConfig, SimState};
use support::*;

const TOKEN: &str = "test-token";
const CLUSTER: &str = "subsidy";

fn services(action: &str, service: &str) {
    let script = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/dev/services.sh");
    let ok = Command::new("bash").arg(script).args([action, service]).status().unwrap().success();
    assert!(ok, "services.sh {action} {service} failed");
}

/// The HTTP URL of replica `n` (as `deploy/dev/cluster.sh` places them).
fn replica_url(n: u16) -> String {
    let base: u16 = std::env::var("SUBSIDY_CLUSTER_HTTP_PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(8124);
    format!("http://127.0.0.1:{}", base + n - 1)
}

fn store_flags(n: u16, db: &str) -> Vec<String> {
    vec!["--clickhouse-url".into(), replica_url(n), "--clickhouse-database".into(), db.into()]
}

/// Runs a subcommand against replica `n`; its stdout, or a failure with its stderr.
fn meter_on(n: u16, db: &str, args: &[&str]) -> String {
    let o = meter().args(args).args(store_flags(n, db)).output().unwrap();
    assert!(o.status.success(), "{args:?} on replica {n} failed: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A CSV subcommand (`export`, `statements`) against replica `n`.
fn csv_on(n: u16, db: &str, command: &str, dir: &std::path::Path) -> String {
    let out = dir.join(format!("{command}-{n}-{}.csv", unique("out")));
    meter_on(n, db, &[command, "--out", &out.display().to_string()]);
    std::fs::read_to_string(out).unwrap()
}

fn query(n: u16, sql: &str) -> String {
    let o = Command::new("curl").args(["-sf", "--data-binary", sql, &replica_url(n)]).output().unwrap();
    assert!(o.status.success(), "query on replica {n} failed: {sql}");
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

fn spawn_member(prefix: &str, db: &str, group: &str, addr: &str) -> Proc {
    let mut command = meter();
    command
        .arg("aggregate")
        .args(topic_args(prefix))
        .args(store_flags(1, db))
        .args(["--group", group, "--rejoin-stalled-partitions", "--metrics-addr", addr])
        .args(["--batch-rows", "500", "--batch-linger-ms", "50", "--exit-when-idle-secs", "20"])
        .env("RUST_LOG", "info");
    Proc::start("aggregate", command)
}

async fn collect_into(prefix: &str, url: &str) {
    let (p, u) = (prefix.to_string(), url.to_string());
    tokio::task::spawn_blocking(move || collect_all(&p, &u, TOKEN)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pipeline_runs_on_a_replicated_cluster_through_a_replica_outage() {
    require_broker().await;
    services("start", "cluster");
    let dir = tempfile::tempdir().unwrap();
    let generated = generate(&GenConfig { seed: 45, records: 30_000, ..GenConfig::default() }).unwrap();
    generated.dataset.write_files(dir.path()).unwrap();
    let state = SimState::new(generated.dataset, SimConfig { release: Release::Manual { initial: 10_000 }, ..SimConfig::new(TOKEN) }).unwrap();
    let sim = spawn(state.clone()).await.unwrap();
    let prefix = unique("cluster");
    collect_into(&prefix, &sim.base_url()).await;
    let db = unique("cluster").replace('-', "_");
    let migrated = meter().args(["migrate", "--cluster", CLUSTER]).args(store_flags(1, &db)).output().unwrap();
    assert!(migrated.status.success(), "migrate --cluster failed: {}", String::from_utf8_lossy(&migrated.stderr));
    assert_eq!(query(2, &format!("SELECT engine FROM system.tables WHERE database = '{db}' AND name = 'ledger_lines_local'")), "ReplicatedReplacingMergeTree");
    assert_eq!(query(2, &format!("SELECT engine FROM system.tables WHERE database = '{db}' AND name = 'ledger_lines'")), "Distributed");

    let group = unique("cluster");
    let (addr1, addr2) = (free_addr(), free_addr());
    let first = spawn_member(&prefix, &db, &group, &addr1);
    let second = spawn_member(&prefix, &db, &group, &addr2);
    let written = || async { scrape_metric(&addr1, "subsidy_aggregator_batches_written_total").await + scrape_metric(&addr2, "subsidy_aggregator_batches_written_total").await };
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while written().await < 1.0 {
        assert!(std::time::Instant::now() < deadline, "no batch written in 120 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Replica 2 goes away; the rest of the records arrive and are written while it is down.
    services("stop", "replica2");
    let before = written().await;
    state.release_to(state.total());
    collect_into(&prefix, &sim.base_url()).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(written().await > before, "nothing was written while replica 2 was down");
    assert_promtool_clean(&scrape(&addr1).await);
    services("start", "replica2");
    // Two live members never exit when idle (each waits to own every partition), so the
    // second is stopped (SIGTERM: it leaves the group) and the first finishes the work.
    let stopped = Command::new("kill").args(["-TERM", &second.pid().to_string()]).status().unwrap();
    assert!(stopped.success());
    let (log1, log2) = tokio::task::spawn_blocking(move || {
        let log2 = second.finish();
        (first.finish(), log2)
    })
    .await
    .unwrap();
    assert!(log1.contains("partitions assigned") && log2.contains("partitions assigned"), "both members should have owned partitions");
    assert_quiet("the aggregator stopped with SIGTERM", &log2);

    // Replica 2 catches up from the replication log.
    for table in ["record_copies", "ledger_lines", ".inner.ledger_lines_by_user", "rejections", "resettle_marks", "registry_entities", "registry_centers", "registry_entity_entries", "registry_center_entries"] {
        query(2, &format!("SYSTEM SYNC REPLICA {db}.`{table}_local`"));
    }
    let expected = recompute(dir.path());
    assert_same(&csv_on(1, &db, "export", dir.path()), &expected, "read through replica 1");
    assert_same(&csv_on(2, &db, "export", dir.path()), &expected, "read through replica 2 after its outage");

    // Close every month with lines, in order, then read the statements through both replicas.
    let months: Vec<String> = settled(&expected).keys().map(|(_, m)| m.clone()).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
    for m in &months {
        meter_on(1, &db, &["close", "--period", m]);
    }
    query(2, &format!("SYSTEM SYNC REPLICA {db}.statements_local"));
    query(2, &format!("SYSTEM SYNC REPLICA {db}.period_closures_local"));
    let statements = csv_on(1, &db, "statements", dir.path());
    assert_eq!(csv_on(2, &db, "statements", dir.path()), statements, "both replicas hold the same statements");
    let want: BTreeMap<_, _> = settled(&expected).into_iter().filter(|(_, (b, s))| !b.is_zero() || !s.is_zero()).collect();
    let got: BTreeMap<_, _> = fixed(&statements).into_iter().filter(|(_, (b, s))| !b.is_zero() || !s.is_zero()).collect();
    assert_eq!(got, want, "the statements fix what recompute settles");

    let store = subsidy_store::ClickHouseStore::connect(&subsidy_store::ClickHouseConfig::new(replica_url(1)).with_database(db)).await.unwrap();
    store.drop_cluster_database(CLUSTER).await.unwrap();
}
