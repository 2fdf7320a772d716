//! What a store keeps for completeness against the platform: the platform's
//! usage counts per center and day, the ledger's own figures for the same
//! center-days (read from the standing lines), and the closes forced past a
//! gap. The comparison is the core's `reconcile`.

use chrono::{DateTime, Utc};
use subsidy_core::{DayCount, Gap, Period};

/// A platform count as stored: the figures and the position it was read at (the higher stands).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountRow {
    /// The figures.
    pub count: DayCount,
    /// Its offset on the counts topic.
    pub version: i64,
}

/// A close forced past a gap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseOverride {
    /// The close.
    pub close_id: String,
    /// The month closed.
    pub period: Period,
    /// Why, as given.
    pub reason: String,
    /// Who: the operator label.
    pub operator: String,
    /// When (for people; nothing is ordered by it).
    pub at: DateTime<Utc>,
    /// The center-days that differed then.
    pub gaps: Vec<Gap>,
}

impl CloseOverride {
    /// Records the ledger lacked or held beyond the platform, over every gap.
    pub fn gap_records(&self) -> u64 {
        self.gaps.iter().map(|g| g.missing_records().unsigned_abs()).sum()
    }
}
