//! Policy changes of a ClickHouse ledger in the log of closes. ClickHouse has
//! no transactions, so two `policy apply` started at once are fenced the way
//! closes are: each appends a claim {ledger, sequence, document} to the same
//! one-partition topic (under the key `<ledger>/policy`, which the closes'
//! reader skips), reads the log from the start through its own claim, and
//! records its document only if its claim is the first of that sequence. The
//! log's order decides, never a clock. A claim carries the document's text, so
//! a run that finds a standing claim whose row was never written completes it.

use crate::claim_log::{ClaimLog, LogClaim};
use serde::{Deserialize, Serialize};

/// A claim on the next sequence of a ledger's policy documents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyClaim {
    /// The ledger (the store's database).
    pub ledger: String,
    /// The sequence the document would take.
    pub sequence: u64,
    /// SHA-256 of `text`.
    pub hash: String,
    /// The canonical TOML of the document.
    pub text: String,
    /// Who or what applied it.
    pub note: String,
    /// When the claim was made (RFC 3339; for people, nothing is ordered by it).
    pub claimed_at: String,
}

/// The policy claims in the log of closes.
pub type PolicyLog = ClaimLog<PolicyClaim>;

impl LogClaim for PolicyClaim {
    const WHAT: &'static str = "policy claim";

    fn ledger(&self) -> &str {
        &self.ledger
    }

    /// Policy claims are keyed `<ledger>/policy`, which the closes' reader skips.
    fn key(ledger: &str) -> String {
        format!("{ledger}/policy")
    }
}

/// The claim that stands for `sequence`: the first in log order.
pub fn standing_policy_claim(claims: &[(i64, PolicyClaim)], sequence: u64) -> Option<&(i64, PolicyClaim)> {
    claims.iter().find(|(_, c)| c.sequence == sequence)
}
