//! `reconcile`: a month of the ledger against the platform's usage counts,
//! per compute center and day, and the closes forced past a gap. The
//! comparison is the core's `reconcile`; this command reads the store and
//! prints.

use crate::cli::ReconcileArgs;
use anyhow::{anyhow, Result};
use serde::Serialize;
use subsidy_core::{reconcile, Period, Reconciliation};
use subsidy_store::{CloseOverride, LedgerStore};

/// A forced close as `reconcile --json` and the API show it.
#[derive(Debug, Serialize)]
pub struct ForcedClose<'a> {
    /// The close.
    pub close_id: &'a str,
    /// The month.
    pub period: Period,
    /// Why.
    pub reason: &'a str,
    /// Who.
    pub operator: &'a str,
    /// When, RFC 3339.
    pub at: String,
    /// Records missing or extra over the gaps then.
    pub gap_records: u64,
    /// The center-days that differed then.
    pub gaps: &'a [subsidy_core::Gap],
}

impl<'a> ForcedClose<'a> {
    /// The view of a stored override.
    pub fn of(o: &'a CloseOverride) -> ForcedClose<'a> {
        ForcedClose { close_id: &o.close_id, period: o.period, reason: &o.reason, operator: &o.operator, at: o.at.to_rfc3339(), gap_records: o.gap_records(), gaps: &o.gaps }
    }
}

/// The reconciliation of `period` from the store.
pub async fn of_month(store: &dyn LedgerStore, period: Period) -> Result<Reconciliation> {
    let platform = store.usage_counts(period).await.map_err(|e| anyhow!("cannot read the platform's usage counts: {e}"))?;
    let ledger = store.ledger_counts(period).await.map_err(|e| anyhow!("cannot read the ledger's figures per center and day: {e}"))?;
    Ok(reconcile(period, &platform, &ledger))
}

/// Prints the reconciliation of a month.
pub async fn run(args: &ReconcileArgs) -> Result<()> {
    let period = Period::parse(&args.period).ok_or_else(|| anyhow!("--period {:?} is not a YYYY-MM month", args.period))?;
    let store = crate::store::open(&args.store).await?;
    store.migrate().await.map_err(|e| anyhow!("migration failed: {e}"))?;
    let r = of_month(store.as_ref(), period).await?;
    let overrides = store.close_overrides().await.map_err(|e| anyhow!("cannot read the forced closes: {e}"))?;
    let forced: Vec<ForcedClose<'_>> = overrides.iter().filter(|o| o.period == period).map(ForcedClose::of).collect();
    if args.json {
        let body = serde_json::json!({
            "period": period,
            "compared": r.compared,
            "complete": r.is_complete(),
            "gap_records": r.gap_records(),
            "gaps": r.gaps,
            "unverified_days": r.unverified_days,
            "forced_closes": forced,
        });
        println!("{}", serde_json::to_string_pretty(&body)?);
        return Ok(());
    }
    println!("{}", table(&r, &forced));
    Ok(())
}

/// The reconciliation as a table for people.
fn table(r: &Reconciliation, forced: &[ForcedClose<'_>]) -> String {
    let mut out = format!(
        "reconcile {}: {} center-days compared, {} with a gap ({} records), {} days without platform counts\n",
        r.period,
        r.compared,
        r.gaps.len(),
        r.gap_records(),
        r.unverified_days.len()
    );
    if !r.gaps.is_empty() {
        out.push_str(&format!("{:<16} {:<10} {:>16} {:>16} {:>14} {:>16} {:>8}\n", "center", "day", "platform_records", "platform_paid", "ledger_records", "ledger_paid", "missing"));
        for g in &r.gaps {
            out.push_str(&format!(
                "{:<16} {:<10} {:>16} {:>16} {:>14} {:>16} {:>8}\n",
                g.center_id,
                g.day.to_string(),
                g.platform_records,
                g.platform_paid.to_string(),
                g.ledger_records,
                g.ledger_paid.to_string(),
                g.missing_records()
            ));
        }
    }
    if !r.unverified_days.is_empty() {
        let days: Vec<String> = r.unverified_days.iter().map(ToString::to_string).collect();
        out.push_str(&format!("without platform counts: {}\n", days.join(", ")));
    }
    for f in forced {
        out.push_str(&format!("forced close {} of {} by {} at {}: {:?}, {} records in gaps then\n", f.close_id, f.period, f.operator, f.at, f.reason, f.gap_records));
    }
    out.trim_end().to_string()
}
