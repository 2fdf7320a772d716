//! Output files are written whole: a SIGKILL at any moment of `statements --out`
//! or `recompute --out --exclusions` leaves each file byte for byte as it was or
//! as a whole run writes it; an existing file is replaced only with `--force`.
//! No service is needed: the ledger is an embedded SQLite file.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;
use subsidy_core::{CreditCode, Period, Statement, StatementKind};
use subsidy_store::{Closure, LedgerStore, SqliteStore};
use support::meter;
use wait_timeout::ChildExt;

/// Kills per command: each at a random moment of a whole run.
const KILLS: usize = 12;

/// What a file held before the command ran.
const OLD: &[u8] = b"the file as it was before\n";

/// An embedded ledger with one closed month of `n` statement lines.
fn ledger_with_statements(dir: &Path, n: u32) -> PathBuf {
    let path = dir.join("ledger.sqlite");
    let store = SqliteStore::open(&path).unwrap();
    let period = Period::parse("2025-09").unwrap();
    let lines: Vec<Statement> = (0..n)
        .map(|i| Statement {
            credit_code: CreditCode::complete(&format!("91340100MA{i:07}")).unwrap(),
            payout_period: period,
            for_period: period,
            kind: StatementKind::Settled,
            eligible_base: rust_decimal::Decimal::new(i64::from(i) * 1234 + 5, 2),
            subsidy: rust_decimal::Decimal::new(i64::from(i) * 247, 2),
        })
        .collect();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        store.migrate().await.unwrap();
        store.commit_close(&Closure { period, close_id: "2025-09-test".into(), closed_at: chrono::Utc::now(), policy_hash: String::new() }, &lines).await.unwrap();
    });
    path
}

fn run(command: &mut Command) -> Output {
    let mut child = command.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    match child.wait_timeout(support::RUN_LIMIT).unwrap() {
        Some(_) => child.wait_with_output().unwrap(),
        None => {
            let _ = child.kill();
            panic!("{command:?} did not finish in {:?}", support::RUN_LIMIT)
        }
    }
}

/// Runs `command(targets)` whole once (into reference files), then `KILLS` times
/// over targets that hold [`OLD`], SIGKILLed at a random moment of a whole run's
/// length; after each kill every target is [`OLD`] or the reference, byte for byte.
fn killed_at_random(dir: &Path, names: &[&str], command: impl Fn(&[PathBuf]) -> Command) {
    let reference: Vec<PathBuf> = names.iter().map(|n| dir.join(format!("reference-{n}"))).collect();
    let started = Instant::now();
    let o = run(&mut command(&reference));
    assert!(o.status.success(), "a whole run failed: {}", String::from_utf8_lossy(&o.stderr));
    let whole = started.elapsed();
    let new: Vec<Vec<u8>> = reference.iter().map(|p| std::fs::read(p).unwrap()).collect();
    assert!(new.iter().map(Vec::len).sum::<usize>() > 100_000, "the outputs are big enough that writing them takes a moment");
    let targets: Vec<PathBuf> = names.iter().map(|n| dir.join(n)).collect();
    let mut outcomes = (0, 0);
    for round in 0..KILLS {
        for t in &targets {
            std::fs::write(t, OLD).unwrap();
        }
        let mut child = command(&targets).arg("--force").stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap();
        std::thread::sleep(whole.mul_f64(rand::random::<f64>() * 1.1));
        child.kill().unwrap();
        child.wait().unwrap();
        for (t, n) in targets.iter().zip(&new) {
            let got = std::fs::read(t).unwrap();
            assert!(got == OLD || got == *n, "kill {round}: {} is neither the old file nor the new one ({} bytes, new has {})", t.display(), got.len(), n.len());
            if got == OLD { outcomes.0 += 1 } else { outcomes.1 += 1 }
        }
    }
    eprintln!("{KILLS} kills over {whole:?} runs: {} files left as they were, {} complete new ones", outcomes.0, outcomes.1);
}

#[test]
fn a_kill_during_statements_leaves_the_old_file_or_the_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = ledger_with_statements(dir.path(), 200_000);
    killed_at_random(dir.path(), &["statements.csv"], |out| {
        let mut c = meter();
        c.args(["statements", "--sqlite"]).arg(&ledger).arg("--out").arg(&out[0]);
        c
    });
}

#[test]
fn a_kill_during_recompute_leaves_the_old_files_or_the_new_ones() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let generated = subsidy_platform::generate::generate(&subsidy_platform::generate::GenConfig { seed: 18, records: 100_000, ..Default::default() }).unwrap();
    generated.dataset.write_files(&data).unwrap();
    killed_at_random(dir.path(), &["settlements.csv", "exclusions.jsonl"], |out| {
        let mut c = meter();
        c.arg("recompute").arg("--records").arg(data.join("records.jsonl")).arg("--entities").arg(data.join("entities.json"));
        c.arg("--centers").arg(data.join("centers.json")).arg("--out").arg(&out[0]).arg("--exclusions").arg(&out[1]);
        c
    });
}

/// Without `--force` an existing file is refused, named, and left as it was; with it, replaced.
#[test]
fn an_existing_file_is_replaced_only_with_force() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = ledger_with_statements(dir.path(), 3);
    let out = dir.path().join("statements.csv");
    std::fs::write(&out, OLD).unwrap();
    let statements = |force: bool| {
        let mut c = meter();
        c.args(["statements", "--sqlite"]).arg(&ledger).arg("--out").arg(&out);
        if force {
            c.arg("--force");
        }
        run(&mut c)
    };
    let refused = statements(false);
    let err = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{err}");
    assert!(err.contains(&out.display().to_string()) && err.contains("--force"), "{err}");
    assert_eq!(std::fs::read(&out).unwrap(), OLD);
    let replaced = statements(true);
    assert!(replaced.status.success(), "{}", String::from_utf8_lossy(&replaced.stderr));
    let csv = std::fs::read_to_string(&out).unwrap();
    assert_eq!(csv.lines().count(), 4, "{csv}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().filter_map(Result::ok).filter(|e| e.file_name().to_string_lossy().starts_with(".tmp")).count(), 0, "no temporary file is left");

    // recompute checks every output before writing any: a refused --exclusions leaves --out unwritten.
    let (fresh, taken) = (dir.path().join("fresh.csv"), dir.path().join("taken.jsonl"));
    std::fs::write(&taken, OLD).unwrap();
    let golden = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/golden");
    let o = run(meter().arg("recompute").arg("--records").arg(golden.join("records.jsonl")).arg("--entities").arg(golden.join("entities.json")).arg("--centers").arg(golden.join("centers.json")).arg("--out").arg(&fresh).arg("--exclusions").arg(&taken));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("taken.jsonl") && err.contains("--force"), "{err}");
    assert!(!fresh.exists(), "no output is written when one is refused");
    assert_eq!(std::fs::read(&taken).unwrap(), OLD);
}

/// `--write-files` writes the three data-set files whole and refuses to replace them without `--force`.
#[test]
fn written_data_sets_are_replaced_only_with_force() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let write = |force: bool| {
        let mut c = meter();
        c.args(["platform-sim", "--records", "200", "--write-only", "--write-files"]).arg(&data).env("SUBSIDY_PLATFORM_TOKEN", "t");
        if force {
            c.arg("--force");
        }
        run(&mut c)
    };
    assert!(write(false).status.success());
    let records = std::fs::read(data.join("records.jsonl")).unwrap();
    std::fs::write(data.join("centers.json"), OLD).unwrap();
    let refused = write(false);
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success() && err.contains("records.jsonl") && err.contains("--force"), "{err}");
    assert_eq!(std::fs::read(data.join("centers.json")).unwrap(), OLD, "no file is replaced when one is refused");
    assert!(write(true).status.success());
    assert_eq!(std::fs::read(data.join("records.jsonl")).unwrap(), records);
    assert_ne!(std::fs::read(data.join("centers.json")).unwrap(), OLD);
    assert_eq!(std::fs::read_dir(&data).unwrap().count(), 3, "nothing but the three files");
}
