//! Completeness against the platform: the platform's own count of usage
//! records and sum of `paid_amount` per compute center and day (China
//! Standard Time), compared with what the ledger holds for the same
//! center-day (one standing line per record id, the sum of their
//! `paid_amount`).
//!
//! A center-day whose figures differ is a gap: records the platform holds
//! and the ledger never received (a collector started late, a page the
//! platform skipped), or lines the platform does not count. A day the
//! platform published no counts for at all is not a gap but unverified:
//! nothing says what it should hold. Pure: the figures come from the store.

use crate::money::Money;
use crate::period::Period;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Records and their paid sum on one compute center and day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayCount {
    /// The compute center.
    pub center_id: String,
    /// The day, China Standard Time.
    pub day: NaiveDate,
    /// Usage records (distinct record ids).
    pub records: u64,
    /// Sum of their `paid_amount`, yuan.
    pub paid: Money,
}

/// One center-day whose ledger figures differ from the platform's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gap {
    /// The compute center.
    pub center_id: String,
    /// The day, China Standard Time.
    pub day: NaiveDate,
    /// Records the platform holds.
    pub platform_records: u64,
    /// Their paid sum, yuan.
    pub platform_paid: Money,
    /// Records the ledger holds.
    pub ledger_records: u64,
    /// Their paid sum, yuan.
    pub ledger_paid: Money,
}

impl Gap {
    /// Platform records less ledger records: positive when the ledger is short.
    pub fn missing_records(&self) -> i64 {
        i64::try_from(self.platform_records).unwrap_or(i64::MAX).saturating_sub(i64::try_from(self.ledger_records).unwrap_or(i64::MAX))
    }

    /// Platform paid sum less ledger paid sum, yuan.
    pub fn missing_paid(&self) -> Decimal {
        self.platform_paid - self.ledger_paid
    }
}

/// A month's reconciliation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reconciliation {
    /// The month.
    pub period: Period,
    /// Center-days compared (the platform published counts for their day).
    pub compared: u64,
    /// Center-days that differ, by day then center.
    pub gaps: Vec<Gap>,
    /// Days of the month the ledger has lines for but the platform published no counts for.
    pub unverified_days: Vec<NaiveDate>,
}

impl Reconciliation {
    /// Whether every compared center-day agrees.
    pub fn is_complete(&self) -> bool {
        self.gaps.is_empty()
    }

    /// Sum over the gaps of the records the ledger lacks or holds beyond the platform (absolute).
    pub fn gap_records(&self) -> u64 {
        self.gaps.iter().map(|g| g.missing_records().unsigned_abs()).sum()
    }

    /// The gaps as people read them: `C1 2025-11-03: platform 1000, ledger 999 (-1)`, one per center-day.
    pub fn describe_gaps(&self) -> Vec<String> {
        self.gaps
            .iter()
            .map(|g| {
                format!(
                    "{} {}: platform {} records ({} yuan), ledger {} ({} yuan), {} missing",
                    g.center_id,
                    g.day,
                    g.platform_records,
                    g.platform_paid,
                    g.ledger_records,
                    g.ledger_paid,
                    g.missing_records()
                )
            })
            .collect()
    }
}

type Figures = (u64, Decimal);

/// Sums the counts of `period` by center-day (a center-day given twice adds up).
fn by_center_day(period: Period, counts: &[DayCount]) -> BTreeMap<(NaiveDate, &str), Figures> {
    let mut out: BTreeMap<(NaiveDate, &str), Figures> = BTreeMap::new();
    for c in counts.iter().filter(|c| Period::of_date(c.day) == period) {
        let e = out.entry((c.day, c.center_id.as_str())).or_insert((0, Decimal::ZERO));
        e.0 = e.0.saturating_add(c.records);
        e.1 += c.paid;
    }
    out
}

/// Compares the platform's counts with the ledger's for the center-days of `period`.
/// A day the platform published counts for is compared for every center on either side
/// (a center missing on one side counts as zero there); a day it published nothing for is
/// unverified. Inputs outside the month are ignored.
pub fn reconcile(period: Period, platform: &[DayCount], ledger: &[DayCount]) -> Reconciliation {
    let platform = by_center_day(period, platform);
    let ledger = by_center_day(period, ledger);
    let published: BTreeSet<NaiveDate> = platform.keys().map(|(d, _)| *d).collect();
    let keys: BTreeSet<(NaiveDate, &str)> = platform.keys().chain(ledger.keys()).copied().filter(|(d, _)| published.contains(d)).collect();
    let zero = (0, Decimal::ZERO);
    let mut gaps = Vec::new();
    for (day, center) in &keys {
        let p = platform.get(&(*day, *center)).unwrap_or(&zero);
        let l = ledger.get(&(*day, *center)).unwrap_or(&zero);
        if p.0 != l.0 || p.1 != l.1 {
            gaps.push(Gap { center_id: (*center).to_string(), day: *day, platform_records: p.0, platform_paid: p.1, ledger_records: l.0, ledger_paid: l.1 });
        }
    }
    let unverified: BTreeSet<NaiveDate> = ledger.keys().map(|(d, _)| *d).filter(|d| !published.contains(d)).collect();
    Reconciliation { period, compared: keys.len() as u64, gaps, unverified_days: unverified.into_iter().collect() }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::str::FromStr;

    fn day(d: &str) -> NaiveDate {
        NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap()
    }

    fn count(center: &str, d: &str, records: u64, paid: &str) -> DayCount {
        DayCount { center_id: center.into(), day: day(d), records, paid: Decimal::from_str(paid).unwrap() }
    }

    fn nov() -> Period {
        Period::parse("2025-11").unwrap()
    }

    #[test]
    fn equal_figures_leave_no_gap_and_a_short_ledger_is_named() {
        let platform = [count("C1", "2025-11-03", 1000, "5000.00"), count("C2", "2025-11-03", 10, "1.00")];
        let ledger = [count("C1", "2025-11-03", 999, "4995.50"), count("C2", "2025-11-03", 10, "1.00")];
        let r = reconcile(nov(), &platform, &ledger);
        assert_eq!(r.compared, 2);
        assert_eq!(r.gaps.len(), 1);
        let g = &r.gaps[0];
        assert_eq!((g.center_id.as_str(), g.day, g.missing_records(), g.missing_paid()), ("C1", day("2025-11-03"), 1, Decimal::from_str("4.50").unwrap()));
        assert_eq!(r.gap_records(), 1);
        assert!(r.describe_gaps()[0].starts_with("C1 2025-11-03: platform 1000 records"), "{:?}", r.describe_gaps());
        assert!(reconcile(nov(), &platform, &platform).is_complete());
    }

    #[test]
    fn a_center_on_one_side_only_is_a_gap_and_an_unpublished_day_is_unverified() {
        let platform = [count("C1", "2025-11-03", 3, "3")];
        let ledger = [count("C1", "2025-11-03", 3, "3"), count("C9", "2025-11-03", 1, "2"), count("C1", "2025-11-04", 5, "5")];
        let r = reconcile(nov(), &platform, &ledger);
        assert_eq!(r.gaps.len(), 1);
        assert_eq!((r.gaps[0].center_id.as_str(), r.gaps[0].missing_records()), ("C9", -1));
        assert_eq!(r.unverified_days, vec![day("2025-11-04")]);
        // Another month's figures are not this month's.
        let r = reconcile(Period::parse("2025-12").unwrap(), &platform, &ledger);
        assert_eq!((r.compared, r.gaps.len(), r.unverified_days.len()), (0, 0, 0));
    }

    fn counts() -> impl Strategy<Value = Vec<DayCount>> {
        prop::collection::vec((0..3u8, 1..5u32, 0..20u64, 0..10_000i64), 0..20).prop_map(|v| {
            v.into_iter()
                .map(|(c, d, n, fen)| DayCount { center_id: format!("C{c}"), day: NaiveDate::from_ymd_opt(2025, 11, d).unwrap(), records: n, paid: Decimal::new(fen, 2) })
                .collect()
        })
    }

    proptest! {
        /// The reconciliation does not depend on the order or the splitting of the figures.
        #[test]
        fn order_and_splitting_do_not_matter(platform in counts(), ledger in counts(), seed in any::<u64>()) {
            let r = reconcile(nov(), &platform, &ledger);
            let mut shuffled = ledger.clone();
            shuffled.reverse();
            if let Some(first) = shuffled.first().cloned() {
                // One center-day split in two rows sums to the same figures.
                let half = first.records / 2;
                let paid_half = first.paid / Decimal::from(2);
                shuffled[0] = DayCount { records: first.records - half, paid: first.paid - paid_half, ..first.clone() };
                shuffled.push(DayCount { records: half, paid: paid_half, ..first });
            }
            let rotate = (seed as usize) % (platform.len().max(1));
            let mut rotated = platform.clone();
            rotated.rotate_left(rotate);
            prop_assert_eq!(reconcile(nov(), &rotated, &shuffled), r.clone());
            prop_assert_eq!(reconcile(nov(), &platform, &platform).gaps.len(), 0);
            // Every gap really differs, and every compared center-day not listed agrees.
            for g in &r.gaps {
                prop_assert!(g.platform_records != g.ledger_records || g.platform_paid != g.ledger_paid);
            }
        }
    }
}
