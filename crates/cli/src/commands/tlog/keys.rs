//! `key new`: a key pair in the signed-note formats; the private key goes to a new
//! file readable by its owner only, the verifier key to standard output.

use crate::cli::KeyNewArgs;
use anyhow::{anyhow, Context, Result};
use rand::TryRngCore;
use std::io::Write;
use subsidy_core::tlog::{new_key, KeyKind};

/// Makes the key pair.
pub fn new(args: &KeyNewArgs) -> Result<()> {
    let mut seed = [0u8; 32];
    rand::rngs::OsRng.try_fill_bytes(&mut seed).map_err(|e| anyhow!("no randomness from the system: {e}"))?;
    let kind = if args.witness { KeyKind::Witness } else { KeyKind::Log };
    let (skey, vkey) = new_key(&args.name, &seed, kind)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&args.out).with_context(|| format!("cannot create {} (an existing key is never replaced)", args.out.display()))?;
    file.write_all(format!("{skey}\n").as_bytes()).with_context(|| format!("cannot write {}", args.out.display()))?;
    println!("{vkey}");
    eprintln!("key: private key written to {}; give the verifier key above to whoever checks", args.out.display());
    Ok(())
}
