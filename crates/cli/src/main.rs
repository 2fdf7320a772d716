//! `subsidy-meter`: parses the command line and hands over to a command module.

use clap::Parser;
use subsidy_meter::cli::{Cli, Command};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    subsidy_meter::telemetry::init_logging();
    let result = match cli.command {
        Command::Recompute(args) => subsidy_meter::commands::recompute::run(&args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}
