//! What every handler shares: the store, the policy, the tokens, the
//! registry as last written by the aggregator, the answers already computed
//! for the ledger as it stands, and the metrics.
//!
//! The store's generation (a marker that moves with any write) is polled
//! every [`POLL`]; when it moves, the registry is read again and the cached
//! answers are dropped. An answer is therefore at most one poll behind the
//! store, and never mixes two generations.

use crate::auth::TokenStore;
use crate::metrics::ApiMetrics;
use axum::body::Bytes;
use lru::LruCache;
use std::collections::BTreeSet;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use subsidy_core::{Period, PolicySet, Registry, Statement};
use subsidy_store::{LedgerStore, StoreResult};
use tokio_util::sync::CancellationToken;

/// How often the store's generation is read.
pub const POLL: Duration = Duration::from_secs(1);

/// Answers kept per generation.
const ANSWERS: usize = 50_000;

/// Answers computed from the store at once; more requests wait their turn rather than
/// crowd the store (on a small ClickHouse, crowding makes every one of them slow).
pub const COMPUTING: usize = 4;

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
}

/// Answers (JSON bodies) computed for the current generation of the store, by request.
#[derive(Debug, Clone)]
pub struct AnswerCache {
    inner: Arc<Mutex<CacheInner>>,
}

#[derive(Debug)]
struct CacheInner {
    generation: Option<String>,
    answers: LruCache<String, Bytes>,
    closes: Option<Arc<Closes>>,
}

/// What the closes have fixed, read once per generation: every statement line and the
/// closed months (both change only when a month closes).
#[derive(Debug, Default)]
pub struct Closes {
    /// Statement lines of completed closes, sorted.
    pub statements: Vec<Statement>,
    /// Closed months.
    pub closed: BTreeSet<Period>,
}

impl Default for AnswerCache {
    fn default() -> AnswerCache {
        let capacity = NonZeroUsize::new(ANSWERS).unwrap_or(NonZeroUsize::MIN);
        AnswerCache { inner: Arc::new(Mutex::new(CacheInner { generation: None, answers: LruCache::new(capacity), closes: None })) }
    }
}

impl AnswerCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, CacheInner> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The generation the cached answers belong to.
    pub fn generation(&self) -> Option<String> {
        self.lock().generation.clone()
    }

    /// Moves to `generation`, dropping every answer of another one; whether it moved.
    fn move_to(&self, generation: String) -> bool {
        let mut inner = self.lock();
        if inner.generation.as_ref() == Some(&generation) {
            return false;
        }
        inner.answers.clear();
        inner.closes = None;
        inner.generation = Some(generation);
        true
    }

    /// The answer to `key`, if computed for the current generation.
    pub fn get(&self, key: &str) -> Option<Bytes> {
        self.lock().answers.get(key).cloned()
    }

    /// Keeps an answer computed when the generation was `seen`, unless it has moved since.
    pub fn put(&self, seen: &str, key: String, answer: Bytes) {
        let mut inner = self.lock();
        if inner.generation.as_deref() == Some(seen) {
            inner.answers.put(key, answer);
        }
    }
}

/// What the closes have fixed, from the cache or read from the store.
pub async fn closes(state: &ApiState) -> StoreResult<Arc<Closes>> {
    let seen = state.cache.generation();
    if let Some(c) = state.cache.lock().closes.clone() {
        return Ok(c);
    }
    let statements = state.store.statements().await?;
    let closed = state.store.closures().await?.into_iter().map(|c| c.period).collect();
    let closes = Arc::new(Closes { statements, closed });
    let mut inner = state.cache.lock();
    if inner.generation.is_some() && inner.generation == seen {
        inner.closes = Some(Arc::clone(&closes));
    }
    Ok(closes)
}

/// Reads the store's generation; when it moved, reads the registry again and drops the answers.
pub async fn refresh(state: &ApiState) -> StoreResult<()> {
    let generation = state.store.generation().await?;
    if state.cache.generation().as_ref() != Some(&generation) {
        state.registry.refresh(state.store.as_ref()).await?;
        state.cache.move_to(generation);
    }
    Ok(())
}

/// Refreshes every [`POLL`] until cancelled; a failed read keeps what was read last.
pub fn spawn_refresh(state: ApiState, stop: CancellationToken) {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(POLL) => {}
            }
            if let Err(e) = refresh(&state).await {
                tracing::warn!(error = %e, "cannot read the store's generation; answering from what was read last");
            }
        }
    });
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
    /// Answers of the current generation.
    pub cache: AnswerCache,
    /// Turns to compute an answer from the store.
    pub computing: Arc<tokio::sync::Semaphore>,
    /// The API's metrics.
    pub metrics: ApiMetrics,
}

impl ApiState {
    /// The state for `tokens` over `store`, with the registry read once.
    pub async fn open(store: Arc<dyn LedgerStore>, policy: PolicySet, tokens: TokenStore, metrics: ApiMetrics) -> StoreResult<ApiState> {
        let state = ApiState { store, policy: Arc::new(policy), tokens, registry: RegistryCache::default(), cache: AnswerCache::default(), computing: Arc::new(tokio::sync::Semaphore::new(COMPUTING)), metrics };
        refresh(&state).await?;
        Ok(state)
    }
}

impl std::fmt::Debug for ApiState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiState").finish_non_exhaustive()
    }
}
