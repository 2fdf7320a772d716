//! `migrate`, `close`, `export` and `statements`: the ledger store's maintenance commands.

use crate::cli::{CloseArgs, ExportArgs, MigrateArgs, StatementsArgs};
use crate::config::load_policy;
use anyhow::{anyhow, bail, Result};
use rust_decimal::Decimal;
use subsidy_core::close::statements_csv;
use subsidy_core::money::format_yuan;
use subsidy_core::report::settlements_csv;
use subsidy_core::{close_month, CloseInput, Period, StatementKind};
use subsidy_store::{settlements, Closure};

/// Applies pending migrations.
pub async fn migrate(args: &MigrateArgs) -> Result<()> {
    if args.print_ddl {
        let store = subsidy_store::ClickHouseStore::new(&crate::store::clickhouse_config(&args.store)).map_err(|e| anyhow!("{e}"))?;
        for statement in store.ddl(args.cluster.as_deref()).map_err(|e| anyhow!("{e}"))? {
            println!("{statement};\n");
        }
        return Ok(());
    }
    let applied = match &args.cluster {
        Some(cluster) => {
            if args.store.sqlite.is_some() {
                bail!("--cluster is for ClickHouse; it cannot be given with --sqlite");
            }
            crate::store::open_clickhouse(&args.store).await?.migrate_cluster(cluster).await
        }
        None => crate::store::open(&args.store).await?.migrate().await,
    }
    .map_err(|e| anyhow!("migration failed: {e}"))?;
    if applied.is_empty() {
        eprintln!("migrate: up to date");
    } else {
        eprintln!("migrate: applied {}", applied.join(", "));
    }
    Ok(())
}

/// Closes a month: freezes its settlements and books adjustments for earlier closed months.
pub async fn close(args: &CloseArgs) -> Result<()> {
    let period = Period::parse(&args.period).ok_or_else(|| anyhow!("--period {:?} is not a YYYY-MM month", args.period))?;
    let policy = load_policy(args.policy.as_deref())?;
    let store = crate::store::open(&args.store).await?;
    store.migrate().await.map_err(|e| anyhow!("migration failed: {e}"))?;
    let read = |e: subsidy_store::StoreError| anyhow!("cannot read the ledger: {e}");
    let closed: Vec<Period> = store.closures().await.map_err(read)?.into_iter().map(|c| c.period).collect();
    let months = store.months_with_lines().await.map_err(read)?;
    let booked = store.statements().await.map_err(read)?;
    let settled = settlements(store.as_ref(), &policy).await.map_err(read)?;
    let lines = close_month(period, CloseInput { settlements: &settled, booked: &booked, closed: &closed, months_with_lines: &months }).map_err(|e| anyhow!("cannot close {period}: {e}"))?;
    let closure = Closure { period, close_id: format!("{period}-{:016x}", rand::random::<u64>()), closed_at: chrono::Utc::now() };
    store.commit_close(&closure, &lines).await.map_err(|e| anyhow!("cannot close {period}: {e}"))?;
    let total = |kind| lines.iter().filter(|s| s.kind == kind).fold((0usize, Decimal::ZERO), |(n, sum), s| (n + 1, sum + s.subsidy));
    let (frozen, frozen_sum) = total(StatementKind::Settled);
    let (adjusted, adjusted_sum) = total(StatementKind::Adjustment);
    eprintln!(
        "close: {period} closed: {frozen} settlements, subsidy {} yuan frozen; {adjusted} adjustments to earlier months, {} yuan",
        format_yuan(frozen_sum),
        format_yuan(adjusted_sum)
    );
    Ok(())
}

/// Exports the settlements of the ledger as it stands, as CSV.
pub async fn export(args: &ExportArgs) -> Result<()> {
    let policy = load_policy(args.policy.as_deref())?;
    let store = crate::store::open(&args.store).await?;
    let period = args.period.as_deref().map(|p| Period::parse(p).ok_or_else(|| anyhow!("--period {p:?} is not a YYYY-MM month"))).transpose()?;
    let mut settled = settlements(store.as_ref(), &policy).await.map_err(|e| anyhow!("cannot read the ledger: {e}"))?;
    settled.retain(|s| period.is_none_or(|p| s.period == p));
    crate::output::write_whole(&args.out, args.force, settlements_csv(&settled).as_bytes())?;
    eprintln!("export: {} settlements to {}", settled.len(), args.out.display());
    Ok(())
}

/// Writes what has been fixed for payment, as CSV.
pub async fn statements(args: &StatementsArgs) -> Result<()> {
    let store = crate::store::open(&args.store).await?;
    let lines = store.statements().await.map_err(|e| anyhow!("cannot read statements: {e}"))?;
    crate::output::write_whole(&args.out, args.force, statements_csv(&lines).as_bytes())?;
    eprintln!("statements: {} lines to {}", lines.len(), args.out.display());
    Ok(())
}
