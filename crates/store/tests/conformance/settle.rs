//! Conformance cases for the settlement side: versions, closing, entity reads, adjustments, exact decimals.

use super::fixtures::*;
use subsidy_core::Settlement;
use subsidy_store::{LedgerStore, StoreError, WriteBatch};

fn keys(v: &[Settlement]) -> Vec<(String, String, u64)> {
    v.iter().map(|s| (s.credit_code.to_string(), s.period.to_string(), s.eligible_records)).collect()
}

pub async fn settlements_highest_version_stands(store: &dyn LedgerStore) {
    ready(store).await;
    let (u, v) = (code(10), code(11));
    store.write_settlements(&[settlement(v, "2025-09", 3, "30.00", "10.8", "10.80", 2)]).await.unwrap();
    // A lower version arriving later loses.
    store.write_settlements(&[settlement(v, "2025-09", 1, "10.00", "3.6", "3.60", 1)]).await.unwrap();
    store
        .write_settlements(&[
            settlement(u, "2025-10", 1, "1.00", "0.36", "0.36", 1),
            settlement(u, "2025-09", 2, "2.00", "0.72", "0.72", 1),
        ])
        .await
        .unwrap();
    let got = store.settlements().await.unwrap();
    assert_eq!(
        keys(&got),
        vec![(u.to_string(), "2025-09".into(), 2), (u.to_string(), "2025-10".into(), 1), (v.to_string(), "2025-09".into(), 3)],
        "sorted by credit code, then period; highest version stands"
    );
    assert_eq!(got[2].subsidy.to_string(), "10.80");
    assert_eq!(got[2].uncapped.to_string(), "10.8000000000");

    // A zero-record row with a higher version hides the key.
    store.write_settlements(&[settlement(u, "2025-09", 0, "0", "0", "0", 2)]).await.unwrap();
    let got = store.settlements().await.unwrap();
    assert_eq!(keys(&got), vec![(u.to_string(), "2025-10".into(), 1), (v.to_string(), "2025-09".into(), 3)]);
    assert_eq!(keys(&store.entity_settlements(u.as_str()).await.unwrap()), vec![(u.to_string(), "2025-10".into(), 1)]);
    // And a later non-zero version brings it back.
    store.write_settlements(&[settlement(u, "2025-09", 5, "5.00", "1.8", "1.80", 3)]).await.unwrap();
    assert_eq!(store.settlements().await.unwrap().len(), 3);
}

pub async fn close_period_freezes_and_refuses_twice(store: &dyn LedgerStore) {
    ready(store).await;
    let (u, v, w) = (code(20), code(21), code(22));
    store
        .write_settlements(&[
            settlement(u, "2025-09", 2, "200.00", "72.0000000001", "72.00", 1),
            settlement(v, "2025-09", 1, "10.00", "3.6", "3.60", 1),
            settlement(w, "2025-09", 0, "0", "0", "0", 1),
            settlement(u, "2025-10", 1, "1.00", "0.36", "0.36", 1),
        ])
        .await
        .unwrap();
    assert!(store.closures().await.unwrap().is_empty());
    let when = utc("2025-10-05T09:30:00+08:00");
    let report = store.close_period(month("2025-09"), when).await.unwrap();
    assert_eq!((report.period, report.settlements, report.subsidy), (month("2025-09"), 2, d("75.60")));
    let closures = store.closures().await.unwrap();
    assert_eq!(closures.len(), 1);
    assert_eq!((closures[0].period, closures[0].closed_at), (month("2025-09"), when));

    // Later writes change the live settlements, not the frozen copy.
    store.write_settlements(&[settlement(u, "2025-09", 3, "300.00", "108", "108.00", 2)]).await.unwrap();
    let frozen = store.closed_settlements().await.unwrap();
    assert_eq!(keys(&frozen), vec![(u.to_string(), "2025-09".into(), 2), (v.to_string(), "2025-09".into(), 1)]);
    assert_eq!(frozen[0].subsidy, d("72.00"));
    assert_eq!(frozen[0].uncapped.to_string(), "72.0000000001");
    assert_eq!(store.settlements().await.unwrap()[0].subsidy, d("108"));

    match store.close_period(month("2025-09"), utc("2025-10-06T00:00:00Z")).await {
        Err(StoreError::Conflict(_)) => {}
        other => panic!("closing twice must be a Conflict, got {other:?}"),
    }
    assert_eq!(store.closures().await.unwrap().len(), 1);
    assert_eq!(store.closed_settlements().await.unwrap(), frozen);

    // Another month closes on its own; closures come oldest first.
    let r = store.close_period(month("2025-10"), utc("2025-11-03T00:00:00Z")).await.unwrap();
    assert_eq!((r.settlements, r.subsidy), (1, d("0.36")));
    let periods: Vec<String> = store.closures().await.unwrap().iter().map(|c| c.period.to_string()).collect();
    assert_eq!(periods, vec!["2025-09", "2025-10"]);
    assert_eq!(store.closed_settlements().await.unwrap().len(), 3);
    // A month without settlements closes with an empty report.
    let r = store.close_period(month("2025-11"), utc("2025-12-03T00:00:00Z")).await.unwrap();
    assert_eq!((r.settlements, r.subsidy), (0, d("0")));
}

pub async fn entity_reads_are_sorted_and_filtered(store: &dyn LedgerStore) {
    ready(store).await;
    let (u, v) = (code(30), code(31));
    let lines = vec![
        line("m-2", 1, u, "2025-10", pos(0, 1), "1.00", "0.36"),
        line("m-1", 1, u, "2025-10", pos(0, 2), "1.00", "0.36"),
        line("k-9", 1, u, "2025-09", pos(0, 3), "1.00", "0.36"),
        line("other", 1, v, "2025-09", pos(0, 4), "1.00", "0.36"),
    ];
    store.write_batch(&WriteBatch { lines, ..WriteBatch::default() }).await.unwrap();
    let all: Vec<String> = store.entity_lines(u.as_str(), None).await.unwrap().into_iter().map(|l| l.record_id).collect();
    assert_eq!(all, vec!["k-9", "m-1", "m-2"]);
    let oct: Vec<String> = store.entity_lines(u.as_str(), Some(month("2025-10"))).await.unwrap().into_iter().map(|l| l.record_id).collect();
    assert_eq!(oct, vec!["m-1", "m-2"]);
    assert!(store.entity_lines(code(99).as_str(), None).await.unwrap().is_empty());
    // A record that moves to another user leaves the first user's lines.
    store
        .write_batch(&WriteBatch { lines: vec![line("k-9", 2, v, "2025-09", pos(0, 5), "1.00", "0.36")], ..WriteBatch::default() })
        .await
        .unwrap();
    let all: Vec<String> = store.entity_lines(u.as_str(), None).await.unwrap().into_iter().map(|l| l.record_id).collect();
    assert_eq!(all, vec!["m-1", "m-2"]);

    store
        .write_settlements(&[
            settlement(u, "2025-10", 2, "2.00", "0.72", "0.72", 1),
            settlement(u, "2025-09", 1, "1.00", "0.36", "0.36", 1),
            settlement(v, "2025-09", 1, "1.00", "0.36", "0.36", 1),
        ])
        .await
        .unwrap();
    let mine = store.entity_settlements(u.as_str()).await.unwrap();
    assert_eq!(keys(&mine), vec![(u.to_string(), "2025-09".into(), 1), (u.to_string(), "2025-10".into(), 2)]);
    assert!(store.entity_settlements(code(99).as_str()).await.unwrap().is_empty());
}

pub async fn adjustments_round_trip(store: &dyn LedgerStore) {
    ready(store).await;
    let (u, v) = (code(40), code(41));
    let rows = vec![
        adjustment("r-2", 3, v, "2025-08", "2025-10", "-10.00", "-3.6000000001"),
        adjustment("r-1", 2, u, "2025-08", "2025-10", "5.00", "1.8"),
        adjustment("r-1", 1, u, "2025-07", "2025-09", "-1.00", "-0.36"),
        adjustment("r-0", 4, u, "2025-08", "2025-10", "0.01", "0.0036"),
    ];
    let batch = WriteBatch { adjustments: rows.clone(), ..WriteBatch::default() };
    store.write_batch(&batch).await.unwrap();
    store.write_batch(&batch).await.unwrap();
    let got = store.adjustments().await.unwrap();
    let expected = vec![rows[2].clone(), rows[3].clone(), rows[1].clone(), rows[0].clone()];
    assert_eq!(got, expected, "sorted by target period, credit code, record id, revision; replay does not double");
    assert_eq!(got[3].delta_contribution.to_string(), "-3.6000000001");
    assert_eq!(got[3].delta_base.to_string(), "-10.00");
}

pub async fn decimals_stay_exact(store: &dyn LedgerStore) {
    ready(store).await;
    let u = code(50);
    let lines = vec![
        line("e-1", 1, u, "2025-09", pos(0, 1), "0.01", "0.0000000001"),
        line("e-2", 1, u, "2025-09", pos(0, 2), "0.01", "0.0000000001"),
        line("e-3", 1, u, "2025-09", pos(0, 3), "0.01", "0.0000000001"),
        line("e-4", 1, u, "2025-09", pos(0, 4), "99999999999999.99", "99999999999999999.9999999999"),
    ];
    let mut batch = WriteBatch { lines: lines.clone(), ..WriteBatch::default() };
    batch.records = lines.iter().map(record_for).collect();
    store.write_batch(&batch).await.unwrap();
    let sums = store.accrual_sums(&[0]).await.unwrap();
    assert_eq!(sums[0].contribution.to_string(), "100000000000000000.0000000002");
    assert_eq!(sums[0].base.to_string(), "100000000000000.02");
    let got = store.standing_lines(&ids(&["e-1", "e-4"])).await.unwrap();
    let mut got: Vec<(String, String)> = got.into_iter().map(|l| (l.record_id, l.contribution.to_string())).collect();
    got.sort();
    assert_eq!(got, vec![("e-1".into(), "0.0000000001".into()), ("e-4".into(), "99999999999999999.9999999999".into())]);

    store.write_settlements(&[settlement(u, "2025-09", 4, "99999999999999.99", "1234567890.1234567891", "123456789.12", 1)]).await.unwrap();
    let s = &store.settlements().await.unwrap()[0];
    assert_eq!(
        (s.eligible_base.to_string(), s.uncapped.to_string(), s.subsidy.to_string()),
        ("99999999999999.99".into(), "1234567890.1234567891".into(), "123456789.12".into())
    );
    let r = store.close_period(month("2025-09"), utc("2025-10-01T00:00:00Z")).await.unwrap();
    assert_eq!(r.subsidy.to_string(), "123456789.12");
}

pub async fn unstorable_rows_write_nothing(store: &dyn LedgerStore) {
    ready(store).await;
    let u = code(60);
    let good = line("ok", 1, u, "2025-09", pos(0, 1), "1.00", "0.36");
    let bad = line("bad", 1, u, "2025-09", pos(0, 2), "1.00", "0.00000000001");
    let batch = WriteBatch { records: vec![record_for(&good)], lines: vec![good, bad], ..WriteBatch::default() };
    match store.write_batch(&batch).await {
        Err(StoreError::Rejected(msg)) => assert!(msg.contains("contribution"), "{msg}"),
        other => panic!("a contribution with 11 decimals must be Rejected, got {other:?}"),
    }
    assert!(store.standing_lines(&ids(&["ok", "bad"])).await.unwrap().is_empty(), "nothing of a rejected batch is written");
    match store.write_settlements(&[settlement(u, "2025-09", 1, "1.00", "0.36", "0.36001", 1)]).await {
        Err(StoreError::Rejected(msg)) => assert!(msg.contains("subsidy"), "{msg}"),
        other => panic!("a subsidy with 5 decimals must be Rejected, got {other:?}"),
    }
    assert!(store.settlements().await.unwrap().is_empty());
}
