//! What every handler shares: the store, the policy, the tokens, the
//! registry as last written by the aggregator, and the metrics.

use crate::auth::TokenStore;
use crate::metrics::ApiMetrics;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use subsidy_core::{PolicySet, Registry};
use subsidy_store::{LedgerStore, StoreResult};
use tokio_util::sync::CancellationToken;

/// How often the registry is read again from the store.
pub const REGISTRY_REFRESH: Duration = Duration::from_secs(10);

/// The registry the aggregator last wrote, read from the store.
#[derive(Debug, Clone, Default)]
pub struct RegistryCache {
    current: Arc<RwLock<Arc<Registry>>>,
}

impl RegistryCache {
    /// The registry now.
    pub fn get(&self) -> Arc<Registry> {
        Arc::clone(&self.current.read().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// Reads the registry from the store again.
    pub async fn refresh(&self, store: &dyn LedgerStore) -> StoreResult<()> {
        let registry = store.registry().await?.registry();
        *self.current.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(registry);
        Ok(())
    }

    /// Refreshes every [`REGISTRY_REFRESH`] until cancelled; a failed read keeps the last one.
    pub fn spawn_refresh(&self, store: Arc<dyn LedgerStore>, stop: CancellationToken) {
        let cache = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(REGISTRY_REFRESH) => {}
                }
                if let Err(e) = cache.refresh(store.as_ref()).await {
                    tracing::warn!(error = %e, "cannot refresh the registry; keeping the last one read");
                }
            }
        });
    }
}

/// The state of the API.
#[derive(Clone)]
pub struct ApiState {
    /// The ledger store.
    pub store: Arc<dyn LedgerStore>,
    /// The policy versions the ledger was settled under.
    pub policy: Arc<PolicySet>,
    /// The tokens in force.
    pub tokens: TokenStore,
    /// The registry.
    pub registry: RegistryCache,
    /// The API's metrics.
    pub metrics: ApiMetrics,
}

impl ApiState {
    /// The state for `tokens` over `store`, with the registry read once.
    pub async fn open(store: Arc<dyn LedgerStore>, policy: PolicySet, tokens: TokenStore, metrics: ApiMetrics) -> StoreResult<ApiState> {
        let registry = RegistryCache::default();
        registry.refresh(store.as_ref()).await?;
        Ok(ApiState { store, policy: Arc::new(policy), tokens, registry, metrics })
    }
}

impl std::fmt::Debug for ApiState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiState").finish_non_exhaustive()
    }
}
