//! Keeps the entity and center registry current from their compacted topics.

use rdkafka::message::Message;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use subsidy_bus::{BusError, TopicReader};
use subsidy_core::registry::{parse_center, parse_entity};
use subsidy_core::Registry;
use tokio_util::sync::CancellationToken;

/// The shared registry and a flag raised whenever it changed.
#[derive(Debug, Clone, Default)]
pub struct SharedRegistry {
    /// The registry.
    pub registry: Arc<RwLock<Registry>>,
    /// Raised on every change; the aggregator lowers it when it retries held records.
    pub changed: Arc<AtomicBool>,
}

#[derive(Clone, Copy)]
enum Kind {
    Entity,
    Center,
}

fn apply(shared: &SharedRegistry, kind: Kind, payload: &[u8]) {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(payload) else {
        tracing::warn!("registry message is not JSON; ignored");
        return;
    };
    let mut r = shared.registry.write().unwrap_or_else(|p| p.into_inner());
    match kind {
        Kind::Entity => match parse_entity(&value) {
            Ok(e) => r.upsert_entity(e),
            Err(rej) => tracing::warn!(reason = %rej.reason, "registry entity refused: {}", rej.detail),
        },
        Kind::Center => match parse_center(&value) {
            Ok(c) => r.upsert_center(c),
            Err(rej) => tracing::warn!(reason = %rej.reason, "registry center refused: {}", rej.detail),
        },
    }
    shared.changed.store(true, Ordering::SeqCst);
}

/// Reads both registry topics to their end, then keeps tailing them until cancelled.
pub async fn start(brokers: &str, entities: &str, centers: &str, shutdown: CancellationToken) -> Result<SharedRegistry, BusError> {
    let shared = SharedRegistry::default();
    let timeout = Duration::from_secs(60);
    let readers = [(TopicReader::open(brokers, entities, timeout)?, Kind::Entity), (TopicReader::open(brokers, centers, timeout)?, Kind::Center)];
    for (reader, kind) in &readers {
        reader.catch_up(timeout, |m| apply(&shared, *kind, m.payload().unwrap_or_default())).await?;
    }
    let (e, c) = {
        let r = shared.registry.read().unwrap_or_else(|p| p.into_inner());
        (r.entity_count(), r.center_count())
    };
    tracing::info!(entities = e, centers = c, "registry loaded");
    for (reader, kind) in readers {
        let shared = shared.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            while !shutdown.is_cancelled() {
                match reader.next(Duration::from_millis(500)).await {
                    Ok(Some(m)) => apply(&shared, kind, m.payload().unwrap_or_default()),
                    Ok(None) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "registry feed error");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        });
    }
    Ok(shared)
}
