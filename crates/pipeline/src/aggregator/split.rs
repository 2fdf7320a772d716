//! Isolating what the store refuses. A batch the store refuses for a reason a
//! retry cannot mend is cut into units — one record's rows (its copies and its
//! line) or one refused line's rejection row — and written in halves, each
//! refused half halved again, until the refused parts are single units. Those
//! go to the dead-letter topic with the store's words; everything else is
//! written. Marks and the registry are the batch's tail: written only once
//! every unit is written or set aside, so a mark never says a partition is
//! re-settled past a line the store was not given.
//!
//! A refusal of every unit alone is no refusal of particular records but of
//! the writes themselves (a table missing, a server out of space): then
//! nothing is set aside and the batch fails as a whole, as it did before it
//! was split, and is met again after a restart. The plan gives up on finding
//! a writable part once [`REFUSED_BEFORE_ANY_WRITE`] units were refused alone
//! and none written, so such a store costs a few dozen writes, not 2n.
//!
//! [`Bisect`] is the plan alone, with no IO: it hands out the next part to
//! write and takes the outcome. n units take at most 2n − 1 writes.

use std::collections::HashMap;
use subsidy_store::{CopyRow, LineRow, RejectionRow, StoreError, WriteBatch};

/// The smallest part of a batch the splitting sets aside.
#[derive(Debug, Clone, PartialEq)]
pub enum Unit {
    /// One record's rows: its copies in the batch and its changed line, if any.
    Record {
        /// The record id.
        record_id: String,
        /// Its copies, in bus order.
        copies: Vec<CopyRow>,
        /// Its new line.
        line: Option<LineRow>,
    },
    /// One line refused by the parser, kept as a rejection row.
    Rejection(RejectionRow),
}

impl Unit {
    /// The record id, for a record's rows.
    pub fn record_id(&self) -> Option<&str> {
        match self {
            Unit::Record { record_id, .. } => Some(record_id),
            Unit::Rejection(_) => None,
        }
    }
}

/// The batch's copies, lines and rejections as units, in the order the batch holds them.
pub fn units(batch: &WriteBatch) -> Vec<Unit> {
    let mut out: Vec<Unit> = Vec::with_capacity(batch.copies.len() + batch.rejections.len());
    let mut by_id: HashMap<&str, usize> = HashMap::new();
    for c in &batch.copies {
        if let Unit::Record { copies, .. } = record_slot(&mut out, &mut by_id, &c.record_id) {
            copies.push(c.clone());
        }
    }
    for l in &batch.lines {
        if let Unit::Record { line, .. } = record_slot(&mut out, &mut by_id, &l.record_id) {
            *line = Some(l.clone());
        }
    }
    out.extend(batch.rejections.iter().cloned().map(Unit::Rejection));
    out
}

/// The unit of record `id`, added empty when it is not there yet.
fn record_slot<'u, 'k>(
    out: &'u mut Vec<Unit>,
    by_id: &mut HashMap<&'k str, usize>,
    id: &'k str,
) -> &'u mut Unit {
    let i = *by_id.entry(id).or_insert_with(|| {
        out.push(Unit::Record {
            record_id: id.to_string(),
            copies: Vec::new(),
            line: None,
        });
        out.len() - 1
    });
    &mut out[i]
}

/// The rows of `units`, without marks or registry.
pub fn batch_of(units: &[Unit]) -> WriteBatch {
    let mut b = WriteBatch::default();
    for u in units {
        match u {
            Unit::Record { copies, line, .. } => {
                b.copies.extend(copies.iter().cloned());
                b.lines.extend(line.iter().cloned());
            }
            Unit::Rejection(r) => b.rejections.push(r.clone()),
        }
    }
    b
}

/// The batch's tail: its marks and registry, written once everything else is.
pub fn tail_of(batch: &WriteBatch) -> WriteBatch {
    WriteBatch {
        marks: batch.marks.clone(),
        registry: batch.registry.clone(),
        ..WriteBatch::default()
    }
}

/// Units refused alone, with none written yet, after which the store is taken to refuse
/// every write rather than particular records.
pub const REFUSED_BEFORE_ANY_WRITE: usize = 16;

/// The halving plan: parts still to write, the single units refused, and how many were written.
#[derive(Debug)]
pub struct Bisect<U> {
    pending: Vec<Vec<U>>,
    refused: Vec<(U, StoreError)>,
    written: usize,
}

/// How a split batch ended.
#[derive(Debug)]
pub enum Isolated<U> {
    /// Every unit but these was written; these the store refused, each with its error.
    Refused(Vec<(U, StoreError)>),
    /// The store refused every unit alone: nothing about particular records, so nothing is set aside.
    Everything(StoreError),
}

impl<U> Bisect<U> {
    /// A plan that first tries all of `units` together (without the tail that may have been
    /// what the store refused).
    pub fn new(units: Vec<U>) -> Bisect<U> {
        let pending = if units.is_empty() {
            Vec::new()
        } else {
            vec![units]
        };
        Bisect {
            pending,
            refused: Vec::new(),
            written: 0,
        }
    }

    /// The next part to write, first halves first.
    pub fn next_part(&mut self) -> Option<Vec<U>> {
        self.pending.pop()
    }

    /// The store refused `part` with `error`: a single unit is set aside, a larger part halved.
    pub fn refused(&mut self, mut part: Vec<U>, error: StoreError) {
        if part.len() <= 1 {
            self.refused.extend(part.pop().map(|u| (u, error)));
            if self.written == 0 && self.refused.len() >= REFUSED_BEFORE_ANY_WRITE {
                self.pending.clear();
            }
            return;
        }
        let second = part.split_off(part.len() / 2);
        self.pending.push(second);
        self.pending.push(part);
    }

    /// The store took `part`.
    pub fn written(&mut self, part: &[U]) {
        self.written += part.len();
    }

    /// The outcome, once no part is left.
    pub fn finish(mut self) -> Isolated<U> {
        if self.written == 0 && !self.refused.is_empty() {
            let (_, first) = self.refused.swap_remove(0);
            return Isolated::Everything(first);
        }
        Isolated::Refused(self.refused)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;
    use subsidy_core::{Fingerprint, ReasonCode};
    use subsidy_store::{BusPosition, ResettleMark};

    /// Runs a plan against a store that refuses any part holding a marked unit; returns
    /// what was written, how it ended and how many writes it took.
    fn run(n: usize, marked: &BTreeSet<usize>) -> (Vec<usize>, Isolated<usize>, usize) {
        let mut plan = Bisect::new((0..n).collect::<Vec<_>>());
        let (mut written, mut writes) = (Vec::new(), 0);
        while let Some(part) = plan.next_part() {
            writes += 1;
            if part.iter().any(|u| marked.contains(u)) {
                plan.refused(part, StoreError::rejected(format!("refused {marked:?}")));
            } else {
                plan.written(&part);
                written.extend(part);
            }
        }
        (written, plan.finish(), writes)
    }

    fn refused_units(outcome: Isolated<usize>) -> Vec<usize> {
        match outcome {
            Isolated::Refused(r) => r.into_iter().map(|(u, _)| u).collect(),
            Isolated::Everything(e) => panic!("everything refused: {e}"),
        }
    }

    proptest! {
        #[test]
        fn exactly_the_refused_units_are_set_aside_and_the_rest_written_once(n in 2usize..200, picks in proptest::collection::vec(0usize..200, 1..6)) {
            let marked: BTreeSet<usize> = picks.into_iter().map(|p| p % n).collect();
            prop_assume!(marked.len() < n);
            let (mut written, outcome, writes) = run(n, &marked);
            let refused = refused_units(outcome);
            prop_assert_eq!(refused.iter().copied().collect::<BTreeSet<_>>(), marked.clone());
            prop_assert_eq!(refused.len(), marked.len());
            written.sort_unstable();
            let rest: Vec<usize> = (0..n).filter(|u| !marked.contains(u)).collect();
            prop_assert_eq!(written, rest);
            prop_assert!(writes <= (2 * n).saturating_sub(1), "{} writes for {} units", writes, n);
        }
    }

    #[test]
    fn a_batch_refused_for_its_tail_alone_writes_every_unit() {
        let (written, outcome, writes) = run(5, &BTreeSet::new());
        assert_eq!(
            (written, refused_units(outcome), writes),
            (vec![0, 1, 2, 3, 4], vec![], 1)
        );
        let (written, outcome, writes) = run(0, &BTreeSet::new());
        assert_eq!(
            (written.len(), refused_units(outcome).len(), writes),
            (0, 0, 0)
        );
    }

    #[test]
    fn a_store_refusing_every_unit_sets_nothing_aside_and_gives_up_soon() {
        for n in [1, 2, 7, 1_000, 50_000] {
            let all: BTreeSet<usize> = (0..n).collect();
            let (written, outcome, writes) = run(n, &all);
            assert!(written.is_empty());
            assert!(
                matches!(outcome, Isolated::Everything(_)),
                "{n}: {outcome:?}"
            );
            let bound = (2 * n - 1).min(2 * REFUSED_BEFORE_ANY_WRITE + n.ilog2() as usize + 1);
            assert!(
                writes <= bound,
                "{n} units: {writes} writes, more than {bound}"
            );
        }
        // Refusals after a write are about those records, however many.
        let marked: BTreeSet<usize> = (1..40).collect();
        let (written, outcome, _) = run(41, &marked);
        assert_eq!((written, refused_units(outcome).len()), (vec![0, 40], 39));
    }

    fn copy(id: &str, offset: i64) -> CopyRow {
        CopyRow {
            record_id: id.into(),
            position: BusPosition {
                partition: 0,
                offset,
            },
            revision: 1,
            fingerprint: Fingerprint::parse_hex(&"0".repeat(32)).unwrap(),
            raw: format!("{{\"record_id\":\"{id}\"}}"),
        }
    }

    #[test]
    fn units_keep_a_records_rows_together_and_parts_rebuild_the_batch() {
        let rejection = RejectionRow {
            position: BusPosition {
                partition: 0,
                offset: 2,
            },
            record_id: None,
            revision: None,
            reason: ReasonCode::Malformed,
            field: None,
            detail: "not JSON".into(),
            raw: "{".into(),
        };
        let batch = WriteBatch {
            copies: vec![copy("a", 0), copy("b", 1), copy("a", 3)],
            rejections: vec![rejection.clone()],
            marks: vec![ResettleMark {
                partition: 0,
                position: 7,
                registry: "0:7".into(),
            }],
            ..WriteBatch::default()
        };
        let us = units(&batch);
        assert_eq!(us.len(), 3);
        assert_eq!(
            us.iter().map(Unit::record_id).collect::<Vec<_>>(),
            [Some("a"), Some("b"), None]
        );
        let Unit::Record { copies, .. } = &us[0] else {
            panic!("{:?}", us[0])
        };
        assert_eq!(
            copies.iter().map(|c| c.position.offset).collect::<Vec<_>>(),
            [0, 3]
        );
        let rebuilt = batch_of(&us);
        assert_eq!(
            (
                rebuilt.copies.len(),
                rebuilt.rejections.len(),
                rebuilt.marks.len()
            ),
            (3, 1, 0)
        );
        assert_eq!(rebuilt.rejections[0], rejection);
        let tail = tail_of(&batch);
        assert_eq!((tail.copies.len(), tail.marks.len()), (0, 1));
    }
}
