//! Reading the programme from a ledger, and appending a step to it, fenced.
//!
//! [`read_programme`] folds the stored history with the statements of the
//! closes ([`subsidy_core::programme::Programme::replay`]). It reads the
//! closed months before the statements, so every statement line of a month
//! up to the latest closed one is in what it folds.
//!
//! [`append_step`] is the one way a step is added, for the CLI and the API
//! alike: read the programme, number the step one past the last, stamp it
//! with the latest closed month, let the core check it, and record it
//! through the fence. SQLite fences by its transaction (the next sequence
//! only); ClickHouse through a [`StepLog`], a log where the first claim of a
//! sequence stands. When another step took the number first, the step is
//! read and checked again against the new state, so two operators acting at
//! once both land when both still fit, and the second is refused with the
//! core's reason when it no longer does.

use crate::{CloseFence, LedgerStore, StoreError, StoreResult};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use subsidy_core::programme::{Action, Event, Party, Programme, ProgrammeError};
use subsidy_core::{Period, PolicySet, Statement};

/// How many times a step is numbered again after losing its number to another.
pub const ATTEMPTS: usize = 8;

/// Longest wait for a replica to hold every acknowledged write before a step is checked.
const UP_TO_DATE: Duration = Duration::from_secs(30);

/// A step as asked, before it is numbered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Who takes it.
    pub party: Party,
    /// The label of the token or operator (never a token).
    pub label: String,
    /// When (for people).
    pub at: DateTime<Utc>,
    /// What.
    pub action: Action,
}

/// The fence of a store without transactions (ClickHouse): a log where each writer claims
/// a sequence for its step and the first claim of a sequence stands.
#[async_trait]
pub trait StepLog: Send + Sync + std::fmt::Debug {
    /// Claims `event.sequence` for `event`; returns the event whose claim stands for that
    /// sequence (the first in the log), which is `event` when it won.
    async fn claim(&self, event: &Event) -> StoreResult<Event>;

    /// The standing event of every sequence above `after`, in order: claims that won but
    /// whose rows a writer that stopped never recorded.
    async fn standing_after(&self, after: u64) -> StoreResult<Vec<Event>>;
}

/// The programme as a ledger holds it.
#[derive(Debug, Clone)]
pub struct ProgrammeBook {
    /// The hash of the ledger's policy document in force ("" when it records none): the one
    /// a new step names.
    pub policy_hash: String,
    /// The folded state.
    pub programme: Programme,
    /// The history, by sequence.
    pub events: Vec<Event>,
    /// The latest closed month.
    pub through: Option<Period>,
    /// Every closed month.
    pub closed: BTreeSet<Period>,
}

/// Why a step was not added.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// The programme's rules refuse it; trying again changes nothing until the state does.
    #[error(transparent)]
    Refused(#[from] ProgrammeError),
    /// The store (or the log) failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AppendError {
    /// Whether trying again may succeed without anyone changing anything.
    pub fn is_retryable(&self) -> bool {
        match self {
            AppendError::Refused(_) => false,
            AppendError::Store(e) => e.is_retryable(),
        }
    }
}

/// The programme of a ledger: each step judged by the budgets of the policy document it
/// names; `fallback` stands for the document in force of a ledger that records none.
pub async fn read_programme(store: &dyn LedgerStore, fallback: &PolicySet) -> StoreResult<ProgrammeBook> {
    // Closed months first: the statements read after include every line of each of them.
    let closed: BTreeSet<Period> = store.closures().await?.into_iter().map(|c| c.period).collect();
    let statements = store.statements().await?;
    programme_over(store, fallback, closed, &statements).await
}

/// The programme over closed months and statements a caller has read already, the closed
/// months before the statements (so every line of each closed month is among them).
pub async fn programme_over(store: &dyn LedgerStore, fallback: &PolicySet, closed: BTreeSet<Period>, statements: &[Statement]) -> StoreResult<ProgrammeBook> {
    let events = store.programme_events().await?;
    let (documents, in_force) = documents(store).await?;
    let current = in_force.as_ref().and_then(|h| documents.get(h)).cloned().unwrap_or_else(|| fallback.clone());
    let programme = Programme::replay_documented(&events, statements, &current, documents);
    for (sequence, why) in &programme.skipped {
        tracing::warn!(sequence, why = %why, "a stored programme step does not fit the steps before it and is not applied");
    }
    Ok(ProgrammeBook { policy_hash: in_force.unwrap_or_default(), programme, events, through: closed.iter().next_back().copied(), closed })
}

/// Every policy document the ledger recorded that reads back under its hash, by hash, and
/// the hash of the one in force.
async fn documents(store: &dyn LedgerStore) -> StoreResult<(BTreeMap<String, PolicySet>, Option<String>)> {
    let records = store.policy_documents().await?;
    let in_force = records.last().map(|r| r.hash.clone());
    let mut out = BTreeMap::new();
    for r in records {
        match r.document() {
            Ok(d) => {
                out.insert(d.hash, d.set);
            }
            Err(e) => return Err(StoreError::corrupt(format!("policy document {} does not read back: {e}", r.sequence))),
        }
    }
    Ok((out, in_force))
}

/// Adds `step` to the ledger's programme: numbered, stamped with the latest closed month
/// and the policy document in force, checked by the core and recorded through the store's
/// fence (`log` for a store without transactions). Returns the event as recorded.
pub async fn append_step(store: &dyn LedgerStore, log: Option<&dyn StepLog>, policy: &PolicySet, step: Step) -> Result<Event, AppendError> {
    if log.is_none() && store.close_fence() == CloseFence::Log {
        return Err(StoreError::rejected("this ledger has no transactions: its programme steps are recorded only through the log of closes, which this writer was not given (--kafka-brokers, --topic-closes)").into());
    }
    for attempt in 0..ATTEMPTS {
        if let Some(log) = log {
            complete_standing(store, log).await?;
        }
        store.await_up_to_date(UP_TO_DATE).await?;
        let book = read_programme(store, policy).await?;
        let event = Event {
            sequence: book.programme.last_sequence + 1,
            party: step.party.clone(),
            label: step.label.clone(),
            at: step.at,
            through: book.through,
            policy: book.policy_hash.clone(),
            action: step.action.clone(),
        };
        book.programme.check(&event)?;
        if record(store, log, &event).await? {
            return Ok(event);
        }
        tracing::debug!(attempt, sequence = event.sequence, "another step took the number first; checking again");
    }
    Err(StoreError::Conflict(format!("other steps took the next number {ATTEMPTS} times running; try again")).into())
}

/// Records `event` through the fence; `false` when another step holds its sequence.
async fn record(store: &dyn LedgerStore, log: Option<&dyn StepLog>, event: &Event) -> StoreResult<bool> {
    match log {
        None => match store.record_event(event).await {
            Ok(()) => Ok(true),
            Err(StoreError::Conflict(_)) => Ok(false),
            Err(e) => Err(e),
        },
        Some(log) => {
            let standing = log.claim(event).await?;
            store.record_event(&standing).await?;
            Ok(standing == *event)
        }
    }
}

/// Records the steps whose claims stand in the log but whose rows were never written.
async fn complete_standing(store: &dyn LedgerStore, log: &dyn StepLog) -> StoreResult<()> {
    let last = store.programme_events().await?.last().map_or(0, |e| e.sequence);
    for event in log.standing_after(last).await? {
        tracing::info!(sequence = event.sequence, "completing a programme step whose claim stands in the log");
        store.record_event(&event).await?;
    }
    Ok(())
}
