//! Conformance cases for the ledger side: migrations, lines, replays, accruals, held records, rejections.

use super::fixtures::*;
use subsidy_core::ReasonCode;
use subsidy_store::{LedgerStore, StandingLine, WriteBatch};

pub async fn migrate_is_idempotent(store: &dyn LedgerStore) {
    let first = store.migrate().await.unwrap();
    assert_eq!(first, vec!["0001_ledger".to_string(), "0002_settlements".to_string()]);
    assert!(store.migrate().await.unwrap().is_empty(), "second migrate applies nothing");
    store.ping().await.unwrap();
    assert!(store.settlements().await.unwrap().is_empty());
    assert!(store.standing_lines(&[]).await.unwrap().is_empty());
}

fn batch_of(lines: Vec<subsidy_store::LineRow>) -> WriteBatch {
    WriteBatch { records: lines.iter().map(record_for).collect(), lines, ..WriteBatch::default() }
}

fn by_id(mut v: Vec<StandingLine>) -> Vec<StandingLine> {
    v.sort_by(|a, b| a.record_id.cmp(&b.record_id));
    v
}

pub async fn standing_lines_keep_highest_revision(store: &dyn LedgerStore) {
    ready(store).await;
    let u = code(1);
    let a1 = line("a", 1, u, "2025-09", pos(0, 1), "100.00", "36.0000000000");
    let a2 = excluded(line("a", 2, u, "2025-09", pos(0, 5), "100.00", "0"), ReasonCode::Refunded);
    let b1 = excluded(line("b", 1, u, "2025-09", pos(1, 2), "50.00", "0"), ReasonCode::Unpaid);
    let b2 = line("b", 2, u, "2025-10", pos(1, 7), "50.00", "18.0000000000");
    let c1 = line("c", 1, u, "2025-09", pos(0, 3), "10.00", "3.6");
    // a: higher revision first; b: in order; c: the same batch twice.
    store.write_batch(&batch_of(vec![a2.clone()])).await.unwrap();
    store.write_batch(&batch_of(vec![a1.clone(), b1.clone()])).await.unwrap();
    store.write_batch(&batch_of(vec![b2.clone()])).await.unwrap();
    store.write_batch(&batch_of(vec![c1.clone()])).await.unwrap();
    store.write_batch(&batch_of(vec![c1.clone()])).await.unwrap();

    let got = by_id(store.standing_lines(&ids(&["a", "b", "c", "missing", "a"])).await.unwrap());
    let revisions: Vec<(&str, u32)> = got.iter().map(|l| (l.record_id.as_str(), l.revision)).collect();
    assert_eq!(revisions, vec![("a", 2), ("b", 2), ("c", 1)]);
    assert_eq!(got[0].reason, Some(ReasonCode::Refunded));
    assert_eq!(got[0].contribution, d("0"));
    assert_eq!((got[1].reason, got[1].period, got[1].base), (None, month("2025-10"), d("50")));
    assert_eq!(got[1].contribution.to_string(), "18.0000000000");
    assert_eq!(got[2].contribution.to_string(), "3.6000000000");
    assert_eq!(got[2].policy_version, "2025-v1");
    assert_eq!(got[2].user_credit_code, u);

    let lines = store.entity_lines(u.as_str(), None).await.unwrap();
    let keys: Vec<(&str, u32)> = lines.iter().map(|l| (l.record_id.as_str(), l.revision)).collect();
    assert_eq!(keys, vec![("a", 2), ("c", 1), ("b", 2)], "one standing line per record, by period then id");
    assert_eq!(lines[2], b2, "a line round-trips field by field");
}

pub async fn replayed_batches_do_not_double(store: &dyn LedgerStore) {
    ready(store).await;
    let u = code(2);
    let mut batch = batch_of(vec![
        line("r1", 1, u, "2025-09", pos(3, 10), "100.00", "36.0000000000"),
        line("r2", 1, u, "2025-09", pos(3, 11), "0.01", "0.0036000000"),
    ]);
    batch.rejections = vec![rejection(pos(3, 12), ReasonCode::Malformed, None), rejection(pos(3, 13), ReasonCode::Duplicate, Some("r1"))];
    batch.held = vec![held("h1", 1, pos(3, 14), false)];
    batch.adjustments = vec![adjustment("r0", 2, u, "2025-08", "2025-09", "-5.00", "-1.8")];
    let settled = [settlement(u, "2025-09", 2, "100.01", "36.0036000000", "36.00", 1)];
    for _ in 0..2 {
        store.write_batch(&batch).await.unwrap();
        store.write_settlements(&settled).await.unwrap();
    }
    let sums = store.accrual_sums(&[3]).await.unwrap();
    assert_eq!(sums.len(), 1);
    assert_eq!((sums[0].records, sums[0].base, sums[0].contribution), (2, d("100.01"), d("36.0036")));
    assert_eq!(store.rejection_counts().await.unwrap(), vec![("duplicate".to_string(), 1), ("malformed".to_string(), 1)]);
    assert_eq!(store.held_records(&[3]).await.unwrap().len(), 1);
    assert_eq!(store.adjustments().await.unwrap().len(), 1);
    assert_eq!(store.settlements().await.unwrap().len(), 1);
    assert_eq!(store.entity_lines(u.as_str(), None).await.unwrap().len(), 2);
}

pub async fn accrual_sums_filter_partitions_and_sum_exactly(store: &dyn LedgerStore) {
    ready(store).await;
    let (u, v) = (code(3), code(4));
    let mut lines = Vec::new();
    for i in 0..7 {
        lines.push(line(&format!("tiny-{i}"), 1, u, "2025-09", pos(0, i), "0.01", "0.0000000001"));
    }
    lines.push(line("big", 1, u, "2025-09", pos(2, 1), "99999999.99", "35999999.9964000000"));
    lines.push(line("other-version", 1, u, "2025-09", pos(2, 2), "1.00", "0.36"));
    lines.last_mut().unwrap().policy_version = "2025-v2".to_string();
    lines.push(line("v-line", 1, v, "2025-10", pos(2, 3), "2.00", "0.72"));
    lines.push(line("p1", 1, u, "2025-09", pos(1, 1), "5.00", "1.8"));
    lines.push(excluded(line("unpaid", 1, u, "2025-09", pos(0, 99), "9.00", "0"), ReasonCode::Unpaid));
    // Eligible at revision 1, refunded at revision 2: must drop out.
    lines.push(line("flip", 1, u, "2025-09", pos(0, 100), "1000.00", "360"));
    store.write_batch(&batch_of(lines)).await.unwrap();
    store
        .write_batch(&batch_of(vec![excluded(line("flip", 2, u, "2025-09", pos(0, 101), "1000.00", "0"), ReasonCode::Refunded)]))
        .await
        .unwrap();

    let mut sums = store.accrual_sums(&[0, 2]).await.unwrap();
    sums.sort_by(|a, b| (a.user_credit_code, a.period, &a.policy_version).cmp(&(b.user_credit_code, b.period, &b.policy_version)));
    let got: Vec<(String, String, String, u64, String, String)> = sums
        .iter()
        .map(|s| {
            (
                s.user_credit_code.to_string(),
                s.period.to_string(),
                s.policy_version.clone(),
                s.records,
                s.base.to_string(),
                s.contribution.to_string(),
            )
        })
        .collect();
    let row = |c: subsidy_core::CreditCode, p: &str, pv: &str, n: u64, b: &str, x: &str| {
        (c.to_string(), p.to_string(), pv.to_string(), n, b.to_string(), x.to_string())
    };
    assert_eq!(
        got,
        vec![
            row(u, "2025-09", "2025-v1", 8, "100000000.06", "35999999.9964000007"),
            row(u, "2025-09", "2025-v2", 1, "1.00", "0.3600000000"),
            row(v, "2025-10", "2025-v1", 1, "2.00", "0.7200000000"),
        ]
    );
    let only_one = store.accrual_sums(&[1]).await.unwrap();
    assert_eq!(only_one.len(), 1);
    assert_eq!((only_one[0].records, only_one[0].contribution), (1, d("1.8")));
    assert!(store.accrual_sums(&[]).await.unwrap().is_empty());
    assert!(store.accrual_sums(&[9]).await.unwrap().is_empty());
}

pub async fn record_ids_cover_the_given_partitions(store: &dyn LedgerStore) {
    ready(store).await;
    let u = code(3);
    let lines = vec![
        line("a", 1, u, "2025-09", pos(0, 1), "1.00", "0.2"),
        line("b", 1, u, "2025-09", pos(1, 1), "1.00", "0.2"),
        excluded(line("c", 1, u, "2025-09", pos(2, 1), "0.00", "0"), ReasonCode::Unpaid),
    ];
    store.write_batch(&batch_of(lines)).await.unwrap();
    store.write_batch(&batch_of(vec![line("a", 2, u, "2025-09", pos(0, 2), "2.00", "0.4")])).await.unwrap();
    let ids = |partitions: &'static [i32]| async move {
        let mut seen = std::collections::BTreeSet::new();
        let n = store.record_ids(partitions, &mut |id| {
            seen.insert(id.to_string());
        })
        .await
        .unwrap();
        assert!(n >= seen.len() as u64);
        seen.into_iter().collect::<Vec<_>>()
    };
    assert_eq!(ids(&[0, 2]).await, ["a", "c"]);
    assert_eq!(ids(&[1]).await, ["b"]);
    assert!(ids(&[]).await.is_empty());
    assert!(ids(&[7]).await.is_empty());
}

pub async fn held_records_until_released(store: &dyn LedgerStore) {
    ready(store).await;
    let batch = WriteBatch {
        held: vec![held("x", 1, pos(0, 1), false), held("y", 1, pos(0, 2), false), held("z", 1, pos(1, 1), false)],
        ..WriteBatch::default()
    };
    store.write_batch(&batch).await.unwrap();
    let got = store.held_records(&[0]).await.unwrap();
    assert_eq!(got.iter().map(|h| h.record_id.as_str()).collect::<Vec<_>>(), vec!["x", "y"]);
    assert_eq!(got[0], held("x", 1, pos(0, 1), false));

    // Released in a later batch: gone. A replay of the held row does not bring it back.
    store.write_batch(&WriteBatch { held: vec![held("x", 1, pos(0, 1), true)], ..WriteBatch::default() }).await.unwrap();
    store.write_batch(&batch).await.unwrap();
    let got = store.held_records(&[0, 1]).await.unwrap();
    assert_eq!(got.iter().map(|h| h.record_id.as_str()).collect::<Vec<_>>(), vec!["y", "z"]);

    // A later revision held again shows up.
    store.write_batch(&WriteBatch { held: vec![held("x", 2, pos(0, 9), false)], ..WriteBatch::default() }).await.unwrap();
    let got = store.held_records(&[0]).await.unwrap();
    assert_eq!(got.iter().map(|h| (h.record_id.as_str(), h.revision)).collect::<Vec<_>>(), vec![("y", 1), ("x", 2)]);
    assert!(store.held_records(&[]).await.unwrap().is_empty());
}

pub async fn rejections_are_counted_once(store: &dyn LedgerStore) {
    ready(store).await;
    let first = WriteBatch {
        rejections: vec![
            rejection(pos(0, 1), ReasonCode::InvalidField, Some("q")),
            rejection(pos(0, 2), ReasonCode::InvalidField, None),
            rejection(pos(1, 2), ReasonCode::Superseded, Some("q")),
        ],
        ..WriteBatch::default()
    };
    store.write_batch(&first).await.unwrap();
    // The same position again (a replay) replaces; a new position adds.
    let second = WriteBatch {
        rejections: vec![rejection(pos(0, 2), ReasonCode::InvalidField, None), rejection(pos(2, 2), ReasonCode::Malformed, None)],
        ..WriteBatch::default()
    };
    store.write_batch(&second).await.unwrap();
    assert_eq!(
        store.rejection_counts().await.unwrap(),
        vec![("invalid_field".to_string(), 2), ("malformed".to_string(), 1), ("superseded".to_string(), 1)]
    );
}
