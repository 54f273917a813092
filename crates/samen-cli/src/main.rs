//! The `samen` command-line tool.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
// The arguments' doc comments are the `--help` text, where `<party>` means a placeholder.
#![allow(rustdoc::invalid_html_tags)]

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd;
mod outdir;
mod progress;
mod runner;

/// samen: secure multiparty computation for official statistics.
#[derive(Parser)]
#[command(name = "samen", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write a new pseudonymisation key file (or the next version of one with --rotate).
    Keygen(cmd::keygen::Args),
    /// Replace an identifier column of a CSV file by keyed pseudonyms.
    #[command(alias = "pseudonymize")]
    Pseudonymise(cmd::pseudonymise::Args),
    /// Make this party's own key and self-signed certificate; prints the fingerprint to pin.
    Keys(cmd::keys::Args),
    /// For demos and tests: one local CA and a certificate and key for every party.
    Certs(cmd::certs::Args),
    /// Print what a study makes this party send and learn and what it releases, and the
    /// study hash to approve.
    Review(cmd::review::Args),
    /// Run one party of a study.
    Run(cmd::run::Args),
    /// Generate synthetic data.
    Synth(cmd::synth::Args),
    /// Run the whole demo: synthetic data, three parties as processes, tables, checks.
    Demo(cmd::demo::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    cmd::init_logging();
    let result = match cli.command {
        Command::Keygen(a) => cmd::keygen::run(a),
        Command::Pseudonymise(a) => cmd::pseudonymise::run(a),
        Command::Keys(a) => cmd::keys::run(a),
        Command::Certs(a) => cmd::certs::run(a),
        Command::Review(a) => cmd::review::run(a),
        Command::Run(a) => cmd::run::run(a),
        Command::Synth(a) => cmd::synth::run(a),
        Command::Demo(a) => cmd::demo::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
