//! Row builders for the conformance cases.

use chrono::{DateTime, FixedOffset, Utc};
use rust_decimal::Decimal;
use std::str::FromStr;
use subsidy_core::{CreditCode, Period, ReasonCode, Settlement};
use subsidy_store::{AcceptedRecordRow, AdjustmentRow, BusPosition, HeldRow, LedgerStore, LineRow, RejectionRow, SettlementRow};

pub fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

/// The n-th test entity.
pub fn code(n: u32) -> CreditCode {
    CreditCode::complete(&format!("913401000000{n:05}")).unwrap()
}

pub fn month(s: &str) -> Period {
    Period::parse(s).unwrap()
}

pub fn at(s: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(s).unwrap()
}

pub fn utc(s: &str) -> DateTime<Utc> {
    at(s).with_timezone(&Utc)
}

pub fn pos(partition: i32, offset: i64) -> BusPosition {
    BusPosition { partition, offset }
}

/// Migrates a fresh store.
pub async fn ready(store: &dyn LedgerStore) {
    store.migrate().await.unwrap();
}

/// An eligible line paying `base` × 0.3 × 1.2 (the contribution is given, exact).
pub fn line(id: &str, revision: u32, user: CreditCode, period: &str, position: BusPosition, base: &str, contribution: &str) -> LineRow {
    LineRow {
        record_id: id.to_string(),
        revision,
        user_credit_code: user,
        center_id: "hefei-01".to_string(),
        period: month(period),
        policy_version: "2025-v1".to_string(),
        rate: d("0.3"),
        uplift: d("1.2"),
        base: d(base),
        contribution: d(contribution),
        reason: None,
        position,
    }
}

/// The same line, excluded for `reason` (no contribution).
pub fn excluded(mut l: LineRow, reason: ReasonCode) -> LineRow {
    l.reason = Some(reason);
    l.contribution = Decimal::ZERO;
    l
}

/// An accepted record matching a line.
pub fn record_for(l: &LineRow) -> AcceptedRecordRow {
    AcceptedRecordRow {
        record_id: l.record_id.clone(),
        revision: l.revision,
        user_credit_code: l.user_credit_code,
        center_id: l.center_id.clone(),
        usage_end: at("2025-09-15T10:00:00+08:00"),
        updated_at: at("2025-09-15T10:05:00.123+08:00"),
        amount: l.base,
        paid_amount: l.base,
        payment_status: "paid".to_string(),
        raw: format!(
            r#"{{"record_id":"{}","revision":{},"note":"用量记录 \t tab, 'quote', back\\slash, ?mark"}}"#,
            l.record_id, l.revision
        ),
        position: l.position,
    }
}

pub fn rejection(position: BusPosition, reason: ReasonCode, record_id: Option<&str>) -> RejectionRow {
    RejectionRow {
        position,
        record_id: record_id.map(str::to_string),
        revision: record_id.map(|_| 1),
        reason,
        field: (reason == ReasonCode::InvalidField).then(|| "amount".to_string()),
        detail: format!("{reason} at {}:{}", position.partition, position.offset),
        raw: "{\"broken\": tru".to_string(),
    }
}

pub fn held(id: &str, revision: u32, position: BusPosition, released: bool) -> HeldRow {
    HeldRow {
        record_id: id.to_string(),
        revision,
        reason: ReasonCode::UnknownEntity,
        raw: format!("{{\"record_id\":\"{id}\"}}"),
        position,
        released,
    }
}

pub fn settlement(user: CreditCode, period: &str, records: u64, base: &str, uncapped: &str, subsidy: &str, version: u64) -> SettlementRow {
    SettlementRow {
        settlement: Settlement {
            credit_code: user,
            period: month(period),
            eligible_records: records,
            eligible_base: d(base),
            uncapped: d(uncapped),
            subsidy: d(subsidy),
        },
        version,
    }
}

pub fn adjustment(
    id: &str,
    revision: u32,
    user: CreditCode,
    original: &str,
    target: &str,
    delta_base: &str,
    delta_contribution: &str,
) -> AdjustmentRow {
    AdjustmentRow {
        record_id: id.to_string(),
        revision,
        credit_code: user,
        original_period: month(original),
        target_period: month(target),
        delta_base: d(delta_base),
        delta_contribution: d(delta_contribution),
    }
}

pub fn ids(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}
