//! `demo`: the whole pipeline in one process with nothing to install — the
//! platform simulator, the collector, an in-process Kafka-protocol broker
//! (librdkafka's mock cluster, so the same Kafka code runs), the aggregator,
//! the embedded SQLite ledger and `/metrics`.

mod summary;

use crate::cli::DemoArgs;
use anyhow::{anyhow, Context, Result};
use std::sync::Arc;
use std::time::{Duration, Instant};
use subsidy_bus::{ensure_topics, idempotent_producer, BusConfig, Checkpoints, Topics};
use subsidy_core::PolicyDocument;
use subsidy_pipeline::aggregator::{Aggregator, AggregatorConfig, Limits};
use subsidy_pipeline::collector::{Collector, CollectorConfig, RecordSink};
use subsidy_pipeline::metrics::{AggregatorMetrics, CollectorMetrics};
use subsidy_platform::client::PlatformClient;
use subsidy_platform::generate::{build_dataset, GenConfig};
use subsidy_platform::server::{spawn, SimConfig, SimState};
use subsidy_store::{ClickHouseConfig, ClickHouseStore, LedgerStore, SqliteStore};
use tokio_util::sync::CancellationToken;

const TOKEN: &str = "demo-token";

/// Average bytes of records per partition of the in-process broker. It keeps 5 MiB per
/// partition; keys (record ids) spread records evenly, and a fifth of the limit leaves
/// room for the unevenness of hashing.
const MOCK_PARTITION_BUDGET: usize = 1 << 20;

async fn open_store(args: &DemoArgs) -> Result<(Arc<dyn LedgerStore>, String)> {
    Ok(match &args.clickhouse_url {
        Some(url) => {
            let config = ClickHouseConfig { url: url.clone(), database: args.clickhouse_database.clone(), user: "default".into(), password: std::env::var("SUBSIDY_CLICKHOUSE_PASSWORD").unwrap_or_default() };
            let store = ClickHouseStore::connect(&config).await.map_err(|e| anyhow!("cannot reach ClickHouse at {url}: {e}"))?;
            (Arc::new(store), format!("--clickhouse-url {url} --clickhouse-database {}", args.clickhouse_database))
        }
        None => {
            if args.sqlite.exists() {
                std::fs::remove_file(&args.sqlite).with_context(|| format!("cannot replace {}", args.sqlite.display()))?;
            }
            let store = SqliteStore::open(&args.sqlite).map_err(|e| anyhow!("cannot open {}: {e}", args.sqlite.display()))?;
            (Arc::new(store), format!("--sqlite {}", args.sqlite.display()))
        }
    })
}

fn collector(bus: &BusConfig, sim_url: &str, metrics: CollectorMetrics, exit_when_caught_up: bool) -> Result<Collector> {
    let producer = idempotent_producer(&bus.brokers)?;
    Ok(Collector::new(
        PlatformClient::new(sim_url, TOKEN, Duration::from_secs(30)).map_err(|e| anyhow!("{e}"))?,
        RecordSink { producer: producer.clone(), topics: bus.topics.clone() },
        Checkpoints::new(producer, &bus.brokers, &bus.topics.checkpoints),
        metrics,
        CollectorConfig { page_limit: 1000, poll_interval: Duration::from_secs(2), registry_interval: Duration::from_secs(10), exit_when_caught_up, ..CollectorConfig::default() },
    ))
}

fn aggregator(bus: &BusConfig, store: Arc<dyn LedgerStore>, policy: PolicyDocument, metrics: AggregatorMetrics, exit_when_idle: Option<Duration>) -> Result<Aggregator> {
    Ok(Aggregator {
        store,
        producer: idempotent_producer(&bus.brokers)?,
        bus: bus.clone(),
        policy,
        metrics,
        config: AggregatorConfig { exit_when_idle, limits: Limits { linger: Duration::from_millis(200), ..AggregatorConfig::default().limits }, ..AggregatorConfig::default() },
    })
}

/// Prints progress every second until cancelled.
fn progress(c: CollectorMetrics, a: AggregatorMetrics, total: usize, stop: CancellationToken) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while !stop.is_cancelled() {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = stop.cancelled() => break,
            }
            let dead: u64 = subsidy_core::ReasonCode::ALL.iter().map(|r| c.dead_letters.with_label_values(&[r.as_str()]).get()).sum();
            eprintln!(
                "demo: pulled {:>7}/{total}  produced {:>7}  dead-lettered {:>5}  settled {:>7}  held {:>4}",
                c.records_fetched.get(),
                c.records_produced.get(),
                dead,
                a.messages_consumed.get(),
                a.held_lines.get()
            );
        }
    })
}

/// Runs the demo.
pub async fn run(args: &DemoArgs) -> Result<()> {
    let started = Instant::now();
    let gen = GenConfig { seed: args.seed, entities: args.entities, records: args.records, ..GenConfig::default() };
    let dataset = build_dataset(&gen).map_err(|e| anyhow!("cannot generate the province: {e}"))?;
    if let Some(dir) = &args.write_files {
        crate::output::write_dataset(&dataset, dir, args.force)?;
    }
    let entities = dataset.entities.clone();
    let record_bytes: usize = dataset.records.iter().map(|r| r.len()).sum();
    let state = SimState::new(dataset, SimConfig::new(TOKEN)).map_err(|e| anyhow!("{e}"))?;
    let total = state.total();
    let sim = spawn(state).await.context("cannot start the platform simulator")?;

    // The bus: librdkafka's in-process mock cluster unless a real broker is named.
    let mock = match &args.kafka_brokers {
        Some(_) => None,
        None => Some(rdkafka::mocking::MockCluster::new(1).map_err(|e| anyhow!("cannot start the in-process broker: {e}"))?),
    };
    let brokers = match (&mock, &args.kafka_brokers) {
        (Some(m), _) => m.bootstrap_servers(),
        (None, Some(b)) => b.clone(),
        (None, None) => unreachable!("one of the two is set"),
    };
    // The mock cluster keeps at most 5 MiB per partition and drops the oldest
    // beyond that, so the records topic gets enough partitions to stay well under it.
    let record_partitions = (record_bytes / MOCK_PARTITION_BUDGET + 1).clamp(8, 1024) as i32;
    let bus = BusConfig { brokers, topics: Topics::default(), record_partitions };
    match &mock {
        Some(m) => {
            for spec in bus.topic_specs() {
                m.create_topic(&spec.name, spec.partitions, 1).map_err(|e| anyhow!("cannot create topic {}: {e}", spec.name))?;
            }
            // The log a ClickHouse ledger's first policy document is claimed in.
            m.create_topic(subsidy_bus::CLOSES_TOPIC, 1, 1).map_err(|e| anyhow!("cannot create topic {}: {e}", subsidy_bus::CLOSES_TOPIC))?;
        }
        None => ensure_topics(&bus.brokers, &bus.topic_specs(), Duration::from_secs(30)).await?,
    }
    let (store, store_flags) = open_store(args).await?;
    store.migrate().await.map_err(|e| anyhow!("migration failed: {e}"))?;
    let fence = args.clickhouse_url.as_ref().map(|_| crate::ledger_policy::Fence {
        brokers: bus.brokers.clone(),
        topic: subsidy_bus::CLOSES_TOPIC.to_string(),
        ledger: args.clickhouse_database.clone(),
    });
    let policy = crate::ledger_policy::for_writing(store.as_ref(), None, fence.as_ref(), "demo (the ledger's first document)").await?.document;

    let registry = prometheus::Registry::new();
    let cm = CollectorMetrics::register(&registry);
    let am = AggregatorMetrics::register(&registry);
    let shutdown = crate::shutdown::token();
    let metrics_addr = subsidy_pipeline::metrics_http::serve_metrics(args.metrics_addr, registry, shutdown.clone()).await?;
    eprintln!("demo: {total} record lines from a simulated province of {} entities; ledger {store_flags}", entities.len());

    // Settle what the platform holds: collect it all, then aggregate until caught up.
    let ticker = CancellationToken::new();
    let progress = progress(cm.clone(), am.clone(), total, ticker.clone());
    let report = collector(&bus, &sim.base_url(), cm.clone(), true)?.run(shutdown.clone()).await?;
    let settled = aggregator(&bus, store.clone(), policy.clone(), am.clone(), Some(Duration::from_secs(1)))?.run(shutdown.clone()).await?;
    ticker.cancel();
    let _ = progress.await;
    if settled.consumed < report.produced {
        return Err(anyhow!(
            "the aggregator consumed {} messages but the collector produced {}: the broker lost messages",
            settled.consumed,
            report.produced
        ));
    }
    eprintln!(
        "demo: settled in {:.1} s — {} records produced, {} dead-lettered by the collector, {} consumed by the aggregator",
        started.elapsed().as_secs_f64(),
        report.produced,
        report.dead_lettered,
        settled.consumed
    );
    let dead: Vec<(String, u64)> = subsidy_core::ReasonCode::ALL
        .iter()
        .map(|r| (r.as_str().to_string(), cm.dead_letters.with_label_values(&[r.as_str()]).get()))
        .filter(|(_, n)| *n > 0)
        .collect();
    let codes: Vec<subsidy_core::CreditCode> = entities.iter().filter_map(|e| e.get("credit_code").and_then(|c| c.as_str()).and_then(subsidy_core::CreditCode::parse)).collect();
    summary::print(store.as_ref(), &policy.set, &codes, &dead).await?;
    println!("\nwhere to look next:");
    println!("  metrics      http://{metrics_addr}/metrics");
    println!("  settlements  subsidy-meter export {store_flags} --out settlements.csv");
    if let Some(dir) = &args.write_files {
        println!("  audit        subsidy-meter recompute --records {0}/records.jsonl --entities {0}/entities.json --centers {0}/centers.json --out recompute.csv", dir.display());
    }
    if args.exit_after_settle || shutdown.is_cancelled() {
        return Ok(());
    }
    println!("\nserving until Ctrl-C: the simulator, collector and aggregator keep running.");
    let live_collector = collector(&bus, &sim.base_url(), cm, false)?;
    let live_aggregator = aggregator(&bus, store.clone(), policy, am, None)?;
    let (c, a) = tokio::join!(live_collector.run(shutdown.clone()), live_aggregator.run(shutdown.clone()));
    c?;
    a?;
    // The clients go before the in-process broker, or they report it gone.
    drop(live_collector);
    drop(live_aggregator);
    drop(mock);
    eprintln!("demo: stopped cleanly");
    Ok(())
}
