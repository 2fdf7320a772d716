//! What an aggregator holds for the partitions it owns: exact accruals per
//! entity and month, records held for an unknown entity or center, and the
//! closed months. Rebuilt from the store whenever the assignment changes, so
//! a new owner starts from what was written, never from a guess.

use super::index::StandingIndex;
use std::collections::HashMap;
use subsidy_core::{Accrual, AccrualKey, Accruals, Period, PolicySet, UsageRecord};
use subsidy_store::{BusPosition, LedgerStore, StandingLine, StoreResult};

/// A record waiting for the registry.
#[derive(Debug, Clone)]
pub struct HeldRecord {
    /// The checked record.
    pub record: UsageRecord,
    /// Its bytes as received.
    pub raw: String,
    /// Where it arrived.
    pub position: BusPosition,
}

/// State of the owned partitions.
#[derive(Debug, Default)]
pub struct OwnedState {
    /// Exact accruals per entity and month.
    pub accruals: Accruals,
    /// Held records by record id (highest revision held).
    pub held: HashMap<String, HeldRecord>,
    /// Closed months.
    pub closed: Vec<Period>,
    /// Which record ids have lines, and the recent standing lines.
    pub index: StandingIndex,
}

/// The accrual effect of a standing line, if it is eligible.
pub fn effect_of(line: &StandingLine, policy: &PolicySet) -> Option<subsidy_core::Effect> {
    if line.reason.is_some() {
        return None;
    }
    Some(subsidy_core::Effect {
        key: AccrualKey { user: line.user_credit_code, period: line.period },
        version: policy.index_of(&line.policy_version).map_or(u8::MAX, |i| i as u8),
        base: line.base,
        contribution: line.contribution,
    })
}

impl OwnedState {
    /// Rebuilds the state of `partitions` from the store.
    pub async fn rebuild(store: &dyn LedgerStore, partitions: &[i32], policy: &PolicySet) -> StoreResult<OwnedState> {
        let mut state = OwnedState { closed: store.closures().await?.into_iter().map(|c| c.period).collect(), ..OwnedState::default() };
        if partitions.is_empty() {
            return Ok(state);
        }
        let mut by_key: HashMap<AccrualKey, Accrual> = HashMap::new();
        for sum in store.accrual_sums(partitions).await? {
            let key = AccrualKey { user: sum.user_credit_code, period: sum.period };
            let a = by_key.entry(key).or_default();
            a.eligible_records += sum.records;
            a.eligible_base += sum.base;
            let version = policy.index_of(&sum.policy_version).map_or(u8::MAX, |i| i as u8);
            a.by_version.push((version, sum.contribution));
        }
        for (k, a) in by_key {
            state.accruals.insert(k, a);
        }
        let index = &mut state.index;
        store.record_ids(partitions, &mut |id| index.saw(id)).await?;
        for row in store.held_records(partitions).await? {
            match subsidy_core::parse_record(row.raw.as_bytes()) {
                Ok(record) => {
                    state.held.insert(row.record_id.clone(), HeldRecord { record, raw: row.raw, position: row.position });
                }
                Err(e) => tracing::warn!(record_id = %row.record_id, error = %e, "held record no longer parses; left held"),
            }
        }
        Ok(state)
    }
}
