//! Helpers shared by the integration tests: service endpoints, unique names,
//! running the binary under a time limit, reading topics back.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::Read;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::Duration;
use wait_timeout::ChildExt;
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

/// Topic flags for a prefix, on the tests' broker.
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
        "--topic-usage-counts".into(),
        format!("{prefix}.usage-counts"),
        "--topic-funded-elsewhere".into(),
        format!("{prefix}.funded-elsewhere"),
        "--topic-supplier-claims".into(),
        format!("{prefix}.supplier-claims"),
        "--kafka-brokers".into(),
        brokers(),
    ]
}

/// How long a child run by a test may take before the test kills it and fails.
pub const RUN_LIMIT: Duration = Duration::from_secs(300);

/// A child process whose output is drained as it runs (so a full pipe never
/// stalls it) and which is never waited for without a time limit.
pub struct Proc {
    what: String,
    child: Child,
    stdout: Option<JoinHandle<String>>,
    stderr: Option<JoinHandle<String>>,
}

impl Drop for Proc {
    /// A test that fails while a child runs does not leave it behind.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a finished child left.
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

fn drain(pipe: Option<impl Read + Send + 'static>) -> Option<JoinHandle<String>> {
    pipe.map(|mut p| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = p.read_to_end(&mut bytes);
            String::from_utf8_lossy(&bytes).into_owned()
        })
    })
}

impl Proc {
    /// Starts `command` with its output captured.
    pub fn start(what: &str, mut command: Command) -> Proc {
        let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap_or_else(|e| panic!("start {what}: {e}"));
        let (stdout, stderr) = (drain(child.stdout.take()), drain(child.stderr.take()));
        Proc { what: what.to_string(), child, stdout, stderr }
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// How the child ended, if it has.
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("look at a child")
    }

    /// Kills the child (SIGKILL) and returns its stderr.
    pub fn kill(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.collect_output().1
    }

    fn collect_output(&mut self) -> (String, String) {
        let take = |h: Option<JoinHandle<String>>| h.map(|h| h.join().unwrap_or_default()).unwrap_or_default();
        (take(self.stdout.take()), take(self.stderr.take()))
    }

    /// Kills the child and fails the test with `why` and the end of the child's log.
    pub fn fail(self, why: &str) -> ! {
        let what = self.what.clone();
        let stderr = self.kill();
        let tail: Vec<&str> = stderr.lines().rev().take(60).collect::<Vec<_>>().into_iter().rev().collect();
        panic!("{what}: {why}; the end of its log:\n{}", tail.join("\n"));
    }

    /// Waits up to `limit`; a child still running then is killed and the test fails with its log.
    pub fn wait(mut self, limit: Duration) -> Finished {
        match self.child.wait_timeout(limit).expect("wait for a child") {
            Some(status) => {
                let (stdout, stderr) = self.collect_output();
                Finished { status, stdout, stderr }
            }
            None => self.fail(&format!("still running after {} s and killed", limit.as_secs())),
        }
    }

    /// Waits (see [`Proc::wait`]), asserts success and returns stderr.
    pub fn finish(self) -> String {
        let what = self.what.clone();
        let done = self.wait(RUN_LIMIT);
        assert!(done.status.success(), "{what} failed: {}", done.stderr);
        done.stderr
    }
}

/// Starts `subsidy-meter collect` against a platform.
pub fn spawn_collect(prefix: &str, platform_url: &str, token: &str, extra: &[&str]) -> Proc {
    let mut command = meter();
    command
        .arg("collect")
        .args(topic_args(prefix))
        .args(["--platform-url", platform_url, "--metrics-addr", "127.0.0.1:0", "--page-limit", "50", "--registry-interval-secs", "1"])
        .args(extra)
        .env("SUBSIDY_PLATFORM_TOKEN", token)
        .env("RUST_LOG", "warn");
    Proc::start("collect", command)
}

/// Every message of a topic: (key, payload, headers as a map).
pub async fn read_topic(topic: &str) -> Vec<(Option<Vec<u8>>, Vec<u8>, HashMap<String, String>)> {
    use rdkafka::message::Message;
    let reader = TopicReader::connect(&brokers(), topic, Duration::from_secs(10)).await.expect("open reader");
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
    spawn_collect(prefix, platform_url, token, &["--exit-when-caught-up"]).finish();
}

/// A loopback address with a port that was free a moment ago.
pub fn free_addr() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").to_string()
}

/// The sum of a metric's samples at `addr`'s `/metrics` (0 when it does not answer).
pub async fn scrape_metric(addr: &str, name: &str) -> f64 {
    let url = format!("http://{addr}/metrics");
    let text = tokio::task::spawn_blocking(move || {
        let out = Command::new("curl").args(["-sf", "--max-time", "2", &url]).output().expect("run curl");
        String::from_utf8_lossy(&out.stdout).into_owned()
    })
    .await
    .expect("curl task");
    text.lines()
        .filter(|l| l.split([' ', '{']).next() == Some(name))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// A ledger store for a test: a ClickHouse database or a SQLite file.
#[derive(Debug, Clone)]
pub enum TestStore {
    /// A database on the test ClickHouse.
    ClickHouse(String),
    /// An embedded ledger file.
    Sqlite(std::path::PathBuf),
}

impl TestStore {
    /// A fresh ClickHouse database.
    pub fn clickhouse(prefix: &str) -> TestStore {
        TestStore::ClickHouse(unique(prefix).replace('-', "_"))
    }

    /// A fresh SQLite file in `dir`.
    pub fn sqlite(dir: &std::path::Path) -> TestStore {
        TestStore::Sqlite(dir.join(format!("{}.sqlite", unique("ledger"))))
    }

    /// The store flags of every subcommand.
    pub fn flags(&self) -> Vec<String> {
        match self {
            TestStore::ClickHouse(db) => vec!["--clickhouse-url".into(), clickhouse_url(), "--clickhouse-database".into(), db.clone()],
            TestStore::Sqlite(path) => vec!["--sqlite".into(), path.display().to_string()],
        }
    }

    /// A handle on the store, migrated.
    pub async fn open(&self) -> std::sync::Arc<dyn subsidy_store::LedgerStore> {
        let store: std::sync::Arc<dyn subsidy_store::LedgerStore> = match self {
            TestStore::ClickHouse(db) => std::sync::Arc::new(clickhouse(db).await),
            TestStore::Sqlite(path) => std::sync::Arc::new(subsidy_store::SqliteStore::open(path).expect("open the SQLite ledger")),
        };
        store.migrate().await.expect("migrate the test store");
        store
    }

    /// Drops a ClickHouse database (a SQLite file goes with its directory).
    pub async fn drop(&self) {
        if let TestStore::ClickHouse(db) = self {
            clickhouse(db).await.drop_database().await.expect("drop the test database");
        }
    }

    /// Runs a store subcommand (`close`, `export`, `statements`) and returns its output.
    pub fn run(&self, args: &[&str]) -> std::process::Output {
        meter().args(args).args(self.flags()).output().expect("run subsidy-meter")
    }

    /// `export`: the settlements of the ledger as it stands, as CSV text.
    pub fn export(&self, dir: &std::path::Path) -> String {
        self.csv("export", dir)
    }

    /// `statements`: what has been fixed for payment, as CSV text.
    pub fn statements(&self, dir: &std::path::Path) -> String {
        self.csv("statements", dir)
    }

    fn csv(&self, command: &str, dir: &std::path::Path) -> String {
        let out = dir.join(format!("{command}-{}.csv", unique("out")));
        let o = self.run(&[command, "--out", &out.display().to_string()]);
        assert!(o.status.success(), "{command} failed: {}", String::from_utf8_lossy(&o.stderr));
        std::fs::read_to_string(out).expect("read the CSV")
    }
}

/// Starts `aggregate` on a topic prefix, store and group. Against the development
/// broker, members rejoin over partitions a dead member left stalled.
pub fn spawn_aggregate_on(prefix: &str, store: &TestStore, group: &str, extra: &[&str]) -> Proc {
    let mut command = meter();
    command
        .arg("aggregate")
        .args(topic_args(prefix))
        .args(store.flags())
        .args(["--group", group, "--rejoin-stalled-partitions"])
        .args(if extra.contains(&"--metrics-addr") { &[][..] } else { &["--metrics-addr", "127.0.0.1:0"][..] })
        .args(extra)
        .env("RUST_LOG", "info");
    Proc::start("aggregate", command)
}

/// Starts `aggregate` on a topic prefix, ClickHouse database and group.
pub fn spawn_aggregate(prefix: &str, database: &str, group: &str, extra: &[&str]) -> Proc {
    spawn_aggregate_on(prefix, &TestStore::ClickHouse(database.to_string()), group, extra)
}

/// `export` from a ClickHouse database.
pub fn export(database: &str, dir: &std::path::Path) -> String {
    TestStore::ClickHouse(database.to_string()).export(dir)
}

/// `recompute` over a data directory.
pub fn recompute(data: &std::path::Path) -> String {
    run_recompute(data, &[])
}

/// `recompute` over a data directory: its settlements, and its exclusions (JSON lines).
pub fn recompute_with_exclusions(data: &std::path::Path) -> (String, String) {
    let exclusions = data.join("recompute-exclusions.jsonl");
    let csv = run_recompute(data, &["--exclusions".as_ref(), exclusions.as_os_str()]);
    (csv, std::fs::read_to_string(exclusions).expect("read the exclusions"))
}

fn run_recompute(data: &std::path::Path, extra: &[&std::ffi::OsStr]) -> String {
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
        .args(extra)
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

/// `promtool check metrics` on a `/metrics` text: names, help, units and types pass its lint.
pub fn assert_promtool_clean(metrics: &str) {
    use std::io::Write;
    assert!(metrics.contains("# TYPE subsidy_"), "not a metrics page:\n{metrics}");
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool (deploy/dev/services.sh install)");
    child.stdin.take().expect("stdin").write_all(metrics.as_bytes()).expect("write metrics");
    let out = child.wait_with_output().expect("wait for promtool");
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && said.trim().is_empty(), "promtool check metrics: {said}");
}

/// A log with no ERROR or WARN line.
pub fn assert_quiet(what: &str, log: &str) {
    let loud: Vec<&str> = log.lines().filter(|l| l.contains(" ERROR ") || l.contains(" WARN ")).collect();
    assert!(loud.is_empty(), "{what} logged {} ERROR/WARN lines:\n{}", loud.len(), loud.join("\n"));
}

/// The text of a `/metrics` page.
pub async fn scrape(addr: &str) -> String {
    let url = format!("http://{addr}/metrics");
    tokio::task::spawn_blocking(move || {
        let out = Command::new("curl").args(["-sf", "--max-time", "5", &url]).output().expect("run curl");
        String::from_utf8_lossy(&out.stdout).into_owned()
    })
    .await
    .expect("curl task")
}

/// Money in a CSV field.
fn money(s: &str) -> rust_decimal::Decimal {
    s.parse().unwrap_or_else(|e| panic!("{s:?}: {e}"))
}

/// Per entity and month: (eligible base, subsidy) of a settlement CSV (`recompute`, `export`).
pub fn settled(csv: &str) -> std::collections::BTreeMap<(String, String), (rust_decimal::Decimal, rust_decimal::Decimal)> {
    csv.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            ((f[0].to_string(), f[1].to_string()), (money(f[3]), money(f[4])))
        })
        .collect()
}

/// Per entity and month: what the statement lines fixed (Σ base, Σ subsidy).
pub fn fixed(csv: &str) -> std::collections::BTreeMap<(String, String), (rust_decimal::Decimal, rust_decimal::Decimal)> {
    let mut out: std::collections::BTreeMap<(String, String), (rust_decimal::Decimal, rust_decimal::Decimal)> = std::collections::BTreeMap::new();
    for l in csv.lines().skip(1) {
        let f: Vec<&str> = l.split(',').collect();
        let t = out.entry((f[0].to_string(), f[2].to_string())).or_default();
        t.0 += money(f[4]);
        t.1 += money(f[5]);
    }
    out
}
