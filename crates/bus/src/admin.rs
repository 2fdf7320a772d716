//! Reachability checks and topic creation.

use crate::config::{client_config, BusConfig};
use crate::error::BusError;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::types::RDKafkaErrorCode;
use std::time::Duration;

/// A topic to create if missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSpec {
    /// Name.
    pub name: String,
    /// Partitions.
    pub partitions: i32,
    /// Log compaction (latest value per key is kept).
    pub compacted: bool,
}

impl BusConfig {
    /// Every topic of the pipeline with its partitions and clean-up policy.
    pub fn topic_specs(&self) -> Vec<TopicSpec> {
        let t = &self.topics;
        vec![
            TopicSpec { name: t.records.clone(), partitions: self.record_partitions, compacted: false },
            TopicSpec { name: t.entities.clone(), partitions: 1, compacted: true },
            TopicSpec { name: t.centers.clone(), partitions: 1, compacted: true },
            TopicSpec { name: t.dead_letter.clone(), partitions: 1, compacted: false },
            TopicSpec { name: t.checkpoints.clone(), partitions: 1, compacted: true },
            TopicSpec { name: t.usage_counts.clone(), partitions: 1, compacted: true },
            TopicSpec { name: t.funded_elsewhere.clone(), partitions: 1, compacted: true },
            TopicSpec { name: t.supplier_claims.clone(), partitions: 1, compacted: true },
        ]
    }
}

/// Fails fast, with the broker list in the message, when no broker answers a metadata request.
pub async fn check_reachable(brokers: &str, timeout: Duration) -> Result<(), BusError> {
    topic_names(brokers, timeout).await.map(|_| ())
}

/// Creates the topics that do not exist yet; existing ones are left as they are.
/// When every topic exists no creation is asked for, so a broker without the
/// CreateTopics API (librdkafka's mock cluster) serves topics made beforehand.
pub async fn ensure_topics(brokers: &str, specs: &[TopicSpec], timeout: Duration) -> Result<(), BusError> {
    let existing = topic_names(brokers, timeout).await?;
    let missing: Vec<&TopicSpec> = specs.iter().filter(|s| !existing.contains(&s.name)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let admin: AdminClient<DefaultClientContext> = client_config(brokers).create()?;
    let new: Vec<NewTopic<'_>> = missing
        .iter()
        .map(|s| {
            let t = NewTopic::new(&s.name, s.partitions, TopicReplication::Fixed(1));
            if s.compacted {
                t.set("cleanup.policy", "compact")
            } else {
                t
            }
        })
        .collect();
    let results = admin.create_topics(new.iter(), &AdminOptions::new().operation_timeout(Some(timeout))).await?;
    for r in results {
        match r {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => {
                return Err(BusError::Unreachable { brokers: brokers.into(), detail: format!("cannot create topic {name}: {code}") });
            }
        }
    }
    Ok(())
}

/// The names of the topics the brokers know.
pub(crate) async fn topic_names(brokers: &str, timeout: Duration) -> Result<std::collections::HashSet<String>, BusError> {
    let brokers_owned = brokers.to_string();
    let result = tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = client_config(&brokers_owned).create()?;
        consumer.fetch_metadata(None, timeout).map(|m| m.topics().iter().map(|t| t.name().to_string()).collect())
    })
    .await;
    match result {
        Ok(Ok(names)) => Ok(names),
        Ok(Err(e)) => Err(BusError::Unreachable { brokers: brokers.into(), detail: e.to_string() }),
        Err(e) => Err(BusError::Unreachable { brokers: brokers.into(), detail: e.to_string() }),
    }
}
