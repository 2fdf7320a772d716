//! SQLite writes: one transaction per call, prepared upserts that keep the
//! highest revision or version (equal ones replace, as in ClickHouse).
//!
//! Values are checked against the same limits as the ClickHouse columns, so
//! both stores accept and refuse the same rows.

use super::codec::{closure_time, decimal, i64_of, map_error};
use crate::codec::{held_version, line_reason_text};
use crate::decimal::{exact_to_i128, ratio_to_i32, yuan, yuan_to_i64};
use crate::{CloseReport, SettlementRow, StoreError, StoreResult, WriteBatch};
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, Transaction};
use rust_decimal::Decimal;
use subsidy_core::Period;

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

const RECORD_COLUMNS: &[&str] = &[
    "record_id",
    "revision",
    "user_credit_code",
    "center_id",
    "usage_end",
    "updated_at",
    "amount",
    "paid_amount",
    "payment_status",
    "raw",
    "kafka_partition",
    "kafka_offset",
];
const LINE_COLUMNS: &[&str] = &[
    "record_id",
    "revision",
    "user_credit_code",
    "center_id",
    "period",
    "policy_version",
    "rate",
    "uplift",
    "base",
    "contribution",
    "reason",
    "kafka_partition",
    "kafka_offset",
];
const REJECTION_COLUMNS: &[&str] = &["kafka_partition", "kafka_offset", "record_id", "revision", "reason", "field", "detail", "raw"];
const HELD_COLUMNS: &[&str] = &["record_id", "revision", "reason", "raw", "kafka_partition", "kafka_offset", "released", "ver"];
const ADJUSTMENT_COLUMNS: &[&str] =
    &["record_id", "revision", "credit_code", "original_period", "target_period", "delta_base", "delta_contribution"];
const SETTLEMENT_COLUMNS: &[&str] = &["credit_code", "period", "eligible_records", "eligible_base", "uncapped", "subsidy", "version"];

/// Writes one batch in one transaction.
pub(super) fn write_batch(conn: &mut Connection, batch: &WriteBatch) -> StoreResult<()> {
    let tx = conn.transaction().map_err(map_error)?;
    write_records(&tx, batch)?;
    write_lines(&tx, batch)?;
    write_others(&tx, batch)?;
    tx.commit().map_err(map_error)
}

fn write_records(tx: &Transaction<'_>, batch: &WriteBatch) -> StoreResult<()> {
    if batch.records.is_empty() {
        return Ok(());
    }
    let mut st = tx.prepare_cached(&upsert("usage_records", RECORD_COLUMNS, &["record_id"], Some("revision"))).map_err(map_error)?;
    for r in &batch.records {
        yuan_to_i64(r.amount, "amount")?;
        yuan_to_i64(r.paid_amount, "paid_amount")?;
        st.execute(params![
            r.record_id,
            r.revision,
            r.user_credit_code.as_str(),
            r.center_id,
            r.usage_end.to_rfc3339(),
            r.updated_at.to_rfc3339(),
            r.amount.to_string(),
            r.paid_amount.to_string(),
            r.payment_status,
            r.raw,
            r.position.partition,
            r.position.offset,
        ])
        .map_err(map_error)?;
    }
    Ok(())
}

fn write_lines(tx: &Transaction<'_>, batch: &WriteBatch) -> StoreResult<()> {
    if batch.lines.is_empty() {
        return Ok(());
    }
    let mut st = tx.prepare_cached(&upsert("ledger_lines", LINE_COLUMNS, &["record_id"], Some("revision"))).map_err(map_error)?;
    for l in &batch.lines {
        ratio_to_i32(l.rate, "rate")?;
        ratio_to_i32(l.uplift, "uplift")?;
        yuan_to_i64(l.base, "base")?;
        exact_to_i128(l.contribution, "contribution")?;
        st.execute(params![
            l.record_id,
            l.revision,
            l.user_credit_code.as_str(),
            l.center_id,
            l.period.as_yyyymm(),
            l.policy_version,
            l.rate.to_string(),
            l.uplift.to_string(),
            l.base.to_string(),
            l.contribution.to_string(),
            line_reason_text(l.reason),
            l.position.partition,
            l.position.offset,
        ])
        .map_err(map_error)?;
    }
    Ok(())
}

/// Rejections, held records and adjustments: small next to records and lines.
fn write_others(tx: &Transaction<'_>, batch: &WriteBatch) -> StoreResult<()> {
    if !batch.rejections.is_empty() {
        let mut st =
            tx.prepare_cached(&upsert("rejections", REJECTION_COLUMNS, &["kafka_partition", "kafka_offset"], None)).map_err(map_error)?;
        for r in &batch.rejections {
            st.execute(params![
                r.position.partition,
                r.position.offset,
                r.record_id,
                r.revision,
                r.reason.as_str(),
                r.field,
                r.detail,
                r.raw
            ])
            .map_err(map_error)?;
        }
    }
    if !batch.held.is_empty() {
        let mut st = tx.prepare_cached(&upsert("held_records", HELD_COLUMNS, &["record_id"], Some("ver"))).map_err(map_error)?;
        for h in &batch.held {
            let ver = i64_of(held_version(h.revision, h.released), "held version")?;
            st.execute(params![
                h.record_id,
                h.revision,
                h.reason.as_str(),
                h.raw,
                h.position.partition,
                h.position.offset,
                h.released,
                ver
            ])
            .map_err(map_error)?;
        }
    }
    if !batch.adjustments.is_empty() {
        let mut st = tx.prepare_cached(&upsert("adjustments", ADJUSTMENT_COLUMNS, &["record_id", "revision"], None)).map_err(map_error)?;
        for a in &batch.adjustments {
            yuan_to_i64(a.delta_base, "delta_base")?;
            exact_to_i128(a.delta_contribution, "delta_contribution")?;
            st.execute(params![
                a.record_id,
                a.revision,
                a.credit_code.as_str(),
                a.original_period.as_yyyymm(),
                a.target_period.as_yyyymm(),
                a.delta_base.to_string(),
                a.delta_contribution.to_string(),
            ])
            .map_err(map_error)?;
        }
    }
    Ok(())
}

/// Writes settlement rows in one transaction; the highest version of each key stands.
pub(super) fn write_settlements(conn: &mut Connection, rows: &[SettlementRow]) -> StoreResult<()> {
    let tx = conn.transaction().map_err(map_error)?;
    {
        let mut st = tx
            .prepare_cached(&upsert("settlements", SETTLEMENT_COLUMNS, &["credit_code", "period"], Some("version")))
            .map_err(map_error)?;
        for r in rows {
            let s = &r.settlement;
            yuan_to_i64(s.eligible_base, "eligible_base")?;
            exact_to_i128(s.uncapped, "uncapped")?;
            yuan_to_i64(s.subsidy, "subsidy")?;
            st.execute(params![
                s.credit_code.as_str(),
                s.period.as_yyyymm(),
                i64_of(s.eligible_records, "eligible_records")?,
                s.eligible_base.to_string(),
                s.uncapped.to_string(),
                s.subsidy.to_string(),
                i64_of(r.version, "version")?,
            ])
            .map_err(map_error)?;
        }
    }
    tx.commit().map_err(map_error)
}

/// Records the closure and freezes the month's current settlements, atomically.
pub(super) fn close_period(conn: &mut Connection, period: Period, closed_at: DateTime<Utc>) -> StoreResult<CloseReport> {
    let yyyymm = period.as_yyyymm();
    let tx = conn.transaction().map_err(map_error)?;
    let closed: bool =
        tx.query_row("SELECT EXISTS (SELECT 1 FROM period_closures WHERE period = ?1)", [yyyymm], |r| r.get(0)).map_err(map_error)?;
    if closed {
        return Err(StoreError::Conflict(format!("period {period} is already closed")));
    }
    tx.execute("INSERT INTO period_closures (period, closed_at) VALUES (?1, ?2)", params![yyyymm, closure_time(closed_at)])
        .map_err(map_error)?;
    tx.execute("DELETE FROM closed_settlements WHERE period = ?1", [yyyymm]).map_err(map_error)?;
    tx.execute(
        "INSERT INTO closed_settlements (credit_code, period, eligible_records, eligible_base, uncapped, subsidy) \
         SELECT credit_code, period, eligible_records, eligible_base, uncapped, subsidy \
         FROM settlements WHERE period = ?1 AND eligible_records > 0",
        [yyyymm],
    )
    .map_err(map_error)?;
    let (mut settlements, mut subsidy) = (0u64, Decimal::ZERO);
    {
        let mut st = tx.prepare("SELECT subsidy FROM closed_settlements WHERE period = ?1").map_err(map_error)?;
        let mut rows = st.query([yyyymm]).map_err(map_error)?;
        while let Some(row) = rows.next().map_err(map_error)? {
            let text: String = row.get(0).map_err(map_error)?;
            subsidy =
                subsidy.checked_add(decimal(&text, "subsidy")?).ok_or_else(|| StoreError::Rejected("subsidy sum overflows".into()))?;
            settlements += 1;
        }
    }
    tx.commit().map_err(map_error)?;
    tracing::info!(%period, settlements, %subsidy, "closed period");
    Ok(CloseReport { period, settlements, subsidy: yuan(subsidy) })
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
