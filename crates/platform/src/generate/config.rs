//! The generator's configuration: sizes, the month range, the shares of
//! revisions, duplicates and malformed lines, and its pure validation.

use serde::{Deserialize, Serialize};
use subsidy_core::Period;

/// Largest number of entities the generator makes.
pub const MAX_ENTITIES: usize = 100_000;
/// Largest number of compute centers.
pub const MAX_CENTERS: usize = 1_000;
/// Largest number of record lines.
pub const MAX_RECORDS: usize = 50_000_000;
/// Largest share for any of the three shares.
pub const MAX_SHARE: f64 = 0.5;

/// An inclusive range of calendar months whose usage the records cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonthRange {
    /// First month, `YYYY-MM`.
    #[serde(with = "period_text")]
    pub start: Period,
    /// Last month, `YYYY-MM`, inclusive.
    #[serde(with = "period_text")]
    pub end: Period,
}

impl MonthRange {
    /// 2025-06 … 2025-11: both policy versions, with the v1/v2 boundary (2025-08-10/11) inside.
    pub fn default_range() -> MonthRange {
        // Both months are valid constants; the fallback is never taken.
        let start = Period::new(2025, 6).unwrap_or_else(|| Period::of_date(chrono::NaiveDate::MIN));
        let end = Period::new(2025, 11).unwrap_or(start);
        MonthRange { start, end }
    }
}

impl Default for MonthRange {
    fn default() -> MonthRange {
        MonthRange::default_range()
    }
}

mod period_text {
    use serde::{Deserialize, Deserializer, Serializer};
    use subsidy_core::Period;

    pub fn serialize<S: Serializer>(p: &Period, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(p)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Period, D::Error> {
        let text = String::deserialize(d)?;
        Period::parse(&text).ok_or_else(|| serde::de::Error::custom(format!("{text:?} is not a YYYY-MM month")))
    }
}

/// What to generate. Equal configurations give byte-identical data sets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GenConfig {
    /// Seed of every random choice.
    pub seed: u64,
    /// Registered entities (users and center owners).
    pub entities: usize,
    /// Compute centers.
    pub centers: usize,
    /// Record lines in the served stream, revisions, duplicates and malformed lines included.
    pub records: usize,
    /// Months whose usage the records cover.
    pub months: MonthRange,
    /// Share of lines that are malformed or refer to unknown entities or centers.
    pub malformed_share: f64,
    /// Share of lines repeated exactly (same revision) right after themselves.
    pub duplicate_share: f64,
    /// Share of records that get at least one later revision (payment, refund or correction).
    pub revision_share: f64,
}

impl Default for GenConfig {
    fn default() -> GenConfig {
        GenConfig {
            seed: 20_250_811,
            entities: 300,
            centers: 20,
            records: 10_000,
            months: MonthRange::default(),
            malformed_share: 0.01,
            duplicate_share: 0.02,
            revision_share: 0.15,
        }
    }
}

/// A configuration the generator cannot use.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("generator config: `{field}` {problem}")]
pub struct GenConfigError {
    /// The field.
    pub field: &'static str,
    /// What is wrong with it.
    pub problem: String,
}

fn bad(field: &'static str, problem: String) -> Result<(), GenConfigError> {
    Err(GenConfigError { field, problem })
}

impl GenConfig {
    /// Checks sizes, shares and the month range.
    pub fn validate(&self) -> Result<(), GenConfigError> {
        if !(10..=MAX_ENTITIES).contains(&self.entities) {
            return bad("entities", format!("must be 10–{MAX_ENTITIES}, is {}", self.entities));
        }
        if !(1..=MAX_CENTERS).contains(&self.centers) {
            return bad("centers", format!("must be 1–{MAX_CENTERS}, is {}", self.centers));
        }
        if self.centers > self.entities / 2 {
            return bad("centers", format!("must be at most half the entities ({}), is {}", self.entities / 2, self.centers));
        }
        if self.records > MAX_RECORDS {
            return bad("records", format!("must be at most {MAX_RECORDS}, is {}", self.records));
        }
        if self.months.end < self.months.start {
            return bad("months", format!("end {} is before start {}", self.months.end, self.months.start));
        }
        for (field, share) in [
            ("malformed_share", self.malformed_share),
            ("duplicate_share", self.duplicate_share),
            ("revision_share", self.revision_share),
        ] {
            if !(0.0..=MAX_SHARE).contains(&share) {
                return bad(field, format!("must be within 0–{MAX_SHARE}, is {share}"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid_and_round_trips() {
        let c = GenConfig::default();
        c.validate().unwrap();
        let json = serde_json::to_string(&c).unwrap();
        assert!(json.contains(r#""start":"2025-06""#), "{json}");
        assert_eq!(serde_json::from_str::<GenConfig>(&json).unwrap(), c);
        let partial: GenConfig = serde_json::from_str(r#"{"seed":7,"months":{"start":"2025-08","end":"2025-08"}}"#).unwrap();
        assert_eq!((partial.seed, partial.entities), (7, 300));
        assert!(serde_json::from_str::<GenConfig>(r#"{"sead":7}"#).is_err());
    }

    #[test]
    fn refuses_bad_values() {
        let c = GenConfig { malformed_share: 0.9, ..GenConfig::default() };
        assert_eq!(c.validate().unwrap_err().field, "malformed_share");
        let c = GenConfig { centers: 0, ..GenConfig::default() };
        assert_eq!(c.validate().unwrap_err().field, "centers");
        let mut c = GenConfig::default();
        c.months = MonthRange { start: c.months.end, end: c.months.start };
        assert_eq!(c.validate().unwrap_err().field, "months");
    }
}
