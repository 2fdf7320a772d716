//! SQLite column conversions and error mapping.

use crate::{StoreCause, StoreError, StoreResult};
use chrono::{DateTime, SecondsFormat, Utc};
use rust_decimal::Decimal;

/// Maps a SQLite error: lock contention and IO trouble are `Unavailable`
/// (retryable), undecodable columns `Corrupt`, the rest `Rejected`.
pub(super) fn map_error(err: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode as C;
    let message = format!("sqlite: {err}");
    let cause = Some(StoreCause::Sqlite(err));
    match &cause {
        Some(StoreCause::Sqlite(rusqlite::Error::SqliteFailure(f, _))) => match f.code {
            C::DatabaseBusy | C::DatabaseLocked | C::CannotOpen | C::SystemIoFailure | C::DiskFull | C::OutOfMemory => StoreError::Unavailable { message, cause },
            C::DatabaseCorrupt | C::NotADatabase => StoreError::Corrupt { message, cause },
            _ => StoreError::Rejected { message, cause },
        },
        Some(StoreCause::Sqlite(
            rusqlite::Error::FromSqlConversionFailure(..) | rusqlite::Error::IntegralValueOutOfRange(..) | rusqlite::Error::InvalidColumnType(..) | rusqlite::Error::Utf8Error(..),
        )) => StoreError::Corrupt { message, cause },
        _ => StoreError::Rejected { message, cause },
    }
}

/// A stored decimal text.
pub(super) fn decimal(text: &str, field: &str) -> StoreResult<Decimal> {
    Decimal::from_str_exact(text).map_err(|e| StoreError::Corrupt { message: format!("{field} {text:?} in store: {e}"), cause: Some(e.into()) })
}

/// A stored non-negative integer that must fit `u32`.
pub(super) fn u32_of(v: i64, field: &str) -> StoreResult<u32> {
    u32::try_from(v).map_err(|_| StoreError::corrupt(format!("{field} {v} in store is out of range")))
}

/// A stored non-negative integer that must fit `u64`.
pub(super) fn u64_of(v: i64, field: &str) -> StoreResult<u64> {
    u64::try_from(v).map_err(|_| StoreError::corrupt(format!("{field} {v} in store is out of range")))
}

/// A `u64` to store as SQLite's signed integer.
pub(super) fn i64_of(v: u64, field: &str) -> StoreResult<i64> {
    i64::try_from(v).map_err(|_| StoreError::rejected(format!("{field} {v} does not fit a 64-bit signed integer")))
}

/// Closure times are kept to the second, as in ClickHouse's `DateTime`.
pub(super) fn closure_time(t: DateTime<Utc>) -> String {
    let secs = DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t);
    secs.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The inverse of [`closure_time`].
pub(super) fn parse_closure_time(text: &str) -> StoreResult<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt { message: format!("closed_at {text:?} in store: {e}"), cause: Some(e.into()) })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn closure_times_keep_seconds() {
        let t = DateTime::parse_from_rfc3339("2025-10-01T08:00:00.750+08:00").unwrap().with_timezone(&Utc);
        let text = closure_time(t);
        assert_eq!(text, "2025-10-01T00:00:00Z");
        assert_eq!(parse_closure_time(&text).unwrap().timestamp(), t.timestamp());
    }

    #[test]
    fn decimals_round_trip_exactly() {
        assert_eq!(decimal("0.0000000001", "c").unwrap().to_string(), "0.0000000001");
        assert_eq!(decimal("1e5", "c").unwrap_err().kind(), "corrupt");
    }

    /// SQLite's error stays reachable as the source; the message and the retry decision are as before.
    #[test]
    fn keeps_the_sqlite_error_as_the_source() {
        use std::error::Error as _;
        let busy = rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY), None);
        let e = map_error(busy);
        assert!(e.is_retryable());
        assert!(e.to_string().starts_with("store unavailable: sqlite: "), "{e}");
        assert!(matches!(e.source().and_then(|s| s.downcast_ref::<StoreCause>()), Some(StoreCause::Sqlite(rusqlite::Error::SqliteFailure(..)))));
        let e = map_error(rusqlite::Error::QueryReturnedNoRows);
        assert_eq!((e.kind(), e.to_string().as_str()), ("rejected", "store refused the request: sqlite: Query returned no rows"));
        assert!(e.source().is_some());
        let bad = decimal("1e5", "c").unwrap_err();
        assert!(matches!(bad.source().and_then(|s| s.downcast_ref::<StoreCause>()), Some(StoreCause::Decimal(_))));
    }
}
