//! SQLite reads. The tables hold only the standing row of each key, so reads
//! are plain selects; sums are taken in Rust over exact decimals.

use super::codec::{decimal, map_error, parse_closure_time, u32_of, u64_of};
use crate::codec::{credit_code, entity_kind, entry_day, fingerprint, funded_target, line_reason, payment_status, period, statement_kind};
use crate::decimal::{exact, ratio, yuan};
use crate::{LineSum, BusPosition, Closure, CopyRow, LineRow, MonthSum, RegistryRows, ResettleMark, StoreError, StoreResult};
use chrono::NaiveDate;
use rusqlite::{Connection, Row, ToSql};
use rust_decimal::Decimal;
use std::collections::{BTreeMap, HashSet};
use subsidy_core::{Affected, ComputeCenter, CreditCode, Entity, FundedEntry, Period, ReasonClass, ReasonCode, Statement, SupplierClaim};

pub(super) const LINE_SELECT: &str = "SELECT record_id, revision, fingerprint, conflict, user_credit_code, center_id, usage_date, \
     payment_status, paid_amount, period, policy_version, rate, uplift, base, contribution, reason, kafka_partition, kafka_offset, version, accelerator, policy_hash, entity_entry, center_entry, contract_id \
     FROM ledger_lines";

/// Collects the rows of a prepared query through a decoder.
pub(super) fn collect<T>(conn: &Connection, sql: &str, params: &[&dyn ToSql], decode: impl Fn(&Row<'_>) -> StoreResult<T>) -> StoreResult<Vec<T>> {
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

fn text(row: &Row<'_>, i: usize) -> StoreResult<String> {
    get::<String>(row, i)
}

pub(super) fn line(row: &Row<'_>) -> StoreResult<LineRow> {
    let date = text(row, 6)?;
    Ok(LineRow {
        record_id: get(row, 0)?,
        revision: u32_of(get(row, 1)?, "revision")?,
        fingerprint: fingerprint(&text(row, 2)?)?,
        conflict: get(row, 3)?,
        user_credit_code: credit_code(&text(row, 4)?)?,
        center_id: get(row, 5)?,
        usage_date: NaiveDate::parse_from_str(&date, "%Y-%m-%d").map_err(|e| StoreError::Corrupt { message: format!("usage_date {date:?} in store: {e}"), cause: Some(e.into()) })?,
        payment_status: payment_status(&text(row, 7)?)?,
        paid_amount: yuan(decimal(&text(row, 8)?, "paid_amount")?),
        period: period(u32_of(get(row, 9)?, "period")?)?,
        policy_version: get(row, 10)?,
        rate: ratio(decimal(&text(row, 11)?, "rate")?),
        uplift: ratio(decimal(&text(row, 12)?, "uplift")?),
        base: yuan(decimal(&text(row, 13)?, "base")?),
        contribution: exact(decimal(&text(row, 14)?, "contribution")?),
        reason: line_reason(&text(row, 15)?)?,
        position: BusPosition { partition: get(row, 16)?, offset: get(row, 17)? },
        version: u64_of(get(row, 18)?, "version")?,
        accelerator: get(row, 19)?,
        policy_hash: get(row, 20)?,
        entity_entry: entry_day(&text(row, 21)?)?,
        center_entry: entry_day(&text(row, 22)?)?,
        contract_id: Some(text(row, 23)?).filter(|c| !c.is_empty()),
    })
}

pub(super) fn lines_of(conn: &Connection, record_ids: &[String]) -> StoreResult<Vec<LineRow>> {
    let mut st = conn.prepare_cached(&format!("{LINE_SELECT} WHERE record_id = ?1")).map_err(map_error)?;
    let mut seen = HashSet::with_capacity(record_ids.len());
    let mut out = Vec::with_capacity(record_ids.len());
    for id in record_ids {
        if !seen.insert(id.as_str()) {
            continue;
        }
        let mut rows = st.query([id]).map_err(map_error)?;
        if let Some(row) = rows.next().map_err(map_error)? {
            out.push(line(row)?);
        }
    }
    Ok(out)
}

/// `?1, ?2, …` for an `IN` list of `n` values, numbered from `first`.
pub(super) fn placeholders(first: usize, n: usize) -> String {
    (first..first + n).map(|i| format!("?{i}")).collect::<Vec<_>>().join(", ")
}

fn add(a: Decimal, b: Decimal, what: &str) -> StoreResult<Decimal> {
    a.checked_add(b).ok_or_else(|| StoreError::rejected(format!("{what} sum overflows")))
}

pub(super) fn record_ids(conn: &Connection, partitions: &[i32]) -> StoreResult<Vec<String>> {
    if partitions.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!("SELECT record_id FROM ledger_lines WHERE kafka_partition IN ({})", placeholders(1, partitions.len()));
    let params: Vec<&dyn ToSql> = partitions.iter().map(|p| p as &dyn ToSql).collect();
    collect(conn, &sql, &params, |row| get(row, 0))
}

pub(super) fn held_ids(conn: &Connection, partitions: &[i32]) -> StoreResult<Vec<String>> {
    if partitions.is_empty() {
        return Ok(Vec::new());
    }
    let held: Vec<&str> = ReasonCode::ALL.iter().filter(|r| r.class() == ReasonClass::Held).map(|r| r.as_str()).collect();
    let sql = format!(
        "SELECT record_id FROM ledger_lines WHERE reason IN ({}) AND kafka_partition IN ({}) ORDER BY record_id",
        placeholders(1, held.len()),
        placeholders(1 + held.len(), partitions.len())
    );
    let mut params: Vec<&dyn ToSql> = held.iter().map(|r| r as &dyn ToSql).collect();
    params.extend(partitions.iter().map(|p| p as &dyn ToSql));
    collect(conn, &sql, &params, |row| get(row, 0))
}

pub(super) fn affected_lines(conn: &Connection, partitions: &[i32], affected: &Affected) -> StoreResult<Vec<LineRow>> {
    if partitions.is_empty() || affected.is_empty() {
        return Ok(Vec::new());
    }
    let users: Vec<String> = affected.users.iter().map(CreditCode::to_string).collect();
    let centers: Vec<&String> = affected.centers.iter().collect();
    let (records, contracts): (Vec<&String>, Vec<&String>) = (affected.records.iter().collect(), affected.contracts.iter().collect());
    let (p, u, c, r) = (partitions.len(), users.len(), centers.len(), records.len());
    let sql = format!(
        "{LINE_SELECT} WHERE kafka_partition IN ({}) AND (user_credit_code IN ({}) OR center_id IN ({}) OR record_id IN ({}) OR contract_id IN ({})) ORDER BY record_id",
        placeholders(1, p),
        placeholders(1 + p, u),
        placeholders(1 + p + u, c),
        placeholders(1 + p + u + c, r),
        placeholders(1 + p + u + c + r, contracts.len())
    );
    let mut params: Vec<&dyn ToSql> = partitions.iter().map(|x| x as &dyn ToSql).collect();
    params.extend(users.iter().map(|x| x as &dyn ToSql));
    params.extend(centers.iter().chain(&records).chain(&contracts).map(|x| *x as &dyn ToSql));
    collect(conn, &sql, &params, line)
}

pub(super) fn marks(conn: &Connection, partitions: &[i32]) -> StoreResult<Vec<ResettleMark>> {
    if partitions.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT kafka_partition, registry, position FROM resettle_marks WHERE kafka_partition IN ({}) ORDER BY kafka_partition",
        placeholders(1, partitions.len())
    );
    let params: Vec<&dyn ToSql> = partitions.iter().map(|p| p as &dyn ToSql).collect();
    collect(conn, &sql, &params, |row| Ok(ResettleMark { partition: get(row, 0)?, registry: get(row, 1)?, position: u64_of(get(row, 2)?, "position")? }))
}

type SumKey = (String, u32, String, String);
type Sums = (u64, Decimal, Decimal, Decimal);

pub(super) fn line_sums(conn: &Connection) -> StoreResult<Vec<LineSum>> {
    let mut st = conn.prepare_cached("SELECT user_credit_code, period, reason, paid_amount, base, contribution, policy_hash FROM ledger_lines").map_err(map_error)?;
    let mut rows = st.query([]).map_err(map_error)?;
    let mut sums: BTreeMap<SumKey, Sums> = BTreeMap::new();
    while let Some(row) = rows.next().map_err(map_error)? {
        let key = (text(row, 0)?, u32_of(get(row, 1)?, "period")?, text(row, 2)?, text(row, 6)?);
        let e = sums.entry(key).or_insert((0, Decimal::ZERO, Decimal::ZERO, Decimal::ZERO));
        e.0 += 1;
        e.1 = add(e.1, decimal(&text(row, 3)?, "paid_amount")?, "paid_amount")?;
        e.2 = add(e.2, decimal(&text(row, 4)?, "base")?, "base")?;
        e.3 = add(e.3, decimal(&text(row, 5)?, "contribution")?, "contribution")?;
    }
    sums.into_iter()
        .map(|((user, p, reason, policy_hash), (records, paid, base, contribution))| {
            Ok(LineSum {
                user_credit_code: credit_code(&user)?,
                period: period(p)?,
                reason: line_reason(&reason)?,
                records,
                paid_amount: yuan(paid),
                base: yuan(base),
                contribution: exact(contribution),
                policy_hash,
            })
        })
        .collect()
}

pub(super) fn months_with_lines(conn: &Connection) -> StoreResult<Vec<Period>> {
    collect(conn, "SELECT DISTINCT period FROM ledger_lines ORDER BY period", &[], |row| period(u32_of(get(row, 0)?, "period")?))
}

pub(super) fn entity_lines(conn: &Connection, code: &CreditCode, month: Option<Period>) -> StoreResult<Vec<LineRow>> {
    let code = code.as_str();
    match month {
        Some(p) => collect(conn, &format!("{LINE_SELECT} WHERE user_credit_code = ?1 AND period = ?2 ORDER BY period, record_id"), &[&code, &p.as_yyyymm()], line),
        None => collect(conn, &format!("{LINE_SELECT} WHERE user_credit_code = ?1 ORDER BY period, record_id"), &[&code], line),
    }
}

pub(super) fn closures(conn: &mut Connection) -> StoreResult<Vec<Closure>> {
    collect(conn, "SELECT period, close_id, closed_at, policy_hash FROM period_closures ORDER BY period", &[], |row| {
        Ok(Closure {
            period: period(u32_of(get(row, 0)?, "period")?)?,
            close_id: get(row, 1)?,
            closed_at: parse_closure_time(&text(row, 2)?)?,
            policy_hash: get(row, 3)?,
        })
    })
}

pub(super) fn statements(conn: &mut Connection) -> StoreResult<Vec<Statement>> {
    statements_where(conn, "close_id IN (SELECT close_id FROM period_closures)", &[])
}

/// Statement lines matching `filter`, sorted.
pub(super) fn statements_where(conn: &Connection, filter: &str, params: &[&dyn ToSql]) -> StoreResult<Vec<Statement>> {
    let mut out = collect(
        conn,
        &format!("SELECT credit_code, payout_period, for_period, kind, eligible_base, subsidy FROM statements WHERE {filter}"),
        params,
        |row| {
            Ok(Statement {
                credit_code: credit_code(&text(row, 0)?)?,
                payout_period: period(u32_of(get(row, 1)?, "payout_period")?)?,
                for_period: period(u32_of(get(row, 2)?, "for_period")?)?,
                kind: statement_kind(&text(row, 3)?)?,
                eligible_base: yuan(decimal(&text(row, 4)?, "eligible_base")?),
                subsidy: yuan(decimal(&text(row, 5)?, "subsidy")?),
            })
        },
    )?;
    out.sort();
    Ok(out)
}

pub(super) fn rejection_counts(conn: &mut Connection) -> StoreResult<Vec<(String, u64)>> {
    collect(conn, "SELECT reason, count(*) FROM rejections GROUP BY reason ORDER BY reason", &[], |row| Ok((get(row, 0)?, u64_of(get(row, 1)?, "count")?)))
}

pub(super) fn copies_of(conn: &Connection, record_ids: &[String]) -> StoreResult<Vec<CopyRow>> {
    let sql = "SELECT record_id, kafka_partition, kafka_offset, revision, fingerprint, raw FROM record_copies \
               WHERE record_id = ?1 ORDER BY kafka_partition, kafka_offset";
    let mut ids: Vec<&String> = record_ids.iter().collect();
    ids.sort_unstable();
    ids.dedup();
    let mut out = Vec::new();
    for id in ids {
        out.extend(collect(conn, sql, &[id], |row| {
            Ok(CopyRow {
                record_id: get(row, 0)?,
                position: BusPosition { partition: get(row, 1)?, offset: get(row, 2)? },
                revision: u32_of(get(row, 3)?, "revision")?,
                fingerprint: fingerprint(&text(row, 4)?)?,
                raw: get(row, 5)?,
            })
        })?);
    }
    Ok(out)
}

pub(super) fn registry(conn: &mut Connection) -> StoreResult<RegistryRows> {
    let entities = collect(
        conn,
        "SELECT credit_code, name, kind, province, city, related_group, version, valid_from FROM registry_entity_entries ORDER BY credit_code, valid_from",
        &[],
        |row| {
            let group = text(row, 5)?;
            let entity = Entity {
                credit_code: credit_code(&text(row, 0)?)?,
                name: get(row, 1)?,
                kind: entity_kind(&text(row, 2)?)?,
                province: get(row, 3)?,
                city: get(row, 4)?,
                related_group: (!group.is_empty()).then_some(group),
                valid_from: entry_day(&text(row, 7)?)?,
            };
            Ok((entity, u64_of(get(row, 6)?, "version")?))
        },
    )?;
    let sql = "SELECT center_id, name, owner_credit_code, province, city, version, valid_from FROM registry_center_entries ORDER BY center_id, valid_from";
    let centers = collect(conn, sql, &[], |row| {
        let center = ComputeCenter {
            center_id: get(row, 0)?,
            name: get(row, 1)?,
            owner_credit_code: credit_code(&text(row, 2)?)?,
            province: get(row, 3)?,
            city: get(row, 4)?,
            valid_from: entry_day(&text(row, 6)?)?,
        };
        Ok((center, u64_of(get(row, 5)?, "version")?))
    })?;
    let sql = "SELECT scheme, target_kind, target_id, version FROM funded_elsewhere ORDER BY target_kind DESC, target_id, scheme";
    let funded = collect(conn, sql, &[], |row| {
        let entry = FundedEntry { scheme: get(row, 0)?, target: funded_target(&text(row, 1)?, &text(row, 2)?)? };
        Ok((entry, u64_of(get(row, 3)?, "version")?))
    })?;
    let sql = "SELECT record_id, supplier_credit_code, version FROM supplier_claims ORDER BY record_id, supplier_credit_code";
    let claims = collect(conn, sql, &[], |row| {
        let claim = SupplierClaim { record_id: get(row, 0)?, supplier: credit_code(&text(row, 1)?)? };
        Ok((claim, u64_of(get(row, 2)?, "version")?))
    })?;
    Ok(RegistryRows::latest(entities, centers, funded, claims))
}

type MonthKey = (String, String, String, String, String);

pub(super) fn month_sums(conn: &mut Connection, month: Period) -> StoreResult<Vec<MonthSum>> {
    let mut st = conn
        .prepare_cached("SELECT user_credit_code, center_id, accelerator, reason, uplift, paid_amount, base, contribution FROM ledger_lines WHERE period = ?1",
        )
        .map_err(map_error)?;
    let mut rows = st.query([month.as_yyyymm()]).map_err(map_error)?;
    let mut sums: BTreeMap<MonthKey, Sums> = BTreeMap::new();
    while let Some(row) = rows.next().map_err(map_error)? {
        let uplift = ratio(decimal(&text(row, 4)?, "uplift")?).to_string();
        let key = (text(row, 0)?, text(row, 1)?, text(row, 2)?, text(row, 3)?, uplift);
        let e = sums.entry(key).or_insert((0, Decimal::ZERO, Decimal::ZERO, Decimal::ZERO));
        e.0 += 1;
        e.1 = add(e.1, decimal(&text(row, 5)?, "paid_amount")?, "paid_amount")?;
        e.2 = add(e.2, decimal(&text(row, 6)?, "base")?, "base")?;
        e.3 = add(e.3, decimal(&text(row, 7)?, "contribution")?, "contribution")?;
    }
    sums.into_iter()
        .map(|((user, center_id, accelerator, reason, uplift), (records, paid, base, contribution))| {
            Ok(MonthSum {
                user_credit_code: credit_code(&user)?,
                center_id,
                accelerator,
                reason: line_reason(&reason)?,
                uplift: ratio(decimal(&uplift, "uplift")?),
                records,
                paid_amount: yuan(paid),
                base: yuan(base),
                contribution: exact(contribution),
            })
        })
        .collect()
}
