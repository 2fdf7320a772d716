//! The in-memory ledger: every record's standing line and the accruals they
//! add up to, for when all state fits in memory (the file-driven `recompute`,
//! the property tests). Every copy goes through [`step`]; memory grows with
//! distinct record ids and entity-months, not with the number of lines read.

use crate::accrual::Accruals;
use crate::fingerprint::Fingerprint;
use crate::policy::PolicySet;
use crate::reason::ReasonCode;
use crate::record::UsageRecord;
use crate::registry::Registry;
use crate::settle::{settle, Settlement};
use crate::standing::{Facts, Line};
use crate::step::{step_with, Decision};
use ahash::AHashMap;
use std::collections::BTreeMap;

/// A copy that stood and no longer does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Displaced {
    /// Its revision.
    pub revision: u32,
    /// Its input position.
    pub position: u64,
    /// `superseded` (a higher revision came) or `revision_conflict` (a copy of the same
    /// revision with other content now represents it).
    pub reason: ReasonCode,
}

/// What became of one copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ingested {
    /// What the copy is.
    pub decision: Decision,
    /// Whether this copy now represents its record.
    pub stands: bool,
    /// The copy that stood before, when this one took its place.
    pub displaced: Option<Displaced>,
}

impl Ingested {
    /// Why the copy is excluded, when it does not represent its record.
    pub fn excluded_as(&self) -> Option<ReasonCode> {
        (!self.stands).then(|| self.decision.excludes_as())
    }
}

#[derive(Debug, Clone)]
struct Entry {
    line: Line,
    position: u64,
}

/// Standing lines in first-seen order, in fixed-size segments: growing never
/// copies or re-touches what is already held, and the id index stays small
/// (an id and a slot number per record).
#[derive(Debug)]
struct Slots<T> {
    segments: Vec<Vec<T>>,
    len: usize,
}

impl<T> Default for Slots<T> {
    fn default() -> Self {
        Slots { segments: Vec::new(), len: 0 }
    }
}

impl<T> Slots<T> {
    /// Items per segment.
    const SEGMENT: usize = 1 << 14;

    fn push(&mut self, item: T) -> usize {
        let slot = self.len;
        if slot.is_multiple_of(Self::SEGMENT) {
            self.segments.push(Vec::with_capacity(Self::SEGMENT));
        }
        self.segments[slot / Self::SEGMENT].push(item);
        self.len += 1;
        slot
    }

    fn get(&self, slot: usize) -> &T {
        &self.segments[slot / Self::SEGMENT][slot % Self::SEGMENT]
    }

    fn get_mut(&mut self, slot: usize) -> &mut T {
        &mut self.segments[slot / Self::SEGMENT][slot % Self::SEGMENT]
    }

    fn iter(&self) -> impl Iterator<Item = &T> {
        self.segments.iter().flatten()
    }
}

/// A record whose standing line earns nothing.
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
    /// Distinct records whose standing line earns subsidy.
    pub eligible: u64,
    /// Standing lines that earn nothing, by reason.
    pub by_reason: BTreeMap<ReasonCode, u64>,
}

/// Records, their standing lines, and accruals.
#[derive(Debug)]
pub struct Ledger<'p> {
    policy: &'p PolicySet,
    /// Record id → its slot in `slots`.
    records: AHashMap<Box<str>, usize>,
    slots: Slots<Entry>,
    accruals: Accruals,
    decisions: BTreeMap<Decision, u64>,
}

impl<'p> Ledger<'p> {
    /// An empty ledger settling under `policy`.
    pub fn new(policy: &'p PolicySet) -> Ledger<'p> {
        Ledger { policy, records: AHashMap::new(), slots: Slots::default(), accruals: Accruals::new(), decisions: BTreeMap::new() }
    }

    /// Takes in one checked copy seen at input position `position`.
    pub fn ingest(&mut self, record: &UsageRecord, fingerprint: Fingerprint, position: u64, registry: &Registry) -> Ingested {
        self.ingest_with(&record.record_id, record.revision, fingerprint, || Facts::of(record), position, registry)
    }

    /// [`Ledger::ingest`] for a copy known by its id, revision, fingerprint and facts, made
    /// only when the copy changes what stands (see [`step_with`]).
    pub fn ingest_with(&mut self, record_id: &str, revision: u32, fingerprint: Fingerprint, facts: impl FnOnce() -> Facts, position: u64, registry: &Registry) -> Ingested {
        let slot = self.records.get(record_id).copied();
        let standing = slot.map(|s| &self.slots.get(s).line.standing);
        let step = step_with(standing, revision, fingerprint, facts, registry, self.policy);
        *self.decisions.entry(step.decision).or_default() += 1;
        let Some(line) = step.line else {
            return Ingested { decision: step.decision, stands: false, displaced: None };
        };
        let stands = line.standing.fingerprint == fingerprint;
        let new_effect = line.effect();
        let entry = Entry { line, position: if stands { position } else { slot.map_or(position, |s| self.slots.get(s).position) } };
        let old = match slot {
            Some(s) => Some(std::mem::replace(self.slots.get_mut(s), entry)),
            None => {
                let s = self.slots.push(entry);
                self.records.insert(record_id.into(), s);
                None
            }
        };
        self.accruals.apply(old.as_ref().and_then(|o| o.line.effect()).as_ref(), new_effect.as_ref());
        let displaced = old.filter(|_| stands).map(|o| Displaced {
            revision: o.line.standing.revision,
            position: o.position,
            reason: step.decision.excludes_as(),
        });
        Ingested { decision: step.decision, stands, displaced }
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

    /// Copies taken in, by decision.
    pub fn decisions(&self) -> &BTreeMap<Decision, u64> {
        &self.decisions
    }

    /// Every record id with its standing line, unordered.
    pub fn lines(&self) -> impl Iterator<Item = (&str, &Line)> {
        self.records.iter().map(|(id, &slot)| (&**id, &self.slots.get(slot).line))
    }

    /// Standing lines that earn nothing, sorted by position.
    pub fn excluded(&self) -> Vec<ExcludedRecord<'_>> {
        let mut v: Vec<_> = self
            .records
            .iter()
            .map(|(id, &slot)| (id, self.slots.get(slot)))
            .filter_map(|(id, e)| {
                e.line.assessment.reason.map(|reason| ExcludedRecord { record_id: id, revision: e.line.standing.revision, position: e.position, reason })
            })
            .collect();
        v.sort_by_key(|e| e.position);
        v
    }

    /// Counts of standing lines by outcome.
    pub fn totals(&self) -> LedgerTotals {
        let mut t = LedgerTotals::default();
        for e in self.slots.iter() {
            match e.line.assessment.reason {
                None => t.eligible += 1,
                Some(r) => *t.by_reason.entry(r).or_default() += 1,
            }
        }
        t
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_left_out_is_excluded_for_its_decision_s_reason() {
        let (policy, registry) = (PolicySet::builtin(), Registry::new());
        let mut ledger = Ledger::new(&policy);
        let first = crate::record::parse_record(crate::record::tests::good_line().to_string().as_bytes()).unwrap();
        let fp = Fingerprint::of(&first);
        assert_eq!(ledger.ingest(&first, fp, 1, &registry).excluded_as(), None);
        assert_eq!(ledger.ingest(&first, fp, 2, &registry).excluded_as(), Some(ReasonCode::Duplicate));
    }

    #[test]
    fn slots_keep_their_place_across_segments() {
        let mut slots: Slots<usize> = Slots::default();
        let n = 2 * Slots::<usize>::SEGMENT + 3;
        for i in 0..n {
            assert_eq!(slots.push(i), i);
        }
        *slots.get_mut(Slots::<usize>::SEGMENT) = 7;
        assert_eq!(*slots.get(Slots::<usize>::SEGMENT), 7);
        assert_eq!(*slots.get(n - 1), n - 1);
        assert_eq!(slots.iter().count(), n);
    }
}
