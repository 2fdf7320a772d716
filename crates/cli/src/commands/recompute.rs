//! `recompute`: settle months straight from files with the pipeline's own
//! core, writing the settlement CSV and, optionally, every exclusion.
//!
//! Also the audit tool: anyone can re-derive the ledger from the raw records.
//!
//! Lines are parsed on worker threads ([`lines`]) and taken into the ledger in
//! input order on this one, so every output is byte for byte what a
//! one-line-at-a-time pass gives.

use crate::cli::RecomputeArgs;
use crate::config::{load_policy, load_registry};
use anyhow::{Context, Result};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use subsidy_core::report::settlements_csv;
use subsidy_core::{money::format_yuan, Ledger, Outcome, ReasonCode};

mod lines;
use lines::{for_each_line, Line};

/// One line of the exclusions file.
#[derive(Debug, Serialize)]
struct Exclusion<'a> {
    line: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    record_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    revision: Option<u32>,
    reason: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    raw: Option<&'a str>,
}

impl<'a> Exclusion<'a> {
    fn of(line: u64, record_id: &'a str, revision: u32, reason: ReasonCode) -> Exclusion<'a> {
        Exclusion { line, record_id: Some(record_id), revision: Some(revision), reason: reason.as_str(), field: None, detail: None, raw: None }
    }
}

struct Sink(Option<BufWriter<File>>);

impl Sink {
    fn write(&mut self, e: &Exclusion<'_>) -> Result<()> {
        if let Some(w) = &mut self.0 {
            serde_json::to_writer(&mut *w, e)?;
            w.write_all(b"\n")?;
        }
        Ok(())
    }
}

/// Runs `recompute`.
pub fn run(args: &RecomputeArgs) -> Result<()> {
    let policy = load_policy(args.policy.as_deref())?;
    let (registry, refused_items) = load_registry(&args.entities, &args.centers)?;
    let file = File::open(&args.records).with_context(|| format!("cannot read records file {}", args.records.display()))?;
    let mut sink = Sink(match &args.exclusions {
        Some(p) => Some(BufWriter::new(File::create(p).with_context(|| format!("cannot create {}", p.display()))?)),
        None => None,
    });
    // Not pre-sized from the file size: repeated lines would then cost memory
    // they do not need, and an over-sized table costs more page faults than
    // the rehashes it saves (see docs/BENCHMARKS.md).
    let mut ledger = Ledger::new(&policy);
    let mut rejected: BTreeMap<ReasonCode, u64> = BTreeMap::new();
    let mut blank = 0u64;
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let line_no = for_each_line(file, &args.records, workers, |line_no, line| {
        let record = match line {
            Line::Record(r) => r,
            Line::Blank => {
                blank += 1;
                return Ok(());
            }
            Line::Rejected { rejection: rej, raw } => {
                *rejected.entry(rej.reason).or_default() += 1;
                return sink.write(&Exclusion {
                    line: line_no,
                    record_id: None,
                    revision: None,
                    reason: rej.reason.as_str(),
                    field: rej.field,
                    detail: Some(&rej.detail),
                    raw: Some(raw),
                });
            }
        };
        match ledger.ingest(record, line_no, &registry) {
            Outcome::Standing { replaced: Some((revision, position)), .. } => {
                sink.write(&Exclusion::of(position, &record.record_id, revision, ReasonCode::Superseded))
            }
            Outcome::Standing { replaced: None, .. } => Ok(()),
            Outcome::Duplicate => sink.write(&Exclusion::of(line_no, &record.record_id, record.revision, ReasonCode::Duplicate)),
            Outcome::Superseded => sink.write(&Exclusion::of(line_no, &record.record_id, record.revision, ReasonCode::Superseded)),
        }
    })?;
    for e in ledger.excluded() {
        sink.write(&Exclusion::of(e.position, e.record_id, e.revision, e.reason))?;
    }
    if let Some(mut w) = sink.0 {
        w.flush().context("cannot write the exclusions file")?;
    }
    let settlements = ledger.settle();
    std::fs::write(&args.out, settlements_csv(&settlements)).with_context(|| format!("cannot write {}", args.out.display()))?;

    let totals = ledger.totals();
    let subsidy: rust_decimal::Decimal = settlements.iter().map(|s| s.subsidy).sum();
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "recompute: {line_no} lines, {} distinct records, {} settlements, subsidy {} yuan", ledger.record_count(), settlements.len(), format_yuan(subsidy));
    let _ = writeln!(err, "  eligible                 {:>10}", totals.eligible);
    for (reason, n) in rejected.iter().chain(totals.by_reason.iter()) {
        let _ = writeln!(err, "  {:<24} {:>10}", reason.as_str(), n);
    }
    let _ = writeln!(err, "  {:<24} {:>10}", "duplicate", ledger.duplicates());
    let _ = writeln!(err, "  {:<24} {:>10}", "superseded", ledger.superseded());
    if blank > 0 {
        let _ = writeln!(err, "  {:<24} {:>10}", "blank lines", blank);
    }
    if refused_items > 0 {
        let _ = writeln!(err, "  {:<24} {:>10}", "refused registry items", refused_items);
    }
    Ok(())
}
