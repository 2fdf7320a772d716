//! `serve` over the ledger the demo wrote: the bureau's CSV equals `export`
//! byte for byte, the registry the aggregator wrote names cities, the CLI
//! reads the same answers from the API and from the store, the token file is
//! re-read on SIGHUP (one that comes while `serve` starts included), and
//! schemathesis finds no failure against `/openapi.json`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use support::*;

fn curl(url: &str, token: &str, accept: &str) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-s", "--max-time", "30", "-w", "\n%{http_code}", "-H", &format!("Authorization: Bearer {token}"), "-H", &format!("Accept: {accept}"), url])
        .output()
        .expect("run curl");
    let text = String::from_utf8(out.stdout).unwrap();
    let (body, code) = text.rsplit_once('\n').unwrap();
    (code.parse().unwrap_or(0), body.to_string())
}

/// `token new`: (token, file entry).
fn new_token(args: &[&str]) -> (String, String) {
    let out = meter().args(["token", "new"]).args(args).output().unwrap();
    assert!(out.status.success(), "token new failed: {}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let (token, entry) = stdout.split_once('\n').unwrap();
    assert_eq!(token.len(), 64);
    (token.to_string(), entry.trim_start().to_string())
}

fn run_ok(args: &[&str], ledger: &Path, env: &[(&str, &str)]) -> String {
    let mut c = meter();
    c.args(args).arg("--sqlite").arg(ledger);
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    assert!(out.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn wait_until(what: &str, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < Duration::from_secs(30), "{what} did not happen within 30 s");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn serve_answers_from_the_demo_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger.sqlite");
    let mut demo = meter();
    demo.current_dir(dir.path()).args(["demo", "--exit-after-settle", "--records", "8000", "--metrics-addr", "127.0.0.1:0", "--sqlite"]).arg(&ledger).env("RUST_LOG", "warn");
    let done = Proc::start("demo", demo).wait(RUN_LIMIT);
    assert!(done.status.success(), "demo failed: {}", done.stderr);
    run_ok(&["close", "--period", "2025-06"], &ledger, &[]);

    let (bureau, bureau_entry) = new_token(&["--role", "bureau"]);
    let tokens = dir.path().join("tokens.toml");
    std::fs::write(&tokens, &bureau_entry).unwrap();
    let addr = free_addr();
    let base = format!("http://{addr}");
    let mut serve = meter();
    serve.args(["serve", "--listen", &addr, "--tokens"]).arg(&tokens).arg("--sqlite").arg(&ledger).env("RUST_LOG", "warn");
    let server = Proc::start("serve", serve);
    wait_until("serve answering", || curl(&format!("{base}/openapi.json"), "", "application/json").0 == 200);

    // The bureau's CSV is export's, byte for byte.
    let csv = dir.path().join("export.csv");
    run_ok(&["export", "--period", "2025-09", "--out", csv.to_str().unwrap()], &ledger, &[]);
    let (status, body) = curl(&format!("{base}/v1/settlements?period=2025-09"), &bureau, "text/csv");
    assert_eq!(status, 200);
    let exported = std::fs::read_to_string(&csv).unwrap();
    assert!(exported.lines().count() > 50, "{exported}");
    assert_eq!(body, exported);

    // The aggregator wrote the registry: the overview names cities and entities.
    let (status, body) = curl(&format!("{base}/v1/overview?period=2025-09"), &bureau, "application/json");
    assert_eq!(status, 200, "{body}");
    let overview: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(overview["by_city"].as_array().unwrap().len() >= 5, "{overview}");
    assert!(overview["by_city"].as_array().unwrap().iter().all(|g| g["key"] != "unregistered"), "{overview}");
    let top = overview["top_entities"][0]["entity"]["credit_code"].as_str().unwrap().to_string();
    assert!(overview["top_entities"][0]["entity"]["name"].is_string());

    // The CLI reads the same answer from the API and from the store.
    let api_env = [("SUBSIDY_API_TOKEN", bureau.as_str())];
    let from_api = run_ok(&["accruals", "--entity", &top, "--json", "--api", &base], &ledger, &api_env);
    let from_store = run_ok(&["accruals", "--entity", &top, "--json"], &ledger, &[]);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&from_api).unwrap(), serde_json::from_str::<serde_json::Value>(&from_store).unwrap());
    let table = run_ok(&["accruals", "--entity", &top, "--api", &base], &ledger, &api_env);
    assert!(table.contains("2025-06") && table.contains("closed") && table.contains("provisional"), "{table}");
    let ledger_json: serde_json::Value = serde_json::from_str(&run_ok(&["ledger", "--entity", &top, "--period", "2025-09", "--json"], &ledger, &[])).unwrap();
    let lines = ledger_json["lines"].as_array().unwrap().len() as u64;
    assert_eq!(lines, ledger_json["total_lines"].as_u64().unwrap());
    let table = run_ok(&["ledger", "--entity", &top, "--period", "2025-09", "--api", &base], &ledger, &api_env);
    assert_eq!(table.lines().count() as u64, lines + 2, "a title, a header and one row per line:\n{table}");

    // A token added to the file works after SIGHUP, without a restart.
    let (fresh, entry) = new_token(&["--role", "entity", "--credit-code", &top]);
    let own = format!("{base}/v1/entities/{top}/accruals");
    assert_eq!(curl(&own, &fresh, "application/json").0, 401);
    std::fs::write(&tokens, format!("{bureau_entry}{entry}")).unwrap();
    let pid = server.pid().to_string();
    assert!(Command::new("kill").args(["-HUP", &pid]).status().unwrap().success());
    wait_until("the new token to work", || curl(&own, &fresh, "application/json").0 == 200);
    assert_eq!(curl(&format!("{base}/v1/overview?period=2025-09"), &fresh, "application/json").0, 403);

    schemathesis(&base, &bureau, dir.path());
    let (status, metrics) = curl(&format!("{base}/metrics"), "", "text/plain");
    assert_eq!(status, 200);
    assert_promtool_clean(&metrics);
    let gauge = |name: &str| metrics.lines().find_map(|l| l.strip_prefix(&format!("{name} "))?.parse::<f64>().ok()).unwrap_or(-1.0);
    assert!(gauge("subsidy_api_open_months") >= 1.0, "{metrics}");
    // 2025-06 is closed; the oldest open month is July, which ended at 2025-08-01T00:00+08:00.
    assert_eq!(gauge("subsidy_api_oldest_open_month_end_timestamp_seconds"), 1_753_977_600.0, "{metrics}");
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let done = server.wait(RUN_LIMIT);
    assert!(done.status.success(), "serve did not stop cleanly: {}", done.stderr);
    assert_quiet("serve stopped with SIGTERM", &done.stderr);
    let log = done.stderr;
    assert!(!log.contains(&bureau) && !log.contains(&fresh), "tokens never reach the log");
}

/// Resident memory of a process, bytes.
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status.lines().find_map(|l| l.strip_prefix("VmRSS:")).unwrap().trim().trim_end_matches("kB").trim().parse().unwrap();
    kib * 1024
}

#[test]
fn a_thousand_distinct_pages_keep_serve_within_its_cache_budget() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger.sqlite");
    let mut demo = meter();
    demo.current_dir(dir.path()).args(["demo", "--exit-after-settle", "--records", "4000", "--metrics-addr", "127.0.0.1:0", "--sqlite"]).arg(&ledger).env("RUST_LOG", "warn");
    let done = Proc::start("demo", demo).wait(RUN_LIMIT);
    assert!(done.status.success(), "demo failed: {}", done.stderr);
    let (bureau, entry) = new_token(&["--role", "bureau"]);
    let tokens = dir.path().join("tokens.toml");
    std::fs::write(&tokens, &entry).unwrap();
    let budget: u64 = 1 << 20;
    let addr = free_addr();
    let base = format!("http://{addr}");
    let mut serve = meter();
    serve.args(["serve", "--listen", &addr, "--tokens"]).arg(&tokens).arg("--sqlite").arg(&ledger).env("RUST_LOG", "warn").env("SUBSIDY_API_CACHE_BYTES", budget.to_string());
    let server = Proc::start("serve", serve);
    wait_until("serve answering", || curl(&format!("{base}/openapi.json"), "", "application/json").0 == 200);
    let (_, overview) = curl(&format!("{base}/v1/overview?period=2025-09"), &bureau, "application/json");
    let overview: serde_json::Value = serde_json::from_str(&overview).unwrap();
    let top = overview["top_entities"][0]["entity"]["credit_code"].as_str().unwrap().to_string();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let client = reqwest::Client::new();
    let fetch = |url: String| {
        let (client, bureau) = (client.clone(), bureau.clone());
        async move {
            let r = client.get(&url).bearer_auth(&bureau).timeout(Duration::from_secs(30)).send().await.unwrap();
            let status = r.status().as_u16();
            (status, r.bytes().await.unwrap().len())
        }
    };
    // Warm up: the book, the allocator's arenas, a few pages.
    let mut page_bytes = 0;
    for limit in 1..=20 {
        let (status, len) = runtime.block_on(fetch(format!("{base}/v1/entities/{top}/ledger?period=2025-09&limit={limit}")));
        assert_eq!(status, 200);
        page_bytes = len;
    }
    assert!(page_bytes > 2000, "pages of some size: {page_bytes} bytes");
    let before = rss(server.pid());
    let mut served = 0u64;
    for limit in 21..=1000 {
        let (status, len) = runtime.block_on(fetch(format!("{base}/v1/entities/{top}/ledger?period=2025-09&limit={limit}")));
        assert_eq!(status, 200);
        served += len as u64;
    }
    for _ in 0..1000 {
        let forged = format!("{:032x}{:08x}", rand::random::<u128>(), rand::random::<u32>());
        let (status, _) = runtime.block_on(fetch(format!("{base}/v1/entities/{top}/ledger?period=2025-09&cursor={forged}")));
        assert_eq!(status, 400, "a cursor the server did not issue");
    }
    let after = rss(server.pid());
    eprintln!("serve RSS {before} bytes before and {after} after {served} bytes of distinct pages and 1000 forged cursors (cache budget {budget})");
    assert!(served > 8 * budget, "the pages asked for ({served} bytes) are far more than the budget");
    let margin = 32 << 20;
    assert!(after < before + budget + margin, "serve grew from {before} to {after} bytes serving {served} bytes of distinct pages (budget {budget})");
    let (_, metrics) = curl(&format!("{base}/metrics"), "", "text/plain");
    let gauge = |name: &str| metrics.lines().find_map(|l| l.strip_prefix(&format!("{name} "))?.parse::<f64>().ok()).unwrap_or(-1.0);
    assert!(gauge("subsidy_api_cache_bytes") > 0.0 && gauge("subsidy_api_cache_bytes") <= budget as f64, "{metrics}");
    assert!(gauge("subsidy_api_cache_evictions_total") > 0.0, "{metrics}");
    drop(server);
}

/// Runs schemathesis against the served document with every check, in its coverage and
/// fuzzing phases. Two constraints cannot be written as a pattern: a credit code's check
/// character and a record id's length in bytes; the document names their formats and
/// `tests/schemathesis/subsidy_formats.py` teaches schemathesis to generate them. A
/// cursor is opaque — only one the server issued for the same entity (or reader) and
/// month is valid — so for the two operations that take one, a 400 to a schema-valid
/// request is expected (`schemathesis.toml` below); every other operation must accept
/// whatever the schema allows.
/// Opens the FIFO at `path` for writing, which waits until a reader opens it; at most 30 s.
fn open_for_writing(path: &Path) -> std::fs::File {
    let (tx, rx) = std::sync::mpsc::channel();
    let path = path.to_path_buf();
    std::thread::spawn(move || tx.send(std::fs::OpenOptions::new().write(true).open(&path)));
    rx.recv_timeout(Duration::from_secs(30)).expect("serve did not open its token file within 30 s").expect("open the FIFO")
}

/// A SIGHUP that comes while `serve` starts is a request to re-read the token file, not the end
/// of the process. The token file is a FIFO, so the test knows when `serve` is reading it (its
/// first step, before the store, the book and the listener) and sends SIGHUP then.
#[test]
fn a_sighup_while_serve_starts_does_not_end_it() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger.sqlite");
    let fifo = dir.path().join("tokens.toml");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let (first, first_entry) = new_token(&["--role", "bureau"]);
    let (second, second_entry) = new_token(&["--role", "bureau"]);
    let addr = free_addr();
    let base = format!("http://{addr}");
    let mut command = meter();
    command.args(["serve", "--listen", &addr, "--tokens"]).arg(&fifo).arg("--sqlite").arg(&ledger).env("RUST_LOG", "warn");
    let mut server = Proc::start("serve", command);
    let mut tokens = open_for_writing(&fifo);
    assert!(Command::new("kill").args(["-HUP", &server.pid().to_string()]).status().unwrap().success());
    std::thread::sleep(Duration::from_millis(500));
    let _ = tokens.write_all(first_entry.as_bytes());
    drop(tokens);
    let settlements = format!("{base}/v1/settlements?period=2025-09");
    let start = Instant::now();
    while curl(&settlements, &first, "application/json").0 != 200 {
        if let Some(status) = server.try_status() {
            panic!("serve ended ({status}) after a SIGHUP while it started");
        }
        assert!(start.elapsed() < Duration::from_secs(30), "serve did not answer within 30 s");
        std::thread::sleep(Duration::from_millis(100));
    }
    // The early SIGHUP asked for a re-read: it reads the file once more, now with another token.
    let mut tokens = open_for_writing(&fifo);
    tokens.write_all(second_entry.as_bytes()).unwrap();
    drop(tokens);
    wait_until("the re-read token file to be in force", || curl(&settlements, &second, "application/json").0 == 200);
    assert_eq!(curl(&settlements, &first, "application/json").0, 401);
    assert!(Command::new("kill").args(["-TERM", &server.pid().to_string()]).status().unwrap().success());
    let done = server.wait(RUN_LIMIT);
    assert!(done.status.success(), "serve did not stop cleanly: {}", done.stderr);
}

/// Runs schemathesis against the served document (positive_data_acceptance is left out:
/// the document cannot express a credit code's check character or a cursor's contents,
/// so schema-valid values of those are rightly refused with 400).
fn schemathesis(base: &str, token: &str, work: &Path) {
    let python = std::env::var("SUBSIDY_PYTHON").unwrap_or_else(|_| ".state/venv/bin/python".into());
    let bin = Path::new(&python).with_file_name("schemathesis");
    assert!(bin.exists(), "schemathesis is required (install it with `bash deploy/dev/services.sh install`); not found at {}", bin.display());
    let config = work.join("schemathesis.toml");
    std::fs::write(&config, SCHEMATHESIS_CONFIG).unwrap();
    let hooks = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemathesis");
    // Run where its cache of findings lands in the test's directory, not the repository.
    let out = Command::new(&bin)
        .current_dir(work)
        .env("PYTHONPATH", &hooks)
        .env("SCHEMATHESIS_HOOKS", "subsidy_formats")
        .arg("--config-file")
        .arg(&config)
        .args(["run", &format!("{base}/openapi.json"), "--checks", "all", "--max-examples", "30", "--workers", "2"])
        .args(["-H", &format!("Authorization: Bearer {token}"), "--no-color", "--seed", "2025"])
        .output()
        .expect("run schemathesis");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "schemathesis found failures:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
}

/// Operations taking a server-issued cursor: a forged one is a 400 by design. The
/// programme's operations name claims, batches and entities that must exist and steps that
/// must fit the programme's state, which a schema cannot state: a schema-valid request may
/// rightly be a 400 (a blank reason, months of two years), 404 or 409; the credit code a
/// query names may fail its check character (400); and a body past the server's limit is
/// a 413 whatever the schema allows. A consistency proof from a larger log to a smaller
/// one, and a bureau's or city's proof request naming no entity, are 400s no schema states.
const SCHEMATHESIS_CONFIG: &str = r#"
[[operations]]
include-name = ["GET /v1/entities/{credit_code}/ledger", "GET /v1/settlements", "GET /v1/log/consistency", "GET /v1/log/proof"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "401", "403", "404"]

[[operations]]
include-name = ["GET /v1/claims", "GET /v1/claims/{claim_id}", "GET /v1/batches/{batch_id}", "GET /v1/batches/{batch_id}/csv", "GET /v1/receivables", "POST /v1/years/{year}/close"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "401", "403", "404", "409"]

[[operations]]
include-name = ["POST /v1/claims", "POST /v1/claims/{claim_id}/review", "POST /v1/batches", "POST /v1/findings"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "401", "403", "404", "409", "413"]
checks.negative_data_rejection.expected-statuses = ["400", "401", "403", "404", "409", "413", "415", "422"]
"#;
