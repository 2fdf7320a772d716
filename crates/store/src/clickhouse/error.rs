//! The one place that decides what a ClickHouse failure means: retry or not.

use crate::StoreError;
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
pub(crate) fn map_error(err: Error) -> StoreError {
    match err {
        Error::Network(e) => StoreError::Unavailable(format!("clickhouse: {e}")),
        Error::TimedOut => StoreError::Unavailable("clickhouse: timed out".to_string()),
        Error::BadResponse(reason) => classify_response(reason),
        e @ (Error::NotEnoughData
        | Error::DataFormat(_)
        | Error::InvalidUtf8Encoding(_)
        | Error::InvalidTagEncoding(_)
        | Error::Decompression(_)
        | Error::RowNotFound
        | Error::Custom(_)) => StoreError::Corrupt(format!("clickhouse: {e}")),
        e => StoreError::Rejected(format!("clickhouse: {e}")),
    }
}

/// Classifies an error response by its `Code: N` or HTTP status line.
fn classify_response(reason: String) -> StoreError {
    let transient = match server_code(&reason) {
        Some(code) => TRANSIENT_CODES.contains(&code),
        // No server code: a bare status line, e.g. from a proxy.
        None => reason.starts_with("502") || reason.starts_with("503") || reason.starts_with("504"),
    };
    let message = format!("clickhouse: {}", first_line(&reason));
    if transient {
        StoreError::Unavailable(message)
    } else {
        StoreError::Rejected(message)
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

    #[test]
    fn reads_the_server_code() {
        assert_eq!(server_code("Code: 252. DB::Exception: Too many parts"), Some(252));
        assert_eq!(server_code("oops"), None);
    }
}
