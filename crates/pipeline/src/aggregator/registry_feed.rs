//! The registry as the aggregator sees it: entities and centers read from
//! their compacted topics, the position reached in those topics, and a log of
//! which ledger lines each change may re-settle.
//!
//! Positions are data (the next offset to read per registry topic partition),
//! so they mean the same on every member: they version the lines classified
//! against them and mark how far each records partition is re-settled.

use crate::error::{PipelineError, PipelineResult};
use crate::metrics::AggregatorMetrics;
use rdkafka::message::Message;
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use subsidy_bus::TopicReader;
use subsidy_core::registry::{parse_center, parse_entity, Issue};
use subsidy_core::{Affected, Registry};
use tokio_util::sync::CancellationToken;

/// Which registry topic a message came from (the name used in positions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The entities topic.
    Entities,
    /// The compute-centers topic.
    Centers,
}

impl Source {
    fn as_str(self) -> &'static str {
        match self {
            Source::Entities => "entities",
            Source::Centers => "centers",
        }
    }
}

/// How far the registry topics have been read: the next offset per topic partition.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistryPosition(BTreeMap<String, i64>);

impl RegistryPosition {
    fn key(source: Source, partition: i32) -> String {
        format!("{}/{partition}", source.as_str())
    }

    /// The sum of the next offsets: grows with every message read, the same on every member
    /// that has read as far.
    pub fn total(&self) -> u64 {
        self.0.values().map(|o| u64::try_from(*o).unwrap_or(0)).sum()
    }

    /// The text kept in a re-settlement mark: `entities/0:12,centers/0:5`.
    pub fn encode(&self) -> String {
        self.0.iter().map(|(k, o)| format!("{k}:{o}")).collect::<Vec<_>>().join(",")
    }

    /// The inverse of [`RegistryPosition::encode`]; `None` when the text is not one.
    pub fn decode(text: &str) -> Option<RegistryPosition> {
        let mut map = BTreeMap::new();
        for part in text.split(',').filter(|p| !p.is_empty()) {
            let (k, o) = part.rsplit_once(':')?;
            map.insert(k.to_string(), o.parse().ok()?);
        }
        Some(RegistryPosition(map))
    }

    /// Whether the message at `offset` of `key` had been read at this position.
    fn covers(&self, key: &str, offset: i64) -> bool {
        self.0.get(key).is_some_and(|next| offset < *next)
    }
}

/// One change that may re-settle lines.
#[derive(Debug, Clone)]
struct Change {
    key: String,
    offset: i64,
    affected: Affected,
}

/// The registry, its position and its change log.
#[derive(Debug, Default)]
pub struct RegistryView {
    /// The entities and centers.
    pub registry: Registry,
    position: RegistryPosition,
    log: Vec<Change>,
}

impl RegistryView {
    /// Applies one registry message; a message that does not parse changes nothing but the position.
    pub fn apply(&mut self, source: Source, partition: i32, offset: i64, payload: &[u8]) -> Result<(), String> {
        let key = RegistryPosition::key(source, partition);
        self.position.0.insert(key.clone(), offset + 1);
        let value: serde_json::Value = serde_json::from_slice(payload).map_err(|e| format!("not JSON: {e}"))?;
        let affected = match source {
            Source::Entities => self.registry.upsert_entity(parse_entity(&value).map_err(|r| r.to_string())?),
            Source::Centers => self.registry.upsert_center(parse_center(&value).map_err(|r| r.to_string())?),
        };
        if !affected.is_empty() {
            self.log.push(Change { key, offset, affected });
        }
        Ok(())
    }

    /// Where the registry is.
    pub fn position(&self) -> &RegistryPosition {
        &self.position
    }

    /// What changed after `mark`: every change it had not read (everything, for no mark).
    pub fn since(&self, mark: Option<&RegistryPosition>) -> Affected {
        let mut out = Affected::default();
        for c in &self.log {
            if !mark.is_some_and(|m| m.covers(&c.key, c.offset)) {
                out.merge(c.affected.clone());
            }
        }
        out
    }
}

/// The registry shared by the feed and the aggregator loop.
pub type SharedRegistry = Arc<RwLock<RegistryView>>;

/// Reads a lock whose writer may have panicked: the view is still whole, every write is one call.
pub fn read(shared: &SharedRegistry) -> std::sync::RwLockReadGuard<'_, RegistryView> {
    shared.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write(shared: &SharedRegistry) -> std::sync::RwLockWriteGuard<'_, RegistryView> {
    shared.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn apply(shared: &SharedRegistry, source: Source, m: &rdkafka::message::BorrowedMessage<'_>) {
    if let Err(why) = write(shared).apply(source, m.partition(), m.offset(), m.payload().unwrap_or_default()) {
        tracing::warn!(source = source.as_str(), offset = m.offset(), "registry message refused: {why}");
    }
}

/// Publishes the data-quality findings of the registry as it stands.
fn publish_findings(shared: &SharedRegistry, metrics: &AggregatorMetrics) {
    let findings = read(shared).registry.findings();
    for issue in [Issue::ProvinceDisagreesWithCode, Issue::CityDisagreesWithCode] {
        let n = findings.iter().filter(|f| f.issue == issue).count();
        metrics.registry_findings.with_label_values(&[issue.as_str()]).set(n as i64);
    }
}

/// Reads both registry topics to their end, then keeps tailing them until cancelled
/// (the tailing tasks are returned, to be waited for).
pub async fn start(
    brokers: &str,
    entities: &str,
    centers: &str,
    metrics: AggregatorMetrics,
    shutdown: CancellationToken,
) -> PipelineResult<(SharedRegistry, Vec<tokio::task::JoinHandle<()>>)> {
    let shared = SharedRegistry::default();
    let timeout = Duration::from_secs(60);
    let open = |topic| TopicReader::open(brokers, topic, timeout).map_err(PipelineError::bus("opening a registry topic"));
    let readers = [(open(entities)?, Source::Entities), (open(centers)?, Source::Centers)];
    for (reader, source) in &readers {
        reader.catch_up(timeout, |m| apply(&shared, *source, m)).await.map_err(PipelineError::bus("reading the registry"))?;
    }
    publish_findings(&shared, &metrics);
    {
        let view = read(&shared);
        tracing::info!(entities = view.registry.entity_count(), centers = view.registry.center_count(), position = %view.position.encode(), "registry loaded");
    }
    let mut tasks = Vec::new();
    for (reader, source) in readers {
        let (shared, shutdown, metrics) = (shared.clone(), shutdown.clone(), metrics.clone());
        tasks.push(tokio::spawn(async move {
            let mut unpublished = false;
            while !shutdown.is_cancelled() {
                match reader.next(Duration::from_millis(500)).await {
                    Ok(Some(m)) => {
                        apply(&shared, source, &m);
                        unpublished = true;
                    }
                    Ok(None) if unpublished => {
                        publish_findings(&shared, &metrics);
                        unpublished = false;
                    }
                    Ok(None) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "registry feed error");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        }));
    }
    Ok((shared, tasks))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn entity(code: &str, city: &str) -> Vec<u8> {
        serde_json::json!({"credit_code": code, "name": "n", "kind": "enterprise", "province": "安徽省", "city": city, "related_group": null}).to_string().into_bytes()
    }

    #[test]
    fn positions_round_trip_and_changes_are_read_since_a_mark() {
        let code = subsidy_core::CreditCode::complete("91340100MA0000001").unwrap();
        let mut v = RegistryView::default();
        v.apply(Source::Entities, 0, 0, &entity(code.as_str(), "合肥市")).unwrap();
        let mark = v.position().clone();
        assert_eq!(RegistryPosition::decode(&mark.encode()), Some(mark.clone()));
        assert_eq!(mark.total(), 1);
        assert!(v.since(Some(&mark)).is_empty());
        // The same entry again changes no line; a new city does.
        v.apply(Source::Entities, 0, 1, &entity(code.as_str(), "合肥")).unwrap();
        assert!(v.since(Some(&mark)).is_empty());
        v.apply(Source::Entities, 0, 2, &entity(code.as_str(), "阜阳市")).unwrap();
        assert!(v.since(Some(&mark)).users.contains(&code));
        assert!(v.since(None).users.contains(&code), "no mark: everything since the beginning");
        assert!(v.apply(Source::Centers, 0, 0, b"{").is_err());
        assert_eq!(v.position().total(), 4, "a refused message still moves the position");
    }
}
