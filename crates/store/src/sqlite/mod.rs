//! The SQLite ledger store (the embedded default).
//!
//! One connection behind a mutex; every call runs on tokio's blocking pool
//! so the runtime never waits on disk. Decimals are kept as exact text and
//! summed in Rust; each `write_batch` is one transaction of prepared upserts
//! that keep the highest revision or version, so replays change nothing.
//! Triggers log every change of a ledger line in the same transaction
//! (`line_changes`), which readers fold instead of summing every line again.
//! Files use WAL. Holds no settlement rules.

mod changes;
mod close;
mod codec;
mod completeness;
mod policy;
mod programme;
mod read;
mod schema;
mod tlog;
mod write;

use crate::{BusPosition, CloseFence, CloseRecord, LineSum, Closure, CopyRow, LedgerStore, LineRow, MonthSum, PolicyRecord, RegistryRows, ResettleMark, StoreError, StoreResult, WriteBatch};
use async_trait::async_trait;
use rusqlite::Connection;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use subsidy_core::{Affected, CreditCode, Period, Statement};

/// How long a writer waits for another process holding the file lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Page cache per connection, in KiB.
const CACHE_KIB: i64 = 64 * 1024;

/// The SQLite store. Cheap to clone: clones share the connection.
#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating when missing) the database at `path`; `":memory:"` opens a private in-memory one.
    /// Does not migrate: call [`LedgerStore::migrate`].
    pub fn open(path: impl AsRef<Path>) -> StoreResult<SqliteStore> {
        let path = path.as_ref();
        let conn = Connection::open(path).map_err(codec::map_error)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(codec::map_error)?;
        // Negative means KiB: a page cache big enough for a 100k-record batch.
        conn.pragma_update(None, "cache_size", -CACHE_KIB).map_err(codec::map_error)?;
        if path != Path::new(":memory:") {
            let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0)).map_err(codec::map_error)?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(StoreError::unavailable(format!("sqlite: cannot switch {} to WAL (got {mode})", path.display())));
            }
            conn.pragma_update(None, "synchronous", "NORMAL").map_err(codec::map_error)?;
        }
        Ok(SqliteStore { conn: Arc::new(Mutex::new(conn)) })
    }

    /// A private in-memory database.
    pub fn open_in_memory() -> StoreResult<SqliteStore> {
        SqliteStore::open(":memory:")
    }

    /// Runs `f` with the connection on the blocking pool.
    async fn with_conn<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock rolled its transaction back on unwind; the connection is still sound.
            let mut guard = conn.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            f(&mut guard)
        })
        .await
        .map_err(|e| StoreError::Rejected { message: format!("sqlite: task failed: {e}"), cause: Some(e.into()) })?
    }
}

#[async_trait]
impl LedgerStore for SqliteStore {
    async fn migrate(&self) -> StoreResult<Vec<String>> {
        self.with_conn(schema::migrate).await
    }

    async fn ping(&self) -> StoreResult<()> {
        self.with_conn(|c| c.query_row("SELECT 1", [], |_| Ok(())).map_err(codec::map_error)).await
    }

    async fn lines_of(&self, record_ids: &[String]) -> StoreResult<Vec<LineRow>> {
        let ids = record_ids.to_vec();
        self.with_conn(move |c| read::lines_of(c, &ids)).await
    }

    async fn write_batch(&self, batch: &WriteBatch) -> StoreResult<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let batch = batch.clone();
        self.with_conn(move |c| write::write_batch(c, &batch)).await
    }

    async fn record_ids(&self, partitions: &[i32], each: &mut (dyn for<'s> FnMut(&'s str) + Send)) -> StoreResult<u64> {
        let partitions = partitions.to_vec();
        // Read whole on the store's thread: the embedded store holds demo-sized ledgers.
        let ids = self.with_conn(move |c| read::record_ids(c, &partitions)).await?;
        for id in &ids {
            each(id);
        }
        Ok(ids.len() as u64)
    }

    async fn held_ids(&self, partitions: &[i32]) -> StoreResult<Vec<String>> {
        let partitions = partitions.to_vec();
        self.with_conn(move |c| read::held_ids(c, &partitions)).await
    }

    async fn affected_lines(&self, partitions: &[i32], affected: &Affected) -> StoreResult<Vec<LineRow>> {
        let (partitions, affected) = (partitions.to_vec(), affected.clone());
        self.with_conn(move |c| read::affected_lines(c, &partitions, &affected)).await
    }

    async fn marks(&self, partitions: &[i32]) -> StoreResult<Vec<ResettleMark>> {
        let partitions = partitions.to_vec();
        self.with_conn(move |c| read::marks(c, &partitions)).await
    }

    async fn line_sums(&self) -> StoreResult<Vec<LineSum>> {
        self.with_conn(|c| read::line_sums(c)).await
    }

    async fn ledger_base(&self) -> StoreResult<Option<crate::LedgerBase>> {
        self.with_conn(changes::base).await.map(Some)
    }

    async fn line_changes(&self, since: &crate::ChangeMark, limit: usize) -> StoreResult<Option<crate::Changes>> {
        let since = since.clone();
        self.with_conn(move |c| changes::after(c, &since, limit)).await
    }

    async fn months_with_lines(&self) -> StoreResult<Vec<Period>> {
        self.with_conn(|c| read::months_with_lines(c)).await
    }

    async fn entity_lines(&self, credit_code: &CreditCode, period: Option<Period>) -> StoreResult<Vec<LineRow>> {
        let code = *credit_code;
        self.with_conn(move |c| read::entity_lines(c, &code, period)).await
    }

    async fn closures(&self) -> StoreResult<Vec<Closure>> {
        self.with_conn(read::closures).await
    }

    async fn statements(&self) -> StoreResult<Vec<Statement>> {
        self.with_conn(read::statements).await
    }

    async fn commit_close(&self, closure: &Closure, statements: &[Statement]) -> StoreResult<()> {
        let (closure, statements) = (closure.clone(), statements.to_vec());
        self.with_conn(move |c| write::commit_close(c, &closure, &statements)).await
    }

    fn close_fence(&self) -> CloseFence {
        CloseFence::Transaction
    }

    async fn positions_seen(&self) -> StoreResult<Vec<BusPosition>> {
        self.with_conn(close::positions_seen).await
    }

    async fn commit_record(&self, record: &CloseRecord, statements: &[Statement]) -> StoreResult<()> {
        let (record, statements) = (record.clone(), statements.to_vec());
        self.with_conn(move |c| close::commit_record(c, &record, &statements)).await
    }

    async fn stage_statements(&self, close_id: &str, statements: &[Statement]) -> StoreResult<()> {
        let (close_id, statements) = (close_id.to_string(), statements.to_vec());
        self.with_conn(move |c| close::stage_statements(c, &close_id, &statements)).await
    }

    async fn staged_statements(&self, close_id: &str) -> StoreResult<Vec<Statement>> {
        let close_id = close_id.to_string();
        self.with_conn(move |c| close::staged_statements(c, &close_id)).await
    }

    async fn record_closures(&self, record: &CloseRecord) -> StoreResult<()> {
        let record = record.clone();
        self.with_conn(move |c| close::record_closures(c, &record)).await
    }

    async fn rejection_counts(&self) -> StoreResult<Vec<(String, u64)>> {
        self.with_conn(read::rejection_counts).await
    }

    async fn month_sums(&self, period: Period) -> StoreResult<Vec<MonthSum>> {
        self.with_conn(move |c| read::month_sums(c, period)).await
    }

    async fn copies_of(&self, record_ids: &[String]) -> StoreResult<Vec<CopyRow>> {
        let ids = record_ids.to_vec();
        self.with_conn(move |c| read::copies_of(c, &ids)).await
    }

    async fn generation(&self) -> StoreResult<String> {
        self.with_conn(|c| {
            // data_version moves with other connections' commits, total_changes with this one's.
            let version: i64 = c.query_row("PRAGMA data_version", [], |r| r.get(0)).map_err(codec::map_error)?;
            Ok(format!("{version}:{}", c.total_changes()))
        })
        .await
    }

    async fn registry(&self) -> StoreResult<RegistryRows> {
        self.with_conn(read::registry).await
    }

    async fn policy_documents(&self) -> StoreResult<Vec<PolicyRecord>> {
        self.with_conn(policy::policy_documents).await
    }

    async fn record_policy(&self, record: &PolicyRecord) -> StoreResult<()> {
        let record = record.clone();
        self.with_conn(move |c| policy::record_policy(c, &record)).await
    }

    async fn lines_not_under(&self, hash: &str, partitions: Option<&[i32]>, after: &str, limit: usize) -> StoreResult<Vec<LineRow>> {
        let (hash, partitions, after) = (hash.to_string(), partitions.map(<[i32]>::to_vec), after.to_string());
        self.with_conn(move |c| policy::lines_not_under(c, &hash, partitions.as_deref(), &after, limit)).await
    }

    async fn programme_events(&self) -> StoreResult<Vec<subsidy_core::programme::Event>> {
        self.with_conn(programme::programme_events).await
    }

    async fn record_event(&self, event: &subsidy_core::programme::Event) -> StoreResult<()> {
        let event = event.clone();
        self.with_conn(move |c| programme::record_event(c, &event)).await
    }

    async fn tlog_checkpoints(&self) -> StoreResult<Vec<crate::TlogCheckpointRow>> {
        self.with_conn(tlog::checkpoints).await
    }

    async fn record_tlog_checkpoint(&self, row: &crate::TlogCheckpointRow) -> StoreResult<()> {
        let row = row.clone();
        self.with_conn(move |c| tlog::record_checkpoint(c, &row)).await
    }

    async fn tlog_cosignatures(&self) -> StoreResult<Vec<crate::TlogCosignatureRow>> {
        self.with_conn(tlog::cosignatures).await
    }

    async fn record_tlog_cosignature(&self, row: &crate::TlogCosignatureRow) -> StoreResult<()> {
        let row = row.clone();
        self.with_conn(move |c| tlog::record_cosignature(c, &row)).await
    }

    async fn write_usage_counts(&self, rows: &[crate::CountRow]) -> StoreResult<()> {
        let rows = rows.to_vec();
        self.with_conn(move |c| completeness::write_counts(c, &rows)).await
    }

    async fn usage_counts(&self, period: Period) -> StoreResult<Vec<subsidy_core::DayCount>> {
        self.with_conn(move |c| completeness::platform_counts(c, period)).await
    }

    async fn ledger_counts(&self, period: Period) -> StoreResult<Vec<subsidy_core::DayCount>> {
        self.with_conn(move |c| completeness::ledger_counts(c, period)).await
    }

    async fn record_override(&self, row: &crate::CloseOverride) -> StoreResult<()> {
        let row = row.clone();
        self.with_conn(move |c| completeness::record_override(c, &row)).await
    }

    async fn close_overrides(&self) -> StoreResult<Vec<crate::CloseOverride>> {
        self.with_conn(completeness::close_overrides).await
    }
}
