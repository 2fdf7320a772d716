//! The transparency log of what is payable: every closed month appends its
//! statement lines to an append-only Merkle tree (RFC 6962 hashing), the bureau
//! signs a checkpoint of it (C2SP tlog-checkpoint, Ed25519 signed note), cities
//! cosign only a checkpoint that extends the one they cosigned last (C2SP
//! tlog-cosignature), and an entity checks a self-contained proof of its own
//! lines (C2SP tlog-proof) offline.
//!
//! Pure: the store keeps the signed notes, the CLI reads keys and the clock;
//! hashing and proofs are `tlog_tiles`, notes are `signed_note`, signatures
//! `ed25519-dalek`. Nothing here writes SHA-256 or Ed25519 by hand.

mod audit;
mod checkpoint;
mod cosign;
mod error;
mod keys;
mod leaf;
mod proof;
mod tree;
mod witness;

pub use audit::{audit, AuditReport, StoredCheckpoint};
pub use checkpoint::{checkpoint_text, open_checkpoint, sign_checkpoint, verify_cosignatures, with_signature_lines, Opened};
pub use cosign::cosign;
pub use error::TlogError;
pub use keys::{new_key, signer_name, witness_name, KeyKind};
pub use leaf::{leaf_body, log_leaves, Leaf, LEAF_PREFIX};
pub use proof::{decode_bundle, encode_bundle, verify_bundle, LeafProof, VerifiedLine, PROOF_HEADER};
pub use tlog_tiles::Hash;
pub use tree::{check_consistency, check_inclusion, Tree};
pub use witness::{check_extension, WitnessState};
