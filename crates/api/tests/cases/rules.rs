//! Cases for figures and words the API takes from the core: the uplift's part of a month,
//! the policy's description of its uplift, and a month's settled figure on the ledger page.

use crate::support::*;
use axum::http::StatusCode;
use serde_json::Value;
use std::sync::Arc;
use subsidy_api::{ApiMetrics, ApiState, TokenStore};
use subsidy_core::PolicySet;
use subsidy_store::{BusPosition, LedgerStore};

/// The API over `store`, settling under `policy`.
async fn api_under(store: Arc<dyn LedgerStore>, policy: PolicySet) -> Api {
    let tokens = tokens();
    let metrics = prometheus::Registry::new();
    let state = ApiState::open(store, policy, TokenStore::open(tokens.file.path()).unwrap(), ApiMetrics::new(&metrics).unwrap()).await.unwrap();
    Api { router: subsidy_api::router(state.clone(), metrics.clone()), metrics, tokens, state }
}

/// Settles `copies` under the built-in policy and writes them.
async fn write(store: &dyn LedgerStore, copies: &[(String, i64)]) {
    let copies: Vec<(String, BusPosition)> = copies.iter().map(|(raw, offset)| (raw.clone(), BusPosition { partition: 0, offset: *offset })).collect();
    store.write_batch(&settle_copies(&copies, &Default::default(), &registry_rows().registry(), &PolicySet::builtin())).await.unwrap();
}

fn yuan_of(v: &Value) -> String {
    v.as_str().unwrap_or_else(|| panic!("{v} is not a money string")).to_string()
}

pub async fn the_uplift_part_is_the_core_s_rounded_down_once(store: Arc<dyn LedgerStore>) {
    load(store.as_ref()).await;
    // B (阜阳市, 皖北) pays 10.13 in November: contribution 10.13 × 0.2 × 1.2 = 2.4312, of which 0.4052 is the uplift's.
    write(store.as_ref(), &[(record("r-b9", 1, b(), "c-pub", "2025-11-05", "10.13"), 90)]).await;
    let api = api(store).await;
    let ov = get(&api.router, "/v1/overview?period=2025-11", Some(&api.tokens.bureau), &[]).await;
    assert_eq!(ov.status, StatusCode::OK, "{}", ov.text());
    assert_eq!(yuan_of(&ov.json()["uplift_contribution"]), "0.40", "rounded down to the fen, never up");
}

pub async fn the_uplift_is_explained_in_the_policy_s_words(store: Arc<dyn LedgerStore>) {
    load(store.as_ref()).await;
    let mut policy = PolicySet::builtin();
    let uplift = policy.versions[1].uplift.as_mut().unwrap();
    (uplift.region, uplift.region_label) = ("江淮".to_string(), "Jianghuai".to_string());
    let api = api_under(store, policy).await;
    let page = get(&api.router, &format!("/v1/entities/{}/ledger?period=2025-09", b()), Some(&api.tokens.bureau), &[]).await.json();
    assert_eq!(page["lines"][0]["uplift_reason"], "江淮 uplift ×1.2: the user is registered in 阜阳市, a Jianghuai city", "{page}");
    let own = get(&api.router, &format!("/v1/entities/{}/ledger?period=2025-09", a()), Some(&api.tokens.bureau), &[]).await.json();
    assert_eq!(own["lines"][0]["uplift_reason"], Value::Null, "no uplift in 合肥市: {own}");
}

/// Each month's `subsidy` on the ledger page and in the accruals.
async fn both_figures(api: &Api, months: &[&str]) -> Vec<(String, String)> {
    let t = Some(api.tokens.bureau.as_str());
    let acc = get(&api.router, &format!("/v1/entities/{}/accruals", a()), t, &[]).await.json();
    let mut out = Vec::new();
    for m in months {
        let accrued = acc["months"].as_array().unwrap().iter().find(|x| x["period"] == *m).map_or_else(|| "absent".to_string(), |x| yuan_of(&x["subsidy"]));
        let page = get(&api.router, &format!("/v1/entities/{}/ledger?period={m}", a()), t, &[]).await.json();
        out.push((yuan_of(&page["subsidy"]), accrued));
    }
    out
}

pub async fn the_ledger_page_shows_the_accruals_figure_of_a_capped_month(store: Arc<dyn LedgerStore>) {
    load(store.as_ref()).await;
    // A cap of 250 a year: A's September (240) takes most of it, October (66 uncapped) gets the rest.
    let mut policy = PolicySet::builtin();
    for v in &mut policy.versions {
        v.annual_cap_yuan = Some("250".parse().unwrap());
    }
    let api = api_under(store.clone(), policy).await;
    let months = ["2025-09", "2025-10"];
    let pairs = |v: [(&str, &str); 2]| v.map(|(l, a)| (l.to_string(), a.to_string())).to_vec();
    assert_eq!(both_figures(&api, &months[..1]).await, pairs([("240.00", "240.00"), ("", "")])[..1]);
    // A new September line (25 paid: 5 more) moves the cap's remainder out of October. Until the
    // book is read again both answers give October's figure of the book in force (10, capped
    // from 66), then both move.
    write(store.as_ref(), &[(record("r-a8", 1, a(), "c-pub", "2025-09-20", "25.00"), 95)]).await;
    assert_eq!(both_figures(&api, &months[1..]).await, pairs([("10.00", "10.00"), ("", "")])[..1]);
    assert!(subsidy_api::state::refresh(&api.state).await.unwrap());
    assert_eq!(both_figures(&api, &months).await, pairs([("245.00", "245.00"), ("5.00", "5.00")]));
}

/// A line excluded for double funding names what excludes it: the scheme and the record or
/// contract it funds, or the supplier that owns the center and claims the record. The lists
/// come back from the store with the registry, and a list emptied since is read back empty.
pub async fn double_funding_names_the_scheme_and_the_supplier(store: Arc<dyn LedgerStore>) {
    use subsidy_core::{FundedEntry, FundedTarget, SupplierClaim};
    store.migrate().await.unwrap();
    let mut rows = registry_rows();
    rows.funded = vec![
        FundedEntry { scheme: "hefei-voucher-2026".into(), target: FundedTarget::Record("r-f1".into()) },
        FundedEntry { scheme: "wuhu-2026".into(), target: FundedTarget::Contract("K-9".into()) },
    ];
    // d() owns c-pub; a claim by b(), who owns nothing, excludes nothing.
    rows.claims = vec![SupplierClaim { record_id: "r-s1".into(), supplier: d() }, SupplierClaim { record_id: "r-s2".into(), supplier: b() }];
    let mut contracted: Value = serde_json::from_str(&record("r-k1", 1, a(), "c-pub", "2025-11-03", "200.00")).unwrap();
    contracted["contract_id"] = "K-9".into();
    let copies: Vec<(String, BusPosition)> = [
        record("r-f1", 1, a(), "c-pub", "2025-11-02", "100.00"),
        contracted.to_string(),
        record("r-s1", 1, a(), "c-pub", "2025-11-04", "300.00"),
        record("r-s2", 1, a(), "c-pub", "2025-11-05", "400.00"),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, raw)| (raw, BusPosition { partition: 0, offset: i as i64 }))
    .collect();
    let mut batch = settle_copies(&copies, &Default::default(), &rows.registry(), &PolicySet::builtin());
    batch.registry = Some(rows.clone());
    store.write_batch(&batch).await.unwrap();

    let read = store.registry().await.unwrap();
    assert_eq!((read.funded.len(), read.claims.len()), (2, 2), "the lists come back with the registry: {read:?}");

    let api = api_under(store.clone(), PolicySet::builtin()).await;
    let page = get(&api.router, &format!("/v1/entities/{}/ledger?period=2025-11", a()), Some(api.tokens.bureau.as_str()), &[]).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    let page = page.json();
    let by_id = |id: &str| page["lines"].as_array().unwrap().iter().find(|l| l["record_id"] == id).cloned().unwrap_or_else(|| panic!("{id} missing: {page}"));
    let (f1, k1, s1, s2) = (by_id("r-f1"), by_id("r-k1"), by_id("r-s1"), by_id("r-s2"));
    assert_eq!((f1["reason"].as_str(), f1["reason_detail"].as_str()), (Some("subsidized_elsewhere"), Some("scheme hefei-voucher-2026 (record r-f1)")));
    assert_eq!((k1["reason"].as_str(), k1["reason_detail"].as_str()), (Some("subsidized_elsewhere"), Some("scheme wuhu-2026 (contract K-9)")));
    assert_eq!(s1["reason"], "claimed_by_supplier");
    assert_eq!(s1["reason_detail"].as_str(), Some(format!("supplier {} owns center c-pub and claims record r-s1", d()).as_str()));
    assert_eq!((s2["eligible"].as_bool(), &s2["reason_detail"]), (Some(true), &Value::Null), "a claim by a supplier that does not own the center excludes nothing");

    // The lists emptied at the next registry version: the store reads them back empty.
    let emptied = subsidy_store::RegistryRows { version: rows.version + 1, funded: vec![], claims: vec![], ..rows };
    store.write_batch(&subsidy_store::WriteBatch { registry: Some(emptied), ..Default::default() }).await.unwrap();
    let read = store.registry().await.unwrap();
    assert_eq!((read.funded.len(), read.claims.len(), read.entities.len()), (0, 0, 5), "{read:?}");
}
