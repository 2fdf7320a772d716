//! Flags of the transparency-log commands: `key`, `log`, `audit`, `witness`, `verify`.

use super::StoreArgs;
use clap::{Args, Subcommand};
use std::path::PathBuf;

/// `key` subcommands.
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Make a key pair: writes the private key to a file, prints the verifier key.
    New(KeyNewArgs),
}

/// `key new` flags.
#[derive(Debug, Args)]
pub struct KeyNewArgs {
    /// The key's name. The bureau's key name is the log's origin, e.g. anhui.gov.cn/compute-subsidy/ledger.
    #[arg(long)]
    pub name: String,
    /// Where to write the private key (a new file, readable by its owner only).
    #[arg(long)]
    pub out: PathBuf,
    /// A city witness's cosigning key instead of the bureau's log key.
    #[arg(long)]
    pub witness: bool,
}

/// `log` subcommands.
#[derive(Debug, Subcommand)]
pub enum LogCommand {
    /// Print the newest signed checkpoint with its cosignatures.
    Checkpoint(LogReadArgs),
    /// Sign a checkpoint of the log as the store holds it now (what `close` does after a close).
    Sign(LogSignArgs),
    /// Write the proof of an entity's lines of one closed month (C2SP tlog-proof).
    Proof(LogProofArgs),
}

/// Flags of reading the log.
#[derive(Debug, Args)]
pub struct LogReadArgs {
    /// The store.
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Where the bureau's signing key comes from: a file, or the environment; never the store.
#[derive(Debug, Args, Clone, Default)]
pub struct SigningKeyArgs {
    /// The bureau's private log key (from `key new`). Without it (and without
    /// SUBSIDY_SIGNING_KEY holding the key itself) nothing is signed.
    #[arg(long, env = "SUBSIDY_SIGNING_KEY_FILE")]
    pub signing_key: Option<PathBuf>,
}

/// `log sign` flags.
#[derive(Debug, Args)]
pub struct LogSignArgs {
    /// The store.
    #[command(flatten)]
    pub store: StoreArgs,
    /// The key.
    #[command(flatten)]
    pub key: SigningKeyArgs,
}

/// `log proof` flags.
#[derive(Debug, Args)]
pub struct LogProofArgs {
    /// The store.
    #[command(flatten)]
    pub store: StoreArgs,
    /// The entity's credit code.
    #[arg(long)]
    pub entity: String,
    /// The closed month whose lines to prove, YYYY-MM.
    #[arg(long)]
    pub period: String,
    /// Where to write the proof.
    #[arg(long)]
    pub out: PathBuf,
}

/// `audit` flags.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// The store.
    #[command(flatten)]
    pub store: StoreArgs,
    /// The bureau's verifier key (the text, or a file holding it).
    #[arg(long, env = "SUBSIDY_BUREAU_KEY")]
    pub bureau_key: String,
    /// A witness's verifier key (text or file); its stored cosignatures are checked.
    #[arg(long)]
    pub witness_key: Vec<String>,
}

/// `witness` flags.
#[derive(Debug, Args)]
pub struct WitnessArgs {
    /// Base URL of the bureau's API to read the log from and send the cosignature to
    /// (token from --token or SUBSIDY_API_TOKEN, a city token); without it, the store is read.
    #[arg(long, env = "SUBSIDY_API_URL")]
    pub api: Option<String>,
    /// The city's API token.
    #[arg(long, env = "SUBSIDY_API_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// The ledger the witness reads the log from, when no API is given.
    #[command(flatten)]
    pub store: StoreArgs,
    /// The city's private witness key (from `key new --witness`).
    #[arg(long, env = "SUBSIDY_WITNESS_KEY_FILE")]
    pub key: PathBuf,
    /// The bureau's verifier key (text or file).
    #[arg(long, env = "SUBSIDY_BUREAU_KEY")]
    pub bureau_key: String,
    /// The witness's own state: the last checkpoint it cosigned (created on the first run).
    #[arg(long, env = "SUBSIDY_WITNESS_STATE")]
    pub state: PathBuf,
}

/// `verify` flags.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The proof (C2SP tlog-proof, one or more).
    #[arg(long)]
    pub proof: PathBuf,
    /// The bureau's verifier key (text or file).
    #[arg(long, env = "SUBSIDY_BUREAU_KEY")]
    pub bureau_key: String,
    /// A witness's verifier key (text or file) whose cosignature the proof must carry.
    #[arg(long)]
    pub witness_key: Vec<String>,
}
