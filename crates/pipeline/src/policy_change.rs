//! Re-settling the ledger under a new policy document.
//!
//! Every standing line names the document it was settled under. When the
//! document in force changes (`policy apply`), every line not under it is read
//! page by page, classified again by the core against a registry, stamped with
//! the new document and written back; closed months included, whose changes
//! the next close books as adjustments. `policy apply` runs this over the whole
//! ledger with the registry the ledger holds; an aggregator runs it over its
//! partitions with its own registry feed when it sees the document change.
//!
//! A line keeps its version unless the registry read is further on, so it
//! replaces the line it re-settles (an equal version replaces). A line
//! classified at a registry position beyond the registry read is left alone:
//! classifying it with an older registry could undo a registry change. It is
//! counted as `behind`, for a member whose registry has read as far.

use subsidy_core::{version_registry_position, Line, PolicyDocument, Registry};
use subsidy_store::{LedgerStore, LineRow, StoreResult, WriteBatch};

/// Lines read and written per page.
pub const PAGE: usize = 5_000;

/// What a re-settlement under a document did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resettled {
    /// Lines written under the document.
    pub rewritten: u64,
    /// Of those, lines whose figures changed (not only the document they name).
    pub changed: u64,
    /// Lines left because they were classified at a registry position beyond the one read.
    pub behind: u64,
    /// The furthest registry position among the lines left.
    pub behind_position: u64,
}

/// Re-settles every standing line of `partitions` (all when `None`) not settled under
/// `document`, against `registry` read up to `position`.
pub async fn resettle_under(store: &dyn LedgerStore, document: &PolicyDocument, registry: &Registry, position: u64, partitions: Option<&[i32]>) -> StoreResult<Resettled> {
    let mut done = Resettled::default();
    let mut after = String::new();
    loop {
        let page = store.lines_not_under(&document.hash, partitions, &after, PAGE).await?;
        let Some(last) = page.last() else { return Ok(done) };
        after = last.record_id.clone();
        let lines = settle_page(&page, document, registry, position, &mut done);
        store.write_batch(&WriteBatch { lines, ..WriteBatch::default() }).await?;
        if page.len() < PAGE {
            return Ok(done);
        }
    }
}

/// The rows of one page settled under `document`; counts what it did.
fn settle_page(page: &[LineRow], document: &PolicyDocument, registry: &Registry, position: u64, done: &mut Resettled) -> Vec<LineRow> {
    let mut out = Vec::with_capacity(page.len());
    for row in page {
        let classified_at = version_registry_position(row.version);
        if classified_at > position {
            done.behind += 1;
            done.behind_position = done.behind_position.max(classified_at);
            continue;
        }
        let before = row.line(&document.set);
        let line = Line::settle(before.standing.clone(), registry, &document.set);
        let version = line.standing.version(position).max(row.version);
        let new = LineRow::new(&row.record_id, &line, document, row.position, version);
        done.rewritten += 1;
        if !same_figures(&new, row) {
            done.changed += 1;
        }
        out.push(new);
    }
    out
}

/// Whether two rows of a line count for the same, whatever documents they name.
fn same_figures(a: &LineRow, b: &LineRow) -> bool {
    (&a.policy_version, a.rate, a.uplift, a.base, a.contribution, a.reason, a.period) == (&b.policy_version, b.rate, b.uplift, b.base, b.contribution, b.reason, b.period)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use subsidy_store::SqliteStore;

    const POLICY: &str = include_str!("../../../deploy/policy/default.toml");
    const RECORDS: &str = include_str!("../../../tests/golden/records.jsonl");
    const ENTITIES: &str = include_str!("../../../tests/golden/entities.json");
    const CENTERS: &str = include_str!("../../../tests/golden/centers.json");

    #[tokio::test]
    async fn every_line_is_rewritten_under_the_new_document_and_changed_figures_are_counted() {
        let store = SqliteStore::open_in_memory().unwrap();
        store.migrate().await.unwrap();
        let mut registry = Registry::new();
        registry.load_entities(ENTITIES).unwrap();
        registry.load_centers(CENTERS).unwrap();
        let old = PolicyDocument::from_toml(POLICY).unwrap();
        let mut rows = Vec::new();
        for (i, text) in RECORDS.lines().take(4).enumerate() {
            let r = subsidy_core::parse_record(text.as_bytes()).unwrap();
            let standing = subsidy_core::Standing::of(&r, subsidy_core::Fingerprint::of(&r));
            let line = Line::settle(standing, &registry, &old.set);
            // The last line was classified further on in the registry than the re-settlement reads.
            let at = if i == 3 { 9 } else { 2 };
            rows.push(LineRow::new(&r.record_id, &line, &old, subsidy_store::BusPosition { partition: 0, offset: i as i64 }, line.standing.version(at)));
        }
        assert!(rows[..3].iter().any(|r| r.reason.is_none()), "some lines pay, so a new rate changes what they pay");
        // A line under a version carries its rate, paid or not: a new rate changes it.
        let covered = rows[..3].iter().filter(|r| !r.rate.is_zero()).count() as u64;
        store.write_batch(&WriteBatch { lines: rows, ..WriteBatch::default() }).await.unwrap();
        let new = PolicyDocument::from_toml(&POLICY.replace("rate = \"0.20\"", "rate = \"0.25\"")).unwrap();
        let done = resettle_under(&store, &new, &registry, 5, None).await.unwrap();
        assert_eq!(done, Resettled { rewritten: 3, changed: covered, behind: 1, behind_position: 9 });
        let left = store.lines_not_under(&new.hash, None, "", 10).await.unwrap();
        assert_eq!(left.len(), 1, "only the line classified further on is left");
        let again = resettle_under(&store, &new, &registry, 9, None).await.unwrap();
        assert_eq!((again.rewritten, again.behind), (1, 0));
        assert!(store.lines_not_under(&new.hash, None, "", 10).await.unwrap().is_empty());
        assert_eq!(resettle_under(&store, &new, &registry, 9, None).await.unwrap(), Resettled::default(), "a third run has nothing left");
        for l in store.lines_of(&["r1".to_string(), "r2".to_string(), "r3".to_string()]).await.unwrap() {
            assert!(l.version >= subsidy_core::line_version(l.revision, l.conflict, 5), "{l:?}");
            assert_eq!(l.policy_hash, new.hash);
            if l.reason.is_none() {
                assert_eq!(l.rate, rust_decimal::Decimal::new(25, 2));
            }
        }
    }
}
