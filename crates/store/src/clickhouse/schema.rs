//! Versioned ClickHouse migrations: `schemas/clickhouse/NNNN_name.sql`,
//! embedded at build time and applied in order, each id recorded in
//! `schema_migrations`. Every statement is idempotent (`IF NOT EXISTS`, or
//! for `ALTER TABLE … ADD COLUMN`, which ClickHouse 18.16 cannot say that
//! of, skipped when the column exists), so a migration interrupted
//! half-way is simply applied again.

use super::error::map_error;
use crate::StoreResult;
use ::clickhouse::{Client, Row};
use serde::{Deserialize, Serialize};

/// Migrations in the order they apply: (id, SQL).
pub(crate) const MIGRATIONS: &[(&str, &str)] = &[
    ("0001_ledger", include_str!("../../../../schemas/clickhouse/0001_ledger.sql")),
    ("0002_statements", include_str!("../../../../schemas/clickhouse/0002_statements.sql")),
    ("0003_registry", include_str!("../../../../schemas/clickhouse/0003_registry.sql")),
    ("0004_lines_by_user", include_str!("../../../../schemas/clickhouse/0004_lines_by_user.sql")),
    ("0005_line_accelerator", include_str!("../../../../schemas/clickhouse/0005_line_accelerator.sql")),
];

/// The bookkeeping table itself, created before anything else.
const MIGRATIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations \
     (id String, applied_at DateTime) ENGINE = ReplacingMergeTree ORDER BY id";

#[derive(Debug, Row, Serialize, Deserialize)]
struct MigrationRow {
    id: String,
    applied_at: u32,
}

/// Creates the database when missing, then applies the pending migrations; returns their ids.
pub(crate) async fn migrate(admin: &Client, client: &Client, database: &str) -> StoreResult<Vec<String>> {
    // `database` passed `is_plain_identifier`, so it is safe to splice.
    admin.query_raw(&format!("CREATE DATABASE IF NOT EXISTS `{database}`")).execute().await.map_err(map_error)?;
    client.query_raw(MIGRATIONS_TABLE).execute().await.map_err(map_error)?;
    let applied: Vec<String> = client.query_raw("SELECT id FROM schema_migrations FINAL").fetch_all().await.map_err(map_error)?;
    if let Some(id) = applied.iter().find(|a| crate::RETIRED_MIGRATIONS.contains(&a.as_str())) {
        return Err(crate::retired_layout(id));
    }
    let mut newly = Vec::new();
    for (id, sql) in MIGRATIONS {
        if applied.iter().any(|a| a == id) {
            continue;
        }
        for statement in statements(sql) {
            apply(client, &statement).await?;
        }
        let mut insert = client.insert::<MigrationRow>("schema_migrations").await.map_err(map_error)?;
        insert.write(&MigrationRow { id: (*id).to_string(), applied_at: now_secs() }).await.map_err(map_error)?;
        insert.end().await.map_err(map_error)?;
        tracing::info!(migration = id, "applied clickhouse migration");
        newly.push((*id).to_string());
    }
    Ok(newly)
}

/// Runs one statement, skipping an `ADD COLUMN` whose column exists already.
async fn apply(client: &Client, statement: &str) -> StoreResult<()> {
    if let Some((table, column)) = added_column(statement) {
        let present: u64 = client
            .query("SELECT count() FROM system.columns WHERE database = currentDatabase() AND table = ? AND name = ?")
            .bind(table)
            .bind(column)
            .fetch_one()
            .await
            .map_err(map_error)?;
        if present > 0 {
            return Ok(());
        }
    }
    client.query_raw(statement).execute().await.map_err(map_error)
}

/// (table, column) of an `ALTER TABLE t ADD COLUMN c …` statement.
fn added_column(statement: &str) -> Option<(&str, &str)> {
    let mut words = statement.split_whitespace();
    let [alter, table_kw, table, add, column_kw, column] = std::array::from_fn(|_| words.next().unwrap_or_default());
    let matches = alter.eq_ignore_ascii_case("ALTER")
        && table_kw.eq_ignore_ascii_case("TABLE")
        && add.eq_ignore_ascii_case("ADD")
        && column_kw.eq_ignore_ascii_case("COLUMN");
    (matches && !column.is_empty()).then_some((table, column))
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
        assert_eq!(all.len(), 10);
        for s in &all {
            let creates = s.starts_with("CREATE TABLE IF NOT EXISTS") || s.starts_with("CREATE MATERIALIZED VIEW IF NOT EXISTS");
            assert!(creates || added_column(s).is_some(), "{s}");
            assert!(!s.contains("LowCardinality"), "{s}");
        }
        assert_eq!(added_column("ALTER TABLE ledger_lines ADD COLUMN accelerator String DEFAULT ''"), Some(("ledger_lines", "accelerator")));
        assert_eq!(added_column("ALTER TABLE ledger_lines DROP COLUMN accelerator"), None);
    }
}
