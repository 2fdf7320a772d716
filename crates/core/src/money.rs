//! Money: yuan as exact decimals, strict parsing, and the one rounding rule.
//!
//! Amounts are `rust_decimal::Decimal` yuan. Inputs carry at most two
//! decimals (fen); products with the rate and uplift are kept exact and the
//! sum per entity and period is rounded down to the fen once, by
//! [`round_down_to_fen`], the only rounding in the project.

use rust_decimal::{Decimal, RoundingStrategy};

/// An amount in yuan.
pub type Money = Decimal;

/// Largest amount accepted on one record, in yuan (one trillion).
pub const MAX_AMOUNT_YUAN: i64 = 1_000_000_000_000;

/// Rounds an amount down (toward negative infinity) to whole fen.
///
/// Every rule says "no more than X%", so rounding down is the only mode
/// that can never exceed the ceiling. Called once per entity and period.
pub fn round_down_to_fen(amount: Decimal) -> Decimal {
    let mut r = amount.round_dp_with_strategy(2, RoundingStrategy::ToNegativeInfinity);
    r.rescale(2);
    r
}

/// Why a decimal string was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecimalError {
    /// Not of the form `digits[.digits]`.
    Syntax,
    /// More fractional digits than allowed.
    TooManyDecimals,
    /// Larger than [`MAX_AMOUNT_YUAN`].
    TooLarge,
}

/// Parses a non-negative plain decimal (`123`, `0.5`, `12.34`) with at most
/// `max_dp` fractional digits. Signs, exponents, spaces and empty parts are refused.
pub fn parse_decimal(text: &str, max_dp: u32) -> Result<Decimal, DecimalError> {
    let (int, frac) = match text.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (text, None),
    };
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DecimalError::Syntax);
    }
    if let Some(f) = frac {
        if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) {
            return Err(DecimalError::Syntax);
        }
        if f.len() > max_dp as usize {
            return Err(DecimalError::TooManyDecimals);
        }
    }
    let digits = int.trim_start_matches('0');
    if digits.len() > 13 {
        return Err(DecimalError::TooLarge);
    }
    let value: Decimal = text.parse().map_err(|_| DecimalError::Syntax)?;
    if value > Decimal::from(MAX_AMOUNT_YUAN) {
        return Err(DecimalError::TooLarge);
    }
    Ok(value)
}

/// Most significant digits a quantity may have and still be kept exactly.
pub const MAX_QUANTITY_DIGITS: usize = 28;

/// Parses a non-negative plain decimal of any precision that can be kept
/// exactly: informational quantities (card-hours, unit prices), which never
/// carry the two-decimal rule of money. `"18.000000"` is eighteen.
pub fn parse_quantity(text: &str) -> Result<Decimal, DecimalError> {
    let (int, frac) = match text.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (text, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || frac.is_some_and(|f| !digits(f)) {
        return Err(DecimalError::Syntax);
    }
    // Only significant digits count: leading zeros of the integer, trailing ones of the fraction do not.
    let (significant_int, fraction) = (int.trim_start_matches('0'), frac.unwrap_or(""));
    let significant_frac = fraction.trim_end_matches('0');
    if significant_int.len() > 13 {
        return Err(DecimalError::TooLarge);
    }
    if significant_int.len() + significant_frac.len() > MAX_QUANTITY_DIGITS {
        return Err(DecimalError::TooManyDecimals);
    }
    // Keep the scale as written ("64.50") when it fits, else the significant digits.
    let int = if significant_int.is_empty() { "0" } else { significant_int };
    let kept = if int.len() + fraction.len() <= MAX_QUANTITY_DIGITS { fraction } else { significant_frac };
    let value = if kept.is_empty() { int.parse() } else { format!("{int}.{kept}").parse() };
    value.map_err(|_| DecimalError::Syntax)
}

/// Scale (decimal places) of every exact contribution: base (2) + rate (≤ 4) + uplift (≤ 4).
/// Keeping one scale makes every sum a plain mantissa addition.
pub const CONTRIBUTION_SCALE: u32 = 10;

/// Parses a yuan amount: at most two decimals, returned at scale 2.
pub fn parse_yuan(text: &str) -> Result<Money, DecimalError> {
    let mut v = parse_decimal(text, 2)?;
    v.rescale(2);
    Ok(v)
}

/// Formats an amount with exactly two decimals (`12.30`), as in the settlement CSV.
pub fn format_yuan(amount: Decimal) -> String {
    // A difference that came out as zero may carry a minus sign; zero is zero.
    let mut a = if amount.is_zero() { Decimal::ZERO } else { amount };
    a.rescale(2);
    a.to_string()
}

/// The amount as an integer count of 1/10000 yuan, the storage form of a `Decimal(18,4)` column.
///
/// Returns `None` when the amount has more than four decimals or does not fit.
pub fn to_scaled_i64(amount: Decimal) -> Option<i64> {
    let mut a = amount;
    if a.scale() > 4 {
        return None;
    }
    a.rescale(4);
    i64::try_from(a.mantissa()).ok()
}

/// The inverse of [`to_scaled_i64`].
pub fn from_scaled_i64(scaled: i64) -> Decimal {
    Decimal::new(scaled, 4)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use rust_decimal::prelude::*;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn rounds_down_once_to_fen() {
        assert_eq!(round_down_to_fen(d("1.239")).to_string(), "1.23");
        assert_eq!(round_down_to_fen(d("1.2")).to_string(), "1.20");
        assert_eq!(round_down_to_fen(d("-1.231")).to_string(), "-1.24");
        assert_eq!(round_down_to_fen(d("0.0099")).to_string(), "0.00");
    }

    #[test]
    fn parses_strict_yuan() {
        assert_eq!(parse_yuan("12.34"), Ok(d("12.34")));
        assert_eq!(parse_yuan("0"), Ok(d("0")));
        assert_eq!(parse_yuan("007.5"), Ok(d("7.5")));
        for bad in ["", ".5", "5.", "-1", "+1", "1e3", " 1", "1,0", "abc", "1.2.3"] {
            assert_eq!(parse_yuan(bad), Err(DecimalError::Syntax), "{bad:?}");
        }
        assert_eq!(parse_yuan("1.234"), Err(DecimalError::TooManyDecimals));
        assert_eq!(parse_yuan("1000000000001"), Err(DecimalError::TooLarge));
        assert_eq!(parse_yuan("99999999999999999999999999999999"), Err(DecimalError::TooLarge));
    }

    #[test]
    fn quantities_take_any_precision_that_fits() {
        assert_eq!(parse_quantity("18.000000"), Ok(d("18")));
        assert_eq!(parse_quantity("64.50").map(|v| v.to_string()), Ok("64.50".to_string()));
        assert_eq!(parse_quantity(&format!("1.{}", "0".repeat(40))), Ok(d("1")));
        assert_eq!(parse_quantity("0.000000000000000000000000125"), Ok(d("0.000000000000000000000000125")));
        assert_eq!(parse_quantity("007.50"), Ok(d("7.5")));
        assert_eq!(parse_quantity("0"), Ok(d("0")));
        for bad in ["", ".5", "5.", "-1", "+1", "1e3", " 1", "NaN", "Infinity", "1.2.3"] {
            assert_eq!(parse_quantity(bad), Err(DecimalError::Syntax), "{bad:?}");
        }
        assert_eq!(parse_quantity("12345678901234"), Err(DecimalError::TooLarge));
        assert_eq!(parse_quantity(&format!("1.{}", "1".repeat(28))), Err(DecimalError::TooManyDecimals));
    }

    #[test]
    fn formats_two_decimals_and_scales() {
        assert_eq!(format_yuan(d("12.3")), "12.30");
        assert_eq!(format_yuan(d("0")), "0.00");
        assert_eq!(format_yuan(d("1.00") - d("1.00")), "0.00");
        assert_eq!(format_yuan(-d("0.00")), "0.00");
        assert_eq!(format_yuan(d("-59.87")), "-59.87");
        assert_eq!(to_scaled_i64(d("12.3456")), Some(123456));
        assert_eq!(to_scaled_i64(d("1.23456")), None);
        assert_eq!(from_scaled_i64(123456), d("12.3456"));
    }
}
