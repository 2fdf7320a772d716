//! `GET /v1/reconciliation`: a month of the ledger against the platform's
//! usage counts per compute center and day (the core's `reconcile`), and
//! the closes forced past a gap, with who forced them and why.

use super::yuan;
use crate::error::ApiResult;
use crate::state::ApiState;
use serde::{Deserialize, Serialize};
use subsidy_core::{reconcile, Gap, Period};
use utoipa::ToSchema;

/// A month's completeness against the platform.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReconciliationView {
    /// `YYYY-MM`.
    pub period: String,
    /// Center-days compared (the platform published counts for their day).
    pub compared: u64,
    /// Whether every compared center-day agrees.
    pub complete: bool,
    /// Records missing from the ledger or beyond the platform's count, over every gap.
    pub gap_records: u64,
    /// Center-days whose figures differ, by day then center.
    pub gaps: Vec<GapView>,
    /// Days (`YYYY-MM-DD`) the ledger has lines for but the platform published no counts for.
    pub unverified_days: Vec<String>,
    /// Closes of the month forced past a gap.
    pub forced_closes: Vec<ForcedCloseView>,
}

/// One center-day whose ledger figures differ from the platform's.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct GapView {
    /// The compute center.
    pub center_id: String,
    /// The day, China Standard Time, `YYYY-MM-DD`.
    pub day: String,
    /// Records the platform holds.
    pub platform_records: u64,
    /// Their paid sum, yuan.
    pub platform_paid: String,
    /// Records the ledger holds.
    pub ledger_records: u64,
    /// Their paid sum, yuan.
    pub ledger_paid: String,
    /// Platform records less ledger records.
    pub missing_records: i64,
}

/// A close forced past a gap.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ForcedCloseView {
    /// The close.
    pub close_id: String,
    /// Why, as given.
    pub reason: String,
    /// Who forced it.
    pub operator: String,
    /// When, RFC 3339.
    pub at: String,
    /// Records in the gaps then.
    pub gap_records: u64,
    /// The center-days that differed then.
    pub gaps: Vec<GapView>,
}

fn gap_view(g: &Gap) -> GapView {
    GapView {
        center_id: g.center_id.clone(),
        day: g.day.to_string(),
        platform_records: g.platform_records,
        platform_paid: yuan(g.platform_paid),
        ledger_records: g.ledger_records,
        ledger_paid: yuan(g.ledger_paid),
        missing_records: g.missing_records(),
    }
}

/// The reconciliation of `period`, read from the store.
pub async fn reconciliation(state: &ApiState, period: Period) -> ApiResult<ReconciliationView> {
    let platform = state.store.usage_counts(period).await?;
    let ledger = state.store.ledger_counts(period).await?;
    let overrides = state.store.close_overrides().await?;
    let r = reconcile(period, &platform, &ledger);
    let forced_closes = overrides
        .iter()
        .filter(|o| o.period == period)
        .map(|o| ForcedCloseView {
            close_id: o.close_id.clone(),
            reason: o.reason.clone(),
            operator: o.operator.clone(),
            at: o.at.to_rfc3339(),
            gap_records: o.gap_records(),
            gaps: o.gaps.iter().map(gap_view).collect(),
        })
        .collect();
    Ok(ReconciliationView {
        period: period.to_string(),
        compared: r.compared,
        complete: r.is_complete(),
        gap_records: r.gap_records(),
        gaps: r.gaps.iter().map(gap_view).collect(),
        unverified_days: r.unverified_days.iter().map(ToString::to_string).collect(),
        forced_closes,
    })
}
