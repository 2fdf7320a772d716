//! Conformance cases for what readers of the ledger (the accruals API) use:
//! the copies of a record, the registry as written, one entity's sums, a
//! month's sums.

use super::fixtures::*;
use subsidy_core::{ComputeCenter, Entity, EntityKind, FundedEntry, FundedTarget, ReasonCode, SupplierClaim};
use subsidy_store::{LedgerStore, RegistryRows, WriteBatch};

pub async fn copies_of_read_back_every_copy_in_bus_order(store: &dyn LedgerStore) {
    ready(store).await;
    let u = code(11);
    let a1 = line("a", 1, u, "2025-09", pos(1, 9), "1.00", "0.2");
    let a2 = line("a", 2, u, "2025-09", pos(0, 4), "1.00", "0.2");
    let b1 = line("b", 1, u, "2025-09", pos(0, 1), "1.00", "0.2");
    store.write_batch(&batch_of(vec![a1.clone(), b1.clone()])).await.unwrap();
    store.write_batch(&batch_of(vec![a2.clone()])).await.unwrap();
    // A replayed copy is kept once.
    store.write_batch(&batch_of(vec![a2.clone()])).await.unwrap();
    let got = store.copies_of(&ids(&["b", "a", "missing", "a"])).await.unwrap();
    let keys: Vec<(&str, i32, i64, u32)> = got.iter().map(|c| (c.record_id.as_str(), c.position.partition, c.position.offset, c.revision)).collect();
    assert_eq!(keys, vec![("a", 0, 4, 2), ("a", 1, 9, 1), ("b", 0, 1, 1)]);
    assert_eq!(got[0], copy_for(&a2), "a copy round-trips field by field");
    assert!(store.copies_of(&[]).await.unwrap().is_empty());
}

fn entity(n: u32, city: &str, group: Option<&str>) -> Entity {
    Entity {
        credit_code: code(n),
        name: format!("单位 {n}"),
        kind: EntityKind::University,
        province: "安徽省".into(),
        city: city.into(),
        related_group: group.map(str::to_string),
        valid_from: None,
    }
}

fn center(id: &str, owner: u32) -> ComputeCenter {
    ComputeCenter { center_id: id.into(), name: format!("中心 {id}"), owner_credit_code: code(owner), province: "安徽省".into(), city: "合肥市".into(), valid_from: None }
}

pub async fn the_registry_of_the_highest_position_stands(store: &dyn LedgerStore) {
    ready(store).await;
    assert_eq!(store.registry().await.unwrap(), RegistryRows::default(), "nothing written: an empty registry");
    let funded = |scheme: &str, target: FundedTarget| FundedEntry { scheme: scheme.into(), target };
    let old = RegistryRows {
        version: 5,
        entities: vec![entity(1, "合肥市", None), entity(2, "阜阳市", Some("g"))],
        centers: vec![center("c1", 1)],
        funded: vec![funded("hefei-voucher-2026", FundedTarget::Record("r1".into()))],
        claims: vec![SupplierClaim { record_id: "r1".into(), supplier: code(1) }],
    };
    let new = RegistryRows {
        version: 9,
        entities: vec![entity(1, "宿州市", None), entity(2, "阜阳市", Some("g"))],
        centers: vec![center("c1", 2)],
        funded: vec![funded("fuyang-2026", FundedTarget::Record("r2".into())), funded("hefei-voucher-2026", FundedTarget::Contract("K-1".into()))],
        claims: vec![SupplierClaim { record_id: "r2".into(), supplier: code(2) }],
    };
    // The newer registry first, then a member behind it writes the older one.
    for r in [&new, &old] {
        store.write_batch(&WriteBatch { registry: Some(r.clone()), ..WriteBatch::default() }).await.unwrap();
    }
    assert_eq!(store.registry().await.unwrap(), new);
    assert_eq!(store.registry().await.unwrap().registry().entity(&code(1)).map(|e| e.city.as_str()), Some("宿州市"));
    // An entity and a center removed (by a tombstone) are absent from the next registry
    // written: gone. So are the funding lists, emptied since: they write no rows.
    let removed = RegistryRows { version: 12, entities: vec![entity(2, "阜阳市", Some("g"))], centers: vec![center("c2", 2)], ..RegistryRows::default() };
    store.write_batch(&WriteBatch { registry: Some(removed.clone()), ..WriteBatch::default() }).await.unwrap();
    assert_eq!(store.registry().await.unwrap(), removed);
    assert!(store.registry().await.unwrap().registry().entity(&code(1)).is_none());
}

pub async fn settlements_of_one_user(store: &dyn LedgerStore) {
    ready(store).await;
    let (u, v) = (code(12), code(13));
    store
        .write_batch(&batch_of(vec![
            line("x1", 1, u, "2025-09", pos(0, 1), "1.00", "0.2"),
            line("x2", 1, v, "2025-09", pos(0, 2), "2.00", "0.4"),
            line("x3", 1, u, "2025-10", pos(0, 3), "3.00", "0.6"),
        ]))
        .await
        .unwrap();
    let policy = subsidy_core::PolicySet::builtin();
    let all = subsidy_store::settlements(store, &policy).await.unwrap();
    // What the ledger page does: settle one entity's lines alone.
    let policy = &policy;
    let of = |c| async move { subsidy_store::settle_lines(&store.entity_lines(&c, None).await.unwrap(), policy).unwrap() };
    let of_u = of(u).await;
    assert_eq!(of_u, all.iter().filter(|s| s.credit_code == u).cloned().collect::<Vec<_>>());
    assert_eq!(of_u.len(), 2);
    assert!(of(code(14)).await.is_empty());
}

pub async fn the_generation_moves_with_every_write(store: &dyn LedgerStore) {
    ready(store).await;
    let before = store.generation().await.unwrap();
    assert_eq!(store.generation().await.unwrap(), before, "no write, no move");
    store.write_batch(&batch_of(vec![line("g1", 1, code(21), "2025-09", pos(0, 1), "1.00", "0.2")])).await.unwrap();
    let after = store.generation().await.unwrap();
    assert_ne!(after, before);
    store.commit_close(&closure("2025-09", "c-g"), &[]).await.unwrap();
    assert_ne!(store.generation().await.unwrap(), after, "a close moves it too");
}

pub async fn month_sums_group_one_month_by_center_accelerator_reason_and_uplift(store: &dyn LedgerStore) {
    ready(store).await;
    let (u, v) = (code(12), code(13));
    let on = |mut l: subsidy_store::LineRow, accelerator: &str| {
        l.accelerator = accelerator.to_string();
        l
    };
    store
        .write_batch(&batch_of(vec![
            line("m1", 1, u, "2025-09", pos(0, 1), "10.00", "3.6"),
            line("m2", 1, u, "2025-09", pos(0, 2), "20.00", "7.2"),
            on(line("m3", 1, u, "2025-09", pos(0, 3), "5.00", "1.8"), "A800"),
            excluded(line("m4", 1, u, "2025-09", pos(0, 4), "8.00", "0"), ReasonCode::Unpaid),
            line("m5", 1, u, "2025-10", pos(0, 5), "99.00", "35.64"),
            line("m6", 1, u, "2025-09", pos(0, 6), "1.00", "0.36"),
        ]))
        .await
        .unwrap();
    // m6 moves to v: it counts for v only.
    store.write_batch(&batch_of(vec![line("m6", 2, v, "2025-09", pos(0, 7), "1.00", "0.36")])).await.unwrap();
    let got: Vec<(String, String, Option<ReasonCode>, u64, String, String)> = store
        .month_sums(month("2025-09"))
        .await
        .unwrap()
        .into_iter()
        .map(|s| {
            assert_eq!((s.center_id.as_str(), s.uplift.to_string().as_str()), ("hefei-01", "1.2"));
            (s.user_credit_code.to_string(), s.accelerator, s.reason, s.records, s.paid_amount.to_string(), s.contribution.to_string())
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (u.to_string(), "A800".into(), None, 1, "5.00".into(), "1.8000000000".into()),
            (u.to_string(), "Ascend-910B".into(), None, 2, "30.00".into(), "10.8000000000".into()),
            (u.to_string(), "Ascend-910B".into(), Some(ReasonCode::Unpaid), 1, "8.00".into(), "0.0000000000".into()),
            (v.to_string(), "Ascend-910B".into(), None, 1, "1.00".into(), "0.3600000000".into()),
        ]
    );
    let lines = store.entity_lines(&u, Some(month("2025-09"))).await.unwrap();
    assert_eq!(lines.iter().find(|l| l.record_id == "m3").map(|l| l.accelerator.as_str()), Some("A800"), "the accelerator round-trips");
}
