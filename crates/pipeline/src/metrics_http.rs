//! The `/metrics` endpoint: Prometheus text exposition of one registry.

use axum::{extract::State, http::header, response::IntoResponse, routing::get, Router};
use prometheus::{Encoder, Registry, TextEncoder};
use std::net::SocketAddr;
use tokio_util::sync::CancellationToken;

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
pub async fn serve_metrics(addr: SocketAddr, registry: Registry, shutdown: CancellationToken) -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| anyhow::anyhow!("cannot listen for /metrics on {addr}: {e}"))?;
    let bound = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, metrics_router(registry)).with_graceful_shutdown(shutdown.cancelled_owned()).await;
    });
    Ok(bound)
}
