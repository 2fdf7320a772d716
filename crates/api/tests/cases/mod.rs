//! The API's cases, run against every store by `api.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod rules;
pub use rules::*;

use crate::support::*;
use axum::http::StatusCode;
use serde_json::Value;
use std::sync::Arc;
use subsidy_store::LedgerStore;

fn money(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("{v} is not a money string"))
}

pub async fn the_bureau_reads_every_endpoint(store: Arc<dyn LedgerStore>) {
    load(store.as_ref()).await;
    let api = api(store).await;
    let t = Some(api.tokens.bureau.as_str());
    let (a, b) = (a(), b());

    let acc = get(&api.router, &format!("/v1/entities/{a}/accruals"), t, &[]).await;
    assert_eq!(acc.status, StatusCode::OK, "{}", acc.text());
    let acc = acc.json();
    assert_eq!(acc["entity"]["name"], "合肥某大学");
    let months = acc["months"].as_array().unwrap();
    assert_eq!(months.iter().map(|m| m["period"].as_str().unwrap()).collect::<Vec<_>>(), ["2025-09", "2025-10"]);
    let sep = &months[0];
    assert_eq!(sep["status"], "closed");
    // 1000 × 20 % frozen at the close; revision 2 paid 1200, so the October close booked +40.
    assert_eq!((money(&sep["frozen"]["subsidy"]), money(&sep["subsidy"])), ("200.00", "240.00"));
    assert_eq!(sep["adjustments"].as_array().unwrap().len(), 1);
    assert_eq!((money(&sep["adjustments"][0]["subsidy"]), sep["adjustments"][0]["payout_period"].as_str()), ("40.00", Some("2025-10")));
    assert_eq!(money(&sep["fixed_total"]), "240.00", "frozen + adjustments == the ledger as it stands");
    let only_oct = get(&api.router, &format!("/v1/entities/{a}/accruals?from=2025-10&to=2025-10"), t, &[]).await.json();
    assert_eq!(only_oct["months"].as_array().unwrap().len(), 1);
    assert_eq!(money(&only_oct["months"][0]["subsidy"]), "66.00");

    let ledger = get(&api.router, &format!("/v1/entities/{b}/ledger?period=2025-09"), t, &[]).await;
    assert_eq!(ledger.status, StatusCode::OK, "{}", ledger.text());
    let ledger = ledger.json();
    let line = &ledger["lines"][0];
    assert_eq!((line["record_id"].as_str(), line["accelerator"].as_str(), line["card_hours"].as_str()), (Some("r-b1"), Some("MLU370"), Some("64")));
    assert_eq!((line["rate"].as_str(), line["uplift"].as_str(), line["policy_version"].as_str()), (Some("0.2"), Some("1.2"), Some("v2")));
    assert!(line["uplift_reason"].as_str().unwrap().contains("阜阳市"), "{line}");
    assert_eq!((money(&line["base"]), line["subsidy_share"].as_str()), ("500.00", Some("120")));
    assert_eq!(ledger["subsidy"], "120.00");

    let c = subsidy_core::CreditCode::to_string(&c());
    let own = get(&api.router, &format!("/v1/entities/{c}/ledger?period=2025-09"), t, &[]).await.json();
    assert_eq!(own["lines"][0]["reason"], "self_built_self_used");
    assert!(own["lines"][0]["explanation"].as_str().unwrap().contains("owns the compute center"));

    let rec = get(&api.router, "/v1/records/r-b1", t, &[]).await.json();
    let decisions: Vec<&str> = rec["copies"].as_array().unwrap().iter().map(|c| c["decision"].as_str().unwrap()).collect();
    assert_eq!(decisions, ["first", "duplicate"]);
    assert_eq!(rec["copies"][0]["record"]["paid_amount"], "500.00", "the raw record as received");
    let rec = get(&api.router, "/v1/records/r-a1", t, &[]).await.json();
    let decisions: Vec<&str> = rec["copies"].as_array().unwrap().iter().map(|c| c["decision"].as_str().unwrap()).collect();
    assert_eq!(decisions, ["first", "replaces"]);
    assert_eq!(rec["standing"]["revision"], 2);
    // Each line names the registry entries it was judged by: those standing on its usage day.
    assert_eq!((rec["standing"]["entity_entry"].as_str(), rec["standing"]["center_entry"].as_str()), (Some("undated"), Some("undated")));
    let october = get(&api.router, &format!("/v1/entities/{a}/ledger?period=2025-10"), t, &[]).await.json();
    let entries: Vec<(&str, &str)> = october["lines"].as_array().unwrap().iter().map(|l| (l["entity_entry"].as_str().unwrap(), l["center_entry"].as_str().unwrap())).collect();
    assert_eq!(entries, [("2025-10-01", "undated"); 3], "{october}");
    assert_eq!(get(&api.router, "/v1/records/r-a2", t, &[]).await.json()["standing"]["entity_entry"], "2025-10-01");

    let st = get(&api.router, &format!("/v1/entities/{a}/statements"), t, &[]).await.json();
    let kinds: Vec<(&str, &str, &str)> = st["statements"].as_array().unwrap().iter().map(|s| (s["payout_period"].as_str().unwrap(), s["kind"].as_str().unwrap(), money(&s["subsidy"]))).collect();
    assert_eq!(kinds, [("2025-09", "settled", "200.00"), ("2025-10", "adjustment", "40.00"), ("2025-10", "settled", "66.00")]);

    let csv = get(&api.router, "/v1/settlements?period=2025-09", t, &[("accept", "text/csv")]).await;
    assert_eq!(csv.headers["content-type"], "text/csv; charset=utf-8");
    assert_eq!(csv.text(), format!("credit_code,period,eligible_records,eligible_base,subsidy\n{a},2025-09,1,1200.00,240.00\n{b},2025-09,1,500.00,120.00\n"));
    let json = get(&api.router, "/v1/settlements?period=2025-09", t, &[]).await.json();
    assert_eq!(json["total"], 2);

    let ov = get(&api.router, "/v1/overview?period=2025-09", t, &[]).await;
    assert_eq!(ov.status, StatusCode::OK, "{}", ov.text());
    let ov = ov.json();
    assert_eq!(money(&ov["totals"]["subsidy"]), "360.00");
    let cities: Vec<(&str, &str)> = ov["by_city"].as_array().unwrap().iter().map(|g| (g["key"].as_str().unwrap(), money(&g["subsidy"]))).collect();
    assert_eq!(cities, [("合肥市", "240.00"), ("阜阳市", "120.00")]);
    let by = |field: &str| -> Vec<(String, String)> {
        ov[field].as_array().unwrap().iter().map(|g| (g["key"].as_str().unwrap().to_string(), money(&g["eligible_base"]).to_string())).collect()
    };
    assert_eq!(by("by_accelerator"), [("Ascend-910B".to_string(), "1200.00".to_string()), ("MLU370".to_string(), "500.00".to_string())]);
    assert_eq!(by("by_center"), [("c-pub".to_string(), "1700.00".to_string())], "c-own's line is self-built, excluded");
    assert_eq!(by("by_kind"), [("enterprise".to_string(), "500.00".to_string()), ("university".to_string(), "1200.00".to_string())]);
    assert_eq!(money(&ov["uplift_contribution"]), "20.00", "500 × 0.2 × 0.2");
    let ex = &ov["excluded"][0];
    assert_eq!((ex["reason"].as_str(), money(&ex["spend"])), (Some("self_built_self_used"), "800.00"));
    assert_eq!(ov["top_entities"][0]["entity"]["credit_code"], a.to_string());
}

pub async fn an_entity_sees_only_its_own(store: Arc<dyn LedgerStore>) {
    load(store.as_ref()).await;
    let api = api(store).await;
    let t = Some(api.tokens.a.as_str());
    let own = get(&api.router, &format!("/v1/entities/{}/accruals", a()), t, &[]).await;
    assert_eq!(own.status, StatusCode::OK);
    let mut denied = Vec::new();
    for other in [b().to_string(), c().to_string(), stranger().to_string()] {
        for path in [
            format!("/v1/entities/{other}/accruals"),
            format!("/v1/entities/{other}/accruals?from=2025-01&to=2025-12"),
            format!("/v1/entities/{other}/ledger?period=2025-09"),
            format!("/v1/entities/{other}/ledger?period=2025-09&limit=1&cursor=72"),
            format!("/v1/entities/{other}/statements"),
        ] {
            denied.push(get(&api.router, &path, t, &[]).await);
        }
    }
    for path in ["/v1/records/r-b1", "/v1/records/r-c1", "/v1/records/no-such-record", "/v1/settlements?period=2025-09", "/v1/overview?period=2025-09"] {
        denied.push(get(&api.router, path, t, &[]).await);
    }
    denied.push(get(&api.router, "/v1/settlements?period=2025-09", t, &[("accept", "text/csv")]).await);
    let body = denied[0].body.clone();
    for d in &denied {
        assert_eq!(d.status, StatusCode::FORBIDDEN, "{}", d.text());
        assert_eq!(d.body, body, "one body for every refusal, whether the other entity exists or not");
    }
    // Its own record is readable.
    assert_eq!(get(&api.router, "/v1/records/r-a2", t, &[]).await.status, StatusCode::OK);
    // B cannot read A's record, which names only A.
    assert_eq!(get(&api.router, "/v1/records/r-a2", Some(&api.tokens.b), &[]).await.status, StatusCode::FORBIDDEN);
}

pub async fn a_city_sees_its_entities(store: Arc<dyn LedgerStore>) {
    load(store.as_ref()).await;
    let api = api(store).await;
    let t = Some(api.tokens.fuyang.as_str());
    assert_eq!(get(&api.router, &format!("/v1/entities/{}/accruals", b()), t, &[]).await.status, StatusCode::OK);
    assert_eq!(get(&api.router, &format!("/v1/entities/{}/accruals", a()), t, &[]).await.status, StatusCode::FORBIDDEN);
    assert_eq!(get(&api.router, &format!("/v1/entities/{}/accruals", stranger()), t, &[]).await.status, StatusCode::FORBIDDEN);
    assert_eq!(get(&api.router, "/v1/records/r-a1", t, &[]).await.status, StatusCode::FORBIDDEN);
    let csv = get(&api.router, "/v1/settlements?period=2025-09", t, &[("accept", "text/csv")]).await.text();
    assert_eq!(csv, format!("credit_code,period,eligible_records,eligible_base,subsidy\n{},2025-09,1,500.00,120.00\n", b()));
    let ov = get(&api.router, "/v1/overview?period=2025-09", t, &[]).await.json();
    assert_eq!(ov["scope"], "阜阳市");
    assert_eq!(money(&ov["totals"]["subsidy"]), "120.00");
    assert_eq!(ov["by_city"].as_array().unwrap().len(), 1);
    assert!(ov["excluded"].as_array().unwrap().is_empty(), "C's self-built use is in 合肥市");
    assert!(ov["rejected"].as_array().unwrap().is_empty(), "rejections name no entity: bureau only");
}

pub async fn the_bureau_gets_404_for_unknown_ids(store: Arc<dyn LedgerStore>) {
    load(store.as_ref()).await;
    let api = api(store).await;
    let t = Some(api.tokens.bureau.as_str());
    for path in [format!("/v1/entities/{}/accruals", stranger()), format!("/v1/entities/{}/ledger?period=2025-09", stranger()), "/v1/records/nope".to_string()] {
        let got = get(&api.router, &path, t, &[]).await;
        assert_eq!(got.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(got.json()["error"], "not_found");
    }
}

pub async fn hostile_parameters_get_400_naming_them(store: Arc<dyn LedgerStore>) {
    load(store.as_ref()).await;
    let api = api(store.clone()).await;
    let t = Some(api.tokens.bureau.as_str());
    let a = a().to_string();
    let long = "9".repeat(3000);
    let cases: Vec<(String, &str)> = vec![
        (format!("/v1/entities/{a}/ledger"), "period"),
        (format!("/v1/entities/{a}/ledger?period=2025-13"), "period"),
        (format!("/v1/entities/{a}/ledger?period={}", enc("2025-09' OR '1'='1")), "period"),
        (format!("/v1/entities/{a}/ledger?period={}", enc("２０２５-09")), "period"),
        (format!("/v1/entities/{a}/ledger?period=2025-09&period=2025-10"), "period"),
        (format!("/v1/entities/{a}/ledger?period=2025-09&limit={long}"), "limit"),
        (format!("/v1/entities/{a}/ledger?period=2025-09&limit=-1"), "limit"),
        (format!("/v1/entities/{a}/ledger?period=2025-09&cursor={}", enc("'; DROP TABLE ledger_lines; --")), "cursor"),
        (format!("/v1/entities/{a}/accruals?from=99999-01"), "from"),
        (format!("/v1/entities/{}/accruals", enc("91340100' OR 1=1 --")), "credit_code"),
        (format!("/v1/entities/{}/accruals", enc("合肥某大学")), "credit_code"),
        (format!("/v1/entities/{long}/statements"), "credit_code"),
        (format!("/v1/entities/{}/statements", a.to_lowercase()), "credit_code"),
        (format!("/v1/records/{}", "r".repeat(129)), "record_id"),
        (format!("/v1/records/{}", enc("a\u{7}b")), "record_id"),
        ("/v1/settlements?period=0".to_string(), "period"),
        ("/v1/overview".to_string(), "period"),
    ];
    for (path, parameter) in &cases {
        let got = get(&api.router, path, t, &[]).await;
        assert_eq!(got.status, StatusCode::BAD_REQUEST, "{path}: {}", got.text());
        let body = got.json();
        assert_eq!((body["error"].as_str(), body["parameter"].as_str()), (Some("bad_parameter"), Some(*parameter)), "{path}");
        assert!(body["message"].as_str().unwrap().contains(parameter), "the message names {parameter}: {body}");
    }
    // A range whose end comes before its start holds no month: answered, empty.
    let got = get(&api.router, &format!("/v1/entities/{a}/accruals?from=2025-10&to=2025-09"), t, &[]).await;
    assert_eq!(got.status, StatusCode::OK, "{}", got.text());
    assert_eq!(got.json()["months"].as_array().map(Vec::len), Some(0), "{}", got.text());
    // Odd text is a record id like any other: looked up as a value, found nowhere.
    let got = get(&api.router, &format!("/v1/records/{}", enc("r-a1' OR '1'='1")), t, &[]).await;
    assert_eq!(got.status, StatusCode::NOT_FOUND);
    assert_eq!(store.lines_of(&["r-a1".to_string()]).await.unwrap().len(), 1, "the ledger is untouched");
}

pub async fn requests_without_a_valid_token_get_401(store: Arc<dyn LedgerStore>) {
    load(store.as_ref()).await;
    let api = api(store).await;
    let path = format!("/v1/entities/{}/accruals", a());
    for (token, header) in [(None, None), (Some("not-a-token"), None), (None, Some(format!("Basic {}", api.tokens.bureau))), (None, Some("Bearer ".to_string()))] {
        let extra: Vec<(&str, &str)> = header.iter().map(|h| ("authorization", h.as_str())).collect();
        let got = get(&api.router, &path, token, &extra).await;
        assert_eq!(got.status, StatusCode::UNAUTHORIZED, "{token:?} {header:?}");
        assert_eq!(got.headers["www-authenticate"], "Bearer");
    }
    // Tokens never reach the metrics.
    let _ = get(&api.router, &path, Some(&api.tokens.a), &[]).await;
    let _ = get(&api.router, &format!("/v1/entities/{}/accruals", b()), Some(&api.tokens.a), &[]).await;
    let metrics = get(&api.router, "/metrics", None, &[]).await.text();
    assert!(metrics.contains(r#"subsidy_api_requests_total{route="/v1/entities/{credit_code}/accruals",status="200"} 1"#), "{metrics}");
    assert!(metrics.contains(r#"subsidy_api_denied_total{reason="unknown_token"} 1"#), "{metrics}");
    assert!(metrics.contains(r#"subsidy_api_denied_total{reason="forbidden"} 1"#), "{metrics}");
    assert!(metrics.contains("subsidy_api_request_duration_seconds_bucket"), "{metrics}");
    for secret in [&api.tokens.a, &api.tokens.bureau] {
        assert!(!metrics.contains(secret.as_str()));
    }
}

pub async fn ledger_pages_cover_every_line_once(store: Arc<dyn LedgerStore>) {
    load(store.as_ref()).await;
    let api = api(store).await;
    let t = Some(api.tokens.bureau.as_str());
    let mut ids = Vec::new();
    let mut cursor = String::new();
    for _ in 0..10 {
        let page = get(&api.router, &format!("/v1/entities/{}/ledger?period=2025-10&limit=1{cursor}", a()), t, &[]).await.json();
        assert_eq!(page["total_lines"], 3);
        ids.extend(page["lines"].as_array().unwrap().iter().map(|l| l["record_id"].as_str().unwrap().to_string()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(ids, ["r-a2", "r-a3", "r-a4"]);
}

pub async fn the_token_file_is_reloaded(store: Arc<dyn LedgerStore>) {
    load(store.as_ref()).await;
    let api = api(store).await;
    let path = format!("/v1/entities/{}/accruals", a());
    let (fresh, entry) = subsidy_api::new_token(&subsidy_api::Role::Bureau);
    assert_eq!(get(&api.router, &path, Some(&fresh), &[]).await.status, StatusCode::UNAUTHORIZED);
    std::fs::write(api.tokens.file.path(), entry).unwrap();
    subsidy_api::reload_tokens(&api.state).unwrap();
    assert_eq!(get(&api.router, &path, Some(&fresh), &[]).await.status, StatusCode::OK);
    assert_eq!(get(&api.router, &path, Some(&api.tokens.a), &[]).await.status, StatusCode::UNAUTHORIZED, "a token dropped from the file stops working");
    let shown = |metrics: &str, name: &str| metrics.lines().find_map(|l| l.strip_prefix(&format!("{name} "))?.parse::<u64>().ok());
    let metrics = get(&api.router, "/metrics", None, &[]).await.text();
    assert_eq!((shown(&metrics, "subsidy_api_token_reload_failures_total"), shown(&metrics, "subsidy_api_token_file_ok")), (Some(0), Some(1)), "{metrics}");
    std::fs::write(api.tokens.file.path(), "[[token]]\nsha256 = 'nope'\n").unwrap();
    for _ in 0..2 {
        assert!(subsidy_api::reload_tokens(&api.state).is_err());
    }
    assert_eq!(get(&api.router, &path, Some(&fresh), &[]).await.status, StatusCode::OK, "a broken file keeps the tokens in force");
    let metrics = get(&api.router, "/metrics", None, &[]).await.text();
    assert_eq!((shown(&metrics, "subsidy_api_token_reload_failures_total"), shown(&metrics, "subsidy_api_token_file_ok")), (Some(2), Some(0)), "failed re-reads are counted and shown: {metrics}");
    let (_, entry) = subsidy_api::new_token(&subsidy_api::Role::Bureau);
    std::fs::write(api.tokens.file.path(), entry).unwrap();
    subsidy_api::reload_tokens(&api.state).unwrap();
    let metrics = get(&api.router, "/metrics", None, &[]).await.text();
    assert_eq!((shown(&metrics, "subsidy_api_token_reload_failures_total"), shown(&metrics, "subsidy_api_token_file_ok")), (Some(2), Some(1)), "a good read clears the gauge: {metrics}");
    assert_eq!(get(&api.router, &path, Some(&fresh), &[]).await.status, StatusCode::UNAUTHORIZED);
}

pub async fn the_openapi_document_lists_every_route(store: Arc<dyn LedgerStore>) {
    load(store.as_ref()).await;
    let api = api(store).await;
    let doc = get(&api.router, "/openapi.json", None, &[]).await.json();
    let paths: Vec<&String> = doc["paths"].as_object().unwrap().keys().collect();
    for p in ["/v1/entities/{credit_code}/accruals", "/v1/entities/{credit_code}/ledger", "/v1/entities/{credit_code}/statements", "/v1/records/{record_id}", "/v1/settlements", "/v1/overview"] {
        assert!(paths.iter().any(|x| x.as_str() == p), "{p} missing from {paths:?}");
    }
    // The programme's routes, each method with its request body where it takes one.
    for (p, method, body) in [
        ("/v1/claims", "post", Some("ClaimRequest")),
        ("/v1/claims", "get", None),
        ("/v1/claims/{claim_id}", "get", None),
        ("/v1/claims/{claim_id}/review", "post", Some("ReviewRequest")),
        ("/v1/batches", "post", Some("BatchRequest")),
        ("/v1/batches", "get", None),
        ("/v1/batches/{batch_id}", "get", None),
        ("/v1/batches/{batch_id}/csv", "get", None),
        ("/v1/findings", "post", Some("FindingRequest")),
        ("/v1/years/{year}/close", "post", None),
        ("/v1/receivables", "get", None),
        ("/v1/budget", "get", None),
        ("/v1/log/checkpoint", "get", None),
        ("/v1/log/consistency", "get", None),
        ("/v1/log/cosignatures", "post", Some("CosignatureRequest")),
        ("/v1/log/proof", "get", None),
    ] {
        let op = &doc["paths"][p][method];
        assert!(op.is_object(), "{method} {p} missing");
        let schema = op["requestBody"]["content"]["application/json"]["schema"]["$ref"].as_str();
        assert_eq!(schema, body.map(|b| format!("#/components/schemas/{b}")).as_deref(), "{method} {p}");
    }
    let claim_id = &doc["paths"]["/v1/claims/{claim_id}"]["get"]["parameters"][0]["schema"]["pattern"];
    assert_eq!(claim_id, subsidy_api::steps::CLAIM_ID_PATTERN);
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    let accruals = &doc["paths"]["/v1/entities/{credit_code}/accruals"]["get"]["parameters"];
    let example = accruals.as_array().unwrap().iter().find(|p| p["name"] == "credit_code").unwrap()["example"].as_str().unwrap();
    assert!(subsidy_core::CreditCode::check(example).is_ok(), "the documented example {example} is a valid code");
}

pub async fn the_portal_signs_in_and_serves_pages_and_csv(store: Arc<dyn LedgerStore>) {
    load(store.as_ref()).await;
    let api = api(store).await;
    let form = format!("token={}", api.tokens.a);
    let response = tower::ServiceExt::oneshot(
        api.router.clone(),
        axum::http::Request::post("/portal/sign-in").header("content-type", "application/x-www-form-urlencoded").body(axum::body::Body::from(form)).unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let cookie = response.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && cookie.contains("Path=/portal"), "{cookie}");
    let jar = cookie.split(';').next().unwrap().to_string();
    let page = |path: String| {
        let (router, jar) = (api.router.clone(), jar.clone());
        async move { get(&router, &path, None, &[("cookie", jar.as_str())]).await }
    };
    let home = page("/portal".into()).await;
    assert_eq!((home.status, home.headers["location"].to_str().unwrap()), (StatusCode::SEE_OTHER, format!("/portal/entities/{}", a()).as_str()));
    let months = page(format!("/portal/entities/{}", a())).await;
    assert_eq!(months.status, StatusCode::OK);
    assert!(months.text().contains("240.00") && months.text().contains("月度补贴"));
    let csv = page(format!("/portal/entities/{}/settlements.csv", a())).await;
    assert_eq!(csv.text(), format!("credit_code,period,eligible_records,eligible_base,subsidy\n{a},2025-09,1,1200.00,240.00\n{a},2025-10,3,330.00,66.00\n", a = a()));
    for path in [format!("/portal/entities/{}", b()), format!("/portal/entities/{}/settlements.csv", b()), "/portal/records/r-b1".into(), "/portal/overview".into(), "/portal/settlements.csv?period=2025-09".into()] {
        assert_eq!(page(path.clone()).await.status, StatusCode::FORBIDDEN, "{path}");
    }
    let bad = page(format!("/portal/entities/{}/ledger?period=2025-13", a())).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    // Without the cookie every page sends the visitor to sign in.
    let anonymous = get(&api.router, &format!("/portal/entities/{}", a()), None, &[]).await;
    assert_eq!((anonymous.status, anonymous.headers["location"].to_str().unwrap()), (StatusCode::SEE_OTHER, "/portal"));
}

pub async fn answers_follow_the_store_once_its_generation_moves(store: Arc<dyn LedgerStore>) {
    load(store.as_ref()).await;
    let api = api(store.clone()).await;
    let t = Some(api.tokens.bureau.as_str());
    let path = format!("/v1/entities/{}/accruals?from=2025-11&to=2025-11", a());
    assert!(get(&api.router, &path, t, &[]).await.json()["months"].as_array().unwrap().is_empty());
    let registry = registry_rows().registry();
    let copies = vec![(record("r-a9", 1, a(), "c-pub", "2025-11-02", "50.00"), subsidy_store::BusPosition { partition: 0, offset: 99 })];
    store.write_batch(&settle_copies(&copies, &Default::default(), &registry, &subsidy_core::PolicySet::builtin())).await.unwrap();
    assert!(get(&api.router, &path, t, &[]).await.json()["months"].as_array().unwrap().is_empty(), "the book in force stands until the next poll");
    assert!(subsidy_api::state::refresh(&api.state).await.unwrap(), "the generation moved");
    let months = get(&api.router, &path, t, &[]).await.json();
    assert_eq!(money(&months["months"][0]["subsidy"]), "10.00", "{months}");
}

pub async fn a_moved_record_is_seen_only_where_it_stands(store: Arc<dyn LedgerStore>) {
    load(store.as_ref()).await;
    move_a_record(store.as_ref()).await;
    let api = api(store).await;
    let t = &api.tokens;
    let b_code = b().to_string();
    // The bureau, B and B's city read it: it stands for B.
    for (who, token) in [("bureau", &t.bureau), ("B", &t.b), ("阜阳", &t.fuyang)] {
        let got = get(&api.router, "/v1/records/r-moved", Some(token), &[]).await;
        assert_eq!(got.status, StatusCode::OK, "{who}: {}", got.text());
        let h = got.json();
        assert_eq!((h["standing"]["user_credit_code"].as_str(), h["standing"]["revision"].as_u64()), (Some(b_code.as_str()), Some(2)), "{who}: {h}");
        assert_eq!(h["copies"].as_array().unwrap().len(), 2, "{who}");
        assert_eq!(h["copies"][1]["record"]["paid_amount"], "900.00", "{who}");
    }
    // A and A's city get what they get for a record never received, and nothing of B's.
    for (who, token) in [("A", &t.a), ("合肥", &t.hefei)] {
        let got = get(&api.router, "/v1/records/r-moved", Some(token), &[]).await;
        let absent = get(&api.router, "/v1/records/no-such-record", Some(token), &[]).await;
        assert_eq!((got.status, absent.status), (StatusCode::FORBIDDEN, StatusCode::FORBIDDEN), "{who}: {}", got.text());
        assert_eq!(got.body, absent.body, "{who}: a moved record and an absent one look the same");
        for b_data in [b_code.as_str(), "900", "MLU370"] {
            assert!(!got.text().contains(b_data), "{who} sees {b_data}: {}", got.text());
        }
    }
    // The same through the portal.
    for (who, token, status) in [("bureau", &t.bureau, StatusCode::OK), ("B", &t.b, StatusCode::OK), ("阜阳", &t.fuyang, StatusCode::OK), ("A", &t.a, StatusCode::FORBIDDEN), ("合肥", &t.hefei, StatusCode::FORBIDDEN)] {
        let (_, cookie) = portal_sign_in(&api.router, token).await;
        let page = portal_get(&api.router, "/portal/records/r-moved", &cookie).await;
        assert_eq!(page.status, status, "{who}: {}", page.text());
        if status == StatusCode::OK {
            assert!(page.text().contains("900.00") && page.text().contains(&b_code), "{who}: {}", page.text());
            continue;
        }
        let absent = portal_get(&api.router, "/portal/records/no-such-record", &cookie).await;
        assert_eq!((absent.status, absent.body.clone()), (page.status, page.body.clone()), "{who}: a moved record and an absent one look the same");
        for b_data in [b_code.as_str(), "900", "MLU370"] {
            assert!(!page.text().contains(b_data), "{who} sees {b_data} in the portal: {}", page.text());
        }
    }
}

pub async fn the_portal_session_is_kept_by_the_server(store: Arc<dyn LedgerStore>) {
    load(store.as_ref()).await;
    let api = api(store).await;
    let months = format!("/portal/entities/{}", a());
    let (set, cookie) = portal_sign_in(&api.router, &api.tokens.a).await;
    assert!(set.starts_with("subsidy_session=") && set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.contains("Path=/portal"), "{set}");
    assert!(!set.contains("Secure"), "not Secure unless told: {set}");
    assert!(!set.contains(&api.tokens.a), "the cookie holds a session id, not the token: {set}");
    assert_eq!(portal_get(&api.router, &months, &cookie).await.status, StatusCode::OK);
    // Signing out ends the session on the server: the old cookie, sent again, is refused.
    let out = post_form(&api.router, "/portal/sign-out", "", Some(&cookie)).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    let again = portal_get(&api.router, &months, &cookie).await;
    assert_eq!((again.status, again.headers["location"].to_str().unwrap()), (StatusCode::SEE_OTHER, "/portal"), "the old cookie after sign-out");
    // A token dropped from the file at a re-read ends its sessions.
    let (_, b_cookie) = portal_sign_in(&api.router, &api.tokens.b).await;
    let (_, bureau_cookie) = portal_sign_in(&api.router, &api.tokens.bureau).await;
    let b_months = format!("/portal/entities/{}", b());
    assert_eq!(portal_get(&api.router, &b_months, &b_cookie).await.status, StatusCode::OK);
    let kept: String = std::fs::read_to_string(api.tokens.file.path()).unwrap().split("[[token]]").filter(|e| !e.is_empty() && !e.contains(&b().to_string())).map(|e| format!("[[token]]{e}")).collect();
    std::fs::write(api.tokens.file.path(), kept).unwrap();
    assert_eq!(subsidy_api::reload_tokens(&api.state).unwrap(), 4);
    assert_eq!(portal_get(&api.router, &b_months, &b_cookie).await.status, StatusCode::SEE_OTHER, "B's token is revoked: its session is over");
    assert_eq!(portal_get(&api.router, &b_months, &bureau_cookie).await.status, StatusCode::OK, "other sessions go on");
    assert_eq!(api.state.sessions.len(), 1, "the revoked token's session is gone from the server");
    // Told that browsers come over TLS, the cookie is Secure.
    let tls = subsidy_api::router(api.state.clone().with_secure_cookie(true), api.metrics.clone());
    let (set, pair) = portal_sign_in(&tls, &api.tokens.a).await;
    assert!(set.contains("; Secure"), "{set}");
    let out = post_form(&tls, "/portal/sign-out", "", Some(&pair)).await;
    let gone = out.headers["set-cookie"].to_str().unwrap();
    assert!(gone.starts_with("subsidy_session=;") && gone.contains("; Secure"), "{gone}");
}

pub async fn empty_tokens_are_refused_everywhere(store: Arc<dyn LedgerStore>) {
    load(store.as_ref()).await;
    let api = api(store).await;
    // A token file that holds the hash of the empty token is refused, at start and at a re-read.
    let (_, bureau_entry) = subsidy_api::new_token(&subsidy_api::Role::Bureau);
    let empty = "[[token]]\nsha256 = \"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\"\nrole = \"bureau\"\n";
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), format!("{bureau_entry}{empty}")).unwrap();
    let err = subsidy_api::TokenStore::open(file.path()).unwrap_err().to_string();
    assert!(err.contains("token 2") && err.contains("empty token"), "{err}");
    std::fs::write(api.tokens.file.path(), format!("{bureau_entry}{empty}")).unwrap();
    assert!(subsidy_api::reload_tokens(&api.state).is_err());
    // Empty and blank tokens, as a bearer, a form or a cookie, are 401 (or the sign-in page).
    let path = format!("/v1/entities/{}/accruals", a());
    for header in ["Bearer ", "Bearer    ", "Bearer \t"] {
        assert_eq!(get(&api.router, &path, None, &[("authorization", header)]).await.status, StatusCode::UNAUTHORIZED, "{header:?}");
    }
    for form in ["token=", "token=%20%20", "token=%09"] {
        let got = post_form(&api.router, "/portal/sign-in", form, None).await;
        assert_eq!(got.status, StatusCode::UNAUTHORIZED, "{form}");
        assert!(!got.headers.contains_key("set-cookie"), "{form}");
    }
    let got = portal_get(&api.router, &format!("/portal/entities/{}", a()), "subsidy_session=").await;
    assert_eq!((got.status, got.headers["location"].to_str().unwrap()), (StatusCode::SEE_OTHER, "/portal"));
    let metrics = get(&api.router, "/metrics", None, &[]).await.text();
    assert!(metrics.contains(r#"subsidy_api_denied_total{reason="no_token"} 6"#), "{metrics}");
}

pub async fn every_answer_carries_the_security_headers(store: Arc<dyn LedgerStore>) {
    load(store.as_ref()).await;
    let api = api(store).await;
    let (_, cookie) = portal_sign_in(&api.router, &api.tokens.bureau).await;
    let bureau = Some(api.tokens.bureau.as_str());
    let answers = vec![
        ("accruals", get(&api.router, &format!("/v1/entities/{}/accruals", a()), bureau, &[]).await),
        ("record", get(&api.router, "/v1/records/r-a1", bureau, &[]).await),
        ("csv", get(&api.router, "/v1/settlements?period=2025-09", bureau, &[("accept", "text/csv")]).await),
        ("401", get(&api.router, "/v1/overview?period=2025-09", None, &[]).await),
        ("403", get(&api.router, "/v1/overview?period=2025-09", Some(&api.tokens.a), &[]).await),
        ("no such path", get(&api.router, "/v2/nothing", None, &[]).await),
        ("openapi", get(&api.router, "/openapi.json", None, &[]).await),
        ("metrics", get(&api.router, "/metrics", None, &[]).await),
    ];
    let portal = [
        ("sign-in page", get(&api.router, "/portal", None, &[]).await),
        ("stylesheet", get(&api.router, "/portal/style.css", None, &[]).await),
        ("overview", portal_get(&api.router, "/portal/overview?period=2025-09", &cookie).await),
        ("record page", portal_get(&api.router, "/portal/records/r-a1", &cookie).await),
        ("portal csv", portal_get(&api.router, "/portal/settlements.csv?period=2025-09", &cookie).await),
        ("redirect", portal_get(&api.router, "/portal", &cookie).await),
        ("bad sign-in", post_form(&api.router, "/portal/sign-in", "token=nope", None).await),
    ];
    assert_eq!(answers[0].1.status, StatusCode::OK);
    assert_eq!(portal[2].1.status, StatusCode::OK);
    let all = answers.iter().map(|(what, got)| (what, got, false)).chain(portal.iter().map(|(what, got)| (what, got, true)));
    for (what, got, is_portal) in all {
        let h = |name: &str| got.headers.get(name).map(|v| v.to_str().unwrap().to_string()).unwrap_or_else(|| panic!("{what}: no {name}"));
        assert_eq!(h("cache-control"), "no-store", "{what}");
        assert_eq!(h("x-content-type-options"), "nosniff", "{what}");
        assert_eq!(h("x-frame-options"), "DENY", "{what}");
        assert_eq!(h("referrer-policy"), "no-referrer", "{what}");
        let csp = h("content-security-policy");
        assert!(csp.contains("frame-ancestors 'none'") && csp.starts_with("default-src 'none'"), "{what}: {csp}");
        assert_eq!(csp.contains("style-src 'self'"), is_portal, "{what}: {csp}");
    }
    // The pages need nothing inline that the policy would block.
    let page = portal[2].1.text();
    assert!(page.contains(r#"<link rel="stylesheet" href="/portal/style.css">"#) && !page.contains("<style") && !page.contains("style=") && !page.contains("<script"), "{page}");
    assert_eq!(portal[1].1.headers["content-type"], "text/css; charset=utf-8");
}
