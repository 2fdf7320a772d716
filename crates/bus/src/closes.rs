//! Close claims in the log of claims ([`crate::claim_log`]): every closer of a
//! ClickHouse ledger appends a claim before it records its closure. The log's
//! order decides which close of a month stands (the first standing claim of the
//! month, see `subsidy_core::standing_claims`), never a clock; a later run
//! completes a winning claim whose closure was never recorded.

use crate::claim_log::{ClaimLog, LogClaim};
use serde::{Deserialize, Serialize};

/// The default name of the log of closes.
pub const CLOSES_TOPIC: &str = "subsidy.closes";

/// A closer's claim on the months it closes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    /// The ledger the close is for (the store's database): claims of other ledgers are ignored.
    pub ledger: String,
    /// The close; its staged statement lines carry this id.
    pub close_id: String,
    /// Every month it closes, `YYYY-MM`.
    pub periods: Vec<String>,
    /// How many statement lines it staged.
    pub lines: u64,
    /// The digest of those lines (`subsidy_core::statements_digest`).
    pub digest: String,
    /// `partition:offset,…`: the highest bus position of each records partition its figures had seen.
    pub seen: String,
    /// Why it closed a month that had not ended, when it did.
    pub early_reason: Option<String>,
    /// When the claim was made (RFC 3339; for people, nothing is ordered by it).
    pub claimed_at: String,
    /// Hash of the policy document the close computed under ("" in claims made before
    /// ledgers recorded documents).
    #[serde(default)]
    pub policy_hash: String,
}

/// The log of closes on one topic.
pub type ClosesLog = ClaimLog<Claim>;

impl LogClaim for Claim {
    const WHAT: &'static str = "close claim";

    fn ledger(&self) -> &str {
        &self.ledger
    }

    /// Close claims are keyed by their ledger.
    fn key(ledger: &str) -> String {
        ledger.to_string()
    }
}
