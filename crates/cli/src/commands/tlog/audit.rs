//! `audit`: recomputes every leaf from the statements in the store and checks every
//! stored checkpoint (the bureau's signature, no larger than the tree, the same root,
//! each extending the one before) and the cosignatures of the witnesses named.

use super::key_text;
use crate::cli::AuditArgs;
use anyhow::{anyhow, bail, Result};
use subsidy_core::tlog::{audit, verify_cosignatures, StoredCheckpoint};
use subsidy_store::read_log;

/// Runs the audit.
pub async fn run(args: &AuditArgs) -> Result<()> {
    let bureau = key_text(&args.bureau_key)?;
    let witnesses = args.witness_key.iter().map(|k| key_text(k)).collect::<Result<Vec<_>>>()?;
    let store = crate::store::open(&args.store).await?;
    store.migrate().await.map_err(|e| anyhow!("migration failed: {e}"))?;
    let log = read_log(store.as_ref()).await.map_err(|e| anyhow!("cannot read the log: {e}"))?;
    let stored: Vec<StoredCheckpoint> = log.checkpoints.iter().map(|c| StoredCheckpoint { size: c.size, note: c.note.clone() }).collect();
    let report = audit(&log.leaves, &log.ends, &stored, &bureau).map_err(|e| anyhow!("audit failed: {e}"))?;
    if log.latest().is_some_and(|c| c.size < report.leaves) {
        eprintln!("audit: {} lines are not signed yet (the newest checkpoint holds {})", report.leaves - log.latest().map_or(0, |c| c.size), log.latest().map_or(0, |c| c.size));
    }
    for witness in &witnesses {
        let name = witness.split('+').next().unwrap_or_default().to_string();
        let mut checked = 0;
        for row in log.checkpoints.iter() {
            let Some(line) = log.cosignatures.iter().find(|c| c.size == row.size && c.witness == name) else { continue };
            let note = subsidy_core::tlog::with_signature_lines(&row.note, std::slice::from_ref(&line.line))?;
            verify_cosignatures(&note, std::slice::from_ref(witness)).map_err(|e| anyhow!("audit failed: the stored cosignature of {name} on the checkpoint of size {} does not hold: {e}", row.size))?;
            checked += 1;
        }
        if checked == 0 {
            bail!("audit failed: witness {name} cosigned no stored checkpoint");
        }
        eprintln!("audit: {checked} cosignatures of {name} hold");
    }
    println!("audit: {} lines of {} closed months recomputed from the statements; {} signed checkpoints hold; root {}", report.leaves, report.months, report.checkpoints, report.root);
    Ok(())
}
