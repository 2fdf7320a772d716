//! The accept loop: hyper's HTTP/1.1 server with its header-read timer on
//! and a head size limit, a semaphore bounding open connections, and a
//! graceful stop that waits a bounded time for answers in progress.

use crate::state::ApiState;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// Longest wait for open connections to finish once stopping.
const DRAIN: Duration = Duration::from_secs(10);
/// Pause after a failed accept (e.g. out of file descriptors) before the next.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// The HTTP/1.1 connection settings from the state's limits.
fn http1(state: &ApiState) -> hyper::server::conn::http1::Builder {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(state.limits.header_read_timeout).max_header_size(state.limits.max_header_bytes);
    builder
}

/// Why a connection ended in error, as a metric label.
fn failure(e: &hyper::Error) -> &'static str {
    if e.is_timeout() {
        "header_timeout"
    } else {
        "error"
    }
}

/// Serves `app` on `listener` until `shutdown` is cancelled.
pub(crate) async fn serve(listener: TcpListener, state: ApiState, app: Router, shutdown: CancellationToken) -> std::io::Result<()> {
    let builder = Arc::new(http1(&state));
    let open = Arc::new(Semaphore::new(state.limits.max_connections));
    let graceful = GracefulShutdown::new();
    loop {
        let permit = match open.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                state.metrics.connections_waited.inc();
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    p = open.clone().acquire_owned() => p.map_err(std::io::Error::other)?,
                }
            }
        };
        let stream = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
        };
        let connection = builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
        let connection = graceful.watch(connection);
        let metrics = state.metrics.clone();
        metrics.connections.inc();
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                metrics.connections_failed.with_label_values(&[failure(&e)]).inc();
                tracing::debug!(error = %e, "connection ended in error");
            }
            metrics.connections.dec();
            drop(permit);
        });
    }
    if tokio::time::timeout(DRAIN, graceful.shutdown()).await.is_err() {
        tracing::warn!(seconds = DRAIN.as_secs(), "connections still open after the drain period; stopping anyway");
    }
    Ok(())
}
