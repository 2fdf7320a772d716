//! Isolating what the store refuses. A batch the store refuses for a reason a
//! retry cannot mend is cut into units — one record's rows (its copies and its
//! line) or one refused line's rejection row — and written in halves, each
//! refused half halved again, until the refused parts are single units. Those
//! go to the dead-letter topic with the store's words; everything else is
//! written. Marks and the registry are the batch's tail: written only once
//! every unit is written or set aside, so a mark never says a partition is
//! re-settled past a line the store was not given.
//!
//! A refusal of many records is no refusal of particular records but of the
//! writes themselves (a table missing, a server out of space, a table that
//! takes no more rows): when more than half of a batch's units, or more than
//! [`MOST_REFUSED`], are refused alone, nothing is set aside and the batch
//! fails as a whole, as it did before it was split, to be met again after a
//! restart. The plan stops as soon as it has refused more than
//! [`MOST_REFUSED`], so such a store costs a few dozen writes, not 2n.
//!
//! [`Bisect`] is the plan alone, with no IO: it hands out the next part to
//! write and takes the parts the store refused. n units take at most 2n − 1
//! writes.

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

/// Most units of one batch set aside: a store that refuses more refuses writes, not records.
pub const MOST_REFUSED: usize = 16;

/// The halving plan: parts still to write, and the single units refused.
#[derive(Debug)]
pub struct Bisect<U> {
    pending: Vec<Vec<U>>,
    refused: Vec<(U, StoreError)>,
    units: usize,
}

/// How a split batch ended.
#[derive(Debug)]
pub enum Isolated<U> {
    /// Every unit but these was written; these the store refused, each with its error.
    Refused(Vec<(U, StoreError)>),
    /// The store refused too many units to be refusing particular records: nothing is set aside.
    Everything(StoreError),
}

impl<U> Bisect<U> {
    /// A plan that first tries all of `units` together (without the tail that may have been
    /// what the store refused).
    pub fn new(units: Vec<U>) -> Bisect<U> {
        let count = units.len();
        let pending = if units.is_empty() { Vec::new() } else { vec![units] };
        Bisect { pending, refused: Vec::new(), units: count }
    }

    /// The next part to write, first halves first.
    pub fn next_part(&mut self) -> Option<Vec<U>> {
        self.pending.pop()
    }

    /// The store refused `part` with `error`: a single unit is set aside, a larger part halved.
    pub fn refused(&mut self, mut part: Vec<U>, error: StoreError) {
        if part.len() <= 1 {
            self.refused.extend(part.pop().map(|u| (u, error)));
            if self.refused.len() > MOST_REFUSED {
                self.pending.clear();
            }
            return;
        }
        let second = part.split_off(part.len() / 2);
        self.pending.push(second);
        self.pending.push(part);
    }

    /// The outcome, once no part is left.
    pub fn finish(mut self) -> Isolated<U> {
        let n = self.refused.len();
        if n > 0 && (n > MOST_REFUSED || 2 * n > self.units) {
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
        fn exactly_the_refused_units_are_set_aside_and_the_rest_written_once(n in 12usize..300, picks in proptest::collection::vec(0usize..300, 1..6)) {
            let marked: BTreeSet<usize> = picks.into_iter().map(|p| p % n).collect();
            let (mut written, outcome, writes) = run(n, &marked);
            let refused = refused_units(outcome);
            prop_assert_eq!(refused.iter().copied().collect::<BTreeSet<_>>(), marked.clone());
            prop_assert_eq!(refused.len(), marked.len());
            written.sort_unstable();
            let rest: Vec<usize> = (0..n).filter(|u| !marked.contains(u)).collect();
            prop_assert_eq!(written, rest);
            prop_assert!(writes < 2 * n, "{} writes for {} units", writes, n);
        }
    }

    #[test]
    fn a_batch_refused_for_its_tail_alone_writes_every_unit() {
        let (written, outcome, writes) = run(5, &BTreeSet::new());
        assert_eq!((written, refused_units(outcome), writes), (vec![0, 1, 2, 3, 4], vec![], 1));
        let (written, outcome, writes) = run(0, &BTreeSet::new());
        assert_eq!((written.len(), refused_units(outcome).len(), writes), (0, 0, 0));
    }

    #[test]
    fn a_store_refusing_many_records_sets_nothing_aside_and_gives_up_soon() {
        for n in [1, 2, 7, 1_000, 50_000] {
            let all: BTreeSet<usize> = (0..n).collect();
            let (written, outcome, writes) = run(n, &all);
            assert!(written.is_empty());
            assert!(matches!(outcome, Isolated::Everything(_)), "{n}: {outcome:?}");
            let bound = (2 * n - 1).min(2 * (MOST_REFUSED + 1) + n.ilog2() as usize + 1);
            assert!(writes <= bound, "{n} units: {writes} writes, more than {bound}");
        }
        // Half of a batch may be particular records; more than half, or more than MOST_REFUSED, may not.
        let first = |k: usize| (0..k).collect::<BTreeSet<usize>>();
        assert_eq!(refused_units(run(10, &first(5)).1), vec![0, 1, 2, 3, 4]);
        assert!(matches!(run(10, &first(6)).1, Isolated::Everything(_)));
        assert_eq!(refused_units(run(1_000, &first(MOST_REFUSED)).1).len(), MOST_REFUSED);
        assert!(matches!(run(1_000, &first(MOST_REFUSED + 1)).1, Isolated::Everything(_)));
        // A lone refused record is refused writes as far as the plan can tell.
        assert!(matches!(run(1, &first(1)).1, Isolated::Everything(_)));
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
