//! The idempotent producer every writer to the bus uses, and the largest
//! message it sends.

use crate::config::client_config;
use crate::error::BusError;
use rdkafka::producer::FutureProducer;

/// Largest message the producer sends, in bytes (librdkafka's `message.max.bytes`,
/// stated here so that the limits of what is produced can be checked against it).
/// Every message produced stays well below it: a record or registry item at most
/// 64 KiB, a dead letter at most 64 KiB of value and a few KiB of headers.
pub const MAX_MESSAGE_BYTES: usize = 1_000_000;

/// An idempotent, acks=all producer: retries cannot duplicate or reorder within a partition.
pub fn idempotent_producer(brokers: &str) -> Result<FutureProducer, BusError> {
    Ok(client_config(brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("batch.num.messages", "10000")
        .set("queue.buffering.max.messages", "200000")
        .set("message.timeout.ms", "120000")
        .set("message.max.bytes", MAX_MESSAGE_BYTES.to_string())
        .create()?)
}
