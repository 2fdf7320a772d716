//! The simulator's configuration: the bearer token, how records are
//! released over time, and the fault switches.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Fault switches. Rates are per request, in 0–1, drawn from a seeded RNG.
/// Faults never change which records a cursor leads to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Faults {
    /// Share of requests answered 500 or 503 (half each).
    pub error_rate: f64,
    /// Share of requests answered 429 with `Retry-After`.
    pub rate_limit_rate: f64,
    /// Seconds in the `Retry-After` header of 429 and 503 answers.
    pub retry_after_secs: u64,
    /// Share of requests answered only after `slow_ms`.
    pub slow_rate: f64,
    /// Delay of a slow answer, milliseconds.
    pub slow_ms: u64,
    /// Share of 200 answers whose body is cut in the middle.
    pub truncate_rate: f64,
    /// Share of 200 answers whose body is not the API's JSON (a proxy's HTML error page).
    pub malformed_rate: f64,
    /// Share of record pages that start half a page early, repeating records of the page before.
    pub repeat_rate: f64,
    /// The first this many requests for record pages (with the right token) are answered
    /// 429 with `Retry-After: retry_after_secs`, whatever the rates draw; 0: off.
    pub rate_limit_first: u64,
    /// When above 0, the entity and center lists each end with one more item: a copy
    /// of their first with its name padded to more than this many bytes. 0: off.
    pub oversized_registry_bytes: usize,
    /// When set, every request with the right token is answered 307 with this `Location`.
    pub redirect_to: Option<String>,
    /// When set, some records of one center and day range are withheld from
    /// `/v1/usage-records` (the usage counts still count them) until
    /// [`SimState::release_withheld`](super::SimState::release_withheld).
    pub withhold: Option<Withhold>,
}

/// Records the platform holds and counts but does not serve: a platform bug, a page skipped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Withhold {
    /// The compute center.
    pub center_id: String,
    /// First day (China Standard Time) whose records are withheld.
    pub from: chrono::NaiveDate,
    /// Last day, inclusive.
    pub to: chrono::NaiveDate,
    /// Share of the center's records of each day withheld (rounded up: at least one a day
    /// that has records), in 0–1.
    pub fraction: f64,
}

/// Largest [`Faults::oversized_registry_bytes`].
pub const MAX_OVERSIZED_REGISTRY_BYTES: usize = 16 << 20;

impl Default for Faults {
    fn default() -> Faults {
        Faults::none()
    }
}

impl Faults {
    /// No faults.
    pub fn none() -> Faults {
        Faults {
            error_rate: 0.0,
            rate_limit_rate: 0.0,
            retry_after_secs: 1,
            slow_rate: 0.0,
            slow_ms: 2_000,
            truncate_rate: 0.0,
            malformed_rate: 0.0,
            repeat_rate: 0.0,
            rate_limit_first: 0,
            oversized_registry_bytes: 0,
            redirect_to: None,
            withhold: None,
        }
    }

    /// Checks that every rate is within 0–1, the padding bounded and the redirect a header value.
    pub fn validate(&self) -> Result<(), SimConfigError> {
        for (field, rate) in [
            ("error_rate", self.error_rate),
            ("rate_limit_rate", self.rate_limit_rate),
            ("slow_rate", self.slow_rate),
            ("truncate_rate", self.truncate_rate),
            ("malformed_rate", self.malformed_rate),
            ("repeat_rate", self.repeat_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(SimConfigError { field, problem: format!("must be within 0–1, is {rate}") });
            }
        }
        if self.slow_ms > 600_000 {
            return Err(SimConfigError { field: "slow_ms", problem: "must be at most 600000".into() });
        }
        if self.oversized_registry_bytes > MAX_OVERSIZED_REGISTRY_BYTES {
            return Err(SimConfigError { field: "oversized_registry_bytes", problem: format!("must be at most {MAX_OVERSIZED_REGISTRY_BYTES}") });
        }
        if let Some(w) = &self.withhold {
            if !(w.fraction > 0.0 && w.fraction <= 1.0) {
                return Err(SimConfigError { field: "withhold.fraction", problem: format!("must be above 0 and at most 1, is {}", w.fraction) });
            }
            if w.to < w.from || w.center_id.is_empty() {
                return Err(SimConfigError { field: "withhold", problem: "needs a center and `to` not before `from`".into() });
            }
        }
        if let Some(to) = &self.redirect_to {
            if to.is_empty() || axum::http::HeaderValue::from_str(to).is_err() {
                return Err(SimConfigError { field: "redirect_to", problem: "must be a non-empty header value".into() });
            }
        }
        Ok(())
    }
}

/// How records become visible to clients.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case", deny_unknown_fields)]
pub enum Release {
    /// Every record is visible from the start.
    #[default]
    All,
    /// `initial` records at start, then `per_sec` more each second.
    Rate {
        /// Records visible at start.
        initial: usize,
        /// Records released per second.
        per_sec: f64,
    },
    /// `initial` records at start; more only through [`super::SimState::release_to`].
    Manual {
        /// Records visible at start.
        initial: usize,
    },
}

/// The simulator's configuration.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimConfig {
    /// The bearer token every request must carry.
    pub token: String,
    /// How records are released.
    #[serde(default)]
    pub release: Release,
    /// Fault switches.
    #[serde(default)]
    pub faults: Faults,
    /// Seed of the fault RNG.
    #[serde(default)]
    pub fault_seed: u64,
}

impl fmt::Debug for SimConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimConfig")
            .field("token", &"<redacted>")
            .field("release", &self.release)
            .field("faults", &self.faults)
            .field("fault_seed", &self.fault_seed)
            .finish()
    }
}

impl SimConfig {
    /// A configuration with every record visible and no faults.
    pub fn new(token: impl Into<String>) -> SimConfig {
        SimConfig { token: token.into(), release: Release::All, faults: Faults::none(), fault_seed: 0 }
    }

    /// Checks the token, the release rate and the faults.
    pub fn validate(&self) -> Result<(), SimConfigError> {
        if self.token.is_empty() || self.token.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(SimConfigError { field: "token", problem: "must be non-empty without white space".into() });
        }
        if let Release::Rate { per_sec, .. } = self.release {
            if !(per_sec.is_finite() && per_sec >= 0.0) {
                return Err(SimConfigError { field: "release.per_sec", problem: format!("must be a non-negative number, is {per_sec}") });
            }
        }
        self.faults.validate()
    }
}

/// A configuration the simulator cannot use.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("simulator config: `{field}` {problem}")]
pub struct SimConfigError {
    /// The field.
    pub field: &'static str,
    /// What is wrong.
    pub problem: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_and_redacts() {
        let mut c = SimConfig::new("s3cret");
        c.validate().unwrap();
        assert!(!format!("{c:?}").contains("s3cret"));
        c.faults.truncate_rate = 1.5;
        assert_eq!(c.validate().unwrap_err().field, "truncate_rate");
        let c = SimConfig::new("");
        assert_eq!(c.validate().unwrap_err().field, "token");
        let parsed: SimConfig =
            serde_json::from_str(r#"{"token":"t","release":{"mode":"rate","initial":5,"per_sec":2.5},"faults":{"error_rate":0.1}}"#).unwrap();
        assert_eq!(parsed.release, Release::Rate { initial: 5, per_sec: 2.5 });
        assert_eq!(parsed.faults.retry_after_secs, 1);
        let mut c = SimConfig::new("t");
        c.faults.redirect_to = Some("http://a/\n".into());
        assert_eq!(c.validate().unwrap_err().field, "redirect_to");
        c.faults.redirect_to = Some("http://127.0.0.1:9/v1".into());
        c.faults.oversized_registry_bytes = MAX_OVERSIZED_REGISTRY_BYTES + 1;
        assert_eq!(c.validate().unwrap_err().field, "oversized_registry_bytes");
    }
}
