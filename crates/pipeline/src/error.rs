//! The pipeline's one error type: where a failure came from and whether
//! trying again can help. Binaries add context; this crate never uses `anyhow`.

use subsidy_bus::BusError;
use subsidy_platform::client::FetchError;
use subsidy_store::StoreError;

/// What stopped a collector or aggregator run.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// Kafka refused or lost something.
    #[error("{what}: {source}")]
    Bus {
        /// What the pipeline was doing.
        what: &'static str,
        /// The bus error.
        source: BusError,
    },
    /// The ledger store failed in a way retrying did not mend.
    #[error("{what}: {source}")]
    Store {
        /// What the pipeline was doing.
        what: &'static str,
        /// The store error.
        source: StoreError,
    },
    /// The platform answered with an error retrying did not mend.
    #[error("{what}: {source}")]
    Platform {
        /// What the pipeline was doing.
        what: &'static str,
        /// The request error.
        source: FetchError,
    },
    /// Shutdown was asked for while waiting on an outside service.
    #[error("stopped while {0}")]
    Stopped(&'static str),
    /// A task of the pipeline failed (a bug, or the runtime shutting down).
    #[error("internal: {0}")]
    Internal(String),
    /// The `/metrics` listener could not start.
    #[error("cannot listen for /metrics on {addr}: {detail}")]
    Listen {
        /// The address asked for.
        addr: std::net::SocketAddr,
        /// Why.
        detail: String,
    },
}

impl PipelineError {
    /// Whether running again later may succeed (an outside service was unavailable).
    pub fn is_retryable(&self) -> bool {
        match self {
            PipelineError::Bus { source, .. } => source.is_retryable(),
            PipelineError::Store { source, .. } => source.is_retryable(),
            PipelineError::Platform { source, .. } => source.is_retryable(),
            PipelineError::Stopped(_) | PipelineError::Internal(_) | PipelineError::Listen { .. } => false,
        }
    }

    /// A Kafka error while doing `what`.
    pub fn bus(what: &'static str) -> impl FnOnce(BusError) -> PipelineError {
        move |source| PipelineError::Bus { what, source }
    }

    /// A Kafka client error while doing `what`.
    pub fn kafka(what: &'static str) -> impl FnOnce(rdkafka::error::KafkaError) -> PipelineError {
        move |e| PipelineError::Bus { what, source: BusError::Kafka(e) }
    }

    /// A store error while doing `what`.
    pub fn store(what: &'static str) -> impl FnOnce(StoreError) -> PipelineError {
        move |source| PipelineError::Store { what, source }
    }
}

/// Result of the pipeline's operations.
pub type PipelineResult<T> = Result<T, PipelineError>;
