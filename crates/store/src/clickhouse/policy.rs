//! ClickHouse policy documents. The table has no transactions to fence two
//! appliers with: an applier writes its row only once its claim stands in the
//! log of closes (see the `policy` command), so a row of a sequence is only
//! ever written with one document. A row already there for the sequence with
//! another hash is refused all the same, as a second line of defence.

use super::error::map_error;
use super::read::from_secs;
use super::rows::{datetime_secs, PolicyRow, LINE_COLUMNS, LineIn};
use super::write::insert_rows;
use crate::{LineRow, PolicyRecord, StoreError, StoreResult};
use ::clickhouse::Client;

/// Every recorded document, by sequence.
pub(super) async fn policy_documents(client: &Client) -> StoreResult<Vec<PolicyRecord>> {
    let rows: Vec<PolicyRow> =
        client.query("SELECT sequence, hash, text, applied_at, note FROM policy_documents FINAL ORDER BY sequence").fetch_all().await.map_err(map_error)?;
    rows.into_iter()
        .map(|r| Ok(PolicyRecord { sequence: r.sequence, hash: r.hash, text: r.text, applied_at: from_secs(r.applied_at)?, note: r.note }))
        .collect()
}

/// Writes the row of `record`, unless its sequence holds another document already.
pub(super) async fn record_policy(client: &Client, record: &PolicyRecord) -> StoreResult<()> {
    let held: Vec<String> = client.query("SELECT hash FROM policy_documents FINAL WHERE sequence = ?").bind(record.sequence).fetch_all().await.map_err(map_error)?;
    match held.first() {
        Some(h) if *h == record.hash => return Ok(()),
        Some(h) => {
            return Err(StoreError::Conflict(format!("policy document {} is already {}", record.sequence, subsidy_core::document::short(h))));
        }
        None => {}
    }
    let row = PolicyRow { sequence: record.sequence, hash: record.hash.clone(), text: record.text.clone(), applied_at: datetime_secs(&record.applied_at), note: record.note.clone() };
    insert_rows::<PolicyRow>(client, "policy_documents", &[row]).await?;
    tracing::info!(sequence = record.sequence, hash = %record.hash, "recorded policy document");
    Ok(())
}

/// Up to `limit` standing lines not settled under `hash`, of `partitions` (all when `None`),
/// with record ids after `after`, sorted by record id.
pub(super) async fn lines_not_under(client: &Client, hash: &str, partitions: Option<&[i32]>, after: &str, limit: usize) -> StoreResult<Vec<LineRow>> {
    let within = if partitions.is_some() { " AND kafka_partition IN (SELECT toInt32(arrayJoin(?)))" } else { "" };
    let sql = format!("SELECT {LINE_COLUMNS} FROM ledger_lines FINAL WHERE policy_hash != ? AND record_id > ?{within} ORDER BY record_id LIMIT ?");
    let mut query = client.query(&sql).bind(hash).bind(after);
    match partitions {
        Some([]) => return Ok(Vec::new()),
        Some(ps) => query = query.bind(ps),
        None => {}
    }
    let rows: Vec<LineIn> = query.bind(u64::try_from(limit).unwrap_or(u64::MAX)).fetch_all().await.map_err(map_error)?;
    rows.into_iter().map(LineIn::decode).collect()
}
