//! The settlements of the ledger as it stands: the store sums its standing
//! lines, the core settles the sums (caps, rounding down to the fen once).
//! What `export`, `close` and the API read; the same function `recompute` uses.

use crate::{LedgerStore, LineRow, LineSum, StoreError, StoreResult};
use std::collections::BTreeMap;
use subsidy_core::{settle, Accrual, AccrualKey, Accruals, CreditCode, Period, PolicySet, Settlement};

/// Every entity and month with eligible lines, settled, sorted by credit code then month.
pub async fn settlements(store: &dyn LedgerStore, policy: &PolicySet) -> StoreResult<Vec<Settlement>> {
    Ok(settle_sums(&store.line_sums().await?, policy))
}

/// The settlements of the given standing lines (all lines of each entity and year they
/// cover, or caps would see part of a year).
pub fn settle_lines(lines: &[LineRow], policy: &PolicySet) -> StoreResult<Vec<Settlement>> {
    Ok(settle_sums(&sum_eligible(lines)?, policy))
}

/// The settlements of line sums (as `line_sums` returns them; excluded sums are skipped).
pub fn settle_sums(sums: &[LineSum], policy: &PolicySet) -> Vec<Settlement> {
    let mut accruals = Accruals::new();
    for s in sums.iter().filter(|s| s.reason.is_none()) {
        let key = AccrualKey { user: s.user_credit_code, period: s.period };
        accruals.insert(key, &Accrual { eligible_records: s.records, eligible_base: s.base, contribution: s.contribution });
    }
    settle(&accruals, policy)
}

/// Sums eligible lines per user and month: the eligible part of what `line_sums`
/// returns, for a store that has the lines in hand.
fn sum_eligible(lines: &[LineRow]) -> StoreResult<Vec<LineSum>> {
    let mut sums: BTreeMap<(CreditCode, Period, &str), LineSum> = BTreeMap::new();
    for l in lines.iter().filter(|l| l.reason.is_none()) {
        let s = sums.entry((l.user_credit_code, l.period, l.policy_hash.as_str())).or_insert_with(|| LineSum {
            user_credit_code: l.user_credit_code,
            period: l.period,
            reason: None,
            records: 0,
            paid_amount: rust_decimal::Decimal::ZERO,
            base: rust_decimal::Decimal::ZERO,
            contribution: rust_decimal::Decimal::ZERO,
            policy_hash: l.policy_hash.clone(),
        });
        s.records += 1;
        s.paid_amount = s.paid_amount.checked_add(l.paid_amount).ok_or_else(|| StoreError::rejected("paid sum overflows"))?;
        s.base = s.base.checked_add(l.base).ok_or_else(|| StoreError::rejected("base sum overflows"))?;
        s.contribution = s.contribution.checked_add(l.contribution).ok_or_else(|| StoreError::rejected("contribution sum overflows"))?;
    }
    Ok(sums.into_values().collect())
}

/// How many of the lines summed in `sums` stand settled under a policy document other than
/// `hash`, by that document's hash ("" for lines settled before the ledger recorded
/// documents); empty when every line stands under `hash`.
pub fn lines_under_other_documents<'a>(sums: &'a [LineSum], hash: &str) -> BTreeMap<&'a str, u64> {
    let mut other: BTreeMap<&str, u64> = BTreeMap::new();
    for s in sums.iter().filter(|s| s.policy_hash != hash) {
        *other.entry(s.policy_hash.as_str()).or_default() += s.records;
    }
    other
}
