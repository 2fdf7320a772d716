//! `subsidy-meter`: parses the command line and hands over to a command module.

use clap::Parser;
use subsidy_meter::cli::{BatchesCommand, ClaimsCommand, Cli, Command, FindingsCommand, FundingCommand, KeyCommand, LogCommand, PolicyCommand};
use subsidy_meter::commands::tlog;
use subsidy_meter::commands::programme;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Runs the commands that need the async runtime.
fn run_async(command: Command) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        match command {
            Command::PlatformSim(args) => subsidy_meter::commands::platform_sim::run(&args).await,
            Command::Collect(args) => subsidy_meter::commands::collect::run(&args).await,
            Command::Migrate(args) => subsidy_meter::commands::ledger::migrate(&args).await,
            Command::Aggregate(args) => subsidy_meter::commands::aggregate::run(&args).await,
            Command::Close(args) => subsidy_meter::commands::close::close(&args).await,
            Command::Reconcile(args) => subsidy_meter::commands::reconcile::run(&args).await,
            Command::Export(args) => subsidy_meter::commands::ledger::export(&args).await,
            Command::Statements(args) => subsidy_meter::commands::ledger::statements(&args).await,
            Command::Demo(args) => subsidy_meter::commands::demo::run(&args).await,
            Command::Serve(args) => subsidy_meter::commands::api::serve(&args).await,
            Command::Token(command) => subsidy_meter::commands::api::token(&command),
            Command::Funding(FundingCommand::Import(args)) => subsidy_meter::commands::funding::import(&args).await,
            Command::Policy(PolicyCommand::Apply(args)) => subsidy_meter::commands::policy::apply(&args).await,
            Command::Policy(PolicyCommand::Show(args)) => subsidy_meter::commands::policy::show(&args).await,
            Command::Accruals(args) => subsidy_meter::commands::api::accruals(&args).await,
            Command::Ledger(args) => subsidy_meter::commands::api::ledger(&args).await,
            Command::Recompute(args) => subsidy_meter::commands::recompute::run(&args),
            Command::Claims(ClaimsCommand::File(args)) => programme::claims::file(&args).await,
            Command::Claims(ClaimsCommand::List(args)) => programme::claims::list(&args).await,
            Command::Claims(ClaimsCommand::Show(args)) => programme::claims::show(&args).await,
            Command::Claims(ClaimsCommand::Review(args)) => programme::claims::review(&args).await,
            Command::Claims(ClaimsCommand::CloseYear(args)) => programme::claims::close_year(&args).await,
            Command::Batches(BatchesCommand::Make(args)) => programme::batches::make(&args).await,
            Command::Batches(BatchesCommand::List(args)) => programme::batches::list(&args).await,
            Command::Batches(BatchesCommand::Show(args)) => programme::batches::show(&args).await,
            Command::Findings(FindingsCommand::Add(args)) => programme::views::add_finding(&args).await,
            Command::Receivables(args) => programme::views::receivables(&args).await,
            Command::Budget(args) => programme::views::budget(&args).await,
            Command::Key(KeyCommand::New(args)) => tlog::keys::new(&args),
            Command::Log(LogCommand::Checkpoint(args)) => tlog::log::checkpoint(&args).await,
            Command::Log(LogCommand::Sign(args)) => tlog::log::sign(&args).await,
            Command::Log(LogCommand::Proof(args)) => tlog::log::proof(&args).await,
            Command::Audit(args) => tlog::audit::run(&args).await,
            Command::Witness(args) => tlog::witness::run(&args).await,
            Command::Verify(args) => tlog::verify::run(&args),
        }
    })
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    subsidy_meter::telemetry::init_logging();
    let result = match cli.command {
        Command::Recompute(args) => subsidy_meter::commands::recompute::run(&args),
        command => run_async(command),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", subsidy_meter::terminal::safe(&format!("{e:#}")));
            std::process::ExitCode::from(2)
        }
    }
}
