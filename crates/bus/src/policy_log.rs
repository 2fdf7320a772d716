//! Policy changes of a ClickHouse ledger in the log of closes. ClickHouse has
//! no transactions, so two `policy apply` started at once are fenced the way
//! closes are: each appends a claim {ledger, sequence, document} to the same
//! one-partition topic (under the key `<ledger>/policy`, which the closes'
//! reader skips), reads the log from the start through its own claim, and
//! records its document only if its claim is the first of that sequence. The
//! log's order decides, never a clock. A claim carries the document's text, so
//! a run that finds a standing claim whose row was never written completes it.

use crate::closes::ensure_log_topic;
use crate::error::BusError;
use crate::producer::idempotent_producer;
use crate::reader::TopicReader;
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A claim on the next sequence of a ledger's policy documents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyClaim {
    /// The ledger (the store's database).
    pub ledger: String,
    /// The sequence the document would take.
    pub sequence: u64,
    /// SHA-256 of `text`.
    pub hash: String,
    /// The canonical TOML of the document.
    pub text: String,
    /// Who or what applied it.
    pub note: String,
    /// When the claim was made (RFC 3339; for people, nothing is ordered by it).
    pub claimed_at: String,
}

/// The policy claims in the log of closes.
#[derive(Clone)]
pub struct PolicyLog {
    producer: FutureProducer,
    brokers: String,
    topic: String,
}

impl std::fmt::Debug for PolicyLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyLog").field("topic", &self.topic).finish()
    }
}

fn key(ledger: &str) -> String {
    format!("{ledger}/policy")
}

impl PolicyLog {
    /// Opens the log, creating its topic (one partition, kept for good) when missing.
    pub async fn open(brokers: &str, topic: &str, timeout: Duration) -> Result<PolicyLog, BusError> {
        ensure_log_topic(brokers, topic, timeout).await?;
        Ok(PolicyLog { producer: idempotent_producer(brokers)?, brokers: brokers.into(), topic: topic.into() })
    }

    /// The topic's name.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Appends a claim and waits for the broker's acknowledgement; returns its offset.
    pub async fn append(&self, claim: &PolicyClaim) -> Result<i64, BusError> {
        let payload = serde_json::to_vec(claim).map_err(|e| BusError::BadCheckpoint { topic: self.topic.clone(), detail: e.to_string() })?;
        let key = key(&claim.ledger);
        let record = FutureRecord::to(&self.topic).key(key.as_str()).payload(&payload).partition(0);
        self.producer.send(record, Duration::from_secs(30)).await.map(|d| d.offset).map_err(|(e, _)| BusError::Kafka(e))
    }

    /// Every policy claim of `ledger` in log order with its offset; when `through` is given,
    /// an error unless the read reached that offset.
    pub async fn claims(&self, ledger: &str, through: Option<i64>, timeout: Duration) -> Result<Vec<(i64, PolicyClaim)>, BusError> {
        let mut attempt = 0;
        loop {
            match self.read_once(ledger, through, timeout).await {
                Err(BusError::Unreachable { .. }) if attempt < 4 => attempt += 1,
                done => return done,
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn read_once(&self, ledger: &str, through: Option<i64>, timeout: Duration) -> Result<Vec<(i64, PolicyClaim)>, BusError> {
        let reader = TopicReader::connect(&self.brokers, &self.topic, timeout).await?;
        let wanted = key(ledger);
        let mut out = Vec::new();
        let mut last = -1;
        reader
            .catch_up(timeout, |m| {
                last = last.max(m.offset());
                if m.key() != Some(wanted.as_bytes()) {
                    return;
                }
                match m.payload().map(serde_json::from_slice::<PolicyClaim>) {
                    Some(Ok(claim)) if claim.ledger == ledger => out.push((m.offset(), claim)),
                    _ => tracing::warn!(topic = %self.topic, offset = m.offset(), "policy log: a message that is not a policy claim is ignored"),
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

/// The claim that stands for `sequence`: the first in log order.
pub fn standing_policy_claim(claims: &[(i64, PolicyClaim)], sequence: u64) -> Option<&(i64, PolicyClaim)> {
    claims.iter().find(|(_, c)| c.sequence == sequence)
}
