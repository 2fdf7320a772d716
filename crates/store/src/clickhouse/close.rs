//! Recording a close: its statement lines, then the closure rows.
//!
//! ClickHouse has no transactions, so the store does not fence closes by
//! itself ([`CloseFence::Log`](crate::CloseFence::Log)): a closer stages its
//! lines under a fresh close id (never read until a closure row names it),
//! wins the log of closes, then writes one closure row per month it closes,
//! each saying how many lines the close wrote. A closer that dies before its
//! closure rows leaves lines that are never read; the winner of the log (or a
//! run completing its claim) is the only writer of the closure rows.
//!
//! On a replicated cluster, [`await_up_to_date`] makes the server a closer
//! talks to hold every part committed to the cluster before it reads: reads
//! through `Distributed` tables go to the local replica (`prefer_localhost_replica`,
//! one shard), so a close never reads a lagging replica.

use super::error::map_error;
use super::rows::{datetime_secs, ClosureOut, ClosureRow, StatementIn, StatementOut, STATEMENT_COLUMNS};
use super::write::insert_rows;
use crate::{positions_text, BusPosition, Closure, CloseRecord, StoreError, StoreResult};
use ::clickhouse::{Client, Row};
use serde::Deserialize;
use std::time::{Duration, Instant};
use subsidy_core::Statement;

/// The unfenced form (one closer at a time): refuses a month already closed as read, then writes.
pub(super) async fn commit_close(client: &Client, closure: &Closure, statements: &[Statement]) -> StoreResult<()> {
    let yyyymm = closure.period.as_yyyymm();
    let closed: u64 = client.query("SELECT count() FROM period_closures FINAL WHERE period = ?").bind(yyyymm).fetch_one().await.map_err(map_error)?;
    if closed > 0 {
        return Err(StoreError::Conflict(format!("{} is already closed", closure.period)));
    }
    stage_statements(client, &closure.close_id, statements).await?;
    let record = CloseRecord {
        close_id: closure.close_id.clone(),
        periods: vec![closure.period],
        closed_at: closure.closed_at,
        seen: Vec::new(),
        early_reason: None,
        claim_offset: None,
        policy_hash: closure.policy_hash.clone(),
    };
    write_closures(client, &record, statements.len() as u64).await?;
    tracing::info!(period = %closure.period, close_id = %closure.close_id, lines = statements.len(), "closed period");
    Ok(())
}

/// Statement lines under `close_id`, not yet counted.
pub(super) async fn stage_statements(client: &Client, close_id: &str, statements: &[Statement]) -> StoreResult<()> {
    let rows = statements.iter().map(|s| StatementOut::encode(close_id, s)).collect::<StoreResult<Vec<_>>>()?;
    insert_rows::<StatementOut<'_>>(client, "statements", &rows).await
}

/// Lines written under `close_id`, counted or not, sorted.
pub(super) async fn staged_statements(client: &Client, close_id: &str) -> StoreResult<Vec<Statement>> {
    let sql = format!("SELECT {STATEMENT_COLUMNS} FROM statements FINAL WHERE close_id = ?");
    let rows: Vec<StatementIn> = client.query(&sql).bind(close_id).fetch_all().await.map_err(map_error)?;
    let mut out = rows.into_iter().map(StatementIn::decode).collect::<StoreResult<Vec<_>>>()?;
    out.sort();
    Ok(out)
}

/// The closure rows of a close that won the log (`claim_offset` set), saying how many lines it staged.
pub(super) async fn record_closures(client: &Client, record: &CloseRecord) -> StoreResult<()> {
    if record.claim_offset.is_none() {
        return Err(StoreError::rejected("a close on ClickHouse records its closure only after its claim stands in the log of closes"));
    }
    let lines: u64 = client.query("SELECT count() FROM statements FINAL WHERE close_id = ?").bind(record.close_id.as_str()).fetch_one().await.map_err(map_error)?;
    for p in &record.periods {
        let holder: Vec<ClosureRow> = client.query("SELECT period, close_id, closed_at FROM period_closures FINAL WHERE period = ?").bind(p.as_yyyymm()).fetch_all().await.map_err(map_error)?;
        if let Some(other) = holder.iter().find(|r| r.close_id != record.close_id) {
            return Err(StoreError::Conflict(format!("{p} is already closed by close {}", other.close_id)));
        }
    }
    write_closures(client, record, lines).await?;
    tracing::info!(periods = ?record.periods, close_id = %record.close_id, lines, "closed period");
    Ok(())
}

async fn write_closures(client: &Client, record: &CloseRecord, lines: u64) -> StoreResult<()> {
    let rows: Vec<ClosureOut> = record
        .periods
        .iter()
        .map(|p| ClosureOut {
            period: p.as_yyyymm(),
            close_id: record.close_id.clone(),
            closed_at: datetime_secs(&record.closed_at),
            seen: positions_text(&record.seen),
            early_reason: record.early_reason.clone().unwrap_or_default(),
            claim_offset: record.claim_offset.unwrap_or(-1),
            lines,
            policy_hash: record.policy_hash.clone(),
        })
        .collect();
    insert_rows::<ClosureOut>(client, "period_closures", &rows).await
}

#[derive(Debug, Row, Deserialize)]
struct PositionIn {
    partition: i32,
    offset: i64,
}

/// The highest bus position of each records partition, in copies and rejections.
pub(super) async fn positions_seen(client: &Client) -> StoreResult<Vec<BusPosition>> {
    let rows: Vec<PositionIn> = client
        .query(
            "SELECT kafka_partition AS part, max(kafka_offset) AS last FROM \
             (SELECT kafka_partition, kafka_offset FROM record_copies UNION ALL SELECT kafka_partition, kafka_offset FROM rejections) \
             GROUP BY kafka_partition ORDER BY kafka_partition",
        )
        .fetch_all()
        .await
        .map_err(map_error)?;
    Ok(rows.into_iter().map(|r| BusPosition { partition: r.partition, offset: r.offset }).collect())
}

#[derive(Debug, Row, Deserialize)]
struct ReplicaIn {
    table: String,
    zookeeper_path: String,
    queue_size: u32,
    log_max_index: u64,
    log_pointer: u64,
}

/// How often a lagging replica is looked at again.
const POLL: Duration = Duration::from_millis(250);

/// Waits until every replicated table of the database on this server has pulled every
/// entry of its replication log and has nothing left in its queue: then it holds every
/// part any replica acknowledged before the call. Nothing to wait for on a single
/// server. After `limit`, `Unavailable` naming the lagging tables.
pub(super) async fn await_up_to_date(client: &Client, limit: Duration) -> StoreResult<()> {
    let deadline = Instant::now() + limit;
    loop {
        let lagging = lagging_tables(client).await?;
        if lagging.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(StoreError::unavailable(format!(
                "this replica is not up to date after {limit:?} ({}); a close reads only a replica that holds every acknowledged write: start its replication or close through another replica",
                lagging.join(", ")
            )));
        }
        tokio::time::sleep(POLL).await;
    }
}

async fn lagging_tables(client: &Client) -> StoreResult<Vec<String>> {
    let rows: Vec<ReplicaIn> = client
        .query("SELECT table, zookeeper_path, toUInt32(queue_size) AS queue_size, toUInt64(log_max_index) AS log_max_index, toUInt64(log_pointer) AS log_pointer FROM system.replicas WHERE database = currentDatabase()")
        .fetch_all()
        .await
        .map_err(map_error)?;
    let mut out = Vec::new();
    for r in rows {
        // log_pointer is the next entry to pull; (0, 0) is either an empty log or one entry not yet pulled.
        let pulled = if r.log_pointer == 0 { log_is_empty(client, &r.zookeeper_path).await? } else { r.log_pointer > r.log_max_index };
        if !pulled || r.queue_size > 0 {
            out.push(format!("{}: {} entries queued", r.table, r.queue_size + u32::from(!pulled)));
        }
    }
    Ok(out)
}

async fn log_is_empty(client: &Client, zookeeper_path: &str) -> StoreResult<bool> {
    let path = format!("{zookeeper_path}/log");
    let n: u64 = client.query("SELECT count() FROM system.zookeeper WHERE path = ?").bind(path.as_str()).fetch_one().await.map_err(map_error)?;
    Ok(n == 0)
}
