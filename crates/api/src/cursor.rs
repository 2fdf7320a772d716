//! Page cursors the server issues: opaque to the client, bound to what they
//! page through. A cursor is the hex of a 16-byte HMAC-SHA-256 tag followed
//! by the last key of the page; the tag covers the scope (the ledger of one
//! entity and month, or one month's settlements for one reader's scope) and
//! that key, under a key drawn at random when the process starts. A cursor
//! for another scope, altered, or from before a restart is a 400 naming
//! `cursor`, so nothing is ever read or cached for a key the server did not
//! hand out. Servers behind one load balancer share the key
//! (`SUBSIDY_API_CURSOR_KEY`), so a page can go on at any of them.

use crate::error::{ApiError, ApiResult};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::sync::Arc;
use subsidy_core::record::MAX_ID_LEN;
use subsidy_core::{CreditCode, Period};

/// Bytes of the tag kept in a cursor.
const TAG_LEN: usize = 16;
/// Longest cursor, in characters: the tag and a key of at most [`MAX_ID_LEN`] bytes, in hex.
pub const MAX_CURSOR_LEN: usize = 2 * (TAG_LEN + MAX_ID_LEN);
/// Shortest cursor: the tag and a one-byte key.
pub const MIN_CURSOR_LEN: usize = 2 * (TAG_LEN + 1);
/// The OpenAPI pattern of a cursor (lowercase hex, whole bytes).
pub const CURSOR_PATTERN: &str = "^([0-9a-f]{2}){17,144}$";

/// What a cursor pages through.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    /// One entity's lines of one month.
    Ledger(&'a CreditCode, Period),
    /// One month's settlements as a reader scope (`province` or a city) sees them.
    Settlements(Period, &'a str),
}

/// Issues and opens cursors under this process's key.
#[derive(Clone)]
pub struct Cursors {
    key: Arc<[u8; 32]>,
}

impl std::fmt::Debug for Cursors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cursors").finish_non_exhaustive()
    }
}

impl Default for Cursors {
    fn default() -> Cursors {
        Cursors { key: Arc::new(rand::random()) }
    }
}

impl Cursors {
    /// Cursors under a key shared by several servers (so a page started on one can go
    /// on at another behind the same load balancer).
    pub fn with_key(key: [u8; 32]) -> Cursors {
        Cursors { key: Arc::new(key) }
    }

    /// Reads a shared key: 64 hex digits.
    pub fn parse_key(text: &str) -> Option<[u8; 32]> {
        let mut key = [0u8; 32];
        hex::decode_to_slice(text.trim(), &mut key).ok()?;
        Some(key)
    }

    fn mac(&self, scope: Scope<'_>, last: &[u8]) -> Hmac<Sha256> {
        // A new HMAC takes a key of any length; 32 bytes always fits.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.key.as_slice()).unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        match scope {
            Scope::Ledger(code, period) => mac.update(format!("ledger\0{code}\0{period}\0").as_bytes()),
            Scope::Settlements(period, reader) => mac.update(format!("settlements\0{period}\0{}\0{reader}\0", reader.len()).as_bytes()),
        }
        mac.update(last);
        mac
    }

    /// The cursor naming `last` as the last key of a page of `scope`.
    pub fn issue(&self, scope: Scope<'_>, last: &str) -> String {
        let tag = self.mac(scope, last.as_bytes()).finalize().into_bytes();
        let mut out = hex::encode(&tag[..TAG_LEN]);
        out.push_str(&hex::encode(last.as_bytes()));
        out
    }

    /// The last key of the page `text` was issued for, if it was issued for `scope`.
    pub fn open(&self, scope: Scope<'_>, text: Option<&str>) -> ApiResult<Option<String>> {
        let Some(text) = text else { return Ok(None) };
        let bad = || ApiError::bad("cursor", "cursor must be the next_cursor this server gave for the same entity and month; start again from the first page");
        if !(MIN_CURSOR_LEN..=MAX_CURSOR_LEN).contains(&text.len()) || text.bytes().any(|b| !matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(bad());
        }
        let bytes = hex::decode(text).map_err(|_| bad())?;
        let (tag, last) = bytes.split_at(TAG_LEN);
        self.mac(scope, last).verify_truncated_left(tag).map_err(|_| bad())?;
        String::from_utf8(last.to_vec()).map(Some).map_err(|_| bad())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_opens_only_for_its_scope_and_process() {
        let code = CreditCode::complete("91340100MA0000001").unwrap();
        let other = CreditCode::complete("91340100MA0000002").unwrap();
        let (sep, oct) = (Period::parse("2025-09").unwrap(), Period::parse("2025-10").unwrap());
        let cursors = Cursors::default();
        let c = cursors.issue(Scope::Ledger(&code, sep), "rec-7/α");
        assert_eq!(cursors.open(Scope::Ledger(&code, sep), Some(&c)).unwrap().as_deref(), Some("rec-7/α"));
        assert_eq!(cursors.open(Scope::Ledger(&code, sep), None).unwrap(), None);
        for (scope, text) in [
            (Scope::Ledger(&other, sep), c.clone()),
            (Scope::Ledger(&code, oct), c.clone()),
            (Scope::Settlements(sep, "province"), c.clone()),
            (Scope::Ledger(&code, sep), format!("{}{}", &c[..32], hex::encode("rec-8"))),
            (Scope::Ledger(&code, sep), c.to_uppercase()),
            (Scope::Ledger(&code, sep), "00".into()),
            (Scope::Ledger(&code, sep), "0".repeat(MIN_CURSOR_LEN)),
            (Scope::Ledger(&code, sep), "ab".repeat(200)),
        ] {
            let e = cursors.open(scope, Some(&text)).unwrap_err();
            assert!(matches!(e, ApiError::BadParameter { parameter: "cursor", .. }), "{text}");
        }
        assert!(Cursors::default().open(Scope::Ledger(&code, sep), Some(&c)).is_err(), "another process's key");
        let key = Cursors::parse_key(&"ab".repeat(32)).unwrap();
        let shared = Cursors::with_key(key).issue(Scope::Ledger(&code, sep), "r-1");
        assert_eq!(Cursors::with_key(key).open(Scope::Ledger(&code, sep), Some(&shared)).unwrap().as_deref(), Some("r-1"), "a shared key");
        assert!(Cursors::parse_key("abc").is_none() && Cursors::parse_key(&"zz".repeat(32)).is_none());
        let longest = cursors.issue(Scope::Ledger(&code, sep), &"x".repeat(MAX_ID_LEN));
        assert_eq!(longest.len(), MAX_CURSOR_LEN);
        let settlements = cursors.issue(Scope::Settlements(sep, "阜阳市"), code.as_str());
        assert!(cursors.open(Scope::Settlements(sep, "province"), Some(&settlements)).is_err(), "a city's cursor is the city's");
    }
}
