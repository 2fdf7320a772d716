//! What the programme's state is made of: claims with their reviews and the
//! parts granted per year, and receivables with what was recovered of them.

use crate::close::{Statement, StatementKind};
use crate::credit_code::CreditCode;
use crate::money::Money;
use crate::period::Period;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;

/// Where a claim stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Filed; waiting for its city.
    Filed,
    /// The city approved; waiting for the bureau.
    CityApproved,
    /// The bureau approved: payable (once its year's grant is known).
    Approved,
    /// In a batch.
    Paid,
    /// Rejected by the city or the bureau; its months may be claimed again.
    Rejected,
}

impl Status {
    /// The stable name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Status::Filed => "filed",
            Status::CityApproved => "city_approved",
            Status::Approved => "approved",
            Status::Paid => "paid",
            Status::Rejected => "rejected",
        }
    }

    /// Whether the claim still holds its months.
    pub const fn is_live(self) -> bool {
        !matches!(self, Status::Rejected)
    }
}

/// A review as taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Review {
    /// Who (the label).
    pub label: String,
    /// When.
    pub at: DateTime<Utc>,
    /// Whether it approved.
    pub approved: bool,
    /// Why.
    pub reason: String,
    /// The event's sequence.
    pub sequence: u64,
}

/// What an approved claim asks and is granted for one calendar year.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Part {
    /// The year (of the months its lines are for).
    pub year: i32,
    /// Σ subsidy of the lines it took, whole fen.
    pub asked: Money,
    /// What the year's budget grants it; `None` while a `pro_rata` year is not divided.
    pub granted: Option<Money>,
    /// The city's share of what is paid for the year ([`crate::budget::Budget::city_share`]).
    pub city_share: Decimal,
}

/// A claim and everything decided about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClaimState {
    /// `C-<sequence>`.
    pub claim_id: String,
    /// The event that filed it.
    pub sequence: u64,
    /// The entity.
    pub credit_code: CreditCode,
    /// The city reviewing it.
    pub city: String,
    /// The months claimed, sorted.
    pub months: Vec<Period>,
    /// Who filed it.
    pub filed_by: String,
    /// When it was filed.
    pub filed_at: DateTime<Utc>,
    /// Where it stands.
    pub status: Status,
    /// The city's review.
    pub city_review: Option<Review>,
    /// The bureau's review.
    pub bureau_review: Option<Review>,
    /// At approval: the latest closed month, so the last payout month whose lines it took.
    pub through: Option<Period>,
    /// At approval: the statement lines it took.
    #[serde(skip)]
    pub lines: Vec<Statement>,
    /// At approval: what it asks and is granted, per year.
    pub parts: Vec<Part>,
    /// The batch paying it.
    pub batch_id: Option<String>,
}

impl ClaimState {
    /// Σ asked over its parts.
    pub fn asked(&self) -> Money {
        self.parts.iter().map(|p| p.asked).sum()
    }

    /// Σ granted over its parts (pending parts count nothing).
    pub fn granted(&self) -> Money {
        self.parts.iter().filter_map(|p| p.granted).sum()
    }

    /// Whether every part's grant is known (a batch may pay it).
    pub fn is_payable(&self) -> bool {
        self.status == Status::Approved && self.parts.iter().all(|p| p.granted.is_some())
    }

    /// The part of a year.
    pub fn part(&self, year: i32) -> Option<&Part> {
        self.parts.iter().find(|p| p.year == year)
    }
}

/// Why an entity owes money.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum ReceivableSource {
    /// A negative adjustment booked after the claim covering its month was approved.
    Adjustment {
        /// The close that booked it.
        payout_period: Period,
        /// The month it corrects.
        for_period: Period,
        /// The claim that had covered the month.
        claim_id: String,
        /// The adjustment's subsidy (negative).
        adjustment: Money,
    },
    /// An audit finding entered by the bureau.
    Finding {
        /// The case.
        case_id: String,
        /// The months it is about.
        months: Vec<Period>,
        /// Why.
        reason: String,
    },
}

/// Money an entity owes, netted against its next payouts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Receivable {
    /// `adjustment:<credit code>:<payout month>:<month>` or `finding:<case id>`.
    pub id: String,
    /// Who owes it.
    pub credit_code: CreditCode,
    /// Why.
    #[serde(flatten)]
    pub source: ReceivableSource,
    /// The closed month by which it arose (the adjustment's close; the latest closed
    /// month when the finding was entered): receivables are recovered in this order.
    pub arose: Period,
    /// What is owed: a finding's amount; for an adjustment, its share of what was granted
    /// (the adjustment × granted ÷ asked of the covering claim's year, floored to the fen).
    pub amount: Money,
    /// Whether it can be recovered yet (an adjustment to a `pro_rata` year not yet divided waits).
    pub due: bool,
    /// Recovered so far, by batches.
    pub recovered: Money,
}

impl Receivable {
    /// What is still owed.
    pub fn outstanding(&self) -> Money {
        (self.amount - self.recovered).max(Decimal::ZERO)
    }

    /// The order of recovery: oldest first; adjustments before findings of the same month.
    pub fn order_key(&self) -> (Period, u8, String) {
        let rank = match self.source {
            ReceivableSource::Adjustment { .. } => 0,
            ReceivableSource::Finding { .. } => 1,
        };
        (self.arose, rank, self.id.clone())
    }
}

/// A statement line's identity: one per entity, close month, month and kind.
pub(crate) type LineKey = (CreditCode, Period, Period, StatementKind);

/// The identity of a statement line.
pub(crate) fn line_key(s: &Statement) -> LineKey {
    (s.credit_code, s.payout_period, s.for_period, s.kind)
}
