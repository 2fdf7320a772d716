//! `verify`: checks a proof offline with the bureau's and the witnesses' verifier keys,
//! and prints the lines it proves.

use super::key_text;
use crate::cli::VerifyArgs;
use anyhow::{anyhow, Context, Result};
use subsidy_core::tlog::verify_bundle;

/// Checks the proof.
pub fn run(args: &VerifyArgs) -> Result<()> {
    let text = std::fs::read_to_string(&args.proof).with_context(|| format!("cannot read {}", args.proof.display()))?;
    let bureau = key_text(&args.bureau_key)?;
    let witnesses = args.witness_key.iter().map(|k| key_text(k)).collect::<Result<Vec<_>>>()?;
    let lines = verify_bundle(&text, &bureau, &witnesses).map_err(|e| anyhow!("the proof does not hold: {e}"))?;
    for line in &lines {
        println!("{}", line.leaf);
    }
    let size = lines.first().map_or(0, |l| l.size);
    let cosigned = lines.first().map(|l| l.witnesses.join(", ")).filter(|w| !w.is_empty()).unwrap_or_else(|| "no witness asked for".into());
    eprintln!("verify: {} lines are in the bureau's log of {size} lines (cosigned by: {cosigned})", lines.len());
    Ok(())
}
