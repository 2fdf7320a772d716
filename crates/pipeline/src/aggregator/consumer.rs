//! The records-topic consumer: a consumer-group member whose context notes
//! rebalances (so the loop can rebuild its state) and reports lag per
//! partition from the client's statistics.

use crate::metrics::AggregatorMetrics;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance, StreamConsumer};
use rdkafka::{ClientContext, Statistics};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use subsidy_bus::{client_config, BusError};

/// Notes rebalances and publishes lag.
pub struct GroupContext {
    rebalanced: Arc<AtomicBool>,
    metrics: AggregatorMetrics,
    topic: String,
}

impl ClientContext for GroupContext {
    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        if error.rdkafka_error_code() != Some(rdkafka::types::RDKafkaErrorCode::PartitionEOF) {
            tracing::warn!(error = %error, "kafka: {reason}");
        }
    }

    fn stats(&self, statistics: Statistics) {
        if let Some(t) = statistics.topics.get(&self.topic) {
            for (id, p) in &t.partitions {
                if *id >= 0 && p.consumer_lag >= 0 {
                    self.metrics.consumer_lag.with_label_values(&[&id.to_string()]).set(p.consumer_lag);
                }
            }
        }
    }
}

impl ConsumerContext for GroupContext {
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
pub fn group_consumer(brokers: &str, group: &str, topic: &str, session_timeout_ms: u32, max_poll_interval_ms: u32, metrics: AggregatorMetrics) -> Result<(GroupConsumer, Arc<AtomicBool>), BusError> {
    let rebalanced = Arc::new(AtomicBool::new(false));
    let context = GroupContext { rebalanced: rebalanced.clone(), metrics, topic: topic.to_string() };
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
        .set("statistics.interval.ms", "5000")
        .set("fetch.max.bytes", "8388608")
        .set("max.partition.fetch.bytes", "2097152")
        .set("queued.max.messages.kbytes", "262144")
        .create_with_context(context)?;
    consumer.subscribe(&[topic])?;
    Ok((consumer, rebalanced))
}
