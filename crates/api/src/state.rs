//! What every handler shares: the store, the policy, the tokens, the
//! [`Book`] read for the store's current generation, the answers already
//! computed for it, and the metrics.
//!
//! The store's generation (a marker that moves with any write) is polled
//! every [`POLL`]; when it moves, a new book is read — the registry, the sums
//! of every entity's lines by month and reason, the settlements made of them,
//! the statements and the closed months — and replaces the old one whole,
//! together with the cached answers (kept within a byte budget, [`AnswerCache`]). Accruals, statements and settlements are
//! answered from the book in memory; an entity's ledger lines and a record's
//! copies are read from the store when asked (and cached for the generation).
//! An answer is at most one poll and one read of the book behind the store.
//! The programme (claims, reviews, batches, receivables) is read with the
//! book, under the same policy document, and answered from memory too; a
//! step written through the API reads the book again at once, so its writer
//! sees it.

use crate::auth::TokenStore;
use crate::cursor::Cursors;
use crate::limits::ServerLimits;
use crate::metrics::ApiMetrics;
use crate::session::Sessions;
use crate::views::ExclusionSums;
use axum::body::Bytes;
use lru::LruCache;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use subsidy_core::{CreditCode, Period, PolicyDocument, PolicySet, Registry, Settlement, Statement};
use subsidy_store::{programme_over, settle_sums, LedgerStore, ProgrammeBook, StepLog, StoreError, StoreResult};
use tokio_util::sync::CancellationToken;

/// How often the store's generation is read.
pub const POLL: Duration = Duration::from_secs(1);

/// Answers computed from the store at once; more requests wait their turn rather than
/// crowd the store (on a small ClickHouse, crowding makes every one of them slow).
pub const COMPUTING: usize = 4;

/// What the ledger says at one generation of the store, read in one pass.
#[derive(Debug, Default)]
pub struct Book {
    /// The store generation it was read at (`None` before the first read).
    pub generation: Option<String>,
    /// The registry as the aggregator last wrote it.
    pub registry: Arc<Registry>,
    /// Every entity and month with eligible lines, settled, sorted: what `export` writes.
    pub settlements: Vec<Settlement>,
    /// Each entity with lines or statements: its months.
    pub entities: HashMap<CreditCode, EntityBook>,
    /// Months with standing lines.
    pub months: BTreeSet<Period>,
    /// Closed months.
    pub closed: BTreeSet<Period>,
    /// The policy document the figures are computed under: the ledger's in force (the
    /// server's given policy for a ledger that records none).
    pub policy: Arc<PolicyDocument>,
    /// The programme after the ledger, under `policy` (`None` before the first read).
    pub programme: Option<Arc<ProgrammeBook>>,
}

/// One entity's months in the book.
#[derive(Debug, Default)]
pub struct EntityBook {
    /// Settled months (eligible lines).
    pub settled: BTreeMap<Period, Settlement>,
    /// Spend excluded per month, by reason.
    pub excluded: BTreeMap<Period, ExclusionSums>,
    /// Statement lines of completed closes, by payout month, month, kind.
    pub statements: Vec<Statement>,
}

impl Book {
    /// Reads the book of the store as it stands, labelled with `generation`.
    pub async fn read(store: &dyn LedgerStore, fallback: &PolicySet, generation: String) -> StoreResult<Book> {
        let policy = Arc::new(document_in_force(store, fallback).await?);
        let registry = store.registry().await?.registry();
        let sums = store.line_sums().await?;
        let settlements = settle_sums(&sums, &policy.set);
        // Closed months before statements, so the programme folds every line of each.
        let closed: BTreeSet<Period> = store.closures().await?.into_iter().map(|c| c.period).collect();
        let statements = store.statements().await?;
        let programme = Some(Arc::new(programme_over(store, &policy.set, closed.clone(), &statements).await?));
        let months = sums.iter().map(|s| s.period).collect();
        let mut entities: HashMap<CreditCode, EntityBook> = HashMap::new();
        for s in &settlements {
            entities.entry(s.credit_code).or_default().settled.insert(s.period, s.clone());
        }
        for (s, reason) in sums.iter().filter_map(|s| Some((s, s.reason?))) {
            entities.entry(s.user_credit_code).or_default().excluded.entry(s.period).or_default().add(reason, s.records, s.paid_amount);
        }
        for s in statements {
            entities.entry(s.credit_code).or_default().statements.push(s);
        }
        for e in entities.values_mut() {
            e.statements.sort_by_key(|s| (s.payout_period, s.for_period, s.kind));
        }
        Ok(Book { generation: Some(generation), registry: Arc::new(registry), settlements, entities, months, closed, policy, programme })
    }

    /// Months with standing lines that are not closed, oldest first.
    pub fn open_months(&self) -> impl Iterator<Item = Period> + '_ {
        self.months.iter().copied().filter(|m| !self.closed.contains(m))
    }

    /// Whether the registry or the ledger knows the entity.
    pub fn knows(&self, code: &CreditCode) -> bool {
        self.registry.entity(code).is_some() || self.entities.contains_key(code)
    }
}

/// The ledger's policy document in force, or `fallback`'s when it records none.
async fn document_in_force(store: &dyn LedgerStore, fallback: &PolicySet) -> StoreResult<PolicyDocument> {
    match store.policy_documents().await?.last() {
        Some(top) => top.document().map_err(|e| StoreError::corrupt(format!("the ledger's policy document {}: {e}", top.sequence))),
        None => PolicyDocument::of(fallback).map_err(|e| StoreError::rejected(format!("the server's policy: {e}"))),
    }
}

/// Bytes counted for an entry beside its key and body: the list node, the key's and
/// the body's headers and the map's slot.
const ENTRY_OVERHEAD: usize = 128;

/// Answers (JSON bodies) computed for the current generation of the store, by request,
/// kept within a budget of bytes (keys, bodies and [`ENTRY_OVERHEAD`] each), the least
/// recently used dropped first. Keys are built from checked parameters only, so each is
/// at most a few hundred bytes whatever a client sends.
#[derive(Debug, Clone)]
pub struct AnswerCache {
    inner: Arc<Mutex<CacheInner>>,
    metrics: ApiMetrics,
}

#[derive(Debug)]
struct CacheInner {
    generation: Option<String>,
    answers: LruCache<String, Bytes>,
    bytes: usize,
    budget: usize,
}

impl CacheInner {
    fn cost(key: &str, answer: &Bytes) -> usize {
        key.len() + answer.len() + ENTRY_OVERHEAD
    }
}

impl AnswerCache {
    /// An empty cache of at most `budget` bytes, showing its size in `metrics`.
    pub fn new(budget: usize, metrics: ApiMetrics) -> AnswerCache {
        let inner = CacheInner { generation: None, answers: LruCache::unbounded(), bytes: 0, budget };
        AnswerCache { inner: Arc::new(Mutex::new(inner)), metrics }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CacheInner> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn show(&self, inner: &CacheInner) {
        self.metrics.cache_bytes.set(i64::try_from(inner.bytes).unwrap_or(i64::MAX));
        self.metrics.cache_entries.set(i64::try_from(inner.answers.len()).unwrap_or(i64::MAX));
    }

    /// The generation the cached answers belong to.
    pub fn generation(&self) -> Option<String> {
        self.lock().generation.clone()
    }

    /// Bytes held now (keys, bodies and overhead).
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }

    /// Moves to `generation`, dropping every answer of another one.
    fn move_to(&self, generation: Option<String>) {
        let mut inner = self.lock();
        if inner.generation != generation {
            inner.answers.clear();
            inner.bytes = 0;
            inner.generation = generation;
            self.show(&inner);
        }
    }

    /// The answer to `key`, if computed for the current generation.
    pub fn get(&self, key: &str) -> Option<Bytes> {
        self.lock().answers.get(key).cloned()
    }

    /// Keeps an answer computed when the generation was `seen`, unless it has moved since,
    /// dropping the least recently used answers until the cache is within its budget. An
    /// answer larger than the whole budget is not kept.
    pub fn put(&self, seen: &str, key: String, answer: Bytes) {
        let mut inner = self.lock();
        let cost = CacheInner::cost(&key, &answer);
        if inner.generation.as_deref() != Some(seen) || cost > inner.budget {
            return;
        }
        let new_key_cost = key.len();
        if let Some(old) = inner.answers.put(key, answer) {
            inner.bytes = inner.bytes.saturating_sub(old.len() + new_key_cost + ENTRY_OVERHEAD);
        }
        inner.bytes += cost;
        let mut evicted = 0u64;
        while inner.bytes > inner.budget {
            let Some((k, v)) = inner.answers.pop_lru() else { break };
            inner.bytes = inner.bytes.saturating_sub(CacheInner::cost(&k, &v));
            evicted += 1;
        }
        self.metrics.cache_evictions.inc_by(evicted);
        self.show(&inner);
    }
}

/// Reads the store's generation; when it moved, reads the book again and puts it in force
/// with an empty answer cache. Whether it moved.
pub async fn refresh(state: &ApiState) -> StoreResult<bool> {
    let generation = state.store.generation().await?;
    if state.book().generation.as_ref() == Some(&generation) {
        return Ok(false);
    }
    read_again(state, generation).await?;
    Ok(true)
}

/// Reads the book again after a step was written, whether or not the generation read
/// shows it yet, so the writer's next read sees its step.
pub async fn reread(state: &ApiState) -> StoreResult<()> {
    let generation = state.store.generation().await?;
    state.cache.move_to(None);
    read_again(state, generation).await
}

async fn read_again(state: &ApiState, generation: String) -> StoreResult<()> {
    let timer = state.metrics.book_read.start_timer();
    let book = Arc::new(Book::read(state.store.as_ref(), &state.policy, generation).await?);
    let seconds = timer.stop_and_record();
    tracing::info!(seconds, entities = book.entities.len(), "read the book of a new store generation");
    state.metrics.show_open_months(&book);
    show_gaps(state, &book).await;
    let generation = book.generation.clone();
    *state.book.write().unwrap_or_else(std::sync::PoisonError::into_inner) = book;
    state.cache.move_to(generation);
    Ok(())
}

/// Reconciles each open month of `book` with the platform's usage counts for the gap gauge;
/// a month that cannot be read is left out (and logged), it does not stop the book.
async fn show_gaps(state: &ApiState, book: &Book) {
    let mut gaps = Vec::new();
    for period in book.open_months() {
        let read = async { Ok::<_, subsidy_store::StoreError>((state.store.usage_counts(period).await?, state.store.ledger_counts(period).await?)) };
        match read.await {
            Ok((platform, ledger)) => gaps.push((period, subsidy_core::reconcile(period, &platform, &ledger).gap_records())),
            Err(e) => tracing::warn!(error = %e, %period, "cannot reconcile the month with the platform's usage counts"),
        }
    }
    state.metrics.show_gaps(&gaps);
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
                tracing::warn!(error = %e, "cannot read the store; answering from what was read last");
            }
        }
    });
}

/// The state of the API.
#[derive(Clone)]
pub struct ApiState {
    /// The ledger store.
    pub store: Arc<dyn LedgerStore>,
    /// The policy for a ledger that records no document (the book reads the ledger's).
    pub policy: Arc<PolicySet>,
    /// The tokens in force.
    pub tokens: TokenStore,
    /// The book of the current generation.
    book: Arc<RwLock<Arc<Book>>>,
    /// Answers of the current generation.
    pub cache: AnswerCache,
    /// Turns to compute an answer from the store.
    pub computing: Arc<tokio::sync::Semaphore>,
    /// The server's limits.
    pub limits: Arc<ServerLimits>,
    /// Turns to answer a request, over every route ([`ServerLimits::max_in_flight`]).
    pub in_flight: Arc<tokio::sync::Semaphore>,
    /// The page cursors this process issues.
    pub cursors: Cursors,
    /// The API's metrics.
    pub metrics: ApiMetrics,
    /// The portal's sign-in sessions.
    pub sessions: Sessions,
    /// Whether the portal's cookie is marked `Secure` (served over TLS, here or at a proxy).
    pub cookie_secure: bool,
    /// The fence of the programme's history shared by several writers (ClickHouse); `None`
    /// for a store that fences its own writes (SQLite).
    pub step_log: Option<Arc<dyn StepLog>>,
    /// The verifier keys of the witnesses whose cosignatures the server takes (none: it
    /// takes none).
    pub witness_keys: Arc<Vec<String>>,
}

impl ApiState {
    /// The state for `tokens` over `store`, with the book read once, under the default limits.
    pub async fn open(store: Arc<dyn LedgerStore>, policy: PolicySet, tokens: TokenStore, metrics: ApiMetrics) -> StoreResult<ApiState> {
        ApiState::open_with(store, policy, tokens, metrics, ServerLimits::default()).await
    }

    /// The state for `tokens` over `store` under `limits`, with the book read once.
    pub async fn open_with(store: Arc<dyn LedgerStore>, policy: PolicySet, tokens: TokenStore, metrics: ApiMetrics, limits: ServerLimits) -> StoreResult<ApiState> {
        let state = ApiState {
            store,
            policy: Arc::new(policy),
            tokens,
            book: Arc::default(),
            cache: AnswerCache::new(limits.cache_bytes, metrics.clone()),
            computing: Arc::new(tokio::sync::Semaphore::new(COMPUTING)),
            in_flight: Arc::new(tokio::sync::Semaphore::new(limits.max_in_flight)),
            cursors: limits.cursor_key.map_or_else(Cursors::default, Cursors::with_key),
            limits: Arc::new(limits),
            metrics,
            sessions: Sessions::default(),
            cookie_secure: false,
            step_log: None,
            witness_keys: Arc::default(),
        };
        state.metrics.token_file_ok.set(1);
        refresh(&state).await?;
        Ok(state)
    }

    /// The same state, with the portal's cookie marked `Secure` or not.
    pub fn with_secure_cookie(mut self, secure: bool) -> ApiState {
        self.cookie_secure = secure;
        self
    }

    /// The same state, with the programme's steps fenced by `log`.
    pub fn with_step_log(mut self, log: Option<Arc<dyn StepLog>>) -> ApiState {
        self.step_log = log;
        self
    }

    /// The same state, taking cosignatures by the witnesses of `keys` (verifier keys).
    pub fn with_witness_keys(mut self, keys: Vec<String>) -> ApiState {
        self.witness_keys = Arc::new(keys);
        self
    }

    /// The book in force.
    pub fn book(&self) -> Arc<Book> {
        Arc::clone(&self.book.read().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// The registry of the book in force.
    pub fn registry(&self) -> Arc<Registry> {
        Arc::clone(&self.book().registry)
    }

    /// A refusal for want of access, counted.
    pub fn forbidden(&self) -> crate::error::ApiError {
        self.metrics.denied.with_label_values(&["forbidden"]).inc();
        crate::error::ApiError::Forbidden
    }
}

impl std::fmt::Debug for ApiState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiState").finish_non_exhaustive()
    }
}
