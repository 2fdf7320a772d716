//! Parameters, checked before anything reaches the store: months, credit
//! codes, record ids and page sizes (cursors are checked by [`crate::cursor`]).
//! Anything else is a 400 that names the parameter; values reach queries only
//! as bound values.

use crate::error::{ApiError, ApiResult};
use subsidy_core::record::MAX_ID_LEN;
use subsidy_core::{CreditCode, Period};

/// The OpenAPI pattern of a month: years 0001 to 9999.
pub const MONTH_PATTERN: &str = "^(0{3}[1-9]|0{2}[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})-(0[1-9]|1[0-2])$";

/// The OpenAPI pattern of a credit code: a registration authority and organisation type of
/// GB 32100-2015, a division code of a known province (or `10`, national), then ten
/// characters of the alphabet. Only the check character is left unstated.
pub const CREDIT_CODE_PATTERN: &str =
    "^(1[1239]|2[19]|3[1-59]|4[19]|5[1239]|6[129]|7[129]|8[19]|9[1-3]|A[19]|N[1239]|Y1)(10|1[1-5]|2[1-3]|3[1-7]|4[1-6]|5[0-4]|6[1-5]|71|8[12])[0-9]{4}[0-9A-HJ-NPQRTUWXY]{10}$";

/// The OpenAPI pattern of a record id: no control characters (its length in bytes is
/// stated by `maxLength` only for ASCII).
pub const RECORD_ID_PATTERN: &str = "^[^\\u0000-\\u001F\\u007F-\\u009F]+$";

/// Lines per page when none is asked for.
pub const DEFAULT_LIMIT: usize = 200;
/// The most lines a page holds.
pub const MAX_LIMIT: usize = 1000;

/// A `YYYY-MM` month.
pub fn month(parameter: &'static str, text: &str) -> ApiResult<Period> {
    let shaped = text.len() == 7 && text.as_bytes()[4] == b'-' && text.bytes().enumerate().all(|(i, b)| i == 4 || b.is_ascii_digit());
    match Period::parse(text) {
        Some(p) if shaped => Ok(p),
        _ => Err(ApiError::bad(parameter, format!("{parameter} must be a month YYYY-MM, got {:?}", clip(text)))),
    }
}

/// An optional `YYYY-MM` month.
pub fn opt_month(parameter: &'static str, text: Option<&str>) -> ApiResult<Option<Period>> {
    text.map(|t| month(parameter, t)).transpose()
}

/// A `from`–`to` range of months, either end open. A `to` before `from` is a range that
/// holds no month (answered with none), not an error: each end is valid on its own, and
/// the document can state only what each parameter is on its own.
pub fn months(from: Option<&str>, to: Option<&str>) -> ApiResult<(Option<Period>, Option<Period>)> {
    Ok((opt_month("from", from)?, opt_month("to", to)?))
}

/// A unified social credit code.
pub fn credit_code(text: &str) -> ApiResult<CreditCode> {
    CreditCode::check(text).map_err(|e| ApiError::bad("credit_code", format!("credit_code {:?} is not a valid unified social credit code: {e}", clip(text))))
}

/// A record id as the platform gives them: 1–128 bytes, no control characters.
pub fn record_id(text: &str) -> ApiResult<String> {
    if text.is_empty() || text.len() > MAX_ID_LEN || text.chars().any(char::is_control) {
        return Err(ApiError::bad("record_id", format!("record_id must be 1–{MAX_ID_LEN} bytes without control characters")));
    }
    Ok(text.to_string())
}

/// A page size: 1 to [`MAX_LIMIT`], [`DEFAULT_LIMIT`] when absent.
pub fn limit(text: Option<&str>) -> ApiResult<usize> {
    let Some(text) = text else { return Ok(DEFAULT_LIMIT) };
    match text.parse::<usize>() {
        Ok(n) if (1..=MAX_LIMIT).contains(&n) && text.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
        _ => Err(ApiError::bad("limit", format!("limit must be a whole number from 1 to {MAX_LIMIT}, got {:?}", clip(text)))),
    }
}

/// At most 40 characters of a bad value, for messages.
fn clip(text: &str) -> String {
    text.chars().take(40).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn months_are_strict() {
        assert_eq!(month("period", "2025-09").unwrap().to_string(), "2025-09");
        for bad in ["0000-01", "2025-9", "2025-13", "2025-00", "25-09", "2025/09", "２０２５-09", "2025-09' OR 1=1", "", "2025-09\n", "99999-01"] {
            let e = month("period", bad).unwrap_err();
            assert!(matches!(e, ApiError::BadParameter { parameter: "period", .. }), "{bad:?}");
        }
        let (from, to) = months(Some("2025-09"), Some("2025-08")).unwrap();
        assert!(!crate::views::in_range(Period::parse("2025-08").unwrap(), from, to) && !crate::views::in_range(Period::parse("2025-09").unwrap(), from, to), "an inverted range holds no month");
        assert!(matches!(months(Some("2025-09"), Some("2025-13")), Err(ApiError::BadParameter { parameter: "to", .. })));
    }

    #[test]
    fn limits_cursors_and_ids() {
        assert_eq!(limit(None).unwrap(), DEFAULT_LIMIT);
        assert_eq!(limit(Some("1000")).unwrap(), 1000);
        for bad in ["0", "1001", "-1", "+5", "1e3", "99999999999999999999999", ""] {
            assert!(limit(Some(bad)).is_err(), "{bad:?}");
        }
        assert!(record_id(&"x".repeat(129)).is_err());
        assert!(record_id("a\u{0}b").is_err());
        assert_eq!(record_id("rec' OR 1=1 --").unwrap(), "rec' OR 1=1 --", "odd text is an id like any other, bound as a value");
    }
}
