//! The settlements of the ledger as it stands: the store sums its standing
//! lines, the core settles the sums (caps, rounding down to the fen once).
//! What `export`, `close` and the API read; the same function `recompute` uses.

use crate::{LedgerStore, StoreResult};
use subsidy_core::{settle, Accrual, AccrualKey, Accruals, PolicySet, Settlement};

/// Every entity and month with eligible lines, settled, sorted by credit code then month.
pub async fn settlements(store: &dyn LedgerStore, policy: &PolicySet) -> StoreResult<Vec<Settlement>> {
    let mut accruals = Accruals::new();
    for s in store.accrual_sums().await? {
        let key = AccrualKey { user: s.user_credit_code, period: s.period };
        accruals.insert(key, &Accrual { eligible_records: s.records, eligible_base: s.base, contribution: s.contribution });
    }
    Ok(settle(&accruals, policy))
}
