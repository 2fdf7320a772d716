//! Completeness against the platform, end to end on the embedded store: the
//! simulator withholds 0.1% of one center's records on three days while its
//! usage counts still count them. The collector pulls the counts, the
//! aggregator stores them; `close` refuses the month naming the three
//! center-days and their counts, and `reconcile` shows the same gap. Once the
//! records are released and collected, the gap closes and the close passes.
//! On a second ledger, in ClickHouse, aggregated before the release, a close
//! forced with a reason (fenced by the log of closes) records the reason, the
//! operator and the gap; `reconcile` and the bureau dashboard's completeness
//! query show it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use chrono::NaiveDate;
use subsidy_platform::generate::{generate, GenConfig};
use subsidy_platform::server::{spawn, SimConfig, SimState, Withhold};
use support::*;

const TOKEN: &str = "test-token";
const MONTH: &str = "2025-06";

/// The center with the most June records among those with records on three days in a row, and the first of those days.
fn withheld_center(plain: &SimState) -> (String, NaiveDate, [u64; 3]) {
    let june: Vec<NaiveDate> = NaiveDate::from_ymd_opt(2025, 6, 1).unwrap().iter_days().take(30).collect();
    let records = |center: &str, d: NaiveDate| plain.counts_of(d).iter().find(|c| c.center_id == center).map_or(0, |c| c.records);
    let mut best: Option<(u64, String, NaiveDate, [u64; 3])> = None;
    for center in june.iter().flat_map(|d| plain.counts_of(*d).into_iter().map(|c| c.center_id)).collect::<std::collections::BTreeSet<_>>() {
        for w in june.windows(3) {
            let n = [records(&center, w[0]), records(&center, w[1]), records(&center, w[2])];
            let total: u64 = n.iter().sum();
            if n.iter().all(|x| *x > 0) && best.as_ref().is_none_or(|b| total > b.0) {
                best = Some((total, center.clone(), w[0], n));
            }
        }
    }
    let (_, center, first, n) = best.expect("some center has June records on three days in a row");
    (center, first, n)
}

fn aggregate(prefix: &str, store: &TestStore, group: &str) {
    let mut command = meter();
    command.arg("aggregate").args(topic_args(prefix)).args(store.flags()).args(["--group", group, "--exit-when-idle-secs", "3", "--fetch-wait-ms", "20", "--metrics-addr", "127.0.0.1:0"]);
    Proc::start("aggregate", command).finish();
}

fn close(store: &TestStore, extra: &[&str]) -> Finished {
    let mut command = meter();
    command.args(["close", "--period", MONTH]).args(store.flags()).args(extra).env("RUST_LOG", "warn");
    Proc::start("close", command).wait(RUN_LIMIT)
}

/// The rows of the bureau dashboard's completeness panel, run on a ClickHouse database.
async fn dashboard_rows(database: &str) -> Vec<serde_json::Value> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../dashboards/bureau-ledger.json");
    let dashboard: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(root).unwrap()).unwrap();
    let panel = dashboard["panels"].as_array().unwrap().iter().find(|p| p["title"].as_str().is_some_and(|t| t.starts_with("Completeness against the platform"))).expect("the completeness panel");
    let sql = format!("{} FORMAT JSONEachRow", panel["targets"][0]["rawSql"].as_str().unwrap());
    let answer = reqwest::Client::new().post(clickhouse_url()).query(&[("database", database), ("output_format_json_quote_64bit_integers", "0")]).body(sql).send().await.unwrap();
    assert!(answer.status().is_success(), "{:?}", answer.text().await);
    answer.text().await.unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn reconcile(store: &TestStore) -> serde_json::Value {
    let o = meter().args(["reconcile", "--period", MONTH, "--json"]).args(store.flags()).output().unwrap();
    assert!(o.status.success(), "reconcile failed: {}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_withheld_record_refuses_the_close_until_it_arrives_and_a_forced_close_is_recorded() {
    require_broker().await;
    let dir = tempfile::tempdir().unwrap();
    let generated = generate(&GenConfig { seed: 21, records: 3_000, ..GenConfig::default() }).unwrap();
    let plain = SimState::new(generated.dataset.clone(), SimConfig::new(TOKEN)).unwrap();
    let (center, first, counts) = withheld_center(&plain);
    let last = first + chrono::Days::new(2);
    let mut config = SimConfig::new(TOKEN);
    config.faults.withhold = Some(Withhold { center_id: center.clone(), from: first, to: last, fraction: 0.001 });
    let state = SimState::new(generated.dataset, config).unwrap();
    let sim = spawn(state.clone()).await.unwrap();
    let prefix = unique("complete");
    let (p, url) = (prefix.clone(), sim.base_url());
    tokio::task::spawn_blocking(move || collect_all(&p, &url, TOKEN)).await.unwrap();
    let (ledger, forced) = (TestStore::sqlite(dir.path()), TestStore::clickhouse("complete"));
    aggregate(&prefix, &ledger, &unique("g"));
    aggregate(&prefix, &forced, &unique("g"));

    // Refused, naming each center-day with the platform's count and the ledger's.
    let refused = close(&ledger, &[]);
    assert!(!refused.status.success(), "the close passed over a gap: {}", refused.stderr);
    assert!(refused.stderr.contains(&format!("cannot close {MONTH}")) && refused.stderr.contains("on 3 center-days (3 records)"), "{}", refused.stderr);
    for (i, n) in counts.iter().enumerate() {
        let day = first + chrono::Days::new(i as u64);
        let named = format!("{center} {day}: platform {n} records");
        assert!(refused.stderr.contains(&named), "{named:?} not in {}", refused.stderr);
        assert!(refused.stderr.contains(&format!("ledger {} (", n - 1)), "{}", refused.stderr);
    }
    let r = reconcile(&ledger);
    assert_eq!((r["complete"].as_bool(), r["gap_records"].as_u64()), (Some(false), Some(3)), "{r:#}");
    let gaps = r["gaps"].as_array().unwrap();
    assert!(gaps.iter().all(|g| g["center_id"] == center.as_str() && g["platform_records"].as_u64().unwrap() == g["ledger_records"].as_u64().unwrap() + 1), "{r:#}");

    // A forced close records why, who and the gap; the reconciliation shows it.
    let closes = unique("test.closes");
    let done = close(&forced, &["--force-reason", "platform ticket 4711: three records lost in its export", "--operator", "bureau:wang", "--topic-closes", &closes]);
    assert!(done.status.success(), "forced close failed: {}", done.stderr);
    let f = reconcile(&forced);
    let shown = &f["forced_closes"][0];
    assert_eq!(shown["reason"], "platform ticket 4711: three records lost in its export");
    assert_eq!((shown["operator"].as_str(), shown["gap_records"].as_u64(), shown["gaps"].as_array().map(Vec::len)), (Some("bureau:wang"), Some(3), Some(3)), "{f:#}");
    let table = meter().args(["reconcile", "--period", MONTH]).args(forced.flags()).output().unwrap();
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(table.contains("forced close") && table.contains("bureau:wang") && table.contains(&center), "{table}");
    let TestStore::ClickHouse(db) = &forced else { unreachable!() };
    let rows = dashboard_rows(db).await;
    let june = rows.iter().find(|r| r["month"] == MONTH).unwrap_or_else(|| panic!("no {MONTH} row: {rows:?}"));
    assert_eq!((june["gap_center_days"].as_u64(), june["gap_records"].as_u64()), (Some(3), Some(3)), "{june}");
    assert_eq!((june["forced_by"].as_str(), june["forced_reason"].as_str(), june["forced_gap_records"].as_u64()), (Some("bureau:wang"), Some("platform ticket 4711: three records lost in its export"), Some(3)), "{june}");
    assert_eq!(june["platform_records"].as_u64().unwrap(), june["ledger_records"].as_u64().unwrap() + 3, "{june}");
    clickhouse(db).await.drop_database().await.unwrap();

    // Released and collected: the gap closes and the close passes.
    assert!(state.withheld() > 0);
    state.release_withheld();
    let (p, url) = (prefix.clone(), sim.base_url());
    tokio::task::spawn_blocking(move || collect_all(&p, &url, TOKEN)).await.unwrap();
    aggregate(&prefix, &ledger, &unique("g"));
    let r = reconcile(&ledger);
    assert_eq!((r["complete"].as_bool(), r["gaps"].as_array().map(Vec::len)), (Some(true), Some(0)), "{r:#}");
    assert!(r["compared"].as_u64().unwrap() > 3);
    let passed = close(&ledger, &[]);
    assert!(passed.status.success(), "the close was refused once the records arrived: {}", passed.stderr);
    assert!(reconcile(&ledger)["forced_closes"].as_array().unwrap().is_empty());
}
