//! Programme steps: recorded one per sequence, read back whole, appended
//! through the core's checks and folded with the statements.

use super::fixtures::*;
use subsidy_core::programme::{Action, Event, Party, Stage, Verdict};
use subsidy_core::{PolicySet, StatementKind};
use std::collections::BTreeMap;
use std::sync::Mutex;
use subsidy_store::{append_step, read_programme, AppendError, CloseFence, LedgerStore, Step, StepLog, StoreError, StoreResult};

/// A log of claims in memory: the first claim of a sequence stands, as in the log of closes.
#[derive(Debug, Default)]
struct MemoryLog(Mutex<BTreeMap<u64, Event>>);

#[async_trait::async_trait]
impl StepLog for MemoryLog {
    async fn claim(&self, event: &Event) -> StoreResult<Event> {
        Ok(self.0.lock().unwrap().entry(event.sequence).or_insert_with(|| event.clone()).clone())
    }

    async fn standing_after(&self, after: u64) -> StoreResult<Vec<Event>> {
        Ok(self.0.lock().unwrap().range(after + 1..).map(|(_, e)| e.clone()).collect())
    }
}

fn claim_step(user: subsidy_core::CreditCode, months: &[&str]) -> Step {
    Step {
        party: Party::Entity { credit_code: user },
        label: format!("entity:{user}"),
        at: utc("2025-11-02T08:00:00Z"),
        action: Action::Claim { credit_code: user, city: "合肥市".into(), months: months.iter().map(|m| month(m)).collect() },
    }
}

fn review(claim: &str, stage: Stage, party: Party) -> Step {
    Step { party, label: "reviewer".into(), at: utc("2025-11-03T08:00:00Z"), action: Action::Review { claim_id: claim.into(), stage, verdict: Verdict::Approve, reason: "checked".into() } }
}

pub async fn programme_steps_are_recorded_in_sequence(store: &dyn LedgerStore) {
    ready(store).await;
    assert!(store.programme_events().await.unwrap().is_empty());
    let u = code(40);
    let event = |sequence: u64, m: &str| Event {
        sequence,
        party: Party::Entity { credit_code: u },
        label: "entity:a".into(),
        at: utc("2025-11-01T08:00:00Z"),
        through: Some(month("2025-10")),
        policy: "d0c".into(),
        action: Action::Claim { credit_code: u, city: "合肥市".into(), months: vec![month(m)] },
    };
    store.record_event(&event(1, "2025-09")).await.unwrap();
    store.record_event(&event(1, "2025-09")).await.unwrap();
    store.record_event(&event(2, "2025-10")).await.unwrap();
    // Another step at a sequence already held is refused (on every store).
    assert!(matches!(store.record_event(&event(2, "2025-08")).await, Err(StoreError::Conflict(_))));
    assert_eq!(store.programme_events().await.unwrap(), vec![event(1, "2025-09"), event(2, "2025-10")]);
}

pub async fn steps_are_checked_appended_and_folded(store: &dyn LedgerStore) {
    ready(store).await;
    let u = code(41);
    store.commit_close(&closure("2025-09", "close-a"), &[statement(u, "2025-09", "2025-09", StatementKind::Settled, "500.00", "100.00")]).await.unwrap();
    let policy = PolicySet::builtin();
    // A store without transactions takes steps only through a log of claims.
    let memory = MemoryLog::default();
    let log: Option<&dyn StepLog> = match store.close_fence() {
        CloseFence::Transaction => None,
        CloseFence::Log => {
            match append_step(store, None, &policy, claim_step(u, &["2025-09"])).await {
                Err(AppendError::Store(StoreError::Rejected { message, .. })) => assert!(message.contains("log of closes"), "{message}"),
                other => panic!("a step without the log is refused on a store without transactions, got {other:?}"),
            }
            Some(&memory)
        }
    };
    let filed = append_step(store, log, &policy, claim_step(u, &["2025-09"])).await.unwrap();
    assert_eq!((filed.sequence, filed.through), (1, Some(month("2025-09"))), "numbered and stamped with the latest closed month");
    match append_step(store, log, &policy, claim_step(u, &["2025-09"])).await {
        Err(AppendError::Refused(e)) => assert!(e.to_string().contains("claimed already by C-1"), "{e}"),
        other => panic!("a month is claimed once, got {other:?}"),
    }
    append_step(store, log, &policy, review("C-1", Stage::City, Party::City { city: "合肥市".into() })).await.unwrap();
    append_step(store, log, &policy, review("C-1", Stage::Bureau, Party::Bureau)).await.unwrap();
    let batch = Step { party: Party::Bureau, label: "bureau".into(), at: utc("2025-11-05T08:00:00Z"), action: Action::Batch { payout_date: utc("2025-11-10T00:00:00Z").date_naive(), claims: vec!["C-1".into()] } };
    append_step(store, log, &policy, batch.clone()).await.unwrap();
    assert!(matches!(append_step(store, log, &policy, batch).await, Err(AppendError::Refused(_))), "a claim is paid once");
    let book = read_programme(store, &policy).await.unwrap();
    assert_eq!(book.events.len(), 4);
    assert!(book.programme.skipped.is_empty());
    let rows = &book.programme.batches[0].rows;
    assert_eq!((rows[0].claim_id.as_str(), rows[0].amount, rows[0].net_paid), ("C-1", d("100.00"), d("100.00")));
}
