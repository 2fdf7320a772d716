//! `migrate`, `export` and `statements`: the ledger store's maintenance commands (`close` is in `close`).

use crate::cli::{ExportArgs, MigrateArgs, StatementsArgs};
use anyhow::{anyhow, bail, Result};
use subsidy_core::close::statements_csv_documented;
use subsidy_core::document::short;
use subsidy_core::report::settlements_csv;
use subsidy_core::Period;
use subsidy_store::{lines_under_other_documents, settle_sums};

/// Applies pending migrations.
pub async fn migrate(args: &MigrateArgs) -> Result<()> {
    if args.print_ddl {
        let store = subsidy_store::ClickHouseStore::new(&crate::store::clickhouse_config(&args.store)).map_err(|e| anyhow!("{e}"))?;
        for statement in store.ddl(args.cluster.as_deref()).await.map_err(|e| anyhow!("{e}"))? {
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
    let store = crate::store::open(&args.store).await?;
    let period = args.period.as_deref().map(|p| Period::parse(p).ok_or_else(|| anyhow!("--period {p:?} is not a YYYY-MM month"))).transpose()?;
    let (policy, sequence) = crate::ledger_policy::for_reading(store.as_ref(), args.policy.as_deref()).await?;
    let sums = store.line_sums().await.map_err(|e| anyhow!("cannot read the ledger: {e}"))?;
    let mut settled = settle_sums(&sums, &policy.set);
    settled.retain(|s| period.is_none_or(|p| s.period == p));
    crate::output::write_whole(&args.out, args.force, settlements_csv(&settled).as_bytes())?;
    let under = sequence.map_or_else(|| format!("{} (the ledger records none)", policy.hash), |s| format!("{} (sequence {s})", policy.hash));
    eprintln!("export: {} settlements to {}, computed under policy document {under}", settled.len(), args.out.display());
    let other = lines_under_other_documents(&sums, &policy.hash);
    if sequence.is_some() && !other.is_empty() {
        let which: Vec<String> = other.iter().map(|(hash, n)| format!("{n} under {}", short(hash))).collect();
        eprintln!("export: warning: lines not yet re-settled under that document: {} (a policy change is being applied)", which.join(", "));
    }
    Ok(())
}

/// Writes what has been fixed for payment, as CSV.
pub async fn statements(args: &StatementsArgs) -> Result<()> {
    let store = crate::store::open(&args.store).await?;
    let lines = store.statements().await.map_err(|e| anyhow!("cannot read statements: {e}"))?;
    // Each line was computed under the document its close names; the close of a month is its payout month's.
    let documents = store.closures().await.map_err(|e| anyhow!("cannot read closures: {e}"))?.into_iter().map(|c| (c.period, c.policy_hash)).collect();
    crate::output::write_whole(&args.out, args.force, statements_csv_documented(&lines, &documents).as_bytes())?;
    eprintln!("statements: {} lines to {}", lines.len(), args.out.display());
    Ok(())
}
