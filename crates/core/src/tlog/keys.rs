//! Keys in the signed-note formats: a private key `PRIVATE+KEY+<name>+<id>+<base64(alg||seed)>`
//! and a verifier key `<name>+<id>+<base64(alg||public key)>`, the key id being the first
//! four bytes of SHA-256(name || 0x0A || alg || public key). The bureau's log key is an
//! Ed25519 note key (alg 0x01, `signed_note`'s own); a witness's key is an Ed25519
//! cosignature key (alg 0x04, C2SP tlog-cosignature). The seed comes from the caller:
//! generating it needs randomness, which is the CLI's.

use super::cosign::{CosignSigner, CosignVerifier, ALG_COSIGNATURE};
use super::error::TlogError;
use base64::prelude::{Engine, BASE64_STANDARD};
use ed25519_dalek::SigningKey;
use signed_note::{key_id, StandardSigner, StandardVerifier, Verifier};

/// The signed-note algorithm byte of an Ed25519 note signature.
const ALG_ED25519: u8 = 0x01;

/// What a key signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// The bureau's key: signs the log's checkpoints (Ed25519 note signature).
    Log,
    /// A city's witness key: cosigns checkpoints (timestamped Ed25519 cosignature/v1).
    Witness,
}

impl KeyKind {
    fn alg(self) -> u8 {
        match self {
            KeyKind::Log => ALG_ED25519,
            KeyKind::Witness => ALG_COSIGNATURE,
        }
    }
}

/// A private key and its verifier key for `name`, from a 32-byte seed.
pub fn new_key(name: &str, seed: &[u8; 32], kind: KeyKind) -> Result<(String, String), TlogError> {
    if !signed_note::is_key_name_valid(name) {
        return Err(TlogError::BadKey(format!("{name:?} is not a key name: it must be non-empty, without spaces or '+'")));
    }
    let signing = SigningKey::from_bytes(seed);
    let public = [&[kind.alg()], signing.verifying_key().to_bytes().as_slice()].concat();
    let private = [&[kind.alg()], seed.as_slice()].concat();
    let id = key_id(name, &public);
    let skey = format!("PRIVATE+KEY+{name}+{id:08x}+{}", BASE64_STANDARD.encode(private));
    let vkey = format!("{name}+{id:08x}+{}", BASE64_STANDARD.encode(public));
    Ok((skey, vkey))
}

/// The key name of a private key (the part after `PRIVATE+KEY+`).
pub fn signer_name(skey: &str) -> Result<String, TlogError> {
    let rest = skey.trim().strip_prefix("PRIVATE+KEY+").ok_or_else(|| TlogError::BadKey("a private key starts with PRIVATE+KEY+".into()))?;
    Ok(rest.split('+').next().unwrap_or_default().to_string())
}

/// The algorithm byte of a key's base64 part.
fn alg_of(b64: &str) -> Result<u8, TlogError> {
    let bytes = BASE64_STANDARD.decode(b64.trim()).map_err(|e| TlogError::BadKey(format!("key data is not base64: {e}")))?;
    bytes.first().copied().ok_or_else(|| TlogError::BadKey("empty key data".into()))
}

/// The bureau's signer from its private key text.
pub(crate) fn log_signer(skey: &str) -> Result<StandardSigner, TlogError> {
    StandardSigner::new(skey.trim()).map_err(|e| TlogError::BadKey(format!("not an Ed25519 log signing key: {e}")))
}

/// The bureau's verifier from its verifier key text.
pub(crate) fn log_verifier(vkey: &str) -> Result<StandardVerifier, TlogError> {
    StandardVerifier::new(vkey.trim()).map_err(|e| TlogError::BadKey(format!("not an Ed25519 log verifier key ({e}): {}", vkey.trim())))
}

/// A witness's cosigner from its private key text.
pub(crate) fn witness_signer(skey: &str, timestamp: u64) -> Result<CosignSigner, TlogError> {
    let parts: Vec<&str> = skey.trim().splitn(5, '+').collect();
    let [_, _, name, id, data] = parts.as_slice() else {
        return Err(TlogError::BadKey("a private key is PRIVATE+KEY+<name>+<id>+<data>".into()));
    };
    if alg_of(data)? != ALG_COSIGNATURE {
        return Err(TlogError::BadKey(format!("{name} is not a witness (cosignature) key")));
    }
    let bytes = BASE64_STANDARD.decode(data).map_err(|e| TlogError::BadKey(e.to_string()))?;
    let seed: [u8; 32] = bytes[1..].try_into().map_err(|_| TlogError::BadKey("a witness seed is 32 bytes".into()))?;
    let signer = CosignSigner::new(name, SigningKey::from_bytes(&seed), timestamp);
    if format!("{:08x}", signer.id()) != *id {
        return Err(TlogError::BadKey(format!("key id {id} does not match the key of {name}")));
    }
    Ok(signer)
}

/// The witness a witness verifier key names, once the key reads as one.
pub fn witness_name(vkey: &str) -> Result<String, TlogError> {
    Ok(witness_verifier(vkey)?.name().to_string())
}

/// A witness's verifier from its verifier key text.
pub(crate) fn witness_verifier(vkey: &str) -> Result<CosignVerifier, TlogError> {
    let parts: Vec<&str> = vkey.trim().splitn(3, '+').collect();
    let [name, id, data] = parts.as_slice() else {
        return Err(TlogError::BadKey(format!("a verifier key is <name>+<id>+<data>: {}", vkey.trim())));
    };
    let bytes = BASE64_STANDARD.decode(data).map_err(|e| TlogError::BadKey(format!("key data is not base64: {e}")))?;
    if bytes.first() != Some(&ALG_COSIGNATURE) {
        return Err(TlogError::BadKey(format!("{name} is not a witness (cosignature) verifier key")));
    }
    let public: [u8; 32] = bytes[1..].try_into().map_err(|_| TlogError::BadKey("a public key is 32 bytes".into()))?;
    let key = ed25519_dalek::VerifyingKey::from_bytes(&public).map_err(|e| TlogError::BadKey(format!("not an Ed25519 public key: {e}")))?;
    let verifier = CosignVerifier::new(name, key);
    if format!("{:08x}", verifier.id()) != *id {
        return Err(TlogError::BadKey(format!("key id {id} does not match the key of {name}")));
    }
    Ok(verifier)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_say_what_they_are() {
        let (skey, vkey) = new_key("anhui.gov.cn/compute-subsidy", &[7; 32], KeyKind::Log).unwrap();
        assert!(skey.starts_with("PRIVATE+KEY+anhui.gov.cn/compute-subsidy+"));
        assert_eq!(signer_name(&skey).unwrap(), "anhui.gov.cn/compute-subsidy");
        log_signer(&skey).unwrap();
        log_verifier(&vkey).unwrap();
        assert!(witness_verifier(&vkey).is_err(), "a log key is not a witness key");
        let (wskey, wvkey) = new_key("hefei.gov.cn/witness", &[9; 32], KeyKind::Witness).unwrap();
        witness_signer(&wskey, 1).unwrap();
        witness_verifier(&wvkey).unwrap();
        assert!(log_verifier(&wvkey).is_err(), "a witness key is not a log key");
        assert!(new_key("has space", &[1; 32], KeyKind::Log).is_err());
        // Base64 key data may hold '+': keys are split on the first separators only.
        for seed in 0..64u8 {
            let (s, v) = new_key("w", &[seed; 32], KeyKind::Witness).unwrap();
            witness_signer(&s, 1).unwrap();
            witness_verifier(&v).unwrap();
        }
    }
}
