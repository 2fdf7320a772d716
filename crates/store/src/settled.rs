//! The settlements of the ledger as it stands: the store sums its standing
//! lines, the core settles the sums (caps, rounding down to the fen once).
//! What `export`, `close` and the API read; the same function `recompute` uses.

use crate::{LedgerStore, StoreResult};
use subsidy_core::{settle, Accrual, AccrualKey, Accruals, CreditCode, PolicySet, Settlement};

/// Every entity and month with eligible lines, settled, sorted by credit code then month.
pub async fn settlements(store: &dyn LedgerStore, policy: &PolicySet) -> StoreResult<Vec<Settlement>> {
    settle_sums(store, policy, None).await
}

/// The months of one entity with eligible lines, settled, oldest first. Caps are per entity
/// and year, so an entity settled alone gets the figures it gets among all the others.
pub async fn settlements_of(store: &dyn LedgerStore, policy: &PolicySet, user: &CreditCode) -> StoreResult<Vec<Settlement>> {
    settle_sums(store, policy, Some(user)).await
}

async fn settle_sums(store: &dyn LedgerStore, policy: &PolicySet, user: Option<&CreditCode>) -> StoreResult<Vec<Settlement>> {
    let mut accruals = Accruals::new();
    for s in store.accrual_sums(user).await? {
        let key = AccrualKey { user: s.user_credit_code, period: s.period };
        accruals.insert(key, &Accrual { eligible_records: s.records, eligible_base: s.base, contribution: s.contribution });
    }
    Ok(settle(&accruals, policy))
}
