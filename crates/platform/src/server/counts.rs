//! What the platform says it holds: per compute center and day (China
//! Standard Time) the number of usage records (distinct record ids, the
//! highest revision standing, a later copy of it replacing an earlier one)
//! and the sum of their `paid_amount`, as `/v1/usage-counts` serves it; and
//! which records a [`Withhold`] keeps out of the stream.
//!
//! Lines that are not valid records (the generator's malformed lines) are
//! damage on the way out, not records the platform holds: they are not
//! counted.

use super::config::Withhold;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use subsidy_core::period::cst_date;

/// One center and day as `/v1/usage-counts` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CenterDayCount {
    /// The compute center.
    pub center_id: String,
    /// The day, China Standard Time, `YYYY-MM-DD`.
    pub date: NaiveDate,
    /// Usage records the platform holds.
    pub records: u64,
    /// Sum of their `paid_amount`, yuan, a decimal string.
    #[serde(with = "rust_decimal::serde::str")]
    pub paid_amount: Decimal,
}

/// The counts of a data set, by day then center.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlatformCounts {
    by_day: BTreeMap<NaiveDate, Vec<CenterDayCount>>,
}

impl PlatformCounts {
    /// The counts of one day, by center.
    pub fn day(&self, date: NaiveDate) -> &[CenterDayCount] {
        self.by_day.get(&date).map_or(&[], Vec::as_slice)
    }

    /// Every day with records.
    pub fn days(&self) -> impl Iterator<Item = NaiveDate> + '_ {
        self.by_day.keys().copied()
    }
}

/// What stands for one record id, and where its copies are in the stream.
struct Standing {
    revision: u32,
    center_id: String,
    day: NaiveDate,
    paid: Decimal,
    lines: Vec<usize>,
}

/// The counts of `records` and the stream positions `withhold` keeps back, sorted.
pub(crate) fn tally(records: &[String], withhold: Option<&Withhold>) -> (PlatformCounts, Vec<usize>) {
    let mut ids: HashMap<String, Standing> = HashMap::new();
    for (i, line) in records.iter().enumerate() {
        let Ok(r) = subsidy_core::parse_record(line.as_bytes()) else { continue };
        let day = cst_date(&r.usage_end);
        let s = ids.entry(r.record_id).or_insert_with(|| Standing { revision: 0, center_id: String::new(), day, paid: Decimal::ZERO, lines: Vec::new() });
        if r.revision >= s.revision {
            (s.revision, s.center_id, s.day, s.paid) = (r.revision, r.center_id, day, r.paid_amount);
        }
        s.lines.push(i);
    }
    let mut cells: BTreeMap<(NaiveDate, &str), (u64, Decimal, Vec<&str>)> = BTreeMap::new();
    for (id, s) in &ids {
        let c = cells.entry((s.day, s.center_id.as_str())).or_insert((0, Decimal::ZERO, Vec::new()));
        c.0 += 1;
        c.1 += s.paid;
        c.2.push(id.as_str());
    }
    let mut withheld = BTreeSet::new();
    let mut counts = PlatformCounts::default();
    for ((day, center), (n, paid, mut members)) in cells {
        if let Some(w) = withhold.filter(|w| w.center_id == center && (w.from..=w.to).contains(&day)) {
            members.sort_unstable();
            // Float-to-int casts saturate; at least one record of a day that has any.
            let k = ((n as f64 * w.fraction).ceil() as usize).clamp(1, members.len());
            for id in &members[..k] {
                withheld.extend(ids[*id].lines.iter().copied());
            }
        }
        counts.by_day.entry(day).or_default().push(CenterDayCount { center_id: center.to_string(), date: day, records: n, paid_amount: paid });
    }
    (counts, withheld.into_iter().collect())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::generate::{generate, GenConfig};

    #[test]
    fn counts_follow_the_standing_revision_and_a_withhold_takes_whole_records() {
        let g = generate(&GenConfig { seed: 7, records: 2_000, ..GenConfig::default() }).unwrap();
        let (counts, none) = tally(&g.dataset.records, None);
        assert!(none.is_empty());
        let valid: BTreeSet<String> = g.dataset.records.iter().filter_map(|l| subsidy_core::parse_record(l.as_bytes()).ok()).map(|r| r.record_id).collect();
        let total: u64 = counts.days().flat_map(|d| counts.day(d)).map(|c| c.records).sum();
        assert_eq!(total, valid.len() as u64);
        let busiest = counts.days().flat_map(|d| counts.day(d)).max_by_key(|c| c.records).unwrap().clone();
        let w = Withhold { center_id: busiest.center_id.clone(), from: busiest.date, to: busiest.date, fraction: 0.001 };
        let (again, withheld) = tally(&g.dataset.records, Some(&w));
        assert_eq!(again, counts, "a withhold never changes the counts");
        let ids: BTreeSet<String> = withheld.iter().map(|i| subsidy_core::parse_record(g.dataset.records[*i].as_bytes()).unwrap().record_id).collect();
        assert_eq!(ids.len(), 1, "0.1% of a center-day is at least one record");
        let copies = g.dataset.records.iter().filter(|l| subsidy_core::parse_record(l.as_bytes()).is_ok_and(|r| ids.contains(&r.record_id))).count();
        assert_eq!(copies, withheld.len(), "every copy of a withheld record is withheld");
    }
}
