//! Policy documents: recorded one per sequence, the highest in force; lines read
//! back by the document they name; sums kept apart by document.

use super::fixtures::*;
use subsidy_store::{LedgerStore, PolicyRecord};

fn record(sequence: u64, hash: &str) -> PolicyRecord {
    PolicyRecord { sequence, hash: hash.to_string(), text: format!("# {hash}\n"), applied_at: utc("2025-10-01T08:00:00Z"), note: format!("test {sequence}") }
}

pub async fn policy_documents_are_recorded_in_sequence(store: &dyn LedgerStore) {
    ready(store).await;
    assert!(store.policy_documents().await.unwrap().is_empty());
    store.record_policy(&record(1, "a1")).await.unwrap();
    store.record_policy(&record(1, "a1")).await.unwrap();
    store.record_policy(&record(2, "b2")).await.unwrap();
    // Another document at a sequence already held is refused (on every store).
    assert!(store.record_policy(&record(2, "c3")).await.is_err());
    let recorded = store.policy_documents().await.unwrap();
    assert_eq!(recorded, vec![record(1, "a1"), record(2, "b2")]);
}

pub async fn lines_are_read_by_the_document_they_name(store: &dyn LedgerStore) {
    ready(store).await;
    let u = code(21);
    let mut lines = vec![
        line("p1", 1, u, "2025-09", pos(0, 1), "1.00", "0.3"),
        line("p2", 1, u, "2025-09", pos(1, 1), "2.00", "0.6"),
        line("p3", 1, u, "2025-10", pos(0, 2), "3.00", "0.9"),
        line("p4", 1, u, "2025-09", pos(1, 2), "4.00", "1.2"),
    ];
    lines[1].policy_hash = "new".into();
    store.write_batch(&batch_of(lines)).await.unwrap();
    let ids = |rows: Vec<subsidy_store::LineRow>| rows.into_iter().map(|l| l.record_id).collect::<Vec<_>>();
    assert_eq!(ids(store.lines_not_under("new", None, "", 10).await.unwrap()), ["p1", "p3", "p4"]);
    assert_eq!(ids(store.lines_not_under("new", None, "p1", 1).await.unwrap()), ["p3"], "paged by record id");
    assert_eq!(ids(store.lines_not_under("new", Some(&[1]), "", 10).await.unwrap()), ["p4"], "of the given partitions");
    assert!(store.lines_not_under("new", Some(&[]), "", 10).await.unwrap().is_empty());
    let sums = store.line_sums().await.unwrap();
    let september: Vec<(&str, u64)> = sums.iter().filter(|s| s.period == month("2025-09")).map(|s| (s.policy_hash.as_str(), s.records)).collect();
    assert_eq!(september, [("d0c", 2), ("new", 1)], "sums are kept apart by document");
    let other = subsidy_store::lines_under_other_documents(&sums, "new");
    assert_eq!(other.into_iter().collect::<Vec<_>>(), [("d0c", 3)]);
}
