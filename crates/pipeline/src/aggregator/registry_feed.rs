//! The registry as the aggregator sees it: entities, centers, the funded-elsewhere
//! list and the supplier claims read from their compacted topics, the position
//! reached in those topics, and a log of which ledger lines each change may re-settle.
//!
//! Positions are data (the next offset to read per registry topic partition),
//! so they mean the same on every member: they version the lines classified
//! against them and mark how far each records partition is re-settled.
//!
//! A message is an entry (key and JSON payload) or a tombstone (a key with no
//! payload), which removes the entry the key names. A message that is neither
//! is refused with a reason code, counted, and changes nothing but the position.

use crate::error::{PipelineError, PipelineResult};
use crate::metrics::AggregatorMetrics;
use rdkafka::message::Message;
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use subsidy_bus::TopicReader;
use subsidy_core::registry::{parse_center, parse_entity, split_entry_key, Issue};
use subsidy_core::funding::{parse_claim_item, parse_funded_item};
use subsidy_core::{Affected, CreditCode, FundedEntry, ReasonCode, Registry, Rejection, SupplierClaim};
use tokio_util::sync::CancellationToken;

/// Which registry topic a message came from (the name used in positions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The entities topic.
    Entities,
    /// The compute-centers topic.
    Centers,
    /// The funded-elsewhere topic.
    FundedElsewhere,
    /// The supplier-claims topic.
    SupplierClaims,
}

impl Source {
    /// The name used in positions and as a metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Entities => "entities",
            Source::Centers => "centers",
            Source::FundedElsewhere => "funded_elsewhere",
            Source::SupplierClaims => "supplier_claims",
        }
    }

    /// Every source, in the order the feed reads them.
    pub const ALL: [Source; 4] = [Source::Entities, Source::Centers, Source::FundedElsewhere, Source::SupplierClaims];

    fn topic(self, topics: &subsidy_bus::Topics) -> &str {
        match self {
            Source::Entities => &topics.entities,
            Source::Centers => &topics.centers,
            Source::FundedElsewhere => &topics.funded_elsewhere,
            Source::SupplierClaims => &topics.supplier_claims,
        }
    }
}

/// Why a registry message was refused. The same message is refused again on every
/// reading, so retrying never helps.
#[derive(Debug, thiserror::Error)]
pub enum RefusedMessage {
    /// The payload is not JSON.
    #[error("not JSON: {0}")]
    NotJson(#[source] serde_json::Error),
    /// The payload is not a valid entity or center.
    #[error("{0}")]
    Invalid(#[source] Rejection),
    /// A tombstone whose key names no entity, center, funded-elsewhere entry or supplier claim.
    #[error("a tombstone whose key {key:?} names no {what}")]
    BadKey {
        /// The key, as text (lossy).
        key: String,
        /// `entity` or `center`.
        what: &'static str,
        /// The reason code.
        reason: ReasonCode,
    },
}

impl RefusedMessage {
    /// The reason code (a metric label): `malformed`, `missing_field`, `invalid_field` or `invalid_credit_code`.
    pub fn reason(&self) -> ReasonCode {
        match self {
            RefusedMessage::NotJson(_) => ReasonCode::Malformed,
            RefusedMessage::Invalid(r) => r.reason,
            RefusedMessage::BadKey { reason, .. } => *reason,
        }
    }

    /// Whether reading the message again could help: never, the message does not change.
    pub fn is_retryable(&self) -> bool {
        false
    }
}

/// The reason codes a refused registry message can have (the metric's label values).
pub const REFUSAL_REASONS: [ReasonCode; 4] = [ReasonCode::Malformed, ReasonCode::MissingField, ReasonCode::InvalidField, ReasonCode::InvalidCreditCode];

/// What one registry message did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// An entry was added or replaced.
    Upserted,
    /// A tombstone removed the entry (or named one the registry did not hold).
    Removed,
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
    /// Applies one registry message: an entry, or a tombstone (`payload` absent) that removes
    /// the entry `key` names. A refused message changes nothing but the position.
    pub fn apply(&mut self, source: Source, partition: i32, offset: i64, key: Option<&[u8]>, payload: Option<&[u8]>) -> Result<Applied, RefusedMessage> {
        let at = RegistryPosition::key(source, partition);
        self.position.0.insert(at.clone(), offset + 1);
        let (affected, applied) = match payload {
            Some(bytes) => (self.upsert(source, bytes)?, Applied::Upserted),
            None => (self.remove(source, key.unwrap_or_default())?, Applied::Removed),
        };
        if !affected.is_empty() {
            self.log.push(Change { key: at, offset, affected });
        }
        Ok(applied)
    }

    fn upsert(&mut self, source: Source, payload: &[u8]) -> Result<Affected, RefusedMessage> {
        let value: serde_json::Value = serde_json::from_slice(payload).map_err(RefusedMessage::NotJson)?;
        Ok(match source {
            Source::Entities => self.registry.upsert_entity(parse_entity(&value).map_err(RefusedMessage::Invalid)?),
            Source::Centers => self.registry.upsert_center(parse_center(&value).map_err(RefusedMessage::Invalid)?),
            Source::FundedElsewhere => self.registry.upsert_funded(parse_funded_item(&value).map_err(RefusedMessage::Invalid)?),
            Source::SupplierClaims => self.registry.upsert_claim(parse_claim_item(&value).map_err(RefusedMessage::Invalid)?),
        })
    }

    /// A tombstone: the key is the entry's key as the collector produces it ([`subsidy_core::registry::entry_key`]:
    /// the credit code or center id, with `@` and the day for a dated entry).
    fn remove(&mut self, source: Source, key: &[u8]) -> Result<Affected, RefusedMessage> {
        let entry = std::str::from_utf8(key).ok().filter(|k| !k.is_empty()).and_then(split_entry_key);
        let bad = |what, reason| RefusedMessage::BadKey { key: String::from_utf8_lossy(key).chars().take(64).collect(), what, reason };
        Ok(match source {
            Source::Entities => {
                let (code, day) = entry.and_then(|(k, day)| Some((CreditCode::parse(k)?, day))).ok_or_else(|| bad("entity", ReasonCode::InvalidCreditCode))?;
                self.registry.remove_entity(&code, day)
            }
            Source::Centers => {
                let (id, day) = entry.filter(|(k, _)| !k.is_empty()).ok_or_else(|| bad("center", ReasonCode::InvalidField))?;
                self.registry.remove_center(id, day)
            }
            Source::FundedElsewhere => {
                let entry = std::str::from_utf8(key).ok().and_then(FundedEntry::from_key).ok_or_else(|| bad("funded-elsewhere entry", ReasonCode::InvalidField))?;
                self.registry.remove_funded(&entry)
            }
            Source::SupplierClaims => {
                let claim = std::str::from_utf8(key).ok().and_then(SupplierClaim::from_key).ok_or_else(|| bad("supplier claim", ReasonCode::InvalidField))?;
                self.registry.remove_claim(&claim)
            }
        })
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

fn apply(shared: &SharedRegistry, metrics: &AggregatorMetrics, source: Source, m: &rdkafka::message::BorrowedMessage<'_>) {
    match write(shared).apply(source, m.partition(), m.offset(), m.key(), m.payload()) {
        Ok(Applied::Upserted) => {}
        Ok(Applied::Removed) => {
            metrics.registry_removed.with_label_values(&[source.as_str()]).inc();
            tracing::info!(source = source.as_str(), offset = m.offset(), "registry entry removed by a tombstone");
        }
        Err(why) => {
            metrics.registry_refused.with_label_values(&[source.as_str(), why.reason().as_str()]).inc();
            tracing::warn!(source = source.as_str(), offset = m.offset(), reason = why.reason().as_str(), "registry message refused: {why}");
        }
    }
}

/// Shows every refusal reason of both topics at zero until one happens.
fn init_refusals(metrics: &AggregatorMetrics) {
    for source in Source::ALL {
        metrics.registry_removed.with_label_values(&[source.as_str()]);
        for reason in REFUSAL_REASONS {
            metrics.registry_refused.with_label_values(&[source.as_str(), reason.as_str()]);
        }
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

/// Reads every registry topic (entities, centers, funded elsewhere, supplier claims) to its
/// end, then keeps tailing them until cancelled (the tailing tasks are returned, to be waited for).
pub async fn start(brokers: &str, topics: &subsidy_bus::Topics, metrics: AggregatorMetrics, shutdown: CancellationToken) -> PipelineResult<(SharedRegistry, Vec<tokio::task::JoinHandle<()>>)> {
    let shared = SharedRegistry::default();
    let timeout = Duration::from_secs(60);
    let mut readers = Vec::new();
    for source in Source::ALL {
        let reader = TopicReader::connect(brokers, source.topic(topics), timeout).await.map_err(PipelineError::bus("opening a registry topic"))?;
        readers.push((reader, source));
    }
    init_refusals(&metrics);
    for (reader, source) in &readers {
        reader.catch_up(timeout, |m| apply(&shared, &metrics, *source, m)).await.map_err(PipelineError::bus("reading the registry"))?;
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
                        apply(&shared, &metrics, source, &m);
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

    fn apply(v: &mut RegistryView, source: Source, offset: i64, payload: &[u8]) -> Result<Applied, RefusedMessage> {
        v.apply(source, 0, offset, Some(b"key"), Some(payload))
    }

    #[test]
    fn positions_round_trip_and_changes_are_read_since_a_mark() {
        let code = subsidy_core::CreditCode::complete("91340100MA0000001").unwrap();
        let mut v = RegistryView::default();
        apply(&mut v, Source::Entities, 0, &entity(code.as_str(), "合肥市")).unwrap();
        let mark = v.position().clone();
        assert_eq!(RegistryPosition::decode(&mark.encode()), Some(mark.clone()));
        assert_eq!(mark.total(), 1);
        assert!(v.since(Some(&mark)).is_empty());
        // The same entry again changes no line; a new city does.
        apply(&mut v, Source::Entities, 1, &entity(code.as_str(), "合肥")).unwrap();
        assert!(v.since(Some(&mark)).is_empty());
        apply(&mut v, Source::Entities, 2, &entity(code.as_str(), "阜阳市")).unwrap();
        assert!(v.since(Some(&mark)).users.contains(&code));
        assert!(v.since(None).users.contains(&code), "no mark: everything since the beginning");
        assert!(apply(&mut v, Source::Centers, 0, b"{").is_err());
        assert_eq!(v.position().total(), 4, "a refused message still moves the position");
    }

    /// Refusals are typed, keep their cause and carry the reason code the metric counts.
    #[test]
    fn refused_messages_say_why_with_a_reason_code() {
        use std::error::Error as _;
        let mut v = RegistryView::default();
        let not_json = apply(&mut v, Source::Entities, 0, b"{").unwrap_err();
        assert_eq!(not_json.reason(), ReasonCode::Malformed);
        assert!(not_json.source().is_some_and(|s| s.is::<serde_json::Error>()), "the parser's error is kept");
        let missing = apply(&mut v, Source::Entities, 1, br#"{"name":"x"}"#).unwrap_err();
        assert_eq!(missing.reason(), ReasonCode::MissingField);
        assert!(missing.source().is_some_and(|s| s.is::<Rejection>()));
        let bad_code = apply(&mut v, Source::Entities, 2, &entity("XXXXXXXXXXXXXXXXXX", "合肥市")).unwrap_err();
        assert_eq!(bad_code.reason(), ReasonCode::InvalidCreditCode);
        let bad_key = v.apply(Source::Entities, 0, 3, Some(b"not a code"), None).unwrap_err();
        assert_eq!(bad_key.reason(), ReasonCode::InvalidCreditCode);
        assert_eq!(v.apply(Source::Centers, 0, 0, None, None).unwrap_err().reason(), ReasonCode::InvalidField);
        assert!([not_json, missing, bad_code, bad_key].iter().all(|e| !e.is_retryable() && REFUSAL_REASONS.contains(&e.reason())));
        assert_eq!(v.position().total(), 4 + 1, "refused messages still move the position");
    }

    /// A tombstone removes the entry its key names and logs the lines that change.
    #[test]
    fn a_tombstone_removes_the_entry_and_logs_its_lines() {
        let code = subsidy_core::CreditCode::complete("91340100MA0000001").unwrap();
        let mut v = RegistryView::default();
        apply(&mut v, Source::Entities, 0, &entity(code.as_str(), "合肥市")).unwrap();
        let center = serde_json::json!({"center_id": "C1", "name": "c", "owner_credit_code": code.as_str(), "province": "安徽省", "city": "合肥市"}).to_string();
        apply(&mut v, Source::Centers, 0, center.as_bytes()).unwrap();
        let mark = v.position().clone();
        assert_eq!(v.apply(Source::Entities, 0, 1, Some(code.as_str().as_bytes()), None).unwrap(), Applied::Removed);
        assert!(v.registry.entity(&code).is_none(), "the entity is gone");
        assert!(v.since(Some(&mark)).users.contains(&code), "its lines are re-settled");
        assert_eq!(v.apply(Source::Centers, 0, 1, Some(b"C1"), None).unwrap(), Applied::Removed);
        assert!(v.registry.center("C1").is_none());
        assert!(v.since(Some(&mark)).centers.contains("C1"));
        let after = v.position().clone();
        assert_eq!(v.apply(Source::Centers, 0, 2, Some(b"C1"), None).unwrap(), Applied::Removed, "a tombstone for an absent entry is no refusal");
        assert!(v.since(Some(&after)).is_empty(), "and changes no line");
    }

    /// A dated entry's tombstone names its day, and removes that entry only.
    #[test]
    fn a_dated_tombstone_removes_that_day_only() {
        let code = subsidy_core::CreditCode::complete("91340100MA0000001").unwrap();
        let mut v = RegistryView::default();
        apply(&mut v, Source::Entities, 0, &entity(code.as_str(), "合肥市")).unwrap();
        let mut moved: serde_json::Value = serde_json::from_slice(&entity(code.as_str(), "阜阳市")).unwrap();
        moved["valid_from"] = "2026-03-10".into();
        apply(&mut v, Source::Entities, 1, moved.to_string().as_bytes()).unwrap();
        let day = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(v.registry.entity_on(&code, day("2026-03-09")).map(|e| e.city.as_str()), Some("合肥市"));
        assert_eq!(v.registry.entity_on(&code, day("2026-03-10")).map(|e| e.city.as_str()), Some("阜阳市"));
        let key = format!("{}@2026-03-10", code.as_str());
        assert_eq!(v.apply(Source::Entities, 0, 2, Some(key.as_bytes()), None).unwrap(), Applied::Removed);
        assert_eq!(v.registry.entity_on(&code, day("2026-03-10")).map(|e| e.city.as_str()), Some("合肥市"), "the undated entry stands again");
        let bad = format!("{}@2026-13-40", code.as_str());
        assert_eq!(v.apply(Source::Entities, 0, 3, Some(bad.as_bytes()), None).unwrap_err().reason(), ReasonCode::InvalidCreditCode);
    }

    /// The funding lists arrive like the registry: an entry or claim re-settles the lines of its
    /// record or contract, a tombstone keyed as the collector keys it withdraws it.
    #[test]
    fn funding_entries_and_claims_change_their_records_lines() {
        let supplier = subsidy_core::CreditCode::complete("91340100MA0000001").unwrap();
        let mut v = RegistryView::default();
        let mark = v.position().clone();
        apply(&mut v, Source::FundedElsewhere, 0, br#"{"scheme":"hefei-voucher-2026","contract_id":"K-1"}"#).unwrap();
        let claim = serde_json::json!({"record_id": "r1", "supplier_credit_code": supplier.as_str()}).to_string();
        apply(&mut v, Source::SupplierClaims, 0, claim.as_bytes()).unwrap();
        let since = v.since(Some(&mark));
        assert!(since.contracts.contains("K-1") && since.records.contains("r1"), "{since:?}");
        let after = v.position().clone();
        assert_eq!(v.apply(Source::FundedElsewhere, 0, 1, Some(b"hefei-voucher-2026|contract:K-1"), None).unwrap(), Applied::Removed);
        let key = format!("r1|{supplier}");
        assert_eq!(v.apply(Source::SupplierClaims, 0, 1, Some(key.as_bytes()), None).unwrap(), Applied::Removed);
        assert!(v.registry.funding().is_empty());
        assert!(v.since(Some(&after)).contracts.contains("K-1") && v.since(Some(&after)).records.contains("r1"));
        // An empty scheme, a bad credit code or a key naming nothing are refused with a reason.
        assert_eq!(apply(&mut v, Source::FundedElsewhere, 2, br#"{"scheme":"","record_id":"r1"}"#).unwrap_err().reason(), ReasonCode::MissingField);
        assert_eq!(apply(&mut v, Source::SupplierClaims, 2, br#"{"record_id":"r1","supplier_credit_code":"X"}"#).unwrap_err().reason(), ReasonCode::InvalidCreditCode);
        assert_eq!(v.apply(Source::FundedElsewhere, 0, 3, Some(b"no-target"), None).unwrap_err().reason(), ReasonCode::InvalidField);
        assert_eq!(v.apply(Source::SupplierClaims, 0, 3, Some(b"r1|nope"), None).unwrap_err().reason(), ReasonCode::InvalidField);
        assert!(v.registry.funding().is_empty(), "refusals change nothing");
    }
}
