//! Why a request to the platform failed, and whether trying again can help.

use std::time::Duration;

/// A failed request, classified for the retry decision and for metric labels.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// 401 or 403: the token is wrong. Not retryable.
    #[error("the platform refused the token (HTTP {status})")]
    Unauthorized {
        /// 401 or 403.
        status: u16,
    },
    /// 429, with the `Retry-After` delay when the platform sent one.
    #[error("rate limited by the platform (retry after {retry_after:?})")]
    RateLimited {
        /// The platform's `Retry-After`.
        retry_after: Option<Duration>,
    },
    /// A 5xx answer.
    #[error("platform server error HTTP {status}")]
    Server {
        /// The status.
        status: u16,
        /// The platform's `Retry-After`, if any.
        retry_after: Option<Duration>,
    },
    /// Another 4xx answer, e.g. a refused cursor or limit. Not retryable.
    #[error("the platform refused the request (HTTP {status}): {message}")]
    Rejected {
        /// The status.
        status: u16,
        /// The platform's error text.
        message: String,
    },
    /// No complete answer within the timeout.
    #[error("request timed out")]
    Timeout,
    /// The body ended before the JSON did (or the connection broke while reading it).
    #[error("response body truncated: {0}")]
    Truncated(String),
    /// The body is complete but not the JSON the API promises.
    #[error("response body does not decode: {0}")]
    Decode(String),
    /// The platform broke the API's contract in a way asking again cannot mend: a
    /// body larger than any page can be, or a cursor that leads back to itself. Not retryable.
    #[error("the platform broke the API contract: {0}")]
    Protocol(String),
    /// A 3xx answer. Redirects are never followed, so the token is sent to the
    /// configured platform URL only. Not retryable.
    #[error("the platform answered HTTP {status} redirecting to {location:?}; redirects are refused so that the token goes nowhere but the configured platform URL")]
    Redirected {
        /// The status.
        status: u16,
        /// The `Location` header, cut to 200 characters.
        location: String,
    },
    /// The connection could not be made or broke before an answer.
    #[error("connection failed: {0}")]
    Connect(String),
    /// The client could not be built (bad base URL, TLS set-up). Not retryable.
    #[error("client configuration: {0}")]
    Config(String),
}

impl FetchError {
    /// Whether the same request may succeed if tried again.
    pub fn is_retryable(&self) -> bool {
        !matches!(self, FetchError::Unauthorized { .. } | FetchError::Rejected { .. } | FetchError::Protocol(_) | FetchError::Redirected { .. } | FetchError::Config(_))
    }

    /// The delay the platform asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            FetchError::RateLimited { retry_after } | FetchError::Server { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// A short fixed label for metrics and logs.
    pub fn cause(&self) -> &'static str {
        match self {
            FetchError::Unauthorized { .. } => "unauthorized",
            FetchError::RateLimited { .. } => "rate_limited",
            FetchError::Server { .. } => "server_error",
            FetchError::Rejected { .. } => "rejected",
            FetchError::Timeout => "timeout",
            FetchError::Truncated(_) => "truncated",
            FetchError::Decode(_) => "decode",
            FetchError::Protocol(_) => "protocol",
            FetchError::Redirected { .. } => "redirected",
            FetchError::Connect(_) => "connect",
            FetchError::Config(_) => "config",
        }
    }

    /// Every value [`FetchError::cause`] returns.
    pub const CAUSES: [&'static str; 11] =
        ["unauthorized", "rate_limited", "server_error", "rejected", "timeout", "truncated", "decode", "protocol", "redirected", "connect", "config"];

    pub(crate) fn from_reqwest(e: &reqwest::Error) -> FetchError {
        if e.is_timeout() {
            FetchError::Timeout
        } else if e.is_body() || e.is_decode() {
            FetchError::Truncated(e.to_string())
        } else if e.is_builder() {
            FetchError::Config(e.to_string())
        } else {
            FetchError::Connect(e.to_string())
        }
    }

    pub(crate) fn from_json(e: &serde_json::Error) -> FetchError {
        if e.is_eof() {
            FetchError::Truncated(e.to_string())
        } else {
            FetchError::Decode(e.to_string())
        }
    }
}
