//! `aggregate`: the aggregator process — Kafka to settled ledgers, with `/metrics`.

use crate::cli::AggregateArgs;
use anyhow::{anyhow, Result};
use std::time::Duration;
use subsidy_bus::{check_reachable, ensure_topics, idempotent_producer};
use subsidy_pipeline::aggregator::{Aggregator, AggregatorConfig, GroupTimings, Limits};
use subsidy_pipeline::metrics::AggregatorMetrics;

/// Runs `aggregate` until Ctrl-C (or idle with `--exit-when-idle-secs`).
pub async fn run(args: &AggregateArgs) -> Result<()> {
    let store = crate::store::open(&args.store).await?;
    let bus = args.kafka.bus();
    store.migrate().await.map_err(|e| anyhow!("migration failed: {e}"))?;
    let fence = crate::commands::policy::fence(&args.store, &bus.brokers, &args.topic_closes);
    let in_force = crate::ledger_policy::for_writing(store.as_ref(), args.policy.as_deref(), fence.as_ref(), "aggregate (the ledger's first document)").await?;
    tracing::info!(document = %in_force.document.hash, sequence = in_force.sequence, "settling under the ledger's policy document");
    let policy = in_force.document;
    check_reachable(&bus.brokers, Duration::from_secs(10)).await?;
    ensure_topics(&bus.brokers, &bus.topic_specs(), Duration::from_secs(30)).await?;

    let registry = prometheus::Registry::new();
    let metrics = AggregatorMetrics::register(&registry);
    let shutdown = crate::shutdown::token();
    let addr = subsidy_pipeline::metrics_http::serve_metrics(args.metrics_addr, registry, shutdown.clone()).await?;
    tracing::info!(%addr, "metrics at /metrics");
    let aggregator = Aggregator {
        store,
        producer: idempotent_producer(&bus.brokers)?,
        bus,
        policy,
        metrics,
        config: AggregatorConfig {
            group: args.group.clone(),
            limits: Limits { rows: args.batch_rows.max(1), bytes: args.batch_bytes.max(1), linger: Duration::from_millis(args.batch_linger_ms) },
            timings: GroupTimings {
                session_timeout: Duration::from_millis(args.session_timeout_ms.clamp(1_000, 300_000)),
                max_poll_interval: Duration::from_millis(args.max_poll_interval_ms.clamp(args.session_timeout_ms, 3_600_000)),
                fetch_wait: Duration::from_millis(u64::from(args.fetch_wait_ms.clamp(1, 10_000))),
            },
            rejoin_stalled: args.rejoin_stalled_partitions,
            exit_when_idle: args.exit_when_idle_secs.map(Duration::from_secs),
            ..AggregatorConfig::default()
        },
    };
    let report = aggregator.run(shutdown.clone()).await?;
    shutdown.cancel();
    eprintln!("aggregate: {} messages consumed in {} batches", report.consumed, report.batches);
    Ok(())
}
