//! Writes: one `INSERT … FORMAT RowBinary` per non-empty table.
//!
//! Every row is encoded before anything is sent, so a row that cannot be
//! stored (e.g. too many decimals) rejects the whole batch and writes nothing.
//! Replays are safe: each table is a ReplacingMergeTree on the row's key.
//! A merge keeps the last written of two lines of equal version, so a line
//! the core's [`subsidy_core::line_order`] puts behind the one it would replace is not
//! written ([`standing_lines`]). Marks go last, once the lines they vouch for
//! are acknowledged.

use super::error::map_error;
use super::changes::{content_of, Streams};
use super::rows::{CenterRow, ClaimRow, CopyOut, EntityRow, FundedRow, LineOut, MarkRow, RejectionOut, Stamp};
use crate::{LineEffect, LineRow, StoreResult, WriteBatch};
use ::clickhouse::{Client, Row, RowWrite};
use std::collections::HashMap;
use std::time::Duration;
use subsidy_core::replaces;

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

/// Writes every row of a batch. The lines go in one insert, stamped with this handle's
/// stream and the write's place there, each with the effect of the line it replaces.
pub(super) async fn write_batch(client: &Client, streams: &Streams, batch: &WriteBatch) -> StoreResult<()> {
    let copies: Vec<_> = batch.copies.iter().map(CopyOut::encode).collect();
    let rejections: Vec<_> = batch.rejections.iter().map(RejectionOut::encode).collect();
    let marks: Vec<_> = batch.marks.iter().map(MarkRow::encode).collect();
    let registry = batch.registry.as_ref();
    let entities: Vec<_> = registry.map(|r| r.entities.iter().map(|e| EntityRow::encode(e, r.version)).collect()).unwrap_or_default();
    let centers: Vec<_> = registry.map(|r| r.centers.iter().map(|c| CenterRow::encode(c, r.version)).collect()).unwrap_or_default();
    let funded: Vec<_> = registry.map(|r| r.funded.iter().map(|f| FundedRow::encode(f, r.version)).collect()).unwrap_or_default();
    let claims: Vec<_> = registry.map(|r| r.claims.iter().map(|c| ClaimRow::encode(c, r.version)).collect()).unwrap_or_default();
    let _turn = streams.turn().await;
    let lines = standing_lines(client, &batch.lines, &batch.priors).await?;
    let content = content_of(lines.iter().map(|(l, _)| *l));
    let place = if lines.is_empty() { 0 } else { streams.place(content) };
    let stamp = Stamp { stream: streams.name(), seq: place };
    let rows = lines.iter().map(|(l, prior)| LineOut::encode(l, prior.as_ref(), stamp)).collect::<StoreResult<Vec<_>>>()?;
    if !rows.is_empty() {
        streams.register(client).await?;
    }
    let written = tokio::try_join!(
        insert_rows::<CopyOut<'_>>(client, "record_copies", &copies),
        insert_lines(client, &rows),
        insert_rows::<RejectionOut<'_>>(client, "rejections", &rejections),
        insert_rows::<EntityRow>(client, "registry_entity_entries", &entities),
        insert_rows::<CenterRow>(client, "registry_center_entries", &centers),
        insert_rows::<FundedRow>(client, "funded_elsewhere", &funded),
        insert_rows::<ClaimRow>(client, "supplier_claims", &claims),
    );
    if !rows.is_empty() {
        streams.ended(content, place, written.is_ok());
    }
    written?;
    insert_rows::<MarkRow>(client, "resettle_marks", &marks).await
}

/// Most rows of one block: a write's lines go in as one block, visible whole (see [`super::changes`]).
const ONE_BLOCK: &str = "100000000";

/// Inserts the lines as one block.
async fn insert_lines(client: &Client, rows: &[LineOut<'_>]) -> StoreResult<()> {
    let client = client.clone().with_setting("max_insert_block_size", ONE_BLOCK);
    insert_rows::<LineOut<'_>>(&client, "ledger_lines", rows).await
}

/// The lines of a batch to write, in batch order, each with what it replaces: of one
/// record's lines in the batch, the one [`subsidy_core::line_order`] puts first. A line whose
/// prior the writer gave is written with it, unless it is conflicted; the stored line of
/// every other is read, and the line written only if it [`replaces`] it. (Only a conflicted
/// revision has lines of an equal version with other fingerprints: the conflict flag is part
/// of the version, and any other revision stands on its first copy.)
async fn standing_lines<'a>(client: &Client, lines: &'a [LineRow], priors: &HashMap<String, Option<LineEffect>>) -> StoreResult<Vec<(&'a LineRow, Option<LineEffect>)>> {
    let mut best: HashMap<&str, usize> = HashMap::with_capacity(lines.len());
    for (i, l) in lines.iter().enumerate() {
        match best.get(l.record_id.as_str()) {
            Some(&kept) if !replaces(&l.rank(), &lines[kept].rank()) => {}
            _ => {
                best.insert(&l.record_id, i);
            }
        }
    }
    let kept: Vec<&LineRow> = lines.iter().enumerate().filter(|(i, l)| best.get(l.record_id.as_str()) == Some(i)).map(|(_, l)| l).collect();
    let unknown: Vec<String> = kept.iter().filter(|l| l.conflict || !priors.contains_key(&l.record_id)).map(|l| l.record_id.clone()).collect();
    let stored: HashMap<String, LineRow> =
        if unknown.is_empty() { HashMap::new() } else { super::read::lines_of(client, &unknown).await?.into_iter().map(|l| (l.record_id.clone(), l)).collect() };
    let mut out = Vec::with_capacity(kept.len());
    for l in kept {
        if l.conflict || !priors.contains_key(&l.record_id) {
            match stored.get(&l.record_id) {
                Some(s) if !replaces(&l.rank(), &s.rank()) => {}
                Some(s) => out.push((l, Some(LineEffect::of(s)))),
                None => out.push((l, None)),
            }
        } else {
            out.push((l, priors.get(&l.record_id).cloned().flatten()));
        }
    }
    Ok(out)
}
