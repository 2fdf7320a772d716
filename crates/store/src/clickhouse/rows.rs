//! Row types of the ClickHouse tables and their conversions.
//!
//! Write rows borrow from the store rows (no copies of raw text); read rows
//! own their strings. Field order is column order: validation is off (the
//! old server lacks `RowBinaryWithNamesAndTypes`), so a mismatch shows up as
//! a decode error, which the conformance suite would catch.

use crate::codec::{credit_code, held_version, line_reason, line_reason_text, period, reason};
use crate::decimal::{exact_from_i128, exact_to_i128, ratio, ratio_to_i32, yuan, yuan_to_i64, EXACT_SCALE};
use crate::{
    AcceptedRecordRow, AccrualSum, AdjustmentRow, BusPosition, HeldRow, LineRow, RejectionRow, SettlementRow, StandingLine, StoreResult,
};
use ::clickhouse::Row;
use chrono::{DateTime, TimeZone};
use serde::{Deserialize, Serialize};
use subsidy_core::money::from_scaled_i64;
use subsidy_core::Settlement;

/// Seconds since the epoch as a `DateTime` column, clamped to its range (the raw text keeps the truth).
pub(super) fn datetime_secs<Tz: TimeZone>(t: &DateTime<Tz>) -> u32 {
    u32::try_from(t.timestamp().max(0)).unwrap_or(u32::MAX)
}

#[derive(Debug, Row, Serialize)]
pub(super) struct RecordOut<'a> {
    record_id: &'a str,
    revision: u32,
    user_credit_code: &'a str,
    center_id: &'a str,
    usage_end: u32,
    updated_at: u32,
    amount: i64,
    paid_amount: i64,
    payment_status: &'a str,
    raw: &'a str,
    kafka_partition: i32,
    kafka_offset: i64,
}

impl<'a> RecordOut<'a> {
    pub(super) fn encode(r: &'a AcceptedRecordRow) -> StoreResult<Self> {
        Ok(RecordOut {
            record_id: &r.record_id,
            revision: r.revision,
            user_credit_code: r.user_credit_code.as_str(),
            center_id: &r.center_id,
            usage_end: datetime_secs(&r.usage_end),
            updated_at: datetime_secs(&r.updated_at),
            amount: yuan_to_i64(r.amount, "amount")?,
            paid_amount: yuan_to_i64(r.paid_amount, "paid_amount")?,
            payment_status: &r.payment_status,
            raw: &r.raw,
            kafka_partition: r.position.partition,
            kafka_offset: r.position.offset,
        })
    }
}

/// The columns of `ledger_lines`, in order.
pub(super) const LINE_COLUMNS: &str = "record_id, revision, user_credit_code, center_id, period, policy_version, \
     rate, uplift, base, contribution, reason, kafka_partition, kafka_offset";

#[derive(Debug, Row, Serialize)]
pub(super) struct LineOut<'a> {
    record_id: &'a str,
    revision: u32,
    user_credit_code: &'a str,
    center_id: &'a str,
    period: u32,
    policy_version: &'a str,
    rate: i32,
    uplift: i32,
    base: i64,
    contribution: i128,
    reason: &'static str,
    kafka_partition: i32,
    kafka_offset: i64,
}

impl<'a> LineOut<'a> {
    pub(super) fn encode(l: &'a LineRow) -> StoreResult<Self> {
        Ok(LineOut {
            record_id: &l.record_id,
            revision: l.revision,
            user_credit_code: l.user_credit_code.as_str(),
            center_id: &l.center_id,
            period: l.period.as_yyyymm(),
            policy_version: &l.policy_version,
            rate: ratio_to_i32(l.rate, "rate")?,
            uplift: ratio_to_i32(l.uplift, "uplift")?,
            base: yuan_to_i64(l.base, "base")?,
            contribution: exact_to_i128(l.contribution, "contribution")?,
            reason: line_reason_text(l.reason),
            kafka_partition: l.position.partition,
            kafka_offset: l.position.offset,
        })
    }
}

#[derive(Debug, Row, Deserialize)]
pub(super) struct LineIn {
    record_id: String,
    revision: u32,
    user_credit_code: String,
    center_id: String,
    period: u32,
    policy_version: String,
    rate: i32,
    uplift: i32,
    base: i64,
    contribution: i128,
    reason: String,
    kafka_partition: i32,
    kafka_offset: i64,
}

impl LineIn {
    pub(super) fn decode(self) -> StoreResult<LineRow> {
        Ok(LineRow {
            user_credit_code: credit_code(&self.user_credit_code)?,
            period: period(self.period)?,
            rate: ratio(from_scaled_i64(i64::from(self.rate))),
            uplift: ratio(from_scaled_i64(i64::from(self.uplift))),
            base: yuan(from_scaled_i64(self.base)),
            contribution: exact_from_i128(self.contribution, EXACT_SCALE, "contribution")?,
            reason: line_reason(&self.reason)?,
            position: BusPosition { partition: self.kafka_partition, offset: self.kafka_offset },
            record_id: self.record_id,
            revision: self.revision,
            center_id: self.center_id,
            policy_version: self.policy_version,
        })
    }

    pub(super) fn decode_standing(self) -> StoreResult<StandingLine> {
        self.decode().map(StandingLine::from)
    }
}

#[derive(Debug, Row, Serialize)]
pub(super) struct RejectionOut<'a> {
    kafka_partition: i32,
    kafka_offset: i64,
    record_id: Option<&'a str>,
    revision: Option<u32>,
    reason: &'static str,
    field: Option<&'a str>,
    detail: &'a str,
    raw: &'a str,
}

impl<'a> RejectionOut<'a> {
    pub(super) fn encode(r: &'a RejectionRow) -> Self {
        RejectionOut {
            kafka_partition: r.position.partition,
            kafka_offset: r.position.offset,
            record_id: r.record_id.as_deref(),
            revision: r.revision,
            reason: r.reason.as_str(),
            field: r.field.as_deref(),
            detail: &r.detail,
            raw: &r.raw,
        }
    }
}

/// The columns of `held_records` that are read back, in order.
pub(super) const HELD_COLUMNS: &str = "record_id, revision, reason, raw, kafka_partition, kafka_offset, released";

#[derive(Debug, Row, Serialize)]
pub(super) struct HeldOut<'a> {
    record_id: &'a str,
    revision: u32,
    reason: &'static str,
    raw: &'a str,
    kafka_partition: i32,
    kafka_offset: i64,
    released: u8,
    ver: u64,
}

impl<'a> HeldOut<'a> {
    pub(super) fn encode(h: &'a HeldRow) -> Self {
        HeldOut {
            record_id: &h.record_id,
            revision: h.revision,
            reason: h.reason.as_str(),
            raw: &h.raw,
            kafka_partition: h.position.partition,
            kafka_offset: h.position.offset,
            released: u8::from(h.released),
            ver: held_version(h.revision, h.released),
        }
    }
}

#[derive(Debug, Row, Deserialize)]
pub(super) struct HeldIn {
    record_id: String,
    revision: u32,
    reason: String,
    raw: String,
    kafka_partition: i32,
    kafka_offset: i64,
    released: u8,
}

impl HeldIn {
    pub(super) fn decode(self) -> StoreResult<HeldRow> {
        Ok(HeldRow {
            reason: reason(&self.reason)?,
            position: BusPosition { partition: self.kafka_partition, offset: self.kafka_offset },
            released: self.released != 0,
            record_id: self.record_id,
            revision: self.revision,
            raw: self.raw,
        })
    }
}

/// The columns of `adjustments`, in order.
pub(super) const ADJUSTMENT_COLUMNS: &str =
    "record_id, revision, credit_code, original_period, target_period, delta_base, delta_contribution";

#[derive(Debug, Row, Serialize)]
pub(super) struct AdjustmentOut<'a> {
    record_id: &'a str,
    revision: u32,
    credit_code: &'a str,
    original_period: u32,
    target_period: u32,
    delta_base: i64,
    delta_contribution: i128,
}

impl<'a> AdjustmentOut<'a> {
    pub(super) fn encode(a: &'a AdjustmentRow) -> StoreResult<Self> {
        Ok(AdjustmentOut {
            record_id: &a.record_id,
            revision: a.revision,
            credit_code: a.credit_code.as_str(),
            original_period: a.original_period.as_yyyymm(),
            target_period: a.target_period.as_yyyymm(),
            delta_base: yuan_to_i64(a.delta_base, "delta_base")?,
            delta_contribution: exact_to_i128(a.delta_contribution, "delta_contribution")?,
        })
    }
}

#[derive(Debug, Row, Deserialize)]
pub(super) struct AdjustmentIn {
    record_id: String,
    revision: u32,
    credit_code: String,
    original_period: u32,
    target_period: u32,
    delta_base: i64,
    delta_contribution: i128,
}

impl AdjustmentIn {
    pub(super) fn decode(self) -> StoreResult<AdjustmentRow> {
        Ok(AdjustmentRow {
            credit_code: credit_code(&self.credit_code)?,
            original_period: period(self.original_period)?,
            target_period: period(self.target_period)?,
            delta_base: yuan(from_scaled_i64(self.delta_base)),
            delta_contribution: exact_from_i128(self.delta_contribution, EXACT_SCALE, "delta_contribution")?,
            record_id: self.record_id,
            revision: self.revision,
        })
    }
}

/// The figure columns of `settlements` and `closed_settlements`, in order.
pub(super) const SETTLEMENT_COLUMNS: &str = "credit_code, period, eligible_records, eligible_base, uncapped, subsidy";

#[derive(Debug, Row, Serialize)]
pub(super) struct SettlementOut<'a> {
    credit_code: &'a str,
    period: u32,
    eligible_records: u64,
    eligible_base: i64,
    uncapped: i128,
    subsidy: i64,
    version: u64,
}

impl<'a> SettlementOut<'a> {
    pub(super) fn encode(r: &'a SettlementRow) -> StoreResult<Self> {
        let s = &r.settlement;
        Ok(SettlementOut {
            credit_code: s.credit_code.as_str(),
            period: s.period.as_yyyymm(),
            eligible_records: s.eligible_records,
            eligible_base: yuan_to_i64(s.eligible_base, "eligible_base")?,
            uncapped: exact_to_i128(s.uncapped, "uncapped")?,
            subsidy: yuan_to_i64(s.subsidy, "subsidy")?,
            version: r.version,
        })
    }
}

#[derive(Debug, Row, Deserialize)]
pub(super) struct SettlementIn {
    credit_code: String,
    period: u32,
    eligible_records: u64,
    eligible_base: i64,
    uncapped: i128,
    subsidy: i64,
}

impl SettlementIn {
    pub(super) fn decode(self) -> StoreResult<Settlement> {
        Ok(Settlement {
            credit_code: credit_code(&self.credit_code)?,
            period: period(self.period)?,
            eligible_records: self.eligible_records,
            eligible_base: yuan(from_scaled_i64(self.eligible_base)),
            uncapped: exact_from_i128(self.uncapped, EXACT_SCALE, "uncapped")?,
            subsidy: yuan(from_scaled_i64(self.subsidy)),
        })
    }
}

/// One group of `accrual_sums`: sums come back as `Decimal(38, s)`.
#[derive(Debug, Row, Deserialize)]
pub(super) struct AccrualIn {
    user_credit_code: String,
    period: u32,
    policy_version: String,
    records: u64,
    base: i128,
    contribution: i128,
}

impl AccrualIn {
    pub(super) fn decode(self) -> StoreResult<AccrualSum> {
        Ok(AccrualSum {
            user_credit_code: credit_code(&self.user_credit_code)?,
            period: period(self.period)?,
            records: self.records,
            base: yuan(exact_from_i128(self.base, 4, "base")?),
            contribution: exact_from_i128(self.contribution, EXACT_SCALE, "contribution")?,
            policy_version: self.policy_version,
        })
    }
}

#[derive(Debug, Row, Serialize, Deserialize)]
pub(super) struct ClosureRow {
    pub(super) period: u32,
    pub(super) closed_at: u32,
}
