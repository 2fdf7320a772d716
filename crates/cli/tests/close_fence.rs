//! Fenced closes against the real stores: eight closes of one month started at
//! once (as processes) on SQLite, on ClickHouse and on the two-replica cluster
//! with one replica's replication stopped; exactly one stands, the others are
//! refused naming it, and the statements hold one frozen figure per entity and
//! month equal to `recompute`. A closer SIGKILLed at random points leaves the
//! month open or completable by running the same close again.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use rand::Rng;
use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;
use subsidy_platform::generate::{generate, GenConfig};
use subsidy_platform::server::{spawn, SimConfig, SimState};
use subsidy_store::LedgerStore;
use support::*;

const TOKEN: &str = "test-token";
const CLOSERS: usize = 8;

/// Where a ledger lives: the flags of every subcommand, and a handle on it.
struct Ledger {
    flags: Vec<String>,
    store: std::sync::Arc<dyn LedgerStore>,
    expected: String,
    dir: tempfile::TempDir,
}

impl Ledger {
    /// Generates a small province, collects it into fresh topics, aggregates it into the store.
    async fn filled(flags: Vec<String>, store: std::sync::Arc<dyn LedgerStore>, seed: u64) -> Ledger {
        require_broker().await;
        let dir = tempfile::tempdir().unwrap();
        let generated = generate(&GenConfig { seed, records: 3_000, ..GenConfig::default() }).unwrap();
        generated.dataset.write_files(dir.path()).unwrap();
        let sim = spawn(SimState::new(generated.dataset, SimConfig::new(TOKEN)).unwrap()).await.unwrap();
        let prefix = unique("fence");
        let (p, url) = (prefix.clone(), sim.base_url());
        tokio::task::spawn_blocking(move || collect_all(&p, &url, TOKEN)).await.unwrap();
        let mut command = meter();
        command.arg("aggregate").args(topic_args(&prefix)).args(&flags).args(["--group", &unique("g"), "--exit-when-idle-secs", "4", "--metrics-addr", "127.0.0.1:0"]);
        Proc::start("aggregate", command).finish();
        let expected = recompute(dir.path());
        Ledger { flags, store, expected, dir }
    }

    fn close(&self, month: &str) -> Proc {
        let mut command = meter();
        command.args(["close", "--period", month]).args(&self.flags).args(["--topic-closes", &closes_topic()]).env("RUST_LOG", "warn");
        Proc::start("close", command)
    }

    async fn months(&self) -> Vec<String> {
        self.store.months_with_lines().await.unwrap().iter().map(ToString::to_string).collect()
    }

    async fn closed(&self) -> BTreeMap<String, String> {
        self.store.closures().await.unwrap().into_iter().map(|c| (c.period.to_string(), c.close_id)).collect()
    }

    /// `statements`; a replica still catching up refuses to answer, so it is asked again (bounded).
    fn statements(&self) -> String {
        let out = self.dir.path().join(format!("{}.csv", unique("statements")));
        let mut last = String::new();
        for _ in 0..60 {
            let o = meter().args(["statements", "--out", &out.display().to_string()]).args(&self.flags).output().unwrap();
            if o.status.success() {
                return std::fs::read_to_string(out).unwrap();
            }
            last = String::from_utf8_lossy(&o.stderr).into_owned();
            assert!(last.contains("lagging"), "statements failed: {last}");
            std::thread::sleep(Duration::from_millis(500));
        }
        panic!("statements kept failing for 30 s: {last}");
    }

    /// Every closed month fixes exactly `recompute`, and each entity and month has one frozen line.
    async fn check(&self, when: &str) {
        let closed = self.closed().await;
        let csv = self.statements();
        let mut frozen: BTreeMap<(String, String), usize> = BTreeMap::new();
        for l in csv.lines().skip(1) {
            let f: Vec<&str> = l.split(',').collect();
            if f[3] == "settled" {
                *frozen.entry((f[0].to_string(), f[2].to_string())).or_default() += 1;
            }
        }
        assert!(frozen.values().all(|n| *n == 1), "{when}: an entity-month is frozen twice\n{csv}");
        let want: BTreeMap<_, _> = settled(&self.expected).into_iter().filter(|((_, m), _)| closed.contains_key(m)).collect();
        let got: BTreeMap<_, _> = fixed(&csv).into_iter().filter(|(_, v)| !v.0.is_zero() || !v.1.is_zero()).collect();
        let want: BTreeMap<_, _> = want.into_iter().filter(|(_, v)| !v.0.is_zero() || !v.1.is_zero()).collect();
        assert!(!want.is_empty() || closed.is_empty(), "{when}: nothing to compare");
        assert_eq!(got, want, "{when}: what the statements fix differs from recompute for the closed months {closed:?}");
    }
}

/// One log of closes for this run (claims carry the ledger, so tests could share one; a fresh one keeps it small).
fn closes_topic() -> String {
    static TOPIC: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TOPIC.get_or_init(|| unique("test.closes")).clone()
}

/// The close id a successful close printed.
fn close_id_of(stderr: &str) -> Option<String> {
    let at = stderr.find(" closed by close ")? + " closed by close ".len();
    Some(stderr[at..].split(|c: char| c == ':' || c.is_whitespace()).next()?.to_string())
}

/// Whether a closer closed the month under its own close id. A closer that found the winning
/// claim standing without its closure yet completes it and exits 0 too, but names the winner's
/// id and says it completed it: that is not a second close.
fn closed_as_itself(d: &support::Finished) -> bool {
    d.status.success() && !d.stderr.contains("(completed:")
}

/// Starts `CLOSERS` closes of `month` at once; asserts exactly one stands and every other names it.
async fn race(ledger: &Ledger, month: &str) -> String {
    let closers: Vec<Proc> = (0..CLOSERS).map(|_| ledger.close(month)).collect();
    let done: Vec<_> = closers.into_iter().map(|p| p.wait(RUN_LIMIT)).collect();
    let won: Vec<&support::Finished> = done.iter().filter(|d| closed_as_itself(d)).collect();
    let logs: Vec<&str> = done.iter().map(|d| d.stderr.as_str()).collect();
    assert_eq!(won.len(), 1, "exactly one close of {month} must stand:\n{}", logs.join("\n---\n"));
    let winner = close_id_of(&won[0].stderr).unwrap_or_else(|| panic!("the winner did not say its close id: {}", won[0].stderr));
    for d in done.iter().filter(|d| !closed_as_itself(d)) {
        assert!(d.stderr.contains(&winner), "a refused (or completing) close does not name the close that won ({winner}):\n{}", d.stderr);
    }
    assert_eq!(ledger.closed().await.get(month), Some(&winner), "the closure names another close than the one that said it won");
    winner
}

/// Kills closes of the next open months at random points; each month is then open or
/// completed by running the same close again, and every closed month equals `recompute`.
async fn kill_closers(ledger: &Ledger, months: &[String]) {
    let mut rng = rand::rng();
    for month in months {
        for _ in 0..3 {
            let child = ledger.close(month);
            tokio::time::sleep(Duration::from_millis(rng.random_range(0..900))).await;
            child.kill();
            ledger.check(&format!("after a close of {month} was killed")).await;
        }
        let again = ledger.close(month).wait(RUN_LIMIT);
        let closed = ledger.closed().await;
        assert!(
            again.status.success() || (again.stderr.contains("already closed by close") && closed.contains_key(month)),
            "running the close of {month} again neither closed nor completed it: {}",
            again.stderr
        );
        assert!(closed.contains_key(month), "{month} is still open after the close ran again");
        ledger.check(&format!("after {month} closed through kills")).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_one_close_of_a_month_stands_and_killed_closers_leave_it_open_or_closed() {
    let dir = tempfile::tempdir().unwrap();
    let store = TestStore::sqlite(dir.path());
    let ledger = Ledger::filled(store.flags(), store.open().await, 61).await;
    let months = ledger.months().await;
    assert!(months.len() >= 4, "too few months: {months:?}");
    race(&ledger, &months[0]).await;
    ledger.check("after eight closes at once").await;
    kill_closers(&ledger, &months[1..3]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clickhouse_one_close_of_a_month_stands_and_killed_closers_leave_it_open_or_completable() {
    let store = TestStore::clickhouse("fence");
    let ledger = Ledger::filled(store.flags(), store.open().await, 62).await;
    let months = ledger.months().await;
    assert!(months.len() >= 4, "too few months: {months:?}");
    race(&ledger, &months[0]).await;
    ledger.check("after eight closes at once").await;
    kill_closers(&ledger, &months[1..3]).await;
    store.drop().await;
}

/// The HTTP URL of replica `n` (as `deploy/dev/cluster.sh` places them).
fn replica_url(n: u16) -> String {
    let base: u16 = std::env::var("SUBSIDY_CLUSTER_HTTP_PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(8124);
    format!("http://127.0.0.1:{}", base + n - 1)
}

fn query(n: u16, sql: &str) {
    let o = Command::new("curl").args(["-sf", "--data-binary", sql, &replica_url(n)]).output().unwrap();
    assert!(o.status.success(), "query on replica {n} failed: {sql}");
}

/// Stops (or starts) fetching parts and running the replication queue of every ledger table on replica `n`.
fn replication(n: u16, db: &str, on: bool) {
    let verb = if on { "START" } else { "STOP" };
    for table in ["period_closures", "statements", "ledger_lines", "record_copies", "rejections", "resettle_marks"] {
        query(n, &format!("SYSTEM {verb} FETCHES {db}.{table}_local"));
        query(n, &format!("SYSTEM {verb} REPLICATION QUEUES {db}.{table}_local"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_one_close_of_a_month_stands_while_a_replica_lags() {
    let db = unique("fence_cluster").replace('-', "_");
    let o = meter().args(["migrate", "--cluster", "subsidy", "--clickhouse-url", &replica_url(1), "--clickhouse-database", &db]).output().unwrap();
    assert!(o.status.success(), "migrate --cluster: {}", String::from_utf8_lossy(&o.stderr));
    let on = |n: u16| vec!["--clickhouse-url".to_string(), replica_url(n), "--clickhouse-database".into(), db.clone()];
    let config = |n: u16| subsidy_store::ClickHouseConfig { url: replica_url(n), database: db.clone(), user: "default".into(), password: String::new() };
    let first: std::sync::Arc<dyn LedgerStore> = std::sync::Arc::new(subsidy_store::ClickHouseStore::connect(&config(1)).await.unwrap());
    let ledger = Ledger::filled(on(1), first, 63).await;
    let months = ledger.months().await;
    // Replica 2 stops replicating; half the closers talk to it, half to replica 1.
    replication(2, &db, false);
    let second = Ledger { flags: on(2), store: std::sync::Arc::new(subsidy_store::ClickHouseStore::connect(&config(2)).await.unwrap()), expected: ledger.expected.clone(), dir: tempfile::tempdir().unwrap() };
    let mut closers: Vec<Proc> = Vec::new();
    for i in 0..CLOSERS {
        closers.push(if i % 2 == 0 { ledger.close(&months[0]) } else { second.close(&months[0]) });
    }
    // Those on replica 2 wait for it to catch up; it does once its replication starts again.
    tokio::time::sleep(Duration::from_secs(5)).await;
    replication(2, &db, true);
    let done: Vec<_> = closers.into_iter().map(|p| p.wait(RUN_LIMIT)).collect();
    let won: Vec<_> = done.iter().filter(|d| closed_as_itself(d)).collect();
    let logs: Vec<&str> = done.iter().map(|d| d.stderr.as_str()).collect();
    assert_eq!(won.len(), 1, "exactly one close must stand:\n{}", logs.join("\n---\n"));
    let winner = close_id_of(&won[0].stderr).unwrap();
    assert!(done.iter().filter(|d| !closed_as_itself(d)).all(|d| d.stderr.contains(&winner)), "a refused close does not name {winner}:\n{}", logs.join("\n---\n"));
    ledger.check("through replica 1").await;
    second.check("through replica 2").await;
    let admin = subsidy_store::ClickHouseStore::new(&config(1)).unwrap();
    admin.drop_cluster_database("subsidy").await.unwrap();
}
