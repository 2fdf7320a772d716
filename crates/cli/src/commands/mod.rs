//! One module per subcommand.

pub mod recompute;
