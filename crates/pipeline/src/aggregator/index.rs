//! What a member knows of the standing lines of its partitions without
//! asking the store: a Bloom filter of every record id that has a line, and
//! the most recently written standing lines.
//!
//! A record id the filter has never seen has no line, so its first revision
//! needs no lookup; that is nearly every record. A later revision usually
//! comes soon after the one it replaces and is found among the recent lines.
//! Only the rest (old revisions, and the filter's rare false positives) go to
//! the store. Both parts have a fixed size, so memory does not grow with the
//! ledger; past the filter's design load its false positives rise and more
//! ids are looked up, which costs time, never correctness.

use fastbloom::BloomFilter;
use lru::LruCache;
use std::collections::HashMap;
use std::num::NonZeroUsize;
use subsidy_store::{LineRow, StandingLine};

/// Filter size: 16 MiB.
const FILTER_BITS: usize = 1 << 27;
/// Ids per member the filter is tuned for (false positives ≈ 3·10⁻⁶ at this load).
const FILTER_DESIGN_IDS: usize = 10_000_000;
/// Recent standing lines kept.
const RECENT_LINES: NonZeroUsize = NonZeroUsize::new(200_000).unwrap();

/// Where each id of a batch stands.
#[derive(Debug, Default)]
pub struct Split {
    /// Standing lines known without the store.
    pub known: HashMap<String, StandingLine>,
    /// Ids to look up in the store.
    pub lookup: Vec<String>,
    /// Ids the filter has never seen: first revisions.
    pub new: usize,
}

/// The filter and the recent lines of the owned partitions.
pub struct StandingIndex {
    seen: BloomFilter,
    recent: LruCache<String, StandingLine>,
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
            recent: LruCache::new(RECENT_LINES),
        }
    }
}

impl StandingIndex {
    /// Notes that `id` has a line in the store.
    pub fn saw(&mut self, id: &str) {
        self.seen.insert(id);
    }

    /// Sorts a batch's distinct ids into known, to look up, and new.
    pub fn split(&mut self, ids: Vec<String>) -> Split {
        let mut split = Split::default();
        for id in ids {
            if let Some(line) = self.recent.get(&id) {
                split.known.insert(id, line.clone());
            } else if self.seen.contains(&id) {
                split.lookup.push(id);
            } else {
                split.new += 1;
            }
        }
        split
    }

    /// Notes lines just written: each now stands for its record.
    pub fn remember(&mut self, lines: &[LineRow]) {
        for l in lines {
            self.seen.insert(&l.record_id);
            self.recent.put(l.record_id.clone(), StandingLine::from(l.clone()));
        }
    }

    /// Notes standing lines read from the store, so the next revision finds them.
    pub fn remember_standing(&mut self, lines: impl IntoIterator<Item = StandingLine>) {
        for l in lines {
            self.recent.put(l.record_id.clone(), l);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use subsidy_store::BusPosition;

    fn line(id: &str, revision: u32) -> LineRow {
        LineRow {
            record_id: id.into(),
            revision,
            user_credit_code: subsidy_core::CreditCode::complete("91340100MA2MTN5C3").unwrap(),
            center_id: "c".into(),
            period: subsidy_core::Period::new(2025, 9).unwrap(),
            policy_version: "2025-v2".into(),
            rate: rust_decimal::Decimal::new(2, 1),
            uplift: rust_decimal::Decimal::ONE,
            base: rust_decimal::Decimal::ONE,
            contribution: rust_decimal::Decimal::new(2, 1),
            reason: None,
            position: BusPosition { partition: 0, offset: 0 },
        }
    }

    #[test]
    fn new_ids_skip_the_store_and_old_ones_do_not() {
        let mut index = StandingIndex::default();
        index.saw("in-store");
        index.remember(&[line("recent", 3)]);
        let split = index.split(vec!["fresh".into(), "in-store".into(), "recent".into()]);
        assert_eq!(split.new, 1);
        assert_eq!(split.lookup, ["in-store"]);
        assert_eq!(split.known.get("recent").map(|l| l.revision), Some(3));
    }

    #[test]
    fn the_recent_lines_are_bounded_but_the_filter_remembers() {
        let mut index = StandingIndex::default();
        let lines: Vec<LineRow> = (0..RECENT_LINES.get() + 10).map(|i| line(&format!("r{i}"), 1)).collect();
        index.remember(&lines);
        let split = index.split(vec!["r0".into(), format!("r{}", RECENT_LINES.get() + 9)]);
        // The oldest fell out of the recent lines, so it is looked up, never taken as new.
        assert_eq!((split.lookup, split.known.len(), split.new), (vec!["r0".to_string()], 1, 0));
    }
}
