//! Parameters, checked before anything reaches the store: months, credit
//! codes, record ids, cursors and page sizes. Anything else is a 400 that
//! names the parameter; values reach queries only as bound values.

use crate::error::{ApiError, ApiResult};
use subsidy_core::record::MAX_ID_LEN;
use subsidy_core::{CreditCode, Period};

/// The OpenAPI pattern of a month.
pub const MONTH_PATTERN: &str = "^[0-9]{4}-(0[1-9]|1[0-2])$";

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

/// A `from`–`to` range of months, either end open.
pub fn months(from: Option<&str>, to: Option<&str>) -> ApiResult<(Option<Period>, Option<Period>)> {
    let (from, to) = (opt_month("from", from)?, opt_month("to", to)?);
    if let (Some(f), Some(t)) = (from, to) {
        if t < f {
            return Err(ApiError::bad("to", format!("to ({t}) is before from ({f})")));
        }
    }
    Ok((from, to))
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

/// A cursor: the hex of the last key of the previous page.
pub fn cursor(text: Option<&str>) -> ApiResult<Option<String>> {
    let Some(text) = text else { return Ok(None) };
    let bad = || ApiError::bad("cursor", "cursor must be a value given as next_cursor by an earlier page");
    if text.is_empty() || text.len() > 2 * MAX_ID_LEN {
        return Err(bad());
    }
    let bytes = hex::decode(text).map_err(|_| bad())?;
    let key = String::from_utf8(bytes).map_err(|_| bad())?;
    if key.chars().any(char::is_control) {
        return Err(bad());
    }
    Ok(Some(key))
}

/// The cursor naming `key` as the last of a page.
pub fn cursor_of(key: &str) -> String {
    hex::encode(key.as_bytes())
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
        for bad in ["2025-9", "2025-13", "2025-00", "25-09", "2025/09", "２０２５-09", "2025-09' OR 1=1", "", "2025-09\n", "99999-01"] {
            let e = month("period", bad).unwrap_err();
            assert!(matches!(e, ApiError::BadParameter { parameter: "period", .. }), "{bad:?}");
        }
        assert!(matches!(months(Some("2025-09"), Some("2025-08")), Err(ApiError::BadParameter { parameter: "to", .. })));
    }

    #[test]
    fn limits_cursors_and_ids() {
        assert_eq!(limit(None).unwrap(), DEFAULT_LIMIT);
        assert_eq!(limit(Some("1000")).unwrap(), 1000);
        for bad in ["0", "1001", "-1", "+5", "1e3", "99999999999999999999999", ""] {
            assert!(limit(Some(bad)).is_err(), "{bad:?}");
        }
        let c = cursor_of("rec-7/α");
        assert_eq!(cursor(Some(&c)).unwrap().as_deref(), Some("rec-7/α"));
        for bad in ["zz", "abc", "00", &"ab".repeat(200)] {
            assert!(cursor(Some(bad)).is_err(), "{bad:?}");
        }
        assert!(record_id(&"x".repeat(129)).is_err());
        assert!(record_id("a\u{0}b").is_err());
        assert_eq!(record_id("rec' OR 1=1 --").unwrap(), "rec' OR 1=1 --", "odd text is an id like any other, bound as a value");
    }
}
