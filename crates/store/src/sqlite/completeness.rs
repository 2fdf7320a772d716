//! SQLite: the platform's usage counts, the ledger's figures per center-day,
//! and the closes forced past a gap.

use super::codec::{closure_time, decimal, i64_of, map_error, parse_closure_time, u32_of, u64_of};
use crate::{CloseOverride, CountRow, StoreError, StoreResult};
use chrono::NaiveDate;
use rusqlite::{params, Connection};
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use subsidy_core::{DayCount, Period};

fn day(text: &str) -> StoreResult<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|e| StoreError::corrupt(format!("usage_date {text:?} in store: {e}")))
}

/// Upserts counts; of two rows of one center-day the higher version stands.
pub(super) fn write_counts(conn: &mut Connection, rows: &[CountRow]) -> StoreResult<()> {
    let tx = conn.transaction().map_err(map_error)?;
    {
        let mut st = tx
            .prepare(
                "INSERT INTO platform_counts (center_id, usage_date, records, paid_amount, version) VALUES (?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT (center_id, usage_date) DO UPDATE SET records = excluded.records, paid_amount = excluded.paid_amount, version = excluded.version \
                 WHERE excluded.version >= platform_counts.version",
            )
            .map_err(map_error)?;
        for r in rows {
            let c = &r.count;
            st.execute(params![c.center_id, c.day.to_string(), i64_of(c.records, "records")?, c.paid.to_string(), r.version]).map_err(map_error)?;
        }
    }
    tx.commit().map_err(map_error)
}

fn month_bounds(period: Period) -> (String, String) {
    (period.first_day().to_string(), period.last_day().to_string())
}

/// The platform's counts of the days of `period`.
pub(super) fn platform_counts(conn: &mut Connection, period: Period) -> StoreResult<Vec<DayCount>> {
    let (from, to) = month_bounds(period);
    let mut st = conn
        .prepare("SELECT center_id, usage_date, records, paid_amount FROM platform_counts WHERE usage_date BETWEEN ?1 AND ?2 ORDER BY usage_date, center_id")
        .map_err(map_error)?;
    let rows = st
        .query_map(params![from, to], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?, r.get::<_, String>(3)?)))
        .map_err(map_error)?;
    let mut out = Vec::new();
    for row in rows {
        let (center_id, d, n, paid) = row.map_err(map_error)?;
        out.push(DayCount { center_id, day: day(&d)?, records: u64_of(n, "records")?, paid: decimal(&paid, "paid_amount")? });
    }
    Ok(out)
}

/// The ledger's figures of `period` per center-day: standing lines (one per record id) and their paid sum.
pub(super) fn ledger_counts(conn: &mut Connection, period: Period) -> StoreResult<Vec<DayCount>> {
    let mut st = conn.prepare("SELECT center_id, usage_date, paid_amount FROM ledger_lines WHERE period = ?1").map_err(map_error)?;
    let rows = st.query_map([period.as_yyyymm()], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?))).map_err(map_error)?;
    let mut sums: BTreeMap<(String, String), (u64, Decimal)> = BTreeMap::new();
    for row in rows {
        let (center, d, paid) = row.map_err(map_error)?;
        let e = sums.entry((d, center)).or_insert((0, Decimal::ZERO));
        e.0 += 1;
        e.1 += decimal(&paid, "paid_amount")?;
    }
    sums.into_iter().map(|((d, center_id), (records, paid))| Ok(DayCount { center_id, day: day(&d)?, records, paid })).collect()
}

/// Records a forced close; the same row again changes nothing.
pub(super) fn record_override(conn: &mut Connection, o: &CloseOverride) -> StoreResult<()> {
    let gaps = serde_json::to_string(&o.gaps).map_err(|e| StoreError::rejected(format!("encoding the gaps of close {}: {e}", o.close_id)))?;
    conn.execute(
        "INSERT INTO close_overrides (close_id, period, reason, operator, at, gap_records, gaps) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
         ON CONFLICT (close_id, period) DO NOTHING",
        params![o.close_id, o.period.as_yyyymm(), o.reason, o.operator, closure_time(o.at), i64_of(o.gap_records(), "gap_records")?, gaps],
    )
    .map_err(map_error)?;
    Ok(())
}

/// The forced closes that stand (a closure names their close), by month.
pub(super) fn close_overrides(conn: &mut Connection) -> StoreResult<Vec<CloseOverride>> {
    let mut st = conn
        .prepare(
            "SELECT o.close_id, o.period, o.reason, o.operator, o.at, o.gaps FROM close_overrides o \
             JOIN period_closures c ON c.period = o.period AND c.close_id = o.close_id ORDER BY o.period",
        )
        .map_err(map_error)?;
    let rows = st
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?, r.get::<_, String>(4)?, r.get::<_, String>(5)?)))
        .map_err(map_error)?;
    let mut out = Vec::new();
    for row in rows {
        let (close_id, period, reason, operator, at, gaps) = row.map_err(map_error)?;
        let period = Period::from_yyyymm(u32_of(period, "period")?).ok_or_else(|| StoreError::corrupt(format!("period {period} in close_overrides")))?;
        let gaps = serde_json::from_str(&gaps).map_err(|e| StoreError::corrupt(format!("gaps of close {close_id} in store: {e}")))?;
        out.push(CloseOverride { close_id, period, reason, operator, at: parse_closure_time(&at)?, gaps });
    }
    Ok(out)
}
