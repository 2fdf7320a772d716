//! Helpers shared by the integration tests: service endpoints, unique names,
//! running the binary, reading topics back.

#![allow(dead_code)]

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use subsidy_bus::{header_str, TopicReader};

/// The broker the tests use (CI starts it): `SUBSIDY_KAFKA_BROKERS` or 127.0.0.1:9092.
pub fn brokers() -> String {
    std::env::var("SUBSIDY_KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into())
}

/// Fails the test with a clear message when the broker is not up.
pub async fn require_broker() {
    if let Err(e) = subsidy_bus::check_reachable(&brokers(), Duration::from_secs(10)).await {
        panic!("these tests need the Kafka-compatible broker (start it with `bash deploy/dev/services.sh start kafka`): {e}");
    }
}

/// A name unique to this test run.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}-{:08x}", std::process::id(), rand::random::<u32>())
}

/// The binary under test.
pub fn meter() -> Command {
    Command::new(env!("CARGO_BIN_EXE_subsidy-meter"))
}

/// Topic flags for a prefix.
pub fn topic_args(prefix: &str) -> Vec<String> {
    vec![
        "--topic-records".into(),
        format!("{prefix}.records"),
        "--topic-entities".into(),
        format!("{prefix}.entities"),
        "--topic-centers".into(),
        format!("{prefix}.centers"),
        "--topic-dead-letter".into(),
        format!("{prefix}.dead-letter"),
        "--topic-checkpoints".into(),
        format!("{prefix}.checkpoints"),
        "--kafka-brokers".into(),
        brokers(),
    ]
}

/// Starts `subsidy-meter collect` against a platform.
pub fn spawn_collect(prefix: &str, platform_url: &str, token: &str, extra: &[&str]) -> Child {
    meter()
        .arg("collect")
        .args(topic_args(prefix))
        .args(["--platform-url", platform_url, "--metrics-addr", "127.0.0.1:0", "--page-limit", "50", "--registry-interval-secs", "1"])
        .args(extra)
        .env("SUBSIDY_PLATFORM_TOKEN", token)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start collect")
}

/// Every message of a topic: (key, payload, headers as a map).
pub async fn read_topic(topic: &str) -> Vec<(Option<Vec<u8>>, Vec<u8>, HashMap<String, String>)> {
    use rdkafka::message::Message;
    let reader = TopicReader::open(&brokers(), topic, Duration::from_secs(10)).expect("open reader");
    let mut out = Vec::new();
    reader
        .catch_up(Duration::from_secs(60), |m| {
            let mut headers = HashMap::new();
            if let Some(h) = m.headers() {
                for key in ["reason", "field", "detail", "stage"] {
                    if let Some(v) = header_str(h, key) {
                        headers.insert(key.to_string(), v.to_string());
                    }
                }
            }
            out.push((m.key().map(|k| k.to_vec()), m.payload().unwrap_or_default().to_vec(), headers));
        })
        .await
        .expect("read topic");
    out
}

/// The ClickHouse the tests use (CI starts it).
pub fn clickhouse_url() -> String {
    std::env::var("SUBSIDY_CLICKHOUSE_URL").unwrap_or_else(|_| "http://127.0.0.1:8123".into())
}

/// A store handle on a test database.
pub async fn clickhouse(database: &str) -> subsidy_store::ClickHouseStore {
    let config = subsidy_store::ClickHouseConfig { url: clickhouse_url(), database: database.to_string(), user: "default".into(), password: String::new() };
    match subsidy_store::ClickHouseStore::connect(&config).await {
        Ok(s) => s,
        Err(e) => panic!("these tests need ClickHouse (start it with `bash deploy/dev/services.sh start clickhouse`): {e}"),
    }
}

/// Runs `collect` until caught up.
pub fn collect_all(prefix: &str, platform_url: &str, token: &str) {
    let out = spawn_collect(prefix, platform_url, token, &["--exit-when-caught-up"]).wait_with_output().expect("run collect");
    assert!(out.status.success(), "collect failed: {}", String::from_utf8_lossy(&out.stderr));
}

/// Starts `aggregate` on a topic prefix, database and group.
pub fn spawn_aggregate(prefix: &str, database: &str, group: &str, extra: &[&str]) -> Child {
    meter()
        .arg("aggregate")
        .args(topic_args(prefix))
        .args(["--clickhouse-url", &clickhouse_url(), "--clickhouse-database", database, "--group", group, "--metrics-addr", "127.0.0.1:0"])
        .args(extra)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start aggregate")
}

/// Waits for a child and asserts it succeeded; returns its stderr.
pub fn finish(child: Child, what: &str) -> String {
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{what} failed: {stderr}");
    stderr
}

/// `export` from a ClickHouse database.
pub fn export(database: &str, dir: &std::path::Path) -> String {
    let out = dir.join(format!("export-{database}.csv"));
    let o = meter().args(["export", "--clickhouse-url", &clickhouse_url(), "--clickhouse-database", database, "--out"]).arg(&out).output().expect("run export");
    assert!(o.status.success(), "export failed: {}", String::from_utf8_lossy(&o.stderr));
    std::fs::read_to_string(out).expect("read export")
}

/// `recompute` over a data directory.
pub fn recompute(data: &std::path::Path) -> String {
    let out = data.join("recompute.csv");
    let o = meter()
        .arg("recompute")
        .arg("--records")
        .arg(data.join("records.jsonl"))
        .arg("--entities")
        .arg(data.join("entities.json"))
        .arg("--centers")
        .arg(data.join("centers.json"))
        .arg("--out")
        .arg(&out)
        .output()
        .expect("run recompute");
    assert!(o.status.success(), "recompute failed: {}", String::from_utf8_lossy(&o.stderr));
    std::fs::read_to_string(out).expect("read recompute")
}

/// Asserts two settlement CSVs are identical, reporting sizes and the first differing line.
pub fn assert_same(got: &str, want: &str, when: &str) {
    if got != want {
        let first = got.lines().zip(want.lines()).enumerate().find(|(_, (a, b))| a != b);
        panic!("export differs from recompute {when}: {} vs {} lines; first difference: {first:?}", got.lines().count(), want.lines().count());
    }
}
