//! Conformance cases for the reading side: entity reads, closes and their
//! statements, exact decimals, and rows no store can hold.

use super::fixtures::*;
use subsidy_core::{ReasonCode, StatementKind};
use subsidy_store::{LedgerStore, StoreError, WriteBatch};

pub async fn entity_reads_are_sorted_and_filtered(store: &dyn LedgerStore) {
    ready(store).await;
    let (u, v) = (code(20), code(21));
    store
        .write_batch(&batch_of(vec![
            line("z", 1, u, "2025-10", pos(0, 1), "1.00", "0.2"),
            line("b", 1, u, "2025-09", pos(0, 2), "1.00", "0.2"),
            excluded(line("a", 1, u, "2025-09", pos(0, 3), "1.00", "0"), ReasonCode::Unpaid),
            line("m", 1, v, "2025-09", pos(0, 4), "1.00", "0.2"),
        ]))
        .await
        .unwrap();
    let all: Vec<String> = store.entity_lines(&u, None).await.unwrap().into_iter().map(|l| l.record_id).collect();
    assert_eq!(all, ["a", "b", "z"]);
    let sep: Vec<String> = store.entity_lines(&u, Some(month("2025-09"))).await.unwrap().into_iter().map(|l| l.record_id).collect();
    assert_eq!(sep, ["a", "b"]);
    assert!(store.entity_lines(&code(22), None).await.unwrap().is_empty());
}

pub async fn closes_commit_once_and_statements_read_back(store: &dyn LedgerStore) {
    ready(store).await;
    let (u, v) = (code(30), code(31));
    let first = vec![statement(u, "2025-09", "2025-09", StatementKind::Settled, "250.55", "60.13"), statement(v, "2025-09", "2025-09", StatementKind::Settled, "1.00", "0.24")];
    store.commit_close(&closure("2025-09", "close-a"), &first).await.unwrap();
    let second = vec![
        statement(u, "2025-10", "2025-09", StatementKind::Adjustment, "249.45", "59.87"),
        statement(v, "2025-10", "2025-09", StatementKind::Adjustment, "-1.00", "-0.24"),
        statement(u, "2025-10", "2025-10", StatementKind::Settled, "10.00", "2.40"),
    ];
    store.commit_close(&closure("2025-10", "close-b"), &second).await.unwrap();
    match store.commit_close(&closure("2025-09", "close-c"), &[statement(u, "2025-09", "2025-09", StatementKind::Settled, "1.00", "1.00")]).await {
        Err(StoreError::Conflict(msg)) => assert!(msg.contains("2025-09"), "{msg}"),
        other => panic!("closing a closed month must be a Conflict, got {other:?}"),
    }
    let mut want: Vec<_> = first.into_iter().chain(second).collect();
    want.sort();
    assert_eq!(store.statements().await.unwrap(), want, "statements read back exactly, and the refused close added nothing");
    let closures: Vec<(String, String)> = store.closures().await.unwrap().into_iter().map(|c| (c.period.to_string(), c.close_id)).collect();
    assert_eq!(closures, vec![("2025-09".into(), "close-a".into()), ("2025-10".into(), "close-b".into())]);
    assert_eq!(store.closures().await.unwrap()[0].closed_at, utc("2025-10-01T08:00:00Z"));
}

pub async fn decimals_stay_exact(store: &dyn LedgerStore) {
    ready(store).await;
    let u = code(50);
    store
        .write_batch(&batch_of(vec![
            line("e-1", 1, u, "2025-09", pos(0, 1), "0.01", "0.0000000001"),
            line("e-2", 1, u, "2025-09", pos(0, 2), "0.01", "0.0000000001"),
            line("e-3", 1, u, "2025-09", pos(0, 3), "0.01", "0.0000000001"),
            line("e-4", 1, u, "2025-09", pos(0, 4), "99999999999999.99", "99999999999999999.9999999999"),
        ]))
        .await
        .unwrap();
    let sums = store.line_sums().await.unwrap();
    assert_eq!(sums[0].contribution.to_string(), "100000000000000000.0000000002");
    assert_eq!(sums[0].base.to_string(), "100000000000000.02");
    let e4 = store.entity_lines(&u, None).await.unwrap().into_iter().find(|l| l.record_id == "e-4").unwrap();
    assert_eq!((e4.contribution.to_string(), e4.paid_amount.to_string()), ("99999999999999999.9999999999".into(), "99999999999999.99".into()));
    let s = statement(u, "2025-10", "2025-09", StatementKind::Adjustment, "-99999999999999.99", "-123456789.12");
    store.commit_close(&closure("2025-10", "x"), std::slice::from_ref(&s)).await.unwrap();
    assert_eq!(store.statements().await.unwrap(), vec![s]);
}

pub async fn unstorable_rows_write_nothing(store: &dyn LedgerStore) {
    ready(store).await;
    let u = code(60);
    let good = line("ok", 1, u, "2025-09", pos(0, 1), "1.00", "0.36");
    let bad = line("bad", 1, u, "2025-09", pos(0, 2), "1.00", "0.00000000001");
    match store.write_batch(&batch_of(vec![good, bad])).await {
        Err(StoreError::Rejected { message: msg, .. }) => assert!(msg.contains("contribution"), "{msg}"),
        other => panic!("a contribution with 11 decimals must be Rejected, got {other:?}"),
    }
    assert!(store.lines_of(&ids(&["ok", "bad"])).await.unwrap().is_empty(), "nothing of a rejected batch is written");
    let bad_statement = statement(u, "2025-09", "2025-09", StatementKind::Settled, "1.00", "0.36001");
    match store.commit_close(&closure("2025-09", "y"), &[bad_statement]).await {
        Err(StoreError::Rejected { message: msg, .. }) => assert!(msg.contains("subsidy"), "{msg}"),
        other => panic!("a subsidy with 5 decimals must be Rejected, got {other:?}"),
    }
    assert!(store.closures().await.unwrap().is_empty(), "a refused close records no closure");
    let empty = WriteBatch::default();
    store.write_batch(&empty).await.unwrap();
}
