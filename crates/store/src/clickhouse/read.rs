//! Reads. Every query of a ReplacingMergeTree table uses `FINAL` with the
//! filter in `WHERE`: ClickHouse (18.16 and current) merges first, then
//! filters, so a newer row that fails the filter still hides an older one.
//! The one exception is the aggregator's lookup of lines by record id
//! ([`lines_of`]), on its hot path: it reads every stored version of the ids
//! (`PREWHERE` on the whole sorting key) without `FINAL`, many times faster
//! on the old server, and keeps the one a merge would keep.
//! Sets of ids or partitions travel as one array literal,
//! `IN (SELECT arrayJoin([...]))`: a single AST node, so `max_ast_elements`
//! does not limit it, and the primary key is still used.

use super::error::map_error;
use super::rows::{LineSumIn, CenterRow, ClaimRow, FundedRow, MonthSumIn, ClosureIn, CloseLinesIn, CopyIn, EntityRow, LineIn, MarkRow, StatementOfCloseIn, LINE_COLUMNS, STATEMENT_COLUMNS};
use crate::codec::period;
use crate::{LineSum, Closure, CopyRow, LineRow, MonthSum, RegistryRows, ResettleMark, StoreError, StoreResult};
use ::clickhouse::Client;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::cmp::Ordering;
use subsidy_core::{line_order, Affected, CreditCode, Period, ReasonClass, ReasonCode, Statement};

/// Ids per `lines_of` query: keeps each request under a few MB.
const IDS_PER_QUERY: usize = 20_000;
/// The server's default `max_query_size`; larger queries raise it per request.
const DEFAULT_MAX_QUERY_SIZE: usize = 262_144;

/// `max_query_size` for a query carrying these strings as literals.
fn query_size(sql: &str, values: &[String]) -> String {
    // Each value costs its escaped text plus quotes and a comma.
    let size = values.iter().map(|v| v.len() * 2 + 4).sum::<usize>() + sql.len() + 1024;
    size.max(DEFAULT_MAX_QUERY_SIZE).to_string()
}

pub(super) async fn lines_of(client: &Client, record_ids: &[String]) -> StoreResult<Vec<LineRow>> {
    let sql = format!("SELECT {LINE_COLUMNS} FROM ledger_lines PREWHERE record_id IN (SELECT arrayJoin(?))");
    let mut rows: Vec<LineIn> = Vec::new();
    for chunk in record_ids.chunks(IDS_PER_QUERY) {
        rows.extend(client.query(&sql).bind(chunk).with_setting("max_query_size", query_size(&sql, chunk)).fetch_all::<LineIn>().await.map_err(map_error)?);
    }
    Ok(standing(rows)?.into_values().collect())
}

/// Of every stored version of some lines, the one of each record id a merge keeps: the one
/// the core's [`line_order`] puts first, since only such a line is ever written over another
/// of an equal version (see [`super::write`]).
fn standing(rows: Vec<LineIn>) -> StoreResult<HashMap<String, LineRow>> {
    let mut standing: HashMap<String, LineRow> = HashMap::with_capacity(rows.len());
    for row in rows {
        let line = row.decode()?;
        match standing.get(&line.record_id) {
            Some(kept) if line_order(&line.rank(), &kept.rank()) != Ordering::Greater => {}
            _ => {
                standing.insert(line.record_id.clone(), line);
            }
        }
    }
    Ok(standing)
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
    // No `FINAL`: every version of a line has the same id and partition, and a repeat is harmless.
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

pub(super) async fn held_ids(client: &Client, partitions: &[i32]) -> StoreResult<Vec<String>> {
    if partitions.is_empty() {
        return Ok(Vec::new());
    }
    let held: Vec<&str> = ReasonCode::ALL.iter().filter(|r| r.class() == ReasonClass::Held).map(|r| r.as_str()).collect();
    client
        .query(
            "SELECT record_id FROM ledger_lines FINAL \
             WHERE reason IN (SELECT arrayJoin(?)) AND kafka_partition IN (SELECT toInt32(arrayJoin(?))) ORDER BY record_id",
        )
        .bind(held)
        .bind(partitions)
        .fetch_all()
        .await
        .map_err(map_error)
}

pub(super) async fn affected_lines(client: &Client, partitions: &[i32], affected: &Affected) -> StoreResult<Vec<LineRow>> {
    if partitions.is_empty() || affected.is_empty() {
        return Ok(Vec::new());
    }
    let users: Vec<String> = affected.users.iter().map(CreditCode::to_string).collect();
    let centers: Vec<String> = affected.centers.iter().cloned().collect();
    let records: Vec<String> = affected.records.iter().cloned().collect();
    let contracts: Vec<String> = affected.contracts.iter().cloned().collect();
    let sets = [("user_credit_code", &users), ("center_id", &centers), ("record_id", &records), ("contract_id", &contracts)];
    // An empty array literal has no element type on the old server: leave its test out instead.
    let tests: Vec<String> = sets.iter().filter(|(_, set)| !set.is_empty()).map(|(column, _)| format!("{column} IN (SELECT arrayJoin(?))")).collect();
    let sql = format!(
        "SELECT {LINE_COLUMNS} FROM ledger_lines FINAL WHERE kafka_partition IN (SELECT toInt32(arrayJoin(?))) AND ({}) ORDER BY record_id",
        tests.join(" OR ")
    );
    let mut query = client.query(&sql).bind(partitions);
    for (_, set) in sets {
        if !set.is_empty() {
            query = query.bind(set.as_slice());
        }
    }
    let all: Vec<String> = sets.iter().flat_map(|(_, set)| set.iter()).cloned().collect();
    let rows: Vec<LineIn> = query.with_setting("max_query_size", query_size(&sql, &all)).fetch_all().await.map_err(map_error)?;
    rows.into_iter().map(LineIn::decode).collect()
}

pub(super) async fn marks(client: &Client, partitions: &[i32]) -> StoreResult<Vec<ResettleMark>> {
    if partitions.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<MarkRow> = client
        .query(
            "SELECT kafka_partition, registry, position FROM resettle_marks FINAL \
             WHERE kafka_partition IN (SELECT toInt32(arrayJoin(?))) ORDER BY kafka_partition",
        )
        .bind(partitions)
        .fetch_all()
        .await
        .map_err(map_error)?;
    Ok(rows.into_iter().map(MarkRow::decode).collect())
}

pub(super) async fn line_sums(client: &Client) -> StoreResult<Vec<LineSum>> {
    let rows: Vec<LineSumIn> = client
        .query(
            "SELECT user_credit_code, period, reason, count() AS records, sum(paid_amount) AS sum_paid, \
             sum(base) AS sum_base, sum(contribution) AS sum_contribution, policy_hash \
             FROM ledger_lines FINAL GROUP BY user_credit_code, period, reason, policy_hash ORDER BY user_credit_code, period, reason, policy_hash",
        )
        .fetch_all()
        .await
        .map_err(map_error)?;
    rows.into_iter().map(LineSumIn::decode).collect()
}

pub(super) async fn months_with_lines(client: &Client) -> StoreResult<Vec<Period>> {
    let months: Vec<u32> = client.query("SELECT DISTINCT period FROM ledger_lines FINAL ORDER BY period").fetch_all().await.map_err(map_error)?;
    months.into_iter().map(period).collect()
}

pub(super) async fn entity_lines(client: &Client, code: &CreditCode, month: Option<Period>) -> StoreResult<Vec<LineRow>> {
    // Every stored version of every line that has ever counted for the user (the by-user
    // index names them), in one read; the standing version of each is kept as in `lines_of`,
    // and only those still counting for the user (and month) are returned.
    let sql = format!(
        "SELECT {LINE_COLUMNS} FROM ledger_lines PREWHERE record_id IN \
         (SELECT record_id FROM ledger_lines_by_user WHERE user_credit_code = ?{})",
        if month.is_some() { " AND period = ?" } else { "" }
    );
    let mut query = client.query(&sql).bind(code.as_str());
    if let Some(p) = month {
        query = query.bind(p.as_yyyymm());
    }
    let rows: Vec<LineIn> = query.fetch_all().await.map_err(map_error)?;
    let mut lines: Vec<LineRow> =
        standing(rows)?.into_values().filter(|l| &l.user_credit_code == code && month.is_none_or(|p| l.period == p)).collect();
    lines.sort_by(|a, b| (a.period, &a.record_id).cmp(&(b.period, &b.record_id)));
    Ok(lines)
}

pub(super) async fn closures(client: &Client) -> StoreResult<Vec<Closure>> {
    let rows: Vec<ClosureIn> =
        client.query("SELECT period, close_id, closed_at, policy_hash FROM period_closures FINAL ORDER BY period").fetch_all().await.map_err(map_error)?;
    rows.into_iter().map(|r| Ok(Closure { period: period(r.period)?, close_id: r.close_id, closed_at: from_secs(r.closed_at)?, policy_hash: r.policy_hash })).collect()
}

pub(super) fn from_secs(secs: u32) -> StoreResult<DateTime<Utc>> {
    DateTime::from_timestamp(i64::from(secs), 0).ok_or_else(|| StoreError::corrupt(format!("bad timestamp {secs} in store")))
}

pub(super) async fn statements(client: &Client) -> StoreResult<Vec<Statement>> {
    // Only the lines of closes that recorded their closure count, and only once all of them
    // are here: a replica holding a closure row before its lines is lagging, not smaller.
    let closes: Vec<CloseLinesIn> =
        client.query("SELECT close_id, max(lines) AS lines FROM period_closures FINAL GROUP BY close_id").fetch_all().await.map_err(map_error)?;
    let sql = format!(
        "SELECT close_id, {STATEMENT_COLUMNS} FROM statements FINAL \
         WHERE close_id IN (SELECT close_id FROM period_closures FINAL) \
         ORDER BY credit_code, payout_period, for_period, kind"
    );
    let rows: Vec<StatementOfCloseIn> = client.query(&sql).fetch_all().await.map_err(map_error)?;
    let mut held: HashMap<String, u64> = HashMap::new();
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let (close_id, s) = row.decode()?;
        *held.entry(close_id).or_default() += 1;
        out.push(s);
    }
    if let Some(c) = closes.iter().find(|c| held.get(&c.close_id).copied().unwrap_or(0) < c.lines) {
        return Err(StoreError::unavailable(format!(
            "close {} wrote {} statement lines but this replica holds {}: it is lagging; read again or through another replica",
            c.close_id,
            c.lines,
            held.get(&c.close_id).copied().unwrap_or(0)
        )));
    }
    out.sort();
    Ok(out)
}

pub(super) async fn rejection_counts(client: &Client) -> StoreResult<Vec<(String, u64)>> {
    client.query("SELECT reason, count() FROM rejections FINAL GROUP BY reason ORDER BY reason").fetch_all().await.map_err(map_error)
}

pub(super) async fn copies_of(client: &Client, record_ids: &[String]) -> StoreResult<Vec<CopyRow>> {
    if record_ids.is_empty() {
        return Ok(Vec::new());
    }
    // No FINAL: rows of one key are replays of the same copy; keep one of each.
    let sql = "SELECT record_id, kafka_partition, kafka_offset, revision, fingerprint, raw FROM record_copies \
               PREWHERE record_id IN (SELECT arrayJoin(?))";
    let rows: Vec<CopyIn> =
        client.query(sql).bind(record_ids).with_setting("max_query_size", query_size(sql, record_ids)).fetch_all().await.map_err(map_error)?;
    let mut copies = rows.into_iter().map(CopyIn::decode).collect::<StoreResult<Vec<_>>>()?;
    copies.sort_by(|a, b| (&a.record_id, a.position).cmp(&(&b.record_id, b.position)));
    copies.dedup_by(|a, b| a.record_id == b.record_id && a.position == b.position);
    Ok(copies)
}

pub(super) async fn registry(client: &Client) -> StoreResult<RegistryRows> {
    let entities: Vec<EntityRow> = client
        .query("SELECT credit_code, valid_from, name, kind, province, city, related_group, version FROM registry_entity_entries FINAL ORDER BY credit_code, valid_from")
        .fetch_all()
        .await
        .map_err(map_error)?;
    let centers: Vec<CenterRow> = client
        .query("SELECT center_id, valid_from, name, owner_credit_code, province, city, version FROM registry_center_entries FINAL ORDER BY center_id, valid_from")
        .fetch_all()
        .await
        .map_err(map_error)?;
    let entities = entities.into_iter().map(|e| (e.version, e.decode())).map(|(v, e)| e.map(|e| (e, v))).collect::<StoreResult<_>>()?;
    let centers = centers.into_iter().map(|c| (c.version, c.decode())).map(|(v, c)| c.map(|c| (c, v))).collect::<StoreResult<_>>()?;
    let funded: Vec<FundedRow> =
        client.query("SELECT scheme, target_kind, target_id, version FROM funded_elsewhere FINAL ORDER BY target_kind DESC, target_id, scheme").fetch_all().await.map_err(map_error)?;
    let claims: Vec<ClaimRow> =
        client.query("SELECT record_id, supplier_credit_code, version FROM supplier_claims FINAL ORDER BY record_id, supplier_credit_code").fetch_all().await.map_err(map_error)?;
    let funded = funded.into_iter().map(|f| (f.version, f.decode())).map(|(v, f)| f.map(|f| (f, v))).collect::<StoreResult<_>>()?;
    let claims = claims.into_iter().map(|c| (c.version, c.decode())).map(|(v, c)| c.map(|c| (c, v))).collect::<StoreResult<_>>()?;
    Ok(RegistryRows::latest(entities, centers, funded, claims))
}

pub(super) async fn month_sums(client: &Client, month: Period) -> StoreResult<Vec<MonthSum>> {
    let rows: Vec<MonthSumIn> = client
        .query(
            "SELECT user_credit_code, center_id, accelerator, reason, uplift, count() AS records, \
             sum(paid_amount) AS sum_paid, sum(base) AS sum_base, sum(contribution) AS sum_contribution \
             FROM ledger_lines FINAL WHERE period = ? \
             GROUP BY user_credit_code, center_id, accelerator, reason, uplift \
             ORDER BY user_credit_code, center_id, accelerator, reason, uplift",
        )
        .bind(month.as_yyyymm())
        .fetch_all()
        .await
        .map_err(map_error)?;
    rows.into_iter().map(MonthSumIn::decode).collect()
}

/// The active parts of this database: every insert adds one and every merge replaces some,
/// so their count, rows and latest modification move with any write.
pub(super) async fn generation(client: &Client) -> StoreResult<String> {
    client
        .query(
            "SELECT concat(toString(count()), ':', toString(sum(rows)), ':', toString(max(modification_time))) \
             FROM system.parts WHERE database = currentDatabase() AND active",
        )
        .fetch_one::<String>()
        .await
        .map_err(map_error)
}

/// Tables a write of ledger lines changes (with the views over `ledger_lines`): what
/// [`parts_generation`] leaves out.
const RECORD_TABLES: &str = "'ledger_lines', 'record_copies', 'rejections', 'resettle_marks', 'platform_counts', 'line_change_streams'";

pub(super) async fn parts_generation(client: &Client) -> StoreResult<String> {
    let sql = format!(
        "SELECT concat(toString(count()), ':', toString(sum(rows)), ':', toString(max(modification_time))) \
         FROM system.parts WHERE database = currentDatabase() AND active AND table NOT IN ({RECORD_TABLES}) AND NOT startsWith(table, '.inner')"
    );
    client.query(&sql).fetch_one::<String>().await.map_err(map_error)
}
