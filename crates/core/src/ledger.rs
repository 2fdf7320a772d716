//! The in-memory ledger: every record's standing revision and what it
//! contributes, and the accruals they add up to.
//!
//! Used where all state fits in memory (the file-driven `recompute`, the
//! embedded demo). Memory grows with distinct record ids and entity-months,
//! not with the number of lines read.

use crate::accrual::{Accruals, Effect};
use crate::classify::{classify, Assessment};
use crate::policy::PolicySet;
use crate::reason::ReasonCode;
use crate::record::UsageRecord;
use crate::registry::Registry;
use crate::revision::{decide, Decision};
use crate::settle::{settle, Settlement};
use crate::AccrualKey;
use ahash::AHashMap;
use std::collections::BTreeMap;

/// What became of one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It is now the standing revision; the assessment says what it earns.
    Standing {
        /// The rules' verdict.
        assessment: Assessment,
        /// The revision and input position it replaced, now superseded.
        replaced: Option<(u32, u64)>,
    },
    /// Same revision already seen.
    Duplicate,
    /// A higher revision already stands.
    Superseded,
}

#[derive(Debug, Clone, Copy)]
enum Standing {
    Counted(Effect),
    Excluded(ReasonCode),
}

#[derive(Debug, Clone, Copy)]
struct Held {
    revision: u32,
    position: u64,
    standing: Standing,
}

/// Standing revisions in first-seen order, in fixed-size segments: growing
/// never copies or re-touches what is already held, and the id index stays
/// small (an id and a slot number per record).
#[derive(Debug, Default)]
struct Slots {
    segments: Vec<Vec<Held>>,
    len: usize,
}

impl Slots {
    /// Records per segment.
    const SEGMENT: usize = 1 << 14;

    fn push(&mut self, held: Held) -> usize {
        let slot = self.len;
        if slot.is_multiple_of(Self::SEGMENT) {
            self.segments.push(Vec::with_capacity(Self::SEGMENT));
        }
        self.segments[slot / Self::SEGMENT].push(held);
        self.len += 1;
        slot
    }

    fn get(&self, slot: usize) -> &Held {
        &self.segments[slot / Self::SEGMENT][slot % Self::SEGMENT]
    }

    fn get_mut(&mut self, slot: usize) -> &mut Held {
        &mut self.segments[slot / Self::SEGMENT][slot % Self::SEGMENT]
    }

    fn iter(&self) -> impl Iterator<Item = &Held> {
        self.segments.iter().flatten()
    }
}

/// A record whose standing revision earns nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExcludedRecord<'a> {
    /// The record id.
    pub record_id: &'a str,
    /// Standing revision.
    pub revision: u32,
    /// Its input position (line number for files).
    pub position: u64,
    /// Why it earns nothing.
    pub reason: ReasonCode,
}

/// Counts over the ledger's records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LedgerTotals {
    /// Distinct records whose standing revision earns subsidy.
    pub eligible: u64,
    /// Standing revisions that earn nothing, by reason.
    pub by_reason: BTreeMap<ReasonCode, u64>,
}

/// Records, their standing revisions, and accruals.
#[derive(Debug)]
pub struct Ledger<'p> {
    policy: &'p PolicySet,
    /// Record id → its slot in `slots`.
    records: AHashMap<Box<str>, usize>,
    slots: Slots,
    accruals: Accruals,
    duplicates: u64,
    superseded: u64,
}

impl<'p> Ledger<'p> {
    /// An empty ledger settling under `policy`.
    pub fn new(policy: &'p PolicySet) -> Ledger<'p> {
        Ledger::with_capacity(policy, 0)
    }

    /// An empty ledger with room for `records` distinct record ids.
    pub fn with_capacity(policy: &'p PolicySet, records: usize) -> Ledger<'p> {
        Ledger { policy, records: AHashMap::with_capacity(records), slots: Slots::default(), accruals: Accruals::new(), duplicates: 0, superseded: 0 }
    }

    /// Takes in one checked record seen at input position `position`.
    pub fn ingest(&mut self, record: &UsageRecord, position: u64, registry: &Registry) -> Outcome {
        let slot = self.records.get(record.record_id.as_str()).copied();
        match decide(slot.map(|slot| self.slots.get(slot).revision), record.revision) {
            Decision::Duplicate => {
                self.duplicates += 1;
                return Outcome::Duplicate;
            }
            Decision::Stale => {
                self.superseded += 1;
                return Outcome::Superseded;
            }
            Decision::First | Decision::Replaces => {}
        }
        let assessment = classify(record, registry, self.policy);
        let standing = match (assessment.reason, assessment.version) {
            (None, Some(version)) => Standing::Counted(Effect {
                key: AccrualKey { user: record.user, period: assessment.period },
                version,
                base: assessment.base,
                contribution: assessment.contribution,
            }),
            (Some(reason), _) => Standing::Excluded(reason),
            // Eligible always has a version; keep the invariant visible rather than panic.
            (None, None) => Standing::Excluded(ReasonCode::OutsidePolicyWindow),
        };
        let new = Held { revision: record.revision, position, standing };
        let old = match slot {
            Some(slot) => Some(std::mem::replace(self.slots.get_mut(slot), new)),
            None => {
                let slot = self.slots.push(new);
                self.records.insert(record.record_id.as_str().into(), slot);
                None
            }
        };
        let old_effect = match old.map(|o| o.standing) {
            Some(Standing::Counted(e)) => Some(e),
            _ => None,
        };
        let new_effect = match standing {
            Standing::Counted(e) => Some(e),
            Standing::Excluded(_) => None,
        };
        self.accruals.apply(old_effect.as_ref(), new_effect.as_ref());
        if old.is_some() {
            self.superseded += 1;
        }
        Outcome::Standing { assessment, replaced: old.map(|o| (o.revision, o.position)) }
    }

    /// The accruals so far.
    pub fn accruals(&self) -> &Accruals {
        &self.accruals
    }

    /// Settles every entity and month.
    pub fn settle(&self) -> Vec<Settlement> {
        settle(&self.accruals, self.policy)
    }

    /// Distinct record ids held.
    pub fn record_count(&self) -> usize {
        self.records.len()
    }

    /// Lines that repeated a revision already seen.
    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }

    /// Lines replaced by, or arriving after, a higher revision.
    pub fn superseded(&self) -> u64 {
        self.superseded
    }

    /// Standing revisions that earn nothing, sorted by position.
    pub fn excluded(&self) -> Vec<ExcludedRecord<'_>> {
        let mut v: Vec<_> = self
            .records
            .iter()
            .map(|(id, &slot)| (id, self.slots.get(slot)))
            .filter_map(|(id, h)| match h.standing {
                Standing::Excluded(reason) => Some(ExcludedRecord { record_id: id, revision: h.revision, position: h.position, reason }),
                Standing::Counted(_) => None,
            })
            .collect();
        v.sort_by_key(|e| e.position);
        v
    }

    /// Counts of standing revisions by outcome.
    pub fn totals(&self) -> LedgerTotals {
        let mut t = LedgerTotals::default();
        for h in self.slots.iter() {
            match h.standing {
                Standing::Counted(_) => t.eligible += 1,
                Standing::Excluded(r) => *t.by_reason.entry(r).or_default() += 1,
            }
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_keep_their_place_across_segments() {
        let mut slots = Slots::default();
        let n = 2 * Slots::SEGMENT + 3;
        for i in 0..n {
            let slot = slots.push(Held { revision: i as u32, position: i as u64, standing: Standing::Excluded(ReasonCode::Unpaid) });
            assert_eq!(slot, i);
        }
        slots.get_mut(Slots::SEGMENT).revision = 7;
        assert_eq!(slots.get(Slots::SEGMENT).revision, 7);
        assert_eq!(slots.get(n - 1).position, (n - 1) as u64);
        assert_eq!(slots.iter().count(), n);
        assert!(slots.iter().enumerate().all(|(i, h)| h.position == i as u64));
    }
}
