//! Reading the transparency log of what is payable: its leaves recomputed by the
//! core from the stored closures and statements (never stored themselves), with
//! the signed checkpoints and the witnesses' cosignatures the store keeps. What
//! `close` signs, `audit` checks and the API serves proofs from.

use crate::{LedgerStore, StoreResult, TlogCheckpointRow, TlogCosignatureRow};
use subsidy_core::tlog::{log_leaves, with_signature_lines, Hash, Leaf, LeafProof, TlogError, Tree};
use subsidy_core::{CreditCode, Period};

/// The log as the store gives it.
#[derive(Debug, Clone)]
pub struct StoredLog {
    /// Every leaf, in log order.
    pub leaves: Vec<Leaf>,
    /// Per closed month, the size after it.
    pub ends: Vec<(Period, u64)>,
    /// The tree of the leaves.
    pub tree: Tree,
    /// The signed checkpoints, by size.
    pub checkpoints: Vec<TlogCheckpointRow>,
    /// The witnesses' cosignatures, by size then witness.
    pub cosignatures: Vec<TlogCosignatureRow>,
}

/// Reads the closures, statements, checkpoints and cosignatures, and rebuilds the tree.
pub async fn read_log(store: &dyn LedgerStore) -> StoreResult<StoredLog> {
    let closures = store.closures().await?;
    let statements = store.statements().await?;
    let closed: Vec<(Period, String)> = closures.iter().map(|c| (c.period, c.policy_hash.clone())).collect();
    let (leaves, ends) = log_leaves(&closed, &statements);
    let tree = Tree::of(leaves.iter().map(|l| l.body.as_bytes()));
    let checkpoints = store.tlog_checkpoints().await?;
    let cosignatures = store.tlog_cosignatures().await?;
    Ok(StoredLog { leaves, ends, tree, checkpoints, cosignatures })
}

impl StoredLog {
    /// The newest signed checkpoint.
    pub fn latest(&self) -> Option<&TlogCheckpointRow> {
        self.checkpoints.iter().max_by_key(|c| c.size)
    }

    /// The signed checkpoint of `size` with every cosignature stored for it.
    pub fn cosigned_note(&self, row: &TlogCheckpointRow) -> Result<String, TlogError> {
        let lines: Vec<String> = self.cosignatures.iter().filter(|c| c.size == row.size).map(|c| c.line.clone()).collect();
        with_signature_lines(&row.note, &lines)
    }

    /// The root of the tree at `size`.
    pub fn root_at(&self, size: u64) -> Result<Hash, TlogError> {
        self.tree.root_at(size)
    }

    /// Proofs of every line of `entity` closed in `period`, against the newest checkpoint
    /// (with its cosignatures). An entity sees its own lines and hashes, nothing else.
    pub fn proofs(&self, entity: &CreditCode, period: Period) -> Result<Vec<LeafProof>, TlogError> {
        let Some(latest) = self.latest() else {
            return Err(TlogError::OutOfRange("no checkpoint is signed yet".into()));
        };
        let note = self.cosigned_note(latest)?;
        let mut out = Vec::new();
        for (index, leaf) in self.leaves.iter().enumerate().filter(|(_, l)| l.period == period && l.credit_code == *entity) {
            let index = index as u64;
            if index >= latest.size {
                return Err(TlogError::OutOfRange(format!("the lines of {period} are not signed yet (the newest checkpoint holds {} lines)", latest.size)));
            }
            out.push(LeafProof { index, hashes: self.tree.inclusion(index, latest.size)?, checkpoint: note.clone(), leaf: leaf.body.clone() });
        }
        Ok(out)
    }
}
