//! A log of claims: a one-partition topic, written by an idempotent producer,
//! where each of several operators' actions that must not both stand (two
//! closes of a month, two policy changes of one sequence) appends a claim and
//! then reads the log from the start through its own claim. The log's order
//! decides which claim stands, never a clock. Claims are kept for a century
//! (no compaction), so a later run can complete a standing claim whose effect
//! was never recorded. [`crate::closes`], [`crate::policy_log`] and
//! [`crate::programme_log`] are the kinds of claim; all live in one topic under
//! different keys.

use crate::config::client_config;
use crate::error::BusError;
use crate::producer::idempotent_producer;
use crate::reader::TopicReader;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaErrorCode;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::marker::PhantomData;
use std::time::Duration;

/// One kind of claim the log holds.
pub trait LogClaim: Serialize + DeserializeOwned {
    /// What a claim of this kind is called in logs, e.g. "close claim".
    const WHAT: &'static str;
    /// The ledger (the store's database) the claim is for.
    fn ledger(&self) -> &str;
    /// The message key of this kind's claims for `ledger`: readers skip other keys.
    fn key(ledger: &str) -> String;
}

/// The claims of one kind in a log topic.
pub struct ClaimLog<T> {
    producer: FutureProducer,
    brokers: String,
    topic: String,
    claims: PhantomData<fn() -> T>,
}

impl<T> Clone for ClaimLog<T> {
    fn clone(&self) -> Self {
        ClaimLog { producer: self.producer.clone(), brokers: self.brokers.clone(), topic: self.topic.clone(), claims: PhantomData }
    }
}

impl<T: LogClaim> std::fmt::Debug for ClaimLog<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClaimLog").field("kind", &T::WHAT).field("topic", &self.topic).finish()
    }
}

impl<T: LogClaim> ClaimLog<T> {
    /// Opens the log, creating its topic (one partition, kept for good) when missing.
    pub async fn open(brokers: &str, topic: &str, timeout: Duration) -> Result<ClaimLog<T>, BusError> {
        ensure_log_topic(brokers, topic, timeout).await?;
        Ok(ClaimLog { producer: idempotent_producer(brokers)?, brokers: brokers.into(), topic: topic.into(), claims: PhantomData })
    }

    /// The topic's name.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Appends a claim and waits for the broker's acknowledgement; returns its offset.
    pub async fn append(&self, claim: &T) -> Result<i64, BusError> {
        let payload = serde_json::to_vec(claim).map_err(|e| BusError::BadCheckpoint { topic: self.topic.clone(), detail: e.to_string() })?;
        let key = T::key(claim.ledger());
        let record = FutureRecord::to(&self.topic).key(key.as_str()).payload(&payload).partition(0);
        self.producer.send(record, Duration::from_secs(30)).await.map(|d| d.offset).map_err(|(e, _)| BusError::Kafka(e))
    }

    /// Every claim of this kind for `ledger` in log order with its offset, read from the
    /// start to the end of the log; when `through` is given, an error unless the read
    /// reached that offset.
    pub async fn claims(&self, ledger: &str, through: Option<i64>, timeout: Duration) -> Result<Vec<(i64, T)>, BusError> {
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

    async fn read_once(&self, ledger: &str, through: Option<i64>, timeout: Duration) -> Result<Vec<(i64, T)>, BusError> {
        let reader = TopicReader::connect(&self.brokers, &self.topic, timeout).await?;
        let wanted = T::key(ledger);
        let mut out = Vec::new();
        let mut last = -1;
        reader
            .catch_up(timeout, |m| {
                last = last.max(m.offset());
                if m.key() != Some(wanted.as_bytes()) {
                    return;
                }
                match m.payload().map(serde_json::from_slice::<T>) {
                    Some(Ok(claim)) if claim.ledger() == ledger => out.push((m.offset(), claim)),
                    _ => tracing::warn!(topic = %self.topic, offset = m.offset(), "log of claims: a message that is not a {} is ignored", T::WHAT),
                }
            })
            .await?;
        if let Some(own) = through.filter(|own| last < *own) {
            return Err(BusError::Unreachable { brokers: self.brokers.clone(), detail: format!("the log {} ended at offset {last}, before the claim at {own}", self.topic) });
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
/// for [`RETENTION_MS`]. An existing topic is used as it is, so a broker without the
/// CreateTopics API (librdkafka's mock cluster) serves a log made beforehand.
async fn ensure_log_topic(brokers: &str, topic: &str, timeout: Duration) -> Result<(), BusError> {
    if crate::admin::topic_names(brokers, timeout).await?.contains(topic) {
        return Ok(());
    }
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
