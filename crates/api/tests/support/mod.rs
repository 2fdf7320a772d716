//! A small province settled through the core and written to a store, the
//! API over it, tokens for every role, and a request helper.
//!
//! Entities: A, a university in 合肥市; B, an enterprise in 阜阳市 (皖北); C, an
//! enterprise in 合肥市 that owns center `c-own`; D, the operator of `c-pub`.
//! September holds an eligible line each for A and B and C's self-built use;
//! it is closed, then A's record gets a higher revision and October closes,
//! booking an adjustment to September.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::Router;
use std::collections::HashMap;
use std::sync::Arc;
use subsidy_api::{ApiMetrics, ApiState, Role, TokenStore};
use subsidy_core::{close_month, parse_record, step, CloseInput, ComputeCenter, CreditCode, Entity, EntityKind, Fingerprint, Period, PolicySet, Registry, Standing};
use subsidy_store::{settlements, BusPosition, Closure, CopyRow, LedgerStore, LineRow, RegistryRows, WriteBatch};
use tower::ServiceExt;

pub fn code(division: &str, n: u32) -> CreditCode {
    CreditCode::complete(&format!("91{division}000000{n:03}")).unwrap()
}

pub fn a() -> CreditCode {
    code("340100", 1)
}
pub fn b() -> CreditCode {
    code("341200", 2)
}
pub fn c() -> CreditCode {
    code("340100", 3)
}
pub fn d() -> CreditCode {
    code("340100", 4)
}
/// Valid, registered nowhere, with no lines.
pub fn stranger() -> CreditCode {
    code("340100", 9)
}

fn entity(code: CreditCode, name: &str, kind: EntityKind, city: &str) -> Entity {
    Entity { credit_code: code, name: name.into(), kind, province: "安徽省".into(), city: city.into(), related_group: None, valid_from: None }
}

fn center(id: &str, owner: CreditCode) -> ComputeCenter {
    ComputeCenter { center_id: id.into(), name: format!("中心 {id}"), owner_credit_code: owner, province: "安徽省".into(), city: "合肥市".into(), valid_from: None }
}

pub fn registry_rows() -> RegistryRows {
    RegistryRows {
        version: 7,
        entities: vec![
            entity(a(), "合肥某大学", EntityKind::University, "合肥市"),
            // A re-registration from 2025-10-01 that changes no rule: A's lines name the entry of their day.
            Entity { valid_from: chrono::NaiveDate::from_ymd_opt(2025, 10, 1), ..entity(a(), "合肥某大学", EntityKind::University, "合肥市") },
            entity(b(), "阜阳某科技有限公司", EntityKind::Enterprise, "阜阳市"),
            entity(c(), "合肥自建算力公司", EntityKind::Enterprise, "合肥市"),
            entity(d(), "省算力调度平台运营公司", EntityKind::Enterprise, "合肥市"),
        ],
        centers: vec![center("c-pub", d()), center("c-own", c())],
        funded: vec![],
        claims: vec![],
    }
}

/// A platform record line.
pub fn record(id: &str, revision: u32, user: CreditCode, center: &str, day: &str, paid: &str) -> String {
    serde_json::json!({
        "record_id": id, "revision": revision, "user_credit_code": user.as_str(), "center_id": center,
        "accelerator": "Ascend-910B", "cards": 8, "card_hours": "64",
        "usage_start": format!("{day}T08:00:00+08:00"), "usage_end": format!("{day}T16:00:00+08:00"),
        "updated_at": format!("{day}T20:00:00+08:00"), "unit_price": "10", "amount": paid,
        "paid_amount": paid, "payment_status": "paid", "currency": "CNY"
    })
    .to_string()
}

/// The record line run on another accelerator.
pub fn on(accelerator: &str, record: String) -> String {
    record.replace("Ascend-910B", accelerator)
}

/// Takes copies through the core step, as the aggregator does; returns the batch to write.
pub fn settle_copies(copies: &[(String, BusPosition)], known: &HashMap<String, LineRow>, registry: &Registry, policy: &PolicySet) -> WriteBatch {
    let mut lines: HashMap<String, LineRow> = HashMap::new();
    let mut batch = WriteBatch::default();
    for (raw, position) in copies {
        let r = parse_record(raw.as_bytes()).unwrap();
        let fp = Fingerprint::of(&r);
        let standing: Option<Standing> = lines.get(&r.record_id).or_else(|| known.get(&r.record_id)).map(LineRow::standing);
        let s = step(standing.as_ref(), &r, fp, registry, policy);
        if let Some(line) = s.line {
            let row = LineRow::new(&r.record_id, &line, &subsidy_core::PolicyDocument::of(policy).unwrap(), *position, line.standing.version(7));
            lines.insert(r.record_id.clone(), row);
        }
        batch.copies.push(CopyRow { record_id: r.record_id.clone(), position: *position, revision: r.revision, fingerprint: fp, raw: raw.clone() });
    }
    batch.lines = lines.into_values().collect();
    batch
}

pub fn pos(offset: i64) -> BusPosition {
    BusPosition { partition: 0, offset }
}

/// Closes `month` as `close` does: the core's statement lines committed with the closure.
pub async fn close(store: &dyn LedgerStore, policy: &PolicySet, month: &str) {
    let period = Period::parse(month).unwrap();
    let closed: Vec<Period> = store.closures().await.unwrap().into_iter().map(|c| c.period).collect();
    let months = store.months_with_lines().await.unwrap();
    let booked = store.statements().await.unwrap();
    let settled = settlements(store, policy).await.unwrap();
    let lines = close_month(period, CloseInput { settlements: &settled, booked: &booked, closed: &closed, months_with_lines: &months }).unwrap();
    let closure = Closure { period, close_id: format!("{month}-test"), closed_at: chrono::Utc::now(), policy_hash: String::new() };
    store.commit_close(&closure, &lines).await.unwrap();
}

/// Writes the province into a migrated, empty store.
pub async fn load(store: &dyn LedgerStore) {
    store.migrate().await.unwrap();
    let policy = PolicySet::builtin();
    let rows = registry_rows();
    let registry = rows.registry();
    let september = vec![
        (record("r-a1", 1, a(), "c-pub", "2025-09-10", "1000.00"), pos(0)),
        (on("MLU370", record("r-b1", 1, b(), "c-pub", "2025-09-11", "500.00")), pos(1)),
        (record("r-c1", 1, c(), "c-own", "2025-09-12", "800.00"), pos(2)),
        (on("MLU370", record("r-b1", 1, b(), "c-pub", "2025-09-11", "500.00")), pos(3)),
    ];
    let mut batch = settle_copies(&september, &HashMap::new(), &registry, &policy);
    batch.registry = Some(rows);
    store.write_batch(&batch).await.unwrap();
    close(store, &policy, "2025-09").await;
    let known: HashMap<String, LineRow> = store.lines_of(&["r-a1".to_string()]).await.unwrap().into_iter().map(|l| (l.record_id.clone(), l)).collect();
    let october = vec![
        (record("r-a1", 2, a(), "c-pub", "2025-09-10", "1200.00"), pos(4)),
        (record("r-a2", 1, a(), "c-pub", "2025-10-03", "300.00"), pos(5)),
        (record("r-a3", 1, a(), "c-pub", "2025-10-04", "10.00"), pos(6)),
        (record("r-a4", 1, a(), "c-pub", "2025-10-05", "20.00"), pos(7)),
    ];
    store.write_batch(&settle_copies(&october, &known, &registry, &policy)).await.unwrap();
    close(store, &policy, "2025-10").await;
}

/// Moves record `r-moved` from A (合肥市) to B (阜阳市): its first revision names A and pays
/// 700.00, its second names B and pays 900.00. November stays open.
pub async fn move_a_record(store: &dyn LedgerStore) {
    let registry = registry_rows().registry();
    let copies = vec![
        (record("r-moved", 1, a(), "c-pub", "2025-11-05", "700.00"), pos(20)),
        (on("MLU370", record("r-moved", 2, b(), "c-pub", "2025-11-05", "900.00")), pos(21)),
    ];
    store.write_batch(&settle_copies(&copies, &HashMap::new(), &registry, &PolicySet::builtin())).await.unwrap();
}

/// Tokens for each role.
pub struct Tokens {
    pub bureau: String,
    pub fuyang: String,
    pub hefei: String,
    pub a: String,
    pub b: String,
    pub file: tempfile::NamedTempFile,
}

pub fn tokens() -> Tokens {
    let mut text = String::new();
    let mut make = |role: Role| {
        let (token, entry) = subsidy_api::new_token(&role);
        text.push_str(&entry);
        token
    };
    let (bureau, fuyang, ta, tb) = (make(Role::Bureau), make(Role::City("阜阳".into())), make(Role::Entity(a())), make(Role::Entity(b())));
    let hefei = make(Role::City("合肥市".into()));
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), text).unwrap();
    Tokens { bureau, fuyang, hefei, a: ta, b: tb, file }
}

/// The API over `store`, with its metrics registry.
pub struct Api {
    pub router: Router,
    pub metrics: prometheus::Registry,
    pub tokens: Tokens,
    pub state: ApiState,
}

pub async fn api(store: Arc<dyn LedgerStore>) -> Api {
    api_with(store, PolicySet::builtin()).await
}

/// The API over `store` under `policy` (for a ledger that records no policy document).
pub async fn api_with(store: Arc<dyn LedgerStore>, policy: PolicySet) -> Api {
    api_with_log(store, policy, None).await
}

/// The API over `store` under `policy`, its programme steps fenced by `log` (a store
/// without transactions needs one).
pub async fn api_with_log(store: Arc<dyn LedgerStore>, policy: PolicySet, log: Option<Arc<dyn subsidy_store::StepLog>>) -> Api {
    let tokens = tokens();
    let metrics = prometheus::Registry::new();
    let state = ApiState::open(store, policy, TokenStore::open(tokens.file.path()).unwrap(), ApiMetrics::new(&metrics).unwrap()).await.unwrap().with_step_log(log);
    Api { router: subsidy_api::router(state.clone(), metrics.clone()), metrics, tokens, state }
}

/// A response, read whole.
pub struct Got {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Got {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).unwrap()
    }
}

/// GETs `uri` (already encoded) with a bearer token and extra headers.
pub async fn get(router: &Router, uri: &str, token: Option<&str>, headers: &[(&str, &str)]) -> Got {
    let mut request = Request::get(uri);
    if let Some(t) = token {
        request = request.header("authorization", format!("Bearer {t}"));
    }
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = router.clone().oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), 16 << 20).await.unwrap().to_vec();
    Got { status, headers, body }
}

/// POSTs a JSON body to `uri` with a bearer token.
pub async fn post_json(router: &Router, uri: &str, token: &str, body: &serde_json::Value) -> Got {
    let request = Request::post(uri).header("content-type", "application/json").header("authorization", format!("Bearer {token}"));
    let response = router.clone().oneshot(request.body(Body::from(body.to_string())).unwrap()).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), 16 << 20).await.unwrap().to_vec();
    Got { status, headers, body }
}

/// POSTs a form to `uri` with a cookie header.
pub async fn post_form(router: &Router, uri: &str, form: &str, cookie: Option<&str>) -> Got {
    let mut request = Request::post(uri).header("content-type", "application/x-www-form-urlencoded");
    if let Some(c) = cookie {
        request = request.header("cookie", c);
    }
    let response = router.clone().oneshot(request.body(Body::from(form.to_string())).unwrap()).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), 16 << 20).await.unwrap().to_vec();
    Got { status, headers, body }
}

/// Signs in to the portal with `token`; the `Set-Cookie` header and the `name=value` to send back.
pub async fn portal_sign_in(router: &Router, token: &str) -> (String, String) {
    let got = post_form(router, "/portal/sign-in", &format!("token={}", enc(token)), None).await;
    assert_eq!(got.status, StatusCode::SEE_OTHER, "sign-in: {}", got.text());
    let set = got.headers["set-cookie"].to_str().unwrap().to_string();
    let pair = set.split(';').next().unwrap().to_string();
    (set, pair)
}

/// GETs a portal page with the cookie `pair`.
pub async fn portal_get(router: &Router, path: &str, pair: &str) -> Got {
    get(router, path, None, &[("cookie", pair)]).await
}

/// Percent-encodes a path segment or query value.
pub fn enc(text: &str) -> String {
    text.bytes()
        .map(|b| if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}
