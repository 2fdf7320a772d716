//! `demo` runs the whole pipeline in one process on the in-process broker
//! and the embedded ledger; `export` afterwards equals `recompute` over the
//! data the simulator served.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::*;

#[test]
fn demo_then_export_equals_recompute() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let ledger = dir.path().join("ledger.sqlite");
    let mut command = meter();
    command
        .current_dir(dir.path())
        .args(["demo", "--exit-after-settle", "--records", "20000", "--metrics-addr", "127.0.0.1:0", "--write-files"])
        .arg(&data)
        .arg("--sqlite")
        .arg(&ledger)
        .env("RUST_LOG", "warn");
    let out = Proc::start("demo", command).wait(RUN_LIMIT);
    let stdout = out.stdout;
    assert!(out.status.success(), "demo failed: {}", out.stderr);
    assert_quiet("the demo", &out.stderr);
    for expected in ["period", "eligible spend", "excluded self-built", "2025-08", "dead-lettered by the collector", "where to look next", "export --sqlite"] {
        assert!(stdout.contains(expected), "summary lacks {expected:?}:\n{stdout}");
    }
    let csv = dir.path().join("export.csv");
    let o = meter().arg("export").arg("--sqlite").arg(&ledger).arg("--out").arg(&csv).output().unwrap();
    assert!(o.status.success(), "export failed: {}", String::from_utf8_lossy(&o.stderr));
    let expected = recompute(&data);
    assert!(expected.lines().count() > 200);
    assert_same(&std::fs::read_to_string(csv).unwrap(), &expected, "after the demo");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_demo_serves_clean_metrics_and_stops_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let mut command = meter();
    command.current_dir(dir.path()).args(["demo", "--records", "5000", "--metrics-addr", &addr, "--sqlite"]).arg(dir.path().join("ledger.sqlite")).env("RUST_LOG", "info");
    let demo = Proc::start("demo", command);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while scrape_metric(&addr, "subsidy_aggregator_lines_written_total").await < 1.0 {
        assert!(std::time::Instant::now() < deadline, "the demo wrote no line in 120 s");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    // The collector's and the aggregator's metrics, as one page.
    let page = scrape(&addr).await;
    assert!(page.contains("subsidy_collector_records_produced_total") && page.contains("subsidy_aggregator_lines_written_total"));
    assert_promtool_clean(&page);
    // Usually in its serving phase by now; quiet it must be in either.
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    let stopped = std::process::Command::new("kill").args(["-TERM", &demo.pid().to_string()]).status().unwrap();
    assert!(stopped.success());
    let out = tokio::task::spawn_blocking(move || demo.wait(RUN_LIMIT)).await.unwrap();
    assert!(out.status.success(), "demo failed: {}", out.stderr);
    assert_quiet("the demo stopped with SIGTERM", &out.stderr);
}
