//! SQLite writes: one transaction per call, prepared upserts that keep the
//! highest version (an equal one replaces, as in ClickHouse); of two lines of
//! one record, the one the core's [`subsidy_core::line_order`] puts first.
//!
//! Values are checked against the same limits as the ClickHouse columns, so
//! both stores accept and refuse the same rows.

use super::codec::{closure_time, i64_of, map_error};
use crate::codec::{days, entry_day_text, line_reason_text};
use crate::decimal::{exact_to_i128, ratio_to_i32, yuan_to_i64};
use crate::{Closure, RegistryRows, StoreError, StoreResult, WriteBatch};
use rusqlite::{params, Connection, Transaction};
use subsidy_core::Statement;

/// `INSERT … ON CONFLICT(key) DO UPDATE SET every other column [WHERE excluded.version >= version]`.
fn upsert(table: &str, columns: &[&str], key: &[&str], version: Option<&str>) -> String {
    let placeholders: Vec<String> = (1..=columns.len()).map(|i| format!("?{i}")).collect();
    let sets: Vec<String> = columns.iter().filter(|c| !key.contains(c)).map(|c| format!("{c} = excluded.{c}")).collect();
    let guard = version.map(|v| format!(" WHERE excluded.{v} >= {table}.{v}")).unwrap_or_default();
    format!(
        "INSERT INTO {table} ({}) VALUES ({}) ON CONFLICT ({}) DO UPDATE SET {}{guard}",
        columns.join(", "),
        placeholders.join(", "),
        key.join(", "),
        sets.join(", ")
    )
}

/// When a line replaces the stored line of its record: the SQL form of [`subsidy_core::replaces`]
/// (the higher version; at an equal one the smaller fingerprint, then the earlier bus
/// position; a replay of the same key replaces). Fingerprints are stored as 32 lowercase hex
/// digits, so their text order is their numeric order.
const LINE_REPLACES: &str = "(excluded.version, ledger_lines.fingerprint, ledger_lines.kafka_partition, ledger_lines.kafka_offset) \
     >= (ledger_lines.version, excluded.fingerprint, excluded.kafka_partition, excluded.kafka_offset)";

/// The upsert of `ledger_lines`, guarded by [`LINE_REPLACES`].
fn line_upsert() -> String {
    format!("{} WHERE {LINE_REPLACES}", upsert("ledger_lines", LINE_COLUMNS, &["record_id"], None))
}

const COPY_COLUMNS: &[&str] = &["record_id", "kafka_partition", "kafka_offset", "revision", "fingerprint", "raw"];
const LINE_COLUMNS: &[&str] = &[
    "record_id",
    "revision",
    "fingerprint",
    "conflict",
    "user_credit_code",
    "center_id",
    "usage_date",
    "payment_status",
    "paid_amount",
    "period",
    "policy_version",
    "rate",
    "uplift",
    "base",
    "contribution",
    "reason",
    "kafka_partition",
    "kafka_offset",
    "version",
    "accelerator",
    "policy_hash",
    "entity_entry",
    "center_entry",
    "contract_id",
];
const REJECTION_COLUMNS: &[&str] = &["kafka_partition", "kafka_offset", "record_id", "revision", "reason", "field", "detail", "raw"];
const MARK_COLUMNS: &[&str] = &["kafka_partition", "registry", "position"];
const ENTITY_COLUMNS: &[&str] = &["credit_code", "valid_from", "name", "kind", "province", "city", "related_group", "version"];
const CENTER_COLUMNS: &[&str] = &["center_id", "valid_from", "name", "owner_credit_code", "province", "city", "version"];
const FUNDED_COLUMNS: &[&str] = &["scheme", "target_kind", "target_id", "version"];
const CLAIM_COLUMNS: &[&str] = &["record_id", "supplier_credit_code", "version"];
const STATEMENT_COLUMNS: &[&str] = &["close_id", "credit_code", "payout_period", "for_period", "kind", "eligible_base", "subsidy"];

/// Writes one batch in one transaction.
pub(super) fn write_batch(conn: &mut Connection, batch: &WriteBatch) -> StoreResult<()> {
    let tx = conn.transaction().map_err(map_error)?;
    write_copies(&tx, batch)?;
    write_lines(&tx, batch)?;
    if !batch.lines.is_empty() {
        super::changes::prune(&tx, super::changes::RETAIN)?;
    }
    write_others(&tx, batch)?;
    if let Some(registry) = &batch.registry {
        write_registry(&tx, registry)?;
    }
    tx.commit().map_err(map_error)
}

fn write_copies(tx: &Transaction<'_>, batch: &WriteBatch) -> StoreResult<()> {
    if batch.copies.is_empty() {
        return Ok(());
    }
    let mut st = tx.prepare_cached(&upsert("record_copies", COPY_COLUMNS, &["record_id", "kafka_partition", "kafka_offset"], None)).map_err(map_error)?;
    for c in &batch.copies {
        st.execute(params![c.record_id, c.position.partition, c.position.offset, c.revision, c.fingerprint.to_string(), c.raw]).map_err(map_error)?;
    }
    Ok(())
}

fn write_lines(tx: &Transaction<'_>, batch: &WriteBatch) -> StoreResult<()> {
    if batch.lines.is_empty() {
        return Ok(());
    }
    let mut st = tx.prepare_cached(&line_upsert()).map_err(map_error)?;
    for l in &batch.lines {
        days(l.usage_date)?;
        yuan_to_i64(l.paid_amount, "paid_amount")?;
        ratio_to_i32(l.rate, "rate")?;
        ratio_to_i32(l.uplift, "uplift")?;
        yuan_to_i64(l.base, "base")?;
        exact_to_i128(l.contribution, "contribution")?;
        st.execute(params![
            l.record_id,
            l.revision,
            l.fingerprint.to_string(),
            l.conflict,
            l.user_credit_code.as_str(),
            l.center_id,
            l.usage_date.to_string(),
            l.payment_status.as_str(),
            l.paid_amount.to_string(),
            l.period.as_yyyymm(),
            l.policy_version,
            l.rate.to_string(),
            l.uplift.to_string(),
            l.base.to_string(),
            l.contribution.to_string(),
            line_reason_text(l.reason),
            l.position.partition,
            l.position.offset,
            i64_of(l.version, "version")?,
            l.accelerator,
            l.policy_hash,
            entry_day_text(l.entity_entry),
            entry_day_text(l.center_entry),
            l.contract_id.as_deref().unwrap_or(""),
        ])
        .map_err(map_error)?;
    }
    Ok(())
}

/// Rejections and marks: small next to copies and lines.
fn write_others(tx: &Transaction<'_>, batch: &WriteBatch) -> StoreResult<()> {
    if !batch.rejections.is_empty() {
        let mut st = tx.prepare_cached(&upsert("rejections", REJECTION_COLUMNS, &["kafka_partition", "kafka_offset"], None)).map_err(map_error)?;
        for r in &batch.rejections {
            st.execute(params![r.position.partition, r.position.offset, r.record_id, r.revision, r.reason.as_str(), r.field, r.detail, r.raw])
                .map_err(map_error)?;
        }
    }
    if !batch.marks.is_empty() {
        let mut st = tx.prepare_cached(&upsert("resettle_marks", MARK_COLUMNS, &["kafka_partition"], Some("position"))).map_err(map_error)?;
        for m in &batch.marks {
            st.execute(params![m.partition, m.registry, i64_of(m.position, "mark position")?]).map_err(map_error)?;
        }
    }
    Ok(())
}

fn write_registry(tx: &Transaction<'_>, registry: &RegistryRows) -> StoreResult<()> {
    let version = i64_of(registry.version, "registry version")?;
    let mut st = tx.prepare_cached(&upsert("registry_entity_entries", ENTITY_COLUMNS, &["credit_code", "valid_from"], Some("version"))).map_err(map_error)?;
    for e in &registry.entities {
        let group = e.related_group.as_deref().unwrap_or("");
        let day = entry_day_text(e.valid_from);
        st.execute(params![e.credit_code.as_str(), day, e.name, e.kind.as_str(), e.province, e.city, group, version]).map_err(map_error)?;
    }
    let mut st = tx.prepare_cached(&upsert("registry_center_entries", CENTER_COLUMNS, &["center_id", "valid_from"], Some("version"))).map_err(map_error)?;
    for c in &registry.centers {
        let day = entry_day_text(c.valid_from);
        st.execute(params![c.center_id, day, c.name, c.owner_credit_code.as_str(), c.province, c.city, version]).map_err(map_error)?;
    }
    let mut st = tx.prepare_cached(&upsert("funded_elsewhere", FUNDED_COLUMNS, &["scheme", "target_kind", "target_id"], Some("version"))).map_err(map_error)?;
    for f in &registry.funded {
        st.execute(params![f.scheme, f.target.kind(), f.target.id(), version]).map_err(map_error)?;
    }
    let mut st = tx.prepare_cached(&upsert("supplier_claims", CLAIM_COLUMNS, &["record_id", "supplier_credit_code"], Some("version"))).map_err(map_error)?;
    for c in &registry.claims {
        st.execute(params![c.record_id, c.supplier.as_str(), version]).map_err(map_error)?;
    }
    Ok(())
}

/// Records a close atomically: its statement lines and its closure row.
pub(super) fn commit_close(conn: &mut Connection, closure: &Closure, statements: &[Statement]) -> StoreResult<()> {
    let yyyymm = closure.period.as_yyyymm();
    let tx = conn.transaction().map_err(map_error)?;
    let closed: bool = tx.query_row("SELECT EXISTS (SELECT 1 FROM period_closures WHERE period = ?1)", [yyyymm], |r| r.get(0)).map_err(map_error)?;
    if closed {
        return Err(StoreError::Conflict(format!("{} is already closed", closure.period)));
    }
    insert_statements(&tx, &closure.close_id, statements)?;
    tx.execute(
        "INSERT INTO period_closures (period, close_id, closed_at, policy_hash) VALUES (?1, ?2, ?3, ?4)",
        params![yyyymm, closure.close_id, closure_time(closure.closed_at), closure.policy_hash],
    )
    .map_err(map_error)?;
    tx.commit().map_err(map_error)?;
    tracing::info!(period = %closure.period, close_id = %closure.close_id, lines = statements.len(), "closed period");
    Ok(())
}

/// Writes statement lines under `close_id` in `tx` (counted once a closure row names it).
pub(super) fn insert_statements(tx: &Transaction<'_>, close_id: &str, statements: &[Statement]) -> StoreResult<()> {
    let mut st = tx.prepare_cached(&upsert("statements", STATEMENT_COLUMNS, &["close_id", "credit_code", "for_period", "kind"], None)).map_err(map_error)?;
    for s in statements {
        yuan_to_i64(s.eligible_base, "eligible_base")?;
        yuan_to_i64(s.subsidy, "subsidy")?;
        st.execute(params![
            close_id,
            s.credit_code.as_str(),
            s.payout_period.as_yyyymm(),
            s.for_period.as_yyyymm(),
            s.kind.as_str(),
            s.eligible_base.to_string(),
            s.subsidy.to_string(),
        ])
        .map_err(map_error)?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn builds_guarded_upserts() {
        let sql = upsert("t", &["k", "v", "x"], &["k"], Some("v"));
        assert_eq!(sql, "INSERT INTO t (k, v, x) VALUES (?1, ?2, ?3) ON CONFLICT (k) DO UPDATE SET v = excluded.v, x = excluded.x WHERE excluded.v >= t.v");
    }
}
