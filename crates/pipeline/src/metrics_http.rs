//! The `/metrics` endpoint: Prometheus text exposition of one registry.

use axum::{extract::State, http::header, response::IntoResponse, routing::get, Router};
use prometheus::{Encoder, Registry, TextEncoder};
use std::net::SocketAddr;
use tokio_util::sync::CancellationToken;
use crate::error::{PipelineError, PipelineResult};

async fn metrics(State(registry): State<Registry>) -> impl IntoResponse {
    let mut buf = Vec::new();
    let encoder = TextEncoder::new();
    if let Err(e) = encoder.encode(&registry.gather(), &mut buf) {
        return (axum::http::StatusCode::INTERNAL_SERVER_ERROR, [(header::CONTENT_TYPE, "text/plain")], e.to_string().into_bytes());
    }
    (axum::http::StatusCode::OK, [(header::CONTENT_TYPE, "text/plain; version=0.0.4")], buf)
}

/// The router serving `/metrics` (mountable beside other routes).
pub fn metrics_router(registry: Registry) -> Router {
    Router::new().route("/metrics", get(metrics)).with_state(registry)
}

/// Serves `/metrics` on `addr` until `shutdown` is cancelled; returns the bound address.
pub async fn serve_metrics(addr: SocketAddr, registry: Registry, shutdown: CancellationToken) -> PipelineResult<SocketAddr> {
    let listen_error = |e: std::io::Error| PipelineError::Listen { addr, detail: e.to_string() };
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(listen_error)?;
    let bound = listener.local_addr().map_err(listen_error)?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, metrics_router(registry)).with_graceful_shutdown(shutdown.cancelled_owned()).await;
    });
    Ok(bound)
}
