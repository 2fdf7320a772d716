//! `GET /v1/settlements` and an entity's statements: the settlements of a
//! month as `export` writes them, and what has been fixed for payment.

use super::{yuan, EntityInfo};
use crate::auth::Role;
use crate::state::Book;
use serde::{Deserialize, Serialize};
use subsidy_core::{CreditCode, Period, Settlement};
use utoipa::ToSchema;

/// The settlements of one month that `role` may see, sorted by credit code: for the
/// bureau exactly those `export --period` writes.
pub fn of_month(book: &Book, role: &Role, period: Period) -> Vec<Settlement> {
    book.settlements.iter().filter(|s| s.period == period && role.may_see(&s.credit_code, &book.registry)).cloned().collect()
}

/// One page of a month's settlements.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SettlementsPage {
    /// `YYYY-MM`.
    pub period: String,
    /// Entities with a settlement this month that the token may see (all pages).
    pub total: u64,
    /// This page, by credit code.
    pub settlements: Vec<SettlementRow>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

/// One entity's settlement of the month.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SettlementRow {
    /// The entity.
    pub entity: EntityInfo,
    /// Eligible lines.
    pub eligible_records: u64,
    /// Σ eligible base, yuan.
    pub eligible_base: String,
    /// Subsidy, yuan.
    pub subsidy: String,
}

/// A page of `rows` after the credit code `after`; `issue` makes the cursor naming a page's last code.
pub fn page(book: &Book, period: Period, rows: Vec<Settlement>, after: Option<&str>, limit: usize, issue: impl Fn(&str) -> String) -> SettlementsPage {
    let registry = &book.registry;
    let total = rows.len() as u64;
    let rest: Vec<Settlement> = rows.into_iter().filter(|s| after.is_none_or(|c| s.credit_code.as_str() > c)).collect();
    let more = rest.len() > limit;
    let settlements: Vec<SettlementRow> = rest
        .iter()
        .take(limit)
        .map(|s| SettlementRow { entity: EntityInfo::of(&s.credit_code, registry), eligible_records: s.eligible_records, eligible_base: yuan(s.eligible_base), subsidy: yuan(s.subsidy) })
        .collect();
    let next_cursor = if more { settlements.last().map(|s| issue(&s.entity.credit_code)) } else { None };
    SettlementsPage { period: period.to_string(), total, settlements, next_cursor }
}

/// What has been fixed for payment for one entity.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StatementsView {
    /// The entity.
    pub entity: EntityInfo,
    /// Statement lines, by payout month.
    pub statements: Vec<StatementLine>,
}

/// One statement line.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StatementLine {
    /// The closed month whose payment carries the line.
    pub payout_period: String,
    /// The month the figure is for.
    pub for_period: String,
    /// `settled` (a month's frozen figure) or `adjustment`.
    pub kind: String,
    /// Eligible base, yuan (for an adjustment: its change).
    pub eligible_base: String,
    /// Subsidy, yuan (for an adjustment: its change).
    pub subsidy: String,
    /// The claim that took the line at its approval, if one has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim_id: Option<String>,
    /// The payout batch that paid that claim, once one has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_id: Option<String>,
}

/// The statement lines of `code`, from the book, each with the claim and batch that paid it.
pub fn statements(book: &Book, code: &CreditCode) -> StatementsView {
    let statements = book
        .entities
        .get(code)
        .map(|e| e.statements.as_slice())
        .unwrap_or_default()
        .iter()
        .map(|s| {
            let mut line = StatementLine::of(s);
            if let Some(claim) = book.programme.as_ref().and_then(|p| p.programme.claim_of_line(s)) {
                line.claim_id = Some(claim.claim_id.clone());
                line.batch_id = claim.batch_id.clone();
            }
            line
        })
        .collect();
    StatementsView { entity: EntityInfo::of(code, &book.registry), statements }
}

impl StatementLine {
    /// A statement line as the API shows it.
    pub fn of(s: &subsidy_core::Statement) -> StatementLine {
        StatementLine {
            payout_period: s.payout_period.to_string(),
            for_period: s.for_period.to_string(),
            kind: s.kind.as_str().to_string(),
            eligible_base: yuan(s.eligible_base),
            subsidy: yuan(s.subsidy),
            claim_id: None,
            batch_id: None,
        }
    }
}
