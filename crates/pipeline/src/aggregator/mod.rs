//! The aggregator: a consumer-group member that takes usage records from
//! Kafka through the core's step and writes ledger lines to the store.
//!
//! The records topic is keyed by record id, so every copy of a record lands
//! in one partition and one member owns its line; settlements are summed
//! from the lines when read, never kept per member. The loop is an event
//! loop over three sources — the poller's messages and rebalances, a tick,
//! and shutdown — and each event is one named step: [`Loop::on_message`],
//! [`Loop::on_rebalance`], [`Loop::on_tick`] (which flushes a due batch,
//! re-settles after registry changes, and decides whether to stop).
//!
//! A batch is written (rows, then dead letters acknowledged, then offsets
//! committed) while the next is read; a crash replays it harmlessly, as a
//! copy already standing is a duplicate and every line carries a version.
//!
//! Lines are settled under the policy document the member was started with,
//! which the ledger holds in force. At every re-settlement interval the member
//! reads the ledger's document in force; when `policy apply` recorded another,
//! it finishes the write in flight, takes the new document and re-settles every
//! line of its partitions not under it ([`crate::policy_change`]); it does the
//! same for its partitions when it takes them over. A batch settled under the
//! old document just before the change is re-settled at that next check, and
//! `close` refuses to close while any line stands under another document.

mod batch;
mod consumer;
mod index;
mod background;
mod registry_feed;
mod counts_feed;
mod resettle;
mod split;
mod watchdog;
mod write;

pub use batch::{parse_all, record_ids, settle, BatchBuilder, Limits, Parsed, Settled};
pub use consumer::{GroupTimings, Incoming};
pub use index::{Kept, StandingIndex};
pub use registry_feed::{RegistryPosition, RegistryView, SharedRegistry, Source};

use crate::error::{PipelineError, PipelineResult};
use crate::metrics::AggregatorMetrics;
use consumer::{GroupConsumer, GroupView, Polled, WriteGate};
use rdkafka::consumer::Consumer;
use rdkafka::producer::FutureProducer;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use subsidy_bus::BusConfig;
use subsidy_core::PolicyDocument;
use subsidy_store::LedgerStore;
use tokio_util::sync::CancellationToken;
use write::{retrying, Backoff, InFlight, Outgoing, Writer};

/// How the aggregator batches, re-settles and when it stops.
#[derive(Debug, Clone)]
pub struct AggregatorConfig {
    /// Consumer group.
    pub group: String,
    /// Batch limits.
    pub limits: Limits,
    /// Group membership timings.
    pub timings: GroupTimings,
    /// Shortest pause between two re-settlement rounds after registry changes.
    pub resettle_every: Duration,
    /// Rejoin the group when partitions of a silent member stall: a workaround for
    /// development brokers whose coordinator does not expire dead members. Off against Kafka.
    pub rejoin_stalled: bool,
    /// Stop once this member owns every partition, has read each to its end, and no
    /// message came for this long (scripts, tests, benchmarks).
    pub exit_when_idle: Option<Duration>,
}

impl Default for AggregatorConfig {
    fn default() -> AggregatorConfig {
        AggregatorConfig {
            group: "subsidy-aggregator".into(),
            limits: Limits { rows: 50_000, bytes: 32 << 20, linger: Duration::from_millis(500) },
            timings: GroupTimings { session_timeout: Duration::from_secs(30), max_poll_interval: Duration::from_secs(300), fetch_wait: Duration::from_millis(500) },
            resettle_every: Duration::from_secs(1),
            rejoin_stalled: false,
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
    /// The policy document the ledger holds in force (the member follows later changes).
    pub policy: PolicyDocument,
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

impl Aggregator {
    /// Runs until cancelled (or idle, when so configured).
    pub async fn run(&self, shutdown: CancellationToken) -> PipelineResult<AggregatorReport> {
        // Tasks of this run stop with it, not only at process shutdown, and are waited for.
        let internal = shutdown.child_token();
        let _stop_internal = internal.clone().drop_guard();
        let mut background = background::Background::default();
        let outcome = self.run_with(shutdown, &internal, &mut background).await;
        background.stop(&internal).await;
        outcome
    }

    async fn run_with(&self, shutdown: CancellationToken, internal: &CancellationToken, background: &mut background::Background) -> PipelineResult<AggregatorReport> {
        let topics = &self.bus.topics;
        let (registry, tailers) = registry_feed::start(&self.bus.brokers, topics, self.metrics.clone(), internal.clone()).await?;
        tailers.into_iter().for_each(|t| background.task(t));
        background.task(counts_feed::start(&self.bus.brokers, &topics.usage_counts, self.store.clone(), internal.clone()).await?);
        let gate = Arc::new(WriteGate::default());
        let (consumer, generation) = consumer::group_consumer(&self.bus.brokers, &self.config.group, &topics.records, self.config.timings, gate.clone())?;
        let partitions = consumer::partition_count(consumer.clone(), &topics.records, Duration::from_secs(30)).await?;
        let (group_view, probe) = consumer::spawn_lag_probe(&self.bus.brokers, &self.config.group, &topics.records, partitions, self.metrics.clone(), internal.clone())?;
        background.thread(probe);
        let (events, poller) = consumer::spawn_poller(consumer.clone(), generation, self.config.limits.rows, internal.clone());
        background.task(poller);
        background.task(spawn_write_age(self.metrics.clone(), internal.clone()));
        let writer = Writer {
            store: self.store.clone(),
            producer: self.producer.clone(),
            dead_letter_topic: topics.dead_letter.clone(),
            records_topic: topics.records.clone(),
            metrics: self.metrics.clone(),
            consumer: consumer.clone(),
            gate,
            refused_ids: Arc::default(),
        };
        let mut l = Loop::new(self, writer, consumer, registry, group_view, partitions, shutdown);
        l.run(events).await
    }
}

/// Keeps "seconds since the last write" moving between writes.
fn spawn_write_age(metrics: AggregatorMetrics, stop: CancellationToken) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while !stop.is_cancelled() {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
            let last = metrics.last_write_timestamp.get();
            if last > 0 {
                metrics.last_write_age.set(chrono::Utc::now().timestamp() - last);
            }
        }
    })
}

/// One run's state and the parts it talks to.
struct Loop<'a> {
    agg: &'a Aggregator,
    writer: Writer,
    consumer: Arc<GroupConsumer>,
    registry: SharedRegistry,
    group_view: GroupView,
    partitions: usize,
    shutdown: CancellationToken,
    /// Assignment generation the state below belongs to.
    generation: u64,
    owned: BTreeSet<i32>,
    /// Owned partitions read to their end since their last message.
    at_end: BTreeSet<i32>,
    index: StandingIndex,
    /// Record ids of owned partitions whose line waits for the registry.
    held: HashSet<String>,
    builder: BatchBuilder,
    in_flight: InFlight,
    /// Messages received, and how many had been at the last tick: when the last message
    /// came is kept to the tick, not read from the clock per message.
    received: u64,
    received_at_tick: u64,
    /// Registry position every owned partition is re-settled up to.
    resettled_at: RegistryPosition,
    last_round: Instant,
    /// The policy document lines are settled under, and when the ledger's was last read.
    policy: PolicyDocument,
    last_policy_check: Instant,
    last_message: Instant,
    watchdog: watchdog::Watchdog,
    report: AggregatorReport,
}

impl<'a> Loop<'a> {
    fn new(agg: &'a Aggregator, writer: Writer, consumer: Arc<GroupConsumer>, registry: SharedRegistry, group_view: GroupView, partitions: usize, shutdown: CancellationToken) -> Loop<'a> {
        let t = agg.config.timings;
        Loop {
            agg,
            writer,
            consumer,
            registry,
            group_view,
            partitions,
            shutdown,
            generation: 0,
            owned: BTreeSet::new(),
            at_end: BTreeSet::new(),
            index: StandingIndex::default(),
            held: HashSet::new(),
            builder: BatchBuilder::new(agg.config.limits),
            in_flight: InFlight::default(),
            received: 0,
            received_at_tick: 0,
            resettled_at: RegistryPosition::default(),
            last_round: Instant::now(),
            policy: agg.policy.clone(),
            last_policy_check: Instant::now(),
            last_message: Instant::now(),
            watchdog: watchdog::Watchdog::new(t.session_timeout * 2, t.max_poll_interval + t.session_timeout, Instant::now()),
            report: AggregatorReport::default(),
        }
    }

    async fn run(&mut self, mut events: tokio::sync::mpsc::Receiver<Polled>) -> PipelineResult<AggregatorReport> {
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                e = events.recv() => match e {
                    Some(Polled::Rebalanced(g)) => self.on_rebalance(g).await?,
                    // Older generations' messages come again from the committed offset.
                    Some(Polled::Message(m, g)) if g == self.generation => self.on_message(m).await?,
                    Some(Polled::End(p, g)) if g == self.generation => {
                        self.at_end.insert(p);
                    }
                    Some(_) => {}
                    None => break,
                },
                _ = tick.tick() => {
                    if self.on_tick().await? {
                        break;
                    }
                }
                _ = self.shutdown.cancelled() => break,
            }
        }
        self.in_flight.wait().await?;
        Ok(self.report.clone())
    }

    async fn on_message(&mut self, m: consumer::Incoming) -> PipelineResult<()> {
        self.received += 1;
        self.at_end.remove(&m.position.partition);
        self.builder.push(m);
        if self.builder.is_full() {
            self.flush().await?;
        }
        Ok(())
    }

    /// Returns whether the run should stop.
    async fn on_tick(&mut self) -> PipelineResult<bool> {
        if self.received != self.received_at_tick {
            self.received_at_tick = self.received;
            self.last_message = Instant::now();
        }
        if self.builder.is_due(Instant::now()) {
            self.flush().await?;
        }
        self.in_flight.reap().await?;
        if self.last_round.elapsed() >= self.agg.config.resettle_every && !self.owned.is_empty() {
            self.round().await?;
        }
        if self.last_policy_check.elapsed() >= self.agg.config.resettle_every {
            self.follow_policy().await?;
        }
        if self.agg.config.rejoin_stalled {
            self.watch_for_orphans()?;
        }
        Ok(self.idle_and_done())
    }

    /// The assignment changed: finish the write in flight, drop the batch being gathered
    /// (it comes again from the committed offsets), and rebuild from the store.
    async fn on_rebalance(&mut self, generation: u64) -> PipelineResult<()> {
        self.in_flight.wait().await?;
        self.builder.take();
        self.generation = generation;
        let assignment = self.consumer.assignment().map_err(PipelineError::kafka("reading the assignment"))?;
        self.owned = assignment.elements().iter().map(|e| e.partition()).collect();
        self.agg.metrics.partitions_owned.set(self.owned.len() as i64);
        self.at_end.clear();
        self.watchdog.reset();
        self.rebuild().await?;
        tracing::info!(partitions = ?self.owned, held = self.held.len(), "state rebuilt");
        Ok(())
    }

    /// The filter of seen ids, the held ids, and lines re-settled up to the registry's position.
    async fn rebuild(&mut self) -> PipelineResult<()> {
        let (agg, shutdown) = (self.agg, &self.shutdown);
        let owned: Vec<i32> = self.owned.iter().copied().collect();
        let mut backoff = Backoff::new(&agg.metrics, "reading the record ids of the owned partitions", shutdown);
        self.index = loop {
            let mut index = StandingIndex::default();
            match agg.store.record_ids(&owned, &mut |id| index.saw(id)).await {
                Ok(_) => break index,
                Err(e) => backoff.failed(e).await?,
            }
        };
        self.held = retrying(&agg.metrics, "reading held records", shutdown, || agg.store.held_ids(&owned)).await?.into_iter().collect();
        agg.metrics.held_lines.set(self.held.len() as i64);
        let marks = retrying(&agg.metrics, "reading re-settlement marks", shutdown, || resettle::load_marks(agg.store.as_ref(), &owned)).await?;
        self.resettle(marks).await?;
        self.follow_policy().await?;
        self.resettle_under_policy().await
    }

    /// Takes the ledger's policy document in force when it is not the one lines are settled
    /// under here, and re-settles the owned partitions under it.
    async fn follow_policy(&mut self) -> PipelineResult<()> {
        self.last_policy_check = Instant::now();
        let agg = self.agg;
        let documents = retrying(&agg.metrics, "reading the policy document in force", &self.shutdown, || agg.store.policy_documents()).await?;
        let Some(top) = documents.last().filter(|d| d.hash != self.policy.hash) else { return Ok(()) };
        let document = top.document().map_err(|e| PipelineError::Store {
            what: "reading the policy document in force",
            source: subsidy_store::StoreError::corrupt(format!("policy document {}: {e}", top.sequence)),
        })?;
        tracing::info!(sequence = top.sequence, document = document.short(), previous = self.policy.short(), "the policy document in force changed; re-settling under it");
        self.in_flight.wait().await?;
        self.policy = document;
        self.resettle_under_policy().await
    }

    /// Re-settles every line of the owned partitions not settled under the document in force
    /// here; lines a previous owner classified further on in the registry wait for the feed.
    async fn resettle_under_policy(&mut self) -> PipelineResult<()> {
        let owned: Vec<i32> = self.owned.iter().copied().collect();
        if owned.is_empty() {
            return Ok(());
        }
        let agg = self.agg;
        loop {
            let (registry, position) = {
                let view = registry_feed::read(&self.registry);
                (view.registry.clone(), view.position().total())
            };
            let policy = &self.policy;
            let done = retrying(&agg.metrics, "re-settling lines under the policy document", &self.shutdown, || {
                crate::policy_change::resettle_under(agg.store.as_ref(), policy, &registry, position, Some(&owned))
            })
            .await?;
            if done.rewritten > 0 {
                tracing::info!(lines = done.rewritten, changed = done.changed, document = self.policy.short(), "re-settled under the policy document");
                self.index.forget_recent();
            }
            if done.behind == 0 {
                return Ok(());
            }
            self.await_registry(done.behind_position).await?;
        }
    }

    /// Re-settles the owned partitions after registry changes, at most every `resettle_every`.
    async fn round(&mut self) -> PipelineResult<()> {
        self.last_round = Instant::now();
        if registry_feed::read(&self.registry).since(Some(&self.resettled_at)).is_empty() {
            return Ok(());
        }
        self.in_flight.wait().await?;
        let marks = self.owned.iter().map(|p| (*p, Some(self.resettled_at.clone()))).collect();
        self.resettle(marks).await
    }

    async fn resettle(&mut self, marks: resettle::Marks) -> PipelineResult<()> {
        let upto = registry_feed::read(&self.registry).position().clone();
        let (agg, registry) = (self.agg, &self.registry);
        let policy = &self.policy;
        let batch = retrying(&agg.metrics, "re-settling lines after registry changes", &self.shutdown, || resettle::resettle(agg.store.as_ref(), registry, &marks, policy)).await?;
        self.note_held(&batch.lines);
        self.index.rewritten(&batch.lines);
        let resettled = batch.lines.len() as u64;
        if resettled > 0 {
            tracing::info!(lines = resettled, "re-settled after registry changes");
        }
        self.writer.spawn(&mut self.in_flight, Outgoing { write: batch, resettled, ..Outgoing::default() }, self.shutdown.clone()).await?;
        self.in_flight.wait().await?;
        self.resettled_at = upto;
        Ok(())
    }

    /// Forgets what memory holds for records whose rows the store refused (they were
    /// dead-lettered): what stands for them is what the store has. A batch settled while
    /// the refusing write was still in flight may have used the forgotten line.
    fn forget_refused(&mut self) {
        let ids = std::mem::take(&mut *self.writer.refused_ids.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        for id in &ids {
            self.index.forget(id);
            self.held.remove(id);
        }
        if !ids.is_empty() {
            self.agg.metrics.held_lines.set(self.held.len() as i64);
        }
    }

    /// Notes which of the lines about to be written wait for the registry.
    fn note_held(&mut self, lines: &[subsidy_store::LineRow]) {
        for l in lines {
            if l.reason.is_some_and(|r| r.class() == subsidy_core::ReasonClass::Held) {
                self.held.insert(l.record_id.clone());
            } else if !self.held.is_empty() {
                self.held.remove(&l.record_id);
            }
        }
        self.agg.metrics.held_lines.set(self.held.len() as i64);
    }

    /// Takes the gathered batch through the core and hands it to the writer.
    async fn flush(&mut self) -> PipelineResult<()> {
        let messages = self.builder.take();
        if messages.is_empty() {
            return Ok(());
        }
        self.forget_refused();
        let mut commit: BTreeMap<i32, i64> = BTreeMap::new();
        for m in &messages {
            let next = commit.entry(m.position.partition).or_insert(0);
            *next = (*next).max(m.position.offset + 1);
        }
        let consumed = messages.len();
        let produced_ms = messages.iter().filter_map(|m| m.produced_ms).collect();
        let parsed = parse_all(messages);
        let classified_at = self.bring_in_standing(&parsed).await?;
        self.await_registry(classified_at).await?;
        let settled = {
            let view = registry_feed::read(&self.registry);
            settle(parsed, &mut self.index, &view.registry, view.position().total(), &self.policy)
        };
        self.note_held(&settled.write.lines);
        self.report.consumed += consumed as u64;
        self.report.batches += 1;
        let out = Outgoing { write: settled.write, dead_letters: settled.dead_letters, commit, consumed, decisions: settled.decisions, rejected: settled.rejected, resettled: 0, produced_ms };
        self.writer.spawn(&mut self.in_flight, out, self.shutdown.clone()).await
    }

    /// Makes the index hold what stands for every id of the batch that has a line:
    /// ids never seen have none, recent ones are in memory, the rest are read from the store.
    /// Returns the furthest registry position the lines read from the store were classified at.
    async fn bring_in_standing(&mut self, parsed: &[Parsed]) -> PipelineResult<u64> {
        let split = self.index.split(record_ids(parsed));
        let (agg, lookup) = (self.agg, &split.lookup);
        let found = if lookup.is_empty() { Vec::new() } else { retrying(&agg.metrics, "looking up standing lines", &self.shutdown, || agg.store.lines_of(lookup)).await? };
        for (source, n) in [("new", split.new), ("recent", split.recent), ("store", lookup.len())] {
            agg.metrics.standing_lookups.with_label_values(&[source]).inc_by(n as u64);
        }
        self.index.remember(&found);
        Ok(found.iter().map(|l| subsidy_core::version_registry_position(l.version)).max().unwrap_or(0))
    }

    /// Waits until this member has read the registry as far as `position`: a line written by
    /// a previous owner of the partition, whose registry feed was further on, is replaced only
    /// by a line of a higher version, so that the store keeps the replacement.
    async fn await_registry(&self, position: u64) -> PipelineResult<()> {
        let mut waited = Duration::ZERO;
        let step = Duration::from_millis(20);
        while registry_feed::read(&self.registry).position().total() < position {
            if waited.as_secs() > 0 && waited.as_millis().is_multiple_of(10_000) {
                tracing::warn!(position, waited_s = waited.as_secs(), "waiting for the registry feed to reach the position of lines a previous owner wrote");
            }
            tokio::select! {
                _ = tokio::time::sleep(step) => waited += step,
                _ = self.shutdown.cancelled() => return Err(PipelineError::Stopped("waiting for the registry feed")),
            }
        }
        Ok(())
    }

    fn watch_for_orphans(&mut self) -> PipelineResult<()> {
        let idle = self.builder.is_empty() && self.agg.config.exit_when_idle.is_some_and(|d| self.last_message.elapsed() >= d);
        let rejoin = {
            let view = self.group_view.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            self.watchdog.should_rejoin(&view, self.partitions, &self.owned, idle && self.owned.is_subset(&self.at_end), Instant::now())
        };
        if rejoin {
            self.consumer.unsubscribe();
            self.consumer.subscribe(&[self.agg.bus.topics.records.as_str()]).map_err(PipelineError::kafka("rejoining the group"))?;
        }
        Ok(())
    }

    /// Idle exit, for a member that owns every partition: a partner that died still holds
    /// its share until the broker expires it.
    fn idle_and_done(&self) -> bool {
        let Some(idle) = self.agg.config.exit_when_idle else { return false };
        let caught_up = self.owned.len() == self.partitions && self.owned.is_subset(&self.at_end);
        let quiet = self.last_message.elapsed() >= idle && self.builder.is_empty() && self.in_flight.is_idle();
        let settled = registry_feed::read(&self.registry).since(Some(&self.resettled_at)).is_empty();
        let done = caught_up && quiet && settled;
        if done {
            tracing::info!(consumed = self.report.consumed, "caught up and idle; stopping");
        }
        done
    }
}
