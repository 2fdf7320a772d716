//! The unified social credit code (统一社会信用代码) of GB 32100-2015.
//!
//! Eighteen characters from a 31-symbol alphabet: the registration
//! authority (1), the organisation type (1), the administrative division
//! code of the registering office (6), the organisation code (9) and a check
//! character over the first seventeen. A code is accepted only when the
//! check character is right *and* the authority, type and division are ones
//! the standard defines, so that e.g. `000000000000000000` (whose check
//! character happens to be right) is refused. Stored as 18 ASCII bytes so it
//! is `Copy` and cheap to hash.

use crate::place;
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

/// Organisation types each registration authority may issue (GB 32100-2015, table 1).
const AUTHORITY_TYPES: [(u8, &[u8]); 12] = [
    (b'1', b"1239"),   // 机构编制: 机关, 事业单位, 群众团体, 其他
    (b'2', b"19"),     // 外交
    (b'3', b"123459"), // 司法行政
    (b'4', b"19"),     // 文化
    (b'5', b"1239"),   // 民政: 社会团体, 民办非企业单位, 基金会, 其他
    (b'6', b"129"),    // 旅游
    (b'7', b"129"),    // 宗教
    (b'8', b"19"),     // 工会
    (b'9', b"123"),    // 市场监管: 企业, 个体工商户, 农民专业合作社
    (b'A', b"19"),     // 中央军委改革和编制办公室
    (b'N', b"1239"),   // 农业
    (b'Y', b"1"),      // 其他
];

/// Why a string is not a credit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeError {
    /// Not eighteen characters of the code's alphabet (capitals only).
    Shape,
    /// The check character does not match the first seventeen.
    CheckCharacter,
    /// The registration authority or organisation type is not one the standard defines.
    Authority,
    /// The administrative division code names no province.
    Division,
}

impl fmt::Display for CodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CodeError::Shape => "is not 18 characters of the GB 32100-2015 alphabet",
            CodeError::CheckCharacter => "fails the GB 32100-2015 check character",
            CodeError::Authority => "names no registration authority and organisation type of GB 32100-2015",
            CodeError::Division => "holds no known administrative division code",
        })
    }
}

impl std::error::Error for CodeError {}

impl CreditCode {
    /// Parses and verifies a code. Lower-case letters are refused, as the standard uses capitals.
    pub fn parse(text: &str) -> Option<CreditCode> {
        CreditCode::check(text).ok()
    }

    /// Parses and verifies a code, saying what is wrong with it.
    pub fn check(text: &str) -> Result<CreditCode, CodeError> {
        let bytes = text.as_bytes();
        if bytes.len() != 18 {
            return Err(CodeError::Shape);
        }
        let expected = check_character(&bytes[..17]).ok_or(CodeError::Shape)?;
        if value_of(bytes[17]).is_none() {
            return Err(CodeError::Shape);
        }
        if expected != bytes[17] {
            return Err(CodeError::CheckCharacter);
        }
        let types = AUTHORITY_TYPES.iter().find(|(a, _)| *a == bytes[0]).map(|(_, t)| *t);
        if !types.is_some_and(|t| t.contains(&bytes[1])) {
            return Err(CodeError::Authority);
        }
        if !place::is_known_division(&text[2..8]) {
            return Err(CodeError::Division);
        }
        let mut code = [0u8; 18];
        code.copy_from_slice(bytes);
        Ok(CreditCode(code))
    }

    /// The six-digit administrative division code of the registering office.
    pub fn division(&self) -> &str {
        &self.as_str()[2..8]
    }

    /// Completes seventeen characters with their check character (for generators and tests);
    /// `None` unless the result is a code [`CreditCode::parse`] accepts.
    pub fn complete(first17: &str) -> Option<CreditCode> {
        let check = check_character(first17.as_bytes())?;
        let mut text = String::with_capacity(18);
        text.push_str(first17);
        text.push(char::from(check));
        CreditCode::parse(&text)
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

impl<'de> serde::Deserialize<'de> for CreditCode {
    /// A checked code: the same checks as [`CreditCode::check`].
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<CreditCode, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        CreditCode::check(&text).map_err(|e| serde::de::Error::custom(format!("credit code {text:?} {e}")))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn published_codes_verify() {
        // Codes published by the organisations themselves.
        for code in [
            "914403001922038216", // 华为技术有限公司
            "9144030071526726XG", // 腾讯科技（深圳）有限公司
            "91340000711771143J", // 科大讯飞股份有限公司
            "91110108551385082Q", // 小米科技有限责任公司
            "91330100799655058B", // 阿里巴巴（中国）有限公司
        ] {
            let parsed = CreditCode::check(code);
            assert_eq!(parsed.map(|c| c.to_string()), Ok(code.to_string()), "{code}");
        }
        assert_eq!(CreditCode::parse("91340000711771143J").map(|c| c.division().to_string()), Some("340000".into()));
    }

    #[test]
    fn rejects_bad_codes_with_the_reason() {
        let good = CreditCode::complete("12340000485000001").unwrap();
        let mut bad = good.as_str().to_string();
        let last = bad.pop().unwrap();
        bad.push(if last == '0' { '1' } else { '0' });
        assert_eq!(CreditCode::check(&bad), Err(CodeError::CheckCharacter));
        assert_eq!(CreditCode::check("short"), Err(CodeError::Shape));
        assert_eq!(CreditCode::check("I2340000485000001E"), Err(CodeError::Shape), "I is not in the alphabet");
        assert_eq!(CreditCode::check(&good.as_str().to_lowercase()), Err(CodeError::Shape));
        assert_eq!(CreditCode::check("安徽省00000000000000"), Err(CodeError::Shape));
        // Right check character, but no authority 0, type 0 or division 000000.
        assert_eq!(check_character(b"00000000000000000"), Some(b'0'));
        assert_eq!(CreditCode::check("000000000000000000"), Err(CodeError::Authority));
        // Authority 9 (market regulation) issues types 1–3 only.
        assert_eq!(CreditCode::complete("99340100MA0000001"), None);
        let wrong_type = format!("99340100MA0000001{}", char::from(check_character(b"99340100MA0000001").unwrap()));
        assert_eq!(CreditCode::check(&wrong_type), Err(CodeError::Authority));
        let nowhere = format!("91990100MA0000001{}", char::from(check_character(b"91990100MA0000001").unwrap()));
        assert_eq!(CreditCode::check(&nowhere), Err(CodeError::Division));
    }

    #[test]
    fn check_is_mod_31() {
        // Sum 0 gives check '0', not the out-of-range 31.
        assert_eq!(check_character(b"00000000000000000"), Some(b'0'));
    }
}
