//! Writes: one `INSERT … FORMAT RowBinary` per non-empty table.
//!
//! Every row is encoded before anything is sent, so a row that cannot be
//! stored (e.g. too many decimals) rejects the whole batch and writes nothing.
//! Replays are safe: each table is a ReplacingMergeTree on the row's key.
//! Marks go last, once the lines they vouch for are acknowledged.

use super::error::map_error;
use super::rows::{CenterRow, CopyOut, EntityRow, LineOut, MarkRow, RejectionOut};
use crate::{StoreResult, WriteBatch};
use ::clickhouse::{Client, Row, RowWrite};
use std::time::Duration;

/// Longest wait for one chunk to reach the socket.
const SEND_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest wait for the server to acknowledge an insert.
const END_TIMEOUT: Duration = Duration::from_secs(300);

/// Inserts `rows` into `table` in one request; nothing when empty.
pub(super) async fn insert_rows<R: Row + RowWrite>(client: &Client, table: &str, rows: &[R::Value<'_>]) -> StoreResult<()> {
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
    let copies: Vec<_> = batch.copies.iter().map(CopyOut::encode).collect();
    let lines = batch.lines.iter().map(LineOut::encode).collect::<StoreResult<Vec<_>>>()?;
    let rejections: Vec<_> = batch.rejections.iter().map(RejectionOut::encode).collect();
    let marks: Vec<_> = batch.marks.iter().map(MarkRow::encode).collect();
    let (entities, centers): (Vec<_>, Vec<_>) = match &batch.registry {
        Some(r) => (r.entities.iter().map(|e| EntityRow::encode(e, r.version)).collect(), r.centers.iter().map(|c| CenterRow::encode(c, r.version)).collect()),
        None => (Vec::new(), Vec::new()),
    };
    tokio::try_join!(
        insert_rows::<CopyOut<'_>>(client, "record_copies", &copies),
        insert_rows::<LineOut<'_>>(client, "ledger_lines", &lines),
        insert_rows::<RejectionOut<'_>>(client, "rejections", &rejections),
        insert_rows::<EntityRow>(client, "registry_entities", &entities),
        insert_rows::<CenterRow>(client, "registry_centers", &centers),
    )?;
    insert_rows::<MarkRow>(client, "resettle_marks", &marks).await
}
