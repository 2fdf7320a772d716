//! Reading the platform's `Retry-After` header: delay-seconds or an HTTP-date,
//! anything else ignored. How long the wait may be is the retry policy's call.

use chrono::{DateTime, Utc};
use reqwest::header::{HeaderMap, RETRY_AFTER};
use std::time::Duration;

/// The delay the header asks for, read at `now`; `None` when there is no header or it
/// cannot be read (a warning says so).
pub(crate) fn from_headers(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let raw = headers.get(RETRY_AFTER)?;
    let parsed = raw.to_str().ok().and_then(|t| parse(t.trim(), now));
    if parsed.is_none() {
        let shown: String = String::from_utf8_lossy(raw.as_bytes()).chars().take(64).collect();
        tracing::warn!(value = ?shown, "ignoring a Retry-After that is neither seconds nor an HTTP date");
    }
    parsed
}

/// Delay-seconds (a number past what a `u64` holds reads as the largest), or an
/// HTTP-date (the time until it; zero when it is past).
pub(crate) fn parse(text: &str, now: DateTime<Utc>) -> Option<Duration> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return Some(Duration::from_secs(text.parse().unwrap_or(u64::MAX)));
    }
    let at = DateTime::parse_from_rfc2822(text).ok()?.with_timezone(&Utc);
    Some(at.signed_duration_since(now).to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn seconds_dates_and_garbage() {
        let now = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(parse("7", now), Some(Duration::from_secs(7)));
        assert_eq!(parse("4000000000", now), Some(Duration::from_secs(4_000_000_000)));
        assert_eq!(parse("99999999999999999999999999", now), Some(Duration::from_secs(u64::MAX)));
        assert_eq!(parse("Thu, 01 Jan 2026 00:02:00 GMT", now), Some(Duration::from_secs(120)));
        assert_eq!(parse("Wed, 31 Dec 2025 23:00:00 GMT", now), Some(Duration::ZERO));
        assert_eq!(parse("Fri, 31 Dec 9999 23:59:59 GMT", now).map(|d| d.as_secs() > 200 * 365 * 86_400), Some(true));
        for garbage in ["", "-5", "1.5", "soon", "0x10", "Thu, 99 Foo 2026"] {
            assert_eq!(parse(garbage, now), None, "{garbage:?}");
        }
        let mut h = HeaderMap::new();
        assert_eq!(from_headers(&h, now), None);
        h.insert(RETRY_AFTER, HeaderValue::from_bytes(b"\xff\xfe").unwrap());
        assert_eq!(from_headers(&h, now), None);
        h.insert(RETRY_AFTER, HeaderValue::from_static(" 30 "));
        assert_eq!(from_headers(&h, now), Some(Duration::from_secs(30)));
    }
}
