//! Policy versions as data: which dates each covers, the rate, the 皖北
//! uplift, the eligible kinds, the province requirement and an optional cap.
//!
//! [`PolicySet::builtin`] is `RULES.md`; a TOML file of the same shape
//! replaces it. Parsing ([`PolicySet::from_toml`]) and checking
//! ([`PolicySet::validate`]) are pure; reading the file is the caller's job.

use crate::budget::Budget;
use crate::place;
use crate::registry::EntityKind;
use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Most versions a policy file may hold.
pub const MAX_VERSIONS: usize = 16;

/// A 皖北-style uplift: the rate is multiplied by `factor` for users registered in one of `cities`,
/// which make up `region` (`region_label` in words); a line's explanation names both.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Uplift {
    /// Multiplier on the rate, e.g. "1.2".
    pub factor: Decimal,
    /// Cities whose registered users get it, e.g. 阜阳市.
    pub cities: Vec<String>,
    /// The region's name as the policy gives it, e.g. "皖北" (the default, for files written before the field).
    #[serde(default = "wanbei")]
    pub region: String,
    /// The region in words, e.g. "northern Anhui" (the default).
    #[serde(default = "wanbei_label")]
    pub region_label: String,
}

/// Longest region name or label, in characters.
pub const MAX_REGION_CHARS: usize = 64;

fn wanbei() -> String {
    "皖北".to_string()
}

fn wanbei_label() -> String {
    "northern Anhui".to_string()
}

impl Uplift {
    /// Why a line carries this uplift at `factor` for a user registered in `city`, e.g.
    /// "皖北 uplift ×1.2: the user is registered in 阜阳市, a northern Anhui city".
    pub fn explain(&self, factor: Decimal, city: &str) -> String {
        format!("{} uplift ×{}: the user is registered in {city}, a {} city", self.region, factor.normalize(), self.region_label)
    }

    fn check(&self) -> Result<(), (&'static str, String)> {
        if self.factor < Decimal::ONE || self.factor > Decimal::TWO || self.factor.scale() > 4 {
            return Err(("uplift.factor", "must be between 1 and 2, with at most 4 decimals".into()));
        }
        if self.cities.is_empty() || self.cities.iter().any(|c| c.is_empty()) {
            return Err(("uplift.cities", "must name at least one city, none of them empty".into()));
        }
        for (field, text) in [("uplift.region", &self.region), ("uplift.region_label", &self.region_label)] {
            let chars = text.chars().count();
            if text.trim().is_empty() || chars > MAX_REGION_CHARS || text.chars().any(char::is_control) {
                return Err((field, format!("must be 1–{MAX_REGION_CHARS} characters, not blank, with no control characters")));
            }
        }
        Ok(())
    }
}

/// One version of the policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyVersion {
    /// Short id, e.g. "v2"; stored on every ledger line.
    pub id: String,
    /// First day covered (China Standard Time, inclusive), "YYYY-MM-DD".
    pub effective_from: NaiveDate,
    /// Last day covered (inclusive).
    pub effective_to: NaiveDate,
    /// Share of the base paid, e.g. "0.20".
    pub rate: Decimal,
    /// Entity kinds that may receive support.
    pub eligible_kinds: Vec<EntityKind>,
    /// When set, users must be registered in this province.
    #[serde(default)]
    pub required_province: Option<String>,
    /// The optional uplift.
    #[serde(default)]
    pub uplift: Option<Uplift>,
    /// Optional cap per entity and calendar year, yuan. One cap per year: every version
    /// covering part of a year must name the same cap, and it limits the year's total
    /// under all of them.
    #[serde(default)]
    pub annual_cap_yuan: Option<Decimal>,
}

impl PolicyVersion {
    /// Whether the version covers a date.
    pub fn covers(&self, date: NaiveDate) -> bool {
        self.effective_from <= date && date <= self.effective_to
    }

    /// The uplift factor for a user registered in `city` (canonical form, see
    /// [`crate::place::city`]; 1 when none applies).
    pub fn uplift_for(&self, city: &str) -> Decimal {
        match &self.uplift {
            Some(u) if u.cities.iter().any(|c| c == city) => u.factor,
            _ => Decimal::ONE,
        }
    }
}

/// The policy file: a list of versions, and the programme's yearly budgets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySet {
    /// The versions, in any order; they must not overlap.
    pub versions: Vec<PolicyVersion>,
    /// One budget per calendar year at most; a year without one pays every approved claim.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub budgets: Vec<Budget>,
}

/// A policy file that cannot be used, naming what is wrong.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PolicyError {
    /// The TOML does not parse into the expected shape.
    #[error("policy file does not parse: {0}")]
    Parse(String),
    /// A field holds a value the rules cannot use.
    #[error("policy version {version:?}: field `{field}` {problem}")]
    Invalid {
        /// The version's id (or its position).
        version: String,
        /// The field.
        field: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// A budget holds a value the programme cannot use.
    #[error("budget of {year}: field `{field}` {problem}")]
    InvalidBudget {
        /// The budget's year.
        year: i32,
        /// The field.
        field: &'static str,
        /// What is wrong.
        problem: String,
    },
}

/// The six 皖北 cities of RULES.md.
pub const WANBEI_CITIES: [&str; 6] = ["宿州市", "淮北市", "蚌埠市", "阜阳市", "淮南市", "亳州市"];

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or(NaiveDate::MIN)
}

impl PolicySet {
    /// The rules of `RULES.md`: v1 2023-10-01…2025-08-10 (Anhui only, no uplift) and
    /// v2 2025-08-11…2027-12-31 (×1.2 for 皖北), 20%, no cap.
    pub fn builtin() -> PolicySet {
        let kinds = vec![EntityKind::Enterprise, EntityKind::University, EntityKind::ResearchInstitute];
        let rate = Decimal::new(20, 2);
        PolicySet {
            versions: vec![
                PolicyVersion {
                    id: "v1".into(),
                    effective_from: date(2023, 10, 1),
                    effective_to: date(2025, 8, 10),
                    rate,
                    eligible_kinds: kinds.clone(),
                    required_province: Some("安徽省".into()),
                    uplift: None,
                    annual_cap_yuan: None,
                },
                PolicyVersion {
                    id: "v2".into(),
                    effective_from: date(2025, 8, 11),
                    effective_to: date(2027, 12, 31),
                    rate,
                    eligible_kinds: kinds,
                    required_province: None,
                    uplift: Some(Uplift {
                        factor: Decimal::new(12, 1),
                        cities: WANBEI_CITIES.iter().map(|c| c.to_string()).collect(),
                        region: wanbei(),
                        region_label: wanbei_label(),
                    }),
                    annual_cap_yuan: None,
                },
            ],
            budgets: Vec::new(),
        }
    }

    /// Parses and validates a TOML policy file's text. Place names are brought to
    /// canonical form, so "安徽" and "阜阳" in a file mean 安徽省 and 阜阳市.
    pub fn from_toml(text: &str) -> Result<PolicySet, PolicyError> {
        let mut set: PolicySet = toml::from_str(text).map_err(|e| PolicyError::Parse(e.to_string()))?;
        for v in &mut set.versions {
            v.required_province = v.required_province.as_deref().map(place::province);
            if let Some(u) = &mut v.uplift {
                u.cities = u.cities.iter().map(|c| place::city(c)).collect();
            }
        }
        for b in &mut set.budgets {
            b.canonicalise();
        }
        set.validate()?;
        set.versions.sort_by_key(|v| v.effective_from);
        set.budgets.sort_by_key(|b| b.year);
        Ok(set)
    }

    /// Renders the set as TOML (the format `from_toml` reads).
    pub fn to_toml(&self) -> Result<String, PolicyError> {
        toml::to_string_pretty(self).map_err(|e| PolicyError::Parse(e.to_string()))
    }

    /// Checks that every version is usable and that no two overlap.
    pub fn validate(&self) -> Result<(), PolicyError> {
        let bad = |v: &PolicyVersion, field, problem: &str| PolicyError::Invalid { version: v.id.clone(), field, problem: problem.into() };
        if self.versions.is_empty() || self.versions.len() > MAX_VERSIONS {
            return Err(PolicyError::Invalid { version: "-".into(), field: "versions", problem: format!("must hold 1 to {MAX_VERSIONS} versions") });
        }
        for (i, v) in self.versions.iter().enumerate() {
            if v.id.trim().is_empty() || v.id.len() > 32 {
                return Err(PolicyError::Invalid { version: format!("#{}", i + 1), field: "id", problem: "must be 1–32 characters".into() });
            }
            if v.effective_to < v.effective_from {
                return Err(bad(v, "effective_to", "is before effective_from"));
            }
            if v.rate <= Decimal::ZERO || v.rate > Decimal::ONE || v.rate.scale() > 4 {
                return Err(bad(v, "rate", "must be above 0 and at most 1, with at most 4 decimals"));
            }
            if v.eligible_kinds.is_empty() {
                return Err(bad(v, "eligible_kinds", "must name at least one kind"));
            }
            if let Some((field, problem)) = v.uplift.as_ref().and_then(|u| u.check().err()) {
                return Err(bad(v, field, &problem));
            }
            if let Some(cap) = v.annual_cap_yuan {
                if cap <= Decimal::ZERO || cap.scale() > 2 {
                    return Err(bad(v, "annual_cap_yuan", "must be positive, with at most 2 decimals"));
                }
            }
            for other in &self.versions[..i] {
                if other.id == v.id {
                    return Err(bad(v, "id", "repeats another version's id"));
                }
                if other.effective_from <= v.effective_to && v.effective_from <= other.effective_to {
                    return Err(bad(v, "effective_from", &format!("overlaps version {:?}", other.id)));
                }
                let shared_year = other.effective_from.year() <= v.effective_to.year() && v.effective_from.year() <= other.effective_to.year();
                if shared_year && other.annual_cap_yuan != v.annual_cap_yuan {
                    return Err(bad(v, "annual_cap_yuan", &format!("differs from version {:?}, which covers part of the same calendar year: one cap per entity and year", other.id)));
                }
            }
        }
        self.validate_budgets()
    }

    fn validate_budgets(&self) -> Result<(), PolicyError> {
        for (i, b) in self.budgets.iter().enumerate() {
            if let Err((field, problem)) = b.check() {
                return Err(PolicyError::InvalidBudget { year: b.year, field, problem });
            }
            if self.budgets[..i].iter().any(|o| o.year == b.year) {
                return Err(PolicyError::InvalidBudget { year: b.year, field: "year", problem: "repeats another budget's year: one budget per year".into() });
            }
        }
        Ok(())
    }

    /// The budget of a calendar year, if the policy sets one.
    pub fn budget(&self, year: i32) -> Option<&Budget> {
        self.budgets.iter().find(|b| b.year == year)
    }

    /// The version covering a date, with its index in this set.
    pub fn version_for(&self, date: NaiveDate) -> Option<(usize, &PolicyVersion)> {
        self.versions.iter().enumerate().find(|(_, v)| v.covers(date))
    }

    /// The index of the version with this id.
    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.versions.iter().position(|v| v.id == id)
    }

    /// The version at an index.
    pub fn version(&self, index: usize) -> Option<&PolicyVersion> {
        self.versions.get(index)
    }

    /// Why a line settled under the version `version_id` carries the uplift `factor`, for a
    /// user registered in `city`, in the words of that version's uplift; `None` when the
    /// factor is 1. A version this set does not know (or one without an uplift) still gets
    /// the factor and the city, without a region.
    pub fn uplift_reason(&self, version_id: &str, factor: Decimal, city: &str) -> Option<String> {
        if factor == Decimal::ONE {
            return None;
        }
        let uplift = self.index_of(version_id).and_then(|i| self.version(i)).and_then(|v| v.uplift.as_ref());
        Some(match uplift {
            Some(u) => u.explain(factor, city),
            None => format!("uplift ×{}: the user is registered in {city} (policy version {version_id:?} names no uplift)", factor.normalize()),
        })
    }

    /// The cap per entity of a calendar year: that of the versions covering part of it
    /// (they agree, see [`PolicySet::validate`]); none when no version covers the year.
    pub fn annual_cap(&self, year: i32) -> Option<Decimal> {
        self.versions.iter().find(|v| v.effective_from.year() <= year && year <= v.effective_to.year()).and_then(|v| v.annual_cap_yuan)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn builtin_is_valid_and_round_trips() {
        let p = PolicySet::builtin();
        p.validate().unwrap();
        assert_eq!(PolicySet::from_toml(&p.to_toml().unwrap()).unwrap(), p);
        assert_eq!(p.version_for(date(2025, 8, 10)).unwrap().1.id, "v1");
        assert_eq!(p.version_for(date(2025, 8, 11)).unwrap().1.id, "v2");
        assert!(p.version_for(date(2023, 9, 30)).is_none());
        assert!(p.version_for(date(2028, 1, 1)).is_none());
    }

    #[test]
    fn shipped_default_file_equals_builtin() {
        let text = include_str!("../../../deploy/policy/default.toml");
        assert_eq!(PolicySet::from_toml(text).unwrap(), PolicySet::builtin());
    }

    #[test]
    fn errors_name_the_field() {
        let base = PolicySet::builtin().to_toml().unwrap();
        let e = PolicySet::from_toml(&base.replacen("rate = \"0.20\"", "rate = \"1.5\"", 1)).unwrap_err();
        assert!(e.to_string().contains("`rate`"), "{e}");
        let e = PolicySet::from_toml(&base.replacen("rate = \"0.20\"", "rat = \"0.2\"", 1)).unwrap_err();
        assert!(e.to_string().contains("rat"), "{e}");
        let e = PolicySet::from_toml(&base.replacen("2025-08-11", "2025-08-01", 1)).unwrap_err();
        assert!(e.to_string().contains("overlaps"), "{e}");
        let e = PolicySet::from_toml(&base.replacen("\"university\"", "\"universe\"", 1)).unwrap_err();
        assert!(e.to_string().contains("universe"), "{e}");
        let e = PolicySet::from_toml("versions = []").unwrap_err();
        assert!(e.to_string().contains("`versions`"), "{e}");
        let capped = base.replacen("rate = \"0.20\"", "rate = \"0.20\"\nannual_cap_yuan = \"1000000\"", 1);
        let e = PolicySet::from_toml(&capped).unwrap_err();
        assert!(e.to_string().contains("one cap per entity and year"), "{e}");
    }

    #[test]
    fn the_uplift_is_explained_in_the_words_of_the_version_a_line_was_settled_under() {
        let p = PolicySet::builtin();
        let factor = Decimal::from_str("1.20").unwrap();
        assert_eq!(p.uplift_reason("v2", factor, "阜阳市").unwrap(), "皖北 uplift ×1.2: the user is registered in 阜阳市, a northern Anhui city");
        assert_eq!(p.uplift_reason("v2", Decimal::ONE, "阜阳市"), None);
        let text = include_str!("../../../deploy/policy/default.toml").replace("region = \"皖北\"", "region = \"江淮\"").replace("\"northern Anhui\"", "\"Jianghuai\"");
        let q = PolicySet::from_toml(&text).unwrap();
        assert_eq!(q.uplift_reason("v2", factor, "合肥市").unwrap(), "江淮 uplift ×1.2: the user is registered in 合肥市, a Jianghuai city");
        let gone = q.uplift_reason("v9", factor, "合肥市").unwrap();
        assert!(gone.contains("×1.2") && gone.contains("\"v9\"") && !gone.contains("江淮"), "{gone}");
    }

    #[test]
    fn a_policy_file_without_a_region_still_loads_as_before() {
        let old: String = include_str!("../../../deploy/policy/default.toml").lines().filter(|l| !l.starts_with("region")).map(|l| format!("{l}\n")).collect();
        assert!(!old.contains("region ="));
        assert_eq!(PolicySet::from_toml(&old).unwrap(), PolicySet::builtin());
    }

    #[test]
    fn the_region_is_checked_and_unknown_fields_still_refused() {
        let base = PolicySet::builtin().to_toml().unwrap();
        for (from, to, field) in [
            ("region = \"皖北\"", "region = \" \"", "`uplift.region`"),
            ("region_label = \"northern Anhui\"", "region_label = \"north\\u001b[2J\"", "`uplift.region_label`"),
            ("region = \"皖北\"", &format!("region = \"{}\"", "北".repeat(65)), "`uplift.region`"),
            ("region = \"皖北\"", "regio = \"皖北\"", "regio"),
        ] {
            assert!(base.contains(from), "{from}");
            let e = PolicySet::from_toml(&base.replacen(from, to, 1)).unwrap_err();
            assert!(e.to_string().contains(field), "{to}: {e}");
        }
    }

    #[test]
    fn place_names_are_canonical_and_caps_are_per_year() {
        let mut text = PolicySet::builtin().to_toml().unwrap().replace("安徽省", " 安徽 ").replace("阜阳市", "阜阳");
        text = text.replace("rate = \"0.20\"", "rate = \"0.20\"\nannual_cap_yuan = \"2000000\"");
        let p = PolicySet::from_toml(&text).unwrap();
        assert_eq!(p.versions[0].required_province.as_deref(), Some("安徽省"));
        assert_eq!(p.versions[1].uplift_for("阜阳市"), Decimal::from_str("1.2").unwrap());
        assert_eq!(p.annual_cap(2025), Some(Decimal::from(2_000_000)));
        assert_eq!(p.annual_cap(2030), None);
    }

    #[test]
    fn the_shipped_programme_example_is_the_builtin_rules_with_a_budget() {
        let p = PolicySet::from_toml(include_str!("../../../deploy/policy/programme-example.toml")).unwrap();
        assert_eq!(p.versions, PolicySet::builtin().versions);
        let b = p.budget(2026).unwrap();
        assert_eq!((b.amount_yuan, b.city_shares.len(), b.city_share("阜阳市")), (Decimal::from(50_000_000), 16, Decimal::new(5, 1)));
    }

    #[test]
    fn budgets_are_read_checked_and_canonical() {
        let base = PolicySet::builtin().to_toml().unwrap();
        let with = format!("{base}\n[[budgets]]\nyear = 2026\namount_yuan = \"50000000.00\"\nover_budget = \"pro_rata\"\ncity_shares = {{ \"阜阳\" = \"0.50\", \"合肥市\" = \"0.5\" }}\n");
        let p = PolicySet::from_toml(&with).unwrap();
        let b = p.budget(2026).unwrap();
        assert_eq!((b.over_budget, b.city_share("阜阳市"), b.city_share("宿州市")), (crate::budget::OverBudget::ProRata, Decimal::new(5, 1), Decimal::ZERO));
        assert!(p.budget(2025).is_none());
        // Written another way, the same budget is the same document; another amount is another.
        let same = with.replace("50000000.00", "50000000").replace("\"0.50\"", "\"0.5\"");
        assert_eq!(crate::PolicyDocument::from_toml(&same).unwrap().hash, crate::PolicyDocument::from_toml(&with).unwrap().hash);
        assert_ne!(crate::PolicyDocument::from_toml(&with.replace("50000000.00", "50000001")).unwrap().hash, crate::PolicyDocument::from_toml(&with).unwrap().hash);
        assert_ne!(crate::PolicyDocument::from_toml(&with).unwrap().hash, crate::PolicyDocument::builtin().hash, "a budget is part of the document");
        for (from, to, field) in [("over_budget = \"pro_rata\"", "over_budget = \"lottery\"", "lottery"), ("year = 2026", "year = 1999", "`year`"), ("\"0.5\" }", "\"1.5\" }", "`city_shares`")] {
            let e = PolicySet::from_toml(&with.replacen(from, to, 1)).unwrap_err();
            assert!(e.to_string().contains(field), "{to}: {e}");
        }
        let twice = format!("{with}\n[[budgets]]\nyear = 2026\namount_yuan = \"1\"\nover_budget = \"first_come\"\n");
        assert!(PolicySet::from_toml(&twice).unwrap_err().to_string().contains("one budget per year"));
    }
}
