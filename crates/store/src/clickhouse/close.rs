//! Closing a month: copy its current settlements, then record the closure.
//!
//! ClickHouse has no transactions, so the order makes it safe to retry: the
//! copies carry the closure time and are only read once a closure with that
//! time exists. An attempt interrupted before the closure row leaves
//! unread copies; the retry writes fresh ones. Closing is an operator
//! command run by one process; two concurrent closers are not guarded against.

use super::error::map_error;
use super::read::from_secs;
use super::rows::{datetime_secs, ClosureRow};
use crate::{CloseReport, StoreError, StoreResult};
use ::clickhouse::Client;
use chrono::{DateTime, Utc};
use subsidy_core::Period;

pub(super) async fn close_period(client: &Client, month: Period, closed_at: DateTime<Utc>) -> StoreResult<CloseReport> {
    let yyyymm = month.as_yyyymm();
    let closed: u64 =
        client.query("SELECT count() FROM period_closures WHERE period = ?").bind(yyyymm).fetch_one().await.map_err(map_error)?;
    if closed > 0 {
        return Err(StoreError::Conflict(format!("period {month} is already closed")));
    }
    let at = datetime_secs(&closed_at);
    // Fail before writing anything if the time cannot be stored.
    from_secs(at)?;
    client
        .query(
            "INSERT INTO closed_settlements \
                 (credit_code, period, eligible_records, eligible_base, uncapped, subsidy, closed_at) \
             SELECT credit_code, period, eligible_records, eligible_base, uncapped, subsidy, toDateTime(?) \
             FROM settlements FINAL WHERE period = ? AND eligible_records > 0",
        )
        .bind(at)
        .bind(yyyymm)
        .execute()
        .await
        .map_err(map_error)?;
    let mut insert = client.insert::<ClosureRow>("period_closures").await.map_err(map_error)?;
    insert.write(&ClosureRow { period: yyyymm, closed_at: at }).await.map_err(map_error)?;
    insert.end().await.map_err(map_error)?;
    let (settlements, subsidy): (u64, i128) = client
        .query("SELECT count(), sum(subsidy) FROM closed_settlements FINAL WHERE period = ? AND closed_at = toDateTime(?)")
        .bind(yyyymm)
        .bind(at)
        .fetch_one()
        .await
        .map_err(map_error)?;
    let subsidy = crate::decimal::yuan(crate::decimal::exact_from_i128(subsidy, 4, "subsidy")?);
    tracing::info!(period = %month, settlements, %subsidy, "closed period");
    Ok(CloseReport { period: month, settlements, subsidy })
}
