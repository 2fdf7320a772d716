//! Command-line definitions (clap). Flags that name infrastructure have environment equivalents.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Meters Anhui's AI-compute subsidy: pulls usage from the scheduling platform,
/// settles it under the policy in force, and keeps auditable ledgers.
#[derive(Debug, Parser)]
#[command(name = "subsidy-meter", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Settle months straight from files: the audit path, same rules as the pipeline.
    Recompute(RecomputeArgs),
}

/// `recompute` flags.
#[derive(Debug, Args)]
pub struct RecomputeArgs {
    /// Usage records, one JSON object per line.
    #[arg(long)]
    pub records: PathBuf,
    /// Entities, a JSON array.
    #[arg(long)]
    pub entities: PathBuf,
    /// Compute centers, a JSON array.
    #[arg(long)]
    pub centers: PathBuf,
    /// Policy versions (TOML); the built-in default is RULES.md.
    #[arg(long, env = "SUBSIDY_POLICY")]
    pub policy: Option<PathBuf>,
    /// Where to write the settlement CSV.
    #[arg(long)]
    pub out: PathBuf,
    /// Where to write every excluded or rejected record, one JSON object per line.
    #[arg(long)]
    pub exclusions: Option<PathBuf>,
}
