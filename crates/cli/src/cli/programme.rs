//! Command-line definitions of the programme after the ledger: claims, payout
//! batches, audit findings, receivables and the yearly budget view.

use super::{ClosesLogArgs, StoreArgs};
use clap::{ArgGroup, Args, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Where a programme command reads: the store, under the ledger's policy document.
#[derive(Debug, Args)]
pub struct ProgrammeRead {
    /// The store.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Policy versions and budgets (TOML): must be the ledger's policy document, which is
    /// used without it (the built-in one for a ledger that holds none).
    #[arg(long, env = "SUBSIDY_POLICY")]
    pub policy: Option<PathBuf>,
}

/// Where a programme step is recorded, and who takes it.
#[derive(Debug, Args)]
pub struct ProgrammeWrite {
    /// The store and policy.
    #[command(flatten)]
    pub read: ProgrammeRead,
    /// The log of claims, which fences the programme steps of a ClickHouse ledger.
    #[command(flatten)]
    pub log: ClosesLogArgs,
    /// The party taking the step when it is not the command's own (an entity for
    /// `claims file`, the claim's city or the bureau for `claims review`, the bureau
    /// otherwise): `bureau`, `city:<city>` or `entity:<credit code>`.
    #[arg(long, value_name = "PARTY")]
    pub acting_as: Option<String>,
    /// Who is acting, as recorded with the step (default `cli:<$USER>`, `cli:operator` without it).
    #[arg(long)]
    pub label: Option<String>,
}

/// `claims` subcommands.
#[derive(Debug, Subcommand)]
pub enum ClaimsCommand {
    /// File a claim for closed months of one calendar year of an entity.
    File(ClaimFileArgs),
    /// List claims, in filing order.
    List(ClaimListArgs),
    /// One claim: its months, reviews, what it asks and is granted, its batch.
    Show(ClaimShowArgs),
    /// Review a claim: first its city, then the bureau.
    Review(ClaimReviewArgs),
    /// Close a year's claims: no more are filed for it; a `pro_rata` year is divided.
    CloseYear(CloseYearArgs),
}

/// `claims file` flags.
#[derive(Debug, Args)]
pub struct ClaimFileArgs {
    /// The entity's credit code.
    #[arg(long)]
    pub credit_code: String,
    /// The months, comma-separated YYYY-MM, closed and of one calendar year.
    #[arg(long)]
    pub months: String,
    /// Store, log and actor.
    #[command(flatten)]
    pub write: ProgrammeWrite,
}

/// `claims list` flags.
#[derive(Debug, Args)]
pub struct ClaimListArgs {
    /// Only claims in this status: filed, city_approved, approved, paid, rejected.
    #[arg(long)]
    pub status: Option<String>,
    /// Only this entity's claims.
    #[arg(long)]
    pub credit_code: Option<String>,
    /// Only the claims this city reviews.
    #[arg(long)]
    pub city: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// The store.
    #[command(flatten)]
    pub read: ProgrammeRead,
}

/// `claims show` flags.
#[derive(Debug, Args)]
pub struct ClaimShowArgs {
    /// The claim's id, e.g. C-3.
    pub id: String,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// The store.
    #[command(flatten)]
    pub read: ProgrammeRead,
}

/// Which review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StageArg {
    /// The claim's city, first.
    City,
    /// The provincial bureau, second.
    Bureau,
}

/// `claims review` flags.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("verdict").required(true).args(["approve", "reject"])))]
pub struct ClaimReviewArgs {
    /// The claim's id, e.g. C-3.
    pub id: String,
    /// Which review (the city acts as the claim's city).
    #[arg(long, value_enum)]
    pub stage: StageArg,
    /// Approve the claim.
    #[arg(long)]
    pub approve: bool,
    /// Reject the claim (its months may be claimed again).
    #[arg(long)]
    pub reject: bool,
    /// Why, in words: recorded with the review.
    #[arg(long)]
    pub reason: String,
    /// Store, log and actor.
    #[command(flatten)]
    pub write: ProgrammeWrite,
}

/// `claims close-year` flags.
#[derive(Debug, Args)]
pub struct CloseYearArgs {
    /// The calendar year.
    pub year: i32,
    /// Store, log and actor.
    #[command(flatten)]
    pub write: ProgrammeWrite,
}

/// `batches` subcommands.
#[derive(Debug, Subcommand)]
pub enum BatchesCommand {
    /// Pay approved claims on a date, netting the entities' receivables.
    Make(BatchMakeArgs),
    /// List batches, in order.
    List(BatchListArgs),
    /// One batch: its rows and totals per city, or the finance bureau's CSV.
    Show(BatchShowArgs),
}

/// `batches make` flags.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("which").required(true).args(["claims", "all_payable"])))]
pub struct BatchMakeArgs {
    /// The payout date, YYYY-MM-DD.
    #[arg(long)]
    pub payout_date: String,
    /// The claims to pay, comma-separated ids (C-3,C-7).
    #[arg(long)]
    pub claims: Option<String>,
    /// Pay every approved claim whose grant is known and that no batch paid yet.
    #[arg(long)]
    pub all_payable: bool,
    /// Store, log and actor.
    #[command(flatten)]
    pub write: ProgrammeWrite,
}

/// `batches list` flags.
#[derive(Debug, Args)]
pub struct BatchListArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// The store.
    #[command(flatten)]
    pub read: ProgrammeRead,
}

/// `batches show` flags.
#[derive(Debug, Args)]
pub struct BatchShowArgs {
    /// The batch's id, e.g. B-9.
    pub id: String,
    /// Print the finance bureau's CSV (names from the registry) instead of a table.
    #[arg(long, conflicts_with = "json")]
    pub csv: bool,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// The store.
    #[command(flatten)]
    pub read: ProgrammeRead,
}

/// `findings` subcommands.
#[derive(Debug, Subcommand)]
pub enum FindingsCommand {
    /// Enter an audit finding: money an entity must give back, netted against its next batches.
    Add(FindingAddArgs),
}

/// `findings add` flags.
#[derive(Debug, Args)]
pub struct FindingAddArgs {
    /// The case's id, unique.
    #[arg(long)]
    pub case_id: String,
    /// The entity.
    #[arg(long)]
    pub credit_code: String,
    /// The months the finding is about, comma-separated YYYY-MM.
    #[arg(long)]
    pub months: String,
    /// What is to be recovered, yuan (at most 2 decimals).
    #[arg(long)]
    pub amount: String,
    /// Why.
    #[arg(long)]
    pub reason: String,
    /// Store, log and actor.
    #[command(flatten)]
    pub write: ProgrammeWrite,
}

/// `receivables` flags.
#[derive(Debug, Args)]
pub struct ReceivablesArgs {
    /// Only this entity's.
    #[arg(long)]
    pub credit_code: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// The store.
    #[command(flatten)]
    pub read: ProgrammeRead,
}

/// `budget` flags.
#[derive(Debug, Args)]
pub struct BudgetArgs {
    /// The calendar year.
    #[arg(long)]
    pub year: i32,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// The store.
    #[command(flatten)]
    pub read: ProgrammeRead,
}
