//! Row builders for the conformance cases.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use std::str::FromStr;
use subsidy_core::{CreditCode, Fingerprint, PaymentStatus, Period, ReasonCode, Statement, StatementKind};
use subsidy_store::{BusPosition, Closure, CopyRow, LedgerStore, LineRow, RejectionRow, WriteBatch};

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

pub fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

pub fn pos(partition: i32, offset: i64) -> BusPosition {
    BusPosition { partition, offset }
}

/// Migrates a fresh store.
pub async fn ready(store: &dyn LedgerStore) {
    store.migrate().await.unwrap();
}

/// A fingerprint derived from a small number.
pub fn fp(n: u128) -> Fingerprint {
    Fingerprint(n.wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835).wrapping_add(7))
}

/// An eligible line paying `base` × 0.3 × 1.2 (the contribution is given, exact), version = revision.
pub fn line(id: &str, revision: u32, user: CreditCode, period: &str, position: BusPosition, base: &str, contribution: &str) -> LineRow {
    let p = month(period);
    LineRow {
        record_id: id.to_string(),
        revision,
        fingerprint: fp(u128::from(revision)),
        conflict: false,
        user_credit_code: user,
        center_id: "hefei-01".to_string(),
        usage_date: NaiveDate::from_ymd_opt(p.year(), p.month(), 15).unwrap(),
        payment_status: PaymentStatus::Paid,
        paid_amount: d(base),
        accelerator: "Ascend-910B".to_string(),
        period: p,
        policy_version: "2025-v1".to_string(),
        rate: d("0.3"),
        uplift: d("1.2"),
        base: d(base),
        contribution: d(contribution),
        reason: None,
        position,
        version: u64::from(revision) << 32,
        policy_hash: "d0c".to_string(),
        // One dated entry and one undated, so both forms round-trip through the store.
        entity_entry: NaiveDate::from_ymd_opt(2025, 8, 11),
        center_entry: None,
        contract_id: None,
    }
}

/// The same line, excluded for `reason` (no contribution).
pub fn excluded(mut l: LineRow, reason: ReasonCode) -> LineRow {
    l.reason = Some(reason);
    l.contribution = Decimal::ZERO;
    l
}

/// The copy a line stands on, with awkward text in its raw bytes.
pub fn copy_for(l: &LineRow) -> CopyRow {
    CopyRow {
        record_id: l.record_id.clone(),
        position: l.position,
        revision: l.revision,
        fingerprint: l.fingerprint,
        raw: format!(r#"{{"record_id":"{}","revision":{},"note":"用量记录 \t tab, 'quote', back\\slash, ?mark"}}"#, l.record_id, l.revision),
    }
}

/// A batch of lines with their copies.
pub fn batch_of(lines: Vec<LineRow>) -> WriteBatch {
    WriteBatch { copies: lines.iter().map(copy_for).collect(), lines, ..WriteBatch::default() }
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

pub fn statement(user: CreditCode, payout: &str, for_period: &str, kind: StatementKind, base: &str, subsidy: &str) -> Statement {
    Statement { credit_code: user, payout_period: month(payout), for_period: month(for_period), kind, eligible_base: d(base), subsidy: d(subsidy) }
}

pub fn closure(period: &str, close_id: &str) -> Closure {
    Closure { period: month(period), close_id: close_id.to_string(), closed_at: utc("2025-10-01T08:00:00Z"), policy_hash: "d0c".to_string() }
}

pub fn ids(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}
