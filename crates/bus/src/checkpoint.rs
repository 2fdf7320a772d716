//! Collector checkpoints: the platform cursor up to which every record has
//! been acknowledged by the broker, kept in a compacted topic keyed by
//! collector id.

use crate::error::BusError;
use crate::reader::TopicReader;
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A collector's position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Checkpoint {
    /// The platform cursor to resume from (`None`: the beginning).
    pub cursor: Option<String>,
    /// Records acknowledged so far by this collector id.
    pub records: u64,
    /// Newest `updated_at` seen, as the platform wrote it.
    pub newest_updated_at: Option<String>,
    /// When the checkpoint was written (RFC 3339, UTC).
    pub saved_at: String,
}

/// Reads and writes checkpoints on one topic.
#[derive(Clone)]
pub struct Checkpoints {
    producer: FutureProducer,
    brokers: String,
    topic: String,
}

impl std::fmt::Debug for Checkpoints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checkpoints").field("topic", &self.topic).finish()
    }
}

impl Checkpoints {
    /// Checkpoints on `topic`, written with `producer`.
    pub fn new(producer: FutureProducer, brokers: &str, topic: &str) -> Checkpoints {
        Checkpoints { producer, brokers: brokers.into(), topic: topic.into() }
    }

    /// The brokers the checkpoints are kept on: the collector's bus.
    pub fn brokers(&self) -> &str {
        &self.brokers
    }

    /// The latest checkpoint of collector `id`, if any.
    pub async fn load(&self, id: &str, timeout: Duration) -> Result<Option<Checkpoint>, BusError> {
        let reader = TopicReader::connect(&self.brokers, &self.topic, timeout).await?;
        let mut latest: Option<Vec<u8>> = None;
        reader
            .catch_up(timeout, |m| {
                if m.key() == Some(id.as_bytes()) {
                    latest = m.payload().map(|p| p.to_vec());
                }
            })
            .await?;
        match latest {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| BusError::BadCheckpoint { topic: self.topic.clone(), detail: e.to_string() }),
        }
    }

    /// Writes a checkpoint and waits for the broker's acknowledgement.
    pub async fn save(&self, id: &str, checkpoint: &Checkpoint) -> Result<(), BusError> {
        let payload = serde_json::to_vec(checkpoint).map_err(|e| BusError::BadCheckpoint { topic: self.topic.clone(), detail: e.to_string() })?;
        self.producer
            .send(FutureRecord::to(&self.topic).key(id).payload(&payload), Duration::from_secs(30))
            .await
            .map(|_| ())
            .map_err(|(e, _)| BusError::Kafka(e))
    }
}
