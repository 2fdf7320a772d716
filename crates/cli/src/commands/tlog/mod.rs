//! The transparency log's commands: keys, signing after a close, the audit, a
//! city's witness, and the offline check of a proof. The rules are the core's
//! (`subsidy_core::tlog`); these read keys, files, the clock and the store.

pub mod audit;
pub mod keys;
pub mod log;
pub mod verify;
pub mod witness;

use crate::cli::SigningKeyArgs;
use anyhow::{anyhow, bail, Context, Result};
use subsidy_core::tlog::{sign_checkpoint, signer_name, Hash};
use subsidy_store::{read_log, LedgerStore, TlogCheckpointRow};

/// The environment variable that may hold the bureau's private key itself.
pub const SIGNING_KEY_ENV: &str = "SUBSIDY_SIGNING_KEY";

/// A key given as its text or as a file holding it.
pub fn key_text(arg: &str) -> Result<String> {
    let path = std::path::Path::new(arg);
    if !arg.contains('+') || path.is_file() {
        return std::fs::read_to_string(path).with_context(|| format!("cannot read the key file {arg}")).map(|s| s.trim().to_string());
    }
    Ok(arg.trim().to_string())
}

/// The bureau's private key, from `--signing-key FILE` or the environment; `None` when neither is given.
pub fn signing_key(args: &SigningKeyArgs) -> Result<Option<String>> {
    if let Some(path) = &args.signing_key {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read the signing key {}", path.display()))?;
        return Ok(Some(text.trim().to_string()));
    }
    Ok(std::env::var(SIGNING_KEY_ENV).ok().map(|k| k.trim().to_string()).filter(|k| !k.is_empty()))
}

/// Signs a checkpoint of the log as the store holds it, unless its size is signed already.
/// Refuses to sign a log that does not extend the newest stored checkpoint. Returns the
/// new row, or `None` when there was nothing new to sign.
pub async fn sign_log(store: &dyn LedgerStore, skey: &str) -> Result<Option<TlogCheckpointRow>> {
    let origin = signer_name(skey)?;
    let log = read_log(store).await.map_err(|e| anyhow!("cannot read the log: {e}"))?;
    let size = log.tree.size();
    if let Some(last) = log.latest() {
        if last.size > size {
            bail!("the newest signed checkpoint holds {} lines but the statements in the store give only {size}: the newest closed months were dropped; nothing signed", last.size);
        }
        let root = Hash::parse_hash(&last.root).map_err(|e| anyhow!("the stored checkpoint of size {} has a bad root: {e}", last.size))?;
        if log.root_at(last.size)? != root {
            bail!("the statements in the store no longer match the signed checkpoint of size {}: run `subsidy-meter audit`; nothing signed", last.size);
        }
        if last.size == size {
            return Ok(None);
        }
    }
    let Some((period, _)) = log.ends.last().copied() else {
        return Ok(None);
    };
    let root = log.tree.root();
    let note = sign_checkpoint(&origin, size, root, skey)?;
    let row = TlogCheckpointRow { size, root: root.to_string(), note, period };
    store.record_tlog_checkpoint(&row).await.map_err(|e| anyhow!("cannot record the checkpoint of size {size}: {e}"))?;
    Ok(Some(row))
}
