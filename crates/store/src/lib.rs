//! Ledger stores: where settled ledgers live.
//!
//! [`LedgerStore`] is the one interface the aggregator, `close`, `export`,
//! `statements` and the accruals API use. Two implementations share one
//! conformance suite: ClickHouse (the production store) and SQLite (the
//! embedded default). Stores hold no rules: they persist and return what the
//! core computed, and sum lines; settling the sums is the core's job.
//!
//! Every write is idempotent: rows carry deterministic keys (record id,
//! Kafka partition and offset, close id) and, where a row is replaced, a
//! version taken from the data (revisions and bus positions, never a clock),
//! so a replayed batch replaces rather than doubles.
//!
//! A store may keep a change log of its ledger lines ([`changes`]): each write
//! of a line logged with the line it replaced, in the same atomic unit, so a
//! reader folds the changes since its last read ([`LedgerStore::line_changes`])
//! into sums it holds instead of summing every line again. SQLite keeps one by
//! trigger; ClickHouse from the writers' word, in the same insert as the line.

pub mod changes;
pub mod clickhouse;
pub mod closing;
pub mod log;
pub mod completeness;
pub mod programme;
mod codec;
mod decimal;
mod error;
pub mod rows;
pub mod settled;
pub mod sqlite;

pub use changes::{ChangeMark, Changes, LedgerBase, LedgerSums, LineChange, LineEffect};
pub use self::clickhouse::{ClickHouseConfig, ClickHouseStore};
pub use completeness::{CloseOverride, CountRow};
pub use closing::{parse_positions, positions_text, CloseFence, CloseRecord};
pub use self::sqlite::SqliteStore;
pub use error::{StoreCause, StoreError, StoreResult};
pub use programme::{append_step, programme_over, read_programme, AppendError, ProgrammeBook, Step, StepLog};
pub use rows::*;
pub use log::{read_log, StoredLog};
pub use settled::{lines_under_other_documents, settle_lines, settle_sums, settlements};

use async_trait::async_trait;
use subsidy_core::programme::Event;
use subsidy_core::{Affected, CreditCode, DayCount, Period, Statement};

/// Migration ids of the retired layout (ledgers keyed by user, settlements kept per
/// member); a database holding one is refused rather than silently mixed.
pub(crate) const RETIRED_MIGRATIONS: &[&str] = &["0002_settlements"];

/// The refusal for a database in the retired layout.
pub(crate) fn retired_layout(id: &str) -> StoreError {
    StoreError::rejected(format!(
        "this database holds the retired ledger layout (migration {id}): ledgers are now keyed by record id and \
         settled from their lines. Point the pipeline at a new database and aggregate the records topic from the start"
    ))
}

/// The ledger store interface.
#[async_trait]
pub trait LedgerStore: Send + Sync {
    /// Applies pending schema migrations in order; returns the ids newly applied.
    /// Idempotent: a second call applies nothing.
    async fn migrate(&self) -> StoreResult<Vec<String>>;

    /// Cheap liveness check.
    async fn ping(&self) -> StoreResult<()>;

    /// The standing line of each given record id that has one.
    async fn lines_of(&self, record_ids: &[String]) -> StoreResult<Vec<LineRow>>;

    /// Writes one processed batch: copies, lines and rejections, then marks.
    /// Replaying the same batch changes nothing; of two lines of one record the
    /// higher version stands, and an equal one replaces.
    async fn write_batch(&self, batch: &WriteBatch) -> StoreResult<()>;

    /// Passes to `each` the record id of every ledger line in the given Kafka partitions
    /// (an id may come more than once); returns how many it passed. What an aggregator
    /// rebuilds its filter of seen record ids from.
    async fn record_ids(&self, partitions: &[i32], each: &mut (dyn for<'s> FnMut(&'s str) + Send)) -> StoreResult<u64>;

    /// Record ids of the lines held for an unknown entity or center in the given partitions.
    async fn held_ids(&self, partitions: &[i32]) -> StoreResult<Vec<String>>;

    /// The lines of the given partitions that a registry change may classify differently.
    async fn affected_lines(&self, partitions: &[i32], affected: &Affected) -> StoreResult<Vec<LineRow>>;

    /// The re-settlement marks of the given partitions (a partition never marked has none).
    async fn marks(&self, partitions: &[i32]) -> StoreResult<Vec<ResettleMark>>;

    /// Sums of the standing lines per user, month and reason, sorted (eligible first).
    async fn line_sums(&self) -> StoreResult<Vec<LineSum>>;

    /// The sums of the standing lines (those of `line_sums` and of `ledger_counts`, every
    /// month) as one consistent read, with the mark of the change log they include; `None`
    /// for a store that keeps no change log (its readers read `line_sums` whole).
    async fn ledger_base(&self) -> StoreResult<Option<LedgerBase>> {
        Ok(None)
    }

    /// The sums of the standing lines as they stood at `mark` (a mark this store gave), with
    /// that mark: what a reader's fold at `mark` must equal. `None` when the store keeps no
    /// change log or cannot read at a past mark; a store that reads only as the lines stand
    /// now answers when nothing was written since `mark`.
    async fn ledger_base_at(&self, mark: &ChangeMark) -> StoreResult<Option<LedgerBase>> {
        Ok(self.ledger_base().await?.filter(|base| &base.mark == mark))
    }

    /// Up to `limit` changes of ledger lines written after `since`, in the order they were
    /// written, with the mark they lead to. `None` when the log no longer holds every change
    /// after `since` (pruned, or another database) or the store keeps none: the reader
    /// reads [`ledger_base`](LedgerStore::ledger_base) again.
    async fn line_changes(&self, _since: &ChangeMark, _limit: usize) -> StoreResult<Option<Changes>> {
        Ok(None)
    }

    /// Every month with at least one standing line, sorted.
    async fn months_with_lines(&self) -> StoreResult<Vec<Period>>;

    /// Standing lines of one entity, optionally of one month, sorted by month then record id.
    async fn entity_lines(&self, credit_code: &CreditCode, period: Option<Period>) -> StoreResult<Vec<LineRow>>;

    /// Closed months, oldest first.
    async fn closures(&self) -> StoreResult<Vec<Closure>>;

    /// Every statement line of a completed close, sorted.
    async fn statements(&self) -> StoreResult<Vec<Statement>>;

    /// Records a close: its statement lines, then the closure that makes them count.
    /// A month closed already (as this call reads it) is a `Conflict` and writes nothing.
    /// Fenced against a concurrent close only where [`close_fence`](LedgerStore::close_fence)
    /// is `Transaction`; closers use [`commit_record`](LedgerStore::commit_record) or the log.
    async fn commit_close(&self, closure: &Closure, statements: &[Statement]) -> StoreResult<()>;

    /// How this store keeps two closes of one month from both standing.
    fn close_fence(&self) -> CloseFence;

    /// The highest bus position of each records partition the ledger holds (copies and
    /// rejections), sorted by partition: what the figures read with it had seen.
    async fn positions_seen(&self) -> StoreResult<Vec<BusPosition>>;

    /// Where the fence is `Transaction`: the statement lines and the closure rows of every
    /// month of `record`, in one transaction; when any of them is closed already, a
    /// `Conflict` naming the close that holds it, and nothing written. Elsewhere `Rejected`.
    async fn commit_record(&self, record: &CloseRecord, statements: &[Statement]) -> StoreResult<()>;

    /// Writes statement lines under `close_id`; they count only once a closure row names it.
    async fn stage_statements(&self, close_id: &str, statements: &[Statement]) -> StoreResult<()>;

    /// The statement lines written under `close_id`, counted or not, sorted.
    async fn staged_statements(&self, close_id: &str) -> StoreResult<Vec<Statement>>;

    /// Waits, at most `limit`, until this store's reads include every write any of its
    /// servers acknowledged before the call (on a replicated cluster: until the replica
    /// answering holds every committed part); `Unavailable` after `limit`. What a close
    /// calls before it reads. Immediate on a single server and SQLite.
    async fn await_up_to_date(&self, _limit: std::time::Duration) -> StoreResult<()> {
        Ok(())
    }

    /// Writes the closure rows of `record` (with what it had seen and why it closed early),
    /// which make its staged lines count. Where the fence is `Log`, only the closer whose
    /// claim stands in the log (or a run completing that claim) may call it.
    async fn record_closures(&self, record: &CloseRecord) -> StoreResult<()>;

    /// Rejections by reason code (for summaries).
    async fn rejection_counts(&self) -> StoreResult<Vec<(String, u64)>>;

    /// Sums of the standing lines of one month by user, center, reason and uplift, sorted.
    async fn month_sums(&self, period: Period) -> StoreResult<Vec<MonthSum>>;

    /// Every copy received of the given record ids, sorted by record id then bus position.
    async fn copies_of(&self, record_ids: &[String]) -> StoreResult<Vec<CopyRow>>;

    /// A marker that changes whenever the stored data may have changed (by any writer), and
    /// stays the same while it has not: what readers key their caches by. Opaque.
    async fn generation(&self) -> StoreResult<String>;

    /// Like [`generation`](LedgerStore::generation), but moved only by writes outside the
    /// ledger's record-keyed tables (lines, copies, rejections, marks, counts, the change
    /// log): the registry, policy documents, closes, statements and the programme, which a
    /// reader keeps beside its sums. A store that cannot tell answers `generation`.
    async fn parts_generation(&self) -> StoreResult<String> {
        self.generation().await
    }

    /// The registry as last written (empty before the first write).
    async fn registry(&self) -> StoreResult<RegistryRows>;

    /// Every policy document the ledger recorded, by sequence: the last is in force.
    async fn policy_documents(&self) -> StoreResult<Vec<PolicyRecord>>;

    /// Records a policy document. Where the fence ([`close_fence`](LedgerStore::close_fence))
    /// is `Transaction`, one transaction that records it only as the next document (its
    /// sequence one past the highest; the same record again changes nothing) and is
    /// otherwise a `Conflict` naming the one in force. Where it is `Log`, only the applier
    /// whose claim stands in the log (or a run completing that claim) may call it.
    async fn record_policy(&self, record: &PolicyRecord) -> StoreResult<()>;

    /// Up to `limit` standing lines not settled under the policy document `hash`, of the
    /// given records partitions (every one when `None`), with record ids after `after`,
    /// sorted by record id: what a change of policy re-settles, page by page.
    async fn lines_not_under(&self, hash: &str, partitions: Option<&[i32]>, after: &str, limit: usize) -> StoreResult<Vec<LineRow>>;

    /// The programme's history, by sequence.
    async fn programme_events(&self) -> StoreResult<Vec<Event>>;

    /// Records a programme step. Where the fence ([`close_fence`](LedgerStore::close_fence))
    /// is `Transaction`, one transaction that records it only as the next step (its sequence
    /// one past the highest; the same event again changes nothing), otherwise a `Conflict`.
    /// Where it is `Log`, only the writer whose claim on the sequence stands in the log (or a
    /// run completing that claim) may call it; a row of the sequence holding another event
    /// is a `Conflict`.
    async fn record_event(&self, event: &Event) -> StoreResult<()>;

    /// The transparency log's signed checkpoints, by size.
    async fn tlog_checkpoints(&self) -> StoreResult<Vec<TlogCheckpointRow>>;

    /// Records a signed checkpoint. The same row again changes nothing; another row of the
    /// same size is a `Conflict` (signing is deterministic: it means another tree or key).
    async fn record_tlog_checkpoint(&self, row: &TlogCheckpointRow) -> StoreResult<()>;

    /// Every witness cosignature, by size then witness.
    async fn tlog_cosignatures(&self) -> StoreResult<Vec<TlogCosignatureRow>>;

    /// Records a witness's cosignature of a checkpoint (replacing its earlier one of that size).
    async fn record_tlog_cosignature(&self, row: &TlogCosignatureRow) -> StoreResult<()>;

    /// Stores the platform's usage counts; of two rows of one center-day the higher version
    /// stands, so a replay changes nothing.
    async fn write_usage_counts(&self, rows: &[CountRow]) -> StoreResult<()>;

    /// The platform's usage counts of the days of `period`, by day then center.
    async fn usage_counts(&self, period: Period) -> StoreResult<Vec<DayCount>>;

    /// The ledger's figures of `period` per center and usage day: standing lines and the
    /// sum of their `paid_amount`, by day then center.
    async fn ledger_counts(&self, period: Period) -> StoreResult<Vec<DayCount>>;

    /// Records a close forced past a gap, before the close itself: it counts only once a
    /// closure names its close id.
    async fn record_override(&self, row: &CloseOverride) -> StoreResult<()>;

    /// The forced closes that stand, by month.
    async fn close_overrides(&self) -> StoreResult<Vec<CloseOverride>>;
}

/// Folds every change `store` logged after `mark` into `sums`, `page` changes at a time, and
/// moves `mark` past them; `each` is shown every change folded. False when the store cannot
/// give every change after `mark` ([`LedgerStore::line_changes`]); on an error the pages
/// before it stay folded.
pub async fn fold_changes(store: &dyn LedgerStore, sums: &mut LedgerSums, mark: &mut ChangeMark, page: usize, each: &mut (dyn FnMut(&LineChange) + Send)) -> StoreResult<bool> {
    loop {
        let Some(changes) = store.line_changes(mark, page).await? else { return Ok(false) };
        for c in &changes.changes {
            sums.apply(c)?;
            each(c);
        }
        *mark = changes.mark;
        if !changes.more {
            return Ok(true);
        }
    }
}
