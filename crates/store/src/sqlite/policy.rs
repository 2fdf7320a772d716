//! SQLite policy documents: recorded in one `BEGIN IMMEDIATE` transaction (one
//! writer at a time across processes) that checks the sequence it builds on, so
//! of two `policy apply` started at once one records its document and the other
//! is refused naming it. The primary key on `sequence` refuses a second row of
//! one sequence even if the check were skipped.

use super::codec::{closure_time, i64_of, map_error, parse_closure_time, u64_of};
use super::read::{collect, line, placeholders, LINE_SELECT};
use crate::{LineRow, PolicyRecord, StoreError, StoreResult};
use rusqlite::{params, Connection, OptionalExtension, ToSql, TransactionBehavior};

/// Every recorded document, by sequence.
pub(super) fn policy_documents(conn: &mut Connection) -> StoreResult<Vec<PolicyRecord>> {
    collect(conn, "SELECT sequence, hash, text, applied_at, note FROM policy_documents ORDER BY sequence", &[], |row| {
        Ok(PolicyRecord {
            sequence: u64_of(row.get(0).map_err(map_error)?, "sequence")?,
            hash: row.get(1).map_err(map_error)?,
            text: row.get(2).map_err(map_error)?,
            applied_at: parse_closure_time(&row.get::<_, String>(3).map_err(map_error)?)?,
            note: row.get(4).map_err(map_error)?,
        })
    })
}

/// Records `record` if it is the next document (its sequence one past the highest); the
/// same record again is accepted; anything else is a `Conflict` naming the one in force.
pub(super) fn record_policy(conn: &mut Connection, record: &PolicyRecord) -> StoreResult<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(map_error)?;
    let top: Option<(i64, String)> =
        tx.query_row("SELECT sequence, hash FROM policy_documents ORDER BY sequence DESC LIMIT 1", [], |r| Ok((r.get(0)?, r.get(1)?))).optional().map_err(map_error)?;
    let sequence = i64_of(record.sequence, "policy sequence")?;
    match top {
        Some((s, hash)) if s == sequence && hash == record.hash => return Ok(()),
        Some((s, hash)) if s + 1 != sequence => {
            return Err(StoreError::Conflict(format!("policy document {s} ({}) is in force, not {}: another change was recorded first", short(&hash), sequence - 1)));
        }
        None if sequence != 1 => return Err(StoreError::Conflict(format!("the ledger records no policy document, so the next is 1, not {sequence}"))),
        _ => {}
    }
    tx.execute(
        "INSERT INTO policy_documents (sequence, hash, text, applied_at, note) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![sequence, record.hash, record.text, closure_time(record.applied_at), record.note],
    )
    .map_err(map_error)?;
    tx.commit().map_err(map_error)?;
    tracing::info!(sequence, hash = %record.hash, "recorded policy document");
    Ok(())
}

/// Up to `limit` standing lines not settled under `hash`, of `partitions` (all when `None`),
/// with record ids after `after`, sorted by record id.
pub(super) fn lines_not_under(conn: &mut Connection, hash: &str, partitions: Option<&[i32]>, after: &str, limit: usize) -> StoreResult<Vec<LineRow>> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut params: Vec<&dyn ToSql> = vec![&hash, &after, &limit];
    let within = match partitions {
        Some([]) => return Ok(Vec::new()),
        Some(ps) => {
            params.extend(ps.iter().map(|p| p as &dyn ToSql));
            format!(" AND kafka_partition IN ({})", placeholders(4, ps.len()))
        }
        None => String::new(),
    };
    let sql = format!("{LINE_SELECT} WHERE policy_hash != ?1 AND record_id > ?2{within} ORDER BY record_id LIMIT ?3");
    collect(conn, &sql, &params, line)
}

fn short(hash: &str) -> &str {
    subsidy_core::document::short(hash)
}
