//! The one reason-code enum: why a record did not (or not yet) earn subsidy.
//!
//! The same codes are metric labels, a ClickHouse column, the dead-letter
//! header and the `reason` field of the exclusions file.

use std::fmt;

/// How a reason code is to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReasonClass {
    /// The input is bad: it cannot be settled as it stands.
    Rejected,
    /// The record is valid but earns no subsidy under the rules.
    Excluded,
    /// The record names an entity or center the registry does not know yet: it stands
    /// excluded and is settled again when the registry learns it.
    Held,
    /// The line repeats or is replaced by another revision of the same record.
    Superseded,
}

macro_rules! reason_codes {
    ($( $variant:ident => $code:literal, $class:ident, $doc:literal; )*) => {
        /// Why a record or line earns no subsidy. One per record or line.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ReasonCode {
            $( #[doc = $doc] $variant, )*
        }

        impl ReasonCode {
            /// Every code, in declaration order.
            pub const ALL: &'static [ReasonCode] = &[$(ReasonCode::$variant),*];

            /// The stable snake_case code used in files, metrics and tables.
            pub const fn as_str(self) -> &'static str {
                match self { $(ReasonCode::$variant => $code,)* }
            }

            /// Whether the code means bad input, an exclusion by the rules, or a replaced line.
            pub const fn class(self) -> ReasonClass {
                match self { $(ReasonCode::$variant => ReasonClass::$class,)* }
            }

            /// The code in plain words, as documented here.
            pub const fn explain(self) -> &'static str {
                match self { $(ReasonCode::$variant => $doc,)* }
            }

            /// Parses a stable code back into the enum.
            pub fn parse(code: &str) -> Option<ReasonCode> {
                match code { $($code => Some(ReasonCode::$variant),)* _ => None }
            }
        }
    };
}

reason_codes! {
    Malformed => "malformed", Rejected, "The line is not a JSON object.";
    Oversized => "oversized", Rejected, "The line is longer than 65,536 bytes (a record is a few hundred).";
    MissingField => "missing_field", Rejected, "A required field is absent or null.";
    InvalidField => "invalid_field", Rejected, "A field has the wrong type or an impossible value.";
    InvalidAmount => "invalid_amount", Rejected, "`amount` or `paid_amount` is not a non-negative decimal with at most two decimals, is more than the 1,000,000,000,000 yuan a ledger holds for one record, paid exceeds the amount, or `unit_price` is not a non-negative decimal.";
    UnsupportedCurrency => "unsupported_currency", Rejected, "The currency is not CNY.";
    InvalidTimeRange => "invalid_time_range", Rejected, "`usage_end` is before `usage_start`.";
    OutOfRange => "out_of_range", Rejected, "`usage_start` or `usage_end` lies outside what every ledger store can hold: before 1970-01-01T00:00:00Z or after 2105-12-31 (China Standard Time).";
    InvalidCreditCode => "invalid_credit_code", Rejected, "The unified social credit code fails the GB 32100-2015 check character, or names no authority, type or division of the standard.";
    RevisionConflict => "revision_conflict", Excluded, "Two copies of the same record and revision differ in content; excluded until a higher revision arrives.";
    UnknownEntity => "unknown_entity", Held, "The user is not in the entity registry yet.";
    UnknownCenter => "unknown_center", Held, "The compute center is not in the center registry yet.";
    OutsidePolicyWindow => "outside_policy_window", Excluded, "`usage_end` falls outside every policy version.";
    IneligibleEntityKind => "ineligible_entity_kind", Excluded, "The user is not an enterprise, university or research institute.";
    OutsideProvince => "outside_province", Excluded, "The policy version requires registration in the province.";
    SelfBuiltSelfUsed => "self_built_self_used", Excluded, "The user owns the compute center (自建自用).";
    RelatedParty => "related_party", Excluded, "The center's owner is in the user's related-party group.";
    SubsidizedElsewhere => "subsidized_elsewhere", Excluded, "Another scheme already funds this usage (不重复支持): the funded-elsewhere list names its record id or its contract id; the line names the scheme.";
    ClaimedBySupplier => "claimed_by_supplier", Excluded, "The owner of the compute center claims this compute as its supplier, so the user may not; the line names the supplier.";
    Unpaid => "unpaid", Excluded, "Not paid yet; a later revision may pay it.";
    Refunded => "refunded", Excluded, "The payment was refunded.";
    Duplicate => "duplicate", Superseded, "A repeat of a revision already seen, or of a registry entry.";
    Superseded => "superseded", Superseded, "A higher revision of the same record replaces it.";
}

impl fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for code in ReasonCode::ALL {
            assert!(seen.insert(code.as_str()), "duplicate code {code}");
            assert_eq!(ReasonCode::parse(code.as_str()), Some(*code));
        }
        assert_eq!(ReasonCode::parse("nope"), None);
        assert_eq!(ReasonCode::Refunded.explain(), "The payment was refunded.");
        assert_eq!(ReasonCode::Unpaid.class(), ReasonClass::Excluded);
        assert_eq!(ReasonCode::Malformed.class(), ReasonClass::Rejected);
        assert_eq!(ReasonCode::UnknownCenter.class(), ReasonClass::Held);
    }
}
