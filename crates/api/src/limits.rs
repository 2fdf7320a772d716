//! What the server lets one client take: how long it may spend sending
//! headers and getting an answer, how many connections and requests are
//! served at once, how large a request line, header block and body may be,
//! and how many bytes of answers are kept. Each is a [`ServerLimits`] field
//! with a default; `serve` sets them from flags. The middleware here answers
//! a request past a limit with the API's JSON error body and counts it in
//! `subsidy_api_limited_total{limit}`.

use crate::error::ErrorBody;
use crate::state::ApiState;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::time::Duration;

/// Time a client has to send a request's headers once it starts one.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Time from a request's headers to its answer, body included.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Connections served at once; more wait in the listen backlog.
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;
/// Requests answered at once over every route; more get 503 with `Retry-After`.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 64;
/// Largest request body (only sign-in takes one).
pub const DEFAULT_MAX_BODY_BYTES: usize = 16 << 10;
/// Largest request head (request line and headers); hyper answers 431 past it.
pub const DEFAULT_MAX_HEADER_BYTES: usize = 16 << 10;
/// Largest path and query.
pub const DEFAULT_MAX_URI_BYTES: usize = 4 << 10;
/// Bytes of answers (keys and bodies) kept for the store's current generation.
pub const DEFAULT_CACHE_BYTES: usize = 64 << 20;
/// The smallest request head allowed: room for a request line and a bearer token.
pub const MIN_HEADER_BYTES: usize = 1 << 10;
/// Seconds a shed client is told to wait.
const RETRY_AFTER_SECS: &str = "1";

/// The server's limits.
#[derive(Clone, PartialEq, Eq)]
pub struct ServerLimits {
    /// Time to send a request's headers; the connection is closed past it.
    pub header_read_timeout: Duration,
    /// Time from the headers to the answer: 408 (a body still arriving) or 503.
    pub request_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
    /// Requests answered at once, every route; past it 503 with `Retry-After`.
    pub max_in_flight: usize,
    /// Largest body: 413.
    pub max_body_bytes: usize,
    /// Largest request head: 431 (from hyper).
    pub max_header_bytes: usize,
    /// Largest path and query: 414.
    pub max_uri_bytes: usize,
    /// Bytes of cached answers.
    pub cache_bytes: usize,
    /// The key page cursors are signed with, shared by servers behind one load balancer;
    /// `None` draws one at random (cursors then end with the process).
    pub cursor_key: Option<[u8; 32]>,
}

impl std::fmt::Debug for ServerLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerLimits")
            .field("header_read_timeout", &self.header_read_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("max_connections", &self.max_connections)
            .field("max_in_flight", &self.max_in_flight)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("max_header_bytes", &self.max_header_bytes)
            .field("max_uri_bytes", &self.max_uri_bytes)
            .field("cache_bytes", &self.cache_bytes)
            .field("cursor_key", &self.cursor_key.map(|_| "(set)"))
            .finish()
    }
}

impl Default for ServerLimits {
    fn default() -> ServerLimits {
        ServerLimits {
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
            max_uri_bytes: DEFAULT_MAX_URI_BYTES,
            cache_bytes: DEFAULT_CACHE_BYTES,
            cursor_key: None,
        }
    }
}

/// A limit that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LimitsError {
    /// A limit is zero.
    #[error("{0} must be more than zero")]
    Zero(&'static str),
    /// The head limit is below what hyper can read with.
    #[error("max_header_bytes must be at least {MIN_HEADER_BYTES}")]
    HeaderTooSmall,
}

impl ServerLimits {
    /// Checks every limit can be served with.
    pub fn validate(&self) -> Result<(), LimitsError> {
        for (name, zero) in [
            ("header_read_timeout", self.header_read_timeout.is_zero()),
            ("request_timeout", self.request_timeout.is_zero()),
            ("max_connections", self.max_connections == 0),
            ("max_in_flight", self.max_in_flight == 0),
            ("max_uri_bytes", self.max_uri_bytes == 0),
            ("cache_bytes", self.cache_bytes == 0),
        ] {
            if zero {
                return Err(LimitsError::Zero(name));
            }
        }
        if self.max_header_bytes < MIN_HEADER_BYTES {
            return Err(LimitsError::HeaderTooSmall);
        }
        Ok(())
    }
}

/// A refusal for a limit: status, the JSON error body, counted under `limit`.
fn refuse(state: &ApiState, limit: &'static str, status: StatusCode, error: &'static str, message: String) -> Response {
    state.metrics.limited.with_label_values(&[limit]).inc();
    let mut response = (status, axum::Json(ErrorBody { error, parameter: None, message })).into_response();
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_SECS));
    }
    response
}

/// The declared body length, if any.
fn content_length(request: &Request) -> Option<u64> {
    request.headers().get(header::CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

/// Applies the per-request limits to every route: path and query length, declared body
/// length, requests in flight, and the whole-request timeout.
pub async fn bound(State(state): State<ApiState>, request: Request, next: Next) -> Response {
    let limits = &state.limits;
    let uri_bytes = request.uri().path().len() + request.uri().query().map_or(0, |q| q.len() + 1);
    if uri_bytes > limits.max_uri_bytes {
        return refuse(&state, "uri_bytes", StatusCode::URI_TOO_LONG, "uri_too_long", format!("path and query must be at most {} bytes", limits.max_uri_bytes));
    }
    if content_length(&request).is_some_and(|n| n > limits.max_body_bytes as u64) {
        return refuse(&state, "body_bytes", StatusCode::PAYLOAD_TOO_LARGE, "too_large", format!("a request body must be at most {} bytes", limits.max_body_bytes));
    }
    let Ok(_turn) = state.in_flight.clone().try_acquire_owned() else {
        return refuse(&state, "in_flight", StatusCode::SERVICE_UNAVAILABLE, "overloaded", "the server is answering as many requests as it may; try again shortly".into());
    };
    let waits_for_body = !matches!(*request.method(), Method::GET | Method::HEAD);
    match tokio::time::timeout(limits.request_timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) if waits_for_body => {
            let message = format!("the request was not received and answered within {} s", limits.request_timeout.as_secs_f64());
            refuse(&state, "request_timeout", StatusCode::REQUEST_TIMEOUT, "timeout", message)
        }
        Err(_) => refuse(&state, "request_timeout", StatusCode::SERVICE_UNAVAILABLE, "timeout", format!("the answer took longer than {} s; try again later", limits.request_timeout.as_secs_f64())),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_zeros_are_named() {
        assert_eq!(ServerLimits::default().validate(), Ok(()));
        let zero = ServerLimits { max_in_flight: 0, ..ServerLimits::default() };
        assert_eq!(zero.validate(), Err(LimitsError::Zero("max_in_flight")));
        let small = ServerLimits { max_header_bytes: 100, ..ServerLimits::default() };
        assert_eq!(small.validate(), Err(LimitsError::HeaderTooSmall));
    }
}
