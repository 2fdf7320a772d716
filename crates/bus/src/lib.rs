//! The Kafka adapter: topic names and creation, idempotent producers,
//! consumers, collector checkpoints, dead-letter headers and the log of claims
//! (closes, policy changes and programme steps).
//!
//! Delivery is at-least-once everywhere (the brokers in use do not support
//! transactions): producers are idempotent, positions are stored only after
//! what precedes them is acknowledged, and writes downstream are idempotent.
//! No rule of the subsidy lives here.

pub mod admin;
pub mod checkpoint;
pub mod claim_log;
pub mod closes;
pub mod config;
pub mod dead_letter;
pub mod error;
pub mod policy_log;
pub mod producer;
pub mod programme_log;
pub mod reader;

pub use admin::{check_reachable, ensure_topics, TopicSpec};
pub use checkpoint::{Checkpoint, Checkpoints};
pub use closes::{Claim, ClosesLog, CLOSES_TOPIC};
pub use config::{client_config, BusConfig, Topics};
pub use dead_letter::{dead_letter_headers, dead_letter_value, header_str, DeadLetter, MAX_DEAD_LETTER_VALUE_BYTES, MAX_DETAIL_BYTES, STORE_REFUSED};
pub use error::BusError;
pub use policy_log::{standing_policy_claim, PolicyClaim, PolicyLog};
pub use producer::{idempotent_producer, MAX_MESSAGE_BYTES};
pub use programme_log::{standing_steps, StepClaim, StepLogTopic};
pub use reader::TopicReader;
