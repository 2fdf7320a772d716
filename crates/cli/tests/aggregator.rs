//! The aggregator against the real broker and the real ClickHouse: `export`
//! equals `recompute` over the same records, byte for byte — through SIGKILLs
//! at random points, a full redelivery, and two members sharing the topic
//! while one dies; and the ledger's change log, folded from its start, equals
//! the lines summed whole after each.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use rand::Rng;
use std::time::Duration;
use subsidy_platform::generate::{generate, GenConfig};
use subsidy_platform::server::{spawn, SimConfig, SimState};
use subsidy_store::LedgerStore;
use support::*;

const TOKEN: &str = "test-token";

/// Eligible records in the ledger so far.
async fn settled_records(store: &subsidy_store::ClickHouseStore) -> u64 {
    store.line_sums().await.map(|s| s.iter().filter(|a| a.reason.is_none()).map(|a| a.records).sum()).unwrap_or(0)
}

/// The ledger's change log folded from its start equals the lines summed whole: what the
/// aggregator said each line replaced held (through kills, redeliveries, a member's death).
async fn assert_log_folds_to_the_lines(store: &subsidy_store::ClickHouseStore, what: &str) {
    let (mut sums, mut mark) = (subsidy_store::LedgerSums::default(), subsidy_store::ChangeMark::default());
    let whole = subsidy_store::fold_changes(store, &mut sums, &mut mark, 100_000, &mut |_| {}).await.unwrap();
    assert!(whole, "ClickHouse keeps a change log");
    let whole = store.ledger_base().await.unwrap().expect("a base read");
    assert_eq!(whole.mark, mark, "{what}: nothing is written any more");
    assert_eq!(sums.differing_keys(&whole.sums), 0, "{what}: the folded log differs from the lines summed whole");
    assert!(!sums.is_negative() && sums.keys() > 0, "{what}: a fold of a real ledger");
}

/// Serves a generated data set, collects it into fresh topics and writes the files for `recompute`.
async fn collected(records: usize, seed: u64, dir: &std::path::Path) -> String {
    let generated = generate(&GenConfig { seed, records, ..GenConfig::default() }).unwrap();
    generated.dataset.write_files(dir).unwrap();
    let sim = spawn(SimState::new(generated.dataset, SimConfig::new(TOKEN)).unwrap()).await.unwrap();
    let prefix = unique("agg");
    let url = sim.base_url();
    let p = prefix.clone();
    tokio::task::spawn_blocking(move || collect_all(&p, &url, TOKEN)).await.unwrap();
    prefix
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_equals_recompute_through_kills_and_redelivery() {
    require_broker().await;
    let dir = tempfile::tempdir().unwrap();
    let prefix = collected(30_000, 21, dir.path()).await;
    let db = unique("agg_kill").replace('-', "_");
    let (g1, g2) = (unique("g1"), unique("g2"));
    let store = clickhouse(&db).await;
    let expected = recompute(dir.path());
    assert!(expected.lines().count() > 500, "too few settlements to be a test");

    // Killed with SIGKILL three times, each at a random point once it has written something.
    let mut rng = rand::rng();
    for _ in 0..3 {
        let before = settled_records(&store).await;
        let mut child = spawn_aggregate(&prefix, &db, &g1, &["--batch-rows", "200", "--batch-linger-ms", "50", "--session-timeout-ms", "6000", "--max-poll-interval-ms", "15000"]);
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        while settled_records(&store).await == before {
            if let Some(status) = child.try_status() {
                child.fail(&format!("ended ({status}) before writing anything"));
            }
            if std::time::Instant::now() >= deadline {
                child.fail("wrote nothing in 120 s");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..1500))).await;
        child.kill();
    }
    // Then run to the end.
    let stderr = spawn_aggregate(&prefix, &db, &g1, &["--exit-when-idle-secs", "4", "--session-timeout-ms", "6000", "--max-poll-interval-ms", "15000"]).finish();
    assert!(stderr.contains("aggregate: "), "{stderr}");
    assert_same(&export(&db, dir.path()), &expected, "after kills");
    assert_log_folds_to_the_lines(&store, "after kills").await;

    // A whole redelivery (a new group reads everything again) changes nothing.
    spawn_aggregate(&prefix, &db, &g2, &["--exit-when-idle-secs", "4", "--batch-rows", "3000"]).finish();
    assert_same(&export(&db, dir.path()), &expected, "after a redelivery");
    assert_log_folds_to_the_lines(&store, "after a redelivery").await;
    store.drop_database().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_members_share_the_topic_and_one_dies() {
    require_broker().await;
    let dir = tempfile::tempdir().unwrap();
    let prefix = collected(30_000, 33, dir.path()).await;
    let db = unique("agg_pair").replace('-', "_");
    let store = clickhouse(&db).await;
    let expected = recompute(dir.path());
    let group = unique("pair");
    let slow = ["--batch-rows", "100", "--batch-linger-ms", "20", "--session-timeout-ms", "6000", "--max-poll-interval-ms", "15000"];
    // The first member takes every partition and works through them slowly.
    let doomed = spawn_aggregate(&prefix, &db, &group, &slow);
    tokio::time::sleep(Duration::from_secs(4)).await;
    // The second joins and gets its share; then the first dies with work left.
    let addr = free_addr();
    let survivor = spawn_aggregate(&prefix, &db, &group, &[&slow[..], &["--exit-when-idle-secs", "4", "--metrics-addr", &addr]].concat());
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while scrape_metric(&addr, "subsidy_aggregator_partitions_owned").await < 1.0 {
        if std::time::Instant::now() >= deadline {
            drop(doomed);
            survivor.fail("got no partition in 120 s");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let doomed_log = doomed.kill();
    let log = survivor.finish();
    assert!(doomed_log.contains("partitions assigned"), "the first member never got partitions");
    let assigned: Vec<&str> = log.lines().filter(|l| l.contains("partitions assigned")).collect();
    assert!(assigned.len() >= 2, "the survivor was not reassigned after the death: {assigned:?}");
    // It ended up owning every partition (the topic has 8).
    assert!(assigned.last().is_some_and(|l| l.contains("=8")), "the survivor did not take over every partition: {assigned:?}");
    assert_same(&export(&db, dir.path()), &expected, "after a member died");
    assert_log_folds_to_the_lines(&store, "after a member died").await;
    store.drop_database().await.unwrap();
}

/// The value of one sample (`name{labels}`) on a `/metrics` page, 0 when absent.
fn sample(page: &str, name_and_labels: &str) -> f64 {
    page.lines().find_map(|l| l.strip_prefix(name_and_labels)?.trim().parse().ok()).unwrap_or(0.0)
}

/// A registry tombstone (the entity's key with no payload) removes the entity: its lines
/// are re-settled as `unknown_entity`, the store's registry no longer lists it, and the
/// aggregator's `/metrics` agree with the store. A registry message that is not JSON is
/// refused and counted by its reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_tombstone_removes_the_entity_and_holds_its_lines() {
    use rdkafka::producer::{FutureProducer, FutureRecord};
    use subsidy_core::{CreditCode, ReasonClass, ReasonCode};
    require_broker().await;
    let prefix = unique("tomb");
    let name = |t: &str| format!("{prefix}.{t}");
    let topics = subsidy_bus::Topics { records: name("records"), entities: name("entities"), centers: name("centers"), dead_letter: name("dead-letter"), checkpoints: name("checkpoints"), funded_elsewhere: name("funded-elsewhere"), supplier_claims: name("supplier-claims"), usage_counts: name("usage-counts") };
    let bus = subsidy_bus::BusConfig { brokers: brokers(), topics, record_partitions: 8 };
    subsidy_bus::ensure_topics(&bus.brokers, &bus.topic_specs(), Duration::from_secs(30)).await.unwrap();
    let producer: FutureProducer = subsidy_bus::client_config(&bus.brokers).create().unwrap();
    let send = |topic: String, key: Option<String>, payload: Option<String>| {
        let producer = producer.clone();
        async move {
            let mut record = FutureRecord::<String, String>::to(&topic);
            if let Some(k) = &key {
                record = record.key(k);
            }
            if let Some(p) = &payload {
                record = record.payload(p);
            }
            producer.send(record, Duration::from_secs(30)).await.map_err(|(e, _)| e).unwrap();
        }
    };
    let golden = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/golden");
    let read_array = |f: &str| -> Vec<serde_json::Value> { serde_json::from_str(&std::fs::read_to_string(golden.join(f)).unwrap()).unwrap() };
    for e in read_array("entities.json") {
        send(bus.topics.entities.clone(), Some(e["credit_code"].as_str().unwrap().to_string()), Some(e.to_string())).await;
    }
    for c in read_array("centers.json") {
        send(bus.topics.centers.clone(), Some(c["center_id"].as_str().unwrap().to_string()), Some(c.to_string())).await;
    }
    send(bus.topics.entities.clone(), Some("91340100MA0000001K".into()), Some("{not json".into())).await;
    let records = std::fs::read_to_string(golden.join("records.jsonl")).unwrap();
    for line in records.lines().filter(|l| !l.trim().is_empty()) {
        let key = serde_json::from_str::<serde_json::Value>(line).ok().and_then(|v| v["record_id"].as_str().map(str::to_string));
        send(bus.topics.records.clone(), key, Some(line.to_string())).await;
    }

    let store = TestStore::clickhouse("agg_tomb");
    let ledger = store.open().await;
    let addr = free_addr();
    let member = spawn_aggregate_on(&prefix, &store, &unique("tomb"), &["--batch-linger-ms", "50", "--metrics-addr", &addr]);
    let code = CreditCode::parse("91340100MA0000001K").unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let produced = records.lines().filter(|l| !l.trim().is_empty()).count() as f64;
    let lines = loop {
        let lines = ledger.entity_lines(&code, None).await.unwrap_or_default();
        let consumed = scrape_metric(&addr, "subsidy_aggregator_messages_consumed_total").await;
        if consumed >= produced && !lines.is_empty() && ledger.registry().await.is_ok_and(|r| r.registry().entity(&code).is_some()) {
            break lines;
        }
        assert!(std::time::Instant::now() < deadline, "the records were not settled in 120 s ({consumed} of {produced} consumed): {lines:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(lines.iter().any(|l| l.reason.is_none()), "the entity has eligible lines before its tombstone: {lines:?}");
    let page = scrape(&addr).await;
    assert_eq!(sample(&page, r#"subsidy_aggregator_registry_refused_total{reason="malformed",source="entities"}"#), 1.0, "{page}");
    assert_eq!(sample(&page, r#"subsidy_aggregator_registry_removed_total{source="entities"}"#), 0.0);

    send(bus.topics.entities.clone(), Some(code.as_str().to_string()), None).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let now = ledger.entity_lines(&code, None).await.unwrap_or_default();
        // A line standing as a revision conflict stays one: the conflict is judged before the registry.
        let (conflicts, judged): (Vec<_>, Vec<_>) = now.iter().partition(|l| l.conflict);
        if now.len() == lines.len() && judged.iter().all(|l| l.reason == Some(ReasonCode::UnknownEntity)) && conflicts.iter().all(|l| l.reason == Some(ReasonCode::RevisionConflict)) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the tombstone did not re-settle the entity's lines in 120 s: {now:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(ledger.registry().await.unwrap().registry().entity(&code).is_none(), "the store's registry still lists the removed entity");
    let held_in_store: u64 = ledger.line_sums().await.unwrap().iter().filter(|s| s.reason.is_some_and(|r| r.class() == ReasonClass::Held)).map(|s| s.records).sum();
    let judged = lines.iter().filter(|l| !l.conflict).count();
    assert!(judged > 0 && held_in_store >= judged as u64, "{held_in_store} lines held in the store, {judged} of the removed entity's");
    // The counters move after the store's write they count: wait for them as for the lines.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let page = loop {
        let page = scrape(&addr).await;
        let (held, resettled) = (sample(&page, "subsidy_aggregator_held_lines") as u64, sample(&page, "subsidy_aggregator_lines_resettled_total"));
        if held == held_in_store && resettled >= judged as f64 {
            break page;
        }
        assert!(std::time::Instant::now() < deadline, "/metrics shows {held} lines held ({held_in_store} in the store) and {resettled} re-settled (at least {judged} expected)");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(sample(&page, r#"subsidy_aggregator_registry_removed_total{source="entities"}"#), 1.0, "{page}");
    member.kill();
    store.drop().await;
}

/// Sends keyed messages (a `None` payload is a tombstone) to the test's topics.
struct Sender {
    producer: rdkafka::producer::FutureProducer,
}

impl Sender {
    async fn topics(prefix: &str) -> (Sender, subsidy_bus::Topics) {
        let name = |t: &str| format!("{prefix}.{t}");
        let topics = subsidy_bus::Topics { records: name("records"), entities: name("entities"), centers: name("centers"), dead_letter: name("dead-letter"), checkpoints: name("checkpoints"), funded_elsewhere: name("funded-elsewhere"), supplier_claims: name("supplier-claims"), usage_counts: name("usage-counts") };
        let bus = subsidy_bus::BusConfig { brokers: brokers(), topics: topics.clone(), record_partitions: 4 };
        subsidy_bus::ensure_topics(&bus.brokers, &bus.topic_specs(), Duration::from_secs(30)).await.unwrap();
        (Sender { producer: subsidy_bus::client_config(&bus.brokers).create().unwrap() }, topics)
    }

    async fn send(&self, topic: &str, key: &str, payload: &str) {
        let record = rdkafka::producer::FutureRecord::<str, str>::to(topic).key(key).payload(payload);
        self.producer.send(record, Duration::from_secs(30)).await.map_err(|(e, _)| e).unwrap();
    }
}

/// Waits until the entity's lines are `want`: per record id, the uplift it stands at.
async fn await_uplifts(ledger: &dyn LedgerStore, code: &subsidy_core::CreditCode, want: &[(&str, &str)]) {
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let lines = ledger.entity_lines(code, None).await.unwrap_or_default();
        let got: Vec<(String, String)> = lines.iter().map(|l| (l.record_id.clone(), l.uplift.normalize().to_string())).collect();
        if got.len() == want.len() && got.iter().zip(want).all(|(g, w)| g.0 == w.0 && g.1 == w.1) && lines.iter().all(|l| l.reason.is_none()) {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "the lines did not reach {want:?} in 120 s: {lines:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The statement lines of a `statements` CSV as (payout month, month, kind, subsidy).
fn statement_lines(csv: &str, code: &str) -> Vec<(String, String, String, String)> {
    csv.lines().skip(1).map(|l| l.split(',').collect::<Vec<_>>()).filter(|f| f[0] == code).map(|f| (f[1].into(), f[2].into(), f[3].into(), f[5].into())).collect()
}

/// An entity re-registers in 阜阳市 from a day inside an open month, after earlier months
/// closed: the closed months keep 20% with no adjustment, its usage from that day on gets
/// 24%. Then a correction of its undated entry (no new day) moves every earlier day too:
/// every month is re-settled and the closed ones get their differences as adjustments.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_move_to_fuyang_pays_24_percent_from_its_day_and_a_correction_adjusts_every_month() {
    require_broker().await;
    let prefix = unique("asof");
    let (sender, topics) = Sender::topics(&prefix).await;
    let golden = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/golden");
    let read_array = |f: &str| -> Vec<serde_json::Value> { serde_json::from_str(&std::fs::read_to_string(golden.join(f)).unwrap()).unwrap() };
    let user = "91340100MA0000001K";
    let entities = read_array("entities.json");
    let undated = entities.iter().find(|e| e["credit_code"] == user).unwrap().clone();
    assert_eq!(undated["city"], "合肥市");
    for e in &entities {
        sender.send(&topics.entities, e["credit_code"].as_str().unwrap(), &e.to_string()).await;
    }
    for c in read_array("centers.json") {
        sender.send(&topics.centers, c["center_id"].as_str().unwrap(), &c.to_string()).await;
    }
    let record = |id: &str, end: &str| {
        serde_json::json!({"record_id": id, "revision": 1, "user_credit_code": user, "center_id": "C1", "accelerator": "Ascend-910B", "cards": 8,
            "card_hours": "10", "usage_start": "2025-09-01T00:00:00+08:00", "usage_end": end, "updated_at": "2025-12-01T00:00:00+08:00",
            "unit_price": "100", "amount": "1000.00", "paid_amount": "1000.00", "payment_status": "paid", "currency": "CNY"})
        .to_string()
    };
    for (id, end) in [("m1", "2025-09-10T12:00:00+08:00"), ("m2", "2025-10-05T12:00:00+08:00"), ("m3", "2025-11-05T12:00:00+08:00"), ("m4", "2025-11-20T12:00:00+08:00")] {
        sender.send(&topics.records, id, &record(id, end)).await;
    }
    let dir = tempfile::tempdir().unwrap();
    let store = TestStore::sqlite(dir.path());
    let ledger = store.open().await;
    let member = spawn_aggregate_on(&prefix, &store, &unique("asof"), &["--batch-linger-ms", "50"]);
    let code = subsidy_core::CreditCode::parse(user).unwrap();
    await_uplifts(ledger.as_ref(), &code, &[("m1", "1"), ("m2", "1"), ("m3", "1"), ("m4", "1")]).await;
    for month in ["2025-09", "2025-10"] {
        let o = store.run(&["close", "--period", month]);
        assert!(o.status.success(), "close {month}: {}", String::from_utf8_lossy(&o.stderr));
    }

    // The move: a dated entry, keyed by credit code and day, inside the open November.
    let mut moved = undated.clone();
    moved["city"] = "阜阳市".into();
    moved["valid_from"] = "2025-11-15".into();
    sender.send(&topics.entities, &format!("{user}@2025-11-15"), &moved.to_string()).await;
    await_uplifts(ledger.as_ref(), &code, &[("m1", "1"), ("m2", "1"), ("m3", "1"), ("m4", "1.2")]).await;
    let line = ledger.entity_lines(&code, None).await.unwrap().into_iter().find(|l| l.record_id == "m4").unwrap();
    assert_eq!(line.entity_entry.map(|d| d.to_string()).as_deref(), Some("2025-11-15"), "the line names the entry it was judged by");
    let o = store.run(&["close", "--period", "2025-11"]);
    assert!(o.status.success(), "close 2025-11: {}", String::from_utf8_lossy(&o.stderr));
    let s = |p: &str, f: &str, k: &str, v: &str| (p.to_string(), f.to_string(), k.to_string(), v.to_string());
    let want = vec![s("2025-09", "2025-09", "settled", "200.00"), s("2025-10", "2025-10", "settled", "200.00"), s("2025-11", "2025-11", "settled", "440.00")];
    assert_eq!(statement_lines(&store.statements(dir.path()), user), want, "months before the day keep 20%, with no adjustment");

    // The correction: the undated entry again, now in 阜阳市; every day is 阜阳 from the start.
    let mut corrected = undated.clone();
    corrected["city"] = "阜阳市".into();
    sender.send(&topics.entities, user, &corrected.to_string()).await;
    await_uplifts(ledger.as_ref(), &code, &[("m1", "1.2"), ("m2", "1.2"), ("m3", "1.2"), ("m4", "1.2")]).await;
    let o = store.run(&["close", "--period", "2025-12"]);
    assert!(o.status.success(), "close 2025-12: {}", String::from_utf8_lossy(&o.stderr));
    let mut want = want;
    want.extend([s("2025-12", "2025-09", "adjustment", "40.00"), s("2025-12", "2025-10", "adjustment", "40.00"), s("2025-12", "2025-11", "adjustment", "40.00")]);
    let mut got = statement_lines(&store.statements(dir.path()), user);
    got.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    want.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    assert_eq!(got, want, "a correction re-settles every month and books the differences");
    member.kill();
}

/// Waits until `export` of the store is `want`.
fn await_export(store: &TestStore, dir: &std::path::Path, want: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let got = store.export(dir);
        if got == want {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "export did not reach\n{want}in 120 s; it is\n{got}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// The double-funding golden set (`tests/golden/funding`) through the pipeline: the lists
/// arrive on their compacted topics like the registry, the ledger equals the hand-worked
/// table (and `recompute` with the same lists as files), each excluded line keeps its
/// reason, and withdrawing an entry (a tombstone) re-settles the line it named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn double_funding_through_the_pipeline_equals_the_hand_worked_table() {
    require_broker().await;
    let prefix = unique("funding");
    let (sender, topics) = Sender::topics(&prefix).await;
    let golden = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/golden/funding");
    let read_array = |f: &str| -> Vec<serde_json::Value> { serde_json::from_str(&std::fs::read_to_string(golden.join(f)).unwrap()).unwrap() };
    for e in read_array("entities.json") {
        sender.send(&topics.entities, e["credit_code"].as_str().unwrap(), &e.to_string()).await;
    }
    for c in read_array("centers.json") {
        sender.send(&topics.centers, c["center_id"].as_str().unwrap(), &c.to_string()).await;
    }
    // The bureau imports its CSV list; a list with a bad entry is refused whole and produces nothing.
    let bad = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(bad.path(), "scheme,record_id\nhefei-voucher-2026,f3\n,f2\n").unwrap();
    let o = meter().args(["funding", "import"]).arg(bad.path()).args(topic_args(&prefix)).output().unwrap();
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("item 1: missing_field"), "{}", String::from_utf8_lossy(&o.stderr));
    let o = meter().args(["funding", "import"]).arg(golden.join("funded_elsewhere.csv")).args(topic_args(&prefix)).output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success() && stderr.contains("4 entries produced") && stderr.contains("item 2 repeats item 1"), "{stderr}");
    for c in read_array("supplier_claims.json") {
        let key = format!("{}|{}", c["record_id"].as_str().unwrap(), c["supplier_credit_code"].as_str().unwrap());
        sender.send(&topics.supplier_claims, &key, &c.to_string()).await;
    }
    for line in std::fs::read_to_string(golden.join("records.jsonl")).unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        sender.send(&topics.records, v["record_id"].as_str().unwrap(), line).await;
    }
    let dir = tempfile::tempdir().unwrap();
    let store = TestStore::sqlite(dir.path());
    let ledger = store.open().await;
    let member = spawn_aggregate_on(&prefix, &store, &unique("funding"), &["--batch-linger-ms", "50"]);
    await_export(&store, dir.path(), &std::fs::read_to_string(golden.join("expected_settlements.csv")).unwrap());
    let u1 = subsidy_core::CreditCode::parse("91340100MA0000001K").unwrap();
    let reasons: Vec<(String, Option<&str>)> = ledger.entity_lines(&u1, None).await.unwrap().iter().map(|l| (l.record_id.clone(), l.reason.map(|r| r.as_str()))).collect();
    let want = [("f1", Some("subsidized_elsewhere")), ("f2", Some("claimed_by_supplier")), ("f3", None)];
    assert_eq!(reasons, want.map(|(id, r)| (id.to_string(), r)));
    // The lists are stored with the registry, where the API reads what each exclusion names.
    let claims = read_array("supplier_claims.json").len();
    await_lists(ledger.as_ref(), "the imported lists", |r| r.funded.len() == 4 && r.claims.len() == claims).await;

    // fuyang-2026 withdraws f5: its line is settled again, and U2 gets 550.50 × 0.24 = 132.12.
    let withdrawn = rdkafka::producer::FutureRecord::<str, str>::to(&topics.funded_elsewhere).key("fuyang-2026|record:f5");
    sender.producer.send(withdrawn, Duration::from_secs(30)).await.map_err(|(e, _)| e).unwrap();
    let expected = std::fs::read_to_string(golden.join("expected_settlements.csv")).unwrap().replace("12341200000000002A,2026-03,2,450.50,108.12", "12341200000000002A,2026-03,3,550.50,132.12");
    await_export(&store, dir.path(), &expected);
    let f5 = subsidy_core::FundedTarget::Record("f5".into());
    await_lists(ledger.as_ref(), "f5 withdrawn", |r| r.funded.len() == 3 && r.funded.iter().all(|f| f.target != f5)).await;
    member.kill();
}

/// Waits until the registry the store holds satisfies `done`.
async fn await_lists(ledger: &dyn subsidy_store::LedgerStore, what: &str, done: impl Fn(&subsidy_store::RegistryRows) -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let rows = ledger.registry().await.unwrap();
        if done(&rows) {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "{what}: the stored lists are {:?} and {:?} after 60 s", rows.funded, rows.claims);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
