//! SQLite rows of the transparency log: signed checkpoints and cosignatures.

use super::codec::{i64_of, map_error, u32_of, u64_of};
use super::read::collect;
use crate::codec::period;
use crate::{StoreError, StoreResult, TlogCheckpointRow, TlogCosignatureRow};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

/// Every checkpoint, by size.
pub(super) fn checkpoints(conn: &mut Connection) -> StoreResult<Vec<TlogCheckpointRow>> {
    collect(conn, "SELECT size, root, note, period FROM tlog_checkpoints ORDER BY size", &[], |row| {
        Ok(TlogCheckpointRow {
            size: u64_of(row.get(0).map_err(map_error)?, "size")?,
            root: row.get(1).map_err(map_error)?,
            note: row.get(2).map_err(map_error)?,
            period: period(u32_of(row.get(3).map_err(map_error)?, "period")?)?,
        })
    })
}

/// Records a checkpoint unless its size holds one already: the same is accepted, another is a `Conflict`.
pub(super) fn record_checkpoint(conn: &mut Connection, row: &TlogCheckpointRow) -> StoreResult<()> {
    let size = i64_of(row.size, "size")?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(map_error)?;
    let held: Option<String> = tx.query_row("SELECT note FROM tlog_checkpoints WHERE size = ?1", [size], |r| r.get(0)).optional().map_err(map_error)?;
    if let Some(held) = held {
        return if held == row.note { Ok(()) } else { Err(StoreError::Conflict(format!("a different checkpoint of size {size} is signed already"))) };
    }
    tx.execute("INSERT INTO tlog_checkpoints (size, root, note, period) VALUES (?1, ?2, ?3, ?4)", params![size, row.root, row.note, row.period.as_yyyymm()]).map_err(map_error)?;
    tx.commit().map_err(map_error)
}

/// Every cosignature, by size then witness.
pub(super) fn cosignatures(conn: &mut Connection) -> StoreResult<Vec<TlogCosignatureRow>> {
    collect(conn, "SELECT size, witness, line FROM tlog_cosignatures ORDER BY size, witness", &[], |row| {
        Ok(TlogCosignatureRow { size: u64_of(row.get(0).map_err(map_error)?, "size")?, witness: row.get(1).map_err(map_error)?, line: row.get(2).map_err(map_error)? })
    })
}

/// Records (or replaces) a witness's cosignature of one size.
pub(super) fn record_cosignature(conn: &mut Connection, row: &TlogCosignatureRow) -> StoreResult<()> {
    conn.execute("INSERT OR REPLACE INTO tlog_cosignatures (size, witness, line) VALUES (?1, ?2, ?3)", params![i64_of(row.size, "size")?, row.witness, row.line]).map_err(map_error)?;
    Ok(())
}
