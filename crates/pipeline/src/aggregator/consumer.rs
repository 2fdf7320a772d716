//! The records-topic consumer: a consumer-group member whose context counts
//! assignment changes, polled by a task of its own that feeds the loop
//! through a bounded channel, and a probe on a thread of its own that reads
//! the group's committed offsets and the high watermarks, publishes the lag
//! per partition and shares what it read.
//!
//! Assignment uses the eager `range` strategy: on every rebalance librdkafka
//! drops its fetch positions and resumes each assigned partition from the
//! group's committed offset. Every message therefore carries the assignment
//! generation it was polled under; the loop drops those of an older
//! generation, since they will come again from the committed offset.

use crate::error::{PipelineError, PipelineResult};
use crate::metrics::AggregatorMetrics;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;
use subsidy_bus::client_config;
use subsidy_store::BusPosition;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Whether a batch is being written. A revocation waits until none is, so a
/// partition never changes hands while a batch of it is on its way to the store;
/// while it waits, no new write starts (the loop writes back to back, and would
/// otherwise keep the gate busy until the revocation gave up).
#[derive(Debug, Default)]
pub struct WriteGate {
    busy: Mutex<usize>,
    idle: Condvar,
    revoking: AtomicBool,
}

/// Held while a batch is being written.
#[derive(Debug)]
pub struct WriteGuard(Arc<WriteGate>);

impl Drop for WriteGuard {
    fn drop(&mut self) {
        let mut busy = self.0.busy.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *busy = busy.saturating_sub(1);
        self.0.idle.notify_all();
    }
}

impl WriteGate {
    /// Marks a write as started until the guard is dropped.
    pub fn enter(self: &Arc<Self>) -> WriteGuard {
        *self.busy.lock().unwrap_or_else(std::sync::PoisonError::into_inner) += 1;
        WriteGuard(Arc::clone(self))
    }

    /// Whether a revocation is waiting for the writes to stop.
    pub fn is_revoking(&self) -> bool {
        self.revoking.load(Ordering::SeqCst)
    }

    /// Blocks until no write is in flight or `limit` has passed; whether it is idle.
    pub fn wait_idle(&self, limit: Duration) -> bool {
        let busy = self.busy.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let (busy, _) = self.idle.wait_timeout_while(busy, limit, |n| *n > 0).unwrap_or_else(std::sync::PoisonError::into_inner);
        *busy == 0
    }
}

/// Counts assignment changes; holds a revocation until the batch being written is written.
pub struct GroupContext {
    generation: Arc<AtomicU64>,
    gate: Arc<WriteGate>,
    revoke_wait: Duration,
}

impl ClientContext for GroupContext {
    fn error(&self, error: KafkaError, reason: &str) {
        if error.rdkafka_error_code() != Some(rdkafka::types::RDKafkaErrorCode::PartitionEOF) {
            tracing::warn!(error = %error, "kafka: {reason}");
        }
    }
}

impl ConsumerContext for GroupContext {
    fn pre_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if !matches!(rebalance, Rebalance::Revoke(_)) {
            return;
        }
        // Called inside the poller's recv on a runtime worker: let the runtime move its
        // other tasks (the writer among them) elsewhere while this thread waits.
        self.gate.revoking.store(true, Ordering::SeqCst);
        let wait = || self.gate.wait_idle(self.revoke_wait);
        let idle = match tokio::runtime::Handle::try_current() {
            Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => tokio::task::block_in_place(wait),
            _ => wait(),
        };
        if !idle {
            tracing::warn!(wait_ms = self.revoke_wait.as_millis() as u64, "partitions revoked while a batch is still being written");
        }
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(tpl) => tracing::info!(partitions = tpl.count(), "partitions assigned"),
            Rebalance::Revoke(tpl) => tracing::info!(partitions = tpl.count(), "partitions revoked"),
            Rebalance::Error(e) => tracing::warn!(error = %e, "rebalance error"),
        }
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.gate.revoking.store(false, Ordering::SeqCst);
    }
}

/// The group consumer of the records topic.
pub type GroupConsumer = StreamConsumer<GroupContext>;

/// Group membership settings.
#[derive(Debug, Clone, Copy)]
pub struct GroupTimings {
    /// How long a silent member keeps its partitions.
    pub session_timeout: Duration,
    /// Longest pause between polls; also how long a revocation waits for a write.
    pub max_poll_interval: Duration,
    /// Longest wait of a fetch at the broker.
    pub fetch_wait: Duration,
}

/// Joins `group` on `topic`; offsets are committed by hand, only after the store acknowledged.
/// Returns the consumer and its assignment generation counter.
pub fn group_consumer(brokers: &str, group: &str, topic: &str, timings: GroupTimings, gate: Arc<WriteGate>) -> PipelineResult<(Arc<GroupConsumer>, Arc<AtomicU64>)> {
    let generation = Arc::new(AtomicU64::new(0));
    let context = GroupContext { generation: generation.clone(), gate, revoke_wait: timings.max_poll_interval };
    let ms = |d: Duration| d.as_millis().to_string();
    let consumer: GroupConsumer = client_config(brokers)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("enable.partition.eof", "true")
        .set("partition.assignment.strategy", "range")
        .set("session.timeout.ms", ms(timings.session_timeout))
        .set("heartbeat.interval.ms", ms((timings.session_timeout / 10).max(Duration::from_millis(100))))
        .set("max.poll.interval.ms", ms(timings.max_poll_interval))
        .set("fetch.wait.max.ms", ms(timings.fetch_wait))
        .set("fetch.max.bytes", "8388608")
        .set("max.partition.fetch.bytes", "2097152")
        .set("queued.max.messages.kbytes", "65536")
        .create_with_context(context)
        .map_err(PipelineError::kafka("creating the records consumer"))?;
    consumer.subscribe(&[topic]).map_err(PipelineError::kafka("subscribing to the records topic"))?;
    Ok((Arc::new(consumer), generation))
}

/// The number of partitions of `topic`. The metadata request waits on the broker (up to
/// `timeout`), so it runs on a blocking thread, never on a runtime worker.
pub async fn partition_count(consumer: Arc<GroupConsumer>, topic: &str, timeout: Duration) -> PipelineResult<usize> {
    let topic = topic.to_string();
    let counted = tokio::task::spawn_blocking(move || consumer.fetch_metadata(Some(&topic), timeout).map(|md| md.topics().iter().map(|t| t.partitions().len()).sum::<usize>()));
    counted.await.map_err(|e| PipelineError::Internal(format!("the metadata request did not finish: {e}")))?.map_err(PipelineError::kafka("reading the records topic's metadata"))
}

/// A message taken from the records topic.
#[derive(Debug, Clone)]
pub struct Incoming {
    /// Where it arrived.
    pub position: BusPosition,
    /// The platform's bytes.
    pub payload: Vec<u8>,
    /// When the collector produced it (the message's create time), Unix ms, when the broker says.
    pub produced_ms: Option<i64>,
}

/// What the poller hands the loop, each under the assignment generation it was polled in.
#[derive(Debug)]
pub enum Polled {
    /// A message.
    Message(Incoming, u64),
    /// A partition was read to its end.
    End(i32, u64),
    /// The assignment changed; this is its generation.
    Rebalanced(u64),
}

/// Polls the consumer until `stop`, handing messages to a channel of `capacity`.
/// A full channel stops the polling, so a slow store slows consumption. Every
/// assignment is followed by a message or an end-of-partition event (the
/// consumer reports reaching each partition's end), so the generation is
/// read, and a change announced, after each poll that returns.
pub fn spawn_poller(consumer: Arc<GroupConsumer>, generation: Arc<AtomicU64>, capacity: usize, stop: CancellationToken) -> (mpsc::Receiver<Polled>, tokio::task::JoinHandle<()>) {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    let task = tokio::spawn(async move {
        let mut announced = 0u64;
        loop {
            let received = tokio::select! {
                r = consumer.recv() => r,
                _ = stop.cancelled() => return,
            };
            // Read after the poll: a rebalance happens inside it, before its messages.
            let now = generation.load(Ordering::SeqCst);
            if now != announced {
                announced = now;
                if tx.send(Polled::Rebalanced(now)).await.is_err() {
                    return;
                }
            }
            let polled = match received {
                Ok(m) => Polled::Message(Incoming { position: BusPosition { partition: m.partition(), offset: m.offset() }, payload: m.payload().unwrap_or_default().to_vec(), produced_ms: m.timestamp().to_millis() }, now),
                Err(KafkaError::PartitionEOF(p)) => Polled::End(p, now),
                Err(e) => {
                    tracing::warn!(error = %e, "consumer error");
                    continue;
                }
            };
            if tx.send(polled).await.is_err() {
                return;
            }
        }
    });
    (rx, task)
}

/// A partition as the probe last read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// The group's committed offset (the low watermark when nothing is committed).
    pub committed: i64,
    /// The high watermark.
    pub high: i64,
}

/// The probe's latest reading per partition, shared with the loop.
pub type GroupView = Arc<Mutex<BTreeMap<i32, Progress>>>;

/// Publishes consumer lag per partition (high watermark − the group's committed offset)
/// every few seconds from a probe of its own, so the figure keeps moving while the
/// member is blocked, e.g. waiting out a store outage. Never blocks the caller.
pub fn spawn_lag_probe(
    brokers: &str,
    group: &str,
    topic: &str,
    partitions: usize,
    metrics: AggregatorMetrics,
    stop: CancellationToken,
) -> PipelineResult<(GroupView, std::thread::JoinHandle<()>)> {
    let probe: BaseConsumer = client_config(brokers).set("group.id", group).set("enable.auto.commit", "false").create().map_err(PipelineError::kafka("creating the lag probe"))?;
    let topic = topic.to_string();
    let view = GroupView::default();
    let shared = view.clone();
    let thread = std::thread::spawn(move || {
        while !stop.is_cancelled() {
            let mut tpl = TopicPartitionList::new();
            for p in 0..partitions as i32 {
                tpl.add_partition(&topic, p);
            }
            if let Ok(committed) = probe.committed_offsets(tpl, Duration::from_secs(5)) {
                for e in committed.elements() {
                    let Ok((low, high)) = probe.fetch_watermarks(&topic, e.partition(), Duration::from_secs(5)) else { continue };
                    let done = match e.offset() {
                        Offset::Offset(o) => o,
                        _ => low,
                    };
                    metrics.consumer_lag.with_label_values(&[&e.partition().to_string()]).set((high - done).max(0));
                    shared.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(e.partition(), Progress { committed: done, high });
                }
            }
            // Two seconds between readings, in steps, so a stop is seen quickly.
            for _ in 0..20 {
                if stop.is_cancelled() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    });
    Ok((view, thread))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;

    /// Runs `f` on a one-thread runtime beside a ticking task; how often the task ticked
    /// while `f` ran (0 when `f` held the runtime's only thread).
    fn ticks_during<F: std::future::Future>(f: impl FnOnce() -> F) -> (F::Output, u64) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let outcome = runtime.block_on(async {
            let ticks = Arc::new(AtomicU64::new(0));
            let counted = ticks.clone();
            let ticker = tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    counted.fetch_add(1, Ordering::Relaxed);
                }
            });
            tokio::task::yield_now().await;
            let out = f().await;
            let during = ticks.load(Ordering::Relaxed);
            ticker.abort();
            (out, during)
        });
        runtime.shutdown_background();
        outcome
    }

    fn unreachable_member() -> Arc<GroupConsumer> {
        let timings = GroupTimings { session_timeout: Duration::from_secs(6), max_poll_interval: Duration::from_secs(10), fetch_wait: Duration::from_millis(100) };
        group_consumer("127.0.0.1:1", "g", "records", timings, Arc::new(WriteGate::default())).unwrap().0
    }

    /// The metadata request waits for a broker that does not answer; the runtime keeps running meanwhile.
    #[test]
    fn reading_the_partition_count_leaves_the_runtime_free() {
        let (counted, ticks) = ticks_during(|| partition_count(unreachable_member(), "records", Duration::from_secs(2)));
        assert!(counted.is_err(), "no broker listens on port 1");
        assert!(ticks > 0, "the runtime's only thread was held while the metadata request waited");
    }

    /// The synchronous commit waits for a broker that does not answer; the runtime keeps running meanwhile.
    #[test]
    fn committing_offsets_leaves_the_runtime_free() {
        let (_, ticks) = ticks_during(|| async { tokio::time::timeout(Duration::from_secs(3), super::super::write::commit_offsets(unreachable_member(), "records", &BTreeMap::from([(0, 5)]))).await });
        assert!(ticks > 0, "the runtime's only thread was held while the commit waited");
    }
}
