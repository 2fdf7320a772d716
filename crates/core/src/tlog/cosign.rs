//! Witness cosignatures (C2SP tlog-cosignature, `cosignature/v1`): a note
//! signature (alg 0x04) whose bytes are an 8-byte big-endian timestamp and an
//! Ed25519 signature over `cosignature/v1\ntime <timestamp>\n` followed by the
//! checkpoint text. The timestamp is the caller's (the core has no clock).

use super::error::TlogError;
use super::keys::witness_signer;
use ed25519_dalek::{Signer as _, SigningKey, Verifier as _, VerifyingKey};
use signed_note::{key_id, Note, Signer, Verifier};

/// The signed-note algorithm byte of a timestamped Ed25519 cosignature.
pub(crate) const ALG_COSIGNATURE: u8 = 0x04;

fn message(timestamp: u64, text: &[u8]) -> Vec<u8> {
    let mut m = format!("cosignature/v1\ntime {timestamp}\n").into_bytes();
    m.extend_from_slice(text);
    m
}

fn id_of(name: &str, key: &VerifyingKey) -> u32 {
    key_id(name, &[&[ALG_COSIGNATURE], key.to_bytes().as_slice()].concat())
}

/// Cosigns at a given time.
pub(crate) struct CosignSigner {
    name: String,
    id: u32,
    key: SigningKey,
    timestamp: u64,
}

impl std::fmt::Debug for CosignSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CosignSigner({}+{:08x})", self.name, self.id)
    }
}

impl CosignSigner {
    pub(crate) fn new(name: &str, key: SigningKey, timestamp: u64) -> CosignSigner {
        CosignSigner { name: name.to_string(), id: id_of(name, &key.verifying_key()), key, timestamp }
    }

    pub(crate) fn id(&self) -> u32 {
        self.id
    }
}

impl Signer for CosignSigner {
    fn name(&self) -> &str {
        &self.name
    }

    fn key_id(&self) -> u32 {
        self.id
    }

    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, ed25519_dalek::SignatureError> {
        let sig = self.key.try_sign(&message(self.timestamp, msg))?;
        Ok([self.timestamp.to_be_bytes().as_slice(), sig.to_bytes().as_slice()].concat())
    }
}

/// Checks a witness's cosignatures.
#[derive(Debug, Clone)]
pub(crate) struct CosignVerifier {
    name: String,
    id: u32,
    key: VerifyingKey,
}

impl CosignVerifier {
    pub(crate) fn new(name: &str, key: VerifyingKey) -> CosignVerifier {
        CosignVerifier { name: name.to_string(), id: id_of(name, &key), key }
    }

    pub(crate) fn id(&self) -> u32 {
        self.id
    }
}

impl Verifier for CosignVerifier {
    fn name(&self) -> &str {
        &self.name
    }

    fn key_id(&self) -> u32 {
        self.id
    }

    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        let (Some(time), Some(sig)) = (sig.get(..8), sig.get(8..)) else {
            return false;
        };
        let (Ok(time), Ok(sig)) = (<[u8; 8]>::try_from(time), <[u8; 64]>::try_from(sig)) else {
            return false;
        };
        self.key.verify(&message(u64::from_be_bytes(time), msg), &ed25519_dalek::Signature::from_bytes(&sig)).is_ok()
    }
}

/// The cosignature line (`— <name> <base64>\n`) of the witness whose private key is
/// `skey` on the checkpoint of the signed note `note`, made at `timestamp` (seconds
/// since the Unix epoch). The caller checks the checkpoint first ([`super::check_extension`]).
pub fn cosign(note: &str, skey: &str, timestamp: u64) -> Result<String, TlogError> {
    let signer = witness_signer(skey, timestamp)?;
    let parsed = Note::from_bytes(note.as_bytes()).map_err(|e| TlogError::Malformed { what: "signed checkpoint", why: e.to_string() })?;
    let mut bare = Note::new(parsed.text(), &[]).map_err(|e| TlogError::Malformed { what: "checkpoint", why: e.to_string() })?;
    bare.add_sigs(&[&signer]).map_err(|e| TlogError::BadKey(e.to_string()))?;
    let bytes = bare.to_bytes();
    let text = String::from_utf8(bytes).map_err(|e| TlogError::Malformed { what: "cosignature", why: e.to_string() })?;
    let line = text.rsplit_once("\n\n").map(|(_, sigs)| sigs.to_string()).unwrap_or_default();
    Ok(line)
}
