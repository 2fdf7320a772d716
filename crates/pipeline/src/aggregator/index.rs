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
use rust_decimal::Decimal;
use std::collections::HashMap;
use std::num::NonZeroUsize;
use subsidy_core::{CreditCode, Period, PolicySet, ReasonCode};
use subsidy_store::{LineRow, StandingLine};

/// Filter size: 16 MiB.
const FILTER_BITS: usize = 1 << 27;
/// Ids per member the filter is tuned for (false positives ≈ 3·10⁻⁶ at this load).
const FILTER_DESIGN_IDS: usize = 10_000_000;
/// Recent standing lines kept, about 100 bytes each: enough that a revision up to
/// 20 days after the one it replaces is found in memory at 30,000 records a day.
const RECENT_LINES: NonZeroUsize = NonZeroUsize::new(600_000).unwrap();

/// A standing line as kept in memory: the id is the key, the policy version an index.
#[derive(Debug, Clone, Copy)]
struct Kept {
    revision: u32,
    user: CreditCode,
    period: Period,
    version: Option<u8>,
    reason: Option<ReasonCode>,
    base: Decimal,
    contribution: Decimal,
}

/// The index of a line's policy version: `Some(None)` for none, `None` for a version
/// the current policy set does not know (such a line is left to the store).
fn version_index(policy: &PolicySet, id: &str) -> Option<Option<u8>> {
    if id.is_empty() {
        return Some(None);
    }
    u8::try_from(policy.index_of(id)?).ok().map(Some)
}

impl Kept {
    fn of_line(l: &LineRow, policy: &PolicySet) -> Option<Kept> {
        let version = version_index(policy, &l.policy_version)?;
        Some(Kept { revision: l.revision, user: l.user_credit_code, period: l.period, version, reason: l.reason, base: l.base, contribution: l.contribution })
    }

    fn of_standing(l: &StandingLine, policy: &PolicySet) -> Option<Kept> {
        let version = version_index(policy, &l.policy_version)?;
        Some(Kept { revision: l.revision, user: l.user_credit_code, period: l.period, version, reason: l.reason, base: l.base, contribution: l.contribution })
    }

    fn standing(&self, record_id: &str, policy: &PolicySet) -> StandingLine {
        StandingLine {
            record_id: record_id.to_string(),
            revision: self.revision,
            user_credit_code: self.user,
            period: self.period,
            policy_version: self.version.and_then(|v| policy.version(usize::from(v))).map(|v| v.id.clone()).unwrap_or_default(),
            base: self.base,
            contribution: self.contribution,
            reason: self.reason,
        }
    }
}

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

    /// Sorts a batch's distinct ids into known, to look up, and new.
    pub fn split(&mut self, ids: Vec<String>, policy: &PolicySet) -> Split {
        let mut split = Split::default();
        for id in ids {
            if let Some(kept) = self.recent.get(id.as_str()) {
                let line = kept.standing(&id, policy);
                split.known.insert(id, line);
            } else if self.seen.contains(&id) {
                split.lookup.push(id);
            } else {
                split.new += 1;
            }
        }
        split
    }

    /// Notes lines about to be written: each now stands for its record.
    pub fn remember(&mut self, lines: &[LineRow], policy: &PolicySet) {
        for l in lines {
            self.seen.insert(&l.record_id);
            self.keep(&l.record_id, Kept::of_line(l, policy));
        }
    }

    /// Notes standing lines read from the store, so the next revision finds them.
    pub fn remember_standing(&mut self, lines: &[StandingLine], policy: &PolicySet) {
        for l in lines {
            self.keep(&l.record_id, Kept::of_standing(l, policy));
        }
    }

    fn keep(&mut self, record_id: &str, kept: Option<Kept>) {
        match kept {
            Some(kept) => {
                self.recent.put(record_id.into(), kept);
                if self.recent.len() > RECENT_LINES.get() {
                    self.recent.pop_lru();
                }
            }
            None => {
                self.recent.pop(record_id);
            }
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
            user_credit_code: CreditCode::complete("91340100MA2MTN5C3").unwrap(),
            center_id: "c".into(),
            period: Period::new(2025, 9).unwrap(),
            policy_version: PolicySet::builtin().version(1).unwrap().id.clone(),
            rate: Decimal::new(2, 1),
            uplift: Decimal::ONE,
            base: Decimal::ONE,
            contribution: Decimal::new(2, 1),
            reason: None,
            position: BusPosition { partition: 0, offset: 0 },
        }
    }

    #[test]
    fn new_ids_skip_the_store_and_old_ones_do_not() {
        let policy = PolicySet::builtin();
        let mut index = StandingIndex::default();
        index.saw("in-store");
        let recent = line("recent", 3);
        index.remember(std::slice::from_ref(&recent), &policy);
        let split = index.split(vec!["fresh".into(), "in-store".into(), "recent".into()], &policy);
        assert_eq!(split.new, 1);
        assert_eq!(split.lookup, ["in-store"]);
        // What comes back from memory is the line as written, field for field.
        assert_eq!(split.known.get("recent"), Some(&StandingLine::from(recent)));
    }

    #[test]
    fn the_recent_lines_are_bounded_but_the_filter_remembers() {
        let policy = PolicySet::builtin();
        let mut index = StandingIndex::default();
        let lines: Vec<LineRow> = (0..RECENT_LINES.get() + 10).map(|i| line(&format!("r{i}"), 1)).collect();
        index.remember(&lines, &policy);
        let split = index.split(vec!["r0".into(), format!("r{}", RECENT_LINES.get() + 9)], &policy);
        // The oldest fell out of the recent lines, so it is looked up, never taken as new.
        assert_eq!((split.lookup, split.known.len(), split.new), (vec!["r0".to_string()], 1, 0));
    }
}
