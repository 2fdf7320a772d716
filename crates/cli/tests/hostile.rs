//! The hostile-input corpus (`tests/hostile/`): every line through `recompute`
//! and through the collector, each accounted for by the reason it must get;
//! and hostile platform answers (bodies cut short, not JSON, not UTF-8, with a
//! byte-order mark, duplicate keys, missing fields, too large, cursors that
//! lead back, redirects), each retried or refused with a clear error, nothing
//! lost, the token sent nowhere else; a stall shows in the checkpoint age.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use axum::extract::{Query, State};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use subsidy_core::{ReasonClass, ReasonCode};
use support::*;

const TOKEN: &str = "hostile-token";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// One line of the corpus: its number, case, and the outcome it must get.
struct Expected {
    line: usize,
    case: String,
    outcome: String,
}

/// The corpus: its lines (bytes, as the platform holds them) and what each must become.
fn corpus() -> (Vec<Vec<u8>>, Vec<Expected>) {
    let records = std::fs::read(repo().join("tests/hostile/records.jsonl")).unwrap();
    let lines: Vec<Vec<u8>> = records.strip_suffix(b"\n").unwrap().split(|b| *b == b'\n').map(<[u8]>::to_vec).collect();
    let expected: Vec<Expected> = std::fs::read_to_string(repo().join("tests/hostile/expected.tsv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            Expected { line: f[0].parse().unwrap(), case: f[1].to_string(), outcome: f[2].to_string() }
        })
        .collect();
    assert_eq!(expected.len(), lines.len(), "expected.tsv has a line per record line");
    for e in &expected {
        assert!(e.outcome == "eligible" || ReasonCode::parse(&e.outcome).is_some(), "{}: unknown outcome {}", e.case, e.outcome);
    }
    let kinds: std::collections::BTreeSet<&str> = expected.iter().map(|e| e.case.as_str()).collect();
    assert!(kinds.len() >= 30, "the corpus must hold at least 30 kinds of hostile input, has {}", kinds.len());
    (lines, expected)
}

#[test]
fn every_hostile_line_gets_its_reason_from_recompute() {
    let (lines, expected) = corpus();
    let dir = tempfile::tempdir().unwrap();
    let (out, exclusions) = (dir.path().join("s.csv"), dir.path().join("x.jsonl"));
    let golden = repo().join("tests/golden");
    let done = meter()
        .arg("recompute")
        .arg("--records")
        .arg(repo().join("tests/hostile/records.jsonl"))
        .arg("--entities")
        .arg(golden.join("entities.json"))
        .arg("--centers")
        .arg(golden.join("centers.json"))
        .arg("--out")
        .arg(&out)
        .arg("--exclusions")
        .arg(&exclusions)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert!(done.status.success(), "{stderr}");
    assert!(stderr.contains(&format!("recompute: {} lines", lines.len())), "{stderr}");
    let mut got: BTreeMap<usize, String> = BTreeMap::new();
    for l in std::fs::read_to_string(&exclusions).unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        let line = v["line"].as_u64().unwrap() as usize;
        assert!(got.insert(line, v["reason"].as_str().unwrap().to_string()).is_none(), "line {line} accounted for twice");
    }
    for e in &expected {
        let outcome = got.remove(&e.line).unwrap_or_else(|| "eligible".into());
        assert_eq!(outcome, e.outcome, "line {} ({})", e.line, e.case);
    }
    assert!(got.is_empty(), "exclusions for lines the corpus does not have: {got:?}");
}

/// A scripted platform: answers to record-page requests by cursor (each cursor's
/// answers are taken in turn, the last one repeating), and the golden registry.
#[derive(Clone, Default)]
struct Script {
    pages: Arc<Mutex<HashMap<String, VecDeque<Vec<u8>>>>>,
}

impl Script {
    fn answer(&self, cursor: &str, bodies: Vec<Vec<u8>>) {
        self.pages.lock().unwrap().insert(cursor.to_string(), bodies.into());
    }

    fn next(&self, cursor: &str) -> Option<Vec<u8>> {
        let mut pages = self.pages.lock().unwrap();
        let queue = pages.get_mut(cursor)?;
        if queue.len() > 1 {
            queue.pop_front()
        } else {
            queue.front().cloned()
        }
    }
}

async fn records(State(script): State<Script>, Query(q): Query<HashMap<String, String>>) -> axum::response::Response {
    let cursor = q.get("cursor").map_or("", String::as_str);
    match script.next(cursor) {
        Some(body) => ([("content-type", "application/json")], body).into_response(),
        None => (axum::http::StatusCode::BAD_REQUEST, r#"{"error":"invalid_cursor","message":"no such cursor"}"#).into_response(),
    }
}

fn registry_body(key: &str, file: &str) -> Vec<u8> {
    let items = std::fs::read_to_string(repo().join("tests/golden").join(file)).unwrap();
    format!("{{\"{key}\":{items}}}").into_bytes()
}

/// Serves the script on a free port; returns its base URL.
async fn serve(script: Script) -> String {
    let (entities, centers) = (registry_body("entities", "entities.json"), registry_body("centers", "centers.json"));
    let app = Router::new()
        .route("/v1/usage-records", get(records))
        .route("/v1/entities", get(move || async move { ([("content-type", "application/json")], entities) }))
        .route("/v1/compute-centers", get(move || async move { ([("content-type", "application/json")], centers) }))
        .with_state(script);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// One record element as the platform sends it: the line itself when it is a JSON
/// value, otherwise a JSON string carrying its text (lossily, when it is not UTF-8).
fn element(line: &[u8]) -> String {
    match serde_json::from_slice::<&serde_json::value::RawValue>(line) {
        Ok(raw) => raw.get().to_string(),
        Err(_) => serde_json::to_string(&String::from_utf8_lossy(line)).unwrap(),
    }
}

fn page(elements: &[String], next: &str, has_more: bool) -> Vec<u8> {
    format!(r#"{{"records":[{}],"next_cursor":"{next}","has_more":{has_more}}}"#, elements.join(",")).into_bytes()
}

/// Scripts `lines` as pages of ten at cursors "", "p1", "p2", ….
fn script_pages(script: &Script, lines: &[Vec<u8>]) {
    let chunks: Vec<&[Vec<u8>]> = lines.chunks(10).collect();
    for (i, chunk) in chunks.iter().enumerate() {
        let at = if i == 0 { String::new() } else { format!("p{i}") };
        let elements: Vec<String> = chunk.iter().map(|l| element(l)).collect();
        script.answer(&at, vec![page(&elements, &format!("p{}", i + 1), i + 1 < chunks.len())]);
    }
    script.answer(&format!("p{}", chunks.len()), vec![page(&[], &format!("p{}", chunks.len()), false)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_hostile_line_is_produced_or_dead_lettered_with_its_reason_by_the_collector() {
    require_broker().await;
    let (lines, expected) = corpus();
    let script = Script::default();
    script_pages(&script, &lines);
    let url = serve(script).await;
    let prefix = unique("hostile");
    let p = prefix.clone();
    tokio::task::spawn_blocking(move || collect_all(&p, &url, TOKEN)).await.unwrap();

    let mut produced: HashMap<Vec<u8>, usize> = HashMap::new();
    for (_, payload, _) in read_topic(&format!("{prefix}.records")).await {
        *produced.entry(payload).or_default() += 1;
    }
    let mut dead: HashMap<Vec<u8>, Vec<String>> = HashMap::new();
    let mut refused_registry = Vec::new();
    for (_, payload, headers) in read_topic(&format!("{prefix}.dead-letter")).await {
        let reason = headers.get("reason").cloned().unwrap_or_default();
        let registry_item = serde_json::from_slice::<serde_json::Value>(&payload).ok().is_some_and(|v| v.get("credit_code").is_some() || v.get("owner_credit_code").is_some());
        if registry_item {
            refused_registry.push(reason);
        } else {
            dead.entry(payload).or_default().push(reason);
        }
    }
    let mut accounted = 0;
    for e in &expected {
        let line = &lines[e.line - 1];
        let wire = element(line).into_bytes();
        let reason = ReasonCode::parse(&e.outcome);
        if reason.is_some_and(|r| r.class() == ReasonClass::Rejected) {
            // What the collector keeps of a refused line: the platform's text of it, at most 64 KiB.
            let text = if wire.first() == Some(&b'"') { serde_json::from_slice::<String>(&wire).unwrap().into_bytes() } else { wire };
            let kept = text[..text.len().min(subsidy_core::record::MAX_LINE_BYTES)].to_vec();
            let reasons = dead.get_mut(&kept).unwrap_or_else(|| panic!("line {} ({}) was not dead-lettered", e.line, e.case));
            let pos = reasons.iter().position(|r| *r == e.outcome).unwrap_or_else(|| panic!("line {} ({}): dead-lettered as {reasons:?}, expected {}", e.line, e.case, e.outcome));
            reasons.remove(pos);
        } else {
            let n = produced.get_mut(&wire).unwrap_or_else(|| panic!("line {} ({}) was not produced", e.line, e.case));
            assert!(*n > 0, "line {} ({}) produced fewer times than served", e.line, e.case);
            *n -= 1;
        }
        accounted += 1;
    }
    assert_eq!(accounted, lines.len());
    assert!(dead.values().all(Vec::is_empty), "dead letters the corpus does not explain: {dead:?}");
    assert!(produced.values().all(|n| *n == 0), "records produced more often than served");
    // The golden registry's entity with a wrong check character is refused with its reason.
    assert_eq!(refused_registry, ["invalid_credit_code"]);
}

/// Three good records, for the answers around a hostile one.
fn three_good() -> Vec<String> {
    let (lines, expected) = corpus();
    expected.iter().filter(|e| e.outcome == "eligible").take(3).map(|e| element(&lines[e.line - 1])).collect()
}

/// What a collector run against a script made of a hostile answer.
struct Run {
    ok: bool,
    stderr: String,
    produced: usize,
}

async fn run_collector(script: Script) -> Run {
    let url = serve(script).await;
    let prefix = unique("hostile-api");
    let p = prefix.clone();
    let done = tokio::task::spawn_blocking(move || spawn_collect(&p, &url, TOKEN, &["--exit-when-caught-up"]).wait(RUN_LIMIT)).await.unwrap();
    let produced = read_topic(&format!("{prefix}.records")).await.len();
    Run { ok: done.status.success(), stderr: done.stderr, produced }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_answer_once_is_retried_and_nothing_is_lost() {
    require_broker().await;
    let good = three_good();
    let first = page(&good, "end", false);
    let mut bom = "\u{feff}".as_bytes().to_vec();
    bom.extend_from_slice(&first);
    let mut not_utf8 = first.clone();
    let at = not_utf8.iter().position(|b| *b == b'A').unwrap();
    not_utf8[at] = 0xff;
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("a body cut short", first[..first.len() / 2].to_vec(), "truncated"),
        ("an empty body", Vec::new(), "truncated"),
        ("a proxy's HTML page", b"<html><body>502 Bad Gateway</body></html>".to_vec(), "decode"),
        ("a byte-order mark before the JSON", bom, "decode"),
        ("a byte that is not UTF-8", not_utf8, "decode"),
        ("has_more given twice", format!(r#"{{"records":[{}],"next_cursor":"end","has_more":true,"has_more":false}}"#, good.join(",")).into_bytes(), "decode"),
        ("no next_cursor", format!(r#"{{"records":[{}],"has_more":false}}"#, good.join(",")).into_bytes(), "decode"),
        ("records that are not an array", br#"{"records":{},"next_cursor":"end","has_more":false}"#.to_vec(), "decode"),
        ("a next_cursor that is a number", format!(r#"{{"records":[{}],"next_cursor":7,"has_more":false}}"#, good.join(",")).into_bytes(), "decode"),
    ];
    for (what, hostile, cause) in cases {
        let script = Script::default();
        script.answer("", vec![hostile, first.clone()]);
        script.answer("end", vec![page(&[], "end", false)]);
        let run = run_collector(script).await;
        assert!(run.ok, "{what}: the collector failed: {}", run.stderr);
        assert!(run.stderr.contains(&format!("cause=\"{cause}\"")), "{what}: not retried as {cause}: {}", run.stderr);
        assert_eq!(run.produced, 3, "{what}: every record of the page once it came whole");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_contract_stops_the_collector_with_a_clear_error() {
    require_broker().await;
    let good = three_good();
    let huge = vec![b' '; subsidy_platform::client::MAX_BODY_BYTES + 1];
    // (what, answers by cursor, the error it must give, records produced before it)
    type Case<'a> = (&'a str, Vec<(&'a str, Vec<u8>)>, &'a str, usize);
    let cases: Vec<Case<'_>> = vec![
        ("a cursor that leads back", vec![("", page(&good, "p1", true)), ("p1", page(&good, "", true))], "leads back to a page already read", 3),
        ("a cursor that leads to itself", vec![("", page(&good, "p1", true)), ("p1", page(&[], "p1", true))], "leads back to a page already read", 3),
        ("an answer larger than any page", vec![("", huge)], "larger than the", 0),
        ("a cursor the platform does not know", vec![("", page(&good, "gone", true))], "refused the request (HTTP 400)", 3),
    ];
    for (what, answers, message, produced) in cases {
        let script = Script::default();
        for (cursor, body) in answers {
            script.answer(cursor, vec![body]);
        }
        let run = run_collector(script).await;
        assert!(!run.ok, "{what}: the collector should have stopped");
        assert!(run.stderr.contains(message), "{what}: expected {message:?} in: {}", run.stderr);
        assert_eq!(run.produced, produced, "{what}: records produced before the stop");
    }
}

/// A listener that notes the `Authorization` header of every request reaching it.
async fn recorder() -> (String, Arc<Mutex<Vec<Option<String>>>>) {
    let seen: Arc<Mutex<Vec<Option<String>>>> = Arc::default();
    let noted = Arc::clone(&seen);
    let app = Router::new().fallback(move |headers: axum::http::HeaderMap| async move {
        noted.lock().unwrap().push(headers.get("authorization").map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()));
        ([("content-type", "application/json")], r#"{"records":[],"next_cursor":"x","has_more":false,"centers":[],"entities":[]}"#)
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_stops_the_collector_with_a_clear_error_and_the_token_stays_home() {
    require_broker().await;
    use subsidy_platform::server::{spawn, Faults, SimConfig, SimState};
    let (elsewhere, seen) = recorder().await;
    let location = format!("{elsewhere}/v1/compute-centers");
    let config = SimConfig { faults: Faults { redirect_to: Some(location.clone()), ..Faults::none() }, ..SimConfig::new(TOKEN) };
    let state = SimState::new(subsidy_platform::dataset::Dataset::default(), config).unwrap();
    let sim = spawn(state.clone()).await.unwrap();
    let prefix = unique("hostile-redirect");
    let url = sim.base_url();
    let done = tokio::task::spawn_blocking(move || spawn_collect(&prefix, &url, TOKEN, &["--exit-when-caught-up"]).wait(RUN_LIMIT)).await.unwrap();
    assert!(!done.status.success(), "the collector should have stopped: {}", done.stderr);
    assert!(done.stderr.contains(&format!("the platform answered HTTP 307 redirecting to {location:?}; redirects are refused")), "{}", done.stderr);
    assert!(!done.stderr.contains(TOKEN), "the token reached the log: {}", done.stderr);
    assert_eq!(state.stats().redirected, 1, "refused at once, not retried");
    assert_eq!(*seen.lock().unwrap(), Vec::<Option<String>>::new(), "the redirect was followed (with the token when Some)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_checkpoint_age_grows_while_the_platform_keeps_failing() {
    require_broker().await;
    let good = three_good();
    let script = Script::default();
    script.answer("", vec![page(&good, "p1", true)]);
    // Cut short at every try: retried for ever, the checkpoint stays after the first page.
    let cut = page(&good, "p2", false);
    script.answer("p1", vec![cut[..cut.len() / 2].to_vec()]);
    let url = serve(script).await;
    let (prefix, addr) = (unique("hostile-stall"), free_addr());
    let mut command = meter();
    command
        .arg("collect")
        .args(topic_args(&prefix))
        .args(["--platform-url", &url, "--metrics-addr", &addr, "--page-limit", "50"])
        .env("SUBSIDY_PLATFORM_TOKEN", TOKEN)
        .env("RUST_LOG", "warn");
    let collector = Proc::start("collect", command);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let age = || scrape_metric(&addr, "subsidy_collector_checkpoint_age_seconds");
    // The first page is checkpointed, then every request fails.
    while scrape_metric(&addr, "subsidy_collector_records_produced_total").await < 3.0 || age().await < 3.0 {
        assert!(std::time::Instant::now() < deadline, "the checkpoint age did not reach 3 s while the platform failed: {}", scrape(&addr).await);
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    let before = age().await;
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let after = age().await;
    assert!(after >= before + 2.0, "the age went from {before} to {after} s in 3 s");
    assert!(scrape_metric(&addr, "subsidy_collector_retries_total").await >= 2.0, "the platform was not failing");
    let stderr = collector.kill();
    assert!(stderr.contains("cause=\"truncated\""), "{stderr}");
}
