//! The transparency log's rows: a checkpoint recorded once per size (the same again
//! changes nothing, another is a conflict), cosignatures replaced per size and witness.

use subsidy_core::Period;
use subsidy_store::{LedgerStore, StoreError, TlogCheckpointRow, TlogCosignatureRow};

fn checkpoint(size: u64, note: &str) -> TlogCheckpointRow {
    TlogCheckpointRow { size, root: format!("root{size}"), note: note.to_string(), period: Period::parse("2025-09").unwrap() }
}

pub async fn log_checkpoints_are_recorded_once_per_size(store: &dyn LedgerStore) {
    store.migrate().await.unwrap();
    assert!(store.tlog_checkpoints().await.unwrap().is_empty());
    store.record_tlog_checkpoint(&checkpoint(7, "note 7\n")).await.unwrap();
    store.record_tlog_checkpoint(&checkpoint(3, "note 3\n")).await.unwrap();
    store.record_tlog_checkpoint(&checkpoint(7, "note 7\n")).await.unwrap();
    assert!(matches!(store.record_tlog_checkpoint(&checkpoint(7, "another\n")).await, Err(StoreError::Conflict(_))));
    assert_eq!(store.tlog_checkpoints().await.unwrap(), [checkpoint(3, "note 3\n"), checkpoint(7, "note 7\n")]);
    let cosig = |size, witness: &str, line: &str| TlogCosignatureRow { size, witness: witness.to_string(), line: line.to_string() };
    store.record_tlog_cosignature(&cosig(7, "b", "— b one")).await.unwrap();
    store.record_tlog_cosignature(&cosig(7, "a", "— a one")).await.unwrap();
    store.record_tlog_cosignature(&cosig(7, "b", "— b two")).await.unwrap();
    assert_eq!(store.tlog_cosignatures().await.unwrap(), [cosig(7, "a", "— a one"), cosig(7, "b", "— b two")]);
}
