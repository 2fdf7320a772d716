//! The idempotent producer every writer to the bus uses.

use crate::config::client_config;
use crate::error::BusError;
use rdkafka::producer::FutureProducer;

/// An idempotent, acks=all producer: retries cannot duplicate or reorder within a partition.
pub fn idempotent_producer(brokers: &str) -> Result<FutureProducer, BusError> {
    Ok(client_config(brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("batch.num.messages", "10000")
        .set("queue.buffering.max.messages", "200000")
        .set("message.timeout.ms", "120000")
        .create()?)
}
