//! One module per subcommand. Each exposes `Args` (clap) and `run(Args) -> Result<(), CliError>`.

pub mod certs;
pub mod demo;
pub mod keygen;
pub mod keys;
pub mod pseudonymise;
pub mod review;
pub mod run;
pub mod synth;

/// The error a subcommand reports: a message that tells the user what to fix.
pub type CliError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Logs go to stderr, filtered by `RUST_LOG` (default `warn`), with colours only when stderr is
/// a terminal (log files stay plain text).
pub fn init_logging() {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}
