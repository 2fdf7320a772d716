//! What the platform says it holds: per compute center and day (China
//! Standard Time) the number of usage records (distinct record ids, the
//! highest revision standing, a later copy of it replacing an earlier one)
//! and the sum of their `paid_amount`, over the records the platform holds at
//! the time of asking (released or withheld, not those still to come), as
//! `/v1/usage-counts` serves it; and which records a [`Withhold`] keeps out of
//! the stream.
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

/// Where each record's copies are in the stream, so the counts of a day can be
/// taken over the copies the platform holds at the time of asking.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlatformCounts {
    /// Per record id, its valid copies: stream position, revision, center, day, paid.
    copies: Vec<Vec<Copy>>,
    /// Per day, the records with a copy on that day.
    by_day: BTreeMap<NaiveDate, Vec<usize>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Copy {
    position: usize,
    revision: u32,
    center_id: String,
    day: NaiveDate,
    paid: Decimal,
}

impl PlatformCounts {
    /// Indexes the valid records of a stream (positions as served).
    pub fn of(stream: &[String]) -> PlatformCounts {
        let mut ids: HashMap<String, usize> = HashMap::new();
        let mut counts = PlatformCounts::default();
        for (position, line) in stream.iter().enumerate() {
            let Ok(r) = subsidy_core::parse_record(line.as_bytes()) else { continue };
            let day = cst_date(&r.usage_end);
            let next = counts.copies.len();
            let id = *ids.entry(r.record_id).or_insert(next);
            if id == next {
                counts.copies.push(Vec::new());
            }
            counts.copies[id].push(Copy { position, revision: r.revision, center_id: r.center_id, day, paid: r.paid_amount });
            let on_day = counts.by_day.entry(day).or_default();
            if on_day.last() != Some(&id) {
                on_day.push(id);
            }
        }
        counts
    }

    /// The counts of one day by center, over the copies `holds` says the platform holds:
    /// per record the highest revision held stands (a later copy replacing an earlier one).
    pub fn day(&self, date: NaiveDate, holds: impl Fn(usize) -> bool) -> Vec<CenterDayCount> {
        let mut ids: Vec<usize> = self.by_day.get(&date).cloned().unwrap_or_default();
        ids.sort_unstable();
        ids.dedup();
        let mut cells: BTreeMap<&str, (u64, Decimal)> = BTreeMap::new();
        for id in ids {
            let standing = self.copies[id].iter().filter(|c| holds(c.position)).fold(None::<&Copy>, |best, c| match best {
                Some(b) if b.revision > c.revision => Some(b),
                _ => Some(c),
            });
            if let Some(c) = standing.filter(|c| c.day == date) {
                let cell = cells.entry(c.center_id.as_str()).or_insert((0, Decimal::ZERO));
                cell.0 += 1;
                cell.1 += c.paid;
            }
        }
        cells.into_iter().map(|(center, (records, paid_amount))| CenterDayCount { center_id: center.to_string(), date, records, paid_amount }).collect()
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
    lines: Vec<usize>,
}

/// The stream positions `withhold` keeps back, sorted: whole records (every copy), at
/// least one of each center-day it names, judged by the revision that stands.
pub(crate) fn withheld(records: &[String], withhold: Option<&Withhold>) -> Vec<usize> {
    let Some(w) = withhold else { return Vec::new() };
    let mut ids: HashMap<String, Standing> = HashMap::new();
    for (i, line) in records.iter().enumerate() {
        let Ok(r) = subsidy_core::parse_record(line.as_bytes()) else { continue };
        let day = cst_date(&r.usage_end);
        let s = ids.entry(r.record_id).or_insert_with(|| Standing { revision: 0, center_id: String::new(), day, lines: Vec::new() });
        if r.revision >= s.revision {
            (s.revision, s.center_id, s.day) = (r.revision, r.center_id, day);
        }
        s.lines.push(i);
    }
    let mut cells: BTreeMap<NaiveDate, Vec<&str>> = BTreeMap::new();
    for (id, s) in &ids {
        if s.center_id == w.center_id && (w.from..=w.to).contains(&s.day) {
            cells.entry(s.day).or_default().push(id.as_str());
        }
    }
    let mut out = BTreeSet::new();
    for mut members in cells.into_values() {
        members.sort_unstable();
        // Float-to-int casts saturate; at least one record of a day that has any.
        let k = ((members.len() as f64 * w.fraction).ceil() as usize).clamp(1, members.len());
        for id in &members[..k] {
            out.extend(ids[*id].lines.iter().copied());
        }
    }
    out.into_iter().collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::generate::{generate, GenConfig};

    #[test]
    fn counts_follow_the_standing_revision_and_a_withhold_takes_whole_records() {
        let g = generate(&GenConfig { seed: 7, records: 2_000, ..GenConfig::default() }).unwrap();
        let counts = PlatformCounts::of(&g.dataset.records);
        let all = |c: &PlatformCounts| -> Vec<CenterDayCount> { c.days().flat_map(|d| c.day(d, |_| true)).collect() };
        let valid: BTreeSet<String> = g.dataset.records.iter().filter_map(|l| subsidy_core::parse_record(l.as_bytes()).ok()).map(|r| r.record_id).collect();
        let total: u64 = all(&counts).iter().map(|c| c.records).sum();
        assert_eq!(total, valid.len() as u64);
        let busiest = all(&counts).into_iter().max_by_key(|c| c.records).unwrap();
        let w = Withhold { center_id: busiest.center_id.clone(), from: busiest.date, to: busiest.date, fraction: 0.001 };
        let held = withheld(&g.dataset.records, Some(&w));
        let ids: BTreeSet<String> = held.iter().map(|i| subsidy_core::parse_record(g.dataset.records[*i].as_bytes()).unwrap().record_id).collect();
        assert_eq!(ids.len(), 1, "0.1% of a center-day is at least one record");
        let copies = g.dataset.records.iter().filter(|l| subsidy_core::parse_record(l.as_bytes()).is_ok_and(|r| ids.contains(&r.record_id))).count();
        assert_eq!(copies, held.len(), "every copy of a withheld record is withheld");
        // Only what the platform holds is counted: without the withheld copies the center-day has one record fewer.
        let without: Vec<CenterDayCount> = counts.day(busiest.date, |p| !held.contains(&p));
        let then = without.iter().find(|c| c.center_id == busiest.center_id).map_or(0, |c| c.records);
        assert_eq!(then + 1, busiest.records);
        assert!(counts.day(busiest.date, |_| false).is_empty(), "nothing held, nothing counted");
    }
}
