//! Settlement: from exact accruals to the subsidy of each entity and month.
//!
//! Caps (per entity, calendar year and policy version) are consumed in month
//! order; then the month's total is rounded down to the fen, once.

use crate::accrual::{Accrual, AccrualKey, Accruals};
use crate::credit_code::CreditCode;
use crate::money::{round_down_to_fen, Money};
use crate::period::Period;
use crate::policy::PolicySet;
use rust_decimal::Decimal;

/// The settled figures of one entity and month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settlement {
    /// The compute user.
    pub credit_code: CreditCode,
    /// The month.
    pub period: Period,
    /// Eligible records.
    pub eligible_records: u64,
    /// Σ base of eligible records, exact (two decimals).
    pub eligible_base: Money,
    /// Σ base × rate × uplift, exact, before any cap.
    pub uncapped: Decimal,
    /// The subsidy: capped, then rounded down to the fen.
    pub subsidy: Money,
}

/// Settles every entity and month of `accruals`, sorted by credit code, then period.
pub fn settle(accruals: &Accruals, policy: &PolicySet) -> Vec<Settlement> {
    settle_entries(accruals.iter().map(|(k, a)| (*k, a)), policy)
}

/// Settles the given entity-months. For caps to be right, pass every month of
/// each entity and year concerned.
pub fn settle_entries<'a>(entries: impl IntoIterator<Item = (AccrualKey, &'a Accrual)>, policy: &PolicySet) -> Vec<Settlement> {
    let mut entries: Vec<(AccrualKey, &Accrual)> = entries.into_iter().collect();
    entries.sort_by_key(|(k, _)| *k);
    let mut out = Vec::with_capacity(entries.len());
    // Cumulative contribution per version within the current entity and year, for caps.
    let mut cumulative: Vec<(u8, Decimal)> = Vec::new();
    let mut current: Option<(CreditCode, i32)> = None;
    for (key, accrual) in entries {
        let uncapped = accrual.contribution();
        let payable = if policy.has_caps() {
            let year = (key.user, key.period.year());
            if current != Some(year) {
                cumulative.clear();
                current = Some(year);
            }
            capped_portion(accrual, policy, &mut cumulative)
        } else {
            uncapped
        };
        out.push(Settlement {
            credit_code: key.user,
            period: key.period,
            eligible_records: accrual.eligible_records,
            eligible_base: accrual.eligible_base,
            uncapped,
            subsidy: round_down_to_fen(payable.max(Decimal::ZERO)),
        });
    }
    out
}

/// The part of a month's contribution that fits under each version's remaining annual cap.
fn capped_portion(accrual: &Accrual, policy: &PolicySet, cumulative: &mut Vec<(u8, Decimal)>) -> Decimal {
    let mut total = Decimal::ZERO;
    for &(version, contribution) in &accrual.by_version {
        let cap = policy.version(version as usize).and_then(|v| v.annual_cap_yuan);
        let before = match cumulative.iter_mut().find(|(v, _)| *v == version) {
            Some((_, c)) => {
                let b = *c;
                *c += contribution;
                b
            }
            None => {
                cumulative.push((version, contribution));
                Decimal::ZERO
            }
        };
        total += match cap {
            Some(cap) => (before + contribution).min(cap) - before.min(cap),
            None => contribution,
        };
    }
    total
}
