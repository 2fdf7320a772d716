//! The policy document: a [`PolicySet`] in its canonical TOML rendering, named by
//! the SHA-256 of that text.
//!
//! The ledger keeps the document in force and every line and closure names the
//! hash of the document it was settled under. The canonical rendering makes the
//! hash a property of the rules, not of the file: versions in date order, place
//! names canonical, cities and kinds sorted, decimals without trailing zeros,
//! comments and layout gone. Two files stating the same versions have one hash;
//! changing any rule (a rate, a date, a cap) changes it. Pure: hashing bytes is
//! no IO.

use crate::policy::{PolicyError, PolicySet};
use sha2::{Digest, Sha256};

/// Characters of a hash shown to people ([`PolicyDocument::short`]).
pub const SHORT_HASH_CHARS: usize = 12;

/// A policy set with its canonical text and that text's hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyDocument {
    /// The rules.
    pub set: PolicySet,
    /// The canonical TOML rendering (what the ledger stores; `from_toml` reads it back).
    pub text: String,
    /// SHA-256 of `text`, 64 lowercase hex digits.
    pub hash: String,
}

impl PolicyDocument {
    /// The document of a validated set.
    pub fn of(set: &PolicySet) -> Result<PolicyDocument, PolicyError> {
        set.validate()?;
        let canonical = canonical(set);
        let text = canonical.to_toml()?;
        let hash = sha256_hex(text.as_bytes());
        Ok(PolicyDocument { set: canonical, text, hash })
    }

    /// Parses, validates and canonicalises a policy file's text.
    pub fn from_toml(text: &str) -> Result<PolicyDocument, PolicyError> {
        PolicyDocument::of(&PolicySet::from_toml(text)?)
    }

    /// The document of RULES.md ([`PolicySet::builtin`]).
    pub fn builtin() -> PolicyDocument {
        // The built-in set is valid and renders (a unit test says so); a failure would be a defect.
        PolicyDocument::of(&PolicySet::builtin()).unwrap_or_else(|_| PolicyDocument { set: PolicySet::builtin(), text: String::new(), hash: String::new() })
    }

    /// A document read back from a ledger, checked against the hash stored with it.
    pub fn stored(text: &str, hash: &str) -> Result<PolicyDocument, PolicyError> {
        let document = PolicyDocument::from_toml(text)?;
        if document.hash != hash {
            return Err(PolicyError::Parse(format!("the stored policy document does not match its hash {} (it hashes to {})", short(hash), document.short())));
        }
        Ok(document)
    }

    /// The first [`SHORT_HASH_CHARS`] characters of the hash, for people.
    pub fn short(&self) -> &str {
        short(&self.hash)
    }
}

impl Default for PolicyDocument {
    /// The built-in document.
    fn default() -> PolicyDocument {
        PolicyDocument::builtin()
    }
}

/// The first [`SHORT_HASH_CHARS`] characters of a hash (all of a shorter one; "-" for none).
pub fn short(hash: &str) -> &str {
    if hash.is_empty() {
        return "-";
    }
    hash.get(..SHORT_HASH_CHARS).unwrap_or(hash)
}

/// SHA-256 of bytes as 64 lowercase hex digits.
fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// The set with every free choice of notation fixed.
fn canonical(set: &PolicySet) -> PolicySet {
    let mut set = set.clone();
    set.versions.sort_by(|a, b| (a.effective_from, &a.id).cmp(&(b.effective_from, &b.id)));
    for v in &mut set.versions {
        v.rate = v.rate.normalize();
        v.annual_cap_yuan = v.annual_cap_yuan.map(|c| c.normalize());
        v.eligible_kinds.sort();
        v.eligible_kinds.dedup();
        if let Some(u) = &mut v.uplift {
            u.factor = u.factor.normalize();
            u.cities.sort();
            u.cities.dedup();
        }
    }
    for b in &mut set.budgets {
        b.canonicalise();
    }
    set.budgets.sort_by_key(|b| b.year);
    set
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const DEFAULT: &str = include_str!("../../../deploy/policy/default.toml");

    #[test]
    fn the_builtin_document_is_the_shipped_file() {
        let builtin = PolicyDocument::builtin();
        assert_eq!(builtin.hash.len(), 64);
        assert!(builtin.hash.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_eq!(PolicyDocument::from_toml(DEFAULT).unwrap(), builtin);
        assert_eq!(builtin.short(), &builtin.hash[..12]);
        assert_eq!(PolicyDocument::from_toml(&builtin.text).unwrap(), builtin, "the canonical text reads back to itself");
    }

    #[test]
    fn the_hash_does_not_depend_on_how_the_file_is_written() {
        let base = PolicyDocument::from_toml(DEFAULT).unwrap();
        // Comments gone, decimals with other trailing zeros, short place names, cities reordered.
        let plain: String = DEFAULT.lines().filter(|l| !l.trim_start().starts_with('#')).map(|l| format!("{l}\n")).collect();
        let restyled = plain
            .replace("rate = \"0.20\"", "rate = \"0.2000\"")
            .replace("factor = \"1.2\"", "factor = \"1.20\"")
            .replace("\"安徽省\"", "\"安徽\"")
            .replace("[\"宿州市\", \"淮北市\"", "[\"淮北\", \"宿州市\"");
        assert_ne!(restyled, DEFAULT);
        assert_eq!(PolicyDocument::from_toml(&restyled).unwrap().hash, base.hash);
        // The versions in another order.
        let (v1, v2) = plain.split_at(plain.find("[[versions]]\nid = \"v2\"").unwrap());
        assert_eq!(PolicyDocument::from_toml(&format!("{v2}\n{v1}")).unwrap().hash, base.hash);
    }

    #[test]
    fn any_change_of_a_rule_changes_the_hash() {
        let base = PolicyDocument::from_toml(DEFAULT).unwrap();
        let changes = [
            DEFAULT.replacen("rate = \"0.20\"", "rate = \"0.21\"", 1),
            DEFAULT.replace("effective_to = \"2027-12-31\"", "effective_to = \"2027-12-30\""),
            DEFAULT.replace("factor = \"1.2\"", "factor = \"1.25\""),
            DEFAULT.replace("rate = \"0.20\"", "rate = \"0.20\"\nannual_cap_yuan = \"5000\""),
        ];
        let mut hashes = std::collections::BTreeSet::new();
        for text in &changes {
            let d = PolicyDocument::from_toml(text).unwrap();
            assert_ne!(d.hash, base.hash, "{text}");
            hashes.insert(d.hash);
        }
        assert_eq!(hashes.len(), changes.len());
    }

    #[test]
    fn a_stored_document_must_match_its_hash() {
        let d = PolicyDocument::builtin();
        assert_eq!(PolicyDocument::stored(&d.text, &d.hash).unwrap(), d);
        let other = PolicyDocument::from_toml(&DEFAULT.replacen("rate = \"0.20\"", "rate = \"0.3\"", 1)).unwrap();
        let e = PolicyDocument::stored(&other.text, &d.hash).unwrap_err();
        assert!(e.to_string().contains(d.short()) && e.to_string().contains(other.short()), "{e}");
        assert_eq!(short(""), "-");
    }
}
