//! The unified social credit code (统一社会信用代码) of GB 32100-2015.
//!
//! Eighteen characters from a 31-symbol alphabet, the last one a check
//! character over the first seventeen. Stored as 18 ASCII bytes so it is
//! `Copy` and cheap to hash.

use std::fmt;

const ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const WEIGHTS: [u32; 17] = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

/// A credit code whose check character has been verified.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CreditCode([u8; 18]);

fn value_of(c: u8) -> Option<u32> {
    ALPHABET.iter().position(|&a| a == c).map(|p| p as u32)
}

/// The check character for the first seventeen characters, if they are all in the alphabet.
pub fn check_character(first17: &[u8]) -> Option<u8> {
    if first17.len() != 17 {
        return None;
    }
    let mut sum = 0u32;
    for (c, w) in first17.iter().zip(WEIGHTS) {
        sum += value_of(*c)? * w;
    }
    let check = (31 - sum % 31) % 31;
    Some(ALPHABET[check as usize])
}

impl CreditCode {
    /// Parses and verifies a code. Lower-case letters are refused, as the standard uses capitals.
    pub fn parse(text: &str) -> Option<CreditCode> {
        let bytes = text.as_bytes();
        if bytes.len() != 18 {
            return None;
        }
        if check_character(&bytes[..17])? != bytes[17] {
            return None;
        }
        let mut code = [0u8; 18];
        code.copy_from_slice(bytes);
        Some(CreditCode(code))
    }

    /// Completes seventeen characters with their check character (for generators and tests).
    pub fn complete(first17: &str) -> Option<CreditCode> {
        let check = check_character(first17.as_bytes())?;
        let mut code = [0u8; 18];
        code[..17].copy_from_slice(first17.as_bytes());
        code[17] = check;
        Some(CreditCode(code))
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        // Only alphabet bytes (ASCII) are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("")
    }
}

impl fmt::Display for CreditCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for CreditCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CreditCode({})", self.as_str())
    }
}

impl serde::Serialize for CreditCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_codes_verify() {
        // Published codes of real organisations.
        for code in ["91340100MA2MTN5C3A", "12340000485000001E", "91110000802100433B"] {
            let expected = check_character(&code.as_bytes()[..17]).unwrap() as char;
            assert_eq!(CreditCode::parse(code).is_some(), code.ends_with(expected), "{code}");
        }
        let c = CreditCode::complete("91340100MA2MTN5C3").unwrap();
        assert_eq!(CreditCode::parse(c.as_str()), Some(c));
    }

    #[test]
    fn rejects_bad_codes() {
        let good = CreditCode::complete("12340000485000001").unwrap();
        let mut bad = good.as_str().to_string();
        let last = bad.pop().unwrap();
        bad.push(if last == '0' { '1' } else { '0' });
        assert_eq!(CreditCode::parse(&bad), None);
        assert_eq!(CreditCode::parse("short"), None);
        assert_eq!(CreditCode::parse("I2340000485000001E"), None, "I is not in the alphabet");
        assert_eq!(CreditCode::parse(&good.as_str().to_lowercase()), None);
        assert_eq!(CreditCode::parse("安徽省00000000000000"), None);
    }

    #[test]
    fn check_is_mod_31() {
        // Sum 0 gives check '0', not the out-of-range 31.
        assert_eq!(check_character(b"00000000000000000"), Some(b'0'));
    }
}
