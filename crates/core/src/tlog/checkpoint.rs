//! Checkpoints (C2SP tlog-checkpoint): `<origin>\n<size>\n<base64 root>\n`, signed
//! by the bureau as a signed note (C2SP signed-note). The origin is the bureau key's
//! name, so a verifier key names the one log it speaks for.

use super::cosign::CosignVerifier;
use super::error::TlogError;
use super::keys::{log_signer, log_verifier, witness_verifier};
use signed_note::{Note, NoteError, Signature, Signer, Verifier, VerifierList};
use tlog_tiles::{Checkpoint, Hash};

/// A checkpoint whose bureau signature was checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Opened {
    /// The log it is of (the bureau key's name).
    pub origin: String,
    /// The number of leaves.
    pub size: u64,
    /// The root of those leaves.
    pub root: Hash,
    /// The checkpoint text (what is signed).
    pub text: String,
    /// The whole signed note, with every signature line it carries.
    pub note: String,
}

fn malformed(what: &'static str) -> impl Fn(String) -> TlogError {
    move |why| TlogError::Malformed { what, why }
}

/// The checkpoint text of a tree.
pub fn checkpoint_text(origin: &str, size: u64, root: Hash) -> Result<String, TlogError> {
    let cp = Checkpoint::new(origin, size, root, "").map_err(|e| TlogError::Malformed { what: "checkpoint", why: format!("{e} (origin {origin:?})") })?;
    String::from_utf8(cp.to_bytes()).map_err(|e| malformed("checkpoint")(e.to_string()))
}

/// The signed note of the checkpoint `origin`/`size`/`root`, signed with the bureau's
/// private key `skey`, whose name must be `origin`. Ed25519 is deterministic: the same
/// tree and key give the same bytes.
pub fn sign_checkpoint(origin: &str, size: u64, root: Hash, skey: &str) -> Result<String, TlogError> {
    let signer = log_signer(skey)?;
    if signer.name() != origin {
        return Err(TlogError::WrongOrigin { expected: signer.name().to_string(), found: origin.to_string() });
    }
    let text = checkpoint_text(origin, size, root)?;
    let mut note = Note::new(text.as_bytes(), &[]).map_err(|e| malformed("checkpoint")(e.to_string()))?;
    note.add_sigs(&[&signer]).map_err(|e| TlogError::BadKey(e.to_string()))?;
    String::from_utf8(note.to_bytes()).map_err(|e| malformed("signed checkpoint")(e.to_string()))
}

fn parse_note(note: &str) -> Result<Note, TlogError> {
    Note::from_bytes(note.as_bytes()).map_err(|e| malformed("signed checkpoint")(e.to_string()))
}

/// Reads a signed checkpoint and checks the bureau's signature (verifier key `vkey`) and
/// that it is of the bureau's log. Other signature lines (cosignatures) are kept, unchecked.
pub fn open_checkpoint(note: &str, vkey: &str) -> Result<Opened, TlogError> {
    let verifier = log_verifier(vkey)?;
    let key = verifier.name().to_string();
    let parsed = parse_note(note)?;
    match parsed.verify(&VerifierList::new(vec![Box::new(verifier)])) {
        Ok(_) => {}
        Err(NoteError::UnverifiedNote) => return Err(TlogError::NotSigned { key, why: "it carries no signature by this key".into() }),
        Err(NoteError::InvalidSignature { .. }) => return Err(TlogError::BadSignature { key }),
        Err(e) => return Err(TlogError::NotSigned { key, why: e.to_string() }),
    }
    let cp = Checkpoint::from_bytes(parsed.text()).map_err(|e| malformed("checkpoint")(e.to_string()))?;
    if cp.origin() != key {
        return Err(TlogError::WrongOrigin { expected: key, found: cp.origin().to_string() });
    }
    let text = String::from_utf8(parsed.text().to_vec()).map_err(|e| malformed("checkpoint")(e.to_string()))?;
    Ok(Opened { origin: cp.origin().to_string(), size: cp.size(), root: *cp.hash(), text, note: note.to_string() })
}

/// Checks that every witness of `vkeys` cosigned the checkpoint of the signed note `note`
/// with a valid cosignature. Returns the witnesses' names.
pub fn verify_cosignatures(note: &str, vkeys: &[String]) -> Result<Vec<String>, TlogError> {
    let parsed = parse_note(note)?;
    let size = Checkpoint::from_bytes(parsed.text()).map_err(|e| malformed("checkpoint")(e.to_string()))?.size();
    let mut names = Vec::new();
    for vkey in vkeys {
        let verifier: CosignVerifier = witness_verifier(vkey)?;
        let name = verifier.name().to_string();
        match parsed.verify(&VerifierList::new(vec![Box::new(verifier)])) {
            Ok(_) => names.push(name),
            Err(NoteError::UnverifiedNote) => return Err(TlogError::MissingCosignature { witness: name, size }),
            Err(NoteError::InvalidSignature { .. }) => return Err(TlogError::BadSignature { key: name }),
            Err(e) => return Err(malformed("cosignature")(e.to_string())),
        }
    }
    Ok(names)
}

/// The signed note `note` with the signature lines `lines` (`— name base64\n` each) added
/// after its own; a line already there is not repeated.
pub fn with_signature_lines(note: &str, lines: &[String]) -> Result<String, TlogError> {
    let parsed = parse_note(note)?;
    let mut out = note.to_string();
    for line in lines {
        let line = if line.ends_with('\n') { line.clone() } else { format!("{line}\n") };
        Signature::from_bytes(line.trim_end_matches('\n').as_bytes()).map_err(|e| malformed("signature line")(e.to_string()))?;
        if !out.contains(&line) {
            out.push_str(&line);
        }
    }
    drop(parsed);
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::cosign::cosign;
    use super::super::keys::{new_key, KeyKind};
    use super::super::tree::Tree;
    use super::*;

    /// The signed-note example of golang.org/x/mod/sumdb/note (note_test.go, TestSign), also
    /// in `signed_note`'s tests: the same key and text give these very bytes.
    #[test]
    fn signed_note_known_answer() {
        let skey = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
        let vkey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
        let text = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
        let mut note = Note::new(text.as_bytes(), &[]).unwrap();
        note.add_sigs(&[&log_signer(skey).unwrap()]).unwrap();
        let want = format!("{text}\n— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n");
        assert_eq!(String::from_utf8(note.to_bytes()).unwrap(), want);
        assert!(log_verifier(vkey).unwrap().verify(text.as_bytes(), &note_sig(&want)));
    }

    fn note_sig(note: &str) -> Vec<u8> {
        let line = note.rsplit_once("\n\n").unwrap().1.trim_end();
        Signature::from_bytes(line.as_bytes()).unwrap().signature().to_vec()
    }

    /// The checkpoint example of C2SP tlog-cosignature: three lines, base64 root, final newline.
    #[test]
    fn checkpoint_text_known_answer() {
        let root = Hash::parse_hash("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=").unwrap();
        assert_eq!(checkpoint_text("example.com/behind-the-sofa", 20852163, root).unwrap(), "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n");
        let empty = Tree::default().root();
        assert_eq!(checkpoint_text("log.example", 0, empty).unwrap(), "log.example\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n", "the empty tree's root is SHA-256 of nothing");
        assert!(checkpoint_text("", 1, root).is_err());
    }

    #[test]
    fn a_checkpoint_is_signed_opened_and_refused_when_changed() {
        let (skey, vkey) = new_key("anhui.gov.cn/compute-subsidy/test", &[3; 32], KeyKind::Log).unwrap();
        let root = tlog_tiles::record_hash(b"x");
        let note = sign_checkpoint("anhui.gov.cn/compute-subsidy/test", 1, root, &skey).unwrap();
        assert_eq!(note, sign_checkpoint("anhui.gov.cn/compute-subsidy/test", 1, root, &skey).unwrap(), "deterministic");
        let opened = open_checkpoint(&note, &vkey).unwrap();
        assert_eq!((opened.size, opened.root), (1, root));
        let changed = note.replacen("\n1\n", "\n2\n", 1);
        assert_eq!(open_checkpoint(&changed, &vkey), Err(TlogError::BadSignature { key: "anhui.gov.cn/compute-subsidy/test".into() }));
        let (_, other) = new_key("anhui.gov.cn/compute-subsidy/test", &[4; 32], KeyKind::Log).unwrap();
        assert!(matches!(open_checkpoint(&note, &other), Err(TlogError::NotSigned { .. })));
        assert!(matches!(sign_checkpoint("another/log", 1, root, &skey), Err(TlogError::WrongOrigin { .. })));
    }

    /// The cosignature/v1 format: key id over alg 0x04, 8-byte timestamp then 64-byte signature,
    /// Ed25519 over "cosignature/v1\ntime <t>\n" and the checkpoint.
    #[test]
    fn cosignature_format_known_answer() {
        use base64::prelude::{Engine, BASE64_STANDARD};
        use ed25519_dalek::Verifier as _;
        let (skey, vkey) = new_key("log.example", &[3; 32], KeyKind::Log).unwrap();
        let (wskey, wvkey) = new_key("witness.example/w1", &[5; 32], KeyKind::Witness).unwrap();
        let note = sign_checkpoint("log.example", 5, tlog_tiles::record_hash(b"y"), &skey).unwrap();
        let line = cosign(&note, &wskey, 1_700_000_000).unwrap();
        let (name, b64) = line.trim_end().strip_prefix("— ").unwrap().split_once(' ').unwrap();
        assert_eq!(name, "witness.example/w1");
        let bytes = BASE64_STANDARD.decode(b64).unwrap();
        assert_eq!(bytes.len(), 4 + 8 + 64);
        let public = &BASE64_STANDARD.decode(wvkey.rsplit('+').next().unwrap()).unwrap();
        assert_eq!(public[0], 0x04);
        assert_eq!(bytes[..4], signed_note::key_id("witness.example/w1", public).to_be_bytes());
        assert_eq!(bytes[4..12], 1_700_000_000u64.to_be_bytes());
        let text = open_checkpoint(&note, &vkey).unwrap().text;
        let msg = format!("cosignature/v1\ntime 1700000000\n{text}");
        let key = ed25519_dalek::VerifyingKey::from_bytes(&public[1..].try_into().unwrap()).unwrap();
        key.verify(msg.as_bytes(), &ed25519_dalek::Signature::from_bytes(&bytes[12..].try_into().unwrap())).unwrap();
        let both = with_signature_lines(&note, std::slice::from_ref(&line)).unwrap();
        assert_eq!(verify_cosignatures(&both, std::slice::from_ref(&wvkey)).unwrap(), ["witness.example/w1"]);
        assert_eq!(open_checkpoint(&both, &vkey).unwrap().size, 5, "a cosigned note still opens with the bureau key");
        assert!(matches!(verify_cosignatures(&note, std::slice::from_ref(&wvkey)), Err(TlogError::MissingCosignature { .. })));
        let other = sign_checkpoint("log.example", 6, tlog_tiles::record_hash(b"y"), &skey).unwrap();
        let moved = with_signature_lines(&other, &[line]).unwrap();
        assert!(matches!(verify_cosignatures(&moved, &[wvkey]), Err(TlogError::BadSignature { .. })), "a cosignature of another checkpoint does not verify");
    }
}
