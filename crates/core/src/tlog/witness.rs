//! What a witness checks before it cosigns: the new checkpoint is signed by the
//! bureau, of the same log, no smaller than the one it cosigned last, and a
//! consistency proof shows it extends that one. The state it keeps is the text of
//! the last checkpoint it cosigned.

use super::checkpoint::{open_checkpoint, Opened};
use super::error::TlogError;
use super::tree::check_consistency;
use tlog_tiles::{Checkpoint, Hash};

/// The last checkpoint a witness cosigned.
#[derive(Debug, Clone, PartialEq)]
pub struct WitnessState {
    /// The log.
    pub origin: String,
    /// Its size then.
    pub size: u64,
    /// Its root then.
    pub root: Hash,
}

impl WitnessState {
    /// The state's text: the checkpoint text.
    pub fn to_text(&self) -> Result<String, TlogError> {
        super::checkpoint::checkpoint_text(&self.origin, self.size, self.root)
    }

    /// Reads a state saved by [`WitnessState::to_text`].
    pub fn parse(text: &str) -> Result<WitnessState, TlogError> {
        let cp = Checkpoint::from_bytes(text.as_bytes()).map_err(|e| TlogError::Malformed { what: "witness state", why: e.to_string() })?;
        Ok(WitnessState { origin: cp.origin().to_string(), size: cp.size(), root: *cp.hash() })
    }
}

/// Checks the signed checkpoint `note` (bureau verifier key `bureau`) against the state
/// `last` (none: the witness never cosigned) with the consistency proof `proof` from
/// `last`'s size to the new one. Returns the checkpoint to cosign.
pub fn check_extension(last: Option<&WitnessState>, note: &str, proof: &[Hash], bureau: &str) -> Result<Opened, TlogError> {
    let new = open_checkpoint(note, bureau)?;
    let Some(last) = last else {
        return Ok(new);
    };
    if last.origin != new.origin {
        return Err(TlogError::WrongOrigin { expected: last.origin.clone(), found: new.origin });
    }
    check_consistency(proof, last.size, last.root, new.size, new.root)?;
    Ok(new)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::checkpoint::sign_checkpoint;
    use super::super::keys::{new_key, KeyKind};
    use super::super::tree::Tree;
    use super::*;

    #[test]
    fn a_witness_accepts_growth_and_refuses_a_shrunk_or_rewritten_log() {
        let (skey, vkey) = new_key("log.example", &[1; 32], KeyKind::Log).unwrap();
        let mut leaves: Vec<Vec<u8>> = (0..9u8).map(|i| vec![i]).collect();
        let tree = Tree::of(leaves.iter().map(Vec::as_slice));
        let state = WitnessState { origin: "log.example".into(), size: 5, root: tree.root_at(5).unwrap() };
        assert_eq!(WitnessState::parse(&state.to_text().unwrap()).unwrap(), state);
        let note = sign_checkpoint("log.example", 9, tree.root(), &skey).unwrap();
        check_extension(Some(&state), &note, &tree.consistency(5, 9).unwrap(), &vkey).unwrap();
        check_extension(None, &note, &[], &vkey).unwrap();
        let small = sign_checkpoint("log.example", 4, tree.root_at(4).unwrap(), &skey).unwrap();
        assert!(matches!(check_extension(Some(&state), &small, &[], &vkey), Err(TlogError::NotAnExtension { old_size: 5, new_size: 4, .. })));
        leaves[1] = vec![99];
        let forged = Tree::of(leaves.iter().map(Vec::as_slice));
        let rewritten = sign_checkpoint("log.example", 9, forged.root(), &skey).unwrap();
        let err = check_extension(Some(&state), &rewritten, &forged.consistency(5, 9).unwrap(), &vkey).unwrap_err();
        assert!(matches!(err, TlogError::NotAnExtension { old_size: 5, new_size: 9, .. }), "{err}");
    }
}
