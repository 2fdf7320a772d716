//! The Merkle tree over the log's leaves (RFC 6962 hashing), held in memory as
//! the hashes `tlog_tiles` stores, and the checks of its proofs.

use super::error::TlogError;
use tlog_tiles::{check_record, check_tree, prove_record, prove_tree, record_hash, stored_hash_count, stored_hashes_for_record_hash, tree_hash, Hash, HashReader, EMPTY_HASH};

/// An append-only Merkle tree.
#[derive(Debug, Clone, Default)]
pub struct Tree {
    stored: Vec<Hash>,
    size: u64,
}

/// The stored hashes, as `tlog_tiles` reads them.
struct Stored<'a>(&'a [Hash]);

impl HashReader for Stored<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        indexes.iter().map(|i| usize::try_from(*i).ok().and_then(|i| self.0.get(i)).copied().ok_or(tlog_tiles::Error::IndexesNotInTree)).collect()
    }
}

fn range(e: tlog_tiles::Error) -> TlogError {
    TlogError::OutOfRange(e.to_string())
}

impl Tree {
    /// The tree of the given leaves, in order.
    pub fn of<'a>(leaves: impl IntoIterator<Item = &'a [u8]>) -> Tree {
        let mut tree = Tree::default();
        for leaf in leaves {
            tree.push(leaf);
        }
        tree
    }

    /// Appends one leaf.
    pub fn push(&mut self, leaf: &[u8]) {
        let hashes = stored_hashes_for_record_hash(self.size, record_hash(leaf), &Stored(&self.stored));
        // The tree reads only hashes it stored before, so this cannot fail; keep the tree as it was if it did.
        if let Ok(hashes) = hashes {
            self.stored.extend(hashes);
            self.size += 1;
            debug_assert_eq!(self.stored.len() as u64, stored_hash_count(self.size));
        }
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The root of the first `size` leaves.
    pub fn root_at(&self, size: u64) -> Result<Hash, TlogError> {
        if size > self.size {
            return Err(TlogError::OutOfRange(format!("size {size} > tree size {}", self.size)));
        }
        if size == 0 {
            return Ok(EMPTY_HASH);
        }
        tree_hash(size, &Stored(&self.stored)).map_err(range)
    }

    /// The root of the whole tree.
    pub fn root(&self) -> Hash {
        self.root_at(self.size).unwrap_or(EMPTY_HASH)
    }

    /// The inclusion proof of leaf `index` in the tree of the first `size` leaves.
    pub fn inclusion(&self, index: u64, size: u64) -> Result<Vec<Hash>, TlogError> {
        if size > self.size || index >= size {
            return Err(TlogError::OutOfRange(format!("leaf {index} of a tree of size {size} (the tree has {})", self.size)));
        }
        prove_record(size, index, &Stored(&self.stored)).map_err(range)
    }

    /// The consistency proof that the first `new` leaves extend the first `old` (empty when `old` is 0 or equals `new`).
    pub fn consistency(&self, old: u64, new: u64) -> Result<Vec<Hash>, TlogError> {
        if old > new || new > self.size {
            return Err(TlogError::OutOfRange(format!("consistency from {old} to {new} (the tree has {})", self.size)));
        }
        if old == 0 || old == new {
            return Ok(Vec::new());
        }
        prove_tree(new, old, &Stored(&self.stored)).map_err(range)
    }
}

/// Checks that `leaf` is leaf `index` of the tree of `size` leaves whose root is `root`.
pub fn check_inclusion(proof: &[Hash], size: u64, root: Hash, index: u64, leaf: &[u8]) -> Result<(), TlogError> {
    if index >= size {
        return Err(TlogError::OutOfRange(format!("leaf {index} of a tree of size {size}")));
    }
    check_record(&proof.to_vec(), size, root, index, record_hash(leaf)).map_err(|_| TlogError::NotIncluded { index, size })
}

/// Checks that the tree of `new_size` leaves with root `new_root` extends the one of `old_size` with `old_root`.
pub fn check_consistency(proof: &[Hash], old_size: u64, old_root: Hash, new_size: u64, new_root: Hash) -> Result<(), TlogError> {
    let fail = |why: &str| TlogError::NotAnExtension { old_size, new_size, why: why.to_string() };
    if new_size < old_size {
        return Err(fail("the log shrank: lines it held were dropped"));
    }
    if old_size == 0 {
        return if old_root == EMPTY_HASH { Ok(()) } else { Err(fail("the old root is not the root of the empty tree")) };
    }
    if old_size == new_size {
        return if old_root == new_root && proof.is_empty() { Ok(()) } else { Err(fail("two different roots for the same size: the log was rewritten")) };
    }
    check_tree(&proof.to_vec(), new_size, new_root, old_size, old_root).map_err(|_| fail("the consistency proof does not hold: lines it held were changed"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use sha2::{Digest, Sha256};

    fn leaf(i: u64) -> Vec<u8> {
        format!("leaf {i}").into_bytes()
    }

    fn tree(n: u64) -> Tree {
        let leaves: Vec<Vec<u8>> = (0..n).map(leaf).collect();
        Tree::of(leaves.iter().map(Vec::as_slice))
    }

    /// RFC 6962 section 2.1, written out from the definition (SHA-256 of 0x00||leaf and 0x01||left||right).
    fn mth(leaves: &[Vec<u8>]) -> [u8; 32] {
        match leaves.len() {
            0 => Sha256::digest([]).into(),
            1 => Sha256::new().chain_update([0u8]).chain_update(&leaves[0]).finalize().into(),
            n => {
                let k = (n - 1).next_power_of_two().max(1);
                let k = if k >= n { k / 2 } else { k };
                Sha256::new().chain_update([1u8]).chain_update(mth(&leaves[..k])).chain_update(mth(&leaves[k..])).finalize().into()
            }
        }
    }

    #[test]
    fn roots_are_rfc6962_roots() {
        for n in 0..40u64 {
            let leaves: Vec<Vec<u8>> = (0..n).map(leaf).collect();
            let t = tree(n);
            assert_eq!(t.root().0, mth(&leaves), "size {n}");
            for m in 0..=n {
                assert_eq!(t.root_at(m).unwrap().0, mth(&leaves[..m as usize]), "prefix {m} of {n}");
            }
        }
    }

    #[test]
    fn out_of_range_is_an_error_not_a_panic() {
        let t = tree(5);
        assert!(t.inclusion(5, 5).is_err());
        assert!(t.inclusion(0, 6).is_err());
        assert!(t.consistency(4, 6).is_err());
        assert!(t.root_at(6).is_err());
        let root = t.root();
        assert!(check_inclusion(&[], 5, root, 9, b"x").is_err());
        assert!(check_inclusion(&[root; 40], 5, root, 1, &leaf(1)).is_err());
        assert!(check_consistency(&[root; 40], 3, root, 5, root).is_err());
    }

    proptest! {
        /// Every leaf of every prefix of a random tree proves its inclusion; another leaf or index does not.
        #[test]
        fn inclusion_proofs_hold_and_only_for_their_leaf(n in 1u64..300, picks in proptest::collection::vec((any::<u64>(), any::<u64>()), 1..8)) {
            let t = tree(n);
            for (a, b) in picks {
                let size = 1 + a % n;
                let index = b % size;
                let proof = t.inclusion(index, size).unwrap();
                let root = t.root_at(size).unwrap();
                prop_assert!(check_inclusion(&proof, size, root, index, &leaf(index)).is_ok());
                prop_assert!(check_inclusion(&proof, size, root, index, b"another line").is_err());
                if size > 1 {
                    let other = (index + 1) % size;
                    prop_assert!(check_inclusion(&proof, size, root, other, &leaf(index)).is_err());
                }
            }
        }

        /// Every prefix is consistent with every larger one; a tree with one leaf changed is not an extension.
        #[test]
        fn consistency_proofs_hold_and_catch_a_rewrite(n in 1u64..300, a in any::<u64>(), b in any::<u64>(), changed in any::<u64>()) {
            let t = tree(n);
            let new = 1 + a % n;
            let old = 1 + b % new;
            let proof = t.consistency(old, new).unwrap();
            prop_assert!(check_consistency(&proof, old, t.root_at(old).unwrap(), new, t.root_at(new).unwrap()).is_ok());
            // The same tree with one of the first `old` leaves changed.
            let at = changed % old;
            let mut leaves: Vec<Vec<u8>> = (0..n).map(leaf).collect();
            leaves[at as usize] = b"rewritten".to_vec();
            let forged = Tree::of(leaves.iter().map(Vec::as_slice));
            let forged_proof = forged.consistency(old, new).unwrap();
            prop_assert!(check_consistency(&forged_proof, old, t.root_at(old).unwrap(), new, forged.root_at(new).unwrap()).is_err());
            if old < new {
                prop_assert!(check_consistency(&proof, new, t.root_at(new).unwrap(), old, t.root_at(old).unwrap()).is_err(), "a shrunk log is no extension");
            }
        }
    }
}
