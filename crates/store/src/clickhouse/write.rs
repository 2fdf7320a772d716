//! Writes: one `INSERT … FORMAT RowBinary` per non-empty table, sent concurrently.
//!
//! Every row is encoded before anything is sent, so a row that cannot be
//! stored (e.g. too many decimals) rejects the whole batch and writes nothing.
//! Replays are safe: each table is a ReplacingMergeTree on the row's key.

use super::error::map_error;
use super::rows::{AdjustmentOut, HeldOut, LineOut, RecordOut, RejectionOut, SettlementOut};
use crate::{SettlementRow, StoreResult, WriteBatch};
use ::clickhouse::{Client, Row, RowWrite};
use std::time::Duration;

/// Longest wait for one chunk to reach the socket.
const SEND_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest wait for the server to acknowledge an insert.
const END_TIMEOUT: Duration = Duration::from_secs(300);

/// Inserts `rows` into `table` in one request; nothing when empty.
async fn insert_rows<R: Row + RowWrite>(client: &Client, table: &str, rows: &[R::Value<'_>]) -> StoreResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut insert = client.insert::<R>(table).await.map_err(map_error)?.with_timeouts(Some(SEND_TIMEOUT), Some(END_TIMEOUT));
    for row in rows {
        insert.write(row).await.map_err(map_error)?;
    }
    insert.end().await.map_err(map_error)
}

/// Writes every row of a batch.
pub(super) async fn write_batch(client: &Client, batch: &WriteBatch) -> StoreResult<()> {
    let records = batch.records.iter().map(RecordOut::encode).collect::<StoreResult<Vec<_>>>()?;
    let lines = batch.lines.iter().map(LineOut::encode).collect::<StoreResult<Vec<_>>>()?;
    let rejections: Vec<_> = batch.rejections.iter().map(RejectionOut::encode).collect();
    let held: Vec<_> = batch.held.iter().map(HeldOut::encode).collect();
    let adjustments = batch.adjustments.iter().map(AdjustmentOut::encode).collect::<StoreResult<Vec<_>>>()?;
    tokio::try_join!(
        insert_rows::<RecordOut<'_>>(client, "usage_records", &records),
        insert_rows::<LineOut<'_>>(client, "ledger_lines", &lines),
        insert_rows::<RejectionOut<'_>>(client, "rejections", &rejections),
        insert_rows::<HeldOut<'_>>(client, "held_records", &held),
        insert_rows::<AdjustmentOut<'_>>(client, "adjustments", &adjustments),
    )?;
    Ok(())
}

/// Writes settlement rows; the highest version of each key stands.
pub(super) async fn write_settlements(client: &Client, rows: &[SettlementRow]) -> StoreResult<()> {
    let rows = rows.iter().map(SettlementOut::encode).collect::<StoreResult<Vec<_>>>()?;
    insert_rows::<SettlementOut<'_>>(client, "settlements", &rows).await
}
