//! What a member knows of the standing lines of its partitions without
//! asking the store: a Bloom filter of every record id that has a line, and
//! the most recently written standing lines.
//!
//! A record id the filter has never seen has no line, so its first copy
//! needs no lookup; that is nearly every record. A later revision usually
//! comes soon after the one it replaces and is found among the recent lines.
//! Only the rest (old revisions, and the filter's rare false positives) go to
//! the store. Both parts have a fixed size, so memory does not grow with the
//! ledger; past the filter's design load its false positives rise and more
//! ids are looked up, which costs time, never correctness.

use fastbloom::BloomFilter;
use lru::LruCache;
use std::collections::HashSet;
use std::num::NonZeroUsize;
use subsidy_core::Standing;
use subsidy_store::{BusPosition, LineEffect, LineRow};

/// Filter size: 64 MiB.
const FILTER_BITS: usize = 1 << 29;
/// Ids per member the filter is tuned for (9 hashes): false positives ≈ 1·10⁻⁵ of first
/// copies at half this load, ≈ 2·10⁻³ at it, ≈ 7 % at twice it.
const FILTER_DESIGN_IDS: usize = 40_000_000;
/// Recent standing lines kept: enough that a revision up to 20 days after the one
/// it replaces is found in memory at 30,000 records a day.
const RECENT_LINES: NonZeroUsize = NonZeroUsize::new(600_000).unwrap();

/// What stands for a record, where the copy it stands on arrived, and what its line adds
/// to the sums (what a line written over it replaces, for the store's change log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kept {
    /// What stands.
    pub standing: Standing,
    /// The representing copy's bus position.
    pub position: BusPosition,
    /// The standing line's effect.
    pub effect: LineEffect,
}

impl Kept {
    /// What a stored line says stands.
    pub fn of(line: &LineRow) -> Kept {
        Kept { standing: line.standing(), position: line.position, effect: LineEffect::of(line) }
    }
}

/// Where the ids of a batch stand before it is settled.
#[derive(Debug, Default)]
pub struct Split {
    /// Ids to look up in the store: seen before, but not among the recent lines.
    pub lookup: Vec<String>,
    /// Distinct ids the filter has never seen: first copies.
    pub new: usize,
    /// Distinct ids found among the recent lines.
    pub recent: usize,
}

/// The filter and the recent lines of the owned partitions.
pub struct StandingIndex {
    seen: BloomFilter,
    recent: LruCache<Box<str>, Kept>,
}

impl std::fmt::Debug for StandingIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StandingIndex").field("recent", &self.recent.len()).finish_non_exhaustive()
    }
}

impl Default for StandingIndex {
    fn default() -> StandingIndex {
        StandingIndex {
            seen: BloomFilter::with_num_bits(FILTER_BITS).expected_items(FILTER_DESIGN_IDS),
            // Grown as lines come rather than sized up front: a small ledger stays small.
            recent: LruCache::unbounded(),
        }
    }
}

impl StandingIndex {
    /// Notes that `id` has a line in the store.
    pub fn saw(&mut self, id: &str) {
        self.seen.insert(id);
    }

    /// Sorts a batch's ids into found in memory, to look up, and new.
    pub fn split<'a>(&mut self, ids: impl IntoIterator<Item = &'a str>) -> Split {
        let mut split = Split::default();
        let mut seen_here: HashSet<&str> = HashSet::new();
        for id in ids {
            if !seen_here.insert(id) {
                continue;
            }
            if self.recent.contains(id) {
                split.recent += 1;
            } else if self.seen.contains(id) {
                split.lookup.push(id.to_string());
            } else {
                split.new += 1;
            }
        }
        split
    }

    /// What stands for `id`, if it is among the recent lines.
    pub fn get(&mut self, id: &str) -> Option<&Kept> {
        self.recent.get(id)
    }

    /// Notes that `kept` now stands for `id`.
    pub fn keep(&mut self, id: &str, kept: Kept) {
        self.seen.insert(id);
        self.recent.put(id.into(), kept);
        if self.recent.len() > RECENT_LINES.get() {
            self.recent.pop_lru();
        }
    }

    /// Forgets what stands for `id` in memory: its line never reached the store, so the
    /// store is asked next time (the filter keeps the id, which costs only that lookup).
    pub fn forget(&mut self, id: &str) {
        self.recent.pop(id);
    }

    /// Notes lines written over what memory holds (a re-settlement): those held among the
    /// recent lines now stand as written.
    pub fn rewritten<'a>(&mut self, lines: impl IntoIterator<Item = &'a LineRow>) {
        for l in lines {
            if self.recent.contains(l.record_id.as_str()) {
                self.recent.put(l.record_id.as_str().into(), Kept::of(l));
            }
        }
    }

    /// Forgets every recent line (lines were written that memory did not see): the store
    /// is asked for each again.
    pub fn forget_recent(&mut self) {
        self.recent.clear();
    }

    /// Notes lines read from the store: each stands for its record.
    pub fn remember<'a>(&mut self, lines: impl IntoIterator<Item = &'a LineRow>) {
        for l in lines {
            self.keep(&l.record_id, Kept::of(l));
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;
    use subsidy_core::{CreditCode, Fingerprint, PaymentStatus, Period};

    fn line(id: &str, revision: u32) -> LineRow {
        LineRow {
            record_id: id.into(),
            revision,
            fingerprint: Fingerprint(u128::from(revision)),
            conflict: false,
            user_credit_code: CreditCode::complete("91340100MA2MTN5C3").unwrap(),
            center_id: "c".into(),
            usage_date: chrono::NaiveDate::from_ymd_opt(2025, 9, 1).unwrap(),
            payment_status: PaymentStatus::Paid,
            paid_amount: Decimal::ONE,
            accelerator: "Ascend-910B".into(),
            period: Period::new(2025, 9).unwrap(),
            policy_version: "v2".into(),
            rate: Decimal::new(2, 1),
            uplift: Decimal::ONE,
            base: Decimal::ONE,
            contribution: Decimal::new(2, 1),
            reason: None,
            position: BusPosition { partition: 0, offset: 7 },
            version: u64::from(revision) << 32,
            policy_hash: String::new(),
            entity_entry: None,
            center_entry: None,
            contract_id: None,
        }
    }

    #[test]
    fn new_ids_skip_the_store_and_old_ones_do_not() {
        let mut index = StandingIndex::default();
        index.saw("in-store");
        let recent = line("recent", 3);
        index.remember([&recent]);
        let split = index.split(["fresh", "in-store", "recent", "fresh"]);
        assert_eq!((split.new, split.recent), (1, 1));
        assert_eq!(split.lookup, ["in-store"]);
        // What comes back from memory is what the line says stands, and where.
        assert_eq!(index.get("recent"), Some(&Kept::of(&recent)));
        assert_eq!(index.get("fresh"), None);
    }

    #[test]
    fn the_recent_lines_are_bounded_but_the_filter_remembers() {
        let mut index = StandingIndex::default();
        let lines: Vec<LineRow> = (0..RECENT_LINES.get() + 10).map(|i| line(&format!("r{i}"), 1)).collect();
        index.remember(&lines);
        let last = format!("r{}", RECENT_LINES.get() + 9);
        let split = index.split(["r0", last.as_str()]);
        // The oldest fell out of the recent lines, so it is looked up, never taken as new.
        assert_eq!((split.lookup, split.recent, split.new), (vec!["r0".to_string()], 1, 0));
    }
}
