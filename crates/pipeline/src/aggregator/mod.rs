//! The aggregator: a consumer-group member that takes usage records from
//! Kafka through the core's rules and writes settled ledgers to the store.
//!
//! Order of a batch: settlements, then lines and records, then dead letters
//! are acknowledged, then offsets are committed. A crash anywhere replays
//! the batch; replays are harmless because the standing revision is known
//! (from memory or the store) and a revision already standing is a
//! duplicate. One batch is written (see `write`) while the next is read and
//! prepared; batches are written in order. When the partition assignment
//! changes, the member finishes its write and rebuilds its state from the
//! store before it writes again.

mod batch;
mod consumer;
mod index;
mod registry_feed;
mod state;
mod watchdog;
mod write;

pub use batch::{prepare, Incoming, Prepared};
pub use registry_feed::SharedRegistry;
pub use state::OwnedState;

use crate::metrics::AggregatorMetrics;
use anyhow::{anyhow, Context, Result};
use rdkafka::consumer::Consumer;
use rdkafka::message::Message;
use rdkafka::producer::FutureProducer;
use rdkafka::Offset;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use subsidy_bus::BusConfig;
use subsidy_core::PolicySet;
use subsidy_store::{BusPosition, LedgerStore, StoreError};
use tokio_util::sync::CancellationToken;

/// How the aggregator batches and when it stops.
#[derive(Debug, Clone)]
pub struct AggregatorConfig {
    /// Consumer group.
    pub group: String,
    /// Most messages in one batch.
    pub max_rows: usize,
    /// Most payload bytes in one batch.
    pub max_bytes: usize,
    /// Longest wait for a batch to fill once it has a message.
    pub linger: Duration,
    /// Consumer-group session timeout: how long a silent member keeps its partitions.
    /// Generous by default, since the broker in use answers heartbeats slowly under a large fetch.
    pub session_timeout: Duration,
    /// Longest pause between polls before the member is taken out of the group; it is also
    /// how long a rebalance may wait for a member that died without leaving.
    pub max_poll_interval: Duration,
    /// Longest wait of a records fetch at the broker (librdkafka's `fetch.wait.max.ms`).
    pub fetch_wait: Duration,
    /// How often closed months are re-read from the store.
    pub closures_refresh: Duration,
    /// Stop once this member owns every partition, has read each to its end, and no
    /// message came for this long (scripts, tests, benchmarks).
    pub exit_when_idle: Option<Duration>,
}

impl Default for AggregatorConfig {
    fn default() -> AggregatorConfig {
        AggregatorConfig {
            group: "subsidy-aggregator".into(),
            max_rows: 20_000,
            max_bytes: 16 << 20,
            linger: Duration::from_millis(500),
            session_timeout: Duration::from_secs(30),
            max_poll_interval: Duration::from_secs(300),
            fetch_wait: Duration::from_millis(500),
            closures_refresh: Duration::from_secs(10),
            exit_when_idle: None,
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AggregatorReport {
    /// Messages consumed.
    pub consumed: u64,
    /// Batches written.
    pub batches: u64,
}

/// The aggregator and everything it talks to.
pub struct Aggregator {
    /// The ledger store.
    pub store: Arc<dyn LedgerStore>,
    /// Kafka.
    pub bus: BusConfig,
    /// The rules.
    pub policy: PolicySet,
    /// Counters.
    pub metrics: AggregatorMetrics,
    /// Settings.
    pub config: AggregatorConfig,
    /// Producer for dead letters.
    pub producer: FutureProducer,
}

impl std::fmt::Debug for Aggregator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Aggregator").field("bus", &self.bus).field("config", &self.config).finish()
    }
}

fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Retries a store call while the store is unavailable, counting errors by kind.
pub(crate) async fn retrying<T, F, Fut>(metrics: &AggregatorMetrics, what: &str, shutdown: &CancellationToken, mut op: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    let mut wait = Duration::from_millis(200);
    loop {
        match op().await {
            Ok(v) => return Ok(v),
            Err(e) => {
                metrics.store_errors.with_label_values(&[e.kind()]).inc();
                if !e.is_retryable() {
                    return Err(anyhow!("{what}: {e}"));
                }
                tracing::warn!(error = %e, wait_ms = wait.as_millis() as u64, "{what} failed; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = shutdown.cancelled() => return Err(anyhow!("{what}: stopped while the store was unavailable ({e})")),
                }
                wait = (wait * 2).min(Duration::from_secs(5));
            }
        }
    }
}

impl Aggregator {
    /// Runs until cancelled (or idle, when so configured).
    pub async fn run(&self, shutdown: CancellationToken) -> Result<AggregatorReport> {
        let topics = &self.bus.topics;
        // Tasks of this run stop with it, not only at process shutdown.
        let internal = shutdown.child_token();
        let _stop_internal = internal.clone().drop_guard();
        let shared = registry_feed::start(&self.bus.brokers, &topics.entities, &topics.centers, internal.clone()).await.context("loading the registry from Kafka")?;
        let gate = Arc::new(consumer::WriteGate::default());
        let (consumer, rebalanced) = consumer::group_consumer(
            &self.bus.brokers,
            &self.config.group,
            &topics.records,
            self.config.session_timeout.as_millis() as u32,
            self.config.max_poll_interval.as_millis() as u32,
            self.config.fetch_wait.as_millis() as u32,
            gate.clone(),
        )?;
        let consumer = Arc::new(consumer);
        let writer = write::Writer {
            store: self.store.clone(),
            producer: self.producer.clone(),
            dead_letter_topic: topics.dead_letter.clone(),
            records_topic: topics.records.clone(),
            metrics: self.metrics.clone(),
            consumer: consumer.clone(),
            gate,
        };
        let mut in_flight = write::InFlight::default();
        let ticker = {
            let m = self.metrics.clone();
            let s = internal.clone();
            tokio::spawn(async move {
                while !s.is_cancelled() {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    let last = m.last_write_timestamp.get();
                    if last > 0 {
                        m.since_last_write.set(unix_now() - last);
                    }
                }
            })
        };
        let partition_count = {
            let md = consumer.fetch_metadata(Some(&topics.records), Duration::from_secs(30))?;
            md.topics().iter().map(|t| t.partitions().len()).sum::<usize>()
        };
        let group_view = consumer::spawn_lag_probe(&self.bus.brokers, &self.config.group, &topics.records, partition_count, self.metrics.clone(), internal.clone())?;
        let mut state = OwnedState::default();
        let mut watchdog = watchdog::Watchdog::new(self.config.session_timeout * 2, self.config.max_poll_interval + self.config.session_timeout, Instant::now());
        // Partitions owned, and those read to their end since their last message.
        let mut owned: std::collections::BTreeSet<i32> = std::collections::BTreeSet::new();
        let mut at_end: std::collections::BTreeSet<i32> = std::collections::BTreeSet::new();
        let mut report = AggregatorReport::default();
        let mut last_message = Instant::now();
        let mut closures_read = Instant::now();
        'outer: loop {
            let mut batch: Vec<Incoming> = Vec::new();
            let mut commit: BTreeMap<i32, i64> = BTreeMap::new();
            let mut bytes = 0usize;
            let mut first_at: Option<Instant> = None;
            loop {
                if rebalanced.swap(false, Ordering::SeqCst) {
                    // The batch being written lands first, so the rebuild below sees it.
                    in_flight.wait().await?;
                    // Drop what was collected. Partitions that stay ours are rewound to the
                    // first dropped message (it may have come after the new assignment, so
                    // the consumer's position is past it); the rest restart from their
                    // committed offsets under their new owner.
                    let assigned: std::collections::BTreeSet<i32> = consumer.assignment()?.elements().iter().map(|e| e.partition()).collect();
                    let mut rewind: BTreeMap<i32, i64> = BTreeMap::new();
                    for m in &batch {
                        let o = rewind.entry(m.position.partition).or_insert(m.position.offset);
                        *o = (*o).min(m.position.offset);
                    }
                    for (p, o) in rewind {
                        if assigned.contains(&p) {
                            consumer.seek(&self.bus.topics.records, p, Offset::Offset(o), Duration::from_secs(10))?;
                        }
                    }
                    batch.clear();
                    commit.clear();
                    bytes = 0;
                    first_at = None;
                    let partitions: Vec<i32> = consumer.assignment()?.elements().iter().map(|e| e.partition()).collect();
                    owned = partitions.iter().copied().collect();
                    at_end.clear();
                    watchdog.reset();
                    let store = self.store.clone();
                    let policy = &self.policy;
                    state = retrying(&self.metrics, "rebuilding state from the store", &shutdown, || {
                        let store = store.clone();
                        let partitions = partitions.clone();
                        async move { OwnedState::rebuild(store.as_ref(), &partitions, policy).await }
                    })
                    .await?;
                    tracing::info!(?partitions, accruals = state.accruals.len(), held = state.held.len(), "state rebuilt");
                    self.metrics.held_records.set(state.held.len() as i64);
                    shared.changed.store(true, Ordering::SeqCst);
                }
                let wait = match first_at {
                    Some(t) => self.config.linger.saturating_sub(t.elapsed()),
                    None => Duration::from_millis(200),
                };
                if first_at.is_some() && wait.is_zero() {
                    break;
                }
                let received = tokio::select! {
                    r = tokio::time::timeout(wait, consumer.recv()) => r,
                    _ = shutdown.cancelled() => break 'outer,
                };
                match received {
                    Ok(Ok(m)) => {
                        last_message = Instant::now();
                        at_end.remove(&m.partition());
                        first_at.get_or_insert_with(Instant::now);
                        let payload = m.payload().unwrap_or_default().to_vec();
                        bytes += payload.len();
                        commit.insert(m.partition(), m.offset() + 1);
                        batch.push(Incoming { position: BusPosition { partition: m.partition(), offset: m.offset() }, payload });
                        if batch.len() >= self.config.max_rows || bytes >= self.config.max_bytes {
                            break;
                        }
                    }
                    Ok(Err(rdkafka::error::KafkaError::PartitionEOF(p))) => {
                        at_end.insert(p);
                    }
                    Ok(Err(e)) => tracing::warn!(error = %e, "consumer error"),
                    Err(_) => {
                        in_flight.reap().await?;
                        let idle = batch.is_empty() && self.config.exit_when_idle.is_some_and(|idle| last_message.elapsed() >= idle);
                        let rejoin = {
                            let view = group_view.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                            watchdog.should_rejoin(&view, partition_count, &owned, idle && owned.is_subset(&at_end), Instant::now())
                        };
                        if rejoin {
                            consumer.unsubscribe();
                            consumer.subscribe(&[topics.records.as_str()])?;
                        }
                        if batch.is_empty() {
                            if shared.changed.load(Ordering::SeqCst) && !state.held.is_empty() {
                                break;
                            }
                            // Idle exit only for a member that owns every partition: a partner
                            // that died still holds its share until the broker expires it.
                            let caught_up = owned.len() == partition_count && owned.is_subset(&at_end);
                            if caught_up && idle && in_flight.is_idle() && !rebalanced.load(Ordering::SeqCst) {
                                tracing::info!(consumed = report.consumed, ?at_end, "caught up and idle; stopping");
                                break 'outer;
                            }
                        }
                    }
                }
            }
            if closures_read.elapsed() >= self.config.closures_refresh {
                if let Ok(c) = self.store.closures().await {
                    state.closed = c.into_iter().map(|c| c.period).collect();
                }
                closures_read = Instant::now();
            }
            // Held records whose entity and center are now known go round again.
            if shared.changed.swap(false, Ordering::SeqCst) && !state.held.is_empty() {
                let registry = shared.registry.read().unwrap_or_else(|p| p.into_inner());
                for h in state.held.values() {
                    if registry.entity(&h.record.user).is_some() && registry.center(&h.record.center_id).is_some() {
                        batch.push(Incoming { position: h.position, payload: h.raw.clone().into_bytes() });
                    }
                }
            }
            if batch.is_empty() {
                continue;
            }
            report.consumed += batch.len() as u64;
            let prepared = self.prepare(&batch, &mut state, &shared, &shutdown).await?;
            writer.spawn(&mut in_flight, prepared, commit, batch.len(), shutdown.clone()).await?;
            report.batches += 1;
        }
        in_flight.wait().await?;
        ticker.abort();
        Ok(report)
    }

    /// Runs one batch through the rules: standing revisions (memory, else the store),
    /// then the core's decisions. Updates the member's state; writes nothing.
    async fn prepare(&self, batch: &[Incoming], state: &mut OwnedState, shared: &SharedRegistry, shutdown: &CancellationToken) -> Result<Prepared> {
        let metrics = &self.metrics;
        let parsed = batch::parse_all(batch);
        let split = state.index.split(batch::record_ids(&parsed), &self.policy);
        let store = self.store.clone();
        let looked_up = if split.lookup.is_empty() {
            Vec::new()
        } else {
            let ids = &split.lookup;
            retrying(metrics, "looking up standing revisions", shutdown, || store.standing_lines(ids)).await?
        };
        for (source, n) in [("new", split.new), ("recent", split.known.len()), ("store", split.lookup.len())] {
            metrics.standing_lookups.with_label_values(&[source]).inc_by(n as u64);
        }
        state.index.remember_standing(&looked_up, &self.policy);
        let mut standing = split.known;
        standing.extend(looked_up.into_iter().map(|l| (l.record_id.clone(), l)));
        let version = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX) as u64;
        let prepared = {
            let registry = shared.registry.read().unwrap_or_else(|p| p.into_inner());
            batch::prepare(parsed, standing, state, &registry, &self.policy, version)
        };
        // The next batch may be prepared before this one is written: it must see these lines.
        state.index.remember(&prepared.write.lines, &self.policy);
        metrics.held_records.set(state.held.len() as i64);
        let mut by_version: BTreeMap<u8, rust_decimal::Decimal> = BTreeMap::new();
        for (_, a) in state.accruals.iter() {
            for (v, c) in &a.by_version {
                *by_version.entry(*v).or_default() += *c;
            }
        }
        for (v, total) in by_version {
            let id = self.policy.version(v as usize).map_or("unknown", |p| p.id.as_str());
            metrics.subsidy_accrued.with_label_values(&[id]).set(rust_decimal::prelude::ToPrimitive::to_f64(&total).unwrap_or(0.0));
        }
        Ok(prepared)
    }
}
