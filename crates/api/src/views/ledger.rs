//! `GET /v1/entities/{credit_code}/ledger`: every line of one month, each
//! with what it was, how it was settled and why, enough to explain each yuan
//! back to the raw record.

use super::{entry_name, yuan, MonthStatus};
use crate::error::ApiResult;
use crate::cursor::Scope;
use crate::state::ApiState;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use subsidy_core::record::parse_record;
use subsidy_core::{funding_exclusion, CreditCode, Facts, Period, PolicySet, Registry, Settlement, UsageRecord};
use subsidy_store::{BusPosition, LineRow};
use utoipa::ToSchema;

/// One page of a month's lines.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LedgerPage {
    /// The entity.
    pub credit_code: String,
    /// `YYYY-MM`.
    pub period: String,
    /// Provisional or closed.
    pub status: MonthStatus,
    /// The month's subsidy as the ledger stands, yuan: the figure the accruals give for the month.
    pub subsidy: String,
    /// Lines of the month (all pages).
    pub total_lines: u64,
    /// This page's lines, by record id.
    pub lines: Vec<LedgerLine>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
    /// SHA-256 of the policy document the month's subsidy is computed under (the ledger's in force).
    #[serde(default)]
    pub policy_document: String,
}

/// One ledger line, explained.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LedgerLine {
    /// Record id.
    pub record_id: String,
    /// Standing revision.
    pub revision: u32,
    /// Compute center.
    pub center_id: String,
    /// Its name, when registered.
    pub center_name: Option<String>,
    /// Accelerator model of the record.
    pub accelerator: String,
    /// Cards used.
    pub cards: Option<u32>,
    /// Card-hours.
    pub card_hours: Option<String>,
    /// Day of the end of use, China Standard Time.
    pub usage_date: String,
    /// `paid`, `unpaid` or `refunded`.
    pub payment_status: String,
    /// Amount paid, yuan.
    pub paid_amount: String,
    /// Policy version applied, when one covers the date.
    pub policy_version: Option<String>,
    /// Its rate.
    pub rate: String,
    /// Uplift factor (1 when none).
    pub uplift: String,
    /// Why the uplift applies, when it does, in the words of the policy version the line was settled under.
    pub uplift_reason: Option<String>,
    /// Eligible base, yuan (0 when excluded).
    pub base: String,
    /// base × rate × uplift, exact.
    pub contribution: String,
    /// The line's part of the month's subsidy (after any cap, before rounding), yuan to four decimals.
    pub subsidy_share: String,
    /// Whether the line earns subsidy.
    pub eligible: bool,
    /// Why not, as a reason code.
    pub reason: Option<String>,
    /// The reason in plain words.
    pub explanation: Option<String>,
    /// What the reason names, for a line funded elsewhere or claimed by its supplier: the
    /// scheme and the record or contract it funds, or the claiming supplier.
    #[serde(default)]
    pub reason_detail: Option<String>,
    /// SHA-256 of the policy document the line was settled under ("" for a line settled
    /// before the ledger recorded documents).
    #[serde(default)]
    pub policy_document: String,
    /// The user's registry entry the line was judged by: its `valid_from` day, or `undated`
    /// (empty in answers of servers from before registry entries were dated).
    #[serde(default)]
    pub entity_entry: String,
    /// The center's registry entry the line was judged by: its `valid_from` day, or `undated`.
    #[serde(default)]
    pub center_entry: String,
}

/// A page of the lines of `code` in `period`, after the record id `cursor` (taken from a
/// cursor the server issued, [`crate::cursor`]).
pub async fn page(state: &ApiState, code: &CreditCode, period: Period, cursor: Option<&str>, limit: usize) -> ApiResult<LedgerPage> {
    let store = state.store.as_ref();
    // The month's settled figure comes from the book, as the accruals' does, so the two never differ.
    let book = state.book();
    let settled = book.entities.get(code).and_then(|e| e.settled.get(&period)).cloned();
    let all: Vec<LineRow> = store.entity_lines(code, Some(period)).await?;
    let total_lines = all.len() as u64;
    let rest: Vec<LineRow> = all.into_iter().filter(|l| cursor.is_none_or(|c| l.record_id.as_str() > c)).collect();
    let more = rest.len() > limit;
    let lines: Vec<LineRow> = rest.into_iter().take(limit).collect();
    let next_cursor = if more { lines.last().map(|l| state.cursors.issue(Scope::Ledger(code, period), &l.record_id)) } else { None };
    let closed = book.closed.contains(&period);
    let records = representing_records(state, &lines).await?;
    let registry = &book.registry;
    let lines = lines.iter().map(|l| explain(l, records.get(&(l.record_id.as_str(), l.position)), settled.as_ref(), registry, &book.policy.set)).collect();
    Ok(LedgerPage {
        credit_code: code.to_string(),
        period: period.to_string(),
        status: if closed { MonthStatus::Closed } else { MonthStatus::Provisional },
        subsidy: yuan(settled.as_ref().map(|s| s.subsidy).unwrap_or_default()),
        total_lines,
        lines,
        next_cursor,
        policy_document: book.policy.hash.clone(),
    })
}

/// The copies the lines stand on, parsed, by record id and bus position.
async fn representing_records<'a>(state: &ApiState, lines: &'a [LineRow]) -> ApiResult<HashMap<(&'a str, BusPosition), UsageRecord>> {
    let ids: Vec<String> = lines.iter().map(|l| l.record_id.clone()).collect();
    let copies = state.store.copies_of(&ids).await?;
    let wanted: HashMap<(&str, BusPosition), &'a LineRow> = lines.iter().map(|l| ((l.record_id.as_str(), l.position), l)).collect();
    let mut out = HashMap::new();
    for c in copies {
        if let Some(line) = wanted.get(&(c.record_id.as_str(), c.position)) {
            if let Ok(r) = parse_record(c.raw.as_bytes()) {
                out.insert((line.record_id.as_str(), line.position), r);
            }
        }
    }
    Ok(out)
}

/// The core's account of a double-funding exclusion, from the lists as they stand, when
/// it gives the line's reason.
fn funding_detail(l: &LineRow, record: Option<&UsageRecord>, registry: &Registry) -> Option<String> {
    let exclusion = funding_exclusion(&Facts::of(record?), registry)?;
    (l.reason == Some(exclusion.reason)).then_some(exclusion.detail)
}

fn explain(l: &LineRow, record: Option<&UsageRecord>, settled: Option<&Settlement>, registry: &Registry, policy: &PolicySet) -> LedgerLine {
    // The entries standing on the usage day: those the line was judged by.
    let city = registry.entity_on(&l.user_credit_code, l.usage_date).map(|e| e.city.as_str()).unwrap_or_default();
    LedgerLine {
        record_id: l.record_id.clone(),
        revision: l.revision,
        center_id: l.center_id.clone(),
        center_name: registry.center_on(&l.center_id, l.usage_date).map(|c| c.name.clone()),
        accelerator: l.accelerator.clone(),
        cards: record.map(|r| r.cards),
        card_hours: record.map(|r| r.card_hours.normalize().to_string()),
        usage_date: l.usage_date.to_string(),
        payment_status: l.payment_status.as_str().to_string(),
        paid_amount: yuan(l.paid_amount),
        policy_version: (!l.policy_version.is_empty()).then(|| l.policy_version.clone()),
        rate: l.rate.normalize().to_string(),
        uplift: l.uplift.normalize().to_string(),
        uplift_reason: l.reason.is_none().then(|| policy.uplift_reason(&l.policy_version, l.uplift, city)).flatten(),
        base: yuan(l.base),
        contribution: l.contribution.normalize().to_string(),
        subsidy_share: settled.filter(|_| l.reason.is_none()).map_or_else(|| "0".to_string(), |s| s.share_of(l.contribution).normalize().to_string()),
        eligible: l.reason.is_none(),
        reason: l.reason.map(|r| r.as_str().to_string()),
        explanation: l.reason.map(|r| r.explain().to_string()),
        reason_detail: funding_detail(l, record, registry),
        policy_document: l.policy_hash.clone(),
        entity_entry: entry_name(l.entity_entry),
        center_entry: entry_name(l.center_entry),
    }
}
