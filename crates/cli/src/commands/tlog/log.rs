//! `log checkpoint`, `log sign`, `log proof`: the log as the store holds it.

use super::{sign_log, signing_key};
use crate::cli::{LogProofArgs, LogReadArgs, LogSignArgs};
use anyhow::{anyhow, bail, Context, Result};
use subsidy_core::tlog::encode_bundle;
use subsidy_core::{CreditCode, Period};
use subsidy_store::read_log;

/// Prints the newest signed checkpoint with its cosignatures.
pub async fn checkpoint(args: &LogReadArgs) -> Result<()> {
    let store = crate::store::open(&args.store).await?;
    store.migrate().await.map_err(|e| anyhow!("migration failed: {e}"))?;
    let log = read_log(store.as_ref()).await.map_err(|e| anyhow!("cannot read the log: {e}"))?;
    let latest = log.latest().ok_or_else(|| anyhow!("no checkpoint is signed yet"))?;
    print!("{}", log.cosigned_note(latest)?);
    Ok(())
}

/// Signs a checkpoint of the log as it stands.
pub async fn sign(args: &LogSignArgs) -> Result<()> {
    let Some(skey) = signing_key(&args.key)? else {
        bail!("no signing key: give --signing-key FILE or set {}", super::SIGNING_KEY_ENV);
    };
    let store = crate::store::open(&args.store).await?;
    store.migrate().await.map_err(|e| anyhow!("migration failed: {e}"))?;
    match sign_log(store.as_ref(), &skey).await? {
        Some(row) => eprintln!("log: signed the checkpoint of size {} (through {})", row.size, row.period),
        None => eprintln!("log: nothing new to sign"),
    }
    Ok(())
}

/// Writes the proof of an entity's lines of one month.
pub async fn proof(args: &LogProofArgs) -> Result<()> {
    let entity = CreditCode::check(&args.entity).map_err(|e| anyhow!("--entity {:?}: {e}", args.entity))?;
    let period = Period::parse(&args.period).ok_or_else(|| anyhow!("--period {:?} is not a YYYY-MM month", args.period))?;
    let store = crate::store::open(&args.store).await?;
    store.migrate().await.map_err(|e| anyhow!("migration failed: {e}"))?;
    let log = read_log(store.as_ref()).await.map_err(|e| anyhow!("cannot read the log: {e}"))?;
    let proofs = log.proofs(&entity, period)?;
    if proofs.is_empty() {
        bail!("{entity} has no statement line closed in {period}");
    }
    std::fs::write(&args.out, encode_bundle(&proofs)).with_context(|| format!("cannot write {}", args.out.display()))?;
    eprintln!("log: {} lines of {entity} in {period} proved against the checkpoint of size {}", proofs.len(), log.latest().map_or(0, |c| c.size));
    Ok(())
}
