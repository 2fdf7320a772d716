//! What every handler shares: the store, the policy, the tokens, the
//! [`Book`] for the store's current generation, the answers already computed
//! for it, and the metrics.
//!
//! The store's generation (a marker that moves with any write) is polled
//! every [`POLL`]; when it moves, the book is brought up to it and replaces
//! the old one, together with the cached answers (kept within a byte budget,
//! [`AnswerCache`]). The ledger's sums are not read again: the changes of
//! ledger lines written since the last refresh are folded into sums held in
//! memory ([`subsidy_store::LedgerSums`], keyed by user, month, reason and
//! policy document, and by month, day and center), and only the entities they
//! moved are settled again ([`Book::advance`]). The book is summed whole at
//! the start, when the store's log no longer holds the changes since the
//! last refresh, or for a store that keeps no change log. Every [`VERIFY`]
//! the fold is checked against a full read ([`verify`]). Accruals,
//! statements and settlements are answered from the book in memory; an
//! entity's ledger lines and a record's copies are read from the store when
//! asked (and cached for the generation). An answer is at most one poll and
//! one refresh behind the store. The programme (claims, reviews, batches,
//! receivables) is read with the book, under the same policy document, and
//! answered from memory too; a step written through the API brings the book
//! up to date at once, so its writer sees it.

use crate::auth::TokenStore;
use crate::cursor::Cursors;
use crate::limits::ServerLimits;
use crate::metrics::ApiMetrics;
use crate::session::Sessions;
pub use crate::book::{Book, EntityBook};
use crate::book::Parts;
use axum::body::Bytes;
use lru::LruCache;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use subsidy_core::{CreditCode, PolicySet, Registry};
use subsidy_store::{ChangeMark, LedgerStore, LedgerSums, StepLog, StoreResult};
use tokio_util::sync::CancellationToken;

/// How often the store's generation is read while the book is advanced by the ledger's
/// change log (a refresh costs the changes since the last).
pub const POLL: Duration = Duration::from_millis(250);

/// How often it is read while each refresh reads the book whole (a store that keeps no
/// change log).
pub const POLL_WHOLE: Duration = Duration::from_secs(1);

/// How often the fold is checked against a full read of the ledger's sums.
pub const VERIFY: Duration = Duration::from_secs(600);

/// Answers computed from the store at once; more requests wait their turn rather than
/// crowd the store (on a small ClickHouse, crowding makes every one of them slow).
pub const COMPUTING: usize = 4;

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

/// The ledger's sums folded from its change log, and how far: held by whoever brings the
/// book up to date (one at a time), never by the book itself.
#[derive(Debug)]
struct Folded {
    sums: LedgerSums,
    mark: ChangeMark,
}

/// Whoever brings the book up to date holds this: the fold (`None` before the first read,
/// after a fold that failed part-way, or for a store that keeps no change log).
type Refresher = Arc<tokio::sync::Mutex<Option<Folded>>>;

/// Reads the store's generation; when it moved, brings the book up to it and puts it in
/// force with an empty answer cache. Whether it moved.
pub async fn refresh(state: &ApiState) -> StoreResult<bool> {
    let mut folded = state.refresher.lock().await;
    let generation = state.store.generation().await?;
    if state.book().generation.as_ref() == Some(&generation) {
        return Ok(false);
    }
    bring_up(state, &mut folded, generation).await?;
    Ok(true)
}

/// Brings the book up to date after a step was written, whether or not the generation read
/// shows it yet, so the writer's next read sees its step.
pub async fn reread(state: &ApiState) -> StoreResult<()> {
    let mut folded = state.refresher.lock().await;
    let generation = state.store.generation().await?;
    state.cache.move_to(None);
    *state.parts.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    bring_up(state, &mut folded, generation).await
}

/// Reads the parts of the book, then folds the ledger's changes since the last refresh
/// into it (or, with no fold to advance, sums every line again) and puts it in force.
async fn bring_up(state: &ApiState, folded: &mut Option<Folded>, generation: String) -> StoreResult<()> {
    let started = std::time::Instant::now();
    let parts = parts(state).await?;
    let parts_seconds = started.elapsed().as_secs_f64();
    let touched = match folded.as_mut() {
        Some(f) => match fold_changes(state, f).await {
            Ok(touched) => touched,
            Err(e) => {
                // Part-way through a page: the fold no longer matches the book.
                *folded = None;
                return Err(e);
            }
        },
        None => None,
    };
    let fold_seconds = started.elapsed().as_secs_f64() - parts_seconds;
    let (book, kind) = match (touched, folded.as_ref()) {
        (Some(touched), Some(f)) => (Book::advance(&state.book(), generation, parts, &f.sums, &touched), "incremental"),
        _ => (read_whole(state, folded, generation, parts).await?, "full"),
    };
    let seconds = started.elapsed().as_secs_f64();
    state.metrics.book_refresh.with_label_values(&[kind]).observe(seconds);
    tracing::debug!(kind, seconds, parts_seconds, fold_seconds, "brought the book up to a new generation");
    state.metrics.book_keys.set(folded.as_ref().map_or(0, |f| i64::try_from(f.sums.keys()).unwrap_or(i64::MAX)));
    if kind == "full" {
        state.metrics.book_read.observe(seconds);
        tracing::info!(seconds, entities = book.entities.len(), "read the book of a new store generation");
    }
    state.metrics.show_open_months(&book);
    // In force before the gaps are shown: they cost a store read per open month.
    let book = Arc::new(book);
    *state.book.write().unwrap_or_else(std::sync::PoisonError::into_inner) = book.clone();
    state.cache.move_to(book.generation.clone());
    show_gaps(state, &book, folded.as_ref()).await;
    Ok(())
}

/// The book's parts, read again only when the tables they come from changed (on a store
/// that cannot tell, whenever anything changed).
async fn parts(state: &ApiState) -> StoreResult<Parts> {
    let generation = state.store.parts_generation().await?;
    if let Some((seen, parts)) = state.parts.lock().unwrap_or_else(std::sync::PoisonError::into_inner).as_ref() {
        if *seen == generation {
            return Ok(parts.clone());
        }
    }
    let started = std::time::Instant::now();
    let parts = Parts::read(state.store.as_ref(), &state.policy).await?;
    tracing::debug!(seconds = started.elapsed().as_secs_f64(), "read the book's parts again: their tables changed");
    *state.parts.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some((generation, parts.clone()));
    Ok(parts)
}

/// The book summed whole: from the store's base read and its mark (kept as the fold to
/// advance), or, for a store that keeps no change log, from `line_sums`.
async fn read_whole(state: &ApiState, folded: &mut Option<Folded>, generation: String, parts: Parts) -> StoreResult<Book> {
    *folded = None;
    match state.store.ledger_base().await? {
        Some(base) => {
            let book = Book::of_sums(generation, parts, &base.sums.line_sums());
            *folded = Some(Folded { sums: base.sums, mark: base.mark });
            Ok(book)
        }
        None => Ok(Book::of_sums(generation, parts, &state.store.line_sums().await?)),
    }
}

/// Changes read per page.
const PAGE: usize = 10_000;

/// Folds every change after the fold's mark, page by page; the users they moved, or `None`
/// when the store no longer holds every change after the mark (the book is read whole).
async fn fold_changes(state: &ApiState, f: &mut Folded) -> StoreResult<Option<BTreeSet<CreditCode>>> {
    let mut touched = BTreeSet::new();
    let mut count = 0u64;
    let whole = subsidy_store::fold_changes(state.store.as_ref(), &mut f.sums, &mut f.mark, PAGE, &mut |c| {
        touched.extend(c.users());
        count += 1;
    })
    .await;
    state.metrics.book_changes.inc_by(count);
    Ok(whole?.then_some(touched))
}

/// Compares the fold with a base read of the store at the fold's mark (the safety net behind
/// the change log) and shows in `subsidy_api_book_divergence` how many keys differ. A fold
/// that differs is dropped and the book read whole. The base read runs on a copy of the
/// fold, so refreshes go on meanwhile. `None` when there is no fold, or the store cannot
/// read at the fold's mark (checked again later).
pub async fn verify(state: &ApiState) -> StoreResult<Option<usize>> {
    let Some((sums, mark)) = state.refresher.lock().await.as_ref().map(|f| (f.sums.clone(), f.mark.clone())) else { return Ok(None) };
    let Some(base) = state.store.ledger_base_at(&mark).await? else { return Ok(None) };
    let differ = sums.differing_keys(&base.sums);
    state.metrics.book_divergence.set(i64::try_from(differ).unwrap_or(i64::MAX));
    if differ > 0 {
        tracing::error!(keys = differ, "the book's folded sums differ from a base read of the ledger at the same mark; reading the book whole");
        let mut folded = state.refresher.lock().await;
        *folded = None;
        let generation = state.store.generation().await?;
        bring_up(state, &mut folded, generation).await?;
    }
    Ok(Some(differ))
}

/// Reconciles each open month of `book` with the platform's usage counts for the gap gauge,
/// the ledger's figures from the fold when there is one; a month that cannot be read is
/// left out (and logged), it does not stop the book.
async fn show_gaps(state: &ApiState, book: &Book, folded: Option<&Folded>) {
    let started = std::time::Instant::now();
    let mut gaps = Vec::new();
    for period in book.open_months() {
        let read = async {
            let ledger = match folded {
                Some(f) => f.sums.day_counts(period),
                None => state.store.ledger_counts(period).await?,
            };
            Ok::<_, subsidy_store::StoreError>((state.store.usage_counts(period).await?, ledger))
        };
        match read.await {
            Ok((platform, ledger)) => gaps.push((period, subsidy_core::reconcile(period, &platform, &ledger).gap_records())),
            Err(e) => tracing::warn!(error = %e, %period, "cannot reconcile the month with the platform's usage counts"),
        }
    }
    state.metrics.show_gaps(&gaps);
    tracing::debug!(months = gaps.len(), seconds = started.elapsed().as_secs_f64(), "compared the open months with the platform's usage counts");
}

/// Refreshes every [`POLL`] (every [`POLL_WHOLE`] after a book read whole, which costs the
/// store a read of every line) until cancelled, and checks the fold against a full read
/// every [`VERIFY`]; a failed read keeps what was read last. The loop runs on a thread of its
/// own, so a flood of requests on the server's threads cannot hold the book back. Once
/// cancelled the thread goes on driving its runtime until the process ends: the store's
/// pooled connections it opened may still carry the answers of requests being drained.
pub fn spawn_refresh(state: ApiState, stop: CancellationToken) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    std::thread::Builder::new().name("book-refresh".into()).spawn(move || {
        runtime.block_on(async {
            refresh_loop(state, stop).await;
            std::future::pending::<()>().await
        })
    })?;
    Ok(())
}

async fn refresh_loop(state: ApiState, stop: CancellationToken) {
    let mut last_check = tokio::time::Instant::now();
    loop {
        let wait = if state.refresher.lock().await.is_some() { POLL } else { POLL_WHOLE };
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
        if let Err(e) = refresh(&state).await {
            tracing::warn!(error = %e, "cannot read the store; answering from what was read last");
        }
        if last_check.elapsed() >= VERIFY {
            last_check = tokio::time::Instant::now();
            if let Err(e) = verify(&state).await {
                tracing::warn!(error = %e, "cannot check the book against a full read");
            }
        }
    }
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
    /// The fold the book is advanced by, held while bringing it up to date.
    refresher: Refresher,
    /// The book's parts as last read, and the generation of their tables then.
    parts: Arc<std::sync::Mutex<Option<(String, Parts)>>>,
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
            refresher: Refresher::default(),
            parts: Arc::default(),
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
