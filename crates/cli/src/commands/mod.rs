//! One module per subcommand.

pub mod aggregate;
pub mod api;
pub mod api_tables;
pub mod close;
pub mod collect;
pub mod demo;
pub mod funding;
pub mod ledger;
pub mod platform_sim;
pub mod policy;
pub mod programme;
pub mod recompute;
pub mod tlog;
pub mod reconcile;
