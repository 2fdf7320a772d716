//! Versioned SQLite migrations: `schemas/sqlite/NNNN_name.sql`, embedded at
//! build time, each applied in its own transaction together with its row in
//! `schema_migrations`.

use super::codec::map_error;
use crate::StoreResult;
use rusqlite::{params, Connection};

/// Migrations in the order they apply: (id, SQL).
pub(super) const MIGRATIONS: &[(&str, &str)] = &[
    ("0001_ledger", include_str!("../../../../schemas/sqlite/0001_ledger.sql")),
    ("0002_statements", include_str!("../../../../schemas/sqlite/0002_statements.sql")),
    ("0003_registry", include_str!("../../../../schemas/sqlite/0003_registry.sql")),
    ("0004_line_accelerator", include_str!("../../../../schemas/sqlite/0004_line_accelerator.sql")),
    ("0005_close_fence", include_str!("../../../../schemas/sqlite/0005_close_fence.sql")),
    ("0007_policy_document", include_str!("../../../../schemas/sqlite/0007_policy_document.sql")),
    ("0008_registry_as_of", include_str!("../../../../schemas/sqlite/0008_registry_as_of.sql")),
    ("0009_programme", include_str!("../../../../schemas/sqlite/0009_programme.sql")),
    ("0010_completeness", include_str!("../../../../schemas/sqlite/0010_completeness.sql")),
    ("0011_funding", include_str!("../../../../schemas/sqlite/0011_funding.sql")),
    ("0012_tlog", include_str!("../../../../schemas/sqlite/0012_tlog.sql")),
    ("0013_line_changes", include_str!("../../../../schemas/sqlite/0013_line_changes.sql")),
];

const MIGRATIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (id TEXT PRIMARY KEY, applied_at TEXT NOT NULL)";

/// Applies the pending migrations; returns their ids.
pub(super) fn migrate(conn: &mut Connection) -> StoreResult<Vec<String>> {
    conn.execute_batch(MIGRATIONS_TABLE).map_err(map_error)?;
    for id in crate::RETIRED_MIGRATIONS {
        let retired: bool = conn.query_row("SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE id = ?1)", [id], |r| r.get(0)).map_err(map_error)?;
        if retired {
            return Err(crate::retired_layout(id));
        }
    }
    let mut newly = Vec::new();
    for (id, sql) in MIGRATIONS {
        let tx = conn.transaction().map_err(map_error)?;
        let applied: bool =
            tx.query_row("SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE id = ?1)", [id], |r| r.get(0)).map_err(map_error)?;
        if applied {
            continue;
        }
        tx.execute_batch(sql).map_err(map_error)?;
        tx.execute("INSERT INTO schema_migrations (id, applied_at) VALUES (?1, ?2)", params![id, chrono::Utc::now().to_rfc3339()])
            .map_err(map_error)?;
        tx.commit().map_err(map_error)?;
        tracing::info!(migration = id, "applied sqlite migration");
        newly.push((*id).to_string());
    }
    Ok(newly)
}
