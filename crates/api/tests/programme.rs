//! The programme through the API, over a SQLite ledger and over a ClickHouse
//! one (its steps fenced by the log of claims, on librdkafka's mock cluster):
//! a university (A, in
//! 合肥市) accrues, September closes, A claims it, 合肥市 and the bureau
//! approve, a batch pays it; a refund of the paid record shrinks September at
//! October's close, the receivable shows, and the next batch nets it. A year
//! that runs out of budget under each rule; and the 403s of the roles.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use axum::http::StatusCode;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;
use std::sync::Arc;
use subsidy_core::budget::{Budget, OverBudget};
use subsidy_core::PolicySet;
use subsidy_store::{ClickHouseConfig, ClickHouseStore, LedgerStore, LineRow, SqliteStore, StepLog};
use support::*;

/// A ledger for one test: SQLite in memory, or a fresh ClickHouse database whose steps are
/// fenced by a log of claims on a mock cluster.
struct Ledger {
    store: Arc<dyn LedgerStore>,
    log: Option<Arc<dyn StepLog>>,
    clickhouse: Option<Arc<ClickHouseStore>>,
}

/// The mock cluster holding a ClickHouse ledger's log of claims, kept alive by the test.
type Cluster = rdkafka::mocking::MockCluster<'static, rdkafka::producer::DefaultProducerContext>;

impl Ledger {
    async fn sqlite() -> Ledger {
        Ledger { store: Arc::new(SqliteStore::open_in_memory().unwrap()), log: None, clickhouse: None }
    }

    async fn clickhouse(case: &str) -> (Ledger, Cluster) {
        let url = std::env::var("SUBSIDY_CLICKHOUSE_URL").unwrap_or_else(|_| "http://127.0.0.1:8123".to_string());
        let name = format!("subsidy_api_programme_{case}_{}", std::process::id());
        let store = ClickHouseStore::connect(&ClickHouseConfig::new(&url).with_database(&name)).await;
        let store = Arc::new(store.unwrap_or_else(|e| panic!("ClickHouse is required for the API tests but {url} does not answer: {e}")));
        let cluster = rdkafka::mocking::MockCluster::new(1).unwrap();
        cluster.create_topic("subsidy.closes", 1, 1).unwrap();
        let log = subsidy_pipeline::programme_log::ProgrammeLog::open(&cluster.bootstrap_servers(), "subsidy.closes", &name).await.unwrap();
        (Ledger { store: store.clone(), log: Some(Arc::new(log)), clickhouse: Some(store) }, cluster)
    }

    async fn api(&self, policy: PolicySet) -> Api {
        api_with_log(self.store.clone(), policy, self.log.clone()).await
    }
}

/// Runs each named test on SQLite and on ClickHouse.
macro_rules! on_both_stores {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $case() {
                    crate::$case(crate::Ledger::sqlite().await).await;
                }
            )*
        }
        mod clickhouse {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let (ledger, _cluster) = crate::Ledger::clickhouse(stringify!($case)).await;
                    let clickhouse = ledger.clickhouse.clone().unwrap();
                    let outcome = tokio::spawn(crate::$case(ledger)).await;
                    clickhouse.drop_database().await.unwrap();
                    if let Err(e) = outcome {
                        std::panic::resume_unwind(e.into_panic());
                    }
                }
            )*
        }
    };
}

on_both_stores!(a_claim_goes_from_accrual_to_batch_and_a_refund_is_netted_in_the_next, roles_see_and_do_only_their_own, first_come_pays_the_crossing_claim_what_is_left, pro_rata_grants_sum_to_the_budget_once_the_year_closes);

fn dec(v: &Value) -> Decimal {
    Decimal::from_str(v.as_str().unwrap_or_else(|| panic!("not an amount: {v}"))).unwrap()
}

fn policy(amount: &str, rule: OverBudget) -> PolicySet {
    let mut p = PolicySet::builtin();
    p.budgets = vec![Budget { year: 2025, amount_yuan: Decimal::from_str(amount).unwrap(), over_budget: rule, city_shares: BTreeMap::from([("合肥市".to_string(), Decimal::from_str("0.3").unwrap())]) }];
    p
}

/// September: A pays 1000.00 and B 500.00 on the public center; closed.
async fn september(store: &dyn LedgerStore) {
    store.migrate().await.unwrap();
    let rows = registry_rows();
    let registry = rows.registry();
    let copies = vec![(record("r-a1", 1, a(), "c-pub", "2025-09-10", "1000.00"), pos(0)), (on("MLU370", record("r-b1", 1, b(), "c-pub", "2025-09-11", "500.00")), pos(1))];
    let mut batch = settle_copies(&copies, &HashMap::new(), &registry, &PolicySet::builtin());
    batch.registry = Some(rows);
    store.write_batch(&batch).await.unwrap();
    close(store, &PolicySet::builtin(), "2025-09").await;
}

/// October: A's September record refunded down to `refunded_to`, and a new October line; closed.
async fn october(store: &dyn LedgerStore, refunded_to: &str) {
    let registry = registry_rows().registry();
    let known: HashMap<String, LineRow> = store.lines_of(&["r-a1".to_string()]).await.unwrap().into_iter().map(|l| (l.record_id.clone(), l)).collect();
    let copies = vec![(record("r-a1", 2, a(), "c-pub", "2025-09-10", refunded_to), pos(2)), (record("r-a2", 1, a(), "c-pub", "2025-10-03", "800.00"), pos(3))];
    store.write_batch(&settle_copies(&copies, &known, &registry, &PolicySet::builtin())).await.unwrap();
    close(store, &PolicySet::builtin(), "2025-10").await;
}

async fn post(api: &Api, uri: &str, token: &str, body: Value) -> Value {
    let got = post_json(&api.router, uri, token, &body).await;
    assert!(got.status.is_success(), "{uri} {body}: {} {}", got.status, got.text());
    got.json()
}

async fn read(api: &Api, uri: &str, token: &str) -> Value {
    let got = get(&api.router, uri, Some(token), &[]).await;
    assert_eq!(got.status, StatusCode::OK, "{uri}: {}", got.text());
    got.json()
}

/// Files a claim for `months` with `entity`'s token and has `city` and the bureau approve it.
async fn claim_and_approve(api: &Api, entity: &str, city: &str, months: &[&str]) -> String {
    let filed = post(api, "/v1/claims", entity, json!({ "months": months })).await;
    let id = filed["id"].as_str().unwrap().to_string();
    post(api, &format!("/v1/claims/{id}/review"), city, json!({"stage": "city", "verdict": "approve", "reason": "usage matches the platform's invoices"})).await;
    post(api, &format!("/v1/claims/{id}/review"), &api.tokens.bureau, json!({"stage": "bureau", "verdict": "approve", "reason": "checked"})).await;
    id
}

async fn a_claim_goes_from_accrual_to_batch_and_a_refund_is_netted_in_the_next(ledger: Ledger) {
    let store = ledger.store.clone();
    september(store.as_ref()).await;
    let api = ledger.api(policy("100000000", OverBudget::FirstCome)).await;
    let t = &api.tokens;

    // A claims September; the claim names A's city and waits for it.
    let filed = post(&api, "/v1/claims", &t.a, json!({"months": ["2025-09"]})).await;
    let id = filed["id"].as_str().unwrap().to_string();
    assert_eq!(filed["through"], "2025-09");
    let claim = read(&api, &format!("/v1/claims/{id}"), &t.a).await;
    assert_eq!((claim["status"].as_str(), claim["city"].as_str()), (Some("filed"), Some("合肥市")));
    assert!(claim["filed_by"].as_str().unwrap().starts_with(&format!("entity:{}:", a())), "the token's label, never the token: {claim}");
    assert!(!claim.to_string().contains(&t.a));
    // A month is claimed once.
    assert_eq!(post_json(&api.router, "/v1/claims", &t.a, &json!({"months": ["2025-09"]})).await.status, StatusCode::CONFLICT);
    // An open month is not claimed.
    assert_eq!(post_json(&api.router, "/v1/claims", &t.a, &json!({"months": ["2025-10"]})).await.status, StatusCode::CONFLICT);

    // 合肥市 lists it to review; 阜阳市 does not see it and may not review it.
    let listed = read(&api, "/v1/claims?status=filed", &t.hefei).await;
    assert_eq!(listed["claims"].as_array().unwrap().iter().filter(|c| c["claim_id"] == id.as_str()).count(), 1);
    assert!(read(&api, "/v1/claims", &t.fuyang).await["claims"].as_array().unwrap().is_empty());
    let review = json!({"stage": "city", "verdict": "approve", "reason": "ok"});
    assert_eq!(post_json(&api.router, &format!("/v1/claims/{id}/review"), &t.fuyang, &review).await.status, StatusCode::FORBIDDEN);
    // The bureau reviews second, not first.
    let early = post_json(&api.router, &format!("/v1/claims/{id}/review"), &t.bureau, &json!({"stage": "bureau", "verdict": "approve", "reason": "ok"})).await;
    assert_eq!(early.status, StatusCode::CONFLICT, "{}", early.text());
    post(&api, &format!("/v1/claims/{id}/review"), &t.hefei, review.clone()).await;
    post(&api, &format!("/v1/claims/{id}/review"), &t.bureau, json!({"stage": "bureau", "verdict": "approve", "reason": "checked against the statements"})).await;

    // Approved: it took September's statement line and asks what it fixed.
    let claim = read(&api, &format!("/v1/claims/{id}"), &t.a).await;
    assert_eq!(claim["status"], "approved");
    let statements = read(&api, &format!("/v1/entities/{}/statements", a()), &t.a).await;
    let fixed: Decimal = statements["statements"].as_array().unwrap().iter().filter(|s| s["for_period"] == "2025-09").map(|s| dec(&s["subsidy"])).sum();
    assert!(fixed > Decimal::ZERO);
    assert_eq!(claim["lines"].as_array().unwrap().len(), 1);
    assert_eq!(dec(&claim["parts"][0]["asked"]), fixed);
    assert_eq!(dec(&claim["parts"][0]["granted"]), fixed, "within the budget a claim is granted what it asks");
    assert!(claim["city_review"]["label"].as_str().unwrap().starts_with("city:合肥市:"));

    // An entity may not make a batch; the bureau does.
    let batch = json!({"payout_date": "2025-11-20", "claims": [id]});
    assert_eq!(post_json(&api.router, "/v1/batches", &t.a, &batch).await.status, StatusCode::FORBIDDEN);
    let made = post(&api, "/v1/batches", &t.bureau, batch.clone()).await;
    let b1 = made["id"].as_str().unwrap().to_string();
    assert_eq!(post_json(&api.router, "/v1/batches", &t.bureau, &batch).await.status, StatusCode::CONFLICT, "a claim is paid once");
    let view = read(&api, &format!("/v1/batches/{b1}"), &t.bureau).await;
    let row = &view["rows"][0];
    assert_eq!(dec(&row["province_part"]) + dec(&row["city_part"]), dec(&row["amount"]));
    assert_eq!(dec(&row["amount"]), fixed);
    assert_eq!(dec(&row["city_part"]), (fixed * Decimal::from_str("0.3").unwrap()).round_dp_with_strategy(2, rust_decimal::RoundingStrategy::ToZero));
    assert_eq!(view["city_totals"][0]["city"], "合肥市");
    // The statement line names the claim that took it and the batch that paid it.
    let paid_lines = read(&api, &format!("/v1/entities/{}/statements", a()), &t.a).await;
    let september_line = paid_lines["statements"].as_array().unwrap().iter().find(|s| s["for_period"] == "2025-09" && s["kind"] == "settled").unwrap().clone();
    assert_eq!((september_line["claim_id"].as_str(), september_line["batch_id"].as_str()), (Some(id.as_str()), Some(b1.as_str())), "{september_line}");
    let csv = get(&api.router, &format!("/v1/batches/{b1}/csv"), Some(&t.bureau), &[]).await;
    assert_eq!(csv.status, StatusCode::OK);
    let lines: Vec<String> = csv.text().lines().map(str::to_string).collect();
    assert_eq!(lines[0], "credit_code,name,claim_id,province_part,city_part,amount,recovered,net_paid");
    let cells: Vec<&str> = lines[1].split(',').collect();
    assert_eq!(lines.len(), 2);
    assert_eq!((cells[0], cells[1], cells[2]), (a().as_str(), "\"合肥某大学\"", id.as_str()));
    assert_eq!(Decimal::from_str(cells[3]).unwrap() + Decimal::from_str(cells[4]).unwrap(), Decimal::from_str(cells[5]).unwrap());
    assert_eq!(get(&api.router, &format!("/v1/batches/{b1}/csv"), Some(&t.hefei), &[]).await.status, StatusCode::FORBIDDEN);
    assert_eq!(read(&api, &format!("/v1/claims/{id}"), &t.a).await["batch_id"], b1.as_str());

    // A refund of the paid record: October's close books September smaller, after its claim's approval.
    october(store.as_ref(), "400.00").await;
    assert!(subsidy_api::state::refresh(&api.state).await.unwrap());
    let owed = read(&api, "/v1/receivables", &t.a).await;
    let owed = owed["receivables"].as_array().unwrap().clone();
    assert_eq!(owed.len(), 1, "{owed:?}");
    let adjustment: Decimal = read(&api, &format!("/v1/entities/{}/statements", a()), &t.a).await["statements"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["for_period"] == "2025-09" && s["payout_period"] == "2025-10")
        .map(|s| dec(&s["subsidy"]))
        .sum();
    assert!(adjustment < Decimal::ZERO);
    assert_eq!((owed[0]["source"].as_str(), owed[0]["claim_id"].as_str()), (Some("adjustment"), Some(id.as_str())));
    assert_eq!(dec(&owed[0]["amount"]), -adjustment, "granted what it asked, the whole adjustment is owed");
    assert_eq!(dec(&owed[0]["outstanding"]), -adjustment);
    assert_eq!(read(&api, &format!("/v1/receivables?credit_code={}", a()), &t.hefei).await["receivables"].as_array().unwrap().len(), 1);
    assert!(read(&api, "/v1/receivables", &t.fuyang).await["receivables"].as_array().unwrap().is_empty());
    assert_eq!(get(&api.router, &format!("/v1/receivables?credit_code={}", a()), Some(&t.b), &[]).await.status, StatusCode::FORBIDDEN);

    // A claims October; the next batch nets what it owes.
    let next = claim_and_approve(&api, &t.a, &t.hefei, &["2025-10"]).await;
    let made = post(&api, "/v1/batches", &t.bureau, json!({"payout_date": "2025-12-20", "claims": [next]})).await;
    let view = read(&api, &format!("/v1/batches/{}", made["id"].as_str().unwrap()), &t.a).await;
    let row = &view["rows"][0];
    let recovered = dec(&row["recovered"]);
    assert!(recovered > Decimal::ZERO && dec(&row["net_paid"]) >= Decimal::ZERO, "{view}");
    assert_eq!(dec(&row["amount"]) - recovered, dec(&row["net_paid"]));
    assert_eq!(recovered, (-adjustment).min(dec(&row["amount"])));
    assert_eq!(dec(&view["recoveries"][0]["amount"]), recovered);
    let owed = read(&api, "/v1/receivables", &t.a).await;
    assert_eq!(dec(&owed["receivables"][0]["recovered"]), recovered);
    assert_eq!(dec(&owed["receivables"][0]["outstanding"]), -adjustment - recovered);

    // The budget view follows: paid is what the batches were granted.
    let budget = read(&api, "/v1/budget?year=2025", &t.bureau).await;
    let granted: Decimal = read(&api, "/v1/claims?status=paid", &t.bureau).await["claims"].as_array().unwrap().iter().map(|c| dec(&c["granted"])).sum();
    assert_eq!(dec(&budget["figures"]["paid"]), granted);
    let hefei = read(&api, "/v1/budget?year=2025", &t.hefei).await;
    assert_eq!(hefei["scope"], "合肥市");
    assert_eq!(hefei["by_city"].as_object().unwrap().keys().collect::<Vec<_>>(), ["合肥市"]);
    assert_eq!(get(&api.router, "/v1/budget?year=2025", Some(&t.a), &[]).await.status, StatusCode::FORBIDDEN);
    assert_eq!(get(&api.router, "/v1/budget?year=1999", Some(&t.bureau), &[]).await.status, StatusCode::BAD_REQUEST);
}

async fn roles_see_and_do_only_their_own(ledger: Ledger) {
    september(ledger.store.as_ref()).await;
    let api = ledger.api(PolicySet::builtin()).await;
    let t = &api.tokens;
    let id = post(&api, "/v1/claims", &t.a, json!({"months": ["2025-09"]})).await["id"].as_str().unwrap().to_string();
    // Another entity reads it: 403; an entity claims for another: 403; a missing claim: 404.
    assert_eq!(get(&api.router, &format!("/v1/claims/{id}"), Some(&t.b), &[]).await.status, StatusCode::FORBIDDEN);
    assert_eq!(post_json(&api.router, "/v1/claims", &t.b, &json!({"credit_code": a().as_str(), "months": ["2025-09"]})).await.status, StatusCode::FORBIDDEN);
    assert_eq!(get(&api.router, "/v1/claims/C-999", Some(&t.bureau), &[]).await.status, StatusCode::NOT_FOUND);
    // Another city reviews it: 403. An entity enters a finding or closes a year: 403.
    let review = json!({"stage": "city", "verdict": "reject", "reason": "not ours"});
    assert_eq!(post_json(&api.router, &format!("/v1/claims/{id}/review"), &t.fuyang, &review).await.status, StatusCode::FORBIDDEN);
    let finding = json!({"case_id": "AUD-1", "credit_code": a().as_str(), "months": ["2025-09"], "amount": "10.00", "reason": "billed twice"});
    assert_eq!(post_json(&api.router, "/v1/findings", &t.a, &finding).await.status, StatusCode::FORBIDDEN);
    assert_eq!(post_json(&api.router, "/v1/years/2025/close", &t.hefei, &json!({})).await.status, StatusCode::FORBIDDEN);
    // Bad bodies are 400s naming what is wrong.
    for (body, names) in [
        (json!({"months": []}), "months"),
        (json!({"months": ["2025-13"]}), "months"),
        (json!({"months": ["2025-09"], "extra": 1}), "body"),
        (json!({"credit_code": "91340100000000000X", "months": ["2025-09"]}), "credit_code"),
    ] {
        let got = post_json(&api.router, "/v1/claims", &t.a, &body).await;
        assert_eq!((got.status, got.json()["parameter"].as_str()), (StatusCode::BAD_REQUEST, Some(names)), "{body}: {}", got.text());
    }
    let blank = post_json(&api.router, &format!("/v1/claims/{id}/review"), &t.hefei, &json!({"stage": "city", "verdict": "approve", "reason": "  "})).await;
    assert_eq!(blank.status, StatusCode::BAD_REQUEST, "a reason is required: {}", blank.text());
    // The bureau enters a finding once; the entity sees it as owed.
    assert_eq!(post_json(&api.router, "/v1/findings", &t.bureau, &finding).await.status, StatusCode::CREATED);
    assert_eq!(post_json(&api.router, "/v1/findings", &t.bureau, &finding).await.status, StatusCode::CONFLICT);
    let owed = read(&api, "/v1/receivables", &t.a).await;
    assert_eq!((owed["receivables"][0]["case_id"].as_str(), owed["receivables"][0]["outstanding"].as_str()), (Some("AUD-1"), Some("10.00")));
    // A rejected claim frees its month.
    post(&api, &format!("/v1/claims/{id}/review"), &t.hefei, review).await;
    assert_eq!(read(&api, &format!("/v1/claims/{id}"), &t.a).await["status"], "rejected");
    assert_eq!(post_json(&api.router, "/v1/claims", &t.a, &json!({"months": ["2025-09"]})).await.status, StatusCode::CREATED);
}

/// A and B claim September under a 2025 budget smaller than both ask; A is approved first.
async fn over_budget(ledger: &Ledger, rule: OverBudget) -> (Api, Vec<(Decimal, Option<Decimal>)>, Decimal) {
    let store = ledger.store.clone();
    september(store.as_ref()).await;
    let fixed = store.statements().await.unwrap();
    let fixed_of = |code| fixed.iter().filter(|s| s.credit_code == code).map(|s| s.subsidy).sum::<Decimal>();
    let (asked_a, asked_b) = (fixed_of(a()), fixed_of(b()));
    assert!(asked_a > Decimal::ZERO && asked_b > Decimal::ZERO);
    // The budget: more than A asks, less than both.
    let budget = asked_a + (asked_b / Decimal::from(3)).round_dp(2);
    let api = ledger.api(policy(&budget.to_string(), rule)).await;
    let t = &api.tokens;
    let ids = [claim_and_approve(&api, &t.a, &t.hefei, &["2025-09"]).await, claim_and_approve(&api, &t.b, &t.fuyang, &["2025-09"]).await];
    if rule == OverBudget::ProRata {
        let waiting = post_json(&api.router, "/v1/batches", &t.bureau, &json!({"payout_date": "2025-11-20", "claims": [ids[0]]})).await;
        assert_eq!(waiting.status, StatusCode::CONFLICT, "a pro_rata year is paid once divided: {}", waiting.text());
        post(&api, "/v1/years/2025/close", &t.bureau, json!(null)).await;
        assert_eq!(post_json(&api.router, "/v1/years/2025/close", &t.bureau, &json!(null)).await.status, StatusCode::CONFLICT);
    }
    let mut parts = Vec::new();
    for id in &ids {
        let c = read(&api, &format!("/v1/claims/{id}"), &t.bureau).await;
        parts.push((dec(&c["parts"][0]["asked"]), c["parts"][0]["granted"].as_str().map(|g| Decimal::from_str(g).unwrap())));
    }
    (api, parts, budget)
}

async fn first_come_pays_the_crossing_claim_what_is_left(ledger: Ledger) {
    let (api, parts, budget) = over_budget(&ledger, OverBudget::FirstCome).await;
    let [(asked_a, granted_a), (asked_b, granted_b)] = [parts[0], parts[1]];
    assert_eq!(granted_a, Some(asked_a), "the first approved is paid in full");
    assert_eq!(granted_b, Some(budget - asked_a), "the crossing claim gets what is left");
    assert!(granted_b.unwrap() < asked_b);
    let view = read(&api, "/v1/budget?year=2025", &api.tokens.bureau).await;
    assert_eq!(view["over_budget"], "first_come");
    assert_eq!(dec(&view["figures"]["approved_unpaid"]), budget);
}

async fn pro_rata_grants_sum_to_the_budget_once_the_year_closes(ledger: Ledger) {
    let (api, parts, budget) = over_budget(&ledger, OverBudget::ProRata).await;
    let granted: Vec<Decimal> = parts.iter().map(|p| p.1.expect("divided at the year's close")).collect();
    assert_eq!(granted.iter().sum::<Decimal>(), budget, "{parts:?}");
    assert!(parts.iter().all(|(asked, g)| g.unwrap() <= *asked && g.unwrap() > Decimal::ZERO), "{parts:?}");
    let view = read(&api, "/v1/budget?year=2025", &api.tokens.bureau).await;
    assert_eq!(view["claims_closed"], true);
    // Both claims are payable now, in one batch; the batch pays the budget.
    let ids: Vec<String> = read(&api, "/v1/claims?status=approved", &api.tokens.bureau).await["claims"].as_array().unwrap().iter().map(|c| c["claim_id"].as_str().unwrap().to_string()).collect();
    let made = post(&api, "/v1/batches", &api.tokens.bureau, json!({"payout_date": "2026-01-15", "claims": ids})).await;
    let view = read(&api, &format!("/v1/batches/{}", made["id"].as_str().unwrap()), &api.tokens.bureau).await;
    let paid: Decimal = view["rows"].as_array().unwrap().iter().map(|r| dec(&r["amount"])).sum();
    assert_eq!(paid, budget);
    let fuyang = read(&api, &format!("/v1/batches/{}", made["id"].as_str().unwrap()), &api.tokens.fuyang).await;
    assert!(fuyang["rows"].as_array().unwrap().iter().all(|r| r["city"] == "阜阳市") && fuyang["rows"].as_array().unwrap().len() == 1, "{fuyang}");
}
