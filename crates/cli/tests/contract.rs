//! The settlement contract end to end, on the real broker with ClickHouse and
//! with the embedded SQLite ledger: the ledger is a function of the final
//! records and registry, and closed months pay to the fen.
//!
//! Each scenario serves the golden data set in stages from the platform
//! simulator, collects and aggregates each stage, closes months in between,
//! and changes the registry where the case needs it. After each:
//! `export` equals `recompute` over what was served, no closed month's
//! statement lines moved, and once the next month closes, what statements
//! fixed for every entity and closed month equals `recompute`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use subsidy_core::{ReasonClass, ReasonCode};
use subsidy_platform::dataset::Dataset;
use subsidy_platform::server::{spawn, Release, RunningSim, SimConfig, SimState};
use support::*;

const TOKEN: &str = "test-token";

fn golden() -> Dataset {
    Dataset::from_dir(&std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/golden")).unwrap()
}

/// The golden line of `record_id`'s revision, the `nth` copy of it.
fn line(data: &Dataset, record_id: &str, revision: u32, nth: usize) -> String {
    data.records
        .iter()
        .filter(|l| serde_json::from_str::<serde_json::Value>(l).is_ok_and(|v| v["record_id"] == record_id && v["revision"] == revision))
        .nth(nth)
        .unwrap_or_else(|| panic!("golden has no copy {nth} of {record_id} revision {revision}"))
        .clone()
}

/// The golden lines without the given ones, in file order.
fn without(data: &Dataset, held_back: &[&String]) -> Vec<String> {
    let mut lines = data.records.clone();
    for h in held_back {
        let i = lines.iter().position(|l| l == *h).unwrap_or_else(|| panic!("not a golden line: {h}"));
        lines.remove(i);
    }
    lines
}

/// One staged run: the simulator, the topics, the store and what was fixed so far.
struct Scenario {
    dir: tempfile::TempDir,
    store: TestStore,
    prefix: String,
    group: String,
    sim: SimState,
    server: RunningSim,
    records: Vec<String>,
    released: usize,
    entities: Vec<serde_json::Value>,
    centers: Vec<serde_json::Value>,
    /// Statement lines seen after the last close: later closes only add to them.
    booked: Vec<String>,
}

impl Scenario {
    /// Serves `records[..initial]` first; `store` is `"clickhouse"` or `"sqlite"`.
    async fn new(store: &str, records: Vec<String>, initial: usize, entities: Vec<serde_json::Value>, centers: Vec<serde_json::Value>) -> Scenario {
        require_broker().await;
        let dir = tempfile::tempdir().unwrap();
        let store = match store {
            "clickhouse" => TestStore::clickhouse("contract"),
            _ => TestStore::sqlite(dir.path()),
        };
        store.open().await;
        let data = Dataset { records: records.clone(), entities: entities.clone(), centers: centers.clone() };
        let sim = SimState::new(data, SimConfig { release: Release::Manual { initial }, ..SimConfig::new(TOKEN) }).unwrap();
        let server = spawn(sim.clone()).await.unwrap();
        Scenario { dir, store, prefix: unique("contract"), group: unique("contract"), sim, server, records, released: initial, entities, centers, booked: Vec::new() }
    }

    async fn collect(&self) {
        let (p, u) = (self.prefix.clone(), self.server.base_url());
        tokio::task::spawn_blocking(move || collect_all(&p, &u, TOKEN)).await.unwrap();
    }

    /// Collects what the simulator serves, then aggregates it with one run.
    async fn stage(&self) {
        self.collect().await;
        self.aggregate().await;
    }

    /// One aggregator run to the end of what was collected.
    async fn aggregate(&self) {
        let child = spawn_aggregate_on(&self.prefix, &self.store, &self.group, &["--exit-when-idle-secs", "3", "--batch-linger-ms", "50"]);
        tokio::task::spawn_blocking(move || child.finish()).await.unwrap();
    }

    /// A long-running aggregator member.
    fn member(&self) -> Proc {
        self.member_at(&free_addr())
    }

    /// A member serving its metrics at `addr`.
    fn member_at(&self, addr: &str) -> Proc {
        spawn_aggregate_on(&self.prefix, &self.store, &self.group, &["--metrics-addr", addr, "--batch-rows", "5", "--batch-linger-ms", "20", "--session-timeout-ms", "6000", "--max-poll-interval-ms", "15000"])
    }

    fn release_all(&mut self) {
        self.released = self.records.len();
        self.sim.release_to(self.released);
    }

    fn set_registry(&mut self, entities: Vec<serde_json::Value>, centers: Vec<serde_json::Value>) {
        self.sim.replace_registry(&entities, &centers);
        self.entities = entities;
        self.centers = centers;
    }

    /// A directory with the files of what the simulator serves now.
    fn served(&self) -> std::path::PathBuf {
        let data = self.dir.path().join(unique("served"));
        std::fs::create_dir_all(&data).unwrap();
        let served = Dataset { records: self.records[..self.released].to_vec(), entities: self.entities.clone(), centers: self.centers.clone() };
        served.write_files(&data).unwrap();
        data
    }

    /// `recompute` over what the simulator serves now.
    fn recompute(&self) -> String {
        recompute(&self.served())
    }

    /// Of `recompute`'s exclusions, the lines it keeps that earn nothing: record id → reason
    /// (not the rejected copies, nor those a later revision supersedes).
    fn excluded_lines(exclusions: &str) -> BTreeMap<String, String> {
        let lines = exclusions.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap());
        let kept = lines.filter_map(|v| {
            let (id, reason) = (v["record_id"].as_str()?, v["reason"].as_str()?);
            matches!(ReasonCode::parse(reason)?.class(), ReasonClass::Excluded | ReasonClass::Held).then(|| (id.to_string(), reason.to_string()))
        });
        kept.collect()
    }

    /// Whether the store holds every one of `excluded`'s lines, with its reason.
    async fn holds(&self, excluded: &BTreeMap<String, String>) -> bool {
        let ids: Vec<String> = excluded.keys().cloned().collect();
        let lines = self.store.open().await.lines_of(&ids).await.unwrap();
        let held: BTreeMap<String, String> = lines.into_iter().filter_map(|l| Some((l.record_id, l.reason?.as_str().to_string()))).collect();
        &held == excluded
    }

    /// Waits until the running members have settled what was served and hold every line
    /// that earns nothing (a month with only such lines must be closed too).
    async fn settled_by_members(&self, when: &str) {
        let (expected, exclusions) = recompute_with_exclusions(&self.served());
        let excluded = Self::excluded_lines(&exclusions);
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            let got = self.store.export(self.dir.path());
            if got == expected && self.holds(&excluded).await {
                return;
            }
            if Instant::now() > deadline {
                assert_same(&got, &expected, when);
                panic!("{when}: the store does not hold every line that earns nothing: {excluded:?}");
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Closes every month with ledger lines up to `last`, oldest first.
    async fn close_through(&mut self, last: &str) {
        let store = self.store.open().await;
        let closed: Vec<String> = store.closures().await.unwrap().into_iter().map(|c| c.period.to_string()).collect();
        for month in store.months_with_lines().await.unwrap().into_iter().map(|p| p.to_string()) {
            if month.as_str() <= last && !closed.contains(&month) {
                self.close(&month);
            }
        }
    }

    /// Closes one month; statement lines booked before must all still be there.
    fn close(&mut self, month: &str) {
        let o = self.store.run(&["close", "--period", month]);
        assert!(o.status.success(), "close {month}: {}", String::from_utf8_lossy(&o.stderr));
        let now: Vec<String> = self.store.statements(self.dir.path()).lines().map(str::to_string).collect();
        for row in &self.booked {
            assert!(now.contains(row), "closing {month} moved a closed figure: {row} is gone");
        }
        self.booked = now;
    }

    /// `export` equals `recompute`; after closing the next month, statements fix for every
    /// entity and closed month exactly what `recompute` settles. Returns the statements.
    async fn check(&mut self, when: &str) -> String {
        let expected = self.recompute();
        assert_same(&self.store.export(self.dir.path()), &expected, when);
        let store = self.store.open().await;
        let next = store.closures().await.unwrap().last().map(|c| c.period.next()).expect("the scenario closed a month").to_string();
        self.close(&next);
        let closed: Vec<String> = store.closures().await.unwrap().into_iter().map(|c| c.period.to_string()).collect();
        let statements = self.store.statements(self.dir.path());
        let want: BTreeMap<_, _> = settled(&expected).into_iter().filter(|((_, m), _)| closed.contains(m)).collect();
        let got: BTreeMap<_, _> = fixed(&statements).into_iter().filter(|(_, (b, s))| !b.is_zero() || !s.is_zero()).collect();
        assert_eq!(got, want, "{when}: frozen + adjustments differ from recompute for the closed months\n{statements}");
        self.store.drop().await;
        statements
    }
}

fn registry() -> (Vec<serde_json::Value>, Vec<serde_json::Value>) {
    let g = golden();
    (g.entities, g.centers)
}

/// A statement line, as `statements` writes it.
fn row(code: &str, payout: &str, for_period: &str, kind: &str, base: &str, subsidy: &str) -> String {
    format!("{code},{payout},{for_period},{kind},{base},{subsidy}")
}

const E1: &str = "91340100MA0000001K";
const E2: &str = "12341200000000002A";
const E11: &str = "91340100MA0000011L";

async fn scenario_first_revision_for_a_closed_month(store: &str) {
    let g = golden();
    // r50: a record of September that the platform only reports after September closed.
    let late = line(&g, "r5", 1, 0).replace("\"r5\"", "\"r50\"").replace("\"0.02\"", "\"100.00\"");
    let mut records = g.records.clone();
    records.push(late);
    let (entities, centers) = registry();
    let mut s = Scenario::new(store, records, g.records.len(), entities, centers).await;
    s.stage().await;
    s.close_through("2025-09").await;
    s.release_all();
    s.stage().await;
    let statements = s.check("after a first revision for a closed month").await;
    // September's E1: 333.35 → 433.35 eligible, 66.67 → 86.67: one adjustment, booked when October closed.
    assert!(statements.contains(&row(E1, "2025-10", "2025-09", "adjustment", "100.00", "20.00")), "{statements}");
    assert!(statements.contains(&row(E1, "2025-09", "2025-09", "settled", "333.35", "66.67")), "{statements}");
}

async fn scenario_correction_to_a_center_registered_later(store: &str) {
    let g = golden();
    let (entities, centers) = registry();
    let without_c4: Vec<serde_json::Value> = centers.iter().filter(|c| c["center_id"] != "C4").cloned().collect();
    let mut s = Scenario::new(store, g.records.clone(), g.records.len(), entities.clone(), without_c4).await;
    s.stage().await;
    // r31 revision 2 points at C4, not registered yet: held, and revision 1 no longer counts.
    s.close_through("2025-10").await;
    s.set_registry(entities, centers);
    // A new run learns C4 from the registry and its partitions' marks, and settles r31.
    s.stage().await;
    let statements = s.check("after the center was registered").await;
    assert!(statements.contains(&row(E1, "2025-10", "2025-10", "settled", "850.00", "170.00")), "{statements}");
    assert!(statements.contains(&row(E1, "2025-11", "2025-10", "adjustment", "100.00", "20.00")), "{statements}");
}

async fn scenario_a_revision_moves_a_record_while_two_members_share_the_topic(store: &str) {
    let g = golden();
    // r30: revision 1 is E1's in September; revision 2 is E2's in October.
    let moved = line(&g, "r30", 2, 0);
    let mut records = without(&g, &[&moved]);
    records.push(moved);
    let (entities, centers) = registry();
    let mut s = Scenario::new(store, records, g.records.len() - 1, entities, centers).await;
    let (addr_a, addr_b) = (free_addr(), free_addr());
    let a = s.member_at(&addr_a);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let b = s.member_at(&addr_b);
    // Both members own partitions before any record arrives, so the topic is shared.
    let deadline = Instant::now() + Duration::from_secs(120);
    while scrape_metric(&addr_a, "subsidy_aggregator_partitions_owned").await == 0.0 || scrape_metric(&addr_b, "subsidy_aggregator_partitions_owned").await == 0.0 {
        assert!(Instant::now() < deadline, "the two members did not both own partitions within 120 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    s.collect().await;
    s.settled_by_members("with revision 1 of r30").await;
    s.close_through("2025-09").await;
    s.release_all();
    s.collect().await;
    s.settled_by_members("after r30 moved to E2 in October").await;
    let (log_a, log_b) = (a.kill(), b.kill());
    for log in [&log_a, &log_b] {
        assert!(log.contains("partitions assigned"), "a member never got partitions:\n{log}");
    }
    let statements = s.check("after a revision moved a record between users and months").await;
    assert!(statements.contains(&row(E1, "2025-09", "2025-09", "settled", "733.35", "146.67")), "{statements}");
    assert!(statements.contains(&row(E1, "2025-10", "2025-09", "adjustment", "-400.00", "-80.00")), "{statements}");
    assert!(statements.contains(&row(E2, "2025-10", "2025-10", "settled", "1734.56", "416.29")), "{statements}");
}

async fn scenario_a_same_revision_conflict(store: &str) {
    // On one store the copy paid 100.00 comes first, on the other the one paid 90.00.
    let first = usize::from(store == "sqlite");
    let g = golden();
    // r29 revision 1 comes twice with other content: paid 100.00, then 90.00 (or the other way).
    let copies = [line(&g, "r29", 1, 0), line(&g, "r29", 1, 1)];
    let (early, late) = (&copies[first], &copies[1 - first]);
    let mut records = without(&g, &[late]);
    records.push(late.clone());
    let (entities, centers) = registry();
    let mut s = Scenario::new(store, records, g.records.len() - 1, entities, centers).await;
    s.stage().await;
    s.close_through("2025-09").await;
    s.release_all();
    s.stage().await;
    let statements = s.check("after a same-revision conflict").await;
    let (base, subsidy) = if early.contains("\"paid_amount\": \"100.00\"") { ("100.00", "20.00") } else { ("90.00", "18.00") };
    assert!(statements.contains(&row(E1, "2025-10", "2025-09", "adjustment", &format!("-{base}"), &format!("-{subsidy}"))), "{statements}");
}

async fn scenario_an_entity_moves_from_hefei_to_fuyang(store: &str) {
    let g = golden();
    let (entities, centers) = registry();
    // E11 registered in 合肥 at first (its second entry, 阜阳, comes later).
    let mut seen = false;
    let in_hefei: Vec<serde_json::Value> = entities.iter().filter(|e| e["credit_code"] != E11 || !std::mem::replace(&mut seen, true)).cloned().collect();
    let mut s = Scenario::new(store, g.records.clone(), g.records.len(), in_hefei, centers.clone()).await;
    s.collect().await;
    let member = s.member();
    s.settled_by_members("with E11 in 合肥").await;
    s.close_through("2025-09").await;
    // The platform's registry now has E11 in 阜阳: the running member re-settles r33.
    s.set_registry(entities, centers);
    s.collect().await;
    s.settled_by_members("after E11 moved to 阜阳").await;
    let log = member.kill();
    assert!(log.contains("re-settled after registry changes"), "the member did not re-settle:\n{log}");
    let statements = s.check("after an entity changed city").await;
    assert!(statements.contains(&row(E11, "2025-09", "2025-09", "settled", "100.00", "20.00")), "{statements}");
    assert!(statements.contains(&row(E11, "2025-10", "2025-09", "adjustment", "0.00", "4.00")), "{statements}");
}

macro_rules! on_both_stores {
    ($($name:ident => $body:ident;)*) => {
        mod clickhouse {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let store = "clickhouse";
                    $body(store).await;
                }
            )*
        }
        mod sqlite {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let store = "sqlite";
                    $body(store).await;
                }
            )*
        }
    };
}

on_both_stores! {
    first_revision_for_a_closed_month => scenario_first_revision_for_a_closed_month;
    correction_to_a_center_registered_later => scenario_correction_to_a_center_registered_later;
    a_revision_moves_a_record_while_two_members_share_the_topic => scenario_a_revision_moves_a_record_while_two_members_share_the_topic;
    a_same_revision_conflict_whichever_copy_came_first => scenario_a_same_revision_conflict;
    an_entity_moves_from_hefei_to_fuyang => scenario_an_entity_moves_from_hefei_to_fuyang;
}
