//! ClickHouse rows of the transparency log: signed checkpoints and cosignatures.
//! Signing is deterministic, so closers racing to sign one size write the same
//! row; a row of that size already there with another note is refused.

use super::error::map_error;
use super::write::insert_rows;
use crate::codec::period;
use crate::{StoreError, StoreResult, TlogCheckpointRow, TlogCosignatureRow};
use ::clickhouse::{Client, Row};
use serde::{Deserialize, Serialize};

#[derive(Debug, Row, Serialize, Deserialize)]
struct CheckpointRow {
    size: u64,
    root: String,
    note: String,
    period: u32,
}

#[derive(Debug, Row, Serialize, Deserialize)]
struct CosignatureRow {
    size: u64,
    witness: String,
    line: String,
}

/// Every checkpoint, by size.
pub(super) async fn checkpoints(client: &Client) -> StoreResult<Vec<TlogCheckpointRow>> {
    let rows: Vec<CheckpointRow> = client.query("SELECT size, root, note, period FROM tlog_checkpoints FINAL ORDER BY size").fetch_all().await.map_err(map_error)?;
    rows.into_iter().map(|r| Ok(TlogCheckpointRow { size: r.size, root: r.root, note: r.note, period: period(r.period)? })).collect()
}

/// Writes a checkpoint unless its size holds another one.
pub(super) async fn record_checkpoint(client: &Client, row: &TlogCheckpointRow) -> StoreResult<()> {
    let held: Vec<String> = client.query("SELECT note FROM tlog_checkpoints FINAL WHERE size = ?").bind(row.size).fetch_all().await.map_err(map_error)?;
    match held.first() {
        Some(h) if *h == row.note => return Ok(()),
        Some(_) => return Err(StoreError::Conflict(format!("a different checkpoint of size {} is signed already", row.size))),
        None => {}
    }
    let r = CheckpointRow { size: row.size, root: row.root.clone(), note: row.note.clone(), period: row.period.as_yyyymm() };
    insert_rows::<CheckpointRow>(client, "tlog_checkpoints", &[r]).await
}

/// Every cosignature, by size then witness.
pub(super) async fn cosignatures(client: &Client) -> StoreResult<Vec<TlogCosignatureRow>> {
    let rows: Vec<CosignatureRow> = client.query("SELECT size, witness, line FROM tlog_cosignatures FINAL ORDER BY size, witness").fetch_all().await.map_err(map_error)?;
    Ok(rows.into_iter().map(|r| TlogCosignatureRow { size: r.size, witness: r.witness, line: r.line }).collect())
}

/// Writes (or replaces) a witness's cosignature of one size.
pub(super) async fn record_cosignature(client: &Client, row: &TlogCosignatureRow) -> StoreResult<()> {
    let r = CosignatureRow { size: row.size, witness: row.witness.clone(), line: row.line.clone() };
    insert_rows::<CosignatureRow>(client, "tlog_cosignatures", &[r]).await
}
