//! The fence of a ClickHouse ledger's programme: [`ProgrammeLog`] implements
//! the store's [`StepLog`] over the programme's claims in the log of claims
//! ([`subsidy_bus::programme_log`]). A writer appends a claim carrying its
//! event, reads the log from the start through its own claim, and the first
//! claim of the sequence in log order stands, whoever wrote it. The log is
//! read again from the start each time: it holds one small message per step.

use async_trait::async_trait;
use std::time::Duration;
use subsidy_bus::{standing_steps, BusError, StepClaim, StepLogTopic};
use subsidy_core::programme::Event;
use subsidy_store::{StepLog, StoreError, StoreResult};

/// Longest wait for the log to answer or to be read to its end.
pub const LOG_TIMEOUT: Duration = Duration::from_secs(60);

/// A ledger's programme steps in the log of claims.
#[derive(Debug, Clone)]
pub struct ProgrammeLog {
    log: StepLogTopic,
    ledger: String,
    timeout: Duration,
}

impl ProgrammeLog {
    /// Opens the log on `topic` (made when missing) for the ledger named `ledger` (the ClickHouse database).
    pub async fn open(brokers: &str, topic: &str, ledger: &str) -> Result<ProgrammeLog, BusError> {
        let log = StepLogTopic::open(brokers, topic, LOG_TIMEOUT).await?;
        Ok(ProgrammeLog { log, ledger: ledger.to_string(), timeout: LOG_TIMEOUT })
    }

    /// The topic's name.
    pub fn topic(&self) -> &str {
        self.log.topic()
    }

    /// The ledger's claims in log order, read through `through` when given.
    async fn claims(&self, through: Option<i64>) -> StoreResult<Vec<(i64, StepClaim)>> {
        self.log.claims(&self.ledger, through, self.timeout).await.map_err(|e| bus_error("cannot read the log of claims", &e))
    }
}

#[async_trait]
impl StepLog for ProgrammeLog {
    async fn claim(&self, event: &Event) -> StoreResult<Event> {
        let body = serde_json::to_value(event).map_err(|e| StoreError::rejected(format!("step {} cannot be written as JSON: {e}", event.sequence)))?;
        let claim = StepClaim { ledger: self.ledger.clone(), sequence: event.sequence, event: body, claimed_at: event.at.to_rfc3339() };
        let own = self.log.append(&claim).await.map_err(|e| bus_error("cannot append to the log of claims", &e))?;
        let claims = self.claims(Some(own)).await?;
        let standing = standing_steps(&claims);
        let Some((offset, first)) = standing.get(&event.sequence) else {
            return Err(StoreError::unavailable(format!("the log of claims {} does not show the claim on step {} at offset {own} yet", self.log.topic(), event.sequence)));
        };
        tracing::debug!(sequence = event.sequence, own, standing = offset, "programme claim read back");
        decode(*offset, first)
    }

    async fn standing_after(&self, after: u64) -> StoreResult<Vec<Event>> {
        let claims = self.claims(None).await?;
        standing_steps(&claims).range(after.saturating_add(1)..).map(|(_, (offset, c))| decode(*offset, c)).collect()
    }
}

/// The event a standing claim carries. One that does not decode, or names another
/// sequence, is an error: skipping it would let a later claim stand in its place.
fn decode(offset: i64, claim: &StepClaim) -> StoreResult<Event> {
    let event: Event = serde_json::from_value(claim.event.clone()).map_err(|e| StoreError::corrupt(format!("the claim on programme step {} at offset {offset} does not hold a step: {e}", claim.sequence)))?;
    if event.sequence != claim.sequence {
        return Err(StoreError::corrupt(format!("the claim on programme step {} at offset {offset} holds step {}", claim.sequence, event.sequence)));
    }
    Ok(event)
}

/// A bus failure as the store's error: unavailable when trying again may help.
fn bus_error(what: &str, e: &BusError) -> StoreError {
    if e.is_retryable() {
        StoreError::unavailable(format!("{what}: {e}"))
    } else {
        StoreError::rejected(format!("{what}: {e}"))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use rdkafka::mocking::MockCluster;
    use rdkafka::producer::DefaultProducerContext;
    use subsidy_core::programme::{Action, Party};

    const TOPIC: &str = "test.claims";

    /// A one-partition log on librdkafka's mock cluster (which has no CreateTopics: made here).
    fn cluster() -> MockCluster<'static, DefaultProducerContext> {
        let mock = MockCluster::new(1).unwrap();
        mock.create_topic(TOPIC, 1, 1).unwrap();
        mock
    }

    fn event(sequence: u64, label: &str) -> Event {
        Event { sequence, party: Party::Bureau, label: label.to_string(), at: chrono::DateTime::UNIX_EPOCH, through: None, policy: String::new(), action: Action::CloseYear { year: 2026 } }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn of_claims_started_at_once_the_first_in_the_log_stands_for_every_claimer() {
        let mock = cluster();
        let brokers = mock.bootstrap_servers();
        let log = ProgrammeLog::open(&brokers, TOPIC, "ledger_a").await.unwrap();
        let claims: Vec<_> = (0..5)
            .map(|i| {
                let log = log.clone();
                tokio::spawn(async move { log.claim(&event(1, &format!("writer {i}"))).await.unwrap() })
            })
            .collect();
        let mut answers = Vec::new();
        for c in claims {
            answers.push(c.await.unwrap());
        }
        let first = &answers[0];
        assert!(answers.iter().all(|a| a == first), "every claimer reads the same standing step: {answers:?}");
        assert!(first.label.starts_with("writer "), "the standing step is one of the claims: {first:?}");
        assert_eq!(log.standing_after(0).await.unwrap(), vec![first.clone()]);
        // The next sequence: the claimer wins alone; a late claim on 1 changes nothing.
        assert_eq!(log.claim(&event(2, "second")).await.unwrap(), event(2, "second"));
        assert_eq!(log.claim(&event(1, "late")).await.unwrap(), *first, "a later claim on a taken sequence reads the one that stands");
        assert_eq!(log.standing_after(0).await.unwrap(), vec![first.clone(), event(2, "second")]);
        assert_eq!(log.standing_after(1).await.unwrap(), vec![event(2, "second")]);
        assert!(log.standing_after(2).await.unwrap().is_empty());
        // Another ledger in the same topic has its own history.
        let other = ProgrammeLog::open(&brokers, TOPIC, "ledger_b").await.unwrap();
        assert!(other.standing_after(0).await.unwrap().is_empty());
        assert_eq!(other.claim(&event(1, "b")).await.unwrap(), event(1, "b"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_standing_claim_that_does_not_hold_its_step_is_an_error_not_skipped() {
        let mock = cluster();
        let brokers = mock.bootstrap_servers();
        let log = ProgrammeLog::open(&brokers, TOPIC, "ledger").await.unwrap();
        let raw = StepLogTopic::open(&brokers, TOPIC, LOG_TIMEOUT).await.unwrap();
        raw.append(&StepClaim { ledger: "ledger".into(), sequence: 1, event: serde_json::json!({ "not": "an event" }), claimed_at: String::new() }).await.unwrap();
        let body = serde_json::to_value(event(3, "x")).unwrap();
        raw.append(&StepClaim { ledger: "ledger".into(), sequence: 2, event: body, claimed_at: String::new() }).await.unwrap();
        let e = log.claim(&event(1, "mine")).await.unwrap_err();
        assert!(matches!(e, StoreError::Corrupt { .. }) && e.to_string().contains("offset 0"), "{e}");
        let e = log.standing_after(1).await.unwrap_err();
        assert!(e.to_string().contains("holds step 3"), "{e}");
    }
}
