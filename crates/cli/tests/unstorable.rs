//! Nothing a record carries can stop the ledger: the aggregator, in process,
//! on librdkafka's mock cluster (the same Kafka code paths) and an embedded
//! SQLite ledger, so these run with no service up.
//!
//! Records whose usage times or amounts no store can hold are rejected at
//! decode with their reason, in the middle of a stream of good ones that
//! settle as `recompute` settles them; and a store that refuses one record's
//! rows for good has that record isolated and dead-lettered while the rest of
//! its batch is written and the member goes on.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use subsidy_bus::{header_str, BusConfig, Topics, TopicReader};
use subsidy_pipeline::aggregator::{Aggregator, AggregatorConfig, AggregatorReport, Limits};
use subsidy_pipeline::metrics::AggregatorMetrics;
use subsidy_store::{LedgerStore, SqliteStore};
use support::{recompute, TestStore};
use tokio_util::sync::CancellationToken;

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/golden")
}

fn golden_lines() -> Vec<String> {
    std::fs::read_to_string(golden_dir().join("records.jsonl")).unwrap().lines().filter(|l| !l.trim().is_empty()).map(str::to_string).collect()
}

/// Golden record r1 (E1, paid, eligible under v1) with some fields changed.
fn r1_with(changes: serde_json::Value) -> String {
    let mut v: serde_json::Value = serde_json::from_str(&golden_lines()[0]).unwrap();
    for (k, x) in changes.as_object().unwrap() {
        v[k] = x.clone();
    }
    v.to_string()
}

/// A fresh directory holding `lines` and the golden registry, where `recompute` reads them.
fn data(lines: &[String]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("records.jsonl"), lines.join("\n") + "\n").unwrap();
    for f in ["entities.json", "centers.json"] {
        std::fs::copy(golden_dir().join(f), dir.path().join(f)).unwrap();
    }
    dir
}

/// An in-process broker with the topics and the golden registry on them.
struct Bus {
    config: BusConfig,
    producer: FutureProducer,
    // Dropped last: the clients go before the broker.
    _mock: rdkafka::mocking::MockCluster<'static, rdkafka::producer::DefaultProducerContext>,
}

impl Bus {
    async fn start() -> Bus {
        let mock = rdkafka::mocking::MockCluster::new(1).unwrap();
        let config = BusConfig { brokers: mock.bootstrap_servers(), topics: Topics::default(), record_partitions: 4 };
        for spec in config.topic_specs() {
            mock.create_topic(&spec.name, spec.partitions, 1).unwrap();
        }
        let producer = subsidy_bus::idempotent_producer(&config.brokers).unwrap();
        let bus = Bus { config, producer, _mock: mock };
        let read_array = |f: &str| -> Vec<serde_json::Value> { serde_json::from_str(&std::fs::read_to_string(golden_dir().join(f)).unwrap()).unwrap() };
        let t = &bus.config.topics;
        for (topic, file, key) in [(&t.entities, "entities.json", "credit_code"), (&t.centers, "centers.json", "center_id")] {
            for item in read_array(file) {
                bus.send(topic, item[key].as_str(), &item.to_string()).await;
            }
        }
        bus
    }

    async fn send(&self, topic: &str, key: Option<&str>, payload: &str) {
        let mut record = FutureRecord::<str, str>::to(topic).payload(payload);
        if let Some(k) = key {
            record = record.key(k);
        }
        self.producer.send(record, Duration::from_secs(30)).await.map_err(|(e, _)| e).unwrap();
    }

    /// Produces record lines keyed by their record id, as the collector does.
    async fn send_records(&self, lines: &[String]) {
        for line in lines {
            let key = serde_json::from_str::<serde_json::Value>(line).ok().and_then(|v| v["record_id"].as_str().map(str::to_string));
            self.send(&self.config.topics.records, key.as_deref(), line).await;
        }
    }

    /// Runs one aggregator member of `group` until it has read everything and idled.
    async fn aggregate(&self, store: Arc<dyn LedgerStore>, metrics: &AggregatorMetrics, group: &str) -> AggregatorReport {
        let aggregator = Aggregator {
            store,
            producer: subsidy_bus::idempotent_producer(&self.config.brokers).unwrap(),
            bus: self.config.clone(),
            policy: subsidy_core::PolicyDocument::of(&subsidy_core::PolicySet::builtin()).unwrap(),
            metrics: metrics.clone(),
            config: AggregatorConfig {
                group: group.to_string(),
                exit_when_idle: Some(Duration::from_secs(1)),
                limits: Limits { rows: 1000, linger: Duration::from_millis(500), ..AggregatorConfig::default().limits },
                ..AggregatorConfig::default()
            },
        };
        let run = tokio::time::timeout(Duration::from_secs(120), aggregator.run(CancellationToken::new()));
        run.await.expect("the aggregator did not catch up and idle in 120 s").expect("the aggregator run failed")
    }

    /// Every dead letter: payload and headers.
    async fn dead_letters(&self) -> Vec<(String, HashMap<String, String>)> {
        use rdkafka::message::Message;
        let reader = TopicReader::connect(&self.config.brokers, &self.config.topics.dead_letter, Duration::from_secs(10)).await.unwrap();
        let mut out = Vec::new();
        reader
            .catch_up(Duration::from_secs(30), |m| {
                let headers = m.headers().map(|h| ["reason", "field", "detail", "stage"].iter().filter_map(|k| header_str(h, k).map(|v| (k.to_string(), v.to_string()))).collect()).unwrap_or_default();
                out.push((String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned(), headers));
            })
            .await
            .unwrap();
        out
    }
}

/// A fresh SQLite ledger in `dir`, migrated.
async fn sqlite(dir: &Path) -> (TestStore, Arc<dyn LedgerStore>) {
    let store = TestStore::sqlite(dir);
    let ledger = store.open().await;
    (store, ledger)
}

fn metrics() -> AggregatorMetrics {
    AggregatorMetrics::register(&prometheus::Registry::new())
}

/// `export` of the ledger equals `recompute` over `lines`.
fn assert_export_is_recompute(store: &TestStore, lines: &[String], when: &str) {
    let dir = data(lines);
    support::assert_same(&store.export(dir.path()), &recompute(dir.path()), when);
}

/// Records with usage times in 1960, 2200 and 9999 and amounts beyond the columns, in the
/// middle of the golden stream: each is rejected with its reason (the rejections table and
/// the counter agree with the core), everything else settles as `recompute` settles it, the
/// values just inside the bounds are written and read back, and the member goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_no_store_can_hold_are_rejected_and_the_stream_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let golden = golden_lines();
    let outside = [
        r1_with(json!({"record_id": "r-1960", "usage_start": "1960-01-01T08:00:00+08:00", "usage_end": "1960-01-01T18:00:00+08:00"})),
        r1_with(json!({"record_id": "r-2200", "usage_end": "2200-01-01T00:00:00+08:00"})),
        r1_with(json!({"record_id": "r-9999", "usage_end": "9999-12-31T23:59:59+08:00"})),
        r1_with(json!({"record_id": "r-start-1969", "usage_start": "1969-12-31T23:59:59Z"})),
        r1_with(json!({"record_id": "r-amount", "amount": "1000000000000.01", "paid_amount": "1.00"})),
        r1_with(json!({"record_id": "r-paid", "amount": "100000000000000.00", "paid_amount": "100000000000000.00"})),
    ];
    // Just inside: the last instant a ledger holds (under no policy version) and the largest amount.
    let inside = [
        r1_with(json!({"record_id": "r-last-second", "usage_end": "2105-12-31T23:59:59+08:00"})),
        r1_with(json!({"record_id": "r-first-second", "usage_start": "1970-01-01T00:00:00Z"})),
        r1_with(json!({"record_id": "r-largest", "amount": "1000000000000.00", "paid_amount": "1000000000000.00"})),
    ];
    let mid = golden.len() / 2;
    let lines: Vec<String> = golden[..mid].iter().chain(&outside).chain(&inside).chain(&golden[mid..]).cloned().collect();
    let bus = Bus::start().await;
    bus.send_records(&lines).await;
    let (store, ledger) = sqlite(dir.path()).await;
    let m = metrics();
    let report = bus.aggregate(ledger.clone(), &m, "range").await;
    assert_eq!(report.consumed, lines.len() as u64);
    assert_export_is_recompute(&store, &lines, "with records no store can hold");

    // Every refused line is in the rejections table, and counted, with the reason the core gives it.
    let mut expected: BTreeMap<String, u64> = BTreeMap::new();
    for l in &lines {
        if let Err(r) = subsidy_core::parse_record(l.as_bytes()) {
            *expected.entry(r.reason.as_str().to_string()).or_default() += 1;
        }
    }
    assert_eq!(expected.get("out_of_range"), Some(&5), "golden line 46 and four here: {expected:?}");
    assert_eq!(expected.get("invalid_amount"), Some(&3), "golden line 23 and two here: {expected:?}");
    let stored: BTreeMap<String, u64> = ledger.rejection_counts().await.unwrap().into_iter().collect();
    assert_eq!(stored, expected, "rejections in the store");
    for (reason, n) in &expected {
        assert_eq!(m.unreadable_lines.with_label_values(&[reason.as_str()]).get(), *n, "{reason}");
    }
    let refused: u64 = ["rejected", "corrupt", "conflict"].iter().map(|k| m.store_refused.with_label_values(&[k]).get()).sum();
    assert_eq!(refused, 0, "nothing the store could not hold reached it");
    let e1 = subsidy_core::CreditCode::parse("91340100MA0000001K").unwrap();
    let kept: Vec<String> = ledger.entity_lines(&e1, None).await.unwrap().into_iter().map(|l| l.record_id).filter(|id| id.starts_with("r-")).collect();
    assert_eq!(kept.len(), inside.len(), "the lines just inside the bounds are in the ledger: {kept:?}");

    // The member goes on: a record produced now is read by the next run and settled.
    let later = r1_with(json!({"record_id": "r-later", "usage_end": "2025-09-15T12:00:00+08:00"}));
    bus.send_records(std::slice::from_ref(&later)).await;
    let all: Vec<String> = lines.iter().chain([&later]).cloned().collect();
    let again = bus.aggregate(ledger.clone(), &m, "range").await;
    assert_eq!(again.consumed, 1, "only the new record is read again: the offsets were committed");
    assert_export_is_recompute(&store, &all, "after a record produced later");
}

/// A SQLite ledger whose trigger refuses the copies of one record id for good.
fn refuse_record(path: &Path, record_id: &str) {
    let sql = format!("CREATE TRIGGER refuse_one BEFORE INSERT ON record_copies WHEN NEW.record_id = '{record_id}' BEGIN SELECT RAISE(ABORT, 'this ledger refuses {record_id}'); END;");
    rusqlite::Connection::open(path).unwrap().execute_batch(&sql).unwrap();
}

/// A store that refuses one record's rows for good: the batch is written in parts until that
/// record stands alone; it goes to the dead-letter topic with the store's words and is
/// counted; every other record is written; the offsets are committed (the record is not read
/// and refused again) and the member goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_the_store_refuses_is_dead_lettered_and_the_rest_written() {
    let dir = tempfile::tempdir().unwrap();
    let golden = golden_lines();
    let refused = r1_with(json!({"record_id": "r-refused"}));
    let mid = golden.len() / 2;
    let lines: Vec<String> = golden[..mid].iter().chain([&refused]).chain(&golden[mid..]).cloned().collect();
    let bus = Bus::start().await;
    bus.send_records(&lines).await;
    let (store, ledger) = sqlite(dir.path()).await;
    let TestStore::Sqlite(path) = &store else { unreachable!("a SQLite test store") };
    refuse_record(path, "r-refused");

    let m = metrics();
    let report = bus.aggregate(ledger.clone(), &m, "refuse").await;
    assert_eq!(report.consumed, lines.len() as u64);
    // Everything but the refused record settles as recompute settles the golden set.
    assert_export_is_recompute(&store, &golden, "with one record refused");
    assert_eq!(m.store_refused.with_label_values(&["rejected"]).get(), 1);
    assert!(m.store_errors.with_label_values(&["rejected"]).get() >= 2, "the whole batch, then its parts down to the record");
    let copies = ledger.copies_of(&["r-refused".to_string()]).await.unwrap();
    assert!(copies.is_empty(), "{copies:?}");
    let rejected: u64 = ledger.rejection_counts().await.unwrap().iter().map(|(_, n)| n).sum();
    let golden_rejected = golden.iter().filter(|l| subsidy_core::parse_record(l.as_bytes()).is_err()).count() as u64;
    assert_eq!(rejected, golden_rejected, "the batch's rejection rows were written");

    let refusals: Vec<(String, HashMap<String, String>)> = bus.dead_letters().await.into_iter().filter(|(_, h)| h.get("reason").map(String::as_str) == Some(subsidy_bus::STORE_REFUSED)).collect();
    assert_eq!(refusals.len(), 1, "{refusals:?}");
    let (payload, headers) = &refusals[0];
    assert_eq!(payload, &refused);
    assert!(headers["detail"].contains("r-refused") && headers["detail"].contains("this ledger refuses r-refused"), "{headers:?}");
    assert_eq!(headers["stage"], "aggregator");

    // The member goes on, and the refused record is not read again.
    let later = r1_with(json!({"record_id": "r-later", "usage_end": "2025-09-15T12:00:00+08:00"}));
    bus.send_records(std::slice::from_ref(&later)).await;
    let again = bus.aggregate(ledger.clone(), &m, "refuse").await;
    assert_eq!(again.consumed, 1, "only the new record is read: the offsets of the refused batch were committed");
    assert_export_is_recompute(&store, &golden.iter().chain([&later]).cloned().collect::<Vec<_>>(), "after a record produced later");
    assert_eq!(m.store_refused.with_label_values(&["rejected"]).get(), 1);
    let store_refusals = bus.dead_letters().await.iter().filter(|(_, h)| h.get("reason").map(String::as_str) == Some(subsidy_bus::STORE_REFUSED)).count();
    assert_eq!(store_refusals, 1);
}

/// A store that refuses the copies of every record refuses writes, not particular records:
/// nothing is dead-lettered, nothing is written past the refusal, and the run fails as a
/// whole, to meet the batch again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_refusing_every_record_stops_the_run_and_dead_letters_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let golden = golden_lines();
    let bus = Bus::start().await;
    bus.send_records(&golden).await;
    let (store, _) = sqlite(dir.path()).await;
    let TestStore::Sqlite(path) = &store else { unreachable!("a SQLite test store") };
    rusqlite::Connection::open(path).unwrap().execute_batch("CREATE TRIGGER refuse_all BEFORE INSERT ON record_copies BEGIN SELECT RAISE(ABORT, 'read-only ledger'); END;").unwrap();
    let ledger: Arc<dyn LedgerStore> = Arc::new(SqliteStore::open(path).unwrap());
    let aggregator = Aggregator {
        store: ledger.clone(),
        producer: subsidy_bus::idempotent_producer(&bus.config.brokers).unwrap(),
        bus: bus.config.clone(),
        policy: subsidy_core::PolicyDocument::of(&subsidy_core::PolicySet::builtin()).unwrap(),
        metrics: metrics(),
        config: AggregatorConfig { group: "all".into(), exit_when_idle: Some(Duration::from_secs(1)), ..AggregatorConfig::default() },
    };
    let outcome = tokio::time::timeout(Duration::from_secs(120), aggregator.run(CancellationToken::new())).await.expect("the run did not end in 120 s");
    let err = outcome.expect_err("a store that refuses every write stops the run");
    assert!(err.to_string().contains("read-only ledger"), "{err}");
    assert!(!err.is_retryable());
    let refusals = bus.dead_letters().await.iter().filter(|(_, h)| h.get("reason").map(String::as_str) == Some(subsidy_bus::STORE_REFUSED)).count();
    assert_eq!(refusals, 0);
    assert!(ledger.line_sums().await.unwrap().is_empty());
}
