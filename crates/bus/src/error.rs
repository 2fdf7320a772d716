//! Errors of the Kafka adapter.

use rdkafka::error::KafkaError;

/// What went wrong on the bus.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// The broker cannot be reached or did not answer in time.
    #[error("cannot reach Kafka at {brokers}: {detail}")]
    Unreachable {
        /// The bootstrap list.
        brokers: String,
        /// What the client said.
        detail: String,
    },
    /// The client returned an error.
    #[error("kafka: {0}")]
    Kafka(#[from] KafkaError),
    /// A stored checkpoint does not decode.
    #[error("checkpoint on topic {topic} does not decode: {detail}")]
    BadCheckpoint {
        /// The topic.
        topic: String,
        /// Why.
        detail: String,
    },
}

impl BusError {
    /// Whether retrying may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            BusError::Unreachable { .. } => true,
            BusError::Kafka(e) => e.rdkafka_error_code().is_none_or(|c| !matches!(c, rdkafka::types::RDKafkaErrorCode::MessageSizeTooLarge)),
            BusError::BadCheckpoint { .. } => false,
        }
    }
}
