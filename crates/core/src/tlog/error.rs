//! What can be wrong with a log, a checkpoint, a cosignature or a proof: each
//! error says what, and none is worth retrying (the same bytes fail the same way).

use crate::period::Period;

/// Why a transparency-log check failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlogError {
    /// A key file or verifier key is not in the signed-note key format.
    #[error("bad key: {0}")]
    BadKey(String),
    /// A checkpoint, note, signature line or proof is not well formed.
    #[error("malformed {what}: {why}")]
    Malformed {
        /// What was being read.
        what: &'static str,
        /// What is wrong with it.
        why: String,
    },
    /// The note carries no signature by the key it must be signed with.
    #[error("checkpoint is not signed by {key}: {why}")]
    NotSigned {
        /// The key name expected.
        key: String,
        /// What the note carries instead.
        why: String,
    },
    /// A signature by a known key does not verify: the text was changed after it was signed.
    #[error("bad signature by {key}: the signed text was changed after it was signed")]
    BadSignature {
        /// The key name.
        key: String,
    },
    /// The checkpoint names another log than the key expects.
    #[error("checkpoint is of log {found:?}, the bureau key is of log {expected:?}")]
    WrongOrigin {
        /// The key's name (the log's origin).
        expected: String,
        /// The checkpoint's origin.
        found: String,
    },
    /// A witness required by the caller did not cosign the checkpoint.
    #[error("checkpoint of size {size} carries no cosignature by witness {witness}")]
    MissingCosignature {
        /// The witness key name.
        witness: String,
        /// The checkpoint's size.
        size: u64,
    },
    /// An inclusion proof does not lead to the checkpoint's root.
    #[error("line {index} is not in the checkpoint of size {size}: its inclusion proof does not lead to the signed root")]
    NotIncluded {
        /// The leaf index.
        index: u64,
        /// The checkpoint's size.
        size: u64,
    },
    /// The newer checkpoint does not contain the older one as a prefix.
    #[error("checkpoint of size {new_size} is not an extension of the checkpoint of size {old_size}: {why}")]
    NotAnExtension {
        /// The older size.
        old_size: u64,
        /// The newer size.
        new_size: u64,
        /// How it fails (shrunk, forked, or a consistency proof that does not hold).
        why: String,
    },
    /// The tree recomputed from the stored statements has a different root than a signed checkpoint.
    #[error("the statements of {period} (lines {from}..{to}) do not match the signed checkpoint of size {size}: a stored statement line was changed, added or removed after it was signed")]
    RootMismatch {
        /// The checkpoint's size.
        size: u64,
        /// The first closed month the checkpoint covers that differs.
        period: Period,
        /// Its first leaf index.
        from: u64,
        /// One past its last leaf index.
        to: u64,
    },
    /// A signed checkpoint is larger than the tree recomputed from the store.
    #[error("a signed checkpoint holds {size} lines but the statements in the store give only {tree_size}: the newest closed months were dropped")]
    Dropped {
        /// The checkpoint's size.
        size: u64,
        /// The tree's size.
        tree_size: u64,
    },
    /// A proof or a request names a leaf or size the tree does not have.
    #[error("out of range: {0}")]
    OutOfRange(String),
}
