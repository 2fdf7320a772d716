//! Decoding of stored keys and codes, shared by both stores: anything that
//! does not parse back is `Corrupt`.

use crate::{StoreError, StoreResult};
use chrono::NaiveDate;
use subsidy_core::{CreditCode, EntityKind, Fingerprint, FundedTarget, PaymentStatus, Period, ReasonCode, StatementKind};

fn corrupt(what: &str, text: impl std::fmt::Debug) -> StoreError {
    StoreError::corrupt(format!("bad {what} {text:?} in store"))
}

/// A stored credit code.
pub(crate) fn credit_code(text: &str) -> StoreResult<CreditCode> {
    CreditCode::parse(text).ok_or_else(|| corrupt("credit code", text))
}

/// A stored funded-elsewhere target (its kind and id columns).
pub(crate) fn funded_target(kind: &str, id: &str) -> StoreResult<FundedTarget> {
    FundedTarget::of(kind, id).ok_or_else(|| corrupt("funded-elsewhere target", (kind, id)))
}

/// A stored `yyyymm` period.
pub(crate) fn period(yyyymm: u32) -> StoreResult<Period> {
    Period::from_yyyymm(yyyymm).ok_or_else(|| corrupt("period", yyyymm))
}

/// A stored line reason: `''` is the eligible line's.
pub(crate) fn line_reason(text: &str) -> StoreResult<Option<ReasonCode>> {
    if text.is_empty() {
        return Ok(None);
    }
    reason(text).map(Some)
}

/// A stored reason code that must be present.
pub(crate) fn reason(text: &str) -> StoreResult<ReasonCode> {
    ReasonCode::parse(text).ok_or_else(|| corrupt("reason code", text))
}

/// The storage form of a line reason.
pub(crate) fn line_reason_text(reason: Option<ReasonCode>) -> &'static str {
    reason.map_or("", ReasonCode::as_str)
}

/// The storage form of a registry entry's day: `''` for an undated entry (or none).
pub(crate) fn entry_day_text(day: Option<NaiveDate>) -> String {
    day.map(|d| d.format("%Y-%m-%d").to_string()).unwrap_or_default()
}

/// A stored registry entry's day: `''` is the undated entry's.
pub(crate) fn entry_day(text: &str) -> StoreResult<Option<NaiveDate>> {
    if text.is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map(Some).map_err(|_| corrupt("registry entry day", text))
}

/// A stored fingerprint (32 hex digits).
pub(crate) fn fingerprint(text: &str) -> StoreResult<Fingerprint> {
    Fingerprint::parse_hex(text).ok_or_else(|| corrupt("fingerprint", text))
}

/// A stored payment status.
pub(crate) fn payment_status(text: &str) -> StoreResult<PaymentStatus> {
    match text {
        "paid" => Ok(PaymentStatus::Paid),
        "unpaid" => Ok(PaymentStatus::Unpaid),
        "refunded" => Ok(PaymentStatus::Refunded),
        other => Err(corrupt("payment status", other)),
    }
}

/// A stored entity kind.
pub(crate) fn entity_kind(text: &str) -> StoreResult<EntityKind> {
    EntityKind::parse(text).ok_or_else(|| corrupt("entity kind", text))
}

/// A stored statement kind.
pub(crate) fn statement_kind(text: &str) -> StoreResult<StatementKind> {
    StatementKind::parse(text).ok_or_else(|| corrupt("statement kind", text))
}

/// The first day a `Date` column holds (day 0).
pub(crate) fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or(NaiveDate::MIN)
}

/// A date as days since 1970-01-01 (ClickHouse `Date`), or `Rejected` when out of its range.
pub(crate) fn days(date: NaiveDate) -> StoreResult<u16> {
    u16::try_from((date - epoch()).num_days()).map_err(|_| StoreError::rejected(format!("date {date} does not fit a Date column")))
}

/// The inverse of [`days`].
pub(crate) fn date_of_days(days: u16) -> NaiveDate {
    epoch() + chrono::Days::new(u64::from(days))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn decodes_or_reports_corruption() {
        assert_eq!(line_reason("").unwrap(), None);
        assert_eq!(line_reason("unpaid").unwrap(), Some(ReasonCode::Unpaid));
        assert_eq!(line_reason("nope").unwrap_err().kind(), "corrupt");
        assert_eq!(period(202513).unwrap_err().kind(), "corrupt");
        assert_eq!(credit_code("x").unwrap_err().kind(), "corrupt");
        assert_eq!(fingerprint("zz").unwrap_err().kind(), "corrupt");
        assert_eq!(payment_status("pending").unwrap_err().kind(), "corrupt");
        let d = NaiveDate::from_ymd_opt(2025, 9, 1).unwrap();
        assert_eq!(date_of_days(days(d).unwrap()), d);
        assert!(days(NaiveDate::from_ymd_opt(2200, 1, 1).unwrap()).is_err());
    }

    /// Every usage time the core accepts at decode has a day the `Date` column holds.
    #[test]
    fn the_cores_usage_bounds_fit_a_date_column() {
        use subsidy_core::bounds::{EARLIEST_USAGE_SECONDS, LATEST_USAGE_SECONDS};
        for secs in [EARLIEST_USAGE_SECONDS, LATEST_USAGE_SECONDS] {
            let t = chrono::DateTime::from_timestamp(secs, 0).unwrap().fixed_offset();
            let day = subsidy_core::period::cst_date(&t);
            assert_eq!(date_of_days(days(day).unwrap()), day);
        }
    }
}

/// The stored form of a programme step: the event as JSON.
pub(crate) fn encode_event(event: &subsidy_core::programme::Event) -> StoreResult<String> {
    serde_json::to_string(event).map_err(|e| StoreError::rejected(format!("programme step {} cannot be encoded: {e}", event.sequence)))
}

/// A stored programme step, checked to be the step of its row's sequence.
pub(crate) fn decode_event(sequence: u64, body: &str) -> StoreResult<subsidy_core::programme::Event> {
    let event: subsidy_core::programme::Event = serde_json::from_str(body).map_err(|e| StoreError::corrupt(format!("programme step {sequence} in store does not decode: {e}")))?;
    if event.sequence != sequence {
        return Err(corrupt("programme step sequence", (sequence, event.sequence)));
    }
    Ok(event)
}
