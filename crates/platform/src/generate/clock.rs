//! Instants as whole seconds since the Unix epoch, and their RFC 3339 text
//! in China Standard Time (`+08:00`), written without chrono on the hot path.

use std::fmt::Write;
use subsidy_core::Period;

/// China Standard Time's offset from UTC, in seconds.
pub const CST_SECONDS: i64 = 8 * 3600;

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The instant of midnight CST starting a date.
pub fn cst_midnight(year: i64, month: u32, day: u32) -> i64 {
    days_from_civil(year, month, day) * 86_400 - CST_SECONDS
}

/// The instant of midnight CST starting a month.
pub fn month_start(period: Period) -> i64 {
    cst_midnight(i64::from(period.year()), period.month(), 1)
}

/// Appends an instant as `YYYY-MM-DDTHH:MM:SS+08:00`.
pub fn write_cst(out: &mut String, instant: i64) {
    let local = instant + CST_SECONDS;
    let (y, m, d) = civil_from_days(local.div_euclid(86_400));
    let s = local.rem_euclid(86_400);
    // Writing into a String cannot fail.
    let _ = write!(out, "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}+08:00", s / 3600, s % 3600 / 60, s % 60);
}

/// An instant as RFC 3339 text in CST.
pub fn cst_text(instant: i64) -> String {
    let mut s = String::with_capacity(25);
    write_cst(&mut s, instant);
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

    #[test]
    fn agrees_with_chrono() {
        for instant in [0i64, 1_754_841_599, 1_754_841_600, 1_756_656_000 - 1, 951_782_400, 4_102_444_800, -86_401] {
            let text = cst_text(instant);
            let parsed = DateTime::parse_from_rfc3339(&text).unwrap();
            assert_eq!(parsed.timestamp(), instant, "{text}");
        }
        assert_eq!(cst_text(cst_midnight(2025, 8, 11)), "2025-08-11T00:00:00+08:00");
        assert_eq!(civil_from_days(days_from_civil(2024, 2, 29)), (2024, 2, 29));
        let p = Period::new(2025, 12).unwrap();
        assert_eq!(cst_text(month_start(p.next())), "2026-01-01T00:00:00+08:00");
    }
}
