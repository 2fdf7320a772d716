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
//!
//! Memory: one ledger holds every record id when the file's estimated need fits
//! `--memory-budget`; otherwise the state is spilled ([`spill`]): copies go to
//! bucket files by record id, groups of buckets are taken through a ledger each,
//! and the exclusions are merged back into the one-ledger order. The order is
//! copy exclusions by the line they came at (rejections too), then standing
//! lines that earn nothing by position; both keys are unique, so the merge gives
//! the same bytes. Counts and accruals add up over ledgers of disjoint ids.

use crate::cli::RecomputeArgs;
use crate::config::{load_funding, load_policy, load_registry};
use anyhow::{Context, Result};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use crate::output::Output;
use crate::terminal::safe;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use subsidy_core::funding::Notice;
use subsidy_core::registry::Finding;
use subsidy_core::report::settlements_csv;
use subsidy_core::{money::format_yuan, Accruals, Decision, Facts, Ingested, Ledger, LedgerTotals, PolicySet, ReasonCode, Registry, Rejection, Settlement};

mod lines;
pub mod spill;
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
fn copy_exclusions<'a>(line_no: u64, record_id: &'a str, revision: u32, ingested: &Ingested) -> impl Iterator<Item = Exclusion<'a>> {
    let own = ingested.excluded_as().map(|reason| Exclusion::of(line_no, record_id, revision, reason));
    let displaced = ingested.displaced.map(|d| Exclusion::of(d.position, record_id, d.revision, d.reason));
    own.into_iter().chain(displaced)
}

/// The exclusion of a line the parser refused.
fn rejected<'a>(line_no: u64, rejection: &'a Rejection, raw: &'a str) -> Exclusion<'a> {
    Exclusion { line: line_no, record_id: None, revision: None, reason: rejection.reason.as_str(), field: rejection.field, detail: Some(&rejection.detail), raw: Some(raw) }
}

/// Writes `item` as one JSON line, when there is somewhere to write it.
fn write_json(out: &mut Option<&mut dyn Write>, item: &impl Serialize) -> Result<()> {
    if let Some(w) = out {
        serde_json::to_writer(&mut **w, item)?;
        w.write_all(b"\n")?;
    }
    Ok(())
}

#[derive(Serialize)]
struct FindingLine<'a> {
    issue: &'static str,
    key: &'a str,
    detail: &'a str,
}

/// What the rules are applied with.
#[derive(Clone, Copy)]
struct Rules<'a> {
    registry: &'a Registry,
    policy: &'a PolicySet,
}

/// Every line counted by what became of it, added up over however many ledgers.
#[derive(Debug, Default, PartialEq)]
struct Tally {
    lines: u64,
    blank: u64,
    rejected: BTreeMap<ReasonCode, u64>,
    records: u64,
    totals: LedgerTotals,
    decisions: BTreeMap<Decision, u64>,
}

impl Tally {
    fn reject(&mut self, reason: ReasonCode) {
        *self.rejected.entry(reason).or_default() += 1;
    }

    /// Adds counts of other lines and other record ids.
    fn add(&mut self, other: &Tally) {
        self.lines += other.lines;
        self.blank += other.blank;
        self.records += other.records;
        self.totals.eligible += other.totals.eligible;
        for (reason, n) in &other.rejected {
            *self.rejected.entry(*reason).or_default() += n;
        }
        for (reason, n) in &other.totals.by_reason {
            *self.totals.by_reason.entry(*reason).or_default() += n;
        }
        for (d, n) in &other.decisions {
            *self.decisions.entry(*d).or_default() += n;
        }
    }

    /// Adds a ledger's counts (ledgers hold disjoint record ids).
    fn add_ledger(&mut self, ledger: &Ledger<'_>) {
        self.records += ledger.record_count() as u64;
        let totals = ledger.totals();
        self.totals.eligible += totals.eligible;
        for (reason, n) in totals.by_reason {
            *self.totals.by_reason.entry(reason).or_default() += n;
        }
        for (d, n) in ledger.decisions() {
            *self.decisions.entry(*d).or_default() += n;
        }
    }
}

/// What a pass over the records comes to, whichever way it ran.
#[derive(Debug, PartialEq)]
struct Outcome {
    tally: Tally,
    settlements: Vec<Settlement>,
    notices: Vec<Notice>,
}

/// Where the per-record state goes.
#[derive(Debug, Clone)]
enum Mode {
    /// One ledger in memory.
    InMemory,
    /// Spilled to `buckets` bucket files in a folder made in `dir`, taken back in groups of
    /// at most `group_bytes` frame bytes.
    Spilled { dir: PathBuf, buckets: usize, group_bytes: u64 },
}

/// Runs `recompute`.
pub fn run(args: &RecomputeArgs) -> Result<()> {
    let policy = load_policy(args.policy.as_deref())?;
    let mut loaded = load_registry(&args.entities, &args.centers)?;
    let funding = load_funding(&mut loaded.registry, args.funded_elsewhere.as_deref(), args.supplier_claims.as_deref())?;
    let rules = Rules { registry: &loaded.registry, policy: &policy };
    let file = File::open(&args.records).with_context(|| format!("cannot read records file {}", args.records.display()))?;
    let mode = mode(args, &file)?;
    let mut out = Output::create(&args.out, args.force)?;
    let mut exclusions = JsonLines::create(args.exclusions.as_deref(), args.force)?;
    let mut findings = JsonLines::create(args.findings.as_deref(), args.force)?;
    for f in &loaded.findings {
        findings.write(&FindingLine { issue: f.issue.as_str(), key: &f.key, detail: &f.detail })?;
    }
    let excl = exclusions.0.as_mut().map(|o| o.writer() as &mut dyn Write);
    let outcome = recompute(file, &args.records, rules, excl, &mode)?;
    for n in &outcome.notices {
        findings.write(&FindingLine { issue: n.issue, key: &n.key, detail: &n.detail })?;
    }
    for r in &funding.repeated {
        findings.write(&FindingLine { issue: "repeated_entry", key: "", detail: r })?;
    }
    out.writer().write_all(settlements_csv(&outcome.settlements).as_bytes()).with_context(|| format!("cannot write {}", args.out.display()))?;
    findings.finish()?;
    exclusions.finish()?;
    out.commit()?;
    summarise(&outcome, loaded.refused, &loaded.findings);
    summarise_funding(&funding, &outcome.notices);
    Ok(())
}

/// In memory when the records file's estimated need fits `--memory-budget`, else spilled
/// (after checking the spill folder's disk has room for it).
fn mode(args: &RecomputeArgs, file: &File) -> Result<Mode> {
    let size = file.metadata().ok().filter(std::fs::Metadata::is_file).map(|m| m.len());
    let budget = args.memory_budget;
    if size.is_some_and(|s| (s as f64 * spill::MEMORY_PER_INPUT_BYTE) as u64 <= budget) {
        return Ok(Mode::InMemory);
    }
    let dir = match &args.temp_dir {
        Some(d) => d.clone(),
        None => args.out.parent().filter(|p| !p.as_os_str().is_empty()).map_or_else(|| PathBuf::from("."), std::path::Path::to_path_buf),
    };
    if let Some(size) = size {
        let runs = if args.exclusions.is_some() { 1.0 } else { 0.0 };
        spill::check_free_space(&dir, (size as f64 * spill::DISK_PER_INPUT_BYTE * (1.0 + runs)) as u64)?;
    }
    // Half the budget for the ledgers, one at a time per core.
    let group_bytes = (budget / 2 / spill::LEDGER_BYTES_PER_FRAME_BYTE / workers() as u64).max(1);
    Ok(Mode::Spilled { dir, buckets: spill::bucket_count(size, budget), group_bytes })
}

/// Takes every line of `input` through the rules, writing the exclusions to `excl`.
fn recompute(input: impl Read + Send, path: &Path, rules: Rules<'_>, excl: Option<&mut dyn Write>, mode: &Mode) -> Result<Outcome> {
    match mode {
        Mode::InMemory => in_memory(input, path, rules, excl),
        Mode::Spilled { dir, buckets, group_bytes } => spilled(input, path, rules, excl, &spill::SpillDir::create(dir)?, *buckets, *group_bytes),
    }
}

fn workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// One ledger holds every record id: exclusions of copies as their lines come, then the
/// standing lines that earn nothing.
fn in_memory(input: impl Read + Send, path: &Path, rules: Rules<'_>, mut excl: Option<&mut dyn Write>) -> Result<Outcome> {
    let mut ledger = Ledger::new(rules.policy);
    let mut tally = Tally::default();
    let lines = for_each_line(input, path, workers(), |line_no, line| match line {
        Line::Blank => {
            tally.blank += 1;
            Ok(())
        }
        Line::Rejected { rejection, raw } => {
            tally.reject(rejection.reason);
            write_json(&mut excl, &rejected(line_no, rejection, raw))
        }
        Line::Record(record, fingerprint) => {
            let ingested = ledger.ingest(record, *fingerprint, line_no, rules.registry);
            copy_exclusions(line_no, &record.record_id, record.revision, &ingested).try_for_each(|e| write_json(&mut excl, &e))
        }
    })?;
    tally.lines = lines;
    standing_exclusions(&ledger, rules.registry, |_, e| write_json(&mut excl, e))?;
    tally.add_ledger(&ledger);
    let notices = subsidy_core::funding::review(ledger.lines().map(|(_, l)| &l.standing.facts), rules.registry);
    Ok(Outcome { tally, settlements: ledger.settle(), notices })
}

/// The standing lines of `ledger` that earn nothing, by position, each with its position.
fn standing_exclusions(ledger: &Ledger<'_>, registry: &Registry, mut emit: impl FnMut(u64, &Exclusion<'_>) -> Result<()>) -> Result<()> {
    let details = funding_details(ledger, registry);
    for e in ledger.excluded() {
        let detail = details.get(e.record_id).map(String::as_str);
        emit(e.position, &Exclusion { detail, ..Exclusion::of(e.position, e.record_id, e.revision, e.reason) })?;
    }
    Ok(())
}

/// The facts [`subsidy_core::funding::review`] reads, kept across ledgers: of every line
/// whose record id the lists name, and of one line for each contract they name. It never
/// looks at another, so it says the same of these as of every line.
#[derive(Debug, Default)]
struct ReviewFacts {
    facts: Vec<Facts>,
    contracts: HashSet<String>,
}

impl ReviewFacts {
    fn keep(&mut self, ledger: &Ledger<'_>, lists: &subsidy_core::FundingLists) {
        if lists.is_empty() {
            return;
        }
        for (_, line) in ledger.lines() {
            let f = &line.standing.facts;
            let new_contract = f.contract_id.as_deref().filter(|c| lists.names_contract(c) && !self.contracts.contains(*c));
            if let Some(c) = new_contract {
                self.contracts.insert(c.to_string());
            }
            if new_contract.is_some() || lists.names_record(&f.record_id) {
                self.facts.push(f.clone());
            }
        }
    }
}

/// Spilled: pass 1 scatters the copies into bucket files by record id and the rejections
/// into a run; pass 2 takes groups of buckets through a fresh ledger each, one group per
/// core at a time, writing runs of copy exclusions (keyed by the line they came at) and of
/// standing exclusions (keyed by position); the runs are then merged into the order
/// [`in_memory`] writes. Ledgers hold disjoint record ids, so their counts and accruals add up.
fn spilled(input: impl Read + Send, path: &Path, rules: Rules<'_>, excl: Option<&mut dyn Write>, dir: &spill::SpillDir, buckets: usize, group_bytes: u64) -> Result<Outcome> {
    let keep_exclusions = excl.is_some();
    let mut tally = Tally::default();
    let mut scatter = spill::Buckets::create(dir, buckets)?;
    let rejected_path = dir.file("rejected");
    let mut rejected_run = keep_exclusions.then(|| spill::RunWriter::create(&rejected_path)).transpose()?;
    let mut json = Vec::with_capacity(1024);
    let lines = for_each_line(input, path, workers(), |line_no, line| match line {
        Line::Blank => {
            tally.blank += 1;
            Ok(())
        }
        Line::Rejected { rejection, raw } => {
            tally.reject(rejection.reason);
            push_json(rejected_run.as_mut(), &mut json, line_no, &rejected(line_no, rejection, raw))
        }
        Line::Record(record, fingerprint) => scatter.push(line_no, record, *fingerprint),
    })?;
    tally.lines = lines;
    let spilled = scatter.finish()?;
    let mut taken = Taken { tally, ..Taken::default() };
    if let Some(run) = rejected_run {
        run.finish()?;
        taken.copy_runs.push(rejected_path);
    }
    let sizes: Vec<u64> = spilled.iter().map(|b| b.bytes).collect();
    let groups = spill::groups(&sizes, group_bytes);
    let (next, failed) = (AtomicUsize::new(0), AtomicBool::new(false));
    let parts: Vec<Result<Taken>> = std::thread::scope(|s| {
        let take = || {
            let mut mine = Taken::default();
            while !failed.load(Ordering::Relaxed) {
                let g = next.fetch_add(1, Ordering::Relaxed);
                let Some(group) = groups.get(g) else { break };
                match take_group(g, group.clone(), &spilled, dir, rules, keep_exclusions) {
                    Ok(t) => mine.add(t),
                    Err(e) => {
                        failed.store(true, Ordering::Relaxed);
                        return Err(e);
                    }
                }
            }
            Ok(mine)
        };
        let handles: Vec<_> = (0..workers().min(groups.len()).max(1)).map(|_| s.spawn(take)).collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err(anyhow::anyhow!("a ledger thread stopped unexpectedly")))).collect()
    });
    for part in parts {
        taken.add(part?);
    }
    if let Some(out) = excl {
        spill::merge_runs(spill::open_runs(&taken.copy_runs)?, out)?;
        spill::merge_runs(spill::open_runs(&taken.standing_runs)?, out)?;
    }
    let notices = subsidy_core::funding::review(taken.review.facts.iter(), rules.registry);
    Ok(Outcome { tally: taken.tally, settlements: subsidy_core::settle(&taken.accruals, rules.policy), notices })
}

/// What groups of buckets leave once their ledgers are dropped.
#[derive(Debug, Default)]
struct Taken {
    accruals: Accruals,
    tally: Tally,
    review: ReviewFacts,
    copy_runs: Vec<PathBuf>,
    standing_runs: Vec<PathBuf>,
}

impl Taken {
    fn add(&mut self, other: Taken) {
        for (key, accrual) in other.accruals.iter() {
            self.accruals.insert(*key, accrual);
        }
        self.tally.add(&other.tally);
        // A contract may be represented twice; review reads which contracts occur, not how often.
        self.review.facts.extend(other.review.facts);
        self.copy_runs.extend(other.copy_runs);
        self.standing_runs.extend(other.standing_runs);
    }
}

/// Group `g` (the buckets `group`) through one fresh ledger; each bucket file is removed once read.
fn take_group(g: usize, group: std::ops::Range<usize>, spilled: &[spill::Bucket], dir: &spill::SpillDir, rules: Rules<'_>, keep_exclusions: bool) -> Result<Taken> {
    let mut taken = Taken::default();
    let mut ledger = Ledger::new(rules.policy);
    let mut json = Vec::with_capacity(1024);
    for b in group {
        let run_path = dir.file(&format!("copies-{b:04}"));
        let mut run = keep_exclusions.then(|| spill::RunWriter::create(&run_path)).transpose()?;
        let mut frames = spill::Frames::open(&spilled[b].path)?;
        while let Some(copy) = frames.next_copy()? {
            let ingested = ledger.ingest_with(copy.record_id, copy.revision, copy.fingerprint, || copy.facts(), copy.line, rules.registry);
            for e in copy_exclusions(copy.line, copy.record_id, copy.revision, &ingested) {
                push_json(run.as_mut(), &mut json, copy.line, &e)?;
            }
        }
        drop(frames);
        std::fs::remove_file(&spilled[b].path).with_context(|| format!("cannot remove spill file {}", spilled[b].path.display()))?;
        if let Some(run) = run {
            run.finish()?;
            taken.copy_runs.push(run_path);
        }
    }
    if keep_exclusions {
        let run_path = dir.file(&format!("standing-{g:04}"));
        let mut run = spill::RunWriter::create(&run_path)?;
        standing_exclusions(&ledger, rules.registry, |position, e| push_json(Some(&mut run), &mut json, position, e))?;
        run.finish()?;
        taken.standing_runs.push(run_path);
    }
    for (key, accrual) in ledger.accruals().iter() {
        taken.accruals.insert(*key, accrual);
    }
    taken.tally.add_ledger(&ledger);
    taken.review.keep(&ledger, rules.registry.funding());
    Ok(taken)
}

/// Appends `item`, as one JSON line, to a run under `key`, when there is a run.
fn push_json<W: Write>(run: Option<&mut spill::RunWriter<W>>, buf: &mut Vec<u8>, key: u64, item: &impl Serialize) -> Result<()> {
    if let Some(run) = run {
        buf.clear();
        serde_json::to_writer(&mut *buf, item)?;
        buf.push(b'\n');
        run.push(key, buf)?;
    }
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
fn summarise(outcome: &Outcome, refused: usize, findings: &[Finding]) {
    let Outcome { tally, settlements, .. } = outcome;
    let (totals, lines, blank, rejected) = (&tally.totals, tally.lines, tally.blank, &tally.rejected);
    let subsidy: rust_decimal::Decimal = settlements.iter().map(|s| s.subsidy).sum();
    let count = |d| tally.decisions.get(&d).copied().unwrap_or(0);
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "recompute: {lines} lines, {} distinct records, {} settlements, subsidy {} yuan", tally.records, settlements.len(), format_yuan(subsidy));
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

#[cfg(test)]
mod tests;
