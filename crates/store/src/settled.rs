//! The settlements of the ledger as it stands: the store sums its standing
//! lines, the core settles the sums (caps, rounding down to the fen once).
//! What `export`, `close` and the API read; the same function `recompute` uses.

use crate::{AccrualSum, LedgerStore, LineRow, StoreError, StoreResult};
use std::collections::BTreeMap;
use subsidy_core::{settle, Accrual, AccrualKey, Accruals, CreditCode, PolicySet, Settlement};

/// Every entity and month with eligible lines, settled, sorted by credit code then month.
pub async fn settlements(store: &dyn LedgerStore, policy: &PolicySet) -> StoreResult<Vec<Settlement>> {
    Ok(settle(&accruals_of(store.accrual_sums().await?), policy))
}

/// The months of one entity with eligible lines, settled, oldest first. Caps are per entity
/// and year, so an entity settled alone gets the figures it gets among all the others.
pub async fn settlements_of(store: &dyn LedgerStore, policy: &PolicySet, user: &CreditCode) -> StoreResult<Vec<Settlement>> {
    settle_lines(&store.entity_lines(user, None).await?, policy)
}

/// The settlements of the given standing lines (all lines of each entity and year they
/// cover, or caps would see part of a year).
pub fn settle_lines(lines: &[LineRow], policy: &PolicySet) -> StoreResult<Vec<Settlement>> {
    Ok(settle(&accruals_of(sum_lines(lines)?), policy))
}

fn accruals_of(sums: Vec<AccrualSum>) -> Accruals {
    let mut accruals = Accruals::new();
    for s in sums {
        let key = AccrualKey { user: s.user_credit_code, period: s.period };
        accruals.insert(key, &Accrual { eligible_records: s.records, eligible_base: s.base, contribution: s.contribution });
    }
    accruals
}


/// Sums eligible lines per user and month, sorted: what `accrual_sums` returns, for a store
/// that has the lines in hand.
fn sum_lines(lines: &[LineRow]) -> StoreResult<Vec<AccrualSum>> {
    let mut sums: BTreeMap<(CreditCode, subsidy_core::Period), AccrualSum> = BTreeMap::new();
    for l in lines.iter().filter(|l| l.reason.is_none()) {
        let s = sums.entry((l.user_credit_code, l.period)).or_insert_with(|| AccrualSum {
            user_credit_code: l.user_credit_code,
            period: l.period,
            records: 0,
            base: rust_decimal::Decimal::ZERO,
            contribution: rust_decimal::Decimal::ZERO,
        });
        s.records += 1;
        s.base = s.base.checked_add(l.base).ok_or_else(|| StoreError::Rejected("base sum overflows".into()))?;
        s.contribution = s.contribution.checked_add(l.contribution).ok_or_else(|| StoreError::Rejected("contribution sum overflows".into()))?;
    }
    Ok(sums.into_values().collect())
}
