//! The ClickHouse ledger store (the production store).
//!
//! Talks HTTP (RowBinary, lz4-compressed inserts) through the `clickhouse`
//! crate with type validation off, which the 18.x servers need. The DDL in
//! `schemas/clickhouse/` runs unchanged on ClickHouse 18.16 and current
//! releases. Tables are ReplacingMergeTrees keyed like the store rows, so a
//! replayed write replaces; reads use `FINAL`. This module owns the SQL and
//! the column mapping only: it holds no settlement rules.

mod changes;
mod close;
mod completeness;
mod cluster;
mod config;
mod error;
mod policy;
mod programme;
mod read;
mod rows;
mod schema;
mod tlog;
mod write;

pub use cluster::ClusterError;
pub use config::{ClickHouseConfig, ConfigError};

use crate::{BusPosition, ChangeMark, Changes, LedgerBase, CloseFence, CloseRecord, LineSum, Closure, CopyRow, LedgerStore, LineRow, MonthSum, PolicyRecord, RegistryRows, ResettleMark, StoreError, StoreResult, WriteBatch};
use ::clickhouse::{Client, Compression};
use async_trait::async_trait;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use subsidy_core::{Affected, CreditCode, Period, Statement};

/// Longest wait for a read or DDL query (inserts have their own timeouts).
const QUERY_TIMEOUT: Duration = Duration::from_secs(300);

/// The ClickHouse store. Cheap to clone: clones share the connection pool.
#[derive(Clone)]
pub struct ClickHouseStore {
    /// Bound to the ledger database.
    client: Client,
    /// Not bound to a database: creates and drops it.
    admin: Client,
    database: String,
    /// This handle's stream of line writes (clones share it).
    streams: Arc<changes::Streams>,
}

impl std::fmt::Debug for ClickHouseStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClickHouseStore").field("database", &self.database).finish_non_exhaustive()
    }
}

impl ClickHouseStore {
    /// Builds the store without any IO: the first query opens the connection.
    /// Invalid settings are `Rejected`.
    pub fn new(config: &ClickHouseConfig) -> StoreResult<ClickHouseStore> {
        config.validate().map_err(|e| StoreError::Rejected { message: e.to_string(), cause: Some(e.into()) })?;
        let mut base = Client::default()
            .with_url(config.url.as_str())
            .with_user(config.user.as_str())
            .with_validation(false)
            .with_compression(Compression::Lz4)
            // Through `Distributed` tables (a cluster): an insert is acknowledged once stored
            // on its shard, and the by-user index is read on each shard beside its lines
            // (both share the record-id sharding). Harmless on a single server.
            .with_setting("insert_distributed_sync", "1")
            .with_setting("distributed_product_mode", "local")
            // A server that is a replica of a shard reads that shard locally: what a close
            // waited to be up to date (`await_up_to_date`) is what it reads.
            .with_setting("prefer_localhost_replica", "1");
        if !config.password.is_empty() {
            base = base.with_password(config.password.as_str());
        }
        Ok(ClickHouseStore { admin: base.clone(), client: base.with_database(config.database.as_str()), database: config.database.clone(), streams: Arc::new(changes::Streams::new()) })
    }

    /// Builds the store and checks that the server answers (`Unavailable` when it does not).
    pub async fn connect(config: &ClickHouseConfig) -> StoreResult<ClickHouseStore> {
        let store = ClickHouseStore::new(config)?;
        deadline(async { store.admin.query("SELECT 1").fetch_one::<u8>().await.map_err(error::map_error) }).await?;
        Ok(store)
    }

    /// The database the ledger lives in.
    pub fn database(&self) -> &str {
        &self.database
    }

    /// Applies the pending migrations to every server of `cluster` (named in the servers'
    /// `remote_servers`): replicated tables `<name>_local` and `Distributed` tables with the
    /// plain names over them, created `ON CLUSTER`. Every other method then works unchanged
    /// through any server of the cluster.
    pub async fn migrate_cluster(&self, cluster: &str) -> StoreResult<Vec<String>> {
        deadline(async {
            let sharded = schema::sharded(&self.admin, plain_cluster_name(cluster)?).await?;
            schema::migrate(&self.admin, &self.client, &self.database, self.target(Some(cluster), sharded)?).await
        })
        .await
    }

    /// Every statement [`migrate`](LedgerStore::migrate) (or, with a cluster,
    /// [`migrate_cluster`](ClickHouseStore::migrate_cluster)) runs on a new database, in order
    /// (for a cluster, asking the server how many shards it has).
    pub async fn ddl(&self, cluster: Option<&str>) -> StoreResult<Vec<String>> {
        let sharded = match cluster {
            Some(name) => deadline(schema::sharded(&self.admin, plain_cluster_name(name)?)).await?,
            None => false,
        };
        schema::ddl(&self.database, self.target(cluster, sharded)?)
    }

    /// Drops the whole ledger database on every server of `cluster`: for tests and tear-down only.
    pub async fn drop_cluster_database(&self, cluster: &str) -> StoreResult<()> {
        let cluster = plain_cluster_name(cluster)?;
        let sql = format!("DROP DATABASE IF EXISTS `{}` ON CLUSTER {cluster}", self.database);
        deadline(async { self.admin.query_raw(&sql).execute().await.map_err(error::map_error) }).await
    }

    /// Where migrations apply: this server, or every server of a cluster.
    fn target<'a>(&'a self, cluster: Option<&'a str>, sharded: bool) -> StoreResult<schema::Target<'a>> {
        Ok(match cluster {
            Some(name) => schema::Target::Cluster(cluster::Cluster { name: plain_cluster_name(name)?, database: &self.database, sharded }),
            None => schema::Target::Server,
        })
    }

    /// Drops the whole ledger database: for tests and tear-down only.
    pub async fn drop_database(&self) -> StoreResult<()> {
        let sql = format!("DROP DATABASE IF EXISTS `{}`", self.database);
        deadline(async { self.admin.query_raw(&sql).execute().await.map_err(error::map_error) }).await
    }
}

/// A cluster name safe to splice into DDL, or `Rejected`.
fn plain_cluster_name(name: &str) -> StoreResult<&str> {
    if config::is_plain_identifier(name) {
        Ok(name)
    } else {
        Err(StoreError::rejected(format!("cluster name {name:?} must be letters, digits and '_' only")))
    }
}

/// Bounds a query by [`QUERY_TIMEOUT`]; a hung server is `Unavailable`.
async fn deadline<T>(fut: impl Future<Output = StoreResult<T>>) -> StoreResult<T> {
    tokio::time::timeout(QUERY_TIMEOUT, fut)
        .await
        .map_err(|_| StoreError::unavailable(format!("clickhouse: no answer within {QUERY_TIMEOUT:?}")))?
}

#[async_trait]
impl LedgerStore for ClickHouseStore {
    async fn migrate(&self) -> StoreResult<Vec<String>> {
        deadline(schema::migrate(&self.admin, &self.client, &self.database, schema::Target::Server)).await
    }

    async fn ping(&self) -> StoreResult<()> {
        deadline(async { self.client.query("SELECT 1").fetch_one::<u8>().await.map(drop).map_err(error::map_error) }).await
    }

    async fn lines_of(&self, record_ids: &[String]) -> StoreResult<Vec<LineRow>> {
        deadline(read::lines_of(&self.client, record_ids)).await
    }

    async fn write_batch(&self, batch: &WriteBatch) -> StoreResult<()> {
        write::write_batch(&self.client, &self.streams, batch).await
    }

    async fn record_ids(&self, partitions: &[i32], each: &mut (dyn for<'s> FnMut(&'s str) + Send)) -> StoreResult<u64> {
        deadline(read::record_ids(&self.client, partitions, each)).await
    }

    async fn held_ids(&self, partitions: &[i32]) -> StoreResult<Vec<String>> {
        deadline(read::held_ids(&self.client, partitions)).await
    }

    async fn affected_lines(&self, partitions: &[i32], affected: &Affected) -> StoreResult<Vec<LineRow>> {
        deadline(read::affected_lines(&self.client, partitions, affected)).await
    }

    async fn marks(&self, partitions: &[i32]) -> StoreResult<Vec<ResettleMark>> {
        deadline(read::marks(&self.client, partitions)).await
    }

    async fn line_sums(&self) -> StoreResult<Vec<LineSum>> {
        deadline(read::line_sums(&self.client)).await
    }

    async fn ledger_base(&self) -> StoreResult<Option<LedgerBase>> {
        deadline(changes::base(&self.client, &self.streams, None)).await
    }

    async fn ledger_base_at(&self, mark: &ChangeMark) -> StoreResult<Option<LedgerBase>> {
        deadline(changes::base(&self.client, &self.streams, Some(mark))).await
    }

    async fn line_changes(&self, since: &ChangeMark, limit: usize) -> StoreResult<Option<Changes>> {
        deadline(changes::after(&self.client, &self.streams, since, limit)).await
    }

    async fn months_with_lines(&self) -> StoreResult<Vec<Period>> {
        deadline(read::months_with_lines(&self.client)).await
    }

    async fn entity_lines(&self, credit_code: &CreditCode, period: Option<Period>) -> StoreResult<Vec<LineRow>> {
        deadline(read::entity_lines(&self.client, credit_code, period)).await
    }

    async fn closures(&self) -> StoreResult<Vec<Closure>> {
        deadline(read::closures(&self.client)).await
    }

    async fn statements(&self) -> StoreResult<Vec<Statement>> {
        deadline(read::statements(&self.client)).await
    }

    async fn commit_close(&self, closure: &Closure, statements: &[Statement]) -> StoreResult<()> {
        deadline(close::commit_close(&self.client, closure, statements)).await
    }

    fn close_fence(&self) -> CloseFence {
        CloseFence::Log
    }

    async fn positions_seen(&self) -> StoreResult<Vec<BusPosition>> {
        deadline(close::positions_seen(&self.client)).await
    }

    async fn commit_record(&self, _record: &CloseRecord, _statements: &[Statement]) -> StoreResult<()> {
        Err(StoreError::rejected("ClickHouse has no transactions: a close stages its lines, wins the log of closes, then records its closures"))
    }

    async fn stage_statements(&self, close_id: &str, statements: &[Statement]) -> StoreResult<()> {
        close::stage_statements(&self.client, close_id, statements).await
    }

    async fn staged_statements(&self, close_id: &str) -> StoreResult<Vec<Statement>> {
        deadline(close::staged_statements(&self.client, close_id)).await
    }

    async fn await_up_to_date(&self, limit: Duration) -> StoreResult<()> {
        close::await_up_to_date(&self.client, limit).await
    }

    async fn record_closures(&self, record: &CloseRecord) -> StoreResult<()> {
        deadline(close::record_closures(&self.client, record)).await
    }

    async fn rejection_counts(&self) -> StoreResult<Vec<(String, u64)>> {
        deadline(read::rejection_counts(&self.client)).await
    }

    async fn month_sums(&self, period: Period) -> StoreResult<Vec<MonthSum>> {
        deadline(read::month_sums(&self.client, period)).await
    }

    async fn copies_of(&self, record_ids: &[String]) -> StoreResult<Vec<CopyRow>> {
        deadline(read::copies_of(&self.client, record_ids)).await
    }

    async fn generation(&self) -> StoreResult<String> {
        deadline(read::generation(&self.client)).await
    }

    async fn parts_generation(&self) -> StoreResult<String> {
        deadline(read::parts_generation(&self.client)).await
    }

    async fn registry(&self) -> StoreResult<RegistryRows> {
        deadline(read::registry(&self.client)).await
    }

    async fn policy_documents(&self) -> StoreResult<Vec<PolicyRecord>> {
        deadline(policy::policy_documents(&self.client)).await
    }

    async fn record_policy(&self, record: &PolicyRecord) -> StoreResult<()> {
        deadline(policy::record_policy(&self.client, record)).await
    }

    async fn lines_not_under(&self, hash: &str, partitions: Option<&[i32]>, after: &str, limit: usize) -> StoreResult<Vec<LineRow>> {
        deadline(policy::lines_not_under(&self.client, hash, partitions, after, limit)).await
    }

    async fn programme_events(&self) -> StoreResult<Vec<subsidy_core::programme::Event>> {
        deadline(programme::programme_events(&self.client)).await
    }

    async fn record_event(&self, event: &subsidy_core::programme::Event) -> StoreResult<()> {
        deadline(programme::record_event(&self.client, event)).await
    }

    async fn tlog_checkpoints(&self) -> StoreResult<Vec<crate::TlogCheckpointRow>> {
        deadline(tlog::checkpoints(&self.client)).await
    }

    async fn record_tlog_checkpoint(&self, row: &crate::TlogCheckpointRow) -> StoreResult<()> {
        deadline(tlog::record_checkpoint(&self.client, row)).await
    }

    async fn tlog_cosignatures(&self) -> StoreResult<Vec<crate::TlogCosignatureRow>> {
        deadline(tlog::cosignatures(&self.client)).await
    }

    async fn record_tlog_cosignature(&self, row: &crate::TlogCosignatureRow) -> StoreResult<()> {
        deadline(tlog::record_cosignature(&self.client, row)).await
    }

    async fn write_usage_counts(&self, rows: &[crate::CountRow]) -> StoreResult<()> {
        deadline(completeness::write_counts(&self.client, rows)).await
    }

    async fn usage_counts(&self, period: Period) -> StoreResult<Vec<subsidy_core::DayCount>> {
        deadline(completeness::platform_counts(&self.client, period)).await
    }

    async fn ledger_counts(&self, period: Period) -> StoreResult<Vec<subsidy_core::DayCount>> {
        deadline(completeness::ledger_counts(&self.client, period)).await
    }

    async fn record_override(&self, row: &crate::CloseOverride) -> StoreResult<()> {
        deadline(completeness::record_override(&self.client, row)).await
    }

    async fn close_overrides(&self) -> StoreResult<Vec<crate::CloseOverride>> {
        deadline(completeness::close_overrides(&self.client)).await
    }
}
