//! Versioned ClickHouse migrations: `schemas/clickhouse/NNNN_name.sql`,
//! embedded at build time and applied in order, each id recorded in
//! `schema_migrations`. Every statement is idempotent (`IF NOT EXISTS`, or
//! for `ALTER TABLE … ADD COLUMN`, which ClickHouse 18.16 cannot say that
//! of, the columns that exist left out), so a migration interrupted
//! half-way is simply applied again.

use super::cluster::Cluster;
use super::error::map_error;
use crate::{StoreError, StoreResult};
use ::clickhouse::{Client, Row};
use serde::{Deserialize, Serialize};

/// Migrations in the order they apply: (id, SQL).
pub(crate) const MIGRATIONS: &[(&str, &str)] = &[
    ("0001_ledger", include_str!("../../../../schemas/clickhouse/0001_ledger.sql")),
    ("0002_statements", include_str!("../../../../schemas/clickhouse/0002_statements.sql")),
    ("0003_registry", include_str!("../../../../schemas/clickhouse/0003_registry.sql")),
    ("0004_lines_by_user", include_str!("../../../../schemas/clickhouse/0004_lines_by_user.sql")),
    ("0005_line_accelerator", include_str!("../../../../schemas/clickhouse/0005_line_accelerator.sql")),
    ("0006_close_fence", include_str!("../../../../schemas/clickhouse/0006_close_fence.sql")),
    ("0007_policy_document", include_str!("../../../../schemas/clickhouse/0007_policy_document.sql")),
    ("0008_registry_as_of", include_str!("../../../../schemas/clickhouse/0008_registry_as_of.sql")),
    ("0009_programme", include_str!("../../../../schemas/clickhouse/0009_programme.sql")),
    ("0010_completeness", include_str!("../../../../schemas/clickhouse/0010_completeness.sql")),
    ("0011_funding", include_str!("../../../../schemas/clickhouse/0011_funding.sql")),
    ("0012_tlog", include_str!("../../../../schemas/clickhouse/0012_tlog.sql")),
    ("0013_line_changes", include_str!("../../../../schemas/clickhouse/0013_line_changes.sql")),
];

/// The bookkeeping table itself, created before anything else.
const MIGRATIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations \
     (id String, applied_at DateTime) ENGINE = ReplacingMergeTree ORDER BY id";

#[derive(Debug, Row, Serialize, Deserialize)]
struct MigrationRow {
    id: String,
    applied_at: u32,
}

/// Where the migrations apply: one server, or every server of a cluster.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Target<'a> {
    /// The server the client talks to.
    Server,
    /// A cluster, through the server the client talks to.
    Cluster(Cluster<'a>),
}

impl Target<'_> {
    /// The statements that apply one statement of a migration file here.
    fn statements_for(&self, statement: &str) -> StoreResult<Vec<String>> {
        match self {
            Target::Server => Ok(vec![statement.to_string()]),
            Target::Cluster(c) => c.rewrite(statement).map_err(|e| StoreError::Rejected { message: e.to_string(), cause: Some(e.into()) }),
        }
    }

    fn create_database(&self, database: &str) -> String {
        match self {
            Target::Server => format!("CREATE DATABASE IF NOT EXISTS `{database}`"),
            Target::Cluster(c) => format!("CREATE DATABASE IF NOT EXISTS `{database}` ON CLUSTER {}", c.name),
        }
    }
}

/// Every statement `migrate` would run on a new database, in order (without the skips
/// it makes for what exists): for review, or to apply with other tools.
pub(crate) fn ddl(database: &str, target: Target<'_>) -> StoreResult<Vec<String>> {
    let mut out = vec![target.create_database(database)];
    out.extend(target.statements_for(MIGRATIONS_TABLE)?);
    for (_, sql) in MIGRATIONS {
        for statement in statements(sql) {
            out.extend(target.statements_for(&statement)?);
        }
    }
    Ok(out)
}

/// Creates the database when missing, then applies the pending migrations; returns their ids.
pub(crate) async fn migrate(admin: &Client, client: &Client, database: &str, target: Target<'_>) -> StoreResult<Vec<String>> {
    // `database` passed `is_plain_identifier`, so it is safe to splice.
    admin.query_raw(&target.create_database(database)).execute().await.map_err(map_error)?;
    for statement in target.statements_for(MIGRATIONS_TABLE)? {
        apply(client, &statement).await?;
    }
    let applied: Vec<String> = client.query_raw("SELECT id FROM schema_migrations FINAL").fetch_all().await.map_err(map_error)?;
    if let Some(id) = applied.iter().find(|a| crate::RETIRED_MIGRATIONS.contains(&a.as_str())) {
        return Err(crate::retired_layout(id));
    }
    let pending: Vec<&(&str, &str)> = MIGRATIONS.iter().filter(|(id, _)| !applied.iter().any(|a| a == id)).collect();
    if !pending.is_empty() && matches!(target, Target::Server) && on_a_cluster(client).await? {
        return Err(StoreError::rejected(format!(
            "database {database} was created on a cluster: apply the pending migrations with `migrate --cluster NAME`"
        )));
    }
    let mut newly = Vec::new();
    for (id, sql) in pending {
        for statement in statements(sql) {
            for s in target.statements_for(&statement)? {
                apply(client, &s).await?;
            }
        }
        let mut insert = client.insert::<MigrationRow>("schema_migrations").await.map_err(map_error)?;
        insert.write(&MigrationRow { id: (*id).to_string(), applied_at: now_secs() }).await.map_err(map_error)?;
        insert.end().await.map_err(map_error)?;
        tracing::info!(migration = id, "applied clickhouse migration");
        newly.push((*id).to_string());
    }
    Ok(newly)
}

/// Whether `cluster` (named in the servers' `remote_servers`) has more than one shard.
pub(crate) async fn sharded(admin: &Client, cluster: &str) -> StoreResult<bool> {
    let shards: u64 = admin.query("SELECT uniqExact(shard_num) FROM system.clusters WHERE cluster = ?").bind(cluster).fetch_one().await.map_err(map_error)?;
    Ok(shards > 1)
}

/// Whether the database was migrated in the cluster form (its bookkeeping table is distributed).
async fn on_a_cluster(client: &Client) -> StoreResult<bool> {
    let engine: String = client
        .query("SELECT engine FROM system.tables WHERE database = currentDatabase() AND name = 'schema_migrations'")
        .fetch_one()
        .await
        .map_err(map_error)?;
    Ok(engine == "Distributed")
}

/// Runs one statement; of an `ADD COLUMN` statement, only the columns that do not exist yet.
async fn apply(client: &Client, statement: &str) -> StoreResult<()> {
    let Some(alter) = AddColumns::parse(statement) else {
        return client.query_raw(statement).execute().await.map_err(map_error);
    };
    let present: Vec<String> = client
        .query("SELECT name FROM system.columns WHERE database = currentDatabase() AND table = ?")
        .bind(alter.table)
        .fetch_all()
        .await
        .map_err(map_error)?;
    match alter.without(&present) {
        Some(missing) => client.query_raw(&missing).execute().await.map_err(map_error),
        None => Ok(()),
    }
}

/// An `ALTER TABLE [db.]t [ON CLUSTER c] ADD COLUMN a …[, ADD COLUMN b …]` statement.
#[derive(Debug, PartialEq)]
pub(crate) struct AddColumns<'a> {
    /// The statement up to its first `ADD COLUMN`.
    head: &'a str,
    /// The table, without its database.
    pub(crate) table: &'a str,
    /// Each added column: (name, its `ADD COLUMN …` clause).
    columns: Vec<(&'a str, &'a str)>,
}

impl<'a> AddColumns<'a> {
    const ADD: &'static str = "ADD COLUMN ";

    /// The statement's parts, or None when it is not an `ADD COLUMN` statement.
    pub(crate) fn parse(statement: &'a str) -> Option<Self> {
        let statement = statement.trim();
        let mut words = statement.split_whitespace();
        if !(words.next()?.eq_ignore_ascii_case("ALTER") && words.next()?.eq_ignore_ascii_case("TABLE")) {
            return None;
        }
        let table = words.next()?;
        // Keywords in any case, as ClickHouse reads them (ASCII case leaves byte offsets alone).
        let starts: Vec<usize> = statement.to_ascii_uppercase().match_indices(Self::ADD).map(|(at, _)| at).collect();
        let head = &statement[..*starts.first()?];
        let columns = starts.iter().enumerate().map(|(i, &at)| {
            let end = starts.get(i + 1).copied().unwrap_or(statement.len());
            let clause = statement[at..end].trim_end().trim_end_matches(',');
            let name = clause[Self::ADD.len()..].split_whitespace().next().unwrap_or_default();
            (name, clause)
        });
        Some(AddColumns { head, table: table.rsplit('.').next().unwrap_or(table), columns: columns.collect() })
    }

    /// The `ADD COLUMN …` clauses, joined.
    pub(crate) fn clauses(&self) -> String {
        self.columns.iter().map(|(_, clause)| *clause).collect::<Vec<_>>().join(", ")
    }

    /// The statement adding only the columns not in `present`; None when every one is there.
    fn without(&self, present: &[String]) -> Option<String> {
        let missing: Vec<&str> = self.columns.iter().filter(|(name, _)| !present.iter().any(|p| p == name)).map(|(_, clause)| *clause).collect();
        (!missing.is_empty()).then(|| format!("{}{}", self.head, missing.join(", ")))
    }
}

/// The statements of a migration file: `--` comment lines dropped, split on `;`.
pub(crate) fn statements(sql: &str) -> Vec<String> {
    let body: String = sql.lines().filter(|l| !l.trim_start().starts_with("--")).collect::<Vec<_>>().join("\n");
    body.split(';').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
}

fn now_secs() -> u32 {
    let secs = chrono::Utc::now().timestamp();
    u32::try_from(secs).unwrap_or(u32::MAX)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_ordered_and_split() {
        let ids: Vec<&str> = MIGRATIONS.iter().map(|(id, _)| *id).collect();
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        assert_eq!(ids, sorted);
        let all: Vec<String> = MIGRATIONS.iter().flat_map(|(_, sql)| statements(sql)).collect();
        assert_eq!(all.len(), 28);
        for s in &all {
            let creates = s.starts_with("CREATE TABLE IF NOT EXISTS") || s.starts_with("CREATE MATERIALIZED VIEW IF NOT EXISTS");
            assert!(creates || AddColumns::parse(s).is_some(), "{s}");
            assert!(!s.contains("LowCardinality"), "{s}");
        }
        let one = AddColumns::parse("ALTER TABLE ledger_lines ADD COLUMN accelerator String DEFAULT ''").unwrap();
        assert_eq!((one.table, one.columns.clone()), ("ledger_lines", vec![("accelerator", "ADD COLUMN accelerator String DEFAULT ''")]));
        assert_eq!(AddColumns::parse("ALTER TABLE ledger_lines DROP COLUMN accelerator"), None);
        let on_cluster = AddColumns::parse("ALTER TABLE db.ledger_lines_local ON CLUSTER c ADD COLUMN a String").unwrap();
        assert_eq!((on_cluster.table, on_cluster.head), ("ledger_lines_local", "ALTER TABLE db.ledger_lines_local ON CLUSTER c "));
    }

    #[test]
    fn an_add_column_statement_keeps_only_the_columns_not_there() {
        let s = "ALTER TABLE t ADD COLUMN a Decimal(18, 4) DEFAULT toDecimal64(0, 4),\n  ADD COLUMN b String DEFAULT '',\n  ADD COLUMN c UInt8 DEFAULT 0";
        let alter = AddColumns::parse(s).unwrap();
        let names: Vec<&str> = alter.columns.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!(alter.without(&[]).as_deref(), Some(s.replace(",\n  ", ", ").as_str()));
        assert_eq!(alter.without(&["a".into(), "c".into()]).as_deref(), Some("ALTER TABLE t ADD COLUMN b String DEFAULT ''"));
        assert_eq!(alter.without(&["b".into(), "a".into(), "c".into()]), None);
        let lower = AddColumns::parse("alter table t add column a String, add column b UInt8").unwrap();
        assert_eq!(lower.without(&["a".into()]).as_deref(), Some("alter table t add column b UInt8"));
    }
}
