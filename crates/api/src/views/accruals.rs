//! `GET /v1/entities/{credit_code}/accruals`: an entity's months — what it
//! has accrued, what was fixed for payment, and what was excluded and why.

use super::{in_range, yuan, EntityInfo, Exclusion, ExclusionSums, MonthStatus};
use crate::state::{Book, EntityBook};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use subsidy_core::{CreditCode, Period, StatementKind};
use utoipa::ToSchema;

/// An entity's months.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AccrualsView {
    /// The entity.
    pub entity: EntityInfo,
    /// Its months with lines or statements, oldest first.
    pub months: Vec<MonthAccrual>,
    /// SHA-256 of the policy document the subsidies are computed under (the ledger's in force).
    #[serde(default)]
    pub policy_document: String,
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

/// The months of `code` within the range, from the book.
pub fn accruals(book: &Book, code: &CreditCode, from: Option<Period>, to: Option<Period>) -> AccrualsView {
    let empty = EntityBook::default();
    let of = book.entities.get(code).map_or(&empty, |e| e.as_ref());
    let months: BTreeSet<Period> = of
        .settled
        .keys()
        .chain(of.excluded.keys())
        .copied()
        .chain(of.statements.iter().map(|s| s.for_period))
        .filter(|p| in_range(*p, from, to))
        .collect();
    let months = months.into_iter().map(|p| month(p, of, book.closed.contains(&p))).collect();
    AccrualsView { entity: EntityInfo::of(code, &book.registry), months, policy_document: book.policy.hash.clone() }
}

fn month(p: Period, of: &EntityBook, closed: bool) -> MonthAccrual {
    let s = of.settled.get(&p);
    let of_month = |kind| of.statements.iter().filter(move |st| st.for_period == p && st.kind == kind);
    let frozen = of_month(StatementKind::Settled).next().map(|st| Fixed { eligible_base: yuan(st.eligible_base), subsidy: yuan(st.subsidy) });
    let adjustments: Vec<Adjustment> = of_month(StatementKind::Adjustment)
        .map(|st| Adjustment { payout_period: st.payout_period.to_string(), eligible_base: yuan(st.eligible_base), subsidy: yuan(st.subsidy) })
        .collect();
    let fixed_total = closed.then(|| yuan(of.statements.iter().filter(|st| st.for_period == p).map(|st| st.subsidy).sum()));
    MonthAccrual {
        period: p.to_string(),
        status: if closed { MonthStatus::Closed } else { MonthStatus::Provisional },
        eligible_records: s.map_or(0, |s| s.eligible_records),
        eligible_base: yuan(s.map(|s| s.eligible_base).unwrap_or_default()),
        subsidy: yuan(s.map(|s| s.subsidy).unwrap_or_default()),
        frozen,
        adjustments,
        fixed_total,
        excluded: of.excluded.get(&p).map(ExclusionSums::list).unwrap_or_default(),
    }
}
