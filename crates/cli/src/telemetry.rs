//! Logging set-up shared by every command: `tracing` to stderr, filtered by `RUST_LOG`.

use tracing_subscriber::EnvFilter;

/// Installs the stderr logger once; `RUST_LOG` overrides the default `info`.
pub fn init_logging() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).with_ansi(ansi).try_init();
}
