//! What every ledger store can hold: the bounds a record's stored values are
//! checked against when the record is decoded, so that a record the stores
//! cannot keep is refused with a reason instead of making its batch unwritable.
//!
//! The tighter of the two stores decides each bound. ClickHouse 18.16 keeps a
//! line's day as `Date` (days since 1970-01-01 in a UInt16; its date functions
//! are exact only through the year 2105) and times as `DateTime` (seconds since
//! 1970-01-01 UTC in a UInt32, to 2106-02-07); yuan as `Decimal(18,4)` (14
//! integer digits) and exact contributions as `Decimal(38,10)` (28 integer
//! digits). SQLite keeps decimals as text and integers in 64 bits, so it holds
//! everything ClickHouse does. Revisions are bounded by
//! [`crate::record::MAX_REVISION`], amounts on one record by
//! [`crate::money::MAX_AMOUNT_YUAN`]; the assertions below tie both to the columns.

use crate::money::{CONTRIBUTION_SCALE, MAX_AMOUNT_YUAN};
use crate::period::CST_OFFSET_SECONDS;
use chrono::{DateTime, FixedOffset};

/// Earliest usage time a ledger holds, Unix seconds: 1970-01-01T00:00:00Z, the first
/// instant of ClickHouse's `DateTime` (and of `Date`, day 0).
pub const EARLIEST_USAGE_SECONDS: i64 = 0;

/// Latest usage time a ledger holds, Unix seconds: 2105-12-31T23:59:59 China Standard
/// Time, the end of the last year ClickHouse 18.16's `Date` functions cover (its
/// `DateTime` lasts to 2106-02-07, its `Date` column to 2149, but a day of 2106 would not
/// read back as a month).
pub const LATEST_USAGE_SECONDS: i64 = 4_291_747_200 - CST_OFFSET_SECONDS as i64 - 1;

/// Integer digits of a yuan column, `Decimal(18,4)`: 18 − 4.
pub const YUAN_COLUMN_INTEGER_DIGITS: u32 = 14;

/// Integer digits of the exact contribution column, `Decimal(38,10)`: 38 − 10.
pub const CONTRIBUTION_COLUMN_INTEGER_DIGITS: u32 = 38 - CONTRIBUTION_SCALE;

/// Highest rate a policy version may set (`PolicySet::validate` refuses more).
pub const MAX_POLICY_RATE: i64 = 1;

/// Highest uplift factor a policy version may set (`PolicySet::validate` refuses more).
pub const MAX_POLICY_UPLIFT: i64 = 2;

/// Largest contribution one line can reach, yuan: the largest amount at the highest
/// rate and uplift.
pub const MAX_LINE_CONTRIBUTION_YUAN: i64 = MAX_AMOUNT_YUAN * MAX_POLICY_RATE * MAX_POLICY_UPLIFT;

// The largest amount fits a yuan column, and the largest contribution the contribution
// column; both below the first power of ten that has one digit too many.
const _: () = assert!(MAX_AMOUNT_YUAN < 10_i64.pow(YUAN_COLUMN_INTEGER_DIGITS));
const _: () =
    assert!((MAX_LINE_CONTRIBUTION_YUAN as i128) < 10_i128.pow(CONTRIBUTION_COLUMN_INTEGER_DIGITS));
// The latest usage time is a `DateTime` (UInt32 seconds).
const _: () = assert!(LATEST_USAGE_SECONDS <= u32::MAX as i64);

/// Why a usage time is outside what a ledger holds, naming the field and the bound; `None` when it fits.
pub fn usage_time_out_of_range(field: &str, t: &DateTime<FixedOffset>) -> Option<String> {
    let secs = t.timestamp();
    if secs < EARLIEST_USAGE_SECONDS {
        return Some(format!(
            "`{field}` {} is before 1970-01-01T00:00:00Z, the earliest usage time a ledger holds",
            t.to_rfc3339()
        ));
    }
    if secs > LATEST_USAGE_SECONDS {
        return Some(format!(
            "`{field}` {} is after 2105-12-31T23:59:59+08:00, the latest usage time a ledger holds",
            t.to_rfc3339()
        ));
    }
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::policy::PolicySet;
    use rust_decimal::Decimal;

    fn at(text: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(text).unwrap()
    }

    #[test]
    fn the_bounds_are_the_instants_their_docs_name() {
        assert_eq!(
            at("1970-01-01T00:00:00Z").timestamp(),
            EARLIEST_USAGE_SECONDS
        );
        assert_eq!(
            at("2105-12-31T23:59:59+08:00").timestamp(),
            LATEST_USAGE_SECONDS
        );
        // The last day is a `Date` (UInt16 days) and the last instant a `DateTime` (UInt32 seconds).
        let last_day = crate::period::cst_date(&at("2105-12-31T23:59:59+08:00"));
        let days = (last_day - chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()).num_days();
        assert!(u16::try_from(days).is_ok(), "{days}");
        assert!(u32::try_from(LATEST_USAGE_SECONDS).is_ok());
    }

    #[test]
    fn times_just_inside_pass_and_just_outside_are_named() {
        for inside in [
            "1970-01-01T00:00:00Z",
            "1970-01-01T08:00:00+08:00",
            "2105-12-31T23:59:59+08:00",
            "2105-12-31T15:59:59Z",
        ] {
            assert_eq!(
                usage_time_out_of_range("usage_end", &at(inside)),
                None,
                "{inside}"
            );
        }
        for outside in [
            "1969-12-31T23:59:59Z",
            "1970-01-01T07:59:59+08:00",
            "2106-01-01T00:00:00+08:00",
            "2105-12-31T16:00:00Z",
        ] {
            let why = usage_time_out_of_range("usage_end", &at(outside)).expect(outside);
            assert!(why.starts_with("`usage_end`"), "{why}");
        }
    }

    #[test]
    fn the_policy_limits_named_here_are_the_ones_validate_enforces() {
        let file = |rate: &str, factor: &str| {
            format!(
                "[[versions]]\nid = \"v\"\neffective_from = \"2025-01-01\"\neffective_to = \"2025-12-31\"\nrate = \"{rate}\"\neligible_kinds = [\"enterprise\"]\n\
                 [versions.uplift]\nfactor = \"{factor}\"\ncities = [\"宿州市\"]\n"
            )
        };
        let (rate, uplift) = (
            Decimal::from(MAX_POLICY_RATE),
            Decimal::from(MAX_POLICY_UPLIFT),
        );
        let ok = PolicySet::from_toml(&file(&rate.to_string(), &uplift.to_string()));
        assert!(ok.is_ok(), "{ok:?}");
        let step = Decimal::new(1, 4);
        assert!(
            PolicySet::from_toml(&file(&(rate + step).to_string(), &uplift.to_string())).is_err()
        );
        assert!(
            PolicySet::from_toml(&file(&rate.to_string(), &(uplift + step).to_string())).is_err()
        );
    }
}
