//! The demo's closing table: settled months with their entities, eligible
//! spend, subsidy and excluded self-built spend, and rejects by reason.

use crate::terminal::safe;
use anyhow::{anyhow, Result};
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use subsidy_core::money::format_yuan;
use subsidy_core::{CreditCode, PolicySet, Period, ReasonCode};
use subsidy_store::{settlements, LedgerStore};

#[derive(Default)]
struct Month {
    entities: u64,
    base: Decimal,
    subsidy: Decimal,
    self_built: Decimal,
}

/// Prints the table to stdout.
pub async fn print(store: &dyn LedgerStore, policy: &PolicySet, entities: &[CreditCode], collector_dead_letters: &[(String, u64)]) -> Result<()> {
    let read = |e: subsidy_store::StoreError| anyhow!("cannot read the ledger: {e}");
    let mut months: BTreeMap<Period, Month> = BTreeMap::new();
    let settled = settlements(store, policy).await.map_err(read)?;
    for s in &settled {
        let m = months.entry(s.period).or_default();
        m.entities += 1;
        m.base += s.eligible_base;
        m.subsidy += s.subsidy;
    }
    for code in entities {
        for line in store.entity_lines(code, None).await.map_err(read)? {
            if line.reason == Some(ReasonCode::SelfBuiltSelfUsed) {
                months.entry(line.period).or_default().self_built += line.base;
            }
        }
    }
    println!("\n{:<8} {:>9} {:>18} {:>16} {:>22}", "period", "entities", "eligible spend", "subsidy", "excluded self-built");
    let mut total = Month::default();
    for (period, m) in &months {
        println!("{:<8} {:>9} {:>18} {:>16} {:>22}", period.to_string(), m.entities, format_yuan(m.base), format_yuan(m.subsidy), format_yuan(m.self_built));
        total.base += m.base;
        total.subsidy += m.subsidy;
        total.self_built += m.self_built;
    }
    println!("{:<8} {:>9} {:>18} {:>16} {:>22}", "total", "", format_yuan(total.base), format_yuan(total.subsidy), format_yuan(total.self_built));
    if !collector_dead_letters.is_empty() {
        println!("\ndead-lettered by the collector, by reason:");
        for (reason, n) in collector_dead_letters {
            println!("  {reason:<24} {n:>8}");
        }
    }
    let rejects = store.rejection_counts().await.map_err(|e| anyhow!("cannot read rejections: {e}"))?;
    if !rejects.is_empty() {
        println!("\nlines the aggregator could not read as records, by reason:");
        for (reason, n) in rejects {
            println!("  {:<24} {n:>8}", safe(&reason));
        }
    }
    Ok(())
}
