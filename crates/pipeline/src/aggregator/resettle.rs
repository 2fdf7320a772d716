//! Re-settling lines when the registry changes.
//!
//! Every registry change says which lines it may classify differently (an
//! entity's own lines; a center's lines). A member re-settles those of its
//! partitions, reading them from the store and classifying them again with
//! the core, and marks each partition with the registry position it is
//! re-settled up to. Marks let a new owner of a partition catch up on
//! exactly the changes its previous owner may have missed. Each round also
//! writes the registry it read, so readers of the ledger see the entities and
//! centers its lines were settled against.

use super::registry_feed::{read, RegistryPosition, SharedRegistry};
use std::collections::BTreeMap;
use subsidy_core::PolicyDocument;
use subsidy_store::{LedgerStore, LineRow, RegistryRows, ResettleMark, StoreResult, WriteBatch};

/// Where each of some partitions is re-settled up to (`None`: never marked).
pub type Marks = BTreeMap<i32, Option<RegistryPosition>>;

/// Reads the marks of `partitions` from the store.
pub async fn load_marks(store: &dyn LedgerStore, partitions: &[i32]) -> StoreResult<Marks> {
    let stored = store.marks(partitions).await?;
    let mut marks: Marks = partitions.iter().map(|p| (*p, None)).collect();
    for m in stored {
        match RegistryPosition::decode(&m.registry) {
            Some(position) => {
                marks.insert(m.partition, Some(position));
            }
            None => tracing::warn!(partition = m.partition, mark = %m.registry, "re-settlement mark does not decode; re-settling the partition in full"),
        }
    }
    Ok(marks)
}

/// Re-settles the lines of the marked partitions that registry changes since each mark
/// may affect; returns the changed lines and the new marks, to be written together.
pub async fn resettle(store: &dyn LedgerStore, registry: &SharedRegistry, marks: &Marks, policy: &PolicyDocument) -> StoreResult<WriteBatch> {
    // Partitions with the same mark need the same changes: one query per distinct mark.
    let mut groups: BTreeMap<String, (Option<&RegistryPosition>, Vec<i32>)> = BTreeMap::new();
    for (p, mark) in marks {
        let key = mark.as_ref().map_or_else(String::new, RegistryPosition::encode);
        groups.entry(key).or_insert((mark.as_ref(), Vec::new())).1.push(*p);
    }
    let (upto, snapshot) = {
        let view = read(registry);
        (view.position().clone(), RegistryRows::of(&view.registry, view.position().total()))
    };
    let mut rows: Vec<LineRow> = Vec::new();
    for (mark, partitions) in groups.into_values() {
        let affected = read(registry).since(mark);
        if affected.is_empty() {
            continue;
        }
        let lines = store.affected_lines(&partitions, &affected).await?;
        let view = read(registry);
        let position = view.position().total();
        for row in lines {
            if let Some(line) = row.line(&policy.set).resettle(&view.registry, &policy.set) {
                rows.push(LineRow::new(&row.record_id, &line, policy, row.position, line.standing.version(position)));
            }
        }
    }
    let marks = marks.keys().map(|p| ResettleMark { partition: *p, position: upto.total(), registry: upto.encode() }).collect();
    Ok(WriteBatch { lines: rows, marks, registry: Some(snapshot), ..WriteBatch::default() })
}
