//! The fault suite: one generated data set (revisions, duplicates, bad lines)
//! through the platform simulator, the collector, the broker, the aggregator
//! and the ledger while faults are injected. After every scenario each month
//! is closed and: `export` equals `recompute` byte for byte, the statements
//! (frozen figures and adjustments) sum to `recompute` per entity and month,
//! and per user, month and outcome the ledger holds as many records as the
//! core's own pass over the records: none lost, none doubled.
//!
//! The test command runs the short form. The long form — a million records,
//! ten kills of each process, ClickHouse down a minute — is
//! `bash scripts/faults.sh`, which writes the table into docs/RELIABILITY.md.
//! Settings: SUBSIDY_FAULT_RECORDS, SUBSIDY_FAULT_KILLS,
//! SUBSIDY_FAULT_OUTAGE_SECS, SUBSIDY_FAULT_REPORT (a file to write the table into),
//! SUBSIDY_FAULT_SCENARIOS (a comma-separated subset: kills, broker, clickhouse,
//! platform, member, disk, close). Every scenario runs on the broker
//! `deploy/dev/services.sh` started (tansu on SQLite here); the broker scenario
//! SIGKILLs it and restarts it on its storage.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use rand::Rng;
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;
use std::time::{Duration, Instant};
use subsidy_platform::generate::{generate, GenConfig};
use subsidy_platform::server::{spawn, Faults, Release, SimConfig, SimState};
use support::*;

const TOKEN: &str = "fault-token";
/// Partitions of the records topic, which the collector makes.
const RECORD_PARTITIONS: i32 = 8;

/// How big the run is.
struct Scale {
    records: usize,
    kills: usize,
    outage: Duration,
}

impl Scale {
    fn from_env() -> Scale {
        let var = |name: &str, default: u64| std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default);
        Scale {
            records: var("SUBSIDY_FAULT_RECORDS", 6_000) as usize,
            kills: var("SUBSIDY_FAULT_KILLS", 3) as usize,
            outage: Duration::from_secs(var("SUBSIDY_FAULT_OUTAGE_SECS", 8)),
        }
    }
}

/// Per user, month and outcome (`eligible` or a reason code): how many records stand.
type Cells = BTreeMap<(String, String, String), u64>;

/// What the ledger must hold, worked out once from the files.
struct Oracle {
    dir: tempfile::TempDir,
    lines: usize,
    dataset: subsidy_platform::dataset::Dataset,
    csv: String,
    subsidy: BTreeMap<(String, String), Decimal>,
    cells: Cells,
    months: Vec<String>,
    month_of_line: Vec<Option<String>>,
}

impl Oracle {
    fn of(records: usize) -> Oracle {
        let generated = generate(&GenConfig { seed: 2026, records, ..GenConfig::default() }).unwrap();
        let dir = tempfile::tempdir().unwrap();
        generated.dataset.write_files(dir.path()).unwrap();
        let csv = recompute(dir.path());
        let mut subsidy = BTreeMap::new();
        for row in csv.lines().skip(1) {
            let f: Vec<&str> = row.split(',').collect();
            subsidy.insert((f[0].to_string(), f[1].to_string()), Decimal::from_str(f[4]).unwrap());
        }
        let (cells, month_of_line) = core_cells(&generated.dataset, dir.path());
        let months: Vec<String> = cells.keys().map(|(_, m, _)| m.clone()).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
        Oracle { lines: generated.dataset.records.len(), dataset: generated.dataset, dir, csv, subsidy, cells, months, month_of_line }
    }
}

/// The core's own pass over the records, as `recompute` makes it: what stands per cell,
/// and the month of every line that parses.
fn core_cells(dataset: &subsidy_platform::dataset::Dataset, dir: &Path) -> (Cells, Vec<Option<String>>) {
    let policy = subsidy_core::PolicySet::builtin();
    let mut registry = subsidy_core::Registry::new();
    registry.load_entities(&std::fs::read_to_string(dir.join("entities.json")).unwrap()).unwrap();
    registry.load_centers(&std::fs::read_to_string(dir.join("centers.json")).unwrap()).unwrap();
    let mut ledger = subsidy_core::Ledger::new(&policy);
    let mut months = Vec::with_capacity(dataset.records.len());
    for (i, line) in dataset.records.iter().enumerate() {
        match subsidy_core::parse_record(line.as_bytes()) {
            Ok(r) => {
                months.push(Some(subsidy_core::Period::of_date(subsidy_core::Facts::of(&r).usage_date).to_string()));
                ledger.ingest(&r, subsidy_core::Fingerprint::of(&r), i as u64 + 1, &registry);
            }
            Err(_) => months.push(None),
        }
    }
    let mut cells = Cells::new();
    for (_, line) in ledger.lines() {
        let facts = &line.standing.facts;
        let outcome = line.assessment.reason.map_or("eligible", |r| r.as_str()).to_string();
        *cells.entry((facts.user.to_string(), subsidy_core::Period::of_date(facts.usage_date).to_string(), outcome)).or_default() += 1;
    }
    (cells, months)
}

/// One row of the table.
struct Row {
    scenario: &'static str,
    faults: String,
    records_in: usize,
    settled: u64,
    lost: u64,
    doubled: u64,
    recovery: Option<Duration>,
}

/// One scenario's pipeline: a simulator, topics, a store, and the processes running on them.
struct Run<'o> {
    oracle: &'o Oracle,
    sim: SimState,
    _server: subsidy_platform::server::RunningSim,
    url: String,
    prefix: String,
    store: TestStore,
    group: String,
    collector: Option<Proc>,
    collector_flags: Vec<String>,
    aggregators: Vec<(Proc, String)>,
    logs: Vec<String>,
    recoveries: Vec<Duration>,
}

impl<'o> Run<'o> {
    /// A run whose platform releases every line evenly over `release_secs`.
    async fn paced(oracle: &'o Oracle, store: TestStore, faults: Faults, release_secs: f64) -> Run<'o> {
        let per_sec = oracle.lines as f64 / release_secs;
        Run::new(oracle, store, faults, Release::Rate { initial: 0, per_sec }).await
    }

    async fn new(oracle: &'o Oracle, store: TestStore, faults: Faults, release: Release) -> Run<'o> {
        let config = SimConfig { release, faults, fault_seed: rand::random(), ..SimConfig::new(TOKEN) };
        let sim = SimState::new(oracle.dataset.clone(), config).unwrap();
        let server = spawn(sim.clone()).await.unwrap();
        let url = server.base_url();
        let store_handle = store.open().await;
        drop(store_handle);
        Run {
            oracle,
            sim,
            _server: server,
            url,
            prefix: unique("faults"),
            store,
            group: unique("faults-group"),
            collector: None,
            collector_flags: Vec::new(),
            aggregators: Vec::new(),
            logs: Vec::new(),
            recoveries: Vec::new(),
        }
    }

    fn collect_command(&self, extra: &[&str]) -> Command {
        let mut command = meter();
        command
            .arg("collect")
            .args(topic_args(&self.prefix))
            .args(["--record-partitions", &RECORD_PARTITIONS.to_string()])
            .args(["--platform-url", &self.url, "--metrics-addr", "127.0.0.1:0", "--poll-interval-ms", "1000", "--registry-interval-secs", "2"])
            .args(&self.collector_flags)
            .args(extra)
            .env("SUBSIDY_PLATFORM_TOKEN", TOKEN)
            .env("RUST_LOG", "warn");
        command
    }

    fn start_collector(&mut self) {
        self.collector = Some(Proc::start("collect", self.collect_command(&[])));
    }

    fn start_aggregator(&mut self, extra: &[&str]) {
        let addr = free_addr();
        let flags = [&["--metrics-addr", addr.as_str(), "--session-timeout-ms", "6000", "--max-poll-interval-ms", "15000", "--fetch-wait-ms", "20"][..], extra].concat();
        let proc = spawn_aggregate_on(&self.prefix, &self.store, &self.group, &flags);
        self.aggregators.push((proc, addr));
    }

    fn kill_collector(&mut self) {
        if let Some(c) = self.collector.take() {
            self.logs.push(c.kill());
        }
    }

    fn kill_aggregator(&mut self, i: usize) {
        let (proc, _) = self.aggregators.remove(i);
        self.logs.push(proc.kill());
    }

    fn served(&self) -> u64 {
        self.sim.stats().records_served
    }

    /// Rows written by the live aggregators, by their own counters.
    async fn written(&self) -> f64 {
        let mut sum = 0.0;
        for (_, addr) in &self.aggregators {
            sum += scrape_metric(addr, "subsidy_aggregator_rows_written_total").await;
        }
        sum
    }

    /// Waits until `done` holds, failing the test after `limit`.
    async fn until<F, Fut>(&self, what: &str, limit: Duration, mut done: F) -> Duration
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let started = Instant::now();
        while !done().await {
            assert!(started.elapsed() < limit, "{what}: not within {} s", limit.as_secs());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        started.elapsed()
    }

    /// Waits until the live aggregators wrote more than `than` rows; the time it took.
    async fn until_written_more(&self, than: f64, what: &str) -> Duration {
        let started = Instant::now();
        while self.written().await <= than {
            assert!(started.elapsed() < Duration::from_secs(600), "{what}: no ledger write within 600 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        started.elapsed()
    }

    /// Takes a service down, releases the rest of the stream while it is down, brings
    /// it back after `length` and records how long until rows are written again.
    async fn outage(&mut self, length: Duration, down: impl FnOnce(), up: impl FnOnce(), what: &str) {
        down();
        self.sim.release_to(self.oracle.lines);
        tokio::time::sleep(length).await;
        let before = self.written().await;
        up();
        let took = self.until_written_more(before, what).await;
        self.recoveries.push(took);
    }

    /// Lets the rest of the stream through: the collector to the end, the running
    /// aggregators stopped, one last member to the end, then every month closed.
    async fn finish(&mut self, final_aggregator: bool) {
        self.sim.release_to(self.oracle.lines);
        self.kill_collector();
        let last = Proc::start("collect", self.collect_command(&["--exit-when-caught-up"]));
        self.logs.push(tokio::task::spawn_blocking(move || last.finish()).await.unwrap());
        if final_aggregator {
            for (proc, _) in std::mem::take(&mut self.aggregators) {
                let pid = proc.pid().to_string();
                Command::new("kill").args(["-TERM", &pid]).status().unwrap();
                self.logs.push(tokio::task::spawn_blocking(move || proc.wait(Duration::from_secs(120)).stderr).await.unwrap());
            }
            self.start_aggregator(&["--exit-when-idle-secs", "6"]);
        }
        for (proc, _) in std::mem::take(&mut self.aggregators) {
            self.logs.push(tokio::task::spawn_blocking(move || proc.finish()).await.unwrap());
        }
        self.close_open_months().await;
    }

    async fn close_open_months(&self) {
        let closed: Vec<String> = self.store.open().await.closures().await.unwrap().iter().map(|c| c.period.to_string()).collect();
        for month in self.oracle.months.iter().filter(|m| !closed.contains(m)) {
            self.close(month);
        }
    }

    fn close(&self, month: &str) {
        let out = self.store.run(&["close", "--period", month]);
        assert!(out.status.success(), "close {month}: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// The checks every scenario ends with; the row of the table.
    async fn verify(&self, scenario: &'static str, faults: String) -> Row {
        let dir = self.oracle.dir.path();
        assert_same(&self.store.export(dir), &self.oracle.csv, scenario);
        let mut fixed: BTreeMap<(String, String), Decimal> = BTreeMap::new();
        for row in self.store.statements(dir).lines().skip(1) {
            let f: Vec<&str> = row.split(',').collect();
            *fixed.entry((f[0].to_string(), f[2].to_string())).or_default() += Decimal::from_str(f[5]).unwrap();
        }
        let nonzero = |m: &BTreeMap<(String, String), Decimal>| m.iter().filter(|(_, v)| !v.is_zero()).map(|(k, v)| (k.clone(), *v)).collect::<BTreeMap<_, _>>();
        assert_eq!(nonzero(&fixed), nonzero(&self.oracle.subsidy), "{scenario}: statements do not sum to recompute per entity and month");
        let store = self.store.open().await;
        let mut cells = Cells::new();
        for s in store.line_sums().await.unwrap() {
            let outcome = s.reason.map_or("eligible", |r| r.as_str()).to_string();
            *cells.entry((s.user_credit_code.to_string(), s.period.to_string(), outcome)).or_default() += s.records;
        }
        let (mut lost, mut doubled) = (0, 0);
        let keys: std::collections::BTreeSet<_> = self.oracle.cells.keys().chain(cells.keys()).collect();
        for key in keys {
            let (want, got) = (self.oracle.cells.get(key).copied().unwrap_or(0), cells.get(key).copied().unwrap_or(0));
            lost += want.saturating_sub(got);
            doubled += got.saturating_sub(want);
        }
        let row = Row { scenario, faults, records_in: self.oracle.lines, settled: cells.values().sum(), lost, doubled, recovery: self.recoveries.iter().max().copied() };
        eprintln!("faults: {scenario}: {} settled, {lost} lost, {doubled} doubled, recovery {:?}", row.settled, row.recovery);
        assert_eq!((row.lost, row.doubled), (0, 0), "{scenario}: records lost or doubled");
        row
    }

    async fn drop_store(&self) {
        self.store.drop().await;
    }
}

fn services(args: &[&str]) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/dev/services.sh");
    let out = Command::new("bash").arg(script).args(args).output().unwrap();
    assert!(out.status.success(), "services.sh {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

fn random_pause() -> Duration {
    Duration::from_millis(rand::rng().random_range(300..2_000))
}

/// SIGKILL of the collector and of the aggregator at random moments, each restarted at once.
/// The platform releases the stream in slices, one more before each restart, so a
/// restarted process always has work to resume, however fast the earlier slices went.
async fn kills(oracle: &Oracle, scale: &Scale) -> Row {
    let slice = (oracle.lines / (2 * scale.kills + 1)).max(1);
    let mut released = slice;
    let mut run = Run::new(oracle, TestStore::clickhouse("faults_kill"), Faults::none(), Release::Manual { initial: released }).await;
    run.start_collector();
    run.start_aggregator(&[]);
    run.until_written_more(0.0, "first write").await;
    for _ in 0..scale.kills {
        tokio::time::sleep(random_pause()).await;
        run.kill_collector();
        released += slice;
        run.sim.release_to(released);
        let served = run.served();
        run.start_collector();
        let took = run.until("collector resumes", Duration::from_secs(120), || async { run.served() > served }).await;
        run.recoveries.push(took);

        tokio::time::sleep(random_pause()).await;
        run.kill_aggregator(0);
        released += slice;
        run.sim.release_to(released);
        run.start_aggregator(&[]);
        let took = run.until_written_more(0.0, "aggregator resumes").await;
        run.recoveries.push(took);
    }
    run.finish(true).await;
    let row = run.verify("SIGKILL collector and aggregator", format!("{k} + {k} kills, each restarted", k = scale.kills)).await;
    run.drop_store().await;
    row
}

/// The broker SIGKILLed mid-run and restarted on its storage 3 s later. Half the
/// stream is released at the start and the rest while the broker is down, so the
/// aggregator has lines to write after it comes back whatever the pace of the first half.
async fn broker(oracle: &Oracle, _scale: &Scale) -> Row {
    let mut run = Run::new(oracle, TestStore::clickhouse("faults_broker"), Faults::none(), Release::Manual { initial: oracle.lines / 2 }).await;
    run.start_collector();
    run.start_aggregator(&[]);
    let quarter = oracle.lines as u64 / 4;
    run.until("a quarter served", Duration::from_secs(300), || async { run.served() >= quarter }).await;
    run.until_written_more(0.0, "first write").await;
    run.outage(Duration::from_secs(3), || services(&["kill", "kafka"]), || services(&["start", "kafka"]), "writes after the broker came back").await;
    run.finish(true).await;
    let row = run.verify("broker SIGKILLed mid-run, restarted", "tansu (SQLite) SIGKILLed, restarted on its storage 3 s later".into()).await;
    run.drop_store().await;
    row
}

/// ClickHouse stopped mid-run and started again; half the stream is released at the
/// start and the rest while ClickHouse is down, so there is a backlog to write after.
async fn clickhouse_outage(oracle: &Oracle, scale: &Scale) -> Row {
    let mut run = Run::new(oracle, TestStore::clickhouse("faults_ch"), Faults::none(), Release::Manual { initial: oracle.lines / 2 }).await;
    run.start_collector();
    run.start_aggregator(&[]);
    run.until_written_more(0.0, "first write").await;
    run.outage(scale.outage, || services(&["stop", "clickhouse"]), || services(&["start", "clickhouse"]), "writes after ClickHouse came back").await;
    run.finish(true).await;
    let row = run.verify("ClickHouse stopped", format!("down {} s", scale.outage.as_secs())).await;
    run.drop_store().await;
    row
}

/// The platform answering 429, 5xx, late, cut short, not JSON, and repeating records.
async fn platform(oracle: &Oracle, _scale: &Scale) -> Row {
    let faults = Faults {
        error_rate: 0.05,
        rate_limit_rate: 0.05,
        retry_after_secs: 1,
        slow_rate: 0.02,
        slow_ms: 2_500,
        truncate_rate: 0.03,
        malformed_rate: 0.03,
        repeat_rate: 0.05,
        ..Faults::none()
    };
    let mut run = Run::paced(oracle, TestStore::clickhouse("faults_platform"), faults, 10.0).await;
    // Pages small enough that a few hundred requests draw every fault at least once.
    let page_limit = (oracle.lines / 400).clamp(50, 1_000).to_string();
    run.collector_flags = vec!["--platform-timeout-secs".into(), "1".into(), "--page-limit".into(), page_limit];
    run.start_collector();
    run.start_aggregator(&[]);
    run.finish(true).await;
    let s = run.sim.stats();
    assert!(s.server_errors > 0 && s.rate_limited > 0 && s.slowed > 0 && s.truncated > 0 && s.malformed > 0 && s.repeated > 0, "faults not all injected: {s:?}");
    let faults = format!("{} × 5xx, {} × 429, {} timeouts, {} cut short, {} not JSON, {} repeated pages", s.server_errors, s.rate_limited, s.slowed, s.truncated, s.malformed, s.repeated);
    let row = run.verify("platform faults", faults).await;
    run.drop_store().await;
    row
}

/// Two aggregators share the topic; one is killed and never restarted.
async fn member_lost(oracle: &Oracle, _scale: &Scale) -> Row {
    let mut run = Run::paced(oracle, TestStore::clickhouse("faults_member"), Faults::none(), 25.0).await;
    run.start_collector();
    run.start_aggregator(&[]);
    run.start_aggregator(&["--exit-when-idle-secs", "8"]);
    let owned = |addr: String| async move { scrape_metric(&addr, "subsidy_aggregator_partitions_owned").await };
    let (a, b) = (run.aggregators[0].1.clone(), run.aggregators[1].1.clone());
    let partitions = f64::from(RECORD_PARTITIONS);
    run.until("both members own partitions", Duration::from_secs(120), || {
        let (a, b) = (a.clone(), b.clone());
        async move { owned(a).await > 0.0 && owned(b).await > 0.0 }
    })
    .await;
    run.until_written_more(0.0, "first write").await;
    run.kill_aggregator(0);
    let took = run.until("the survivor owns every partition", Duration::from_secs(300), || {
        let b = b.clone();
        async move { owned(b).await >= partitions }
    })
    .await;
    run.recoveries.push(took);
    run.finish(false).await;
    let row = run.verify("two aggregators, one killed for good", "1 of 2 members SIGKILLed".into()).await;
    run.drop_store().await;
    row
}

/// A tmpfs mounted at `dir`, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: PathBuf, bytes: u64) -> Tmpfs {
        std::fs::create_dir_all(&dir).unwrap();
        let out = Command::new("mount").args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"]).arg(&dir).output().unwrap();
        assert!(out.status.success(), "the disk-full scenario mounts a small tmpfs (needs root): {}", String::from_utf8_lossy(&out.stderr));
        Tmpfs(dir)
    }

    fn resize(&self, bytes: u64) {
        let out = Command::new("mount").args(["-o", &format!("remount,size={bytes}")]).arg(&self.0).output().unwrap();
        assert!(out.status.success(), "remount: {}", String::from_utf8_lossy(&out.stderr));
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// The embedded ledger's disk fills up mid-run; then space is freed.
async fn disk_full(oracle: &Oracle, _scale: &Scale) -> Row {
    // The embedded ledger takes about 690 bytes per record line (the demo's 100,000
    // lines: 68.9 MB); a disk of 300 bytes per line fills before half the stream is in.
    let small = (oracle.lines as u64 * 300).max(1 << 20);
    let disk = Tmpfs::mount(oracle.dir.path().join("ledger-disk"), small);
    let store = TestStore::Sqlite(disk.0.join("ledger.sqlite"));
    let mut run = Run::paced(oracle, store, Faults::none(), 15.0).await;
    run.start_collector();
    run.start_aggregator(&[]);
    let addr = run.aggregators[0].1.clone();
    run.until("the ledger's disk is full", Duration::from_secs(600), || {
        let addr = addr.clone();
        async move { scrape_metric(&addr, "subsidy_aggregator_store_errors_total").await > 0.0 }
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let errors = scrape_metric(&addr, "subsidy_aggregator_store_errors_total").await;
    let before = run.written().await;
    disk.resize(small * 20);
    let took = run.until_written_more(before, "writes after space was freed").await;
    run.recoveries.push(took);
    run.finish(true).await;
    assert!(run.logs.iter().any(|l| l.contains("full")), "no aggregator said the disk was full");
    let row = run.verify("SQLite ledger disk full, then freed", format!("{errors} store errors while full")).await;
    drop(disk);
    row
}

/// A month closed while records for it are still arriving.
async fn close_midway(oracle: &Oracle, _scale: &Scale) -> Row {
    let mut run = Run::paced(oracle, TestStore::clickhouse("faults_close"), Faults::none(), 20.0).await;
    run.start_collector();
    run.start_aggregator(&[]);
    let part = oracle.lines as u64 * 3 / 10;
    run.until("three tenths served", Duration::from_secs(300), || async { run.served() >= part }).await;
    run.until_written_more(0.0, "first write").await;
    // The earliest month with lines both served and still to come; it and the months
    // before it close now (months close in order).
    let at = (run.served() as usize).min(oracle.lines);
    let months = |lines: &[Option<String>]| lines.iter().flatten().cloned().collect::<std::collections::BTreeSet<String>>();
    let (served, coming) = (months(&oracle.month_of_line[..at]), months(&oracle.month_of_line[at..]));
    let month = oracle.months.iter().find(|m| served.contains(*m) && coming.contains(*m)).expect("a month spanning the close").clone();
    for m in oracle.months.iter().take_while(|m| **m <= month) {
        run.close(m);
    }
    let later = oracle.month_of_line[at..].iter().filter(|m| m.as_deref() == Some(month.as_str())).count();
    let frozen: Vec<String> = run.store.statements(oracle.dir.path()).lines().skip(1).map(String::from).collect();
    assert!(!frozen.is_empty(), "closing up to {month} froze nothing");
    run.finish(true).await;
    let statements = run.store.statements(oracle.dir.path());
    for row in &frozen {
        assert!(statements.lines().any(|l| l == row), "the frozen figure {row} moved");
    }
    let row = run.verify("month closed while its records arrive", format!("{month} closed with {later} of its lines still to come")).await;
    run.drop_store().await;
    row
}

fn table(rows: &[Row]) -> String {
    let mut out = String::from("| scenario | faults injected | records in | settled | lost | doubled | recovery (longest) |\n|---|---|---:|---:|---:|---:|---:|\n");
    for r in rows {
        let recovery = r.recovery.map_or("—".to_string(), |d| format!("{:.1} s", d.as_secs_f64()));
        out.push_str(&format!("| {} | {} | {} | {} | {} | {} | {} |\n", r.scenario, r.faults, r.records_in, r.settled, r.lost, r.doubled, recovery));
    }
    out
}

fn shell(args: &[&str]) -> String {
    Command::new(args[0]).args(&args[1..]).output().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()).unwrap_or_default()
}

/// Writes the table between the markers of the report file.
fn report(path: &str, scale: &Scale, rows: &[Row], took: Duration) {
    let text = std::fs::read_to_string(path).unwrap();
    let (head, rest) = text.split_once("<!-- faults:begin -->").expect("begin marker");
    let (_, tail) = rest.split_once("<!-- faults:end -->").expect("end marker");
    let body = format!(
        "<!-- faults:begin -->\nCommand: `bash scripts/faults.sh` ({} record lines, {} kills of each process, ClickHouse down {} s, broker: tansu on SQLite). Commit {}, {} on {} ({} CPUs), {} s in all.\n\n{}<!-- faults:end -->",
        scale.records,
        scale.kills,
        scale.outage.as_secs(),
        shell(&["git", "rev-parse", "--short", "HEAD"]),
        shell(&["date", "-u", "+%Y-%m-%d"]),
        shell(&["uname", "-sm"]),
        shell(&["nproc"]),
        took.as_secs(),
        table(rows)
    );
    std::fs::write(path, format!("{head}{body}{tail}")).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nothing_is_lost_or_doubled_through_faults() {
    // SUBSIDY_FAULT_SCENARIOS=platform,disk runs only those (all by default).
    let only = std::env::var("SUBSIDY_FAULT_SCENARIOS").unwrap_or_default();
    let wanted = |name: &str| only.is_empty() || only.split(',').any(|s| s.trim() == name);
    require_broker().await;
    let started = Instant::now();
    let scale = Scale::from_env();
    let oracle = Oracle::of(scale.records);
    let mut rows = Vec::new();
    if wanted("kills") {
        rows.push(kills(&oracle, &scale).await);
    }
    if wanted("broker") {
        rows.push(broker(&oracle, &scale).await);
    }
    if wanted("clickhouse") {
        rows.push(clickhouse_outage(&oracle, &scale).await);
    }
    if wanted("platform") {
        rows.push(platform(&oracle, &scale).await);
    }
    if wanted("member") {
        rows.push(member_lost(&oracle, &scale).await);
    }
    if wanted("disk") {
        rows.push(disk_full(&oracle, &scale).await);
    }
    if wanted("close") {
        rows.push(close_midway(&oracle, &scale).await);
    }
    assert!(!rows.is_empty(), "SUBSIDY_FAULT_SCENARIOS={only} names no scenario (kills, broker, clickhouse, platform, member, disk, close)");
    let text = table(&rows);
    eprintln!("{text}");
    if let Ok(path) = std::env::var("SUBSIDY_FAULT_REPORT") {
        report(&path, &scale, &rows, started.elapsed());
    }
}
