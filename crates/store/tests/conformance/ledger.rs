//! Conformance cases for the ledger side: migrations, lines and their versions,
//! replays, sums, the aggregator's lookups, marks and rejections.

use super::fixtures::*;
use subsidy_core::{Affected, ReasonCode};
use subsidy_store::{LedgerStore, LineRow, ResettleMark, WriteBatch};

pub async fn migrate_is_idempotent(store: &dyn LedgerStore) {
    let first = store.migrate().await.unwrap();
    assert_eq!(first[..3], ["0001_ledger".to_string(), "0002_statements".to_string(), "0003_registry".to_string()]);
    let rest: Vec<&str> = first[3..].iter().map(String::as_str).collect();
    let sqlite = ["0004_line_accelerator", "0005_close_fence", "0007_policy_document", "0008_registry_as_of", "0009_programme", "0010_completeness", "0011_funding", "0012_tlog", "0013_line_changes"];
    let clickhouse = ["0004_lines_by_user", "0005_line_accelerator", "0006_close_fence", "0007_policy_document", "0008_registry_as_of", "0009_programme", "0010_completeness", "0011_funding", "0012_tlog", "0013_line_changes"];
    assert!(rest == sqlite || rest == clickhouse, "only ClickHouse adds its by-user index: {first:?}");
    assert!(store.migrate().await.unwrap().is_empty(), "second migrate applies nothing");
    store.ping().await.unwrap();
    assert!(store.line_sums().await.unwrap().is_empty());
    assert!(store.lines_of(&[]).await.unwrap().is_empty());
    assert!(store.statements().await.unwrap().is_empty());
}

pub async fn the_highest_version_stands(store: &dyn LedgerStore) {
    ready(store).await;
    let (u, v) = (code(1), code(2));
    let a1 = line("a", 1, u, "2025-09", pos(0, 1), "100.00", "36.0000000000");
    let a2 = excluded(line("a", 2, u, "2025-09", pos(0, 5), "100.00", "0"), ReasonCode::Refunded);
    let b1 = line("b", 1, u, "2025-09", pos(1, 2), "50.00", "18");
    // b's revision 2 moves it to another user and month.
    let b2 = line("b", 2, v, "2025-10", pos(1, 7), "50.00", "18.0000000000");
    // c is found in conflict at the same revision (a higher version), then represented by a
    // copy with a smaller fingerprint at the same version: the later write stands.
    let c1 = line("c", 1, u, "2025-09", pos(0, 3), "10.00", "3.6");
    let mut c1_again = excluded(c1.clone(), ReasonCode::RevisionConflict);
    c1_again.conflict = true;
    c1_again.version += 3;
    let mut c1_same_version = c1_again.clone();
    c1_same_version.fingerprint = subsidy_core::Fingerprint(c1_again.fingerprint.0 - 1);
    c1_same_version.position = pos(0, 4);
    // a: higher revision first; b: in order; c: re-settled, then replaced at an equal version.
    store.write_batch(&batch_of(vec![a2.clone()])).await.unwrap();
    store.write_batch(&batch_of(vec![a1.clone(), b1.clone(), c1.clone()])).await.unwrap();
    store.write_batch(&batch_of(vec![b2.clone(), c1_again.clone()])).await.unwrap();
    store.write_batch(&batch_of(vec![c1_same_version.clone()])).await.unwrap();
    store.write_batch(&batch_of(vec![c1.clone()])).await.unwrap();

    let mut got = store.lines_of(&ids(&["a", "b", "c", "missing", "a"])).await.unwrap();
    got.sort_by(|x, y| x.record_id.cmp(&y.record_id));
    let revisions: Vec<(&str, u32, bool)> = got.iter().map(|l| (l.record_id.as_str(), l.revision, l.conflict)).collect();
    assert_eq!(revisions, vec![("a", 2, false), ("b", 2, false), ("c", 1, true)]);
    assert_eq!(got[1], b2, "lines round-trip field by field");
    assert_eq!(store.entity_lines(&v, None).await.unwrap(), vec![b2.clone()], "a line round-trips field by field");
    let on_u: Vec<String> = store.entity_lines(&u, None).await.unwrap().into_iter().map(|l| l.record_id).collect();
    assert_eq!(on_u, ["a", "c"], "the moved line left its old user");
    let c = store.entity_lines(&u, Some(month("2025-09"))).await.unwrap().into_iter().find(|l| l.record_id == "c").unwrap();
    assert_eq!(c, c1_same_version);
    assert_eq!(got[2], c1_same_version, "the lookup picks the same line as a merge");
}

/// Two rows of one record at an equal version: the store keeps the one the core's
/// `line_order` puts first (the smaller fingerprint, then the earlier copy), whichever was written last.
pub async fn equal_versions_stand_by_the_core_order(store: &dyn LedgerStore) {
    ready(store).await;
    let u = code(5);
    let conflicted = |id: &str, fingerprint: u128, offset: i64, paid: &str| {
        let mut l = excluded(line(id, 1, u, "2025-09", pos(2, offset), paid, "0"), ReasonCode::RevisionConflict);
        (l.conflict, l.version, l.fingerprint) = (true, subsidy_core::line_version(1, true, 9), subsidy_core::Fingerprint(fingerprint));
        l
    };
    // x: the smaller fingerprint, written first, in separate batches; y: in one batch, the winner first;
    // z: one fingerprint on two copies, the earlier copy written first.
    let writes = [
        vec![conflicted("x", 10, 1, "1.00")],
        vec![conflicted("x", 20, 2, "2.00")],
        vec![conflicted("y", 30, 3, "3.00"), conflicted("y", 40, 4, "4.00")],
        vec![conflicted("z", 50, 5, "5.00")],
        vec![conflicted("z", 50, 6, "6.00")],
    ];
    for lines in &writes {
        store.write_batch(&batch_of(lines.clone())).await.unwrap();
    }
    let mut expected: Vec<LineRow> = Vec::new();
    for l in writes.iter().flatten() {
        match expected.iter_mut().find(|e| e.record_id == l.record_id) {
            Some(e) if subsidy_core::replaces(&l.rank(), &e.rank()) => *e = l.clone(),
            Some(_) => {}
            None => expected.push(l.clone()),
        }
    }
    let paid: Vec<String> = expected.iter().map(|l| l.paid_amount.to_string()).collect();
    assert_eq!(paid, ["1.00", "3.00", "5.00"], "the core keeps the smaller fingerprint, then the earlier copy");
    let mut looked_up = store.lines_of(&ids(&["x", "y", "z"])).await.unwrap();
    looked_up.sort_by(|a, b| a.record_id.cmp(&b.record_id));
    assert_eq!(looked_up, expected, "the aggregator's lookup");
    assert_eq!(store.entity_lines(&u, Some(month("2025-09"))).await.unwrap(), expected, "the merged lines");
    let sums = store.line_sums().await.unwrap();
    assert_eq!((sums.len(), sums[0].records, sums[0].paid_amount.to_string()), (1, 3, "9.00".to_string()), "{sums:?}");
}

pub async fn replayed_batches_do_not_double(store: &dyn LedgerStore) {
    ready(store).await;
    let u = code(2);
    let mut batch = batch_of(vec![line("r1", 1, u, "2025-09", pos(0, 10), "100.00", "24"), line("r2", 1, u, "2025-09", pos(0, 11), "200.00", "48")]);
    batch.rejections = vec![rejection(pos(0, 12), ReasonCode::Malformed, None)];
    store.write_batch(&batch).await.unwrap();
    let once = store.line_sums().await.unwrap();
    store.write_batch(&batch).await.unwrap();
    store.write_batch(&batch).await.unwrap();
    assert_eq!(store.line_sums().await.unwrap(), once);
    assert_eq!(once.len(), 1);
    assert_eq!((once[0].records, once[0].base.to_string(), once[0].contribution.to_string()), (2, "300.00".into(), "72.0000000000".into()));
    assert_eq!(store.rejection_counts().await.unwrap(), vec![("malformed".to_string(), 1)]);
}

pub async fn line_sums_follow_the_standing_lines(store: &dyn LedgerStore) {
    ready(store).await;
    let (u, v) = (code(3), code(4));
    store
        .write_batch(&batch_of(vec![
            line("s1", 1, u, "2025-09", pos(0, 1), "0.10", "0.0240000000"),
            line("s2", 1, u, "2025-09", pos(3, 1), "0.20", "0.0480000001"),
            line("s3", 1, u, "2025-10", pos(1, 1), "1.00", "0.2"),
            excluded(line("s4", 1, u, "2025-09", pos(2, 1), "5.00", "0"), ReasonCode::SelfBuiltSelfUsed),
            line("s5", 1, v, "2025-09", pos(0, 2), "7.00", "1.4"),
        ]))
        .await
        .unwrap();
    // s3 moves to v; s5 becomes excluded.
    store
        .write_batch(&batch_of(vec![line("s3", 2, v, "2025-09", pos(1, 2), "1.00", "0.2"), excluded(line("s5", 2, v, "2025-09", pos(0, 3), "7.00", "0"), ReasonCode::Refunded)]))
        .await
        .unwrap();
    let sums: Vec<(String, String, Option<ReasonCode>, u64, String, String)> = store
        .line_sums()
        .await
        .unwrap()
        .into_iter()
        .map(|s| (s.user_credit_code.to_string(), s.period.to_string(), s.reason, s.records, s.paid_amount.to_string(), s.contribution.to_string()))
        .collect();
    assert_eq!(
        sums,
        vec![
            (u.to_string(), "2025-09".into(), None, 2, "0.30".into(), "0.0720000001".into()),
            (u.to_string(), "2025-09".into(), Some(ReasonCode::SelfBuiltSelfUsed), 1, "5.00".into(), "0.0000000000".into()),
            (v.to_string(), "2025-09".into(), None, 1, "1.00".into(), "0.2000000000".into()),
            (v.to_string(), "2025-09".into(), Some(ReasonCode::Refunded), 1, "7.00".into(), "0.0000000000".into()),
        ]
    );
    assert_eq!(store.months_with_lines().await.unwrap(), vec![month("2025-09")], "no standing line is in October any more");
}

pub async fn record_ids_cover_the_given_partitions(store: &dyn LedgerStore) {
    ready(store).await;
    let u = code(5);
    let lines: Vec<_> = (0..30).map(|i| line(&format!("id-{i}"), 1, u, "2025-09", pos(i % 3, i64::from(i)), "1.00", "0.2")).collect();
    store.write_batch(&batch_of(lines)).await.unwrap();
    let mut seen = Vec::new();
    let n = store.record_ids(&[0, 2], &mut |id| seen.push(id.to_string())).await.unwrap();
    seen.sort();
    seen.dedup();
    assert_eq!(n as usize, seen.len());
    assert_eq!(seen.len(), 20);
    assert!(seen.iter().all(|id| id.trim_start_matches("id-").parse::<i32>().unwrap() % 3 != 1));
    assert_eq!(store.record_ids(&[], &mut |_| panic!("no partitions, no ids")).await.unwrap(), 0);
}

pub async fn held_ids_follow_the_standing_line(store: &dyn LedgerStore) {
    ready(store).await;
    let u = code(6);
    let held = excluded(line("h1", 1, u, "2025-09", pos(0, 1), "1.00", "0"), ReasonCode::UnknownEntity);
    let other = excluded(line("h2", 1, u, "2025-09", pos(1, 1), "1.00", "0"), ReasonCode::UnknownCenter);
    store.write_batch(&batch_of(vec![held.clone(), other])).await.unwrap();
    assert_eq!(store.held_ids(&[0, 1]).await.unwrap(), ids(&["h1", "h2"]));
    assert_eq!(store.held_ids(&[1]).await.unwrap(), ids(&["h2"]));
    // The registry learnt the entity: h1 re-settled at a higher version.
    let mut settled = line("h1", 1, u, "2025-09", pos(0, 1), "1.00", "0.2");
    settled.version = held.version + 2;
    store.write_batch(&WriteBatch { lines: vec![settled], ..WriteBatch::default() }).await.unwrap();
    assert_eq!(store.held_ids(&[0, 1]).await.unwrap(), ids(&["h2"]));
}

pub async fn affected_lines_by_user_or_center_in_owned_partitions(store: &dyn LedgerStore) {
    ready(store).await;
    let (u, v, w) = (code(7), code(8), code(9));
    let mut on_c9 = line("x3", 1, w, "2025-09", pos(0, 3), "1.00", "0.2");
    on_c9.center_id = "C9".into();
    store
        .write_batch(&batch_of(vec![
            line("x1", 1, u, "2025-09", pos(0, 1), "1.00", "0.2"),
            line("x2", 1, v, "2025-09", pos(0, 2), "1.00", "0.2"),
            on_c9,
            LineRow { contract_id: Some("K-4".into()), ..line("x4", 1, u, "2025-09", pos(1, 4), "1.00", "0.2") },
            line("x5", 1, u, "2025-09", pos(0, 5), "1.00", "0.2"),
        ]))
        .await
        .unwrap();
    // x5 has moved away from u since: only what stands counts.
    store.write_batch(&batch_of(vec![line("x5", 2, v, "2025-09", pos(0, 6), "1.00", "0.2")])).await.unwrap();
    let ids_of = |v: Vec<subsidy_store::LineRow>| v.into_iter().map(|l| l.record_id).collect::<Vec<_>>();
    let by_user = Affected { users: [u].into(), ..Affected::default() };
    assert_eq!(ids_of(store.affected_lines(&[0], &by_user).await.unwrap()), ["x1"]);
    assert_eq!(ids_of(store.affected_lines(&[0, 1], &by_user).await.unwrap()), ["x1", "x4"]);
    let by_center = Affected { centers: ["C9".to_string()].into(), ..Affected::default() };
    assert_eq!(ids_of(store.affected_lines(&[0, 1], &by_center).await.unwrap()), ["x3"]);
    let both = Affected { users: [v].into(), centers: ["C9".to_string()].into(), ..Affected::default() };
    assert_eq!(ids_of(store.affected_lines(&[0], &both).await.unwrap()), ["x2", "x3", "x5"]);
    // A change of the funding lists names record ids and contracts; the contract is kept on the line.
    let by_record = Affected { records: ["x1".to_string(), "x4".to_string()].into(), ..Affected::default() };
    assert_eq!(ids_of(store.affected_lines(&[0], &by_record).await.unwrap()), ["x1"]);
    let by_contract = Affected { contracts: ["K-4".to_string()].into(), ..Affected::default() };
    let found = store.affected_lines(&[0, 1], &by_contract).await.unwrap();
    assert_eq!((found.len(), found.first().and_then(|l| l.contract_id.as_deref())), (1, Some("K-4")));
    assert!(store.affected_lines(&[0], &Affected::default()).await.unwrap().is_empty());
    assert!(store.affected_lines(&[], &both).await.unwrap().is_empty());
}

pub async fn marks_keep_the_highest_position(store: &dyn LedgerStore) {
    ready(store).await;
    let mark = |p, position: u64| ResettleMark { partition: p, position, registry: format!("e:{position},c:0") };
    store.write_batch(&WriteBatch { marks: vec![mark(0, 5), mark(1, 3)], ..WriteBatch::default() }).await.unwrap();
    store.write_batch(&WriteBatch { marks: vec![mark(0, 4), mark(1, 9)], ..WriteBatch::default() }).await.unwrap();
    assert_eq!(store.marks(&[0, 1, 2]).await.unwrap(), vec![mark(0, 5), mark(1, 9)]);
    assert_eq!(store.marks(&[1]).await.unwrap(), vec![mark(1, 9)]);
}

pub async fn rejections_are_counted_once(store: &dyn LedgerStore) {
    ready(store).await;
    let batch = WriteBatch {
        rejections: vec![
            rejection(pos(0, 1), ReasonCode::Malformed, None),
            rejection(pos(0, 2), ReasonCode::InvalidField, Some("q")),
            rejection(pos(1, 1), ReasonCode::InvalidField, Some("r")),
        ],
        ..WriteBatch::default()
    };
    store.write_batch(&batch).await.unwrap();
    store.write_batch(&batch).await.unwrap();
    assert_eq!(store.rejection_counts().await.unwrap(), vec![("invalid_field".to_string(), 2), ("malformed".to_string(), 1)]);
}
