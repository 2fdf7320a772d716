//! The content fingerprint of a usage record: what decides whether two
//! copies of one record id and revision are the same record.
//!
//! Two copies are the same when every field but `updated_at` is equal, with
//! numbers compared as numbers (`"18.000000"` equals `"18"`) and times as
//! instants (`08:00+08:00` equals `00:00Z`). The fingerprint is XXH3-128 over
//! that canonical form — text fields length-prefixed, integers and instants as
//! little-endian integers (seconds and nanoseconds since the epoch), decimals
//! as the mantissa and scale of their normalised form (trailing zeros
//! removed) — so no two forms collide by concatenation. It is stable across
//! processes, machines and releases (changing the form is a new [`FORM`] tag
//! and a reprocessing).

use crate::record::UsageRecord;
use chrono::{DateTime, FixedOffset};
use rust_decimal::Decimal;
use std::fmt;
use xxhash_rust::xxh3::Xxh3;

/// Tag of the canonical form hashed below.
const FORM: &[u8] = b"subsidy-usage-record/1";

/// The fingerprint of a record's content.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint(pub u128);

impl Fingerprint {
    /// The fingerprint of a checked record.
    pub fn of(record: &UsageRecord) -> Fingerprint {
        let mut h = Canonical(Xxh3::new());
        h.field(FORM);
        h.field(record.record_id.as_bytes());
        h.0.update(&record.revision.to_le_bytes());
        h.field(record.user.as_str().as_bytes());
        h.field(record.center_id.as_bytes());
        h.field(record.accelerator.as_bytes());
        h.0.update(&record.cards.to_le_bytes());
        h.number(record.card_hours);
        h.instant(&record.usage_start);
        h.instant(&record.usage_end);
        h.number(record.unit_price);
        h.number(record.amount);
        h.number(record.paid_amount);
        h.field(record.payment_status.as_str().as_bytes());
        // Absent, the form is the one before contracts were carried, so fingerprints stand.
        if let Some(contract) = &record.contract_id {
            h.field(b"contract_id");
            h.field(contract.as_bytes());
        }
        Fingerprint(h.0.digest128())
    }

    /// Parses the 32 lowercase hex digits [`Display`](fmt::Display) writes.
    pub fn parse_hex(text: &str) -> Option<Fingerprint> {
        if text.len() != 32 {
            return None;
        }
        u128::from_str_radix(text, 16).ok().map(Fingerprint)
    }
}

struct Canonical(Xxh3);

impl Canonical {
    fn field(&mut self, bytes: &[u8]) {
        self.0.update(&(bytes.len() as u64).to_le_bytes());
        self.0.update(bytes);
    }

    fn number(&mut self, value: Decimal) {
        let n = value.normalize();
        self.0.update(&n.mantissa().to_le_bytes());
        self.0.update(&n.scale().to_le_bytes());
    }

    fn instant(&mut self, t: &DateTime<FixedOffset>) {
        self.0.update(&t.timestamp().to_le_bytes());
        self.0.update(&t.timestamp_subsec_nanos().to_le_bytes());
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::record::parse_record;

    fn line(patch: &[(&str, serde_json::Value)]) -> UsageRecord {
        let mut v = crate::record::tests::good_line();
        for (k, val) in patch {
            v[*k] = val.clone();
        }
        parse_record(v.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn same_content_same_fingerprint_whatever_the_spelling() {
        use serde_json::json;
        let base = Fingerprint::of(&line(&[]));
        // updated_at is not content; numbers and instants are compared by value.
        assert_eq!(Fingerprint::of(&line(&[("updated_at", json!("2030-01-01T00:00:00Z"))])), base);
        assert_eq!(Fingerprint::of(&line(&[("unit_price", json!("12.500000"))])), base);
        assert_eq!(Fingerprint::of(&line(&[("usage_start", json!("2025-09-01T00:00:00Z"))])), base);
        assert_eq!(Fingerprint::of(&line(&[("card_hours", json!("064.50"))])), base);
        assert_eq!(Fingerprint::of(&line(&[("contract_id", json!(null))])), base, "a null contract is no contract");
    }

    #[test]
    fn any_other_field_changes_it() {
        use serde_json::json;
        let base = Fingerprint::of(&line(&[]));
        for (k, v) in [
            ("center_id", json!("c-2")),
            ("accelerator", json!("H800")),
            ("cards", json!(4)),
            ("card_hours", json!("64.6")),
            ("usage_end", json!("2025-09-01T16:00:01+08:00")),
            ("unit_price", json!("12.6")),
            ("paid_amount", json!("806.24")),
            ("payment_status", json!("unpaid")),
            ("revision", json!(2)),
            ("contract_id", json!("K-1")),
        ] {
            assert_ne!(Fingerprint::of(&line(&[(k, v.clone())])), base, "{k} = {v}");
        }
    }

    #[test]
    fn hex_round_trips() {
        let f = Fingerprint::of(&line(&[]));
        assert_eq!(Fingerprint::parse_hex(&f.to_string()), Some(f));
        assert_eq!(Fingerprint::parse_hex("xyz"), None);
    }
}
