//! Settlement periods and China Standard Time.
//!
//! A record belongs to the calendar month of its `usage_end` in China
//! Standard Time (UTC+8, no daylight saving); the same date picks the policy version.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, TimeDelta};
use std::fmt;

/// China Standard Time's offset from UTC, in seconds.
pub const CST_OFFSET_SECONDS: i32 = 8 * 3600;

/// The calendar date of an instant in China Standard Time.
pub fn cst_date(instant: &DateTime<FixedOffset>) -> NaiveDate {
    (instant.naive_utc() + TimeDelta::seconds(i64::from(CST_OFFSET_SECONDS))).date()
}

/// A calendar month, `YYYY-MM`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Period(u32);

impl Period {
    /// The month with the given year and month (1–12).
    pub fn new(year: i32, month: u32) -> Option<Period> {
        if !(1..=12).contains(&month) || !(1..=9999).contains(&year) {
            return None;
        }
        Some(Period(year as u32 * 100 + month))
    }

    /// The month containing a date.
    pub fn of_date(date: NaiveDate) -> Period {
        Period(date.year().clamp(1, 9999) as u32 * 100 + date.month())
    }

    /// Parses `YYYY-MM`.
    pub fn parse(text: &str) -> Option<Period> {
        let (y, m) = text.split_once('-')?;
        if y.len() != 4 || m.len() != 2 {
            return None;
        }
        Period::new(y.parse().ok()?, m.parse().ok()?)
    }

    /// The year.
    pub fn year(self) -> i32 {
        (self.0 / 100) as i32
    }

    /// The month, 1–12.
    pub fn month(self) -> u32 {
        self.0 % 100
    }

    /// `YYYYMM` as an integer (the storage form).
    pub fn as_yyyymm(self) -> u32 {
        self.0
    }

    /// The inverse of [`Period::as_yyyymm`].
    pub fn from_yyyymm(v: u32) -> Option<Period> {
        Period::new((v / 100) as i32, v % 100)
    }

    /// Unix time (seconds) at which the month ends: the first instant of the next month in
    /// China Standard Time.
    pub fn end_timestamp(self) -> i64 {
        let next = self.next();
        NaiveDate::from_ymd_opt(next.year(), next.month(), 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map_or(0, |t| t.and_utc().timestamp() - i64::from(CST_OFFSET_SECONDS))
    }

    /// The following month.
    pub fn next(self) -> Period {
        if self.month() == 12 {
            Period((self.year() as u32 + 1) * 100 + 1)
        } else {
            Period(self.0 + 1)
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year(), self.month())
    }
}

impl fmt::Debug for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Period({self})")
    }
}

impl serde::Serialize for Period {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Period {
    /// `YYYY-MM`, as [`Period::parse`] reads it.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Period, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Period::parse(&text).ok_or_else(|| serde::de::Error::custom(format!("{text:?} is not a month (YYYY-MM)")))
    }
}

impl Period {
    /// The first day of the month.
    pub fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year(), self.month(), 1).unwrap_or(NaiveDate::MIN)
    }

    /// The last day of the month.
    pub fn last_day(self) -> NaiveDate {
        self.next().first_day().pred_opt().unwrap_or(NaiveDate::MIN)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn a_month_ends_at_midnight_china_standard_time() {
        // 2025-10-01T00:00:00+08:00 = 2025-09-30T16:00:00Z.
        assert_eq!(Period::new(2025, 9).unwrap().end_timestamp(), 1_759_248_000);
        assert_eq!(Period::new(2025, 12).unwrap().end_timestamp(), 1_767_196_800);
    }

    #[test]
    fn month_boundary_is_in_cst() {
        let t = DateTime::parse_from_rfc3339("2025-08-31T16:30:00Z").unwrap();
        assert_eq!(Period::of_date(cst_date(&t)).to_string(), "2025-09");
        let t = DateTime::parse_from_rfc3339("2025-08-31T15:59:59Z").unwrap();
        assert_eq!(Period::of_date(cst_date(&t)).to_string(), "2025-08");
        let t = DateTime::parse_from_rfc3339("2025-09-01T00:10:00+08:00").unwrap();
        assert_eq!(Period::of_date(cst_date(&t)).to_string(), "2025-09");
    }

    #[test]
    fn parses_and_steps() {
        let p = Period::parse("2025-12").unwrap();
        assert_eq!(p.next().to_string(), "2026-01");
        assert_eq!(Period::from_yyyymm(p.as_yyyymm()), Some(p));
        assert_eq!(Period::parse("2025-13"), None);
        assert_eq!(Period::parse("25-01"), None);
    }
}
