//! Row types of the ClickHouse tables and their conversions.
//!
//! Write rows borrow from the store rows (no copies of raw text); read rows
//! own their strings. Field order is column order: validation is off (the
//! old server lacks `RowBinaryWithNamesAndTypes`), so a mismatch shows up as
//! a decode error, which the conformance suite would catch.

use crate::codec::{credit_code, date_of_days, days, entity_kind, entry_day, entry_day_text, fingerprint, funded_target, line_reason, line_reason_text, payment_status, period, statement_kind};
use crate::decimal::{exact_from_i128, exact_to_i128, ratio, ratio_to_i32, yuan, yuan_to_i64, EXACT_SCALE};
use crate::{LineChange, LineEffect, LineSum, BusPosition, CopyRow, LineRow, MonthSum, RejectionRow, ResettleMark, StoreResult};
use ::clickhouse::Row;
use chrono::{DateTime, TimeZone};
use serde::{Deserialize, Serialize};
use subsidy_core::money::from_scaled_i64;
use subsidy_core::{ComputeCenter, Entity, FundedEntry, Statement, SupplierClaim};

/// Seconds since the epoch as a `DateTime` column, clamped to its range.
pub(super) fn datetime_secs<Tz: TimeZone>(t: &DateTime<Tz>) -> u32 {
    u32::try_from(t.timestamp().max(0)).unwrap_or(u32::MAX)
}

#[derive(Debug, Row, Serialize)]
pub(super) struct CopyOut<'a> {
    record_id: &'a str,
    kafka_partition: i32,
    kafka_offset: i64,
    revision: u32,
    fingerprint: String,
    raw: &'a str,
}

impl<'a> CopyOut<'a> {
    pub(super) fn encode(c: &'a CopyRow) -> Self {
        CopyOut {
            record_id: &c.record_id,
            kafka_partition: c.position.partition,
            kafka_offset: c.position.offset,
            revision: c.revision,
            fingerprint: c.fingerprint.to_string(),
            raw: &c.raw,
        }
    }
}

#[derive(Debug, Row, Deserialize)]
pub(super) struct CopyIn {
    record_id: String,
    kafka_partition: i32,
    kafka_offset: i64,
    revision: u32,
    fingerprint: String,
    raw: String,
}

impl CopyIn {
    pub(super) fn decode(self) -> StoreResult<CopyRow> {
        Ok(CopyRow {
            fingerprint: fingerprint(&self.fingerprint)?,
            position: BusPosition { partition: self.kafka_partition, offset: self.kafka_offset },
            record_id: self.record_id,
            revision: self.revision,
            raw: self.raw,
        })
    }
}

/// A row of `registry_entity_entries`; `related_group` is `''` for none, `valid_from` `''`
/// for an undated entry.
#[derive(Debug, Row, Serialize, Deserialize)]
pub(super) struct EntityRow {
    credit_code: String,
    valid_from: String,
    name: String,
    kind: String,
    province: String,
    city: String,
    related_group: String,
    pub(super) version: u64,
}

impl EntityRow {
    pub(super) fn encode(e: &Entity, version: u64) -> Self {
        EntityRow {
            credit_code: e.credit_code.to_string(),
            valid_from: entry_day_text(e.valid_from),
            name: e.name.clone(),
            kind: e.kind.as_str().to_string(),
            province: e.province.clone(),
            city: e.city.clone(),
            related_group: e.related_group.clone().unwrap_or_default(),
            version,
        }
    }

    pub(super) fn decode(self) -> StoreResult<Entity> {
        Ok(Entity {
            credit_code: credit_code(&self.credit_code)?,
            name: self.name,
            kind: entity_kind(&self.kind)?,
            province: self.province,
            city: self.city,
            related_group: (!self.related_group.is_empty()).then_some(self.related_group),
            valid_from: entry_day(&self.valid_from)?,
        })
    }
}

/// A row of `registry_center_entries`.
#[derive(Debug, Row, Serialize, Deserialize)]
pub(super) struct CenterRow {
    center_id: String,
    valid_from: String,
    name: String,
    owner_credit_code: String,
    province: String,
    city: String,
    pub(super) version: u64,
}

impl CenterRow {
    pub(super) fn encode(c: &ComputeCenter, version: u64) -> Self {
        CenterRow {
            center_id: c.center_id.clone(),
            valid_from: entry_day_text(c.valid_from),
            name: c.name.clone(),
            owner_credit_code: c.owner_credit_code.to_string(),
            province: c.province.clone(),
            city: c.city.clone(),
            version,
        }
    }

    pub(super) fn decode(self) -> StoreResult<ComputeCenter> {
        Ok(ComputeCenter {
            center_id: self.center_id,
            name: self.name,
            owner_credit_code: credit_code(&self.owner_credit_code)?,
            province: self.province,
            city: self.city,
            valid_from: entry_day(&self.valid_from)?,
        })
    }
}

/// A row of `funded_elsewhere`.
#[derive(Debug, Row, Serialize, Deserialize)]
pub(super) struct FundedRow {
    scheme: String,
    target_kind: String,
    target_id: String,
    pub(super) version: u64,
}

impl FundedRow {
    pub(super) fn encode(f: &FundedEntry, version: u64) -> Self {
        FundedRow { scheme: f.scheme.clone(), target_kind: f.target.kind().to_string(), target_id: f.target.id().to_string(), version }
    }

    pub(super) fn decode(self) -> StoreResult<FundedEntry> {
        Ok(FundedEntry { scheme: self.scheme, target: funded_target(&self.target_kind, &self.target_id)? })
    }
}

/// A row of `supplier_claims`.
#[derive(Debug, Row, Serialize, Deserialize)]
pub(super) struct ClaimRow {
    record_id: String,
    supplier_credit_code: String,
    pub(super) version: u64,
}

impl ClaimRow {
    pub(super) fn encode(c: &SupplierClaim, version: u64) -> Self {
        ClaimRow { record_id: c.record_id.clone(), supplier_credit_code: c.supplier.to_string(), version }
    }

    pub(super) fn decode(self) -> StoreResult<SupplierClaim> {
        Ok(SupplierClaim { record_id: self.record_id, supplier: credit_code(&self.supplier_credit_code)? })
    }
}

/// The columns of `ledger_lines`, in order.
pub(super) const LINE_COLUMNS: &str = "record_id, revision, fingerprint, conflict, user_credit_code, center_id, usage_date, \
     payment_status, paid_amount, period, policy_version, rate, uplift, base, contribution, reason, kafka_partition, kafka_offset, version, accelerator, policy_hash, entity_entry, center_entry, contract_id";

#[derive(Debug, Row, Serialize)]
pub(super) struct LineOut<'a> {
    record_id: &'a str,
    revision: u32,
    fingerprint: String,
    conflict: u8,
    user_credit_code: &'a str,
    center_id: &'a str,
    usage_date: u16,
    payment_status: &'static str,
    paid_amount: i64,
    period: u32,
    policy_version: &'a str,
    rate: i32,
    uplift: i32,
    base: i64,
    contribution: i128,
    reason: &'static str,
    kafka_partition: i32,
    kafka_offset: i64,
    version: u64,
    accelerator: &'a str,
    policy_hash: &'a str,
    entity_entry: String,
    center_entry: String,
    contract_id: &'a str,
    prior_state: u8,
    prior_user_credit_code: &'a str,
    prior_period: u32,
    prior_reason: &'static str,
    prior_policy_hash: &'a str,
    prior_center_id: &'a str,
    prior_usage_date: u16,
    prior_paid_amount: i64,
    prior_base: i64,
    prior_contribution: i128,
    change_stream: &'a str,
    change_seq: u64,
}

/// Where a write stands in the change log: its writer's stream and its place there.
#[derive(Debug, Clone, Copy)]
pub(super) struct Stamp<'a> {
    pub(super) stream: &'a str,
    pub(super) seq: u64,
}

impl<'a> LineOut<'a> {
    /// The row of `l`, logged as replacing `prior` (`None`: the record's first line).
    pub(super) fn encode(l: &'a LineRow, prior: Option<&'a LineEffect>, stamp: Stamp<'a>) -> StoreResult<Self> {
        let mut out = Self::line(l)?;
        out.change_stream = stamp.stream;
        out.change_seq = stamp.seq;
        if let Some(p) = prior {
            out.prior_state = 1;
            out.prior_user_credit_code = p.user_credit_code.as_str();
            out.prior_period = p.period.as_yyyymm();
            out.prior_reason = line_reason_text(p.reason);
            out.prior_policy_hash = &p.policy_hash;
            out.prior_center_id = &p.center_id;
            out.prior_usage_date = days(p.usage_date)?;
            out.prior_paid_amount = yuan_to_i64(p.paid_amount, "prior paid_amount")?;
            out.prior_base = yuan_to_i64(p.base, "prior base")?;
            out.prior_contribution = exact_to_i128(p.contribution, "prior contribution")?;
        }
        Ok(out)
    }

    fn line(l: &'a LineRow) -> StoreResult<Self> {
        Ok(LineOut {
            record_id: &l.record_id,
            revision: l.revision,
            fingerprint: l.fingerprint.to_string(),
            conflict: u8::from(l.conflict),
            user_credit_code: l.user_credit_code.as_str(),
            center_id: &l.center_id,
            usage_date: days(l.usage_date)?,
            payment_status: l.payment_status.as_str(),
            paid_amount: yuan_to_i64(l.paid_amount, "paid_amount")?,
            period: l.period.as_yyyymm(),
            policy_version: &l.policy_version,
            rate: ratio_to_i32(l.rate, "rate")?,
            uplift: ratio_to_i32(l.uplift, "uplift")?,
            base: yuan_to_i64(l.base, "base")?,
            contribution: exact_to_i128(l.contribution, "contribution")?,
            reason: line_reason_text(l.reason),
            kafka_partition: l.position.partition,
            kafka_offset: l.position.offset,
            version: l.version,
            accelerator: &l.accelerator,
            policy_hash: &l.policy_hash,
            entity_entry: entry_day_text(l.entity_entry),
            center_entry: entry_day_text(l.center_entry),
            contract_id: l.contract_id.as_deref().unwrap_or(""),
            prior_state: 0,
            prior_user_credit_code: "",
            prior_period: 0,
            prior_reason: "",
            prior_policy_hash: "",
            prior_center_id: "",
            prior_usage_date: 0,
            prior_paid_amount: 0,
            prior_base: 0,
            prior_contribution: 0,
            change_stream: "",
            change_seq: 0,
        })
    }
}

/// One row of `line_changes`: a line as written, with what it replaced.
#[derive(Debug, Row, Deserialize)]
pub(super) struct ChangeIn {
    pub(super) change_stream: String,
    pub(super) change_seq: u64,
    pub(super) record_id: String,
    prior_state: u8,
    prior: EffectIn,
    new: EffectIn,
}

/// A line's effect as `line_changes` holds it (the prior's and the new line's columns alike).
#[derive(Debug, Row, Deserialize)]
struct EffectIn {
    user_credit_code: String,
    period: u32,
    reason: String,
    policy_hash: String,
    center_id: String,
    usage_date: u16,
    paid_amount: i64,
    base: i64,
    contribution: i128,
}

impl EffectIn {
    fn decode(self) -> StoreResult<LineEffect> {
        Ok(LineEffect {
            user_credit_code: credit_code(&self.user_credit_code)?,
            period: period(self.period)?,
            reason: line_reason(&self.reason)?,
            policy_hash: self.policy_hash,
            center_id: self.center_id,
            usage_date: date_of_days(self.usage_date),
            paid_amount: yuan(from_scaled_i64(self.paid_amount)),
            base: yuan(from_scaled_i64(self.base)),
            contribution: exact_from_i128(self.contribution, EXACT_SCALE, "contribution")?,
        })
    }
}

/// The columns of [`ChangeIn`], in its order.
pub(super) const CHANGE_COLUMNS: &str = "change_stream, change_seq, record_id, prior_state, prior_user_credit_code, prior_period, prior_reason, \
     prior_policy_hash, prior_center_id, prior_usage_date, prior_paid_amount, prior_base, prior_contribution, user_credit_code, period, \
     reason, policy_hash, center_id, usage_date, paid_amount, base, contribution";

impl ChangeIn {
    pub(super) fn decode(self) -> StoreResult<LineChange> {
        let prior = if self.prior_state == 0 { None } else { Some(self.prior.decode()?) };
        Ok(LineChange { record_id: self.record_id, prior, new: Some(self.new.decode()?) })
    }
}

#[derive(Debug, Row, Deserialize)]
pub(super) struct LineIn {
    record_id: String,
    revision: u32,
    fingerprint: String,
    conflict: u8,
    user_credit_code: String,
    center_id: String,
    usage_date: u16,
    payment_status: String,
    paid_amount: i64,
    period: u32,
    policy_version: String,
    rate: i32,
    uplift: i32,
    base: i64,
    contribution: i128,
    reason: String,
    kafka_partition: i32,
    kafka_offset: i64,
    version: u64,
    accelerator: String,
    policy_hash: String,
    entity_entry: String,
    center_entry: String,
    contract_id: String,
}

impl LineIn {
    pub(super) fn decode(self) -> StoreResult<LineRow> {
        Ok(LineRow {
            fingerprint: fingerprint(&self.fingerprint)?,
            conflict: self.conflict != 0,
            user_credit_code: credit_code(&self.user_credit_code)?,
            usage_date: date_of_days(self.usage_date),
            payment_status: payment_status(&self.payment_status)?,
            paid_amount: yuan(from_scaled_i64(self.paid_amount)),
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
            version: self.version,
            accelerator: self.accelerator,
            policy_hash: self.policy_hash,
            entity_entry: entry_day(&self.entity_entry)?,
            center_entry: entry_day(&self.center_entry)?,
            contract_id: Some(self.contract_id).filter(|c| !c.is_empty()),
        })
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

#[derive(Debug, Row, Serialize, Deserialize)]
pub(super) struct MarkRow {
    kafka_partition: i32,
    registry: String,
    position: u64,
}

impl MarkRow {
    pub(super) fn encode(m: &ResettleMark) -> Self {
        MarkRow { kafka_partition: m.partition, registry: m.registry.clone(), position: m.position }
    }

    pub(super) fn decode(self) -> ResettleMark {
        ResettleMark { partition: self.kafka_partition, position: self.position, registry: self.registry }
    }
}

/// One group of `line_sums`: sums come back as `Decimal(38, s)`.
#[derive(Debug, Row, Deserialize)]
pub(super) struct LineSumIn {
    user_credit_code: String,
    period: u32,
    reason: String,
    records: u64,
    paid_amount: i128,
    base: i128,
    contribution: i128,
    policy_hash: String,
}

impl LineSumIn {
    pub(super) fn decode(self) -> StoreResult<LineSum> {
        Ok(LineSum {
            user_credit_code: credit_code(&self.user_credit_code)?,
            period: period(self.period)?,
            reason: line_reason(&self.reason)?,
            records: self.records,
            paid_amount: yuan(exact_from_i128(self.paid_amount, 4, "paid_amount")?),
            base: yuan(exact_from_i128(self.base, 4, "base")?),
            contribution: exact_from_i128(self.contribution, EXACT_SCALE, "contribution")?,
            policy_hash: self.policy_hash,
        })
    }
}

/// One group of `month_sums`.
#[derive(Debug, Row, Deserialize)]
pub(super) struct MonthSumIn {
    user_credit_code: String,
    center_id: String,
    accelerator: String,
    reason: String,
    uplift: i32,
    records: u64,
    paid_amount: i128,
    base: i128,
    contribution: i128,
}

impl MonthSumIn {
    pub(super) fn decode(self) -> StoreResult<MonthSum> {
        Ok(MonthSum {
            user_credit_code: credit_code(&self.user_credit_code)?,
            reason: line_reason(&self.reason)?,
            uplift: ratio(from_scaled_i64(i64::from(self.uplift))),
            records: self.records,
            paid_amount: yuan(exact_from_i128(self.paid_amount, 4, "paid_amount")?),
            base: yuan(exact_from_i128(self.base, 4, "base")?),
            contribution: exact_from_i128(self.contribution, EXACT_SCALE, "contribution")?,
            center_id: self.center_id,
            accelerator: self.accelerator,
        })
    }
}

#[derive(Debug, Row, Serialize, Deserialize)]
pub(super) struct ClosureRow {
    pub(super) period: u32,
    pub(super) close_id: String,
    pub(super) closed_at: u32,
}

/// A closure row as a close writes it.
#[derive(Debug, Row, Serialize)]
pub(super) struct ClosureOut {
    pub(super) period: u32,
    pub(super) close_id: String,
    pub(super) closed_at: u32,
    pub(super) seen: String,
    pub(super) early_reason: String,
    pub(super) claim_offset: i64,
    pub(super) lines: u64,
    pub(super) policy_hash: String,
}

/// A closure row as `closures` reads it.
#[derive(Debug, Row, Deserialize)]
pub(super) struct ClosureIn {
    pub(super) period: u32,
    pub(super) close_id: String,
    pub(super) closed_at: u32,
    pub(super) policy_hash: String,
}

/// A row of `policy_documents`.
#[derive(Debug, Row, Serialize, Deserialize)]
pub(super) struct PolicyRow {
    pub(super) sequence: u64,
    pub(super) hash: String,
    pub(super) text: String,
    pub(super) applied_at: u32,
    pub(super) note: String,
}

/// A close's id and how many lines it wrote, as its closure rows say.
#[derive(Debug, Row, Deserialize)]
pub(super) struct CloseLinesIn {
    pub(super) close_id: String,
    pub(super) lines: u64,
}

/// The columns of `statements` that are read back, in order.
pub(super) const STATEMENT_COLUMNS: &str = "credit_code, payout_period, for_period, kind, eligible_base, subsidy";

#[derive(Debug, Row, Serialize)]
pub(super) struct StatementOut<'a> {
    close_id: &'a str,
    credit_code: &'a str,
    payout_period: u32,
    for_period: u32,
    kind: &'static str,
    eligible_base: i64,
    subsidy: i64,
}

impl<'a> StatementOut<'a> {
    pub(super) fn encode(close_id: &'a str, s: &'a Statement) -> StoreResult<Self> {
        Ok(StatementOut {
            close_id,
            credit_code: s.credit_code.as_str(),
            payout_period: s.payout_period.as_yyyymm(),
            for_period: s.for_period.as_yyyymm(),
            kind: s.kind.as_str(),
            eligible_base: yuan_to_i64(s.eligible_base, "eligible_base")?,
            subsidy: yuan_to_i64(s.subsidy, "subsidy")?,
        })
    }
}

#[derive(Debug, Row, Deserialize)]
pub(super) struct StatementIn {
    credit_code: String,
    payout_period: u32,
    for_period: u32,
    kind: String,
    eligible_base: i64,
    subsidy: i64,
}

/// A statement line with the close that wrote it.
#[derive(Debug, Row, Deserialize)]
pub(super) struct StatementOfCloseIn {
    pub(super) close_id: String,
    credit_code: String,
    payout_period: u32,
    for_period: u32,
    kind: String,
    eligible_base: i64,
    subsidy: i64,
}

impl StatementOfCloseIn {
    pub(super) fn decode(self) -> StoreResult<(String, Statement)> {
        let StatementOfCloseIn { close_id, credit_code, payout_period, for_period, kind, eligible_base, subsidy } = self;
        Ok((close_id, StatementIn { credit_code, payout_period, for_period, kind, eligible_base, subsidy }.decode()?))
    }
}

impl StatementIn {
    pub(super) fn decode(self) -> StoreResult<Statement> {
        Ok(Statement {
            credit_code: credit_code(&self.credit_code)?,
            payout_period: period(self.payout_period)?,
            for_period: period(self.for_period)?,
            kind: statement_kind(&self.kind)?,
            eligible_base: yuan(from_scaled_i64(self.eligible_base)),
            subsidy: yuan(from_scaled_i64(self.subsidy)),
        })
    }
}

/// A row of `programme_events`: the event whole, as JSON, in `body`.
#[derive(Debug, Row, Serialize, Deserialize)]
pub(super) struct EventRow {
    pub(super) sequence: u64,
    pub(super) kind: String,
    pub(super) label: String,
    pub(super) at: u32,
    pub(super) body: String,
}
