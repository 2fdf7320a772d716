//! Exact decimals at the storage edge, shared by both stores.
//!
//! Yuan amounts are stored at four decimals (`Decimal(18,4)`), exact
//! contributions at [`EXACT_SCALE`] decimals (`Decimal(38,10)`); SQLite keeps
//! the decimal text. On the way out both stores normalise the same way, so
//! they return identical values: yuan at two decimals when that is exact,
//! contributions at ten, ratios without trailing zeros.

use crate::{StoreError, StoreResult};
use rust_decimal::Decimal;
use subsidy_core::money::CONTRIBUTION_SCALE;

/// Scale of exact contributions and their sums.
pub(crate) const EXACT_SCALE: u32 = CONTRIBUTION_SCALE;

/// The mantissa of `value` at `scale`, when it has no more decimals than that and fits.
pub(crate) fn to_scaled_i128(value: Decimal, scale: u32) -> Option<i128> {
    let shift = scale.checked_sub(value.scale())?;
    value.mantissa().checked_mul(10i128.checked_pow(shift)?)
}

/// The inverse of [`to_scaled_i128`]; `None` when it does not fit a `Decimal`.
pub(crate) fn from_scaled_i128(mantissa: i128, scale: u32) -> Option<Decimal> {
    Decimal::try_from_i128_with_scale(mantissa, scale).ok()
}

/// A yuan amount as a `Decimal(18,4)` mantissa, or `Rejected` naming the field.
pub(crate) fn yuan_to_i64(value: Decimal, field: &str) -> StoreResult<i64> {
    subsidy_core::money::to_scaled_i64(value).ok_or_else(|| StoreError::rejected(format!("{field} {value} does not fit Decimal(18,4)")))
}

/// A ratio (rate, uplift) as a `Decimal(9,4)` mantissa, or `Rejected` naming the field.
pub(crate) fn ratio_to_i32(value: Decimal, field: &str) -> StoreResult<i32> {
    subsidy_core::money::to_scaled_i64(value)
        .and_then(|v| i32::try_from(v).ok())
        .ok_or_else(|| StoreError::rejected(format!("{field} {value} does not fit Decimal(9,4)")))
}

/// An exact amount as a `Decimal(38,10)` mantissa, or `Rejected` naming the field.
pub(crate) fn exact_to_i128(value: Decimal, field: &str) -> StoreResult<i128> {
    to_scaled_i128(value, EXACT_SCALE).ok_or_else(|| StoreError::rejected(format!("{field} {value} has more than {EXACT_SCALE} decimals")))
}

/// A `Decimal(38,s)` mantissa read back, or `Corrupt` naming the field.
pub(crate) fn exact_from_i128(mantissa: i128, scale: u32, field: &str) -> StoreResult<Decimal> {
    from_scaled_i128(mantissa, scale).ok_or_else(|| StoreError::corrupt(format!("{field} {mantissa}e-{scale} does not fit a decimal")))
}

/// Yuan as returned by every store: two decimals when that is exact, else as stored.
pub(crate) fn yuan(value: Decimal) -> Decimal {
    let mut v = value.normalize();
    if v.scale() < 2 {
        v.rescale(2);
    }
    v
}

/// An exact contribution as returned by every store: at [`EXACT_SCALE`] decimals.
pub(crate) fn exact(value: Decimal) -> Decimal {
    let mut v = value;
    if v.scale() < EXACT_SCALE {
        v.rescale(EXACT_SCALE);
    }
    v
}

/// A rate or uplift as returned by every store: without trailing zeros.
pub(crate) fn ratio(value: Decimal) -> Decimal {
    value.normalize()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn scales_exactly_or_refuses() {
        assert_eq!(to_scaled_i128(d("0.0000000001"), 10), Some(1));
        assert_eq!(to_scaled_i128(d("12.5"), 10), Some(125_000_000_000));
        assert_eq!(to_scaled_i128(d("0.00000000001"), 10), None);
        assert_eq!(from_scaled_i128(1, 10), Some(d("0.0000000001")));
        assert_eq!(from_scaled_i128(i128::MAX, 10), None);
        assert!(exact_to_i128(d("1.00000000001"), "contribution").is_err());
        assert!(yuan_to_i64(d("1.00001"), "base").is_err());
        assert!(ratio_to_i32(d("1000000"), "rate").is_err());
    }

    /// The bounds the core checks records against at decode fit these columns.
    #[test]
    fn the_largest_amount_and_contribution_of_a_record_fit_the_columns() {
        use subsidy_core::bounds::MAX_LINE_CONTRIBUTION_YUAN;
        use subsidy_core::money::MAX_AMOUNT_YUAN;
        let paid = yuan_to_i64(Decimal::from(MAX_AMOUNT_YUAN), "paid_amount").unwrap();
        assert!(i128::from(paid) < 10i128.pow(18), "Decimal(18,4) holds {paid}e-4");
        let contribution = exact_to_i128(Decimal::from(MAX_LINE_CONTRIBUTION_YUAN), "contribution").unwrap();
        assert!(contribution < 10i128.pow(38), "Decimal(38,10) holds {contribution}e-10");
        assert_eq!(exact_from_i128(contribution, EXACT_SCALE, "contribution").unwrap(), Decimal::from(MAX_LINE_CONTRIBUTION_YUAN));
    }

    #[test]
    fn normalises_the_same_way_everywhere() {
        assert_eq!(yuan(d("12.3400")).to_string(), "12.34");
        assert_eq!(yuan(d("12")).to_string(), "12.00");
        assert_eq!(yuan(d("0.0001")).to_string(), "0.0001");
        assert_eq!(exact(d("0.5")).to_string(), "0.5000000000");
        assert_eq!(ratio(d("0.3000")).to_string(), "0.3");
    }
}
