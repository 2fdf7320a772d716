//! Reads. Every query of a ReplacingMergeTree table uses `FINAL` with the
//! filter in `WHERE`: ClickHouse (18.16 and current) merges first, then
//! filters, so a newer row that fails the filter still hides an older one.
//! The one exception is a filter on the whole sorting key (`record_id` of
//! `ledger_lines`): all versions of a row share it, so it may go in
//! `PREWHERE` and be applied before the merge, which reads far less.
//! Sets of ids or partitions travel as one array literal,
//! `IN (SELECT arrayJoin([...]))`: a single AST node, so `max_ast_elements`
//! does not limit it, and the primary key is still used.

use super::error::map_error;
use super::rows::{
    AccrualIn, AdjustmentIn, ClosureRow, HeldIn, LineIn, SettlementIn, ADJUSTMENT_COLUMNS, HELD_COLUMNS, LINE_COLUMNS, SETTLEMENT_COLUMNS,
};
use crate::codec::period;
use crate::{AccrualSum, AdjustmentRow, Closure, HeldRow, LineRow, StandingLine, StoreError, StoreResult};
use ::clickhouse::Client;
use chrono::{DateTime, Utc};
use subsidy_core::{Period, Settlement};

/// Ids per `standing_lines` query: keeps each request under a few MB.
const IDS_PER_QUERY: usize = 20_000;
/// The server's default `max_query_size`; larger queries raise it per request.
const DEFAULT_MAX_QUERY_SIZE: usize = 262_144;

pub(super) async fn standing_lines(client: &Client, record_ids: &[String]) -> StoreResult<Vec<StandingLine>> {
    let sql = format!("SELECT {LINE_COLUMNS} FROM ledger_lines FINAL PREWHERE record_id IN (SELECT arrayJoin(?))");
    let mut out = Vec::with_capacity(record_ids.len());
    for chunk in record_ids.chunks(IDS_PER_QUERY) {
        // Each id costs its escaped text plus quotes and a comma.
        let size = chunk.iter().map(|id| id.len() * 2 + 4).sum::<usize>() + sql.len() + 1024;
        let rows: Vec<LineIn> = client
            .query(&sql)
            .bind(chunk)
            .with_setting("max_query_size", size.max(DEFAULT_MAX_QUERY_SIZE).to_string())
            .fetch_all()
            .await
            .map_err(map_error)?;
        for row in rows {
            out.push(row.decode_standing()?);
        }
    }
    Ok(out)
}

pub(super) async fn accrual_sums(client: &Client, partitions: &[i32]) -> StoreResult<Vec<AccrualSum>> {
    if partitions.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<AccrualIn> = client
        .query(
            "SELECT user_credit_code, period, policy_version, count() AS records, \
                    sum(base) AS sum_base, sum(contribution) AS sum_contribution \
             FROM ledger_lines FINAL \
             WHERE reason = '' AND kafka_partition IN (SELECT toInt32(arrayJoin(?))) \
             GROUP BY user_credit_code, period, policy_version \
             ORDER BY user_credit_code, period, policy_version",
        )
        .bind(partitions)
        .fetch_all()
        .await
        .map_err(map_error)?;
    rows.into_iter().map(AccrualIn::decode).collect()
}

/// One column of ids, streamed.
#[derive(Debug, ::clickhouse::Row, serde::Deserialize)]
struct IdIn {
    record_id: String,
}

pub(super) async fn record_ids(client: &Client, partitions: &[i32], each: &mut (dyn for<'s> FnMut(&'s str) + Send)) -> StoreResult<u64> {
    if partitions.is_empty() {
        return Ok(0);
    }
    // No `FINAL`: every version of a line has the same id, and a repeat is harmless.
    let mut cursor = client
        .query("SELECT record_id FROM ledger_lines WHERE kafka_partition IN (SELECT toInt32(arrayJoin(?)))")
        .bind(partitions)
        .fetch::<IdIn>()
        .map_err(map_error)?;
    let mut n = 0;
    while let Some(row) = cursor.next().await.map_err(map_error)? {
        each(&row.record_id);
        n += 1;
    }
    Ok(n)
}

pub(super) async fn held_records(client: &Client, partitions: &[i32]) -> StoreResult<Vec<HeldRow>> {
    if partitions.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT {HELD_COLUMNS} FROM held_records FINAL \
         WHERE released = 0 AND kafka_partition IN (SELECT toInt32(arrayJoin(?))) \
         ORDER BY kafka_partition, kafka_offset, record_id"
    );
    let rows: Vec<HeldIn> = client.query(&sql).bind(partitions).fetch_all().await.map_err(map_error)?;
    rows.into_iter().map(HeldIn::decode).collect()
}

pub(super) async fn settlements(client: &Client) -> StoreResult<Vec<Settlement>> {
    let sql = format!("SELECT {SETTLEMENT_COLUMNS} FROM settlements FINAL WHERE eligible_records > 0 ORDER BY credit_code, period");
    let rows: Vec<SettlementIn> = client.query(&sql).fetch_all().await.map_err(map_error)?;
    rows.into_iter().map(SettlementIn::decode).collect()
}

pub(super) async fn entity_settlements(client: &Client, code: &str) -> StoreResult<Vec<Settlement>> {
    let sql = format!("SELECT {SETTLEMENT_COLUMNS} FROM settlements FINAL WHERE credit_code = ? AND eligible_records > 0 ORDER BY period");
    let rows: Vec<SettlementIn> = client.query(&sql).bind(code).fetch_all().await.map_err(map_error)?;
    rows.into_iter().map(SettlementIn::decode).collect()
}

pub(super) async fn entity_lines(client: &Client, code: &str, month: Option<Period>) -> StoreResult<Vec<LineRow>> {
    let query = match month {
        Some(p) => client
            .query(&format!(
                "SELECT {LINE_COLUMNS} FROM ledger_lines FINAL WHERE user_credit_code = ? AND period = ? ORDER BY period, record_id"
            ))
            .bind(code)
            .bind(p.as_yyyymm()),
        None => client
            .query(&format!("SELECT {LINE_COLUMNS} FROM ledger_lines FINAL WHERE user_credit_code = ? ORDER BY period, record_id"))
            .bind(code),
    };
    let rows: Vec<LineIn> = query.fetch_all().await.map_err(map_error)?;
    rows.into_iter().map(LineIn::decode).collect()
}

pub(super) async fn closures(client: &Client) -> StoreResult<Vec<crate::Closure>> {
    let rows: Vec<ClosureRow> =
        client.query("SELECT period, closed_at FROM period_closures FINAL ORDER BY period").fetch_all().await.map_err(map_error)?;
    rows.into_iter().map(|r| Ok(Closure { period: period(r.period)?, closed_at: from_secs(r.closed_at)? })).collect()
}

pub(super) fn from_secs(secs: u32) -> StoreResult<DateTime<Utc>> {
    DateTime::from_timestamp(i64::from(secs), 0).ok_or_else(|| StoreError::Corrupt(format!("bad timestamp {secs} in store")))
}

pub(super) async fn closed_settlements(client: &Client) -> StoreResult<Vec<Settlement>> {
    // Only copies that belong to a recorded closure count.
    let sql = format!(
        "SELECT {SETTLEMENT_COLUMNS} FROM closed_settlements FINAL \
         WHERE (period, closed_at) IN (SELECT period, closed_at FROM period_closures FINAL) \
         ORDER BY credit_code, period"
    );
    let rows: Vec<SettlementIn> = client.query(&sql).fetch_all().await.map_err(map_error)?;
    rows.into_iter().map(SettlementIn::decode).collect()
}

pub(super) async fn adjustments(client: &Client) -> StoreResult<Vec<AdjustmentRow>> {
    let sql = format!("SELECT {ADJUSTMENT_COLUMNS} FROM adjustments FINAL ORDER BY target_period, credit_code, record_id, revision");
    let rows: Vec<AdjustmentIn> = client.query(&sql).fetch_all().await.map_err(map_error)?;
    rows.into_iter().map(AdjustmentIn::decode).collect()
}

pub(super) async fn rejection_counts(client: &Client) -> StoreResult<Vec<(String, u64)>> {
    client.query("SELECT reason, count() FROM rejections FINAL GROUP BY reason ORDER BY reason").fetch_all().await.map_err(map_error)
}
