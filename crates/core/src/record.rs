//! Usage records: the platform's JSON line, checked field by field into a
//! typed [`UsageRecord`] or refused with a [`Rejection`] naming the reason.
//!
//! Good lines take one borrowed serde pass; only a line that fails it is
//! parsed again, loosely, to say exactly which field is missing or ill-typed.

use crate::bounds::usage_time_out_of_range;
use crate::credit_code::CreditCode;
use crate::money::{parse_quantity, parse_yuan, DecimalError, Money, MAX_AMOUNT_YUAN};
use crate::reason::ReasonCode;
use chrono::{DateTime, FixedOffset};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt;

/// Longest accepted `record_id` and `center_id`, in bytes.
pub const MAX_ID_LEN: usize = 128;

/// Longest accepted record line, in bytes. A record is a few hundred bytes; a line
/// far longer is refused before it is parsed, so its size cannot cost memory or time.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// Highest accepted revision: a line's version keeps it in 31 bits, so every store can order it.
pub const MAX_REVISION: u32 = i32::MAX as u32;

/// Payment state of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    /// Paid: `paid_amount` is the base.
    Paid,
    /// Not paid yet.
    Unpaid,
    /// Refunded.
    Refunded,
}

impl PaymentStatus {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::Paid => "paid",
            PaymentStatus::Unpaid => "unpaid",
            PaymentStatus::Refunded => "refunded",
        }
    }
}

/// A usage record that passed every field check.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageRecord {
    /// Platform id; revisions of one record share it.
    pub record_id: String,
    /// Revision number, ≥ 1; the highest wins.
    pub revision: u32,
    /// The compute user.
    pub user: CreditCode,
    /// Where the job ran.
    pub center_id: String,
    /// Accelerator model, e.g. Ascend-910B.
    pub accelerator: String,
    /// Cards used.
    pub cards: u32,
    /// Card-hours used (informational: never enters the money).
    pub card_hours: Decimal,
    /// Start of use.
    pub usage_start: DateTime<FixedOffset>,
    /// End of use; picks the period and the policy version.
    pub usage_end: DateTime<FixedOffset>,
    /// When the platform last changed the record.
    pub updated_at: DateTime<FixedOffset>,
    /// Yuan per card-hour (informational: never enters the money).
    pub unit_price: Decimal,
    /// Amount billed, yuan.
    pub amount: Money,
    /// Amount paid, yuan; 0 ≤ paid ≤ amount.
    pub paid_amount: Money,
    /// Payment state.
    pub payment_status: PaymentStatus,
    /// The contract the usage was bought under, when the platform gives one: a
    /// funded-elsewhere entry may name it ([`crate::funding`]).
    pub contract_id: Option<String>,
}

/// Why an input item was refused: one reason code, the field if known, and a readable detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The reason code.
    pub reason: ReasonCode,
    /// The offending field, where one is to blame.
    pub field: Option<&'static str>,
    /// A sentence for people.
    pub detail: String,
}

impl Rejection {
    /// A rejection.
    pub fn new(reason: ReasonCode, field: Option<&'static str>, detail: String) -> Rejection {
        Rejection { reason, field, detail }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.reason, self.detail)
    }
}

impl std::error::Error for Rejection {}

/// The record as it is on the wire, borrowed from the line where possible.
#[derive(Deserialize)]
struct Wire<'a> {
    #[serde(borrow)]
    record_id: Cow<'a, str>,
    revision: u32,
    #[serde(borrow)]
    user_credit_code: Cow<'a, str>,
    #[serde(borrow)]
    center_id: Cow<'a, str>,
    #[serde(borrow)]
    accelerator: Cow<'a, str>,
    cards: u32,
    #[serde(borrow)]
    card_hours: Cow<'a, str>,
    #[serde(borrow)]
    usage_start: Cow<'a, str>,
    #[serde(borrow)]
    usage_end: Cow<'a, str>,
    #[serde(borrow)]
    updated_at: Cow<'a, str>,
    #[serde(borrow)]
    unit_price: Cow<'a, str>,
    #[serde(borrow)]
    amount: Cow<'a, str>,
    #[serde(borrow)]
    paid_amount: Cow<'a, str>,
    #[serde(borrow)]
    payment_status: Cow<'a, str>,
    #[serde(borrow)]
    currency: Cow<'a, str>,
    #[serde(default, borrow)]
    contract_id: Option<Cow<'a, str>>,
}

#[derive(Clone, Copy)]
enum Kind {
    Str,
    UInt,
}

/// Every field with its JSON type, in the order they are checked.
const FIELDS: &[(&str, Kind)] = &[
    ("record_id", Kind::Str),
    ("revision", Kind::UInt),
    ("user_credit_code", Kind::Str),
    ("center_id", Kind::Str),
    ("accelerator", Kind::Str),
    ("cards", Kind::UInt),
    ("card_hours", Kind::Str),
    ("usage_start", Kind::Str),
    ("usage_end", Kind::Str),
    ("updated_at", Kind::Str),
    ("unit_price", Kind::Str),
    ("amount", Kind::Str),
    ("paid_amount", Kind::Str),
    ("payment_status", Kind::Str),
    ("currency", Kind::Str),
];

/// Explains why the fast typed pass failed, naming the field.
fn diagnose(line: &[u8], err: serde_json::Error) -> Rejection {
    let value: serde_json::Value = match serde_json::from_slice(line) {
        Ok(v) => v,
        Err(e) => return Rejection::new(ReasonCode::Malformed, None, format!("not valid JSON: {e}")),
    };
    let Some(obj) = value.as_object() else {
        return Rejection::new(ReasonCode::Malformed, None, "not a JSON object".into());
    };
    for &(name, kind) in FIELDS {
        match obj.get(name) {
            None | Some(serde_json::Value::Null) => {
                return Rejection::new(ReasonCode::MissingField, Some(name), format!("field `{name}` is missing"))
            }
            Some(v) => {
                let ok = match kind {
                    Kind::Str => v.is_string(),
                    Kind::UInt => v.as_u64().is_some_and(|n| n <= u64::from(u32::MAX)),
                };
                if !ok {
                    let expected = match kind {
                        Kind::Str => "a string",
                        Kind::UInt => "a non-negative integer below 2^32",
                    };
                    return Rejection::new(ReasonCode::InvalidField, Some(name), format!("field `{name}` must be {expected}, found {v}"));
                }
            }
        }
    }
    if let Some(v) = obj.get("contract_id").filter(|v| !v.is_null() && !v.is_string()) {
        return Rejection::new(ReasonCode::InvalidField, Some("contract_id"), format!("field `contract_id` must be a string or null, found {v}"));
    }
    Rejection::new(ReasonCode::InvalidField, None, err.to_string())
}

fn invalid(field: &'static str, detail: String) -> Rejection {
    Rejection::new(ReasonCode::InvalidField, Some(field), detail)
}

fn timestamp(field: &'static str, text: &str) -> Result<DateTime<FixedOffset>, Rejection> {
    DateTime::parse_from_rfc3339(text).map_err(|e| invalid(field, format!("`{field}` {text:?} is not an RFC 3339 time with offset: {e}")))
}

/// A usage time the ledger can hold, or `out_of_range` naming the field and the bound.
fn usage_time(field: &'static str, text: &str) -> Result<DateTime<FixedOffset>, Rejection> {
    let t = timestamp(field, text)?;
    match usage_time_out_of_range(field, &t) {
        Some(why) => Err(Rejection::new(ReasonCode::OutOfRange, Some(field), why)),
        None => Ok(t),
    }
}

fn amount(field: &'static str, text: &str) -> Result<Money, Rejection> {
    parse_yuan(text).map_err(|e| {
        let why = match e {
            DecimalError::Syntax => "is not a non-negative plain decimal".to_string(),
            DecimalError::TooManyDecimals => "has more than two decimals".to_string(),
            DecimalError::TooLarge => format!("is more than {MAX_AMOUNT_YUAN} yuan, the most a ledger holds for one record"),
        };
        Rejection::new(ReasonCode::InvalidAmount, Some(field), format!("`{field}` {text:?} {why}"))
    })
}

fn quantity_error(e: DecimalError) -> &'static str {
    match e {
        DecimalError::Syntax => "is not a non-negative plain decimal",
        DecimalError::TooManyDecimals => "has more significant digits than can be kept exactly (28)",
        DecimalError::TooLarge => "is too large",
    }
}

fn id(field: &'static str, text: Cow<'_, str>) -> Result<String, Rejection> {
    if text.is_empty() || text.len() > MAX_ID_LEN || text.chars().any(char::is_control) {
        return Err(invalid(field, format!("`{field}` must be 1–{MAX_ID_LEN} bytes without control characters")));
    }
    Ok(text.into_owned())
}

/// Parses and checks one usage-record line.
pub fn parse_record(line: &[u8]) -> Result<UsageRecord, Rejection> {
    if line.len() > MAX_LINE_BYTES {
        return Err(Rejection::new(ReasonCode::Oversized, None, format!("the line has {} bytes, more than the {MAX_LINE_BYTES} accepted", line.len())));
    }
    let w: Wire<'_> = match serde_json::from_slice(line) {
        Ok(w) => w,
        Err(e) => return Err(diagnose(line, e)),
    };
    let record_id = id("record_id", w.record_id)?;
    if w.revision == 0 || w.revision > MAX_REVISION {
        return Err(invalid("revision", format!("`revision` must be 1 to {MAX_REVISION}")));
    }
    let user = CreditCode::check(&w.user_credit_code).map_err(|e| {
        Rejection::new(ReasonCode::InvalidCreditCode, Some("user_credit_code"), format!("credit code {:?} {e}", w.user_credit_code))
    })?;
    let center_id = id("center_id", w.center_id)?;
    if w.cards == 0 {
        return Err(invalid("cards", "`cards` must be at least 1".into()));
    }
    let card_hours = parse_quantity(&w.card_hours).map_err(|e| invalid("card_hours", format!("`card_hours` {:?} {}", w.card_hours, quantity_error(e))))?;
    let usage_start = usage_time("usage_start", &w.usage_start)?;
    let usage_end = usage_time("usage_end", &w.usage_end)?;
    let updated_at = timestamp("updated_at", &w.updated_at)?;
    if usage_end < usage_start {
        return Err(Rejection::new(
            ReasonCode::InvalidTimeRange,
            Some("usage_end"),
            format!("`usage_end` {} is before `usage_start` {}", w.usage_end, w.usage_start),
        ));
    }
    let unit_price = parse_quantity(&w.unit_price)
        .map_err(|e| Rejection::new(ReasonCode::InvalidAmount, Some("unit_price"), format!("`unit_price` {:?} {}", w.unit_price, quantity_error(e))))?;
    let amount_v = amount("amount", &w.amount)?;
    let paid_amount = amount("paid_amount", &w.paid_amount)?;
    if paid_amount > amount_v {
        return Err(Rejection::new(
            ReasonCode::InvalidAmount,
            Some("paid_amount"),
            format!("`paid_amount` {} exceeds `amount` {}", w.paid_amount, w.amount),
        ));
    }
    let payment_status = match &*w.payment_status {
        "paid" => PaymentStatus::Paid,
        "unpaid" => PaymentStatus::Unpaid,
        "refunded" => PaymentStatus::Refunded,
        other => return Err(invalid("payment_status", format!("`payment_status` {other:?} is not paid, unpaid or refunded"))),
    };
    if w.currency != "CNY" {
        return Err(Rejection::new(ReasonCode::UnsupportedCurrency, Some("currency"), format!("currency {:?} is not CNY", w.currency)));
    }
    let contract_id = w.contract_id.map(|c| id("contract_id", c)).transpose()?;
    Ok(UsageRecord {
        record_id,
        revision: w.revision,
        user,
        center_id,
        accelerator: w.accelerator.into_owned(),
        cards: w.cards,
        card_hours,
        usage_start,
        usage_end,
        updated_at,
        unit_price,
        amount: amount_v,
        paid_amount,
        payment_status,
        contract_id,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn good_line() -> serde_json::Value {
        serde_json::json!({
            "record_id": "r-1", "revision": 1,
            "user_credit_code": CreditCode::complete("91340100MA2MTN5C3").unwrap().as_str(),
            "center_id": "c-1", "accelerator": "Ascend-910B", "cards": 8, "card_hours": "64.5",
            "usage_start": "2025-09-01T08:00:00+08:00", "usage_end": "2025-09-01T16:00:00+08:00",
            "updated_at": "2025-09-02T00:00:00Z", "unit_price": "12.5", "amount": "806.25",
            "paid_amount": "806.25", "payment_status": "paid", "currency": "CNY"
        })
    }

    fn reject(mutate: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>)) -> Rejection {
        let mut v = good_line();
        mutate(v.as_object_mut().unwrap());
        parse_record(v.to_string().as_bytes()).unwrap_err()
    }

    #[test]
    fn contract_id_is_optional_and_checked_when_given() {
        assert_eq!(parse_record(good_line().to_string().as_bytes()).unwrap().contract_id, None);
        let mut v = good_line();
        v["contract_id"] = "K-2026-001".into();
        assert_eq!(parse_record(v.to_string().as_bytes()).unwrap().contract_id.as_deref(), Some("K-2026-001"));
        for bad in [serde_json::json!(7), serde_json::json!(""), serde_json::json!("x".repeat(MAX_ID_LEN + 1))] {
            let e = reject(|o| {
                o.insert("contract_id".into(), bad.clone());
            });
            assert_eq!((e.reason, e.field), (ReasonCode::InvalidField, Some("contract_id")), "{bad}");
        }
    }

    #[test]
    fn parses_a_good_line() {
        let r = parse_record(good_line().to_string().as_bytes()).unwrap();
        assert_eq!(r.record_id, "r-1");
        assert_eq!(r.paid_amount.to_string(), "806.25");
        assert_eq!(r.payment_status, PaymentStatus::Paid);
    }

    #[test]
    fn informational_fields_take_any_precision() {
        let mut v = good_line();
        v["unit_price"] = serde_json::json!("18.000000");
        v["card_hours"] = serde_json::json!("44.7916666666666667");
        let r = parse_record(v.to_string().as_bytes()).unwrap();
        assert_eq!(r.unit_price, Decimal::from(18));
        assert_eq!(r.paid_amount.to_string(), "806.25");
    }

    #[test]
    fn usage_times_a_ledger_cannot_hold_are_out_of_range() {
        use serde_json::json;
        for field in ["usage_start", "usage_end"] {
            // Just inside: the first and last instants a ledger holds (start ≤ end kept).
            for (start, end) in [("1970-01-01T00:00:00Z", "1970-01-01T00:00:00Z"), ("2105-12-31T23:59:59+08:00", "2105-12-31T23:59:59+08:00")] {
                let mut v = good_line();
                v["usage_start"] = json!(start);
                v["usage_end"] = json!(end);
                assert!(parse_record(v.to_string().as_bytes()).is_ok(), "{start} … {end}");
            }
            // Just outside, and far outside: 1960, 2200, 9999.
            for t in ["1969-12-31T23:59:59Z", "1970-01-01T07:59:59+08:00", "2106-01-01T00:00:00+08:00", "1960-06-01T00:00:00+08:00", "2200-01-01T00:00:00+08:00", "9999-12-31T23:59:59+08:00"] {
                let r = reject(|m| {
                    m.insert(field.into(), json!(t));
                });
                assert_eq!((r.reason, r.field), (ReasonCode::OutOfRange, Some(field)), "{field} {t}: {r}");
                let bound = if t < "2000" { "1970-01-01T00:00:00Z" } else { "2105-12-31T23:59:59+08:00" };
                assert!(r.detail.contains(field) && r.detail.contains(bound), "{}", r.detail);
            }
        }
    }

    #[test]
    fn amounts_beyond_what_a_ledger_holds_are_refused() {
        use crate::money::MAX_AMOUNT_YUAN;
        use serde_json::json;
        let largest = format!("{MAX_AMOUNT_YUAN}.00");
        let mut v = good_line();
        v["amount"] = json!(largest);
        v["paid_amount"] = json!(largest);
        let r = parse_record(v.to_string().as_bytes()).unwrap();
        assert_eq!(r.paid_amount, Decimal::from(MAX_AMOUNT_YUAN));
        for field in ["amount", "paid_amount"] {
            for beyond in [format!("{MAX_AMOUNT_YUAN}.01"), "100000000000000.00".to_string(), "99999999999999999999999999.00".to_string()] {
                let r = reject(|m| {
                    m.insert("amount".into(), json!(largest));
                    m.insert(field.into(), json!(beyond));
                });
                assert_eq!((r.reason, r.field), (ReasonCode::InvalidAmount, Some(field)), "{field} {beyond}");
                assert!(r.detail.contains(&MAX_AMOUNT_YUAN.to_string()), "{}", r.detail);
            }
        }
    }

    #[test]
    fn every_bad_field_has_its_reason() {
        use serde_json::json;
        assert_eq!(parse_record(b"{oops").unwrap_err().reason, ReasonCode::Malformed);
        assert_eq!(parse_record(b"[1,2]").unwrap_err().reason, ReasonCode::Malformed);
        let mut long = good_line();
        long["note"] = json!("x".repeat(MAX_LINE_BYTES));
        assert_eq!(parse_record(long.to_string().as_bytes()).unwrap_err().reason, ReasonCode::Oversized);
        assert_eq!(parse_record("\u{feff}{}".as_bytes()).unwrap_err().reason, ReasonCode::Malformed);
        let r = reject(|m| {
            m.remove("center_id");
        });
        assert_eq!((r.reason, r.field), (ReasonCode::MissingField, Some("center_id")));
        let r = reject(|m| {
            m.insert("cards".into(), json!("8"));
        });
        assert_eq!((r.reason, r.field), (ReasonCode::InvalidField, Some("cards")));
        let r = reject(|m| {
            m.insert("revision".into(), json!(-1));
        });
        assert_eq!((r.reason, r.field), (ReasonCode::InvalidField, Some("revision")));
        let r = reject(|m| {
            m.insert("amount".into(), json!("1.234"));
        });
        assert_eq!((r.reason, r.field), (ReasonCode::InvalidAmount, Some("amount")));
        let r = reject(|m| {
            m.insert("paid_amount".into(), json!("900.00"));
        });
        assert_eq!((r.reason, r.field), (ReasonCode::InvalidAmount, Some("paid_amount")));
        let r = reject(|m| {
            m.insert("currency".into(), json!("USD"));
        });
        assert_eq!(r.reason, ReasonCode::UnsupportedCurrency);
        let r = reject(|m| {
            m.insert("usage_end".into(), json!("2025-09-01T07:00:00+08:00"));
        });
        assert_eq!(r.reason, ReasonCode::InvalidTimeRange);
        let r = reject(|m| {
            m.insert("usage_end".into(), json!("2025-09-01 16:00"));
        });
        assert_eq!((r.reason, r.field), (ReasonCode::InvalidField, Some("usage_end")));
        let r = reject(|m| {
            m.insert("user_credit_code".into(), json!("91340100MA2MTN5C3Z"));
        });
        assert_eq!(r.reason, ReasonCode::InvalidCreditCode);
        let r = reject(|m| {
            m.insert("payment_status".into(), json!("pending"));
        });
        assert_eq!((r.reason, r.field), (ReasonCode::InvalidField, Some("payment_status")));
        let r = reject(|m| {
            m.insert("revision".into(), json!(2_147_483_648u64));
        });
        assert_eq!((r.reason, r.field), (ReasonCode::InvalidField, Some("revision")));
        let r = reject(|m| {
            m.insert("user_credit_code".into(), json!("000000000000000000"));
        });
        assert_eq!(r.reason, ReasonCode::InvalidCreditCode);
        let r = reject(|m| {
            m.insert("unit_price".into(), json!("-1"));
        });
        assert_eq!((r.reason, r.field), (ReasonCode::InvalidAmount, Some("unit_price")));
        let r = reject(|m| {
            m.insert("card_hours".into(), json!("1e3"));
        });
        assert_eq!((r.reason, r.field), (ReasonCode::InvalidField, Some("card_hours")));
        let r = reject(|m| {
            m.insert("record_id".into(), json!(""));
        });
        assert_eq!((r.reason, r.field), (ReasonCode::InvalidField, Some("record_id")));
    }
}
