//! Ledger stores: where settled ledgers live.
//!
//! [`LedgerStore`] is the one interface the aggregator, `close`, `export` and
//! the accruals API use. Two implementations share one conformance suite:
//! ClickHouse (the production store) and SQLite (the embedded default).
//! Stores hold no rules: they persist and return what the core computed.
//!
//! Every write is idempotent: rows carry deterministic keys (record id,
//! Kafka partition and offset, credit code and period) and a version, so a
//! replayed batch replaces rather than doubles.

pub mod clickhouse;
mod codec;
mod decimal;
pub mod rows;
pub mod sqlite;

pub use self::clickhouse::{ClickHouseConfig, ClickHouseStore};
pub use self::sqlite::SqliteStore;
pub use rows::*;

use async_trait::async_trait;
use subsidy_core::{Period, Settlement};

/// What can go wrong talking to a store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store cannot be reached or dropped the connection: retry later.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The store answered with an error to this request.
    #[error("store refused the request: {0}")]
    Rejected(String),
    /// Data in the store does not decode into the expected rows.
    #[error("store returned data that does not decode: {0}")]
    Corrupt(String),
    /// The operation is not allowed in the current state (e.g. closing a closed month).
    #[error("{0}")]
    Conflict(String),
}

impl StoreError {
    /// Whether retrying the same request later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }

    /// A short, fixed label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            StoreError::Unavailable(_) => "unavailable",
            StoreError::Rejected(_) => "rejected",
            StoreError::Corrupt(_) => "corrupt",
            StoreError::Conflict(_) => "conflict",
        }
    }
}

/// Result of store operations.
pub type StoreResult<T> = Result<T, StoreError>;

/// The ledger store interface.
#[async_trait]
pub trait LedgerStore: Send + Sync {
    /// Applies pending schema migrations in order; returns the ids newly applied.
    /// Idempotent: a second call applies nothing.
    async fn migrate(&self) -> StoreResult<Vec<String>>;

    /// Cheap liveness check.
    async fn ping(&self) -> StoreResult<()>;

    /// The standing ledger line (highest revision) of each given record id that has one.
    async fn standing_lines(&self, record_ids: &[String]) -> StoreResult<Vec<StandingLine>>;

    /// Writes one processed batch: accepted records, ledger lines, rejections, held
    /// records and adjustment lines. Replaying the same batch changes nothing.
    async fn write_batch(&self, batch: &WriteBatch) -> StoreResult<()>;

    /// Writes settlement rows; for each (credit code, period) the highest `version` stands.
    async fn write_settlements(&self, rows: &[SettlementRow]) -> StoreResult<()>;

    /// Sums of eligible standing lines per (user, period, policy version) for the
    /// given Kafka partitions: the state an aggregator rebuilds when it takes them over.
    async fn accrual_sums(&self, partitions: &[i32]) -> StoreResult<Vec<AccrualSum>>;

    /// Passes to `each` the record id of every ledger line in the given Kafka partitions
    /// (an id may come more than once); returns how many it passed. What an aggregator
    /// rebuilds its filter of seen record ids from.
    async fn record_ids(&self, partitions: &[i32], each: &mut (dyn for<'s> FnMut(&'s str) + Send)) -> StoreResult<u64>;

    /// Held records (unknown entity or center) not yet released, for the given partitions.
    async fn held_records(&self, partitions: &[i32]) -> StoreResult<Vec<HeldRow>>;

    /// Every current settlement with at least one eligible record, sorted by credit code then period.
    async fn settlements(&self) -> StoreResult<Vec<Settlement>>;

    /// Settlements of one entity (all periods, including zero-record rows is not required), sorted by period.
    async fn entity_settlements(&self, credit_code: &str) -> StoreResult<Vec<Settlement>>;

    /// Ledger lines of one entity, optionally for one period, sorted by period then record id.
    async fn entity_lines(&self, credit_code: &str, period: Option<Period>) -> StoreResult<Vec<LineRow>>;

    /// Closed periods with their closing time, oldest first.
    async fn closures(&self) -> StoreResult<Vec<Closure>>;

    /// Closes a period: records the closure and freezes a copy of its current settlements.
    /// Closing a closed period is a `Conflict`.
    async fn close_period(&self, period: Period, closed_at: chrono::DateTime<chrono::Utc>) -> StoreResult<CloseReport>;

    /// Frozen settlements of closed periods, sorted by credit code then period.
    async fn closed_settlements(&self) -> StoreResult<Vec<Settlement>>;

    /// Adjustment lines, sorted by target period, credit code, record id, revision.
    async fn adjustments(&self) -> StoreResult<Vec<AdjustmentRow>>;

    /// Rejections by reason code (for summaries).
    async fn rejection_counts(&self) -> StoreResult<Vec<(String, u64)>>;
}
