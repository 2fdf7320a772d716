//! `collect`: the collector process — platform API to Kafka, with `/metrics`.

use crate::cli::CollectArgs;
use anyhow::{anyhow, Context, Result};
use std::time::Duration;
use subsidy_bus::{check_reachable, ensure_topics, idempotent_producer, Checkpoints};
use subsidy_pipeline::collector::{Collector, CollectorConfig, RecordSink};
use subsidy_pipeline::metrics::CollectorMetrics;
use subsidy_platform::client::{PlatformClient, RetryPolicy};

/// Runs `collect` until Ctrl-C (or caught up with `--exit-when-caught-up`).
pub async fn run(args: &CollectArgs) -> Result<()> {
    let bus = args.kafka.bus();
    check_reachable(&bus.brokers, Duration::from_secs(10)).await?;
    let client = PlatformClient::new(&args.platform.platform_url, &args.platform.platform_token, Duration::from_secs(args.platform.platform_timeout_secs))
        .map_err(|e| anyhow!("platform client: {e}"))?;
    // Fail fast on a wrong token or a redirect (not retried) or a platform that stays
    // unusable for half a minute; a passing fault (a 503, a body cut short) is only retried.
    let max_retry_after = Duration::from_secs(args.max_retry_after_secs);
    let startup = RetryPolicy { max_attempts: 5, max_elapsed: Some(Duration::from_secs(30)), max_retry_after, ..RetryPolicy::default() };
    subsidy_platform::client::with_retry(&startup, || client.fetch_centers(), |e, wait| tracing::warn!(cause = e.cause(), wait_ms = wait.as_millis() as u64, "platform check failed, retrying"))
        .await
        .map_err(|e| anyhow!("cannot use the platform at {}: {e}", args.platform.platform_url))?;
    ensure_topics(&bus.brokers, &bus.topic_specs(), Duration::from_secs(30)).await.context("creating Kafka topics")?;

    let registry = prometheus::Registry::new();
    let metrics = CollectorMetrics::register(&registry);
    let shutdown = crate::shutdown::token();
    let addr = subsidy_pipeline::metrics_http::serve_metrics(args.metrics_addr, registry, shutdown.clone()).await?;
    tracing::info!(%addr, "metrics at /metrics");

    let producer = idempotent_producer(&bus.brokers)?;
    let collector = Collector::new(
        client,
        RecordSink { producer: producer.clone(), topics: bus.topics.clone() },
        Checkpoints::new(producer, &bus.brokers, &bus.topics.checkpoints),
        metrics,
        CollectorConfig {
            id: args.collector_id.clone(),
            page_limit: args.page_limit.clamp(1, 1000),
            poll_interval: Duration::from_millis(args.poll_interval_ms),
            registry_interval: Duration::from_secs(args.registry_interval_secs),
            retry: RetryPolicy { max_attempts: u32::MAX, max_elapsed: None, max_retry_after, ..RetryPolicy::default() },
            exit_when_caught_up: args.exit_when_caught_up,
        },
    );
    let report = collector.run(shutdown.clone()).await?;
    shutdown.cancel();
    eprintln!("collect: {} pages, {} records produced, {} dead-lettered, cursor {:?}", report.pages, report.produced, report.dead_lettered, report.cursor);
    Ok(())
}
