//! One module per subcommand.

pub mod collect;
pub mod platform_sim;
pub mod recompute;
