//! `witness`: a city's witness. It reads the newest signed checkpoint and a consistency
//! proof from the last checkpoint it cosigned (its own state file), checks that the new
//! one is signed by the bureau and extends that one, cosigns it (timestamped, C2SP
//! tlog-cosignature), records the cosignature with the ledger and saves its state.
//! It keeps its own state: a log that shrank or was rewritten is refused even if every
//! checkpoint in the store was signed anew.

use super::key_text;
use crate::cli::WitnessArgs;
use anyhow::{anyhow, Context, Result};
use subsidy_core::tlog::{check_extension, cosign, signer_name, WitnessState};
use subsidy_store::{read_log, TlogCosignatureRow};

/// Checks and cosigns the newest checkpoint.
pub async fn run(args: &WitnessArgs) -> Result<()> {
    let skey = std::fs::read_to_string(&args.key).with_context(|| format!("cannot read the witness key {}", args.key.display()))?;
    let name = signer_name(&skey)?;
    let bureau = key_text(&args.bureau_key)?;
    let last = match std::fs::read_to_string(&args.state) {
        Ok(text) => Some(WitnessState::parse(&text)?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(anyhow!("cannot read the witness state {}: {e}", args.state.display())),
    };
    let store = crate::store::open(&args.store).await?;
    let log = read_log(store.as_ref()).await.map_err(|e| anyhow!("cannot read the log: {e}"))?;
    let latest = log.latest().ok_or_else(|| anyhow!("the log has no signed checkpoint"))?;
    let from = last.as_ref().map_or(0, |s| s.size);
    // The proof comes from the log; a log that shrank below the state gives none, and the check says so.
    let proof = if from <= latest.size { log.tree.consistency(from, latest.size).unwrap_or_default() } else { Vec::new() };
    let opened = check_extension(last.as_ref(), &latest.note, &proof, &bureau).map_err(|e| anyhow!("witness {name} refuses to cosign: {e}"))?;
    let now = chrono::Utc::now().timestamp().max(0) as u64;
    let line = cosign(&latest.note, &skey, now)?;
    store.record_tlog_cosignature(&TlogCosignatureRow { size: opened.size, witness: name.clone(), line }).await.map_err(|e| anyhow!("cannot record the cosignature: {e}"))?;
    let state = WitnessState { origin: opened.origin, size: opened.size, root: opened.root };
    std::fs::write(&args.state, state.to_text()?).with_context(|| format!("cannot save the witness state {}", args.state.display()))?;
    eprintln!("witness: {name} cosigned the checkpoint of size {} (it extends size {from})", opened.size);
    Ok(())
}
