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
