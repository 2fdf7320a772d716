//! Recording a close: its statement lines, then the closure row.
//!
//! ClickHouse has no transactions, so the order makes it safe to retry: the
//! lines carry the close's id and are only read once a closure with that id
//! exists. An attempt interrupted before the closure row leaves lines that
//! are never read; the retry writes its own. Closing is an operator command
//! run by one process; two concurrent closers are not guarded against.

use super::error::map_error;
use super::rows::{datetime_secs, ClosureRow, StatementOut};
use super::write::insert_rows;
use crate::{Closure, StoreError, StoreResult};
use ::clickhouse::Client;
use subsidy_core::Statement;

pub(super) async fn commit_close(client: &Client, closure: &Closure, statements: &[Statement]) -> StoreResult<()> {
    let yyyymm = closure.period.as_yyyymm();
    let closed: u64 = client.query("SELECT count() FROM period_closures FINAL WHERE period = ?").bind(yyyymm).fetch_one().await.map_err(map_error)?;
    if closed > 0 {
        return Err(StoreError::Conflict(format!("{} is already closed", closure.period)));
    }
    let rows = statements.iter().map(|s| StatementOut::encode(&closure.close_id, s)).collect::<StoreResult<Vec<_>>>()?;
    insert_rows::<StatementOut<'_>>(client, "statements", &rows).await?;
    let row = ClosureRow { period: yyyymm, close_id: closure.close_id.clone(), closed_at: datetime_secs(&closure.closed_at) };
    insert_rows::<ClosureRow>(client, "period_closures", std::slice::from_ref(&row)).await?;
    tracing::info!(period = %closure.period, close_id = %closure.close_id, lines = statements.len(), "closed period");
    Ok(())
}
