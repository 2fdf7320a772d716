//! The scheduling-platform simulator: the HTTP API the collector polls
//! (`/v1/usage-records` with an opaque cursor, `/v1/entities`,
//! `/v1/compute-centers`, `/healthz`), bearer auth, records released over
//! time, and fault switches (5xx, 429 with any `Retry-After`, slow and
//! truncated answers, redirects, oversized registry items, records withheld
//! from the stream while `/v1/usage-counts` still counts them).
//!
//! Serves a [`Dataset`](crate::dataset::Dataset) as it is; faults never
//! change which records a cursor leads to. It settles nothing.

mod config;
mod counts;
mod cursor;
mod routes;
mod state;

pub use config::{Faults, Release, SimConfig, SimConfigError, Withhold};
pub use counts::{CenterDayCount, PlatformCounts};
pub use routes::{router, DEFAULT_LIMIT, MAX_LIMIT};
pub use state::{SimState, SimStats};

use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Serves the API on `listener` until `shutdown` completes, then drains in-flight requests.
pub async fn serve<F>(listener: TcpListener, state: SimState, shutdown: F) -> io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    axum::serve(listener, router(state)).with_graceful_shutdown(shutdown).await
}

/// A simulator running on a background task. Dropping it stops the server.
#[derive(Debug)]
pub struct RunningSim {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<io::Result<()>>,
}

impl RunningSim {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`, the base URL for a client.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops the server and waits for it to finish.
    pub async fn shutdown(mut self) -> io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match (&mut self.task).await {
            Ok(result) => result,
            Err(e) => Err(io::Error::other(e)),
        }
    }
}

impl Drop for RunningSim {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Binds `addr` and serves on a spawned task.
pub async fn spawn_on(addr: SocketAddr, state: SimState) -> io::Result<RunningSim> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, state, async move {
        let _ = stopped.await;
    }));
    Ok(RunningSim { addr, stop: Some(stop), task })
}

/// Serves on 127.0.0.1 at a free port, on a spawned task.
pub async fn spawn(state: SimState) -> io::Result<RunningSim> {
    spawn_on(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), state).await
}
