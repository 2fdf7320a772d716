//! What a close records beside its statement lines, and how a store keeps two
//! closes of one month from both standing.
//!
//! A close writes its statement lines under a fresh close id (invisible: only
//! lines whose close id a closure row names are read), then the closure rows
//! of every month it closes. What makes it the only close of those months
//! depends on the store, see [`CloseFence`].

use crate::rows::BusPosition;
use chrono::{DateTime, Utc};
use subsidy_core::Period;

/// How a store fences closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseFence {
    /// [`LedgerStore::commit_record`](crate::LedgerStore::commit_record) is one
    /// transaction that refuses, by a unique key on the month, any month closed
    /// already (SQLite): the store alone fences.
    Transaction,
    /// The store has no transactions (ClickHouse): a closer stages its lines, then
    /// must win the log of closes (a one-partition topic, the first claim of a month
    /// stands) before it records closure rows with
    /// [`LedgerStore::record_closures`](crate::LedgerStore::record_closures).
    Log,
}

/// One close: the months it closes, all under one close id, and what it had seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseRecord {
    /// The close; its statement lines carry this id.
    pub close_id: String,
    /// The month asked for and the empty earlier months closed with it.
    pub periods: Vec<Period>,
    /// When it was closed (for people; nothing is ordered by it).
    pub closed_at: DateTime<Utc>,
    /// The highest bus position of each records partition in the ledger the figures
    /// were computed from.
    pub seen: Vec<BusPosition>,
    /// Why it closed a month that had not ended, when it did.
    pub early_reason: Option<String>,
    /// The offset of its winning claim in the log of closes (`None`: fenced by the store).
    pub claim_offset: Option<i64>,
    /// Hash of the policy document its figures were computed under.
    pub policy_hash: String,
}

/// `partition:offset,…`, the way closure rows keep positions.
pub fn positions_text(seen: &[BusPosition]) -> String {
    seen.iter().map(|p| format!("{}:{}", p.partition, p.offset)).collect::<Vec<_>>().join(",")
}

/// The inverse of [`positions_text`]; `None` when the text is not in that form.
pub fn parse_positions(text: &str) -> Option<Vec<BusPosition>> {
    if text.is_empty() {
        return Some(Vec::new());
    }
    text.split(',')
        .map(|p| {
            let (partition, offset) = p.split_once(':')?;
            Some(BusPosition { partition: partition.parse().ok()?, offset: offset.parse().ok()? })
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn positions_read_as_partition_and_offset() {
        assert_eq!(positions_text(&[BusPosition { partition: 0, offset: 41 }, BusPosition { partition: 3, offset: 7 }]), "0:41,3:7");
        assert_eq!(positions_text(&[]), "");
        assert_eq!(parse_positions("0:41,3:7").unwrap(), [BusPosition { partition: 0, offset: 41 }, BusPosition { partition: 3, offset: 7 }]);
        assert_eq!(parse_positions("").unwrap(), []);
        assert!(parse_positions("0:x").is_none());
    }
}
