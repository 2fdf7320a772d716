//! The audit of the whole log: recompute every leaf from the stored statements,
//! and check every stored checkpoint against that tree: signed by the bureau, no
//! larger than the tree, the same root, each an extension of the one before.

use super::checkpoint::open_checkpoint;
use super::error::TlogError;
use super::leaf::Leaf;
use super::tree::{check_consistency, Tree};
use crate::period::Period;

/// A checkpoint as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    /// The size the row says.
    pub size: u64,
    /// The signed note.
    pub note: String,
}

/// What an audit that passed checked.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditReport {
    /// Leaves recomputed from the statements.
    pub leaves: u64,
    /// Closed months.
    pub months: usize,
    /// Checkpoints checked.
    pub checkpoints: usize,
    /// The root of the whole tree.
    pub root: super::Hash,
}

/// Audits the log of `leaves` (with, per closed month, the size after it: `ends`) against
/// the stored checkpoints, whose notes must be signed by the bureau key `bureau`.
pub fn audit(leaves: &[Leaf], ends: &[(Period, u64)], checkpoints: &[StoredCheckpoint], bureau: &str) -> Result<AuditReport, TlogError> {
    let tree = Tree::of(leaves.iter().map(|l| l.body.as_bytes()));
    let mut sorted: Vec<&StoredCheckpoint> = checkpoints.iter().collect();
    sorted.sort_by_key(|c| c.size);
    let mut last: Option<(u64, super::Hash)> = None;
    for stored in sorted {
        let cp = open_checkpoint(&stored.note, bureau).map_err(|e| at(stored.size, e))?;
        if cp.size != stored.size {
            return Err(at(stored.size, TlogError::Malformed { what: "checkpoint row", why: format!("the row says size {} but its note says {}", stored.size, cp.size) }));
        }
        if cp.size > tree.size() {
            return Err(TlogError::Dropped { size: cp.size, tree_size: tree.size() });
        }
        if tree.root_at(cp.size)? != cp.root {
            let after = last.map_or(0, |(s, _)| s);
            return Err(match first_month_after(ends, after) {
                Some((period, from, to)) => TlogError::RootMismatch { size: cp.size, period, from, to },
                None => TlogError::NotAnExtension { old_size: after, new_size: cp.size, why: "its root is not the root of the statements in the store".into() },
            });
        }
        if let Some((old_size, old_root)) = last {
            let proof = tree.consistency(old_size, cp.size)?;
            check_consistency(&proof, old_size, old_root, cp.size, cp.root)?;
        }
        last = Some((cp.size, cp.root));
    }
    Ok(AuditReport { leaves: tree.size(), months: ends.len(), checkpoints: checkpoints.len(), root: tree.root() })
}

fn at(size: u64, e: TlogError) -> TlogError {
    match e {
        TlogError::Malformed { what, why } => TlogError::Malformed { what, why: format!("checkpoint of size {size}: {why}") },
        TlogError::NotSigned { key, why } => TlogError::NotSigned { key, why: format!("checkpoint of size {size}: {why}") },
        TlogError::BadSignature { key } => TlogError::NotSigned { key, why: format!("the checkpoint of size {size} has a bad signature: it was changed after it was signed") },
        other => other,
    }
}

/// The first closed month with lines after leaf `after`: its month, first and one-past-last leaf.
fn first_month_after(ends: &[(Period, u64)], after: u64) -> Option<(Period, u64, u64)> {
    let mut start = 0;
    for (period, end) in ends {
        if *end > after && *end > start {
            return Some((*period, start, *end));
        }
        start = *end;
    }
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::checkpoint::sign_checkpoint;
    use super::super::keys::{new_key, KeyKind};
    use super::*;
    use crate::credit_code::CreditCode;

    fn leaf(period: &str, i: usize) -> Leaf {
        Leaf { period: Period::parse(period).unwrap(), credit_code: CreditCode::complete("91340100MA0000001").unwrap(), body: format!("line {period} {i}") }
    }

    #[test]
    fn audit_names_the_changed_month_and_dropped_months() {
        let (skey, vkey) = new_key("log.example", &[1; 32], KeyKind::Log).unwrap();
        let mut leaves: Vec<Leaf> = (0..3).map(|i| leaf("2026-01", i)).chain((0..2).map(|i| leaf("2026-02", i))).chain((0..4).map(|i| leaf("2026-03", i))).collect();
        let ends = [(Period::parse("2026-01").unwrap(), 3), (Period::parse("2026-02").unwrap(), 5), (Period::parse("2026-03").unwrap(), 9)];
        let tree = Tree::of(leaves.iter().map(|l| l.body.as_bytes()));
        let cps: Vec<StoredCheckpoint> = [3u64, 5, 9].iter().map(|s| StoredCheckpoint { size: *s, note: sign_checkpoint("log.example", *s, tree.root_at(*s).unwrap(), &skey).unwrap() }).collect();
        let report = audit(&leaves, &ends, &cps, &vkey).unwrap();
        assert_eq!((report.leaves, report.checkpoints), (9, 3));
        assert_eq!(audit(&leaves[..5], &ends[..2], &cps, &vkey), Err(TlogError::Dropped { size: 9, tree_size: 5 }));
        leaves[4].body.push('!');
        assert_eq!(audit(&leaves, &ends, &cps, &vkey), Err(TlogError::RootMismatch { size: 5, period: Period::parse("2026-02").unwrap(), from: 3, to: 5 }));
    }
}
