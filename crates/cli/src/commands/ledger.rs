//! `migrate`, `export` and `statements`: the ledger store's maintenance commands (`close` is in `close`).

use crate::cli::{ExportArgs, MigrateArgs, StatementsArgs};
use crate::config::load_policy;
use anyhow::{anyhow, bail, Result};
use subsidy_core::close::statements_csv;
use subsidy_core::report::settlements_csv;
use subsidy_core::Period;
use subsidy_store::settlements;

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
