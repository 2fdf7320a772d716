//! The records-topic consumer: a consumer-group member whose context notes
//! rebalances (so the loop can rebuild its state), and a probe on a thread of
//! its own that reads the group's committed offsets and the high watermarks,
//! publishes the lag per partition and shares what it read with the loop.

use crate::metrics::AggregatorMetrics;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance, StreamConsumer};
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use subsidy_bus::{client_config, BusError};

/// Whether a batch is being written. A revocation waits until none is, so a
/// partition never changes hands while a batch of it is on its way to the store.
#[derive(Debug, Default)]
pub struct WriteGate {
    busy: Mutex<usize>,
    idle: Condvar,
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

    /// Blocks until no write is in flight or `limit` has passed; whether it is idle.
    pub fn wait_idle(&self, limit: Duration) -> bool {
        let busy = self.busy.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let (busy, _) = self.idle.wait_timeout_while(busy, limit, |n| *n > 0).unwrap_or_else(std::sync::PoisonError::into_inner);
        *busy == 0
    }
}

/// Notes rebalances; holds a revocation until the batch being written is written.
pub struct GroupContext {
    rebalanced: Arc<AtomicBool>,
    gate: Arc<WriteGate>,
    revoke_wait: Duration,
}

impl ClientContext for GroupContext {
    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
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
        // Called inside the loop's poll on a runtime worker: let the runtime move its
        // other tasks (the writer among them) elsewhere while this thread waits.
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
        self.rebalanced.store(true, Ordering::SeqCst);
    }
}

/// The group consumer of the records topic.
pub type GroupConsumer = StreamConsumer<GroupContext>;

/// Joins `group` on `topic`; offsets are committed by hand, only after the store acknowledged.
/// A revocation waits up to the max poll interval for `gate` to be idle.
pub fn group_consumer(brokers: &str, group: &str, topic: &str, session_timeout_ms: u32, max_poll_interval_ms: u32, fetch_wait_ms: u32, gate: Arc<WriteGate>) -> Result<(GroupConsumer, Arc<AtomicBool>), BusError> {
    let rebalanced = Arc::new(AtomicBool::new(false));
    let context = GroupContext { rebalanced: rebalanced.clone(), gate, revoke_wait: Duration::from_millis(u64::from(max_poll_interval_ms)) };
    let consumer: GroupConsumer = client_config(brokers)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("enable.partition.eof", "true")
        .set("partition.assignment.strategy", "range")
        .set("session.timeout.ms", session_timeout_ms.to_string())
        .set("heartbeat.interval.ms", (session_timeout_ms / 10).max(100).to_string())
        .set("max.poll.interval.ms", max_poll_interval_ms.to_string())
        .set("fetch.wait.max.ms", fetch_wait_ms.to_string())
        .set("fetch.max.bytes", "8388608")
        .set("max.partition.fetch.bytes", "2097152")
        .set("queued.max.messages.kbytes", "65536")
        .create_with_context(context)?;
    consumer.subscribe(&[topic])?;
    Ok((consumer, rebalanced))
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
pub fn spawn_lag_probe(brokers: &str, group: &str, topic: &str, partitions: usize, metrics: AggregatorMetrics, stop: CancellationToken) -> Result<GroupView, BusError> {
    let probe: BaseConsumer = client_config(brokers).set("group.id", group).set("enable.auto.commit", "false").create()?;
    let topic = topic.to_string();
    let view = GroupView::default();
    let shared = view.clone();
    std::thread::spawn(move || {
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
            std::thread::sleep(Duration::from_secs(2));
        }
    });
    Ok(view)
}
