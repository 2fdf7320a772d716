//! The programme after the ledger: claims, reviews, payout batches, findings
//! and what each entity still owes, as a fold over an append-only history.
//!
//! Every step is an [`Event`]: who (a party and a label, never a token), when
//! (for people), the latest closed month when it was taken (`through`), and
//! an [`Action`]. The history is numbered by the store (one sequence, fenced),
//! and [`Programme::replay`] folds it with the statements of the closes into
//! the state: which claims stand where, what each was granted under the
//! year's budget, every batch's rows, and every receivable. The same
//! history and statements always give the same state; nothing reads a clock.
//!
//! - A claim covers closed months of one calendar year of one entity; a month
//!   is claimed once (a rejected claim frees its months).
//! - The city the claim names reviews first, the bureau second. At the
//!   bureau's approval the claim takes every statement line of its months
//!   booked by then (payout month ≤ `through`), and every positive line booked
//!   for an earlier approved claim's months after that claim's approval
//!   (later adjustments go into the entity's next claim).
//! - What a claim asks per year is granted under that year's budget
//!   ([`crate::budget`]); a `pro_rata` year is divided when the bureau closes
//!   its claims ([`Action::CloseYear`]).
//! - A negative line booked after the approval of the claim covering its
//!   month, and an audit finding, are receivables, netted oldest first against
//!   the entity's next batches; a batch never pays below zero.

mod apply;
mod batch;
mod claims;
mod view;

pub use apply::Programme;
pub use batch::{batch_csv, BatchRow, BatchState, CityTotal, Recovery, BATCH_CSV_HEADER};
pub use claims::{ClaimState, Part, Receivable, ReceivableSource, Review, Status};
pub use view::{budget_view, version_label, BudgetView, Figures, Forecast, ViewInput};

use crate::credit_code::CreditCode;
use crate::money::Money;
use crate::period::Period;
use crate::registry::Registry;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// Longest label, reason, case id or batch list a step may carry.
pub const MAX_TEXT_CHARS: usize = 500;
/// Most months one claim may cover.
pub const MAX_CLAIM_MONTHS: usize = 12;
/// Most claims one batch may pay.
pub const MAX_BATCH_CLAIMS: usize = 10_000;

/// Who takes a step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum Party {
    /// The provincial bureau.
    Bureau,
    /// A city's bureau (canonical city name).
    City {
        /// The city.
        city: String,
    },
    /// An entity, acting for itself.
    Entity {
        /// Its credit code.
        credit_code: CreditCode,
    },
}

/// The two reviews of a claim, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// The entity's city, first.
    City,
    /// The provincial bureau, second.
    Bureau,
}

/// What a review decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Passes the claim on (the bureau's approval makes it payable).
    Approve,
    /// Ends the claim; its months may be claimed again.
    Reject,
}

/// One step of the programme.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// An entity claims closed months; the claim's id is `C-<sequence>`.
    Claim {
        /// The entity claiming.
        credit_code: CreditCode,
        /// The city that reviews it: the entity's, as the registry stood on the last
        /// day of the latest month claimed.
        city: String,
        /// The months, of one calendar year.
        months: Vec<Period>,
    },
    /// A city or the bureau reviews a claim.
    Review {
        /// The claim.
        claim_id: String,
        /// Which review.
        stage: Stage,
        /// Approve or reject.
        verdict: Verdict,
        /// Why, in words.
        reason: String,
    },
    /// The bureau pays approved claims on a date; the batch's id is `B-<sequence>`.
    Batch {
        /// The payout date.
        payout_date: NaiveDate,
        /// The claims paid.
        claims: Vec<String>,
    },
    /// An audit finding: money an entity must give back.
    Finding {
        /// The case's id, unique.
        case_id: String,
        /// The entity.
        credit_code: CreditCode,
        /// The months the finding is about.
        months: Vec<Period>,
        /// What is to be recovered, yuan.
        amount: Money,
        /// Why.
        reason: String,
    },
    /// The bureau closes a year's claims: no more are filed for it, and a `pro_rata`
    /// year is divided.
    CloseYear {
        /// The calendar year.
        year: i32,
    },
}

impl Action {
    /// The action's name, as its JSON `action` tag: claim, review, batch, finding, close_year.
    pub const fn kind(&self) -> &'static str {
        match self {
            Action::Claim { .. } => "claim",
            Action::Review { .. } => "review",
            Action::Batch { .. } => "batch",
            Action::Finding { .. } => "finding",
            Action::CloseYear { .. } => "close_year",
        }
    }
}

/// A numbered step with who took it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Its place in the history, from 1, without gaps.
    pub sequence: u64,
    /// The party acting.
    pub party: Party,
    /// The label of the token or operator acting (never the token).
    pub label: String,
    /// When (for people; nothing is ordered by it).
    pub at: DateTime<Utc>,
    /// The latest closed month when the step was taken.
    pub through: Option<Period>,
    /// The hash of the policy document in force when the step was taken, whose budgets
    /// judge it ("" for a ledger that recorded none): a later policy change never moves
    /// a grant or a batch made before it.
    #[serde(default)]
    pub policy: String,
    /// What was done.
    pub action: Action,
}

/// The city that reviews a claim of `months` by `code`: the entity's, as the registry stood
/// on the last day of the latest month claimed (`None`: no entry then, or no month).
pub fn reviewing_city(registry: &Registry, code: &CreditCode, months: &[Period]) -> Option<String> {
    let latest = months.iter().max()?;
    registry.entity_on(code, latest.last_day()).map(|e| e.city.clone())
}

/// The budget view's city of an entity's month that the registry places nowhere.
pub const UNREGISTERED: &str = "unregistered";

/// An entity's city in a month, as the registry stood on its last day: what the budget view
/// files its unclaimed figures under ([`UNREGISTERED`] without an entry).
pub fn city_in(registry: &Registry, code: &CreditCode, month: Period) -> String {
    registry.entity_on(code, month.last_day()).map_or_else(|| UNREGISTERED.to_string(), |e| e.city.clone())
}

/// The id of the claim filed by the event `sequence`.
pub fn claim_id(sequence: u64) -> String {
    format!("C-{sequence}")
}

/// The id of the batch made by the event `sequence`.
pub fn batch_id(sequence: u64) -> String {
    format!("B-{sequence}")
}

/// Why a step cannot be taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProgrammeError {
    /// The party may not take this step.
    #[error("{0}")]
    Forbidden(String),
    /// The step names something that does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The step does not fit the state (a month claimed already, a claim in another stage…).
    #[error("{0}")]
    Conflict(String),
    /// The step carries a value the programme cannot use.
    #[error("{0}")]
    Invalid(String),
}

/// A text a step carries: not blank, at most [`MAX_TEXT_CHARS`], no control characters.
pub(crate) fn check_text(what: &str, text: &str) -> Result<(), ProgrammeError> {
    if text.trim().is_empty() || text.chars().count() > MAX_TEXT_CHARS || text.chars().any(char::is_control) {
        return Err(ProgrammeError::Invalid(format!("{what} must be 1–{MAX_TEXT_CHARS} characters, not blank, with no control characters")));
    }
    Ok(())
}
