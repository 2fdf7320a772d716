//! SQLite reads. The tables hold only the standing row of each key, so reads
//! are plain selects; sums are taken in Rust over exact decimals.

use super::codec::{decimal, map_error, parse_closure_time, u32_of, u64_of};
use crate::codec::{credit_code, line_reason, period, reason};
use crate::decimal::{exact, ratio, yuan};
use crate::{AccrualSum, AdjustmentRow, BusPosition, Closure, HeldRow, LineRow, StandingLine, StoreError, StoreResult};
use rusqlite::{Connection, Row, ToSql};
use rust_decimal::Decimal;
use std::collections::{BTreeMap, HashSet};
use subsidy_core::{Period, Settlement};

const LINE_SELECT: &str = "SELECT record_id, revision, user_credit_code, center_id, period, policy_version, \
     rate, uplift, base, contribution, reason, kafka_partition, kafka_offset FROM ledger_lines";

/// Collects the rows of a prepared query through a decoder.
fn collect<T>(conn: &Connection, sql: &str, params: &[&dyn ToSql], decode: impl Fn(&Row<'_>) -> StoreResult<T>) -> StoreResult<Vec<T>> {
    let mut st = conn.prepare_cached(sql).map_err(map_error)?;
    let mut rows = st.query(params).map_err(map_error)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(map_error)? {
        out.push(decode(row)?);
    }
    Ok(out)
}

fn get<T: rusqlite::types::FromSql>(row: &Row<'_>, i: usize) -> StoreResult<T> {
    row.get(i).map_err(map_error)
}

fn line(row: &Row<'_>) -> StoreResult<LineRow> {
    Ok(LineRow {
        record_id: get(row, 0)?,
        revision: u32_of(get(row, 1)?, "revision")?,
        user_credit_code: credit_code(&get::<String>(row, 2)?)?,
        center_id: get(row, 3)?,
        period: period(u32_of(get(row, 4)?, "period")?)?,
        policy_version: get(row, 5)?,
        rate: ratio(decimal(&get::<String>(row, 6)?, "rate")?),
        uplift: ratio(decimal(&get::<String>(row, 7)?, "uplift")?),
        base: yuan(decimal(&get::<String>(row, 8)?, "base")?),
        contribution: exact(decimal(&get::<String>(row, 9)?, "contribution")?),
        reason: line_reason(&get::<String>(row, 10)?)?,
        position: BusPosition { partition: get(row, 11)?, offset: get(row, 12)? },
    })
}

pub(super) fn standing_lines(conn: &Connection, record_ids: &[String]) -> StoreResult<Vec<StandingLine>> {
    let mut st = conn.prepare_cached(&format!("{LINE_SELECT} WHERE record_id = ?1")).map_err(map_error)?;
    let mut seen = HashSet::with_capacity(record_ids.len());
    let mut out = Vec::with_capacity(record_ids.len());
    for id in record_ids {
        if !seen.insert(id.as_str()) {
            continue;
        }
        let mut rows = st.query([id]).map_err(map_error)?;
        if let Some(row) = rows.next().map_err(map_error)? {
            out.push(StandingLine::from(line(row)?));
        }
    }
    Ok(out)
}

/// `?1, ?2, …` for an `IN` list of `n` values.
fn placeholders(n: usize) -> String {
    (1..=n).map(|i| format!("?{i}")).collect::<Vec<_>>().join(", ")
}

fn add(a: Decimal, b: Decimal, what: &str) -> StoreResult<Decimal> {
    a.checked_add(b).ok_or_else(|| StoreError::Rejected(format!("{what} sum overflows")))
}

pub(super) fn record_ids(conn: &Connection, partitions: &[i32]) -> StoreResult<Vec<String>> {
    if partitions.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!("SELECT record_id FROM ledger_lines WHERE kafka_partition IN ({})", placeholders(partitions.len()));
    let params: Vec<&dyn ToSql> = partitions.iter().map(|p| p as &dyn ToSql).collect();
    let mut st = conn.prepare(&sql).map_err(map_error)?;
    let mut rows = st.query(params.as_slice()).map_err(map_error)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(map_error)? {
        out.push(get::<String>(row, 0)?);
    }
    Ok(out)
}

pub(super) fn accrual_sums(conn: &Connection, partitions: &[i32]) -> StoreResult<Vec<AccrualSum>> {
    if partitions.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT user_credit_code, period, policy_version, base, contribution FROM ledger_lines \
         WHERE reason = '' AND kafka_partition IN ({})",
        placeholders(partitions.len())
    );
    let params: Vec<&dyn ToSql> = partitions.iter().map(|p| p as &dyn ToSql).collect();
    let mut st = conn.prepare(&sql).map_err(map_error)?;
    let mut rows = st.query(params.as_slice()).map_err(map_error)?;
    let mut sums: BTreeMap<(String, u32, String), (u64, Decimal, Decimal)> = BTreeMap::new();
    while let Some(row) = rows.next().map_err(map_error)? {
        let key = (get::<String>(row, 0)?, u32_of(get(row, 1)?, "period")?, get::<String>(row, 2)?);
        let base = decimal(&get::<String>(row, 3)?, "base")?;
        let contribution = decimal(&get::<String>(row, 4)?, "contribution")?;
        let e = sums.entry(key).or_insert((0, Decimal::ZERO, Decimal::ZERO));
        e.0 += 1;
        e.1 = add(e.1, base, "base")?;
        e.2 = add(e.2, contribution, "contribution")?;
    }
    sums.into_iter()
        .map(|((user, p, version), (records, base, contribution))| {
            Ok(AccrualSum {
                user_credit_code: credit_code(&user)?,
                period: period(p)?,
                policy_version: version,
                records,
                base: yuan(base),
                contribution: exact(contribution),
            })
        })
        .collect()
}

pub(super) fn held_records(conn: &Connection, partitions: &[i32]) -> StoreResult<Vec<HeldRow>> {
    if partitions.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT record_id, revision, reason, raw, kafka_partition, kafka_offset, released FROM held_records \
         WHERE released = 0 AND kafka_partition IN ({}) ORDER BY kafka_partition, kafka_offset, record_id",
        placeholders(partitions.len())
    );
    let params: Vec<&dyn ToSql> = partitions.iter().map(|p| p as &dyn ToSql).collect();
    collect(conn, &sql, &params, |row| {
        Ok(HeldRow {
            record_id: get(row, 0)?,
            revision: u32_of(get(row, 1)?, "revision")?,
            reason: reason(&get::<String>(row, 2)?)?,
            raw: get(row, 3)?,
            position: BusPosition { partition: get(row, 4)?, offset: get(row, 5)? },
            released: get(row, 6)?,
        })
    })
}

/// Which settlements to read.
#[derive(Debug, Clone, Copy)]
pub(super) enum SettlementFilter<'a> {
    /// Every current settlement with eligible records.
    All,
    /// Those of one entity.
    Entity(&'a str),
    /// The frozen copies of closed months.
    Closed,
}

pub(super) fn settlements(conn: &Connection, filter: SettlementFilter<'_>) -> StoreResult<Vec<Settlement>> {
    const COLUMNS: &str = "credit_code, period, eligible_records, eligible_base, uncapped, subsidy";
    let decode = |row: &Row<'_>| {
        Ok(Settlement {
            credit_code: credit_code(&get::<String>(row, 0)?)?,
            period: period(u32_of(get(row, 1)?, "period")?)?,
            eligible_records: u64_of(get(row, 2)?, "eligible_records")?,
            eligible_base: yuan(decimal(&get::<String>(row, 3)?, "eligible_base")?),
            uncapped: exact(decimal(&get::<String>(row, 4)?, "uncapped")?),
            subsidy: yuan(decimal(&get::<String>(row, 5)?, "subsidy")?),
        })
    };
    match filter {
        SettlementFilter::All => collect(
            conn,
            &format!("SELECT {COLUMNS} FROM settlements WHERE eligible_records > 0 ORDER BY credit_code, period"),
            &[],
            decode,
        ),
        SettlementFilter::Entity(code) => collect(
            conn,
            &format!("SELECT {COLUMNS} FROM settlements WHERE credit_code = ?1 AND eligible_records > 0 ORDER BY period"),
            &[&code],
            decode,
        ),
        SettlementFilter::Closed => {
            collect(conn, &format!("SELECT {COLUMNS} FROM closed_settlements ORDER BY credit_code, period"), &[], decode)
        }
    }
}

pub(super) fn entity_lines(conn: &Connection, code: &str, month: Option<Period>) -> StoreResult<Vec<LineRow>> {
    match month {
        Some(p) => collect(
            conn,
            &format!("{LINE_SELECT} WHERE user_credit_code = ?1 AND period = ?2 ORDER BY period, record_id"),
            &[&code, &p.as_yyyymm()],
            line,
        ),
        None => collect(conn, &format!("{LINE_SELECT} WHERE user_credit_code = ?1 ORDER BY period, record_id"), &[&code], line),
    }
}

pub(super) fn closures(conn: &mut Connection) -> StoreResult<Vec<Closure>> {
    collect(conn, "SELECT period, closed_at FROM period_closures ORDER BY period", &[], |row| {
        Ok(Closure { period: period(u32_of(get(row, 0)?, "period")?)?, closed_at: parse_closure_time(&get::<String>(row, 1)?)? })
    })
}

pub(super) fn adjustments(conn: &mut Connection) -> StoreResult<Vec<AdjustmentRow>> {
    collect(
        conn,
        "SELECT record_id, revision, credit_code, original_period, target_period, delta_base, delta_contribution \
         FROM adjustments ORDER BY target_period, credit_code, record_id, revision",
        &[],
        |row| {
            Ok(AdjustmentRow {
                record_id: get(row, 0)?,
                revision: u32_of(get(row, 1)?, "revision")?,
                credit_code: credit_code(&get::<String>(row, 2)?)?,
                original_period: period(u32_of(get(row, 3)?, "original_period")?)?,
                target_period: period(u32_of(get(row, 4)?, "target_period")?)?,
                delta_base: yuan(decimal(&get::<String>(row, 5)?, "delta_base")?),
                delta_contribution: exact(decimal(&get::<String>(row, 6)?, "delta_contribution")?),
            })
        },
    )
}

pub(super) fn rejection_counts(conn: &mut Connection) -> StoreResult<Vec<(String, u64)>> {
    collect(conn, "SELECT reason, count(*) FROM rejections GROUP BY reason ORDER BY reason", &[], |row| {
        Ok((get(row, 0)?, u64_of(get(row, 1)?, "count")?))
    })
}
