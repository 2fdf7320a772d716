//! Settlement: from exact accruals to the subsidy of each entity and month.
//!
//! Each month's exact figure is rounded down to the fen, once. One optional
//! cap per entity and calendar year then limits the year's total, whichever
//! policy versions the year's usage fell under: it is spent in month order on
//! those floored figures, so a capped year pays exactly min(cap, Σ floored).
//! [`uplift_part`] says how much of a set of lines' contributions an uplift
//! accounts for, rounded the same way.

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
    /// The subsidy: rounded down to the fen, then capped.
    pub subsidy: Money,
}

/// Settles every entity and month of `accruals`, sorted by credit code, then period.
pub fn settle(accruals: &Accruals, policy: &PolicySet) -> Vec<Settlement> {
    let mut entries: Vec<(AccrualKey, &Accrual)> = accruals.iter().map(|(k, a)| (*k, a)).collect();
    entries.sort_by_key(|(k, _)| *k);
    let mut out = Vec::with_capacity(entries.len());
    // What the current entity's year has paid so far, floored month by month.
    let mut year_paid = Decimal::ZERO;
    let mut current: Option<(CreditCode, i32)> = None;
    for (key, accrual) in entries {
        let year = (key.user, key.period.year());
        if current != Some(year) {
            year_paid = Decimal::ZERO;
            current = Some(year);
        }
        let floored = round_down_to_fen(accrual.contribution.max(Decimal::ZERO));
        let subsidy = within_cap(floored, year_paid, policy.annual_cap(key.period.year()));
        year_paid += subsidy;
        out.push(Settlement {
            credit_code: key.user,
            period: key.period,
            eligible_records: accrual.eligible_records,
            eligible_base: accrual.eligible_base,
            uncapped: accrual.contribution,
            subsidy,
        });
    }
    out
}

/// The part of a month's floored figure a cap leaves, once the year has paid `paid`
/// (whole fen, so the result stays whole fen).
fn within_cap(floored: Money, paid: Money, cap: Option<Money>) -> Money {
    match cap {
        Some(cap) => round_down_to_fen(floored.min((cap - paid).max(Decimal::ZERO))),
        None => floored,
    }
}

impl Settlement {
    /// The part of this month's subsidy a line with this exact contribution accounts for:
    /// subsidy × contribution ÷ the month's uncapped total, to four decimals. For explaining
    /// a figure line by line only; what is paid is [`Settlement::subsidy`], rounded once.
    pub fn share_of(&self, contribution: Decimal) -> Decimal {
        if self.uncapped <= Decimal::ZERO {
            return Decimal::ZERO;
        }
        (self.subsidy * contribution / self.uncapped).round_dp(4)
    }
}

/// The part of some eligible lines' exact contributions that their uplift accounts for:
/// Σ contribution × (1 − 1/uplift) over `(contribution, uplift)` pairs (lines without an
/// uplift, factor 1, add nothing), before any cap, rounded down to the fen once.
pub fn uplift_part(lines: impl IntoIterator<Item = (Decimal, Decimal)>) -> Money {
    let exact: Decimal = lines.into_iter().filter(|(_, uplift)| *uplift > Decimal::ONE).map(|(contribution, uplift)| contribution - contribution / uplift).sum();
    round_down_to_fen(exact)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn the_uplift_part_is_rounded_down_once() {
        // 10.13 paid at 20% × 1.2: contribution 2.4312, of which 0.4052 is the uplift's.
        assert_eq!(uplift_part([(d("2.4312"), d("1.2"))]).to_string(), "0.40");
        // Two such lines: 0.8104, rounded once, not 0.40 + 0.40 rounded each.
        assert_eq!(uplift_part([(d("2.4312"), d("1.2")), (d("2.4312"), d("1.2"))]).to_string(), "0.81");
        assert_eq!(uplift_part([(d("120"), d("1.2")), (d("50"), d("1"))]).to_string(), "20.00");
        assert_eq!(uplift_part(std::iter::empty()).to_string(), "0.00");
    }

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn shares_split_the_subsidy_by_contribution() {
        let user = CreditCode::complete("91340100MA0000001").unwrap();
        let s = Settlement { credit_code: user, period: Period::parse("2025-09").unwrap(), eligible_records: 2, eligible_base: d("300"), uncapped: d("60"), subsidy: d("30.00") };
        assert_eq!(s.share_of(d("20")), d("10"));
        assert_eq!(s.share_of(d("40")), d("20"));
        let none = Settlement { uncapped: Decimal::ZERO, subsidy: Decimal::ZERO, ..s };
        assert_eq!(none.share_of(d("1")), Decimal::ZERO);
    }

    #[test]
    fn one_cap_per_entity_and_year_across_versions() {
        let mut policy = PolicySet::builtin();
        for v in &mut policy.versions {
            v.annual_cap_yuan = Some(d("100"));
        }
        let user = CreditCode::complete("91340100MA0000001").unwrap();
        let mut accruals = Accruals::new();
        // 2025-07 falls under v1, 2025-09 and 2025-10 under v2: one cap of 100 for the year.
        for (month, contribution) in [(7, "60"), (9, "30.005"), (10, "50")] {
            let key = AccrualKey { user, period: Period::new(2025, month).unwrap() };
            accruals.insert(key, &Accrual { eligible_records: 1, eligible_base: d("1"), contribution: d(contribution) });
        }
        let key = AccrualKey { user, period: Period::new(2026, 1).unwrap() };
        accruals.insert(key, &Accrual { eligible_records: 1, eligible_base: d("1"), contribution: d("70") });
        let subsidies: Vec<String> = settle(&accruals, &policy).iter().map(|s| s.subsidy.to_string()).collect();
        // Each month floored first (30.005 → 30.00), then the cap spent in month order:
        // the year pays exactly the cap.
        assert_eq!(subsidies, ["60.00", "30.00", "10.00", "70.00"]);
    }
}
