//! ClickHouse stopped under a running aggregator: it waits and retries,
//! its metrics show the backlog and the errors, and once ClickHouse is back
//! nothing is lost — `export` equals `recompute`. Part of the records reach
//! Kafka only once ClickHouse is down, so the aggregator has work during the
//! outage however fast it settled the rest.
//!
//! Alone in its test binary, because it stops the shared ClickHouse. The
//! aggregator's idle exit is long enough to outlast stopping ClickHouse and
//! collecting the rest on a slow machine: it must still be running when
//! the records of the outage arrive.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::Command;
use std::time::Duration;
use subsidy_platform::generate::{generate, GenConfig};
use subsidy_platform::server::{spawn, Release, SimConfig, SimState};
use subsidy_store::LedgerStore;
use support::*;

const TOKEN: &str = "test-token";

fn services(action: &str) {
    let script = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/dev/services.sh");
    let ok = Command::new("bash").arg(script).args([action, "clickhouse"]).status().unwrap().success();
    assert!(ok, "services.sh {action} clickhouse failed");
}

fn metric_sum(text: &str, name: &str) -> f64 {
    text.lines().filter(|l| l.starts_with(name)).filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok()).sum()
}

async fn collect_into(prefix: &str, url: &str) {
    let (p, u) = (prefix.to_string(), url.to_string());
    tokio::task::spawn_blocking(move || collect_all(&p, &u, TOKEN)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aggregator_waits_out_a_clickhouse_outage() {
    require_broker().await;
    let dir = tempfile::tempdir().unwrap();
    let generated = generate(&GenConfig { seed: 44, records: 30_000, ..GenConfig::default() }).unwrap();
    generated.dataset.write_files(dir.path()).unwrap();
    let state = SimState::new(generated.dataset, SimConfig { release: Release::Manual { initial: 10_000 }, ..SimConfig::new(TOKEN) }).unwrap();
    let sim = spawn(state.clone()).await.unwrap();
    let prefix = unique("outage");
    collect_into(&prefix, &sim.base_url()).await;
    let db = unique("agg_outage").replace('-', "_");
    let store = clickhouse(&db).await;
    store.migrate().await.unwrap();

    let metrics_addr = "127.0.0.1:19477";
    let mut command = meter();
    command
        .arg("aggregate")
        .args(topic_args(&prefix))
        .args(["--clickhouse-url", &clickhouse_url(), "--clickhouse-database", &db, "--group", &unique("outage"), "--metrics-addr", metrics_addr])
        .args(["--batch-rows", "100", "--batch-linger-ms", "20", "--exit-when-idle-secs", "25"])
        .env("RUST_LOG", "warn");
    let child = Proc::start("aggregate", command);
    // Let it join and write a little, then take ClickHouse away.
    let mut written = 0.0;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        written = metric_sum(&scrape(metrics_addr).await, "subsidy_aggregator_batches_written_total");
        if written >= 1.0 {
            break;
        }
    }
    assert!(written >= 1.0, "the aggregator wrote nothing before the outage");
    services("stop");
    // The rest of the records arrive while ClickHouse is down.
    state.release_to(state.total());
    collect_into(&prefix, &sim.base_url()).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let during = scrape(metrics_addr).await;
    services("start");
    let log = tokio::task::spawn_blocking(move || child.finish()).await.unwrap();

    assert!(!during.is_empty(), "the aggregator no longer answered during the outage");
    assert_promtool_clean(&during);
    assert!(metric_sum(&during, "subsidy_aggregator_store_errors_total{kind=\"unavailable\"}") >= 1.0, "no store errors counted:\n{during}");
    assert!(metric_sum(&during, "subsidy_aggregator_last_write_age_seconds") >= 3.0, "time since last write did not grow:\n{during}");
    assert!(metric_sum(&during, "subsidy_aggregator_consumer_lag_messages") >= 1.0, "the lag metric did not show the backlog:\n{during}");
    let (got, want) = (export(&db, dir.path()), recompute(dir.path()));
    if got != want {
        eprintln!("the aggregator's log:\n{log}");
    }
    assert_same(&got, &want, "after the outage");
    store.drop_database().await.unwrap();
}
