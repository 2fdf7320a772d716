//! The collector against the real Kafka-compatible broker and the platform
//! simulator: every served record arrives at least once, none is skipped,
//! through SIGKILL and restart, injected 429s and 5xx, and malformed records,
//! each of which lands in the dead-letter topic with its reason; an oversized
//! registry item and a `Retry-After` of 127 years do not stop it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};
use subsidy_platform::generate::{generate, GenConfig, LineKind};
use subsidy_platform::server::{spawn, Faults, SimConfig, SimState};
use support::*;

const TOKEN: &str = "test-token";

fn gen(records: usize, seed: u64) -> subsidy_platform::generate::Generated {
    generate(&GenConfig { seed, records, malformed_share: 0.03, ..GenConfig::default() }).unwrap()
}

/// Checks the topics against what the simulator served.
async fn assert_complete(prefix: &str, generated: &subsidy_platform::generate::Generated) {
    let records = read_topic(&format!("{prefix}.records")).await;
    let dead = read_topic(&format!("{prefix}.dead-letter")).await;
    let mut in_kafka: HashMap<Vec<u8>, usize> = HashMap::new();
    for (key, payload, _) in &records {
        let rec = subsidy_core::parse_record(payload).expect("only parseable records on the records topic");
        assert_eq!(key.as_deref(), Some(rec.record_id.as_bytes()), "records are keyed by record id");
        *in_kafka.entry(payload.clone()).or_default() += 1;
    }
    let mut dead_by_payload: HashMap<Vec<u8>, Vec<String>> = HashMap::new();
    for (_, payload, headers) in &dead {
        assert_eq!(headers.get("stage").map(String::as_str), Some("collector"));
        dead_by_payload.entry(payload.clone()).or_default().push(headers.get("reason").cloned().unwrap_or_default());
    }
    let mut served: HashMap<&[u8], usize> = HashMap::new();
    let (mut good, mut bad) = (0, 0);
    for (line, kind) in generated.dataset.records.iter().zip(&generated.kinds) {
        match kind {
            LineKind::Malformed(m) if m.rejected_by_parser() => {
                bad += 1;
                let reasons = dead_by_payload.get(line.as_bytes()).unwrap_or_else(|| panic!("malformed line not dead-lettered: {line}"));
                assert!(reasons.iter().all(|r| r == m.expected_reason().as_str()), "{line}: reasons {reasons:?}, expected {}", m.expected_reason());
            }
            _ => {
                good += 1;
                *served.entry(line.as_bytes()).or_default() += 1;
            }
        }
    }
    assert!(good > 1000 && bad > 20, "data set too small: {good} good, {bad} bad");
    let missing: Vec<_> = served.iter().filter(|(line, n)| in_kafka.get(**line).copied().unwrap_or(0) < **n).map(|(l, n)| format!("served {n}, in kafka {}, dead {:?}: {}", in_kafka.get(*l).copied().unwrap_or(0), dead_by_payload.get(*l), String::from_utf8_lossy(l))).collect();
    assert!(missing.is_empty(), "{} of {} served lines missing from Kafka ({} messages on the topic, prefix {prefix}); first: {:?}", missing.len(), served.len(), records.len(), &missing[..missing.len().min(5)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_record_arrives_through_faults_and_a_kill() {
    require_broker().await;
    let generated = gen(6000, 11);
    let config = SimConfig {
        faults: Faults { error_rate: 0.05, rate_limit_rate: 0.05, retry_after_secs: 1, truncate_rate: 0.03, ..Faults::none() },
        fault_seed: 3,
        ..SimConfig::new(TOKEN)
    };
    let state = SimState::new(generated.dataset.clone(), config).unwrap();
    let sim = spawn(state.clone()).await.unwrap();
    let prefix = unique("collector-kill");

    // First run: killed with SIGKILL once a part of the stream is in Kafka.
    let first = spawn_collect(&prefix, &sim.base_url(), TOKEN, &[]);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        if state.stats().records_served >= 1500 || Instant::now() > deadline {
            break;
        }
    }
    first.kill();
    let served_before_kill = state.stats().records_served;
    assert!(served_before_kill >= 1500, "the collector was killed before it fetched much ({served_before_kill} records)");

    // Second run resumes from the checkpoint and stops when caught up.
    let second = spawn_collect(&prefix, &sim.base_url(), TOKEN, &["--exit-when-caught-up"]);
    let stderr = tokio::task::spawn_blocking(move || second.finish()).await.unwrap();
    // It resumed: it did not page from the start again (120 pages of 50 cover the data set).
    assert!(stderr.contains("collect: "), "{stderr}");
    let pages: u64 = stderr.split("collect: ").nth(1).and_then(|s| s.split(' ').next()).and_then(|n| n.parse().ok()).unwrap();
    assert!(pages < 120, "the restarted collector fetched {pages} pages: it did not resume");

    let stats = state.stats();
    assert!(stats.server_errors > 0 && stats.rate_limited > 0 && stats.truncated > 0, "faults were not injected: {stats:?}");
    assert_complete(&prefix, &generated).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_token_or_missing_broker_fails_fast() {
    let generated = gen(100, 5);
    let sim = spawn(SimState::new(generated.dataset, SimConfig::new(TOKEN)).unwrap()).await.unwrap();
    let prefix = unique("collector-auth");
    let done = spawn_collect(&prefix, &sim.base_url(), "wrong", &["--exit-when-caught-up"]).wait(Duration::from_secs(60));
    assert!(!done.status.success());
    let stderr = done.stderr;
    assert!(stderr.contains("refused the token"), "{stderr}");

    // Failing fast: both runs are killed, failing the test, if they take a minute.
    let mut command = meter();
    command.args(["collect", "--kafka-brokers", "127.0.0.1:1", "--platform-url", &sim.base_url(), "--exit-when-caught-up"]).env("SUBSIDY_PLATFORM_TOKEN", TOKEN);
    let done = Proc::start("collect without a broker", command).wait(Duration::from_secs(60));
    assert!(!done.status.success());
    assert!(done.stderr.contains("cannot reach Kafka at 127.0.0.1:1"), "{}", done.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_polling_collector_stops_quietly_on_sigterm() {
    require_broker().await;
    let generated = gen(2_000, 6);
    let state = SimState::new(generated.dataset.clone(), SimConfig::new(TOKEN)).unwrap();
    let sim = spawn(state.clone()).await.unwrap();
    let prefix = unique("collector-stop");
    let collector = spawn_collect(&prefix, &sim.base_url(), TOKEN, &[]);
    // Everything is served; the collector then polls for more until told to stop.
    let deadline = Instant::now() + Duration::from_secs(60);
    while state.stats().records_served < state.total() as u64 {
        assert!(Instant::now() < deadline, "not everything was served in 60 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let stopped = std::process::Command::new("kill").args(["-TERM", &collector.pid().to_string()]).status().unwrap();
    assert!(stopped.success());
    let done = tokio::task::spawn_blocking(move || collector.wait(Duration::from_secs(60))).await.unwrap();
    assert!(done.status.success(), "{}", done.stderr);
    assert_quiet("the collector stopped with SIGTERM", &done.stderr);
    assert_complete(&prefix, &generated).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entity_listed_twice_is_produced_as_the_later_one_in_every_poll() {
    require_broker().await;
    let mut generated = gen(200, 8);
    let first = generated.dataset.entities[0].clone();
    let code = first["credit_code"].as_str().unwrap().to_string();
    let mut moved = first.clone();
    moved["city"] = serde_json::json!(if first["city"] == "阜阳市" { "合肥市" } else { "阜阳市" });
    generated.dataset.entities.push(moved.clone());
    // The same key on a day is another entry, produced under its own key beside the undated one.
    let mut dated = first.clone();
    dated["city"] = serde_json::json!("宿州市");
    dated["valid_from"] = serde_json::json!("2021-09-01");
    generated.dataset.entities.push(dated.clone());
    let state = SimState::new(generated.dataset.clone(), SimConfig::new(TOKEN)).unwrap();
    let sim = spawn(state.clone()).await.unwrap();
    let prefix = unique("collector-repeat");
    // Polls the registry every second: four polls or more before it is stopped.
    let collector = spawn_collect(&prefix, &sim.base_url(), TOKEN, &["--poll-interval-ms", "1000"]);
    tokio::time::sleep(Duration::from_secs(5)).await;
    let stopped = std::process::Command::new("kill").args(["-TERM", &collector.pid().to_string()]).status().unwrap();
    assert!(stopped.success());
    let done = tokio::task::spawn_blocking(move || collector.wait(Duration::from_secs(60))).await.unwrap();
    assert!(done.status.success(), "{}", done.stderr);
    let polls = done.stderr.matches("lists this registry item more than once").count();
    assert!(polls >= 3, "expected a report per poll, found {polls}: {}", done.stderr);
    let topic = read_topic(&format!("{prefix}.entities")).await;
    let under = |key: &str| -> Vec<serde_json::Value> {
        topic.iter().filter(|(k, _, _)| k.as_deref() == Some(key.as_bytes())).map(|(_, payload, _)| serde_json::from_slice(payload).unwrap()).collect()
    };
    assert_eq!(under(&code), vec![moved], "the entity must be produced once, as the later item");
    assert_eq!(under(&format!("{code}@2021-09-01")), vec![dated], "the dated entry is produced once, under its key and day");
}

/// `item` as the simulator's oversized fault serves it: its name padded past `bytes`.
fn padded(item: &serde_json::Value, bytes: usize) -> serde_json::Value {
    let mut big = item.clone();
    big["name"] = serde_json::json!(format!("{} {}", item["name"].as_str().unwrap(), "x".repeat(bytes)));
    big
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_registry_item_is_dead_lettered_and_the_collector_keeps_producing_across_a_restart() {
    require_broker().await;
    let generated = gen(1500, 12);
    // Past the producer's message size, so producing it whole would fail every poll.
    let pad = 1_200_000;
    let config = SimConfig { faults: Faults { oversized_registry_bytes: pad, ..Faults::none() }, ..SimConfig::new(TOKEN) };
    let state = SimState::new(generated.dataset.clone(), config).unwrap();
    let sim = spawn(state.clone()).await.unwrap();
    let prefix = unique("collector-oversized");
    for run in ["first", "restarted"] {
        let done = spawn_collect(&prefix, &sim.base_url(), TOKEN, &["--exit-when-caught-up"]).wait(Duration::from_secs(120));
        assert!(done.status.success(), "the {run} run failed: {}", done.stderr);
    }
    assert_complete(&prefix, &generated).await;
    let max = subsidy_core::record::MAX_LINE_BYTES;
    let dead = read_topic(&format!("{prefix}.dead-letter")).await;
    for (kind, topic, key, items) in [
        ("entity", "entities", "credit_code", &generated.dataset.entities),
        ("center", "centers", "center_id", &generated.dataset.centers),
    ] {
        // Every item arrives, the one that has an oversized copy as it was.
        let produced: HashMap<String, serde_json::Value> = read_topic(&format!("{prefix}.{topic}"))
            .await
            .into_iter()
            .map(|(k, v, _)| (String::from_utf8(k.unwrap()).unwrap(), serde_json::from_slice(&v).unwrap()))
            .collect();
        // Keyed as the collector keys them: a dated entry by its key and day.
        let entry = |i: &serde_json::Value| match i["valid_from"].as_str() {
            Some(day) => format!("{}@{day}", i[key].as_str().unwrap()),
            None => i[key].as_str().unwrap().to_string(),
        };
        let listed: HashMap<String, &serde_json::Value> = items.iter().map(|i| (entry(i), i)).collect();
        assert!(listed.keys().any(|k| k.contains('@')), "the data set lists dated {kind} entries");
        for (k, item) in listed {
            assert_eq!(produced.get(&k), Some(item), "{kind} {k} as the platform lists it");
        }
        // The oversized copy is a dead letter in each run: its first 64 KiB, the reason `oversized`.
        let text = padded(&items[0], pad).to_string();
        let kept: Vec<_> = dead.iter().filter(|(_, payload, _)| payload.as_slice() == &text.as_bytes()[..max]).collect();
        assert!(kept.len() >= 2, "{kind}: {} dead letters of the oversized copy over two runs", kept.len());
        for (_, _, headers) in kept {
            assert_eq!(headers.get("reason").map(String::as_str), Some("oversized"));
            assert!(headers["detail"].contains(&format!("{kind} has {} bytes", text.len())), "{headers:?}");
        }
    }
    assert!(dead.iter().all(|(_, payload, _)| payload.len() <= max), "every dead letter is trimmed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_retry_after_is_waited_for_at_most_the_configured_maximum() {
    require_broker().await;
    let generated = gen(1500, 13);
    let config = SimConfig { faults: Faults { rate_limit_first: 3, retry_after_secs: 4_000_000_000, ..Faults::none() }, ..SimConfig::new(TOKEN) };
    let state = SimState::new(generated.dataset.clone(), config).unwrap();
    let sim = spawn(state.clone()).await.unwrap();
    let prefix = unique("collector-retry-after");
    let collector = spawn_collect(&prefix, &sim.base_url(), TOKEN, &["--exit-when-caught-up", "--max-retry-after-secs", "1"]);
    // Three waits of a second, not of 127 years: the run is killed, failing the test, after two minutes.
    let done = tokio::task::spawn_blocking(move || collector.wait(Duration::from_secs(120))).await.unwrap();
    assert!(done.status.success(), "{}", done.stderr);
    assert_eq!(done.stderr.matches("cause=\"rate_limited\"").count(), 3, "the 429s were not retried: {}", done.stderr);
    assert!(done.stderr.contains("wait_ms=1000"), "{}", done.stderr);
    assert_eq!(state.stats().rate_limited, 3);
    assert_complete(&prefix, &generated).await;
}
