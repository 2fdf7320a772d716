//! What can go wrong talking to a store: a kind that says whether retrying can
//! help, a message for people, and the error it came from, kept as the source.

use crate::clickhouse::{ClusterError, ConfigError};

/// What can go wrong talking to a store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store cannot be reached or dropped the connection: retry later.
    #[error("store unavailable: {message}")]
    Unavailable {
        /// What happened.
        message: String,
        /// The error it came from.
        #[source]
        cause: Option<StoreCause>,
    },
    /// The store answered with an error to this request.
    #[error("store refused the request: {message}")]
    Rejected {
        /// What happened.
        message: String,
        /// The error it came from.
        #[source]
        cause: Option<StoreCause>,
    },
    /// Data in the store does not decode into the expected rows.
    #[error("store returned data that does not decode: {message}")]
    Corrupt {
        /// What happened.
        message: String,
        /// The error it came from.
        #[source]
        cause: Option<StoreCause>,
    },
    /// The operation is not allowed in the current state (e.g. closing a closed month).
    #[error("{0}")]
    Conflict(String),
}

/// The error a [`StoreError`] came from.
#[derive(Debug, thiserror::Error)]
pub enum StoreCause {
    /// The ClickHouse client's error.
    #[error(transparent)]
    ClickHouse(#[from] ::clickhouse::error::Error),
    /// SQLite's error.
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    /// The blocking task that ran a SQLite call failed.
    #[error(transparent)]
    Task(#[from] tokio::task::JoinError),
    /// Invalid ClickHouse settings.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A migration statement with no cluster form.
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    /// A stored decimal that does not parse.
    #[error(transparent)]
    Decimal(#[from] rust_decimal::Error),
    /// A stored date or time that does not parse.
    #[error(transparent)]
    Time(#[from] chrono::ParseError),
}

impl StoreError {
    /// `Unavailable`, with nothing underneath.
    pub fn unavailable(message: impl Into<String>) -> StoreError {
        StoreError::Unavailable { message: message.into(), cause: None }
    }

    /// `Rejected`, with nothing underneath.
    pub fn rejected(message: impl Into<String>) -> StoreError {
        StoreError::Rejected { message: message.into(), cause: None }
    }

    /// `Corrupt`, with nothing underneath.
    pub fn corrupt(message: impl Into<String>) -> StoreError {
        StoreError::Corrupt { message: message.into(), cause: None }
    }

    /// Whether retrying the same request later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Unavailable { .. })
    }

    /// A short, fixed label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            StoreError::Unavailable { .. } => "unavailable",
            StoreError::Rejected { .. } => "rejected",
            StoreError::Corrupt { .. } => "corrupt",
            StoreError::Conflict(_) => "conflict",
        }
    }

    /// The message, without the kind's prefix.
    pub fn message(&self) -> &str {
        match self {
            StoreError::Unavailable { message, .. } | StoreError::Rejected { message, .. } | StoreError::Corrupt { message, .. } | StoreError::Conflict(message) => message,
        }
    }
}

/// Result of store operations.
pub type StoreResult<T> = Result<T, StoreError>;
