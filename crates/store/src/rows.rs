//! The rows a store keeps. Money is `Decimal` here; each store maps it to its
//! own column type (ClickHouse `Decimal(18,4)` / `Decimal(38,10)`, SQLite text).

use chrono::{DateTime, FixedOffset, Utc};
use rust_decimal::Decimal;
use subsidy_core::{CreditCode, Period, ReasonCode, Settlement};

/// Where a row came from on the bus: the deterministic key of rejections and held records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BusPosition {
    /// Kafka partition.
    pub partition: i32,
    /// Kafka offset.
    pub offset: i64,
}

/// The standing revision of an accepted record, with its raw text.
#[derive(Debug, Clone, PartialEq)]
pub struct AcceptedRecordRow {
    /// Record id (key).
    pub record_id: String,
    /// Revision (version: highest stands).
    pub revision: u32,
    /// The user.
    pub user_credit_code: CreditCode,
    /// The center.
    pub center_id: String,
    /// End of use.
    pub usage_end: DateTime<FixedOffset>,
    /// Platform change time.
    pub updated_at: DateTime<FixedOffset>,
    /// Amount billed.
    pub amount: Decimal,
    /// Amount paid.
    pub paid_amount: Decimal,
    /// paid / unpaid / refunded.
    pub payment_status: String,
    /// The platform's bytes, as received.
    pub raw: String,
    /// Bus position it arrived at.
    pub position: BusPosition,
}

/// One ledger line per record (its standing revision): what the rules made of it.
#[derive(Debug, Clone, PartialEq)]
pub struct LineRow {
    /// Record id (key).
    pub record_id: String,
    /// Revision (version: highest stands).
    pub revision: u32,
    /// The user.
    pub user_credit_code: CreditCode,
    /// The center.
    pub center_id: String,
    /// Settlement month.
    pub period: Period,
    /// Policy version id, empty when none covers the date.
    pub policy_version: String,
    /// Rate of that version (0 when none).
    pub rate: Decimal,
    /// Uplift factor (1 when none).
    pub uplift: Decimal,
    /// Paid base (0 unless paid).
    pub base: Decimal,
    /// base × rate × uplift when eligible, exact; else 0.
    pub contribution: Decimal,
    /// `None` when eligible.
    pub reason: Option<ReasonCode>,
    /// Bus position it arrived at; `partition` selects lines when rebuilding a partition.
    pub position: BusPosition,
}

/// What a store returns for the batch lookup of standing lines.
#[derive(Debug, Clone, PartialEq)]
pub struct StandingLine {
    /// Record id.
    pub record_id: String,
    /// Standing revision.
    pub revision: u32,
    /// The user.
    pub user_credit_code: CreditCode,
    /// Settlement month.
    pub period: Period,
    /// Policy version id (empty when none).
    pub policy_version: String,
    /// Paid base.
    pub base: Decimal,
    /// Exact contribution (0 unless eligible).
    pub contribution: Decimal,
    /// `None` when eligible.
    pub reason: Option<ReasonCode>,
}

impl From<LineRow> for StandingLine {
    fn from(l: LineRow) -> StandingLine {
        StandingLine {
            record_id: l.record_id,
            revision: l.revision,
            user_credit_code: l.user_credit_code,
            period: l.period,
            policy_version: l.policy_version,
            base: l.base,
            contribution: l.contribution,
            reason: l.reason,
        }
    }
}

/// A line that was refused, excluded as a duplicate or superseded on arrival.
#[derive(Debug, Clone, PartialEq)]
pub struct RejectionRow {
    /// Bus position (key): a replay replaces the row.
    pub position: BusPosition,
    /// Record id when the line parsed far enough to have one.
    pub record_id: Option<String>,
    /// Revision when known.
    pub revision: Option<u32>,
    /// The reason code.
    pub reason: ReasonCode,
    /// The offending field, when one is to blame.
    pub field: Option<String>,
    /// Readable detail.
    pub detail: String,
    /// The bytes as received (lossy UTF-8).
    pub raw: String,
}

/// A record waiting for the registry (unknown entity or center).
#[derive(Debug, Clone, PartialEq)]
pub struct HeldRow {
    /// Record id (key).
    pub record_id: String,
    /// Revision.
    pub revision: u32,
    /// `unknown_entity` or `unknown_center`.
    pub reason: ReasonCode,
    /// The bytes as received.
    pub raw: String,
    /// Bus position.
    pub position: BusPosition,
    /// True once the record was settled; a released row replaces the held one.
    pub released: bool,
}

/// A change to a record of a closed month, booked in the earliest open month.
#[derive(Debug, Clone, PartialEq)]
pub struct AdjustmentRow {
    /// The record that changed (key with revision).
    pub record_id: String,
    /// The revision that changed it.
    pub revision: u32,
    /// The user.
    pub credit_code: CreditCode,
    /// The closed month the record belongs to.
    pub original_period: Period,
    /// The open month that carries the adjustment.
    pub target_period: Period,
    /// Change of eligible base.
    pub delta_base: Decimal,
    /// Change of exact contribution.
    pub delta_contribution: Decimal,
}

/// A settlement as written by the aggregator.
#[derive(Debug, Clone, PartialEq)]
pub struct SettlementRow {
    /// The figures (a row with zero eligible records hides an earlier one).
    pub settlement: Settlement,
    /// Monotonic per key: the highest stands.
    pub version: u64,
}

/// Sums of eligible standing lines of one user, period and policy version.
#[derive(Debug, Clone, PartialEq)]
pub struct AccrualSum {
    /// The user.
    pub user_credit_code: CreditCode,
    /// The month.
    pub period: Period,
    /// Policy version id.
    pub policy_version: String,
    /// Eligible lines.
    pub records: u64,
    /// Σ base.
    pub base: Decimal,
    /// Σ contribution, exact.
    pub contribution: Decimal,
}

/// A closed period.
#[derive(Debug, Clone, PartialEq)]
pub struct Closure {
    /// The month.
    pub period: Period,
    /// When it was closed.
    pub closed_at: DateTime<Utc>,
}

/// What closing a period froze.
#[derive(Debug, Clone, PartialEq)]
pub struct CloseReport {
    /// The month.
    pub period: Period,
    /// Settlements frozen.
    pub settlements: u64,
    /// Their total subsidy.
    pub subsidy: Decimal,
}

/// One processed batch, written together.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WriteBatch {
    /// Accepted records (standing revisions).
    pub records: Vec<AcceptedRecordRow>,
    /// Ledger lines.
    pub lines: Vec<LineRow>,
    /// Rejected, duplicate and superseded lines.
    pub rejections: Vec<RejectionRow>,
    /// Held records (and releases).
    pub held: Vec<HeldRow>,
    /// Adjustment lines.
    pub adjustments: Vec<AdjustmentRow>,
}

impl WriteBatch {
    /// Total rows in the batch.
    pub fn len(&self) -> usize {
        self.records.len() + self.lines.len() + self.rejections.len() + self.held.len() + self.adjustments.len()
    }

    /// Whether the batch holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
