//! Producing a page: good records to the records topic keyed by record id
//! (so every copy of a record lands in one partition, whose owner alone
//! decides what stands for it), refused ones to the dead-letter topic with
//! the reason in headers, all acknowledged before the page counts as sent.
//! Every message fits the producer's message size: records and registry
//! items are at most `MAX_LINE_BYTES`, dead letters keep at most as much
//! of what they refuse and a bounded detail.

use crate::metrics::CollectorMetrics;
use crate::error::{PipelineError, PipelineResult};
use chrono::{DateTime, FixedOffset};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};
use std::time::Duration;
use subsidy_bus::{dead_letter_headers, dead_letter_value, BusError, DeadLetter, Topics};
use subsidy_core::{parse_record, ReasonCode};
use subsidy_platform::client::{Page, PageRecord};

/// What sending one page did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SentPage {
    /// Records acknowledged on the records topic.
    pub produced: u64,
    /// Records acknowledged on the dead-letter topic.
    pub dead_lettered: u64,
    /// Newest `updated_at` among the good records.
    pub newest_updated_at: Option<DateTime<FixedOffset>>,
    /// The cursor after this page.
    pub next_cursor: String,
}

/// A page whose messages are enqueued, with the deliveries still to await.
pub struct PendingPage {
    deliveries: Vec<(DeliveryFuture, Kind)>,
    /// The days (China Standard Time) of the good records' usage, for the usage counts.
    pub(crate) days: std::collections::BTreeSet<chrono::NaiveDate>,
    newest_updated_at: Option<DateTime<FixedOffset>>,
    next_cursor: String,
}

impl std::fmt::Debug for PendingPage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingPage").field("messages", &self.deliveries.len()).field("next_cursor", &self.next_cursor).finish()
    }
}

impl PendingPage {
    /// Waits until the broker acknowledged every message of the page.
    pub async fn acknowledged(self, metrics: &CollectorMetrics) -> PipelineResult<SentPage> {
        let mut sent = SentPage { newest_updated_at: self.newest_updated_at, next_cursor: self.next_cursor, ..SentPage::default() };
        for (future, kind) in self.deliveries {
            match future.await {
                Ok(Ok(_)) => match kind {
                    Kind::Record => sent.produced += 1,
                    Kind::DeadLetter(reason) => {
                        sent.dead_lettered += 1;
                        metrics.dead_letters.with_label_values(&[reason.as_str()]).inc();
                    }
                },
                Ok(Err((e, _))) => return Err(unacknowledged("producing a page of records", e)),
                Err(_) => return Err(PipelineError::Internal("the Kafka producer was dropped before acknowledging a message".into())),
            }
        }
        metrics.records_produced.inc_by(sent.produced);
        Ok(sent)
    }
}

/// The producer and topic names the collector writes to.
#[derive(Clone)]
pub struct RecordSink {
    /// Idempotent producer.
    pub producer: FutureProducer,
    /// Topic names.
    pub topics: Topics,
}

impl std::fmt::Debug for RecordSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordSink").field("topics", &self.topics).finish()
    }
}

enum Kind {
    Record,
    DeadLetter(ReasonCode),
}

fn unacknowledged(what: &'static str, e: KafkaError) -> PipelineError {
    PipelineError::Bus { what, source: BusError::Kafka(e) }
}

impl RecordSink {
    /// Enqueues one message, waiting for room when the local queue is full.
    async fn enqueue<'a>(&self, mut record: FutureRecord<'a, [u8], [u8]>, pending: &mut Vec<(DeliveryFuture, Kind)>, kind: Kind) -> PipelineResult<()> {
        loop {
            match self.producer.send_result(record) {
                Ok(f) => {
                    pending.push((f, kind));
                    return Ok(());
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    record = r;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                Err((e, _)) => return Err(unacknowledged("enqueueing a message for Kafka", e)),
            }
        }
    }

    /// Enqueues every record of a page; the returned page awaits the acknowledgements.
    pub async fn enqueue_page(&self, page: &Page) -> PipelineResult<PendingPage> {
        let mut pending = Vec::with_capacity(page.records.len());
        let mut newest: Option<DateTime<FixedOffset>> = None;
        let mut days = std::collections::BTreeSet::new();
        for item in &page.records {
            let bytes = item.as_bytes();
            let parsed = match item {
                PageRecord::MalformedText(_) => Err((ReasonCode::Malformed, None, "the platform sent a string where a record object belongs".to_string())),
                PageRecord::Raw(_) => parse_record(bytes).map_err(|r| (r.reason, r.field, r.detail)),
            };
            match parsed {
                Ok(record) => {
                    if newest.is_none_or(|n| record.updated_at > n) {
                        newest = Some(record.updated_at);
                    }
                    days.insert(subsidy_core::period::cst_date(&record.usage_end));
                    let fr = FutureRecord::to(&self.topics.records).key(record.record_id.as_bytes()).payload(bytes);
                    self.enqueue(fr, &mut pending, Kind::Record).await?;
                }
                Err((reason, field, detail)) => {
                    let headers = dead_letter_headers(&DeadLetter { reason: reason.as_str(), field, detail: &detail, stage: "collector" });
                    let fr = FutureRecord::<[u8], [u8]>::to(&self.topics.dead_letter).payload(dead_letter_value(bytes)).headers(headers);
                    self.enqueue(fr, &mut pending, Kind::DeadLetter(reason)).await?;
                }
            }
        }
        Ok(PendingPage { deliveries: pending, days, newest_updated_at: newest, next_cursor: page.next_cursor.clone() })
    }

    /// Sends registry items (key, JSON bytes) to `topic` and waits for all acknowledgements.
    pub async fn send_keyed(&self, topic: &str, items: &[(String, Vec<u8>)]) -> PipelineResult<()> {
        let mut pending = Vec::with_capacity(items.len());
        for (key, value) in items {
            let fr = FutureRecord::to(topic).key(key.as_bytes()).payload(value.as_slice());
            self.enqueue(fr, &mut pending, Kind::Record).await?;
        }
        for (future, _) in pending {
            match future.await {
                Ok(Ok(_)) => {}
                Ok(Err((e, _))) => return Err(unacknowledged("producing registry items", e)),
                Err(_) => return Err(PipelineError::Internal("the Kafka producer was dropped before acknowledging a registry item".into())),
            }
        }
        Ok(())
    }

    /// Sends a refused registry item to the dead-letter topic, its first `MAX_LINE_BYTES` at most.
    pub async fn dead_letter(&self, value: &[u8], reason: ReasonCode, field: Option<&str>, detail: &str, metrics: &CollectorMetrics) -> PipelineResult<()> {
        let headers = dead_letter_headers(&DeadLetter { reason: reason.as_str(), field, detail, stage: "collector" });
        let fr = FutureRecord::<[u8], [u8]>::to(&self.topics.dead_letter).payload(dead_letter_value(value)).headers(headers);
        self.producer.send(fr, Duration::from_secs(30)).await.map_err(|(e, _)| unacknowledged("sending a dead letter", e))?;
        metrics.dead_letters.with_label_values(&[reason.as_str()]).inc();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use subsidy_bus::{MAX_DEAD_LETTER_VALUE_BYTES, MAX_DETAIL_BYTES, MAX_MESSAGE_BYTES};
    use subsidy_core::record::{MAX_ID_LEN, MAX_LINE_BYTES};

    #[test]
    fn every_message_fits_the_producers_message_size() {
        assert_eq!(MAX_DEAD_LETTER_VALUE_BYTES, MAX_LINE_BYTES, "a dead letter keeps as much as a line may hold");
        // The largest value, key and four headers of at most MAX_DETAIL_BYTES each, with
        // a generous allowance for the framing of the record and its batch.
        let largest = MAX_LINE_BYTES + MAX_ID_LEN + 4 * (16 + MAX_DETAIL_BYTES) + 1024;
        assert!(largest < MAX_MESSAGE_BYTES, "{largest} bytes do not fit {MAX_MESSAGE_BYTES}");
        assert!(subsidy_platform::client::MAX_CURSOR_BYTES * 6 + 1024 < MAX_MESSAGE_BYTES, "a checkpoint fits, its cursor escaped");
    }
}
