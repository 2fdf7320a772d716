//! `migrate`, `close` and `export`: the ledger store's maintenance commands.

use crate::cli::{CloseArgs, ExportArgs, MigrateArgs};
use anyhow::{anyhow, Context, Result};
use subsidy_core::money::format_yuan;
use subsidy_core::report::settlements_csv;
use subsidy_core::Period;

/// Applies pending migrations.
pub async fn migrate(args: &MigrateArgs) -> Result<()> {
    let store = crate::store::open(&args.store).await?;
    let applied = store.migrate().await.map_err(|e| anyhow!("migration failed: {e}"))?;
    if applied.is_empty() {
        eprintln!("migrate: up to date");
    } else {
        eprintln!("migrate: applied {}", applied.join(", "));
    }
    Ok(())
}

/// Closes a month.
pub async fn close(args: &CloseArgs) -> Result<()> {
    let period = Period::parse(&args.period).ok_or_else(|| anyhow!("--period {:?} is not a YYYY-MM month", args.period))?;
    let store = crate::store::open(&args.store).await?;
    store.migrate().await.map_err(|e| anyhow!("migration failed: {e}"))?;
    let report = store.close_period(period, chrono::Utc::now()).await.map_err(|e| anyhow!("cannot close {period}: {e}"))?;
    eprintln!("close: {} closed with {} settlements, subsidy {} yuan frozen", report.period, report.settlements, format_yuan(report.subsidy));
    Ok(())
}

/// Exports settlements as CSV.
pub async fn export(args: &ExportArgs) -> Result<()> {
    let store = crate::store::open(&args.store).await?;
    let settlements = store.settlements().await.map_err(|e| anyhow!("cannot read settlements: {e}"))?;
    std::fs::write(&args.out, settlements_csv(&settlements)).with_context(|| format!("cannot write {}", args.out.display()))?;
    eprintln!("export: {} settlements to {}", settlements.len(), args.out.display());
    Ok(())
}
