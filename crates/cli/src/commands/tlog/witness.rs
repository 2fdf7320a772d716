//! `witness`: a city's witness. It reads the newest signed checkpoint and a consistency
//! proof from the last checkpoint it cosigned (its own state file), checks that the new
//! one is signed by the bureau and extends that one, cosigns it (timestamped, C2SP
//! tlog-cosignature), sends the cosignature to the ledger and saves its state. It reads
//! through the bureau's API (`--api`, a city token) or, without it, the store itself.
//! It keeps its own state: a log that shrank or was rewritten is refused even if every
//! checkpoint in the store was signed anew.

use super::key_text;
use crate::cli::WitnessArgs;
use anyhow::{anyhow, bail, Context, Result};
use std::time::Duration;
use subsidy_core::tlog::{check_extension, cosign, open_checkpoint, signer_name, Hash, WitnessState};
use subsidy_store::{read_log, LedgerStore, TlogCosignatureRow};

/// Longest wait for one API request.
const API_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the witness reads the log and sends its cosignature.
enum Source {
    Api { client: reqwest::Client, base: String, token: String },
    Store(std::sync::Arc<dyn LedgerStore>),
}

impl Source {
    /// The newest signed checkpoint.
    async fn checkpoint(&self) -> Result<String> {
        match self {
            Source::Api { client, base, token } => {
                let r = client.get(format!("{base}/v1/log/checkpoint")).bearer_auth(token).send().await.context("cannot reach the API")?;
                answer(r).await
            }
            Source::Store(store) => {
                let log = read_log(store.as_ref()).await.map_err(|e| anyhow!("cannot read the log: {e}"))?;
                Ok(log.latest().ok_or_else(|| anyhow!("the log has no signed checkpoint"))?.note.clone())
            }
        }
    }

    /// The consistency proof from `old` to `new`.
    async fn consistency(&self, old: u64, new: u64) -> Result<Vec<Hash>> {
        match self {
            Source::Api { client, base, token } => {
                let r = client.get(format!("{base}/v1/log/consistency?old={old}&new={new}")).bearer_auth(token).send().await.context("cannot reach the API")?;
                let body: serde_json::Value = serde_json::from_str(&answer(r).await?).context("the consistency proof is not JSON")?;
                let hashes = body["hashes"].as_array().ok_or_else(|| anyhow!("the consistency proof holds no hashes"))?;
                hashes.iter().map(|h| Hash::parse_hash(h.as_str().unwrap_or_default()).map_err(|e| anyhow!("a bad hash in the consistency proof: {e}"))).collect()
            }
            Source::Store(store) => {
                let log = read_log(store.as_ref()).await.map_err(|e| anyhow!("cannot read the log: {e}"))?;
                Ok(log.tree.consistency(old, new)?)
            }
        }
    }

    /// Sends the cosignature.
    async fn record(&self, row: &TlogCosignatureRow) -> Result<()> {
        match self {
            Source::Api { client, base, token } => {
                let body = serde_json::json!({ "size": row.size, "line": row.line });
                let r = client.post(format!("{base}/v1/log/cosignatures")).bearer_auth(token).json(&body).send().await.context("cannot reach the API")?;
                answer(r).await.map(drop)
            }
            Source::Store(store) => store.record_tlog_cosignature(row).await.map_err(|e| anyhow!("cannot record the cosignature: {e}")),
        }
    }
}

async fn answer(r: reqwest::Response) -> Result<String> {
    let status = r.status();
    let text = r.text().await.context("cannot read the API's answer")?;
    if !status.is_success() {
        bail!("the API answered {status}: {}", text.chars().take(500).collect::<String>());
    }
    Ok(text)
}

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
    let source = match &args.api {
        Some(base) => {
            let token = args.token.clone().ok_or_else(|| anyhow!("--api needs a city token: --token or SUBSIDY_API_TOKEN"))?;
            let client = reqwest::Client::builder().timeout(API_TIMEOUT).build()?;
            Source::Api { client, base: base.trim_end_matches('/').to_string(), token }
        }
        None => Source::Store(crate::store::open(&args.store).await?),
    };
    let note = source.checkpoint().await?;
    let size = open_checkpoint(&note, &bureau).map_err(|e| anyhow!("witness {name} refuses to cosign: {e}"))?.size;
    let from = last.as_ref().map_or(0, |s| s.size);
    // A log that shrank below the state has no proof to give: the check says it shrank.
    let proof = if from < size { source.consistency(from, size).await? } else { Vec::new() };
    let opened = check_extension(last.as_ref(), &note, &proof, &bureau).map_err(|e| anyhow!("witness {name} refuses to cosign: {e}"))?;
    let now = u64::try_from(chrono::Utc::now().timestamp()).unwrap_or_default();
    let line = cosign(&note, &skey, now)?;
    source.record(&TlogCosignatureRow { size: opened.size, witness: name.clone(), line: line.trim_end().to_string() }).await?;
    let state = WitnessState { origin: opened.origin, size: opened.size, root: opened.root };
    std::fs::write(&args.state, state.to_text()?).with_context(|| format!("cannot save the witness state {}", args.state.display()))?;
    eprintln!("witness: {name} cosigned the checkpoint of size {} (it extends size {from})", opened.size);
    Ok(())
}
