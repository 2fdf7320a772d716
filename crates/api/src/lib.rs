//! The accruals API: entities, cities and the bureau read their own part of
//! the ledger over HTTP, with an OpenAPI document and a server-rendered
//! portal ([`portal`]) over the same answers.
//!
//! Everything is read from a [`LedgerStore`](subsidy_store::LedgerStore);
//! settlements, line shares and revision decisions come from the core. Access
//! follows the bearer token's role ([`auth`]). Bad parameters are 400s naming
//! the parameter ([`params`]); values reach the store only as bound values.
//! What one client may take — time, connections, requests, bytes — is bounded
//! by [`limits`]; page cursors are issued by the server ([`cursor`]).
//! The programme after the ledger — claims, reviews, batches, findings,
//! receivables and the budget — is read and written through [`programme`];
//! every write, from the API or the portal, is taken by [`steps::take`].

pub mod auth;
pub mod book;
pub mod cursor;
pub mod error;
pub mod limits;
pub mod headers;
pub mod metrics;
pub mod openapi;
pub mod params;
pub mod portal;
pub mod programme;
pub mod routes;
mod server;
pub mod session;
pub mod state;
pub mod steps;
pub mod tlog;
pub mod views;

pub use auth::{new_token, Principal, Role, TokenFileError, TokenStore, Tokens};
pub use error::ApiError;
pub use limits::ServerLimits;
pub use metrics::ApiMetrics;
pub use state::{ApiState, Book};

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use prometheus::{Encoder, TextEncoder};
use std::time::Instant;
use tokio_util::sync::CancellationToken;

/// Counts and times every request by route template and status.
async fn track(State(state): State<ApiState>, request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let started = Instant::now();
    let response = next.run(request).await;
    state.metrics.duration.with_label_values(&[&route]).observe(started.elapsed().as_secs_f64());
    state.metrics.requests.with_label_values(&[&route, response.status().as_str()]).inc();
    response
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such path; see /openapi.json".to_string())
}

async fn openapi_json() -> impl IntoResponse {
    Json(openapi::document())
}

async fn metrics_text(registry: prometheus::Registry) -> Response {
    let mut buf = Vec::new();
    match TextEncoder::new().encode(&registry.gather(), &mut buf) {
        Ok(()) => ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], buf).into_response(),
        Err(e) => (axum::http::StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// The API's routes, with `/openapi.json` and `/metrics` (of `registry`), every one
/// within the state's [`ServerLimits`].
pub fn router(state: ApiState, registry: prometheus::Registry) -> Router {
    let bounds = axum::middleware::from_fn_with_state(state.clone(), limits::bound);
    let body_limit = axum::extract::DefaultBodyLimit::max(state.limits.max_body_bytes);
    let portal = portal::router(state.clone()).route_layer(axum::middleware::from_fn_with_state(state.clone(), track));
    let api = Router::new()
        .route("/v1/entities/{credit_code}/accruals", get(routes::get_accruals))
        .route("/v1/entities/{credit_code}/ledger", get(routes::get_ledger))
        .route("/v1/entities/{credit_code}/statements", get(routes::get_statements))
        .route("/v1/records/{record_id}", get(routes::get_record))
        .route("/v1/settlements", get(routes::get_settlements))
        .route("/v1/overview", get(routes::get_overview))
        .route("/v1/reconciliation", get(routes::get_reconciliation))
        .route("/v1/claims", get(programme::get_claims).post(programme::post_claim))
        .route("/v1/claims/{claim_id}", get(programme::get_claim))
        .route("/v1/claims/{claim_id}/review", post(programme::post_review))
        .route("/v1/batches", get(programme::get_batches).post(programme::post_batch))
        .route("/v1/batches/{batch_id}", get(programme::get_batch))
        .route("/v1/batches/{batch_id}/csv", get(programme::get_batch_csv))
        .route("/v1/findings", post(programme::post_finding))
        .route("/v1/years/{year}/close", post(programme::post_close_year))
        .route("/v1/receivables", get(programme::get_receivables))
        .route("/v1/budget", get(programme::get_budget))
        .route("/v1/log/checkpoint", get(tlog::get_checkpoint))
        .route("/v1/log/consistency", get(tlog::get_consistency))
        .route("/v1/log/cosignatures", post(tlog::post_cosignature))
        .route("/v1/log/proof", get(tlog::get_proof))
        .route("/openapi.json", get(openapi_json))
        .fallback(not_found)
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), track))
        .with_state(state);
    api.merge(portal).route("/metrics", get(move || metrics_text(registry.clone()))).layer(bounds).layer(body_limit).layer(axum::middleware::from_fn(headers::secure))
}

/// Serves the API on `listener` until `shutdown` is cancelled: HTTP/1.1, each
/// connection's headers read within [`ServerLimits::header_read_timeout`] and at most
/// [`ServerLimits::max_header_bytes`], at most [`ServerLimits::max_connections`] open.
pub async fn serve(listener: tokio::net::TcpListener, state: ApiState, registry: prometheus::Registry, shutdown: CancellationToken) -> std::io::Result<()> {
    server::serve(listener, state.clone(), router(state, registry), shutdown).await
}

/// SIGHUPs, watched from the moment this is made. `serve` makes it before anything else, so a
/// SIGHUP that comes while it starts asks for a re-read (done once the tokens are in force)
/// instead of ending the process.
#[derive(Debug)]
pub struct Hangups(tokio::signal::unix::Signal);

impl Hangups {
    /// Starts watching for SIGHUP (needs a Tokio runtime).
    pub fn watch() -> std::io::Result<Hangups> {
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).map(Hangups)
    }
}

/// Re-reads the token file. When it reads, its tokens replace those in force and the portal
/// sessions of tokens no longer in it end; when it does not, the tokens in force stay, and
/// the failure is counted and shown until a read succeeds.
pub fn reload_tokens(state: &ApiState) -> Result<usize, TokenFileError> {
    match state.tokens.reload() {
        Ok(n) => {
            state.sessions.keep_only(&state.tokens.current());
            state.metrics.token_file_ok.set(1);
            Ok(n)
        }
        Err(e) => {
            state.metrics.token_reload_failures.inc();
            state.metrics.token_file_ok.set(0);
            Err(e)
        }
    }
}

/// Re-reads the token file on every SIGHUP until cancelled.
pub fn reload_tokens_on_sighup(hangups: Hangups, state: ApiState, stop: CancellationToken) {
    let Hangups(mut hup) = hangups;
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                got = hup.recv() => if got.is_none() { return },
            }
            let reading = state.clone();
            match tokio::task::spawn_blocking(move || reload_tokens(&reading)).await {
                Ok(Ok(n)) => tracing::info!(tokens = n, "token file re-read"),
                Ok(Err(e)) => tracing::error!(error = %e, "token file not re-read; the tokens in force stay, revoked ones included, until it reads"),
                Err(e) => tracing::error!(error = %e, "token file re-read did not finish"),
            }
        }
    });
}
