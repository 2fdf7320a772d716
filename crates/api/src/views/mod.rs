//! The answers of the API, built from the book of the generation and store reads. Figures come from the
//! core (settlements, shares, decisions); these modules only select, group
//! and format what the store and the core return.

pub mod accruals;
pub mod ledger;
pub mod overview;
pub mod programme;
pub mod reconciliation;
pub mod record;
pub mod settlements;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use subsidy_core::money::format_yuan;
use subsidy_core::{CreditCode, Period, ReasonCode, Registry};
use utoipa::ToSchema;

/// Yuan with two decimals.
pub(crate) fn yuan(d: Decimal) -> String {
    format_yuan(d)
}

/// A registry entry as the API names it: its `valid_from` day, or `undated`.
pub(crate) fn entry_name(day: Option<chrono::NaiveDate>) -> String {
    day.map_or_else(|| "undated".to_string(), |d| d.to_string())
}

/// Whether a month is still moving or fixed for payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MonthStatus {
    /// Not closed: the figure follows the ledger.
    Provisional,
    /// Closed: its figure is frozen; later changes are booked as adjustments.
    Closed,
}

/// Spend excluded for one reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Exclusion {
    /// The reason code.
    pub reason: String,
    /// The reason in plain words.
    pub explanation: String,
    /// Lines excluded for it.
    pub records: u64,
    /// Their paid amount, yuan.
    pub spend: String,
}

/// Adds up excluded lines by reason: (reason, lines, paid amount).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExclusionSums(std::collections::BTreeMap<ReasonCode, (u64, Decimal)>);

impl ExclusionSums {
    pub(crate) fn add(&mut self, reason: ReasonCode, records: u64, paid: Decimal) {
        let e = self.0.entry(reason).or_default();
        e.0 += records;
        e.1 += paid;
    }

    pub(crate) fn list(&self) -> Vec<Exclusion> {
        self.0
            .iter()
            .map(|(r, &(records, spend))| Exclusion { reason: r.as_str().to_string(), explanation: r.explain().to_string(), records, spend: yuan(spend) })
            .collect()
    }
}

/// Who an entity is, as the registry says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EntityInfo {
    /// Unified social credit code.
    pub credit_code: String,
    /// Registered name, when registered.
    pub name: Option<String>,
    /// Organisation kind, when registered.
    pub kind: Option<String>,
    /// City of registration, when registered.
    pub city: Option<String>,
}

impl EntityInfo {
    pub(crate) fn of(code: &CreditCode, registry: &Registry) -> EntityInfo {
        let e = registry.entity(code);
        EntityInfo {
            credit_code: code.to_string(),
            name: e.map(|e| e.name.clone()),
            kind: e.map(|e| e.kind.as_str().to_string()),
            city: e.map(|e| e.city.clone()),
        }
    }
}

/// Whether `p` lies in the range (either end open).
pub(crate) fn in_range(p: Period, from: Option<Period>, to: Option<Period>) -> bool {
    from.is_none_or(|f| p >= f) && to.is_none_or(|t| p <= t)
}
