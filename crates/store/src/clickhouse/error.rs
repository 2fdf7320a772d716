//! The one place that decides what a ClickHouse failure means: retry or not.

use crate::{StoreCause, StoreError};
use ::clickhouse::error::Error;

/// Server error codes that clear up on their own (overload, timeouts, replica trouble).
const TRANSIENT_CODES: &[u32] = &[
    3,   // UNEXPECTED_END_OF_FILE
    159, // TIMEOUT_EXCEEDED
    160, // TOO_SLOW
    164, // READONLY (replica in read-only mode)
    202, // TOO_MANY_SIMULTANEOUS_QUERIES
    203, // NO_FREE_CONNECTION
    209, // SOCKET_TIMEOUT
    210, // NETWORK_ERROR
    241, // MEMORY_LIMIT_EXCEEDED
    242, // TABLE_IS_READ_ONLY
    252, // TOO_MANY_PARTS
    285, // TOO_FEW_LIVE_REPLICAS
    319, // UNKNOWN_STATUS_OF_INSERT
    425, // SYSTEM_ERROR
    999, // KEEPER_EXCEPTION
];

/// Maps a client error to a store error: network trouble, timeouts, gateway
/// errors and transient server codes are `Unavailable` (retryable); other
/// server answers are `Rejected`; undecodable data is `Corrupt`.
/// The client's error is kept as the source.
pub(crate) fn map_error(err: Error) -> StoreError {
    let message = match &err {
        Error::Network(e) => format!("clickhouse: {e}"),
        Error::TimedOut => "clickhouse: timed out".to_string(),
        Error::BadResponse(reason) => format!("clickhouse: {}", first_line(reason)),
        e => format!("clickhouse: {e}"),
    };
    let kind = match &err {
        Error::Network(_) | Error::TimedOut => Kind::Unavailable,
        Error::BadResponse(reason) if is_transient(reason) => Kind::Unavailable,
        Error::NotEnoughData | Error::DataFormat(_) | Error::InvalidUtf8Encoding(_) | Error::InvalidTagEncoding(_) | Error::Decompression(_) | Error::RowNotFound | Error::Custom(_) => Kind::Corrupt,
        _ => Kind::Rejected,
    };
    let cause = Some(StoreCause::ClickHouse(err));
    match kind {
        Kind::Unavailable => StoreError::Unavailable { message, cause },
        Kind::Rejected => StoreError::Rejected { message, cause },
        Kind::Corrupt => StoreError::Corrupt { message, cause },
    }
}

enum Kind {
    Unavailable,
    Rejected,
    Corrupt,
}

/// Whether an error response clears up on its own, by its `Code: N` or HTTP status line.
fn is_transient(reason: &str) -> bool {
    match server_code(reason) {
        Some(code) => TRANSIENT_CODES.contains(&code),
        // No server code: a bare status line, e.g. from a proxy.
        None => reason.starts_with("502") || reason.starts_with("503") || reason.starts_with("504"),
    }
}

/// The number after a leading `Code: `.
fn server_code(reason: &str) -> Option<u32> {
    let rest = reason.trim_start().strip_prefix("Code: ")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Error bodies can be long (they quote the query); keep the first line, capped.
fn first_line(reason: &str) -> String {
    let line = reason.lines().next().unwrap_or("");
    line.chars().take(500).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn decides_retry_by_code_and_status() {
        let e = map_error(Error::BadResponse("Code: 241, e.displayText() = DB::Exception: Memory limit".into()));
        assert!(e.is_retryable(), "{e}");
        let e = map_error(Error::BadResponse("Code: 62, e.displayText() = DB::Exception: Syntax error".into()));
        assert_eq!(e.kind(), "rejected");
        assert!(map_error(Error::BadResponse("503 Service Unavailable".into())).is_retryable());
        assert!(!map_error(Error::BadResponse("400 Bad Request".into())).is_retryable());
        assert!(map_error(Error::TimedOut).is_retryable());
        assert_eq!(map_error(Error::NotEnoughData).kind(), "corrupt");
    }

    /// The client's error stays reachable as the source; the message and the retry decision are as before.
    #[test]
    fn keeps_the_client_error_as_the_source() {
        use std::error::Error as _;
        let e = map_error(Error::TimedOut);
        assert_eq!(e.to_string(), "store unavailable: clickhouse: timed out");
        assert!(e.is_retryable());
        let source = e.source().expect("a source");
        assert!(matches!(source.downcast_ref::<StoreCause>(), Some(StoreCause::ClickHouse(Error::TimedOut))), "{source:?}");
        let e = map_error(Error::BadResponse("Code: 62, e.displayText() = DB::Exception: Syntax error\nquery text".into()));
        assert_eq!(e.to_string(), "store refused the request: clickhouse: Code: 62, e.displayText() = DB::Exception: Syntax error");
        assert!(matches!(e.source().and_then(|s| s.downcast_ref::<StoreCause>()), Some(StoreCause::ClickHouse(Error::BadResponse(_)))));
    }

    #[test]
    fn reads_the_server_code() {
        assert_eq!(server_code("Code: 252. DB::Exception: Too many parts"), Some(252));
        assert_eq!(server_code("oops"), None);
    }
}
