//! The pipeline's moving parts: the collector (platform → Kafka) and the
//! aggregator (Kafka → core → ledger store), their metrics and the
//! `/metrics` endpoint. Rules come from `subsidy-core` only.

pub mod aggregator;
pub mod collector;
pub mod error;
pub mod metrics;
pub mod metrics_http;
pub mod policy_change;

pub use error::{PipelineError, PipelineResult};
