//! The simulator and the client together: every served record reaches a
//! client paging with small limits through faults, byte for byte; auth,
//! cursor and limit errors; live release; a huge `Retry-After` waited for no
//! longer than the maximum; a redirect refused without following it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use subsidy_platform::client::{with_retry, FetchError, PageRecord, PlatformClient, RetryPolicy};
use subsidy_platform::server::{spawn, Faults, Release, RunningSim, SimConfig, SimState};
use subsidy_platform::{generate, GenConfig, Generated, LineKind, MalformedKind};

const TOKEN: &str = "test-token";

fn small() -> Generated {
    generate(&GenConfig { entities: 60, centers: 6, records: 1_500, malformed_share: 0.05, ..GenConfig::default() }).unwrap()
}

async fn start(g: &Generated, config: SimConfig) -> (RunningSim, SimState) {
    let state = SimState::new(g.dataset.clone(), config).unwrap();
    (spawn(state.clone()).await.unwrap(), state)
}

fn client(sim: &RunningSim, token: &str, timeout_ms: u64) -> PlatformClient {
    PlatformClient::new(&sim.base_url(), token, Duration::from_millis(timeout_ms)).unwrap()
}

fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(20),
        max_attempts: 100,
        max_elapsed: None,
        jitter: true,
        ..RetryPolicy::default()
    }
}

#[tokio::test]
async fn every_record_arrives_byte_exact_through_faults() {
    let g = small();
    let mut config = SimConfig::new(TOKEN);
    config.fault_seed = 11;
    config.faults = Faults {
        error_rate: 0.15,
        rate_limit_rate: 0.1,
        retry_after_secs: 0,
        slow_rate: 0.03,
        slow_ms: 400,
        truncate_rate: 0.15,
        malformed_rate: 0.1,
        repeat_rate: 0.0,
        ..Faults::none()
    };
    let (sim, state) = start(&g, config).await;
    let c = client(&sim, TOKEN, 200);
    let policy = fast_retries();
    let mut retries: HashMap<&'static str, usize> = HashMap::new();
    let mut got: Vec<PageRecord> = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = c
            .fetch_page_with_retry(cursor.as_deref(), 37, &policy, |e, _| *retries.entry(e.cause()).or_default() += 1)
            .await
            .unwrap();
        pages += 1;
        assert!(page.records.len() <= 37);
        got.extend(page.records);
        cursor = Some(page.next_cursor);
        if !page.has_more {
            break;
        }
    }
    assert_eq!(pages, 1_500usize.div_ceil(37));
    assert_eq!(got.len(), g.dataset.records.len());
    for (i, (received, sent)) in got.iter().zip(&g.dataset.records).enumerate() {
        assert_eq!(received.text(), sent, "record {i} byte-exact");
        let broken = matches!(g.kinds[i], LineKind::Malformed(MalformedKind::BrokenJson));
        assert_eq!(received.is_malformed_text(), broken, "record {i} sent as a string iff not JSON");
    }
    for cause in ["server_error", "rate_limited", "truncated", "decode", "timeout"] {
        assert!(retries.get(cause).copied().unwrap_or(0) > 0, "{cause} retried: {retries:?}");
    }
    let stats = state.stats();
    assert!(stats.truncated > 0 && stats.malformed > 0 && stats.rate_limited > 0 && stats.server_errors > 0, "{stats:?}");

    // At the end the cursor still works: nothing more, until there is.
    let again = c.fetch_page_with_retry(cursor.as_deref(), 1000, &policy, |_, _| {}).await.unwrap();
    assert!(again.records.is_empty() && !again.has_more);
    assert_eq!(Some(again.next_cursor), cursor);

    let entities = with_retry(&policy, || c.fetch_entities(), |_, _| {}).await.unwrap();
    assert_eq!(entities, g.dataset.entities);
    let centers = with_retry(&policy, || c.fetch_centers(), |_, _| {}).await.unwrap();
    assert_eq!(centers, g.dataset.centers);
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn wrong_or_missing_token_is_401() {
    let g = small();
    let (sim, state) = start(&g, SimConfig::new(TOKEN)).await;
    let bad = client(&sim, "nope", 2_000);
    assert!(matches!(bad.fetch_page(None, 10).await, Err(FetchError::Unauthorized { status: 401 })));
    assert!(matches!(bad.fetch_entities().await, Err(FetchError::Unauthorized { .. })));
    assert!(matches!(bad.fetch_centers().await, Err(FetchError::Unauthorized { .. })));
    let err = bad.fetch_page_with_retry(None, 10, &fast_retries(), |_, _| panic!("401 is not retried")).await.unwrap_err();
    assert!(!err.is_retryable());

    let http = reqwest::Client::new();
    let r = http.get(format!("{}/v1/usage-records", sim.base_url())).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "unauthorized");
    let r = http.get(format!("{}/healthz", sim.base_url())).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(state.stats().unauthorized, 5);
}

#[tokio::test]
async fn bad_cursor_and_limit_are_400() {
    let g = small();
    let (sim, _) = start(&g, SimConfig::new(TOKEN)).await;
    let c = client(&sim, TOKEN, 2_000);
    for cursor in ["garbage", "00000000000000000000", "'; drop table"] {
        match c.fetch_page(Some(cursor), 10).await {
            Err(FetchError::Rejected { status: 400, message }) => assert!(message.contains("cursor"), "{message}"),
            other => panic!("{cursor}: {other:?}"),
        }
    }
    for limit in [0, 1001] {
        assert!(matches!(c.fetch_page(None, limit).await, Err(FetchError::Rejected { status: 400, .. })), "{limit}");
    }
    let page = c.fetch_page(None, 1000).await.unwrap();
    assert_eq!(page.records.len(), 1000);

    let http = reqwest::Client::new();
    let url = format!("{}/v1/usage-records?limit=ten", sim.base_url());
    let r = http.get(url).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "invalid_limit");
    let url = format!("{}/v1/usage-records", sim.base_url());
    let body: serde_json::Value = http.get(url).bearer_auth(TOKEN).send().await.unwrap().json().await.unwrap();
    assert_eq!(body["records"].as_array().unwrap().len(), 100, "default limit");
}

#[tokio::test]
async fn each_fault_is_classified() {
    let g = small();
    type Expect = fn(&FetchError) -> bool;
    let cases: [(Faults, Expect); 4] = [
        (Faults { rate_limit_rate: 1.0, retry_after_secs: 7, ..Faults::none() }, |e| {
            matches!(e, FetchError::RateLimited { retry_after: Some(d) } if d.as_secs() == 7)
        }),
        (Faults { error_rate: 1.0, ..Faults::none() }, |e| matches!(e, FetchError::Server { status: 500 | 503, .. })),
        (Faults { truncate_rate: 1.0, ..Faults::none() }, |e| matches!(e, FetchError::Truncated(_))),
        (Faults { malformed_rate: 1.0, ..Faults::none() }, |e| matches!(e, FetchError::Decode(_))),
    ];
    for (faults, expected) in cases {
        let mut config = SimConfig::new(TOKEN);
        config.faults = faults.clone();
        let (sim, _) = start(&g, config).await;
        let c = client(&sim, TOKEN, 2_000);
        for _ in 0..4 {
            let e = c.fetch_page(None, 50).await.unwrap_err();
            assert!(expected(&e) && e.is_retryable(), "{faults:?}: {e:?}");
        }
    }
    let mut config = SimConfig::new(TOKEN);
    config.faults = Faults { slow_rate: 1.0, slow_ms: 500, ..Faults::none() };
    let (sim, _) = start(&g, config).await;
    assert!(matches!(client(&sim, TOKEN, 100).fetch_page(None, 5).await, Err(FetchError::Timeout)));
}

#[tokio::test]
async fn a_repeating_page_sends_records_again_and_the_stream_still_moves_on() {
    let g = small();
    let mut config = SimConfig::new(TOKEN);
    config.faults = Faults { repeat_rate: 1.0, ..Faults::none() };
    let (sim, state) = start(&g, config).await;
    let c = client(&sim, TOKEN, 2_000);
    let (mut got, mut cursor, mut pages) = (Vec::new(), None::<String>, 0);
    loop {
        let page = c.fetch_page(cursor.as_deref(), 40).await.unwrap();
        pages += 1;
        got.extend(page.records.iter().map(|r| r.text().to_string()));
        cursor = Some(page.next_cursor);
        if !page.has_more {
            break;
        }
    }
    // Every page after the first starts 20 records back, so each moves the stream on by 20.
    assert_eq!(pages, 1 + (1_500usize - 40).div_ceil(20));
    assert!(got.len() > g.dataset.records.len() && state.stats().repeated as usize == pages - 1, "{} lines in {pages} pages", got.len());
    let first_copies = |lines: &[String]| {
        let mut seen = std::collections::HashSet::new();
        lines.iter().filter(|t| seen.insert(t.to_string())).cloned().collect::<Vec<_>>()
    };
    assert_eq!(first_copies(&got), first_copies(&g.dataset.records), "every record arrives, in stream order, repeats aside");
}

#[tokio::test]
async fn live_release_makes_polling_incremental() {
    let g = small();
    let mut config = SimConfig::new(TOKEN);
    config.release = Release::Manual { initial: 10 };
    let (sim, state) = start(&g, config).await;
    let c = client(&sim, TOKEN, 2_000);
    let first = c.fetch_page(None, 100).await.unwrap();
    assert_eq!((first.records.len(), first.has_more), (10, false));
    let idle = c.fetch_page(Some(&first.next_cursor), 100).await.unwrap();
    assert!(idle.records.is_empty() && idle.next_cursor == first.next_cursor);
    state.release_to(25);
    let second = c.fetch_page(Some(&first.next_cursor), 10).await.unwrap();
    assert_eq!((second.records.len(), second.has_more), (10, true));
    assert_eq!(second.records[0].text(), g.dataset.records[10]);
    let third = c.fetch_page(Some(&second.next_cursor), 100).await.unwrap();
    assert_eq!((third.records.len(), third.has_more), (5, false));

    let mut config = SimConfig::new(TOKEN);
    config.release = Release::Rate { initial: 0, per_sec: 2_000.0 };
    let state = SimState::new(g.dataset.clone(), config).unwrap();
    assert!(state.visible() < 100);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(state.visible() > 100, "released over time");
}

/// A second listener that notes the `Authorization` of every request reaching it,
/// except `/v1/compute-centers`, which redirects (302) to `/landing` on the same origin.
async fn recorder() -> (String, Arc<Mutex<Vec<Option<String>>>>) {
    use axum::http::{header, HeaderMap, StatusCode};
    let seen: Arc<Mutex<Vec<Option<String>>>> = Arc::default();
    let noted = Arc::clone(&seen);
    let app = axum::Router::new()
        .route("/v1/compute-centers", axum::routing::get(|| async { (StatusCode::FOUND, [(header::LOCATION, "/landing")]) }))
        .fallback(move |headers: HeaderMap| async move {
            noted.lock().unwrap().push(headers.get(header::AUTHORIZATION).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()));
            ([(header::CONTENT_TYPE, "application/json")], r#"{"records":[],"next_cursor":"x","has_more":false,"centers":[],"entities":[]}"#)
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

#[tokio::test]
async fn a_redirect_is_refused_and_the_token_follows_it_nowhere() {
    let (elsewhere, seen) = recorder().await;
    // To another origin, through the simulator's redirect fault.
    let mut config = SimConfig::new(TOKEN);
    config.faults.redirect_to = Some(format!("{elsewhere}/v1/usage-records"));
    let (sim, state) = start(&small(), config).await;
    let e = client(&sim, TOKEN, 2_000).fetch_page_with_retry(None, 10, &fast_retries(), |_, _| {}).await.unwrap_err();
    assert!(matches!(&e, FetchError::Redirected { status: 307, location } if *location == format!("{elsewhere}/v1/usage-records")), "{e}");
    assert!(!e.is_retryable() && e.cause() == "redirected");
    let text = e.to_string();
    assert!(text.contains("HTTP 307") && text.contains(&elsewhere) && !text.contains(TOKEN), "{text}");
    assert_eq!(state.stats().redirected, 1, "refused at once, not retried");
    // On the same origin, where a client that follows redirects keeps the token.
    let same = PlatformClient::new(&elsewhere, TOKEN, Duration::from_secs(2)).unwrap();
    let e = same.fetch_centers().await.unwrap_err();
    assert!(matches!(&e, FetchError::Redirected { status: 302, location } if location == "/landing"), "{e}");
    assert_eq!(*seen.lock().unwrap(), Vec::<Option<String>>::new(), "a redirect target was asked (with the token when Some)");
}

#[tokio::test]
async fn a_huge_retry_after_is_waited_for_no_longer_than_the_maximum() {
    let mut config = SimConfig::new(TOKEN);
    config.faults = Faults { rate_limit_first: 2, retry_after_secs: 4_000_000_000, ..Faults::none() };
    let (sim, state) = start(&small(), config).await;
    let policy = RetryPolicy { max_retry_after: Duration::from_millis(50), ..fast_retries() };
    let mut waits = Vec::new();
    let fetched = tokio::time::timeout(Duration::from_secs(30), client(&sim, TOKEN, 2_000).fetch_page_with_retry(None, 10, &policy, |_, wait| waits.push(wait))).await;
    let page = fetched.expect("the client slept past 30 s on a Retry-After").unwrap();
    assert_eq!(page.records.len(), 10);
    assert_eq!(waits, [Duration::from_millis(50); 2]);
    assert_eq!(state.stats().rate_limited, 2);
}

/// Every record id of the stream a client reads from the start to its end now, with `cursor` after it.
async fn read_ids(c: &PlatformClient, from: Option<String>) -> (std::collections::BTreeSet<String>, String) {
    let mut ids = std::collections::BTreeSet::new();
    let mut cursor = from;
    loop {
        let page = c.fetch_page(cursor.as_deref(), 500).await.unwrap();
        for r in &page.records {
            if let Ok(rec) = subsidy_core::parse_record(r.as_bytes()) {
                ids.insert(rec.record_id);
            }
        }
        cursor = Some(page.next_cursor.clone());
        if !page.has_more {
            return (ids, page.next_cursor);
        }
    }
}

#[tokio::test]
async fn usage_counts_count_withheld_records_that_arrive_after_the_stream_once_released() {
    let g = small();
    let plain = SimState::new(g.dataset.clone(), SimConfig::new(TOKEN)).unwrap();
    let first = chrono::NaiveDate::from_ymd_opt(2025, 6, 1).unwrap();
    let busiest = first
        .iter_days()
        .take(183)
        .flat_map(|d| plain.counts_of(d))
        .max_by_key(|c| c.records)
        .expect("the generator makes records from June to November 2025");
    let mut config = SimConfig::new(TOKEN);
    config.faults.withhold = Some(subsidy_platform::server::Withhold { center_id: busiest.center_id.clone(), from: busiest.date, to: busiest.date, fraction: 0.001 });
    let (sim, state) = start(&g, config).await;
    let c = client(&sim, TOKEN, 2_000);
    // Paged one center at a time, the counts are the platform's whole figures.
    let counts = c.fetch_usage_counts(busiest.date, &fast_retries(), |_, _| {}).await.unwrap();
    let mine = counts.iter().find(|x| x.center_id == busiest.center_id).unwrap();
    assert_eq!((mine.records, mine.paid), (busiest.records, busiest.paid_amount));
    assert_eq!(counts.len(), plain.counts_of(busiest.date).len());
    let (before, cursor) = read_ids(&c, None).await;
    assert!(state.withheld() > 0);
    state.release_withheld();
    let (after, _) = read_ids(&c, Some(cursor)).await;
    assert!(!after.is_empty() && after.iter().all(|id| !before.contains(id)), "released records come after the cursor, new ids only");
    assert_eq!(state.withheld(), 0);
    let bad = c.fetch_usage_counts(chrono::NaiveDate::from_ymd_opt(1999, 1, 1).unwrap(), &fast_retries(), |_, _| {}).await.unwrap();
    assert!(bad.is_empty());
}
