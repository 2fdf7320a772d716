//! `GET /v1/entities/{credit_code}/accruals`: an entity's months — what it
//! has accrued, what was fixed for payment, and what was excluded and why.

use super::{in_range, yuan, EntityInfo, Exclusion, ExclusionSums, MonthStatus};
use crate::error::ApiResult;
use crate::state::ApiState;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use subsidy_core::{CreditCode, Period, Settlement, Statement, StatementKind};
use subsidy_store::settle_lines;
use utoipa::ToSchema;

/// An entity's months.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AccrualsView {
    /// The entity.
    pub entity: EntityInfo,
    /// Its months with lines or statements, oldest first.
    pub months: Vec<MonthAccrual>,
}

/// One month of an entity.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MonthAccrual {
    /// `YYYY-MM`.
    pub period: String,
    /// Provisional or closed.
    pub status: MonthStatus,
    /// Eligible lines.
    pub eligible_records: u64,
    /// Σ eligible base, yuan.
    pub eligible_base: String,
    /// The subsidy of the ledger as it stands (capped, rounded down to the fen).
    pub subsidy: String,
    /// For a closed month: the figure frozen when it closed.
    pub frozen: Option<Fixed>,
    /// Adjustments to this month booked by later closes.
    pub adjustments: Vec<Adjustment>,
    /// Frozen plus adjustments: what has been fixed for payment for this month.
    pub fixed_total: Option<String>,
    /// Spend excluded by reason.
    pub excluded: Vec<Exclusion>,
}

/// A frozen figure.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Fixed {
    /// Eligible base, yuan.
    pub eligible_base: String,
    /// Subsidy, yuan.
    pub subsidy: String,
}

/// An adjustment booked for a month by a later close.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Adjustment {
    /// The close that booked it (paid with that month).
    pub payout_period: String,
    /// Change of eligible base, yuan.
    pub eligible_base: String,
    /// Change of subsidy, yuan (may be negative).
    pub subsidy: String,
}

/// What the store holds for one entity, read once.
struct Inputs {
    settled: BTreeMap<Period, Settlement>,
    excluded: BTreeMap<Period, ExclusionSums>,
    statements: Vec<Statement>,
    closed: BTreeSet<Period>,
}

async fn read(state: &ApiState, code: &CreditCode) -> ApiResult<Inputs> {
    let store = state.store.as_ref();
    let lines = store.entity_lines(code, None).await?;
    let settled = settle_lines(&lines, &state.policy)?.into_iter().map(|s| (s.period, s)).collect();
    let mut excluded: BTreeMap<Period, ExclusionSums> = BTreeMap::new();
    for l in lines {
        if let Some(reason) = l.reason {
            excluded.entry(l.period).or_default().add(reason, 1, l.paid_amount);
        }
    }
    let closes = crate::state::closes(state).await?;
    let statements = closes.statements.iter().filter(|s| &s.credit_code == code).cloned().collect();
    let closed = closes.closed.clone();
    Ok(Inputs { settled, excluded, statements, closed })
}

/// Whether an entity has anything in the store.
pub async fn has_data(state: &ApiState, code: &CreditCode) -> ApiResult<bool> {
    Ok(!state.store.entity_lines(code, None).await?.is_empty())
}

/// The months of `code` within the range.
pub async fn accruals(state: &ApiState, code: &CreditCode, from: Option<Period>, to: Option<Period>) -> ApiResult<AccrualsView> {
    let mut inputs = read(state, code).await?;
    let months: BTreeSet<Period> = inputs
        .settled
        .keys()
        .chain(inputs.excluded.keys())
        .copied()
        .chain(inputs.statements.iter().map(|s| s.for_period))
        .filter(|p| in_range(*p, from, to))
        .collect();
    let months = months.into_iter().map(|p| month(p, &mut inputs)).collect();
    Ok(AccrualsView { entity: EntityInfo::of(code, &state.registry.get()), months })
}

fn month(p: Period, inputs: &mut Inputs) -> MonthAccrual {
    let s = inputs.settled.get(&p);
    let of_month = |kind| inputs.statements.iter().filter(move |st| st.for_period == p && st.kind == kind);
    let frozen = of_month(StatementKind::Settled).next().map(|st| Fixed { eligible_base: yuan(st.eligible_base), subsidy: yuan(st.subsidy) });
    let adjustments: Vec<Adjustment> = of_month(StatementKind::Adjustment)
        .map(|st| Adjustment { payout_period: st.payout_period.to_string(), eligible_base: yuan(st.eligible_base), subsidy: yuan(st.subsidy) })
        .collect();
    let closed = inputs.closed.contains(&p);
    let fixed_total = closed.then(|| yuan(inputs.statements.iter().filter(|st| st.for_period == p).map(|st| st.subsidy).sum()));
    MonthAccrual {
        period: p.to_string(),
        status: if closed { MonthStatus::Closed } else { MonthStatus::Provisional },
        eligible_records: s.map_or(0, |s| s.eligible_records),
        eligible_base: yuan(s.map(|s| s.eligible_base).unwrap_or_default()),
        subsidy: yuan(s.map(|s| s.subsidy).unwrap_or_default()),
        frozen,
        adjustments,
        fixed_total,
        excluded: inputs.excluded.remove(&p).map(ExclusionSums::into_list).unwrap_or_default(),
    }
}
