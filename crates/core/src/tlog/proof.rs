//! Proofs for an entity (C2SP tlog-proof): for each of its lines, the leaf index,
//! the inclusion proof and the signed checkpoint (with cosignatures), the leaf body
//! itself as the proof's `extra` data. A bundle is several such proofs one after
//! the other; each starts with the header line. It holds nothing of other entities
//! but hashes.

use super::checkpoint::{open_checkpoint, verify_cosignatures};
use super::error::TlogError;
use super::leaf::LEAF_PREFIX;
use super::tree::check_inclusion;
use base64::prelude::{Engine, BASE64_STANDARD};
use tlog_tiles::Hash;

/// The first line of a tlog-proof.
pub const PROOF_HEADER: &str = "c2sp.org/tlog-proof@v1";

/// One line's proof.
#[derive(Debug, Clone, PartialEq)]
pub struct LeafProof {
    /// The leaf's index in the log.
    pub index: u64,
    /// The inclusion proof in the checkpoint's tree.
    pub hashes: Vec<Hash>,
    /// The signed checkpoint, with its cosignatures.
    pub checkpoint: String,
    /// The leaf body (the canonical statement line).
    pub leaf: String,
}

/// A line a proof showed to be in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedLine {
    /// Its index.
    pub index: u64,
    /// The size of the checkpoint it is in.
    pub size: u64,
    /// The canonical statement line.
    pub leaf: String,
    /// The witnesses whose cosignature was checked.
    pub witnesses: Vec<String>,
}

impl LeafProof {
    /// The tlog-proof text.
    pub fn encode(&self) -> String {
        let mut out = format!("{PROOF_HEADER}\nextra {}\nindex {}\n", BASE64_STANDARD.encode(self.leaf.as_bytes()), self.index);
        for h in &self.hashes {
            out.push_str(&format!("{h}\n"));
        }
        out.push('\n');
        out.push_str(&self.checkpoint);
        out
    }

    /// Reads one tlog-proof.
    pub fn decode(text: &str) -> Result<LeafProof, TlogError> {
        let bad = |why: String| TlogError::Malformed { what: "tlog-proof", why };
        let (head, checkpoint) = text.split_once("\n\n").ok_or_else(|| bad("no blank line before the checkpoint".into()))?;
        let mut lines = head.lines();
        if lines.next() != Some(PROOF_HEADER) {
            return Err(bad(format!("the first line is not {PROOF_HEADER}")));
        }
        let mut next = lines.next();
        let mut leaf = None;
        if let Some(extra) = next.and_then(|l| l.strip_prefix("extra ")) {
            let bytes = BASE64_STANDARD.decode(extra).map_err(|e| bad(format!("extra is not base64: {e}")))?;
            leaf = Some(String::from_utf8(bytes).map_err(|e| bad(format!("extra is not text: {e}")))?);
            next = lines.next();
        }
        let index = next.and_then(|l| l.strip_prefix("index ")).ok_or_else(|| bad("no index line".into()))?;
        let index: u64 = index.parse().map_err(|e| bad(format!("index {index:?}: {e}")))?;
        let hashes = lines.map(|l| Hash::parse_hash(l).map_err(|e| bad(format!("hash {l:?}: {e}")))).collect::<Result<Vec<_>, _>>()?;
        let leaf = leaf.ok_or_else(|| bad("no extra line: the proof does not carry the statement line".into()))?;
        if hashes.len() > 64 {
            return Err(bad(format!("{} hashes: more than any tree needs", hashes.len())));
        }
        Ok(LeafProof { index, hashes, checkpoint: checkpoint.to_string(), leaf })
    }

    /// Checks the proof offline: the bureau's signature (`bureau`), a cosignature by every
    /// witness of `witnesses`, and that the line is the leaf at its index of the signed tree.
    pub fn verify(&self, bureau: &str, witnesses: &[String]) -> Result<VerifiedLine, TlogError> {
        if !self.leaf.starts_with(LEAF_PREFIX) {
            return Err(TlogError::Malformed { what: "statement line", why: format!("it does not start with {LEAF_PREFIX}") });
        }
        let cp = open_checkpoint(&self.checkpoint, bureau)?;
        let names = verify_cosignatures(&self.checkpoint, witnesses)?;
        check_inclusion(&self.hashes, cp.size, cp.root, self.index, self.leaf.as_bytes())?;
        Ok(VerifiedLine { index: self.index, size: cp.size, leaf: self.leaf.clone(), witnesses: names })
    }
}

/// The text of several proofs.
pub fn encode_bundle(proofs: &[LeafProof]) -> String {
    proofs.iter().map(LeafProof::encode).collect()
}

/// Reads a bundle: proofs one after the other, each from its header line.
pub fn decode_bundle(text: &str) -> Result<Vec<LeafProof>, TlogError> {
    let mut starts: Vec<usize> = text.match_indices(&format!("{PROOF_HEADER}\n")).map(|(i, _)| i).filter(|i| *i == 0 || text[..*i].ends_with('\n')).collect();
    if starts.first() != Some(&0) {
        return Err(TlogError::Malformed { what: "proof bundle", why: format!("it does not start with {PROOF_HEADER}") });
    }
    starts.push(text.len());
    starts.windows(2).map(|w| LeafProof::decode(&text[w[0]..w[1]])).collect()
}

/// Checks every proof of a bundle (see [`LeafProof::verify`]).
pub fn verify_bundle(text: &str, bureau: &str, witnesses: &[String]) -> Result<Vec<VerifiedLine>, TlogError> {
    decode_bundle(text)?.iter().map(|p| p.verify(bureau, witnesses)).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::checkpoint::sign_checkpoint;
    use super::super::keys::{new_key, KeyKind};
    use super::super::tree::Tree;
    use super::*;

    #[test]
    fn proofs_round_trip_verify_and_fail_on_a_changed_line() {
        let (skey, vkey) = new_key("log.example", &[1; 32], KeyKind::Log).unwrap();
        let leaves: Vec<String> = (0..7).map(|i| format!("{LEAF_PREFIX} line {i}")).collect();
        let tree = Tree::of(leaves.iter().map(String::as_bytes));
        let note = sign_checkpoint("log.example", 7, tree.root(), &skey).unwrap();
        let proofs: Vec<LeafProof> = [2u64, 5].iter().map(|i| LeafProof { index: *i, hashes: tree.inclusion(*i, 7).unwrap(), checkpoint: note.clone(), leaf: leaves[*i as usize].clone() }).collect();
        let text = encode_bundle(&proofs);
        assert!(text.starts_with("c2sp.org/tlog-proof@v1\nextra "));
        assert_eq!(decode_bundle(&text).unwrap(), proofs);
        let lines = verify_bundle(&text, &vkey, &[]).unwrap();
        assert_eq!(lines.iter().map(|l| l.index).collect::<Vec<_>>(), [2, 5]);
        let mut changed = proofs[0].clone();
        changed.leaf = changed.leaf.replace("line 2", "line 9");
        assert_eq!(changed.verify(&vkey, &[]), Err(TlogError::NotIncluded { index: 2, size: 7 }));
        let (_, wvkey) = new_key("witness.example", &[2; 32], KeyKind::Witness).unwrap();
        assert!(matches!(proofs[0].verify(&vkey, &[wvkey]), Err(TlogError::MissingCosignature { .. })));
        assert!(LeafProof::decode("nonsense").is_err());
    }
}
