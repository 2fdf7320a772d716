//! ClickHouse: the platform's usage counts, the ledger's figures per
//! center-day (from the standing lines, `FINAL`), and the closes forced past
//! a gap. Counts carry their topic offset as the version, so the latest of a
//! center-day stands whatever order members wrote them in.

use super::error::map_error;
use super::rows::datetime_secs;
use super::write::insert_rows;
use crate::codec::{date_of_days, days};
use crate::decimal::{exact_from_i128, to_scaled_i128, yuan};
use crate::{CloseOverride, CountRow, StoreError, StoreResult};
use ::clickhouse::{Client, Row};
use serde::{Deserialize, Serialize};
use subsidy_core::{DayCount, Period};

#[derive(Debug, Row, Serialize)]
pub(super) struct CountOut<'a> {
    center_id: &'a str,
    usage_date: u16,
    records: u64,
    paid_amount: i128,
    version: u64,
}

#[derive(Debug, Row, Deserialize)]
pub(super) struct CountIn {
    center_id: String,
    usage_date: u16,
    records: u64,
    paid_amount: i128,
}

impl CountIn {
    fn decode(self) -> StoreResult<DayCount> {
        Ok(DayCount { center_id: self.center_id, day: date_of_days(self.usage_date), records: self.records, paid: yuan(exact_from_i128(self.paid_amount, 4, "paid_amount")?) })
    }
}

#[derive(Debug, Row, Serialize, Deserialize)]
pub(super) struct OverrideRow {
    close_id: String,
    period: u32,
    reason: String,
    operator: String,
    at: u32,
    gap_records: u64,
    gaps: String,
}

/// Writes counts (each versioned by its topic offset).
pub(super) async fn write_counts(client: &Client, rows: &[CountRow]) -> StoreResult<()> {
    let out = rows
        .iter()
        .map(|r| {
            let c = &r.count;
            let paid = to_scaled_i128(c.paid, 4).ok_or_else(|| StoreError::rejected(format!("paid sum {} of {} on {} has more than 4 decimals", c.paid, c.center_id, c.day)))?;
            let version = u64::try_from(r.version).map_err(|_| StoreError::rejected(format!("count version {} is negative", r.version)))?;
            Ok(CountOut { center_id: &c.center_id, usage_date: days(c.day)?, records: c.records, paid_amount: paid, version })
        })
        .collect::<StoreResult<Vec<_>>>()?;
    insert_rows::<CountOut<'_>>(client, "platform_counts", &out).await
}

/// The platform's counts of the days of `period`.
pub(super) async fn platform_counts(client: &Client, period: Period) -> StoreResult<Vec<DayCount>> {
    let rows: Vec<CountIn> = client
        .query("SELECT center_id, usage_date, records, paid_amount FROM platform_counts FINAL WHERE usage_date >= toDate(?) AND usage_date <= toDate(?) ORDER BY usage_date, center_id")
        .bind(period.first_day().to_string())
        .bind(period.last_day().to_string())
        .fetch_all()
        .await
        .map_err(map_error)?;
    rows.into_iter().map(CountIn::decode).collect()
}

/// The ledger's figures of `period` per center-day.
pub(super) async fn ledger_counts(client: &Client, period: Period) -> StoreResult<Vec<DayCount>> {
    let rows: Vec<CountIn> = client
        .query(
            "SELECT center_id, usage_date, count() AS records, sum(paid_amount) AS paid_amount FROM ledger_lines FINAL WHERE period = ? \
             GROUP BY center_id, usage_date ORDER BY usage_date, center_id",
        )
        .bind(period.as_yyyymm())
        .fetch_all()
        .await
        .map_err(map_error)?;
    rows.into_iter().map(CountIn::decode).collect()
}

/// Records a forced close.
pub(super) async fn record_override(client: &Client, o: &CloseOverride) -> StoreResult<()> {
    let gaps = serde_json::to_string(&o.gaps).map_err(|e| StoreError::rejected(format!("encoding the gaps of close {}: {e}", o.close_id)))?;
    let row = OverrideRow {
        close_id: o.close_id.clone(),
        period: o.period.as_yyyymm(),
        reason: o.reason.clone(),
        operator: o.operator.clone(),
        at: datetime_secs(&o.at),
        gap_records: o.gap_records(),
        gaps,
    };
    insert_rows::<OverrideRow>(client, "close_overrides", &[row]).await
}

/// The forced closes that stand (a closure names their close), by month.
pub(super) async fn close_overrides(client: &Client) -> StoreResult<Vec<CloseOverride>> {
    let rows: Vec<OverrideRow> = client
        .query(
            "SELECT close_id, period, reason, operator, at, gap_records, gaps FROM close_overrides FINAL \
             WHERE (period, close_id) IN (SELECT period, close_id FROM period_closures FINAL) ORDER BY period",
        )
        .fetch_all()
        .await
        .map_err(map_error)?;
    rows.into_iter()
        .map(|r| {
            let period = Period::from_yyyymm(r.period).ok_or_else(|| StoreError::corrupt(format!("period {} in close_overrides", r.period)))?;
            let gaps = serde_json::from_str(&r.gaps).map_err(|e| StoreError::corrupt(format!("gaps of close {} in store: {e}", r.close_id)))?;
            let at = chrono::DateTime::from_timestamp(i64::from(r.at), 0).unwrap_or_default();
            Ok(CloseOverride { close_id: r.close_id, period, reason: r.reason, operator: r.operator, at, gaps })
        })
        .collect()
}
