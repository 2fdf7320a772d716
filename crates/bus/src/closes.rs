//! The log of closes: a one-partition topic, written by an idempotent producer,
//! where every closer of a ClickHouse ledger appends a claim before it records
//! its closure. The log's order decides which close of a month stands (the first
//! standing claim of the month, see `subsidy_core::standing_claims`), never a
//! clock. Claims are kept for a century (no compaction): a later run
//! completes a winning claim whose closure was never recorded.

use crate::config::client_config;
use crate::error::BusError;
use crate::producer::idempotent_producer;
use crate::reader::TopicReader;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaErrorCode;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The default name of the log of closes.
pub const CLOSES_TOPIC: &str = "subsidy.closes";

/// A closer's claim on the months it closes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    /// The ledger the close is for (the store's database): claims of other ledgers are ignored.
    pub ledger: String,
    /// The close; its staged statement lines carry this id.
    pub close_id: String,
    /// Every month it closes, `YYYY-MM`.
    pub periods: Vec<String>,
    /// How many statement lines it staged.
    pub lines: u64,
    /// The digest of those lines (`subsidy_core::statements_digest`).
    pub digest: String,
    /// `partition:offset,…`: the highest bus position of each records partition its figures had seen.
    pub seen: String,
    /// Why it closed a month that had not ended, when it did.
    pub early_reason: Option<String>,
    /// When the claim was made (RFC 3339; for people, nothing is ordered by it).
    pub claimed_at: String,
    /// Hash of the policy document the close computed under ("" in claims made before
    /// ledgers recorded documents).
    #[serde(default)]
    pub policy_hash: String,
}

/// The log of closes on one topic.
#[derive(Clone)]
pub struct ClosesLog {
    producer: FutureProducer,
    brokers: String,
    topic: String,
}

impl std::fmt::Debug for ClosesLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClosesLog").field("topic", &self.topic).finish()
    }
}

impl ClosesLog {
    /// Opens the log, creating its topic (one partition, kept for good) when missing.
    pub async fn open(brokers: &str, topic: &str, timeout: Duration) -> Result<ClosesLog, BusError> {
        ensure_log_topic(brokers, topic, timeout).await?;
        Ok(ClosesLog { producer: idempotent_producer(brokers)?, brokers: brokers.into(), topic: topic.into() })
    }

    /// The topic's name.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Appends a claim and waits for the broker's acknowledgement; returns its offset.
    pub async fn append(&self, claim: &Claim) -> Result<i64, BusError> {
        let payload = serde_json::to_vec(claim).map_err(|e| BusError::BadCheckpoint { topic: self.topic.clone(), detail: e.to_string() })?;
        let record = FutureRecord::to(&self.topic).key(claim.ledger.as_str()).payload(&payload).partition(0);
        self.producer.send(record, Duration::from_secs(30)).await.map(|d| d.offset).map_err(|(e, _)| BusError::Kafka(e))
    }

    /// Every claim of `ledger` in log order with its offset, read from the start to the
    /// end of the log; when `through` is given, an error unless the read reached that offset.
    pub async fn claims(&self, ledger: &str, through: Option<i64>, timeout: Duration) -> Result<Vec<(i64, Claim)>, BusError> {
        let mut attempt = 0;
        loop {
            match self.read_once(ledger, through, timeout).await {
                // A fetch that ended before an acknowledged claim: read again (bounded).
                Err(BusError::Unreachable { .. }) if attempt < 4 => attempt += 1,
                done => return done,
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn read_once(&self, ledger: &str, through: Option<i64>, timeout: Duration) -> Result<Vec<(i64, Claim)>, BusError> {
        let reader = TopicReader::connect(&self.brokers, &self.topic, timeout).await?;
        let mut out = Vec::new();
        let mut last = -1;
        reader
            .catch_up(timeout, |m| {
                last = last.max(m.offset());
                if m.key() != Some(ledger.as_bytes()) {
                    return;
                }
                match m.payload().map(serde_json::from_slice::<Claim>) {
                    Some(Ok(claim)) if claim.ledger == ledger => out.push((m.offset(), claim)),
                    _ => tracing::warn!(topic = %self.topic, offset = m.offset(), "closes: a message that is not a claim is ignored"),
                }
            })
            .await?;
        if let Some(own) = through.filter(|own| last < *own) {
            return Err(BusError::Unreachable { brokers: self.brokers.clone(), detail: format!("the log of closes {} ended at offset {last}, before the claim at {own}", self.topic) });
        }
        out.sort_by_key(|(offset, _)| *offset);
        Ok(out)
    }
}

/// How long the log keeps a claim: a century, in milliseconds. Not `-1` ("for ever" to
/// Kafka): a broker that reads `-1` as a plain number of milliseconds deletes every claim at
/// its next clean-up (the development broker does), and a century means the same on both.
pub const RETENTION_MS: i64 = 100 * 365 * 24 * 60 * 60 * 1000;

/// Creates the log's topic when missing: one partition (one order), never compacted, kept
/// for [`RETENTION_MS`].
pub(crate) async fn ensure_log_topic(brokers: &str, topic: &str, timeout: Duration) -> Result<(), BusError> {
    let admin: AdminClient<DefaultClientContext> = client_config(brokers).create()?;
    let retention = RETENTION_MS.to_string();
    let new = NewTopic::new(topic, 1, TopicReplication::Fixed(1)).set("retention.ms", &retention).set("cleanup.policy", "delete");
    let results = admin.create_topics([&new], &AdminOptions::new().operation_timeout(Some(timeout))).await?;
    for r in results {
        match r {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => return Err(BusError::Unreachable { brokers: brokers.into(), detail: format!("cannot create topic {name}: {code}") }),
        }
    }
    Ok(())
}
