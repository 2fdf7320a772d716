//! The `subsidy-meter` binary's commands. Each command module wires adapters
//! around the core; none of them holds a rule of its own.

pub mod cli;
pub mod commands;
pub mod config;
pub mod ledger_policy;
pub mod output;
pub mod shutdown;
pub mod store;
pub mod telemetry;
pub mod terminal;
