//! The pipeline's moving parts: the collector (platform → Kafka) and the
//! aggregator (Kafka → core → ledger store), their metrics and the
//! `/metrics` endpoint, and the log that fences a ClickHouse ledger's programme
//! steps. Rules come from `subsidy-core` only.

pub mod aggregator;
pub mod collector;
pub mod error;
pub mod metrics;
pub mod metrics_http;
pub mod policy_change;
pub mod programme_log;

pub use error::{PipelineError, PipelineResult};
