//! `recompute`: settle months straight from files with the pipeline's own
//! core, writing the settlement CSV and, optionally, every exclusion and the
//! registry's data-quality findings.
//!
//! Also the audit tool: anyone can re-derive the ledger from the raw records.
//! With `--funded-elsewhere` and `--supplier-claims` it excludes double funding
//! as the pipeline does from the same lists; each such exclusion names the
//! scheme or the supplier, and what the lists name that no line bears out (an
//! unknown record, a claim by a supplier that does not own the center) is a
//! finding.
//!
//! Lines are parsed on worker threads ([`lines`]) and taken into the ledger in
//! input order on this one, so every output is byte for byte what a
//! one-line-at-a-time pass gives. Every input line is accounted for once in
//! the exclusions file: a rejection, a copy that did not stand (duplicate,
//! superseded, revision conflict), or a standing line that earns nothing.

use crate::cli::RecomputeArgs;
use crate::config::{load_funding, load_policy, load_registry};
use anyhow::{Context, Result};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use crate::output::Output;
use crate::terminal::safe;
use std::fs::File;
use std::io::Write;
use subsidy_core::registry::Finding;
use subsidy_core::report::settlements_csv;
use subsidy_core::{money::format_yuan, Decision, Ingested, Ledger, ReasonCode, UsageRecord};

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

/// An optional JSON-lines output file, written whole.
struct JsonLines(Option<Output>);

impl JsonLines {
    fn create(path: Option<&std::path::Path>, force: bool) -> Result<JsonLines> {
        Ok(JsonLines(path.map(|p| Output::create(p, force)).transpose()?))
    }

    fn write(&mut self, item: &impl Serialize) -> Result<()> {
        if let Some(out) = &mut self.0 {
            let w = out.writer();
            serde_json::to_writer(&mut *w, item)?;
            w.write_all(b"\n")?;
        }
        Ok(())
    }

    fn finish(self) -> Result<()> {
        self.0.map_or(Ok(()), Output::commit)
    }
}

/// The exclusions a copy leaves: itself when it does not stand, the copy it displaced.
fn copy_exclusions<'a>(line_no: u64, record: &'a UsageRecord, ingested: &Ingested) -> impl Iterator<Item = Exclusion<'a>> {
    let own = ingested.excluded_as().map(|reason| Exclusion::of(line_no, &record.record_id, record.revision, reason));
    let displaced = ingested.displaced.map(|d| Exclusion::of(d.position, &record.record_id, d.revision, d.reason));
    own.into_iter().chain(displaced)
}

#[derive(Serialize)]
struct FindingLine<'a> {
    issue: &'static str,
    key: &'a str,
    detail: &'a str,
}

/// Runs `recompute`.
pub fn run(args: &RecomputeArgs) -> Result<()> {
    let policy = load_policy(args.policy.as_deref())?;
    let mut loaded = load_registry(&args.entities, &args.centers)?;
    let funding = load_funding(&mut loaded.registry, args.funded_elsewhere.as_deref(), args.supplier_claims.as_deref())?;
    let registry = &loaded.registry;
    let file = File::open(&args.records).with_context(|| format!("cannot read records file {}", args.records.display()))?;
    let mut out = Output::create(&args.out, args.force)?;
    let mut exclusions = JsonLines::create(args.exclusions.as_deref(), args.force)?;
    let mut findings = JsonLines::create(args.findings.as_deref(), args.force)?;
    for f in &loaded.findings {
        findings.write(&FindingLine { issue: f.issue.as_str(), key: &f.key, detail: &f.detail })?;
    }
    let mut ledger = Ledger::new(&policy);
    let mut rejected: BTreeMap<ReasonCode, u64> = BTreeMap::new();
    let mut blank = 0u64;
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let line_no = for_each_line(file, &args.records, workers, |line_no, line| match line {
        Line::Blank => {
            blank += 1;
            Ok(())
        }
        Line::Rejected { rejection: rej, raw } => {
            *rejected.entry(rej.reason).or_default() += 1;
            exclusions.write(&Exclusion { line: line_no, record_id: None, revision: None, reason: rej.reason.as_str(), field: rej.field, detail: Some(&rej.detail), raw: Some(raw) })
        }
        Line::Record(record, fingerprint) => {
            let ingested = ledger.ingest(record, *fingerprint, line_no, registry);
            copy_exclusions(line_no, record, &ingested).try_for_each(|e| exclusions.write(&e))
        }
    })?;
    let details = funding_details(&ledger, registry);
    for e in ledger.excluded() {
        let detail = details.get(e.record_id).map(String::as_str);
        exclusions.write(&Exclusion { detail, ..Exclusion::of(e.position, e.record_id, e.revision, e.reason) })?;
    }
    let notices = subsidy_core::funding::review(ledger.lines().map(|(_, l)| &l.standing.facts), registry);
    for n in &notices {
        findings.write(&FindingLine { issue: n.issue, key: &n.key, detail: &n.detail })?;
    }
    for r in &funding.repeated {
        findings.write(&FindingLine { issue: "repeated_entry", key: "", detail: r })?;
    }
    let settlements = ledger.settle();
    out.writer().write_all(settlements_csv(&settlements).as_bytes()).with_context(|| format!("cannot write {}", args.out.display()))?;
    findings.finish()?;
    exclusions.finish()?;
    out.commit()?;
    summarise(&ledger, &settlements, &rejected, line_no, blank, loaded.refused, &loaded.findings);
    summarise_funding(&funding, &notices);
    Ok(())
}

/// Which scheme or supplier excluded each line excluded for double funding, by record id.
fn funding_details(ledger: &Ledger<'_>, registry: &subsidy_core::Registry) -> HashMap<String, String> {
    if registry.funding().is_empty() {
        return HashMap::new();
    }
    ledger
        .lines()
        .filter(|(_, l)| matches!(l.assessment.reason, Some(ReasonCode::SubsidizedElsewhere | ReasonCode::ClaimedBySupplier)))
        .filter_map(|(id, l)| subsidy_core::funding_exclusion(&l.standing.facts, registry).map(|x| (id.to_string(), x.detail)))
        .collect()
}

/// The lists read and what they name that no line bears out, on stderr.
fn summarise_funding(funding: &crate::config::LoadedFunding, notices: &[subsidy_core::funding::Notice]) {
    if funding.funded.is_empty() && funding.claims.is_empty() {
        return;
    }
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "  {:<24} {:>10}", "funded-elsewhere entries", funding.funded.len());
    let _ = writeln!(err, "  {:<24} {:>10}", "supplier claims", funding.claims.len());
    for r in &funding.repeated {
        let _ = writeln!(err, "  {}", safe(r));
    }
    for n in notices {
        let _ = writeln!(err, "  funding {}: {}", n.issue, safe(&n.detail));
    }
}

/// The count of every line by what became of it, on stderr.
fn summarise(ledger: &Ledger<'_>, settlements: &[subsidy_core::Settlement], rejected: &BTreeMap<ReasonCode, u64>, lines: u64, blank: u64, refused: usize, findings: &[Finding]) {
    let totals = ledger.totals();
    let subsidy: rust_decimal::Decimal = settlements.iter().map(|s| s.subsidy).sum();
    let decisions = ledger.decisions();
    let count = |d| decisions.get(&d).copied().unwrap_or(0);
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "recompute: {lines} lines, {} distinct records, {} settlements, subsidy {} yuan", ledger.record_count(), settlements.len(), format_yuan(subsidy));
    let _ = writeln!(err, "  eligible                 {:>10}", totals.eligible);
    for (reason, n) in rejected.iter().chain(totals.by_reason.iter()) {
        let _ = writeln!(err, "  {:<24} {:>10}", reason.as_str(), n);
    }
    let _ = writeln!(err, "  {:<24} {:>10}", "duplicate", count(Decision::Duplicate));
    let _ = writeln!(err, "  {:<24} {:>10}", "superseded", count(Decision::Superseded) + count(Decision::Replaces));
    let _ = writeln!(err, "  {:<24} {:>10}", "conflicting copies", count(Decision::Conflict));
    if blank > 0 {
        let _ = writeln!(err, "  {:<24} {:>10}", "blank lines", blank);
    }
    if refused > 0 {
        let _ = writeln!(err, "  {:<24} {:>10}", "refused registry items", refused);
    }
    for f in findings {
        let _ = writeln!(err, "  registry {}: {} {}", f.issue.as_str(), safe(&f.key), safe(&f.detail));
    }
}
