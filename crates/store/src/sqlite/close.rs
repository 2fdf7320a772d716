//! SQLite closes: fenced by the store itself. A close is one `BEGIN IMMEDIATE`
//! transaction (one writer at a time across processes) that checks none of its
//! months is closed, writes its lines and one closure row per month; the
//! primary key on `period_closures.period` refuses a second row for a month
//! even if the check were skipped. A closer killed mid-way rolls back: the
//! month stays open.

use super::codec::{closure_time, map_error};
use super::read::statements_where;
use super::write::insert_statements;
use crate::{positions_text, BusPosition, CloseRecord, StoreError, StoreResult};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use subsidy_core::Statement;

/// Lines and closure rows of `record` in one transaction, or a `Conflict` naming the close that holds a month.
pub(super) fn commit_record(conn: &mut Connection, record: &CloseRecord, statements: &[Statement]) -> StoreResult<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(map_error)?;
    refuse_closed(&tx, record)?;
    insert_statements(&tx, &record.close_id, statements)?;
    insert_closures(&tx, record)?;
    tx.commit().map_err(map_error)?;
    tracing::info!(periods = ?record.periods, close_id = %record.close_id, lines = statements.len(), "closed period");
    Ok(())
}

/// Statement lines under `close_id`, not yet counted.
pub(super) fn stage_statements(conn: &mut Connection, close_id: &str, statements: &[Statement]) -> StoreResult<()> {
    let tx = conn.transaction().map_err(map_error)?;
    insert_statements(&tx, close_id, statements)?;
    tx.commit().map_err(map_error)
}

/// The closure rows of `record`, or a `Conflict` naming the close that holds one of its months.
pub(super) fn record_closures(conn: &mut Connection, record: &CloseRecord) -> StoreResult<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(map_error)?;
    refuse_closed(&tx, record)?;
    insert_closures(&tx, record)?;
    tx.commit().map_err(map_error)
}

/// Lines written under `close_id`, counted or not.
pub(super) fn staged_statements(conn: &mut Connection, close_id: &str) -> StoreResult<Vec<Statement>> {
    statements_where(conn, "close_id = ?1", &[&close_id as &dyn rusqlite::ToSql])
}

/// The highest bus position of each records partition, in copies and rejections.
pub(super) fn positions_seen(conn: &mut Connection) -> StoreResult<Vec<BusPosition>> {
    let mut st = conn
        .prepare(
            "SELECT kafka_partition, max(kafka_offset) FROM (SELECT kafka_partition, kafka_offset FROM record_copies \
             UNION ALL SELECT kafka_partition, kafka_offset FROM rejections) GROUP BY kafka_partition ORDER BY kafka_partition",
        )
        .map_err(map_error)?;
    let rows = st.query_map([], |r| Ok(BusPosition { partition: r.get(0)?, offset: r.get(1)? })).map_err(map_error)?;
    let seen = rows.collect::<Result<Vec<_>, _>>().map_err(map_error);
    seen
}

/// A `Conflict` when a month of `record` is closed by another close (the same close may record again).
fn refuse_closed(tx: &rusqlite::Transaction<'_>, record: &CloseRecord) -> StoreResult<()> {
    for p in &record.periods {
        let holder: Option<String> =
            tx.query_row("SELECT close_id FROM period_closures WHERE period = ?1", [p.as_yyyymm()], |r| r.get(0)).optional().map_err(map_error)?;
        match holder {
            Some(id) if id != record.close_id => return Err(StoreError::Conflict(format!("{p} is already closed by close {id}"))),
            _ => {}
        }
    }
    Ok(())
}

fn insert_closures(tx: &rusqlite::Transaction<'_>, record: &CloseRecord) -> StoreResult<()> {
    let seen = positions_text(&record.seen);
    let reason = record.early_reason.clone().unwrap_or_default();
    for p in &record.periods {
        tx.execute(
            "INSERT INTO period_closures (period, close_id, closed_at, seen, early_reason, claim_offset, policy_hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
             ON CONFLICT (period) DO NOTHING",
            params![p.as_yyyymm(), record.close_id, closure_time(record.closed_at), seen, reason, record.claim_offset, record.policy_hash],
        )
        .map_err(map_error)?;
    }
    Ok(())
}
