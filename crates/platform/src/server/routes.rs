//! The HTTP routes of the platform API: bearer auth, query checks, fault
//! injection, and the JSON answers.

use super::cursor;
use super::state::{Count, Draw, Shape, SimState};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use std::time::Duration;

/// Records per page when the query names no limit.
pub const DEFAULT_LIMIT: usize = 100;
/// Largest page.
pub const MAX_LIMIT: usize = 1_000;

const JSON: HeaderValue = HeaderValue::from_static("application/json");

/// The router over a state.
pub fn router(state: SimState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/v1/usage-records", get(usage_records))
        .route("/v1/entities", get(entities))
        .route("/v1/compute-centers", get(centers))
        .route("/v1/usage-counts", get(usage_counts))
        .fallback(not_found)
        .with_state(state)
}

fn json_body(status: StatusCode, body: Vec<u8>) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, JSON);
    r
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({ "error": code, "message": message }).to_string();
    json_body(status, body.into_bytes())
}

async fn healthz() -> Response {
    json_body(StatusCode::OK, br#"{"status":"ok"}"#.to_vec())
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
}

/// Checks the bearer token and draws the request's faults (`page`: a request for a
/// page of records). `Err` is the answer to send.
async fn admit(state: &SimState, headers: &HeaderMap, page: bool) -> Result<Shape, Response> {
    state.count(Count::Requests, 1);
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "))
        .map(<[u8]>::trim_ascii);
    if !presented.is_some_and(|t| state.token_matches(t)) {
        state.count(Count::Unauthorized, 1);
        let mut r = error(StatusCode::UNAUTHORIZED, "unauthorized", "missing or wrong bearer token");
        r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return Err(r);
    }
    if let Some(to) = state.faults().redirect_to.as_deref().and_then(|t| HeaderValue::from_str(t).ok()) {
        tracing::debug!("injecting a redirect");
        state.count(Count::Redirected, 1);
        let mut r = error(StatusCode::TEMPORARY_REDIRECT, "moved", "this API has moved");
        r.headers_mut().insert(header::LOCATION, to);
        return Err(r);
    }
    let retry_after = HeaderValue::from(state.faults().retry_after_secs);
    match state.draw(page) {
        Draw::Error { status } => {
            tracing::debug!(status, "injecting server error");
            state.count(Count::ServerErrors, 1);
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut r = error(status, "unavailable", "injected server error");
            if status == StatusCode::SERVICE_UNAVAILABLE {
                r.headers_mut().insert(header::RETRY_AFTER, retry_after);
            }
            Err(r)
        }
        Draw::RateLimited => {
            tracing::debug!("injecting rate limit");
            state.count(Count::RateLimited, 1);
            let mut r = error(StatusCode::TOO_MANY_REQUESTS, "rate_limited", "too many requests");
            r.headers_mut().insert(header::RETRY_AFTER, retry_after);
            Err(r)
        }
        Draw::Normal { slow, shape } => {
            if slow {
                state.count(Count::Slowed, 1);
                tokio::time::sleep(Duration::from_millis(state.faults().slow_ms)).await;
            }
            Ok(shape)
        }
    }
}

/// What a proxy in front of the platform sends when it has no answer.
const PROXY_PAGE: &[u8] = b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>";

/// A 200 answer, damaged as the faults drawn say.
fn ok(state: &SimState, mut body: Vec<u8>, shape: Shape) -> Response {
    if shape.malformed {
        tracing::debug!("injecting a body that is not the API's JSON");
        state.count(Count::Malformed, 1);
        body = PROXY_PAGE.to_vec();
    } else if shape.truncate {
        tracing::debug!(bytes = body.len(), "injecting truncated body");
        state.count(Count::Truncated, 1);
        body.truncate(body.len() / 2);
    }
    json_body(StatusCode::OK, body)
}

#[derive(Debug, Deserialize)]
struct PageQuery {
    cursor: Option<String>,
    limit: Option<String>,
}

fn bad_request(state: &SimState, code: &str, message: &str) -> Response {
    state.count(Count::BadRequests, 1);
    error(StatusCode::BAD_REQUEST, code, message)
}

async fn usage_records(State(state): State<SimState>, headers: HeaderMap, query: Result<Query<PageQuery>, QueryRejection>) -> Response {
    let shape = match admit(&state, &headers, true).await {
        Ok(shape) => shape,
        Err(r) => return r,
    };
    let Ok(Query(q)) = query else {
        return bad_request(&state, "invalid_query", "the query string does not parse");
    };
    let limit = match q.limit.as_deref().map(str::parse::<usize>) {
        None => DEFAULT_LIMIT,
        Some(Ok(n)) if (1..=MAX_LIMIT).contains(&n) => n,
        Some(_) => return bad_request(&state, "invalid_limit", "limit must be an integer from 1 to 1000"),
    };
    let pos = match q.cursor.as_deref() {
        None => 0,
        Some(c) => match cursor::decode(c) {
            Some(p) => p,
            None => return bad_request(&state, "invalid_cursor", "the cursor was not issued by this platform"),
        },
    };
    // A repeating page starts half a page back and still ends past `pos`, so the stream moves on.
    let start = if shape.repeat { pos.saturating_sub(limit / 2) } else { pos };
    match state.page(start, limit) {
        Some(page) => {
            if start < pos {
                state.count(Count::Repeated, 1);
            }
            if !(shape.truncate || shape.malformed) {
                state.count(Count::RecordsServed, page.records as u64);
            }
            ok(&state, page.body, shape)
        }
        None => bad_request(&state, "invalid_cursor", "the cursor is past the end of the stream"),
    }
}

#[derive(Debug, Deserialize)]
struct CountsQuery {
    date: Option<String>,
    cursor: Option<String>,
    limit: Option<String>,
}

/// Per compute center, the records the platform holds for one day (China Standard Time)
/// and the sum of their `paid_amount`; paged by center like the record stream.
async fn usage_counts(State(state): State<SimState>, headers: HeaderMap, query: Result<Query<CountsQuery>, QueryRejection>) -> Response {
    let shape = match admit(&state, &headers, false).await {
        Ok(shape) => shape,
        Err(r) => return r,
    };
    let Ok(Query(q)) = query else {
        return bad_request(&state, "invalid_query", "the query string does not parse");
    };
    let Some(date) = q.date.as_deref().and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()) else {
        return bad_request(&state, "invalid_date", "date must be a day, YYYY-MM-DD (China Standard Time)");
    };
    let limit = match q.limit.as_deref().map(str::parse::<usize>) {
        None => DEFAULT_LIMIT,
        Some(Ok(n)) if (1..=MAX_LIMIT).contains(&n) => n,
        Some(_) => return bad_request(&state, "invalid_limit", "limit must be an integer from 1 to 1000"),
    };
    let all = state.counts_of(date);
    let pos = match q.cursor.as_deref() {
        None => 0,
        Some(c) => match cursor::decode(c) {
            Some(p) if p <= all.len() => p,
            _ => return bad_request(&state, "invalid_cursor", "the cursor was not issued for this day's counts"),
        },
    };
    let end = pos.saturating_add(limit).min(all.len());
    let body = serde_json::json!({
        "date": date.to_string(),
        "counts": &all[pos..end],
        "next_cursor": cursor::encode(end),
        "has_more": end < all.len(),
    });
    ok(&state, body.to_string().into_bytes(), shape)
}

async fn entities(State(state): State<SimState>, headers: HeaderMap) -> Response {
    match admit(&state, &headers, false).await {
        Ok(shape) => ok(&state, state.entities_body().as_ref().clone(), shape),
        Err(r) => r,
    }
}

async fn centers(State(state): State<SimState>, headers: HeaderMap) -> Response {
    match admit(&state, &headers, false).await {
        Ok(shape) => ok(&state, state.centers_body().as_ref().clone(), shape),
        Err(r) => r,
    }
}
