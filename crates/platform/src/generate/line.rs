//! One usage record as the generator holds it (integer fen and centi-hours)
//! and its JSON line, written field by field in the platform's order.

use super::clock::write_cst;
use std::fmt::Write;
use subsidy_core::CreditCode;

/// The payment states as written on the wire.
pub const PAID: &str = "paid";
/// Not paid yet.
pub const UNPAID: &str = "unpaid";
/// Refunded.
pub const REFUNDED: &str = "refunded";

/// Every field of a record line, in wire order.
pub const FIELDS: [&str; 15] = [
    "record_id",
    "revision",
    "user_credit_code",
    "center_id",
    "accelerator",
    "cards",
    "card_hours",
    "usage_start",
    "usage_end",
    "updated_at",
    "unit_price",
    "amount",
    "paid_amount",
    "payment_status",
    "currency",
];

/// A record in generator units.
#[derive(Debug, Clone)]
pub struct Rec<'a> {
    /// Sequence number; the record id is derived from it.
    pub id: u64,
    /// Revision, from 1.
    pub revision: u32,
    /// The user.
    pub user: CreditCode,
    /// The center.
    pub center_id: &'a str,
    /// Accelerator model.
    pub accelerator: &'static str,
    /// Cards.
    pub cards: u32,
    /// Card-hours in hundredths.
    pub card_hours_c: u64,
    /// Start, epoch seconds.
    pub start: i64,
    /// End, epoch seconds.
    pub end: i64,
    /// Last change, epoch seconds.
    pub updated: i64,
    /// Price, fen per card-hour.
    pub price_fen: u32,
    /// Billed, fen.
    pub amount_fen: u64,
    /// Paid, fen.
    pub paid_fen: u64,
    /// Payment state.
    pub status: &'static str,
}

/// Billed fen for card-hours in hundredths at a price in fen, rounded half up to the fen.
pub fn amount_fen(card_hours_c: u64, price_fen: u32) -> u64 {
    (card_hours_c * u64::from(price_fen) + 50) / 100
}

fn hundredths(out: &mut String, v: u64) {
    let _ = write!(out, "{}.{:02}", v / 100, v % 100);
}

impl Rec<'_> {
    /// Recomputes the billed amount from card-hours and price.
    pub fn rebill(&mut self) {
        self.amount_fen = amount_fen(self.card_hours_c, self.price_fen);
    }

    /// Appends the JSON line (no newline).
    pub fn write_line(&self, out: &mut String) {
        let _ = write!(
            out,
            r#"{{"record_id":"ur-{:08}","revision":{},"user_credit_code":"{}","center_id":"{}","accelerator":"{}","cards":{},"card_hours":""#,
            self.id,
            self.revision,
            self.user.as_str(),
            self.center_id,
            self.accelerator,
            self.cards
        );
        hundredths(out, self.card_hours_c);
        out.push_str(r#"","usage_start":""#);
        write_cst(out, self.start);
        out.push_str(r#"","usage_end":""#);
        write_cst(out, self.end);
        out.push_str(r#"","updated_at":""#);
        write_cst(out, self.updated);
        out.push_str(r#"","unit_price":""#);
        hundredths(out, u64::from(self.price_fen));
        out.push_str(r#"","amount":""#);
        hundredths(out, self.amount_fen);
        out.push_str(r#"","paid_amount":""#);
        hundredths(out, self.paid_fen);
        let _ = write!(out, r#"","payment_status":"{}","currency":"CNY"}}"#, self.status);
    }

    /// The JSON line.
    pub fn line(&self) -> String {
        let mut s = String::with_capacity(420);
        self.write_line(&mut s);
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_parses_with_the_core() {
        let r = Rec {
            id: 7,
            revision: 2,
            user: CreditCode::complete("91340100MA2MTN5C3").unwrap(),
            center_id: "cc-001",
            accelerator: "Ascend-910B",
            cards: 8,
            card_hours_c: 6450,
            start: 1_756_684_800,
            end: 1_756_713_600,
            updated: 1_756_720_000,
            price_fen: 1250,
            amount_fen: amount_fen(6450, 1250),
            paid_fen: 80_000,
            status: PAID,
        };
        let line = r.line();
        let parsed = subsidy_core::parse_record(line.as_bytes()).unwrap();
        assert_eq!(parsed.record_id, "ur-00000007");
        assert_eq!(parsed.amount.to_string(), "806.25");
        assert_eq!(parsed.card_hours.to_string(), "64.50");
        assert_eq!(parsed.unit_price.to_string(), "12.50");
        assert_eq!(parsed.usage_start.to_rfc3339(), "2025-09-01T08:00:00+08:00");
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v.as_object().unwrap().len(), FIELDS.len());
        assert_eq!(amount_fen(1, 1), 0);
        assert_eq!(amount_fen(50, 1), 1);
    }
}
