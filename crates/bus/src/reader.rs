//! Reading a whole topic (every partition, from the beginning) outside any
//! consumer group: for registries and checkpoints, where every reader needs
//! every message.

use crate::config::client_config;
use crate::error::BusError;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::BorrowedMessage;
use rdkafka::{Offset, TopicPartitionList};
use rdkafka::error::KafkaError;
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// Client context that keeps end-of-partition events out of the error log:
/// here they are expected, and handled as "caught up".
#[derive(Debug)]
pub struct QuietEof;

impl rdkafka::ClientContext for QuietEof {
    fn error(&self, error: KafkaError, reason: &str) {
        if error.rdkafka_error_code() != Some(rdkafka::types::RDKafkaErrorCode::PartitionEOF) {
            tracing::warn!(error = %error, "kafka: {reason}");
        }
    }
}

impl rdkafka::consumer::ConsumerContext for QuietEof {}

/// A group-less consumer of every partition of one topic.
pub struct TopicReader {
    consumer: StreamConsumer<QuietEof>,
    topic: String,
}

impl std::fmt::Debug for TopicReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TopicReader").field("topic", &self.topic).finish()
    }
}

impl TopicReader {
    /// Assigns every partition of `topic` from the beginning, on a blocking thread:
    /// reading the topic's metadata waits on the broker (up to `timeout`), which must not
    /// hold up an async runtime's worker.
    pub async fn connect(brokers: &str, topic: &str, timeout: Duration) -> Result<TopicReader, BusError> {
        let (owned, topic) = (brokers.to_string(), topic.to_string());
        tokio::task::spawn_blocking(move || TopicReader::open(&owned, &topic, timeout))
            .await
            .map_err(|e| BusError::Unreachable { brokers: brokers.to_string(), detail: format!("the metadata request did not finish: {e}") })?
    }

    /// Assigns every partition of `topic` from the beginning. Blocks up to `timeout` on the
    /// broker: from async code use [`TopicReader::connect`].
    pub fn open(brokers: &str, topic: &str, timeout: Duration) -> Result<TopicReader, BusError> {
        let consumer: StreamConsumer<QuietEof> = client_config(brokers)
            .set("group.id", "subsidy-meter-reader")
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            // End of partition is judged by fetch responses: the broker in use
            // reports a stale high watermark to ListOffsets (it leaves out the
            // last batch), but its fetch responses are right.
            .set("enable.partition.eof", "true")
            .create_with_context(QuietEof)?;
        let md = consumer.fetch_metadata(Some(topic), timeout)?;
        let mut tpl = TopicPartitionList::new();
        for t in md.topics() {
            for p in t.partitions() {
                tpl.add_partition_offset(topic, p.id(), Offset::Beginning)?;
            }
        }
        consumer.assign(&tpl)?;
        Ok(TopicReader { consumer, topic: topic.to_string() })
    }

    /// Reads until every partition reports its end, calling `f` for each message.
    /// Returns the number of messages read.
    pub async fn catch_up(&self, timeout: Duration, mut f: impl FnMut(&BorrowedMessage<'_>)) -> Result<u64, BusError> {
        let deadline = Instant::now() + timeout;
        let mut open: HashSet<i32> = self.consumer.assignment()?.elements().iter().map(|e| e.partition()).collect();
        let mut n = 0;
        while !open.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(BusError::Unreachable { brokers: self.topic.clone(), detail: format!("timed out reading topic {} to its end", self.topic) });
            }
            match tokio::time::timeout(left, self.consumer.recv()).await {
                Ok(Ok(m)) => {
                    f(&m);
                    n += 1;
                }
                Ok(Err(KafkaError::PartitionEOF(p))) => {
                    open.remove(&p);
                }
                Ok(Err(e)) => return Err(e.into()),
                Err(_) => continue,
            }
        }
        Ok(n)
    }

    /// Waits up to `wait` for the next message.
    pub async fn next(&self, wait: Duration) -> Result<Option<BorrowedMessage<'_>>, BusError> {
        match tokio::time::timeout(wait, self.consumer.recv()).await {
            Ok(Ok(m)) => Ok(Some(m)),
            Ok(Err(KafkaError::PartitionEOF(_))) => Ok(None),
            Ok(Err(e)) => Err(e.into()),
            Err(_) => Ok(None),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    /// Reading metadata from a broker that does not answer takes the whole timeout; on a
    /// one-thread runtime, other tasks keep running meanwhile.
    #[test]
    fn connecting_leaves_the_runtime_free() {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let ticks = Arc::new(AtomicU64::new(0));
        let counted = ticks.clone();
        let during = runtime.block_on(async move {
            let ticker = tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    counted.fetch_add(1, Ordering::Relaxed);
                }
            });
            tokio::task::yield_now().await;
            let opened = TopicReader::connect("127.0.0.1:1", "nowhere", Duration::from_secs(2)).await;
            let during = ticks.load(Ordering::Relaxed);
            ticker.abort();
            assert!(opened.is_err(), "no broker listens on port 1");
            during
        });
        assert!(during > 0, "the runtime's only thread was held while the metadata request waited");
    }
}
