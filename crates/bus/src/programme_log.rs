//! Programme steps of a ClickHouse ledger in the log of claims. ClickHouse has
//! no transactions, so two steps taken at once (two claims of one month, a
//! review and a batch) are fenced the way closes and policy changes are: each
//! writer appends a claim {ledger, sequence, event} under the key
//! `<ledger>/programme` (which the other kinds' readers skip), reads the log
//! from the start through its own claim, and records its event only if its
//! claim is the first of that sequence. The log's order decides, never a
//! clock. A claim carries the whole event, so a run that finds a standing
//! claim whose row was never written completes it. The bus knows nothing of
//! the programme's rules: the event is carried as JSON, decoded by its reader.

use crate::claim_log::{ClaimLog, LogClaim};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A claim on one sequence of a ledger's programme history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepClaim {
    /// The ledger (the store's database).
    pub ledger: String,
    /// The sequence the event would take.
    pub sequence: u64,
    /// The event, as the programme serialises it.
    pub event: serde_json::Value,
    /// When the claim was made (RFC 3339; for people, nothing is ordered by it).
    pub claimed_at: String,
}

/// The programme's claims in the log of claims.
pub type StepLogTopic = ClaimLog<StepClaim>;

impl LogClaim for StepClaim {
    const WHAT: &'static str = "programme step claim";

    fn ledger(&self) -> &str {
        &self.ledger
    }

    /// Programme claims are keyed `<ledger>/programme`, which the other kinds' readers skip.
    fn key(ledger: &str) -> String {
        format!("{ledger}/programme")
    }
}

/// The claim that stands for each sequence (the first in log order), by sequence.
pub fn standing_steps(claims: &[(i64, StepClaim)]) -> BTreeMap<u64, &(i64, StepClaim)> {
    let mut ordered: Vec<&(i64, StepClaim)> = claims.iter().collect();
    ordered.sort_by_key(|(offset, _)| *offset);
    let mut out = BTreeMap::new();
    for c in ordered {
        out.entry(c.1.sequence).or_insert(c);
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn claim(sequence: u64, who: &str) -> StepClaim {
        StepClaim { ledger: "l".into(), sequence, event: serde_json::json!({ "who": who }), claimed_at: String::new() }
    }

    #[test]
    fn the_first_claim_of_each_sequence_in_log_order_stands() {
        let claims = vec![(7, claim(2, "late")), (3, claim(1, "a")), (5, claim(1, "b")), (4, claim(2, "early"))];
        let standing = standing_steps(&claims);
        assert_eq!(standing.len(), 2);
        assert_eq!(standing[&1].0, 3);
        assert_eq!(standing[&2].1.event["who"], "early", "log order decides, not the order given");
    }

    #[test]
    fn the_key_is_kept_apart_from_closes_and_policy_claims() {
        assert_eq!(StepClaim::key("subsidy"), "subsidy/programme");
        assert_ne!(StepClaim::key("subsidy"), crate::closes::Claim::key("subsidy"));
        assert_ne!(StepClaim::key("subsidy"), crate::policy_log::PolicyClaim::key("subsidy"));
    }
}
