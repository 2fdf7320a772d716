//! Who is asking and what they may see.
//!
//! Tokens arrive as `Authorization: Bearer <token>` and are kept only as
//! lowercase hex SHA-256 hashes in a TOML file of `[[token]]` entries. A
//! token is a role: `bureau` sees everything, `city` the entities registered
//! in its city, `entity` its own credit code. The file is read at start and
//! again on SIGHUP; a file that does not parse keeps the tokens in force.
//! An empty token is never one: the file may not hold the hash of `""`, and
//! an empty or blank presented token is refused before any lookup.
//! Each token has a label (given, or made of its role and the start of its
//! hash): the name the programme's history records for its steps, so the
//! token itself is never written anywhere.

use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use subsidy_core::{place, CreditCode, Registry};

/// A role a token grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// The provincial bureau: everything.
    Bureau,
    /// A city's bureau: the entities registered in that city (canonical name).
    City(String),
    /// One entity: its own credit code.
    Entity(CreditCode),
}

impl Role {
    /// The role's name, as in the token file.
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Bureau => "bureau",
            Role::City(_) => "city",
            Role::Entity(_) => "entity",
        }
    }

    /// Whether this role may see the entity `code`. A city's view follows the registry: an
    /// entity the registry does not place in the city (or does not know) is not the city's.
    pub fn may_see(&self, code: &CreditCode, registry: &Registry) -> bool {
        match self {
            Role::Bureau => true,
            Role::City(city) => registry.entity(code).is_some_and(|e| &e.city == city),
            Role::Entity(own) => own == code,
        }
    }

    /// Whether this role reads province- or city-wide views (settlements, overview).
    pub fn sees_many(&self) -> bool {
        !matches!(self, Role::Entity(_))
    }

    /// The label of a token of this role with this hash when the file gives none:
    /// `<role>:<city or credit code>:<first 8 hex of the hash>` (`bureau:<8 hex>`).
    pub fn default_label(&self, hash: &[u8; 32]) -> String {
        let short = hex::encode(&hash[..4]);
        match self {
            Role::Bureau => format!("bureau:{short}"),
            Role::City(city) => format!("city:{city}:{short}"),
            Role::Entity(code) => format!("entity:{code}:{short}"),
        }
    }
}

/// The most characters a token's label may have.
pub const MAX_LABEL_CHARS: usize = 64;

/// Who a token is: its role, and the label its steps are recorded under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// What it may see and do.
    pub role: Role,
    /// Its name in the programme's history (never the token).
    pub label: String,
}

/// Why a token file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TokenFileError {
    /// The file cannot be read.
    #[error("cannot read the token file {path}: {source}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a valid token file.
    #[error("token file {path}: {problem}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, naming the entry.
        #[source]
        problem: TokenTextError,
    },
}

impl TokenFileError {
    /// Whether reading the file again may succeed without anyone changing it (a passing IO
    /// fault); a file that does not parse stays wrong until it is edited.
    pub fn is_retryable(&self) -> bool {
        matches!(self, TokenFileError::Unreadable { source, .. } if matches!(source.kind(), std::io::ErrorKind::Interrupted | std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut))
    }
}

/// What is wrong with the text of a token file.
#[derive(Debug, thiserror::Error)]
pub enum TokenTextError {
    /// Not TOML of the token file's shape.
    #[error("{0}")]
    Syntax(#[source] toml::de::Error),
    /// One `[[token]]` entry (numbered from 1) is wrong.
    #[error("token {entry}: {problem}")]
    Entry {
        /// The entry's number, from 1.
        entry: usize,
        /// What is wrong with it.
        #[source]
        problem: EntryError,
    },
}

/// What is wrong with one `[[token]]` entry.
#[derive(Debug, thiserror::Error)]
pub enum EntryError {
    /// `sha256` is not 64 lowercase hex digits.
    #[error("sha256 must be 64 lowercase hex digits")]
    Hash,
    /// `sha256` is the hash of the empty token.
    #[error("sha256 is the hash of the empty token, which is never accepted")]
    EmptyToken,
    /// Another entry has the same `sha256`.
    #[error("the same sha256 is given twice")]
    Repeated,
    /// The role and what it takes do not fit.
    #[error(transparent)]
    Role(#[from] RoleError),
    /// `label` is empty, too long or holds control characters.
    #[error("label must be 1–{MAX_LABEL_CHARS} characters with no control characters")]
    Label,
}

/// Why a role cannot be made of a name, a credit code and a city.
#[derive(Debug, thiserror::Error)]
pub enum RoleError {
    /// An entity's credit code is not a valid code.
    #[error("credit_code {code:?}: {problem}")]
    CreditCode {
        /// The code as given.
        code: String,
        /// What is wrong with it.
        #[source]
        problem: subsidy_core::CodeError,
    },
    /// The role is given a credit code or city it does not take, or lacks the one it does.
    #[error("role \"{role}\" takes {takes}")]
    Parts {
        /// The role.
        role: &'static str,
        /// What it takes, in words.
        takes: &'static str,
    },
    /// No such role.
    #[error("role {0:?} is not bureau, city or entity")]
    Unknown(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileWire {
    #[serde(default)]
    token: Vec<EntryWire>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryWire {
    sha256: String,
    role: String,
    credit_code: Option<String>,
    city: Option<String>,
    label: Option<String>,
}

/// The tokens in force: SHA-256 of the token → who it is.
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    by_hash: HashMap<[u8; 32], Principal>,
}

impl Tokens {
    /// Parses a token file's text.
    pub fn parse(text: &str) -> Result<Tokens, TokenTextError> {
        let wire: FileWire = toml::from_str(text).map_err(TokenTextError::Syntax)?;
        let mut by_hash = HashMap::new();
        for (i, e) in wire.token.into_iter().enumerate() {
            let (hash, principal) = parse_entry(&e).map_err(|problem| TokenTextError::Entry { entry: i + 1, problem })?;
            if by_hash.insert(hash, principal).is_some() {
                return Err(TokenTextError::Entry { entry: i + 1, problem: EntryError::Repeated });
            }
        }
        Ok(Tokens { by_hash })
    }

    /// Reads and parses a token file.
    pub fn load(path: &Path) -> Result<Tokens, TokenFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| TokenFileError::Unreadable { path: path.to_path_buf(), source })?;
        Tokens::parse(&text).map_err(|problem| TokenFileError::Invalid { path: path.to_path_buf(), problem })
    }

    /// The role of a presented token, if it is one in force; an empty or blank token is
    /// none, without a lookup.
    pub fn role_of(&self, token: &str) -> Option<&Role> {
        self.principal_of(token).map(|p| &p.role)
    }

    /// Who a presented token is (role and label), if it is one in force; an empty or blank
    /// token is none, without a lookup.
    pub fn principal_of(&self, token: &str) -> Option<&Principal> {
        let token = presented(token)?;
        self.by_hash.get(&hash(token))
    }

    /// The role of the token with this hash, if it is in force.
    pub fn role_of_hash(&self, hash: &[u8; 32]) -> Option<&Role> {
        self.principal_of_hash(hash).map(|p| &p.role)
    }

    /// Who the token with this hash is, if it is in force.
    pub fn principal_of_hash(&self, hash: &[u8; 32]) -> Option<&Principal> {
        self.by_hash.get(hash)
    }

    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }
}

fn parse_hash(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 || text.bytes().any(|b| !matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(text, &mut out).ok()?;
    Some(out)
}

/// One entry's hash, role and label.
fn parse_entry(e: &EntryWire) -> Result<([u8; 32], Principal), EntryError> {
    let hash = parse_hash(&e.sha256).ok_or(EntryError::Hash)?;
    if hash == EMPTY_HASH {
        return Err(EntryError::EmptyToken);
    }
    let role = Role::from_parts(&e.role, e.credit_code.as_deref(), e.city.as_deref())?;
    let label = match &e.label {
        Some(l) if (1..=MAX_LABEL_CHARS).contains(&l.chars().count()) && !l.chars().any(char::is_control) && !l.trim().is_empty() => l.clone(),
        Some(_) => return Err(EntryError::Label),
        None => role.default_label(&hash),
    };
    Ok((hash, Principal { role, label }))
}

impl Role {
    /// The role named `role`, with the credit code (entity) or city (city) it takes.
    pub fn from_parts(role: &str, credit_code: Option<&str>, city: Option<&str>) -> Result<Role, RoleError> {
        match (role, credit_code, city) {
            ("bureau", None, None) => Ok(Role::Bureau),
            ("city", None, Some(city)) if !place::clean(city).is_empty() => Ok(Role::City(place::city(city))),
            ("entity", Some(code), None) => CreditCode::check(code).map(Role::Entity).map_err(|problem| RoleError::CreditCode { code: code.to_string(), problem }),
            ("bureau", ..) => Err(RoleError::Parts { role: "bureau", takes: "neither credit_code nor city" }),
            ("city", ..) => Err(RoleError::Parts { role: "city", takes: "a city and no credit_code" }),
            ("entity", ..) => Err(RoleError::Parts { role: "entity", takes: "a credit_code and no city" }),
            (other, ..) => Err(RoleError::Unknown(other.to_string())),
        }
    }
}

/// SHA-256 of the empty token, which no file entry may hold.
const EMPTY_HASH: [u8; 32] = [
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24, 0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
];

/// A presented token with surrounding blanks removed, or `None` when nothing is left.
pub fn presented(token: &str) -> Option<&str> {
    Some(token.trim()).filter(|t| !t.is_empty())
}

/// SHA-256 of a token.
pub fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// A fresh random token (256 bits, hex) and its file entry for `role`.
pub fn new_token(role: &Role) -> (String, String) {
    let token = hex::encode(rand::random::<[u8; 32]>());
    let mut entry = format!("[[token]]\nsha256 = \"{}\"\nrole = \"{}\"\n", hex::encode(hash(&token)), role.as_str());
    match role {
        Role::Bureau => {}
        Role::City(city) => entry.push_str(&format!("city = \"{city}\"\n")),
        Role::Entity(code) => entry.push_str(&format!("credit_code = \"{code}\"\n")),
    }
    (token, entry)
}

/// The tokens in force, shared by the handlers and replaced whole on reload.
#[derive(Debug, Clone)]
pub struct TokenStore {
    path: PathBuf,
    current: Arc<RwLock<Arc<Tokens>>>,
}

impl TokenStore {
    /// Loads the file at `path`.
    pub fn open(path: &Path) -> Result<TokenStore, TokenFileError> {
        let tokens = Tokens::load(path)?;
        Ok(TokenStore { path: path.to_path_buf(), current: Arc::new(RwLock::new(Arc::new(tokens))) })
    }

    /// No tokens at all (for reading the ledger without serving it).
    pub fn empty() -> TokenStore {
        TokenStore { path: PathBuf::new(), current: Arc::new(RwLock::new(Arc::new(Tokens::default()))) }
    }

    /// The tokens in force now.
    pub fn current(&self) -> Arc<Tokens> {
        Arc::clone(&self.current.read().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// Reads the file again; on error the tokens in force stay.
    pub fn reload(&self) -> Result<usize, TokenFileError> {
        let tokens = Tokens::load(&self.path)?;
        let n = tokens.len();
        *self.current.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(tokens);
        Ok(n)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_entry_names_itself_and_keeps_its_cause() {
        let (_, good) = new_token(&Role::Bureau);
        let bad = format!("[[token]]\nsha256 = \"{}\"\nrole = \"entity\"\ncredit_code = \"91340100MA00000010\"\n", "ab".repeat(32));
        let err = Tokens::parse(&format!("{good}{bad}")).unwrap_err();
        assert!(matches!(&err, TokenTextError::Entry { entry: 2, problem: EntryError::Role(RoleError::CreditCode { .. }) }), "{err:?}");
        assert!(err.to_string().starts_with("token 2: credit_code \"91340100MA00000010\""), "{err}");
        let mut chain = Vec::new();
        let mut at: Option<&dyn std::error::Error> = Some(&err);
        while let Some(e) = at {
            chain.push(e.to_string());
            at = e.source();
        }
        assert_eq!(chain.last().map(String::as_str), Some("fails the GB 32100-2015 check character"), "{chain:?}");
        let dir = tempfile::tempdir().unwrap();
        let missing = Tokens::load(&dir.path().join("absent.toml")).unwrap_err();
        assert!(matches!(&missing, TokenFileError::Unreadable { source, .. } if source.kind() == std::io::ErrorKind::NotFound), "{missing:?}");
        assert!(!missing.is_retryable(), "a missing file stays missing until someone writes it");
        let twice = Tokens::parse(&format!("{good}{good}")).unwrap_err();
        assert!(matches!(twice, TokenTextError::Entry { entry: 2, problem: EntryError::Repeated }), "{twice:?}");
        assert!(matches!(Tokens::parse("token = 3"), Err(TokenTextError::Syntax(_))));
    }

    #[test]
    fn new_tokens_parse_back_to_their_role() {
        let code = CreditCode::complete("91340100MA0000001").unwrap();
        for role in [Role::Bureau, Role::City("阜阳市".into()), Role::Entity(code)] {
            let (token, entry) = new_token(&role);
            let tokens = Tokens::parse(&entry).unwrap();
            assert_eq!(tokens.role_of(&token), Some(&role));
            assert_eq!(tokens.role_of(&format!("{token}x")), None);
            assert!(!entry.contains(&token), "the entry holds only the hash");
        }
    }

    #[test]
    fn city_names_are_canonical_and_bad_entries_are_named() {
        let h = "a".repeat(64);
        let t = Tokens::parse(&format!("[[token]]\nsha256 = \"{h}\"\nrole = \"city\"\ncity = \"阜阳 \"\n")).unwrap();
        assert_eq!(t.by_hash.values().next().map(|p| &p.role), Some(&Role::City("阜阳市".into())));
        for (text, says) in [
            (format!("[[token]]\nsha256 = \"{}\"\nrole = \"bureau\"\n", "A".repeat(64)), "token 1: sha256"),
            (format!("[[token]]\nsha256 = \"{h}\"\nrole = \"admin\"\n"), "not bureau, city or entity"),
            (format!("[[token]]\nsha256 = \"{h}\"\nrole = \"entity\"\n"), "takes a credit_code"),
            (format!("[[token]]\nsha256 = \"{h}\"\nrole = \"entity\"\ncredit_code = \"000000000000000000\"\n"), "credit_code"),
            (format!("[[token]]\nsha256 = \"{h}\"\nrole = \"bureau\"\n[[token]]\nsha256 = \"{h}\"\nrole = \"bureau\"\n"), "token 2: the same sha256"),
            ("[[token]]\nsha = 1\n".to_string(), "unknown field"),
            (format!("[[token]]\nsha256 = \"{}\"\nrole = \"bureau\"\n", hex::encode(hash(""))), "token 1: sha256 is the hash of the empty token"),
        ] {
            let err = Tokens::parse(&text).unwrap_err();
            let err = err.to_string();
            assert!(err.contains(says), "{err:?} should say {says:?}");
        }
    }

    #[test]
    fn empty_and_blank_tokens_are_never_looked_up() {
        assert_eq!(EMPTY_HASH, hash(""));
        let mut tokens = Tokens::default();
        for blank in ["", " ", "\t \n"] {
            tokens.by_hash.insert(hash(blank), Principal { role: Role::Bureau, label: "bureau".into() });
        }
        for blank in ["", " ", "\t \n", "   "] {
            assert_eq!(tokens.role_of(blank), None, "{blank:?}");
        }
        assert_eq!(presented("  abc \n"), Some("abc"));
    }

    #[test]
    fn labels_are_given_or_made_of_the_role_and_hash() {
        let h = "0123abcd".repeat(8);
        let code = CreditCode::complete("91340100MA0000001").unwrap();
        let text = format!(
            "[[token]]\nsha256 = \"{h}\"\nrole = \"entity\"\ncredit_code = \"{code}\"\n[[token]]\nsha256 = \"{}\"\nrole = \"city\"\ncity = \"阜阳\"\n[[token]]\nsha256 = \"{}\"\nrole = \"bureau\"\nlabel = \"省厅 张三\"\n",
            "b".repeat(64),
            "c".repeat(64)
        );
        let t = Tokens::parse(&text).unwrap();
        let label = |hex_hash: &str| t.principal_of_hash(&parse_hash(hex_hash).unwrap()).unwrap().label.clone();
        assert_eq!(label(&h), format!("entity:{code}:0123abcd"));
        assert_eq!(label(&"b".repeat(64)), "city:阜阳市:bbbbbbbb");
        assert_eq!(label(&"c".repeat(64)), "省厅 张三");
        let (token, entry) = new_token(&Role::Bureau);
        let parsed = Tokens::parse(&entry).unwrap();
        assert_eq!(parsed.principal_of(&token).unwrap().label, format!("bureau:{}", &hex::encode(hash(&token))[..8]));
        for bad in ["", "   ", "a\nb", &"x".repeat(65)] {
            let text = format!("[[token]]\nsha256 = \"{h}\"\nrole = \"bureau\"\nlabel = {}\n", toml::Value::String(bad.to_string()));
            let err = Tokens::parse(&text).unwrap_err();
            assert!(matches!(err, TokenTextError::Entry { entry: 1, problem: EntryError::Label }), "{bad:?}: {err:?}");
        }
        assert!(Tokens::parse(&format!("[[token]]\nsha256 = \"{h}\"\nrole = \"bureau\"\nlabel = \"{}\"\n", "字".repeat(64))).is_ok(), "64 characters, not bytes");
    }
}
