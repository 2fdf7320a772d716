//! `close`: fixes a month for payment, fenced so that exactly one close of a
//! month stands however many closers run at once.
//!
//! The rules (what is frozen, which months close with it, whether the month
//! has ended) are the core's `plan_close`; this command reads the ledger and
//! the clock, and records the plan through the store's fence: one SQLite
//! transaction, or, on ClickHouse, staged lines, a claim in the log of closes
//! (the first standing claim of a month wins) and then the closure rows.
//!
//! Before it records anything, a close reconciles every month it closes with
//! the platform's usage counts (the core's `reconcile`): a center-day whose
//! ledger figures differ refuses the close, naming them, unless it is forced
//! with `--force-reason`; a forced close records the reason, the operator
//! and the gap then with its close id, before the closure.

use crate::cli::CloseArgs;
use anyhow::{anyhow, bail, Result};
use rust_decimal::Decimal;
use std::time::Duration;
use subsidy_bus::{Claim, ClosesLog};
use subsidy_core::money::format_yuan;
use subsidy_core::{plan_close, standing_claims, statements_digest, CloseError, CloseInput, ClosePlan, CloseRequest, Period, StatementKind};
use subsidy_core::document::short;
use subsidy_core::PolicyDocument;
use subsidy_core::Gap;
use subsidy_store::{CloseOverride, lines_under_other_documents, parse_positions, positions_text, settle_sums, BusPosition, CloseFence, CloseRecord, LedgerStore};

/// Longest wait for the log of closes to answer or be read to its end.
const LOG_TIMEOUT: Duration = Duration::from_secs(60);

/// Closes a month: freezes its settlements, closes the empty months before it, books adjustments.
pub async fn close(args: &CloseArgs) -> Result<()> {
    let period = Period::parse(&args.period).ok_or_else(|| anyhow!("--period {:?} is not a YYYY-MM month", args.period))?;
    let early_reason = match (args.force_early, args.reason.as_deref().map(str::trim)) {
        (true, Some(r)) if !r.is_empty() => Some(r.to_string()),
        (true, _) => bail!("--force-early needs --reason \"why\": the reason is recorded in the closure"),
        (false, Some(_)) => bail!("--reason is only for --force-early"),
        (false, None) => None,
    };
    // Read the key before anything is closed: a bad key file fails the command, not the signing after it.
    let signing_key = crate::commands::tlog::signing_key(&args.key)?;
    let force_reason = match args.force_reason.as_deref().map(str::trim) {
        Some("") => bail!("--force-reason needs a reason: it is recorded with the closure"),
        other => other,
    };
    let operator = crate::commands::programme::label(args.operator.as_deref());
    let store = crate::store::open(&args.store).await?;
    store.migrate().await.map_err(|e| anyhow!("migration failed: {e}"))?;
    let (policy, sequence) = crate::ledger_policy::for_reading(store.as_ref(), args.policy.as_deref()).await.map_err(|e| anyhow!("cannot close {period}: {e:#}"))?;
    let ask = Ask { period, early_reason: early_reason.as_deref(), policy, sequence, wait: Duration::from_secs(args.replica_wait), force_reason, operator };
    let (close_id, plan) = match store.close_fence() {
        CloseFence::Transaction => close_in_store(store.as_ref(), &ask).await?,
        CloseFence::Log => {
            let log = ClosesLog::open(&args.kafka_brokers, &args.topic_closes, LOG_TIMEOUT).await.map_err(|e| anyhow!("cannot open the log of closes: {e}"))?;
            match close_through_log(store.as_ref(), &log, &args.store.clickhouse_database, &ask).await? {
                Closed::Now(id, plan) => (id, plan),
                Closed::Completed(id) => {
                    eprintln!("close: {period} closed by close {id} (completed: its claim stood in the log, its closure was not yet recorded)");
                    return sign_after(store.as_ref(), signing_key.as_deref()).await;
                }
            }
        }
    };
    report(&close_id, &plan);
    eprintln!("close: computed under policy document {}{}", ask.policy.hash, ask.sequence.map_or_else(|| " (the ledger records none)".to_string(), |s| format!(" (sequence {s})")));
    sign_after(store.as_ref(), signing_key.as_deref()).await
}

/// Signs a checkpoint of the log with the closed month's lines, when a key is given. The
/// month stays closed if this fails; `log sign` signs it later (the same size signs the same).
async fn sign_after(store: &dyn LedgerStore, key: Option<&str>) -> Result<()> {
    let Some(key) = key else {
        return Ok(());
    };
    match crate::commands::tlog::sign_log(store, key).await {
        Ok(Some(row)) => eprintln!("close: signed the log's checkpoint of size {} (through {})", row.size, row.period),
        Ok(None) => eprintln!("close: the log's checkpoint is signed already"),
        Err(e) => bail!("the month is closed, but its checkpoint is not signed: {e:#}; sign it with `subsidy-meter log sign`"),
    }
    Ok(())
}

/// What a closer asks, and how.
struct Ask<'a> {
    period: Period,
    early_reason: Option<&'a str>,
    /// The ledger's policy document in force (the given or built-in one on a ledger that holds none).
    policy: PolicyDocument,
    /// Its sequence; `None` when the ledger holds no document.
    sequence: Option<u64>,
    wait: Duration,
    /// Why to close past a gap with the platform's counts, when forced.
    force_reason: Option<&'a str>,
    /// Who closes.
    operator: String,
}

enum Closed {
    /// This run closed the month.
    Now(String, ClosePlan),
    /// This run recorded the closure of a claim that stood already.
    Completed(String),
}

fn new_close_id(period: Period) -> String {
    format!("{period}-{:016x}", rand::random::<u64>())
}

/// Reads the ledger (after the store is up to date) and plans the close. Returns what it had seen too.
async fn plan(store: &dyn LedgerStore, ask: &Ask<'_>) -> Result<(ClosePlan, Vec<BusPosition>)> {
    let period = ask.period;
    store.await_up_to_date(ask.wait).await.map_err(|e| anyhow!("cannot close {period}: {e}"))?;
    let read = |e: subsidy_store::StoreError| anyhow!("cannot read the ledger: {e}");
    // Positions first: the figures read after them have seen at least these.
    let seen = store.positions_seen().await.map_err(read)?;
    let closures = store.closures().await.map_err(read)?;
    let closed: Vec<Period> = closures.iter().map(|c| c.period).collect();
    let months = store.months_with_lines().await.map_err(read)?;
    let booked = store.statements().await.map_err(read)?;
    // The sums say, in the same read as the figures, which document each line stands under.
    let sums = store.line_sums().await.map_err(read)?;
    refuse_mixed(period, &sums, ask)?;
    let settled = settle_sums(&sums, &ask.policy.set);
    let input = CloseInput { settlements: &settled, booked: &booked, closed: &closed, months_with_lines: &months };
    let request = CloseRequest { period, now: chrono::Utc::now().fixed_offset(), early_reason: ask.early_reason };
    match plan_close(request, input) {
        Ok(plan) => Ok((plan, seen)),
        Err(CloseError::AlreadyClosed(p)) => {
            let by = closures.iter().find(|c| c.period == p).map(|c| c.close_id.as_str()).unwrap_or("?");
            bail!("cannot close {period}: it is already closed by close {by}")
        }
        Err(e) => bail!("cannot close {period}: {e}"),
    }
}

/// Refuses to close from lines that do not all stand under the document in force: the figures
/// would mix two policies (a change being applied, or a ledger that never recorded its policy).
fn refuse_mixed(period: Period, sums: &[subsidy_store::LineSum], ask: &Ask<'_>) -> Result<()> {
    let Some(sequence) = ask.sequence else {
        if sums.is_empty() {
            return Ok(());
        }
        bail!(
            "cannot close {period}: this ledger records no policy document, so nothing says which policy its lines were settled under; \
             record it with `subsidy-meter policy apply FILE` (it re-settles every line under it), then close"
        );
    };
    let other = lines_under_other_documents(sums, &ask.policy.hash);
    if other.is_empty() {
        return Ok(());
    }
    let lines: u64 = other.values().sum();
    let which: Vec<String> = other.iter().map(|(hash, n)| format!("{n} under {}", short(hash))).collect();
    bail!(
        "cannot close {period}: {lines} lines stand settled under another policy document than the one in force ({}, sequence {sequence}): {}; \
         a running aggregator re-settles them once it sees the change, or run `subsidy-meter policy apply` with the document in force; then close again",
        ask.policy.short(),
        which.join(", ")
    )
}

/// The center-days of the months `plan` closes whose ledger figures differ from the platform's
/// counts; an error naming them unless the close is forced.
async fn completeness(store: &dyn LedgerStore, ask: &Ask<'_>, plan: &ClosePlan) -> Result<Vec<Gap>> {
    let mut gaps = Vec::new();
    let mut unverified = 0;
    for p in plan.periods() {
        let r = crate::commands::reconcile::of_month(store, p).await.map_err(|e| anyhow!("cannot close {}: {e:#}", ask.period))?;
        unverified += r.unverified_days.len();
        gaps.extend(r.gaps);
    }
    if unverified > 0 {
        eprintln!("close: {unverified} days of the ledger have no usage counts from the platform: their completeness is not checked");
    }
    if gaps.is_empty() || ask.force_reason.is_some() {
        return Ok(gaps);
    }
    let missing: u64 = gaps.iter().map(|g| g.missing_records().unsigned_abs()).sum();
    let named: Vec<String> = subsidy_core::Reconciliation { period: ask.period, compared: 0, gaps, unverified_days: Vec::new() }.describe_gaps();
    bail!(
        "cannot close {}: the ledger and the platform's usage counts differ on {} center-days ({missing} records): {}; \
         wait until the collector and the aggregator have caught up (`subsidy-meter reconcile --period {}` shows the gap), \
         or close with --force-reason \"why\", which is recorded with the closure",
        ask.period,
        named.len(),
        named.join("; "),
        ask.period
    )
}

/// Records a close forced past `gaps` under `close_id`, before the closure: it counts only once a closure names the id.
async fn record_override(store: &dyn LedgerStore, ask: &Ask<'_>, close_id: &str, gaps: Vec<Gap>) -> Result<()> {
    let Some(reason) = ask.force_reason else { return Ok(()) };
    if gaps.is_empty() {
        eprintln!("close: --force-reason given, but the ledger agrees with the platform's usage counts: nothing forced");
        return Ok(());
    }
    let row = CloseOverride { close_id: close_id.to_string(), period: ask.period, reason: reason.to_string(), operator: ask.operator.clone(), at: chrono::Utc::now(), gaps };
    store.record_override(&row).await.map_err(|e| anyhow!("cannot close {}: cannot record the forced close: {e}", ask.period))?;
    eprintln!("close: forced past a gap of {} records on {} center-days by {}; reason recorded: {reason}", row.gap_records(), row.gaps.len(), ask.operator);
    Ok(())
}

/// SQLite: the plan and its closure rows in one transaction; a month closed meanwhile is refused by the store.
async fn close_in_store(store: &dyn LedgerStore, ask: &Ask<'_>) -> Result<(String, ClosePlan)> {
    let (plan, seen) = plan(store, ask).await?;
    let gaps = completeness(store, ask, &plan).await?;
    let close_id = new_close_id(ask.period);
    record_override(store, ask, &close_id, gaps).await?;
    let record = CloseRecord {
        close_id: close_id.clone(),
        periods: plan.periods(),
        closed_at: chrono::Utc::now(),
        seen,
        early_reason: plan.early_reason.clone(),
        claim_offset: None,
        policy_hash: ask.policy.hash.clone(),
    };
    store.commit_record(&record, &plan.statements).await.map_err(|e| anyhow!("cannot close {}: {e}", ask.period))?;
    Ok((close_id, plan))
}

/// ClickHouse: complete a claim that stands without its closure, or stage, claim, and record if the claim stands.
async fn close_through_log(store: &dyn LedgerStore, log: &ClosesLog, ledger: &str, ask: &Ask<'_>) -> Result<Closed> {
    let period = ask.period;
    let logged = |e: subsidy_bus::BusError| anyhow!("cannot read the log of closes: {e}");
    let claims = log.claims(ledger, None, LOG_TIMEOUT).await.map_err(logged)?;
    if let Some((offset, claim)) = winner(&claims, period) {
        store.await_up_to_date(ask.wait).await.map_err(|e| anyhow!("cannot close {period}: {e}"))?;
        let closed = store.closures().await.map_err(|e| anyhow!("cannot read the ledger: {e}"))?;
        if closed.iter().any(|c| c.period == period) {
            bail!("cannot close {period}: it is already closed by close {} (claim at offset {offset} of {})", claim.close_id, log.topic());
        }
        complete(store, claim, offset).await?;
        return Ok(Closed::Completed(claim.close_id.clone()));
    }
    let (plan, seen) = plan(store, ask).await?;
    let gaps = completeness(store, ask, &plan).await?;
    let close_id = new_close_id(period);
    record_override(store, ask, &close_id, gaps).await?;
    store.stage_statements(&close_id, &plan.statements).await.map_err(|e| anyhow!("cannot close {period}: {e}"))?;
    let claim = Claim {
        ledger: ledger.to_string(),
        close_id: close_id.clone(),
        periods: plan.periods().iter().map(Period::to_string).collect(),
        lines: plan.statements.len() as u64,
        digest: statements_digest(&plan.statements),
        seen: positions_text(&seen),
        early_reason: plan.early_reason.clone(),
        claimed_at: chrono::Utc::now().to_rfc3339(),
        policy_hash: ask.policy.hash.clone(),
    };
    let own = log.append(&claim).await.map_err(|e| anyhow!("cannot close {period}: cannot append to the log of closes: {e}"))?;
    let claims = log.claims(ledger, Some(own), LOG_TIMEOUT).await.map_err(logged)?;
    let won = standing_claims(claims.iter().map(|(_, c)| claim_periods(c)).collect::<Vec<_>>().iter().map(Vec::as_slice));
    for p in plan.periods() {
        let (offset, by) = won.get(&p).map(|i| &claims[*i]).ok_or_else(|| anyhow!("cannot close {period}: the log of closes holds no claim of {p}"))?;
        if by.close_id != close_id {
            bail!("cannot close {period}: close {} claimed {p} first (offset {offset} of {}); this close ({close_id}) is not counted", by.close_id, log.topic());
        }
    }
    store.record_closures(&record_of(&claim, own)?).await.map_err(|e| anyhow!("cannot close {period}: {e}"))?;
    Ok(Closed::Now(close_id, plan))
}

/// The claim that stands for `period`, if any.
fn winner(claims: &[(i64, Claim)], period: Period) -> Option<(i64, &Claim)> {
    let periods: Vec<Vec<Period>> = claims.iter().map(|(_, c)| claim_periods(c)).collect();
    let won = standing_claims(periods.iter().map(Vec::as_slice));
    won.get(&period).map(|i| (claims[*i].0, &claims[*i].1))
}

/// A claim's months; months that do not parse are not claimed.
fn claim_periods(claim: &Claim) -> Vec<Period> {
    claim.periods.iter().filter_map(|p| Period::parse(p)).collect()
}

/// Records the closure of a claim that stands, once the store holds exactly the lines it claimed.
async fn complete(store: &dyn LedgerStore, claim: &Claim, offset: i64) -> Result<()> {
    let staged = store.staged_statements(&claim.close_id).await.map_err(|e| anyhow!("cannot read the staged lines of close {}: {e}", claim.close_id))?;
    if staged.len() as u64 != claim.lines || statements_digest(&staged) != claim.digest {
        bail!(
            "close {} stands in the log of closes with {} lines, but the store holds {} different or missing: it may be lagging; run the close again later",
            claim.close_id,
            claim.lines,
            staged.len()
        );
    }
    store.record_closures(&record_of(claim, offset)?).await.map_err(|e| anyhow!("cannot complete close {}: {e}", claim.close_id))
}

/// The closure a claim stands for: the same rows whichever run records them.
fn record_of(claim: &Claim, offset: i64) -> Result<CloseRecord> {
    let closed_at = chrono::DateTime::parse_from_rfc3339(&claim.claimed_at).map_err(|e| anyhow!("claim of close {} has a bad time: {e}", claim.close_id))?.to_utc();
    let seen = parse_positions(&claim.seen).ok_or_else(|| anyhow!("claim of close {} has bad positions {:?}", claim.close_id, claim.seen))?;
    Ok(CloseRecord {
        close_id: claim.close_id.clone(),
        periods: claim_periods(claim),
        closed_at,
        seen,
        early_reason: claim.early_reason.clone(),
        claim_offset: Some(offset),
        policy_hash: claim.policy_hash.clone(),
    })
}

fn report(close_id: &str, plan: &ClosePlan) {
    let total = |kind| plan.statements.iter().filter(|s| s.kind == kind).fold((0usize, Decimal::ZERO), |(n, sum), s| (n + 1, sum + s.subsidy));
    let (frozen, frozen_sum) = total(StatementKind::Settled);
    let (adjusted, adjusted_sum) = total(StatementKind::Adjustment);
    let period = plan.period;
    eprintln!(
        "close: {period} closed by close {close_id}: {frozen} settlements, subsidy {} yuan frozen; {adjusted} adjustments to earlier months, {} yuan",
        format_yuan(frozen_sum),
        format_yuan(adjusted_sum)
    );
    if !plan.also_closed.is_empty() {
        let months: Vec<String> = plan.also_closed.iter().map(Period::to_string).collect();
        eprintln!("close: closed with it at nothing (no lines): {}", months.join(", "));
    }
    if let Some(reason) = &plan.early_reason {
        eprintln!("close: {period} closed before it ended; reason recorded: {reason}");
    }
}
