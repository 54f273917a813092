//! `samen run`: run one party of a study over mutual TLS.
//!
//! ```text
//! samen run --study STUDY.toml --party NAME --certs DIR [--input TABLE=FILE.csv]... --out DIR
//!           [--transcript FILE] [--quiet] [--connect-timeout SECS] [--io-timeout SECS]
//! ```
//! Data parties give their own table; the helper gives none. Each output becomes
//! `OUT/<name>.csv` (data parties); every party writes `OUT/<party>-summary.json` (phase times,
//! bytes per peer, peak memory) and `OUT/run.json` (run id, study hash, every file's SHA-256).
//! The folder `OUT` appears only when the run succeeds, with all its files at once; an earlier
//! run's folder is replaced only with `--force`. Exit status is non-zero on any error, including
//! a peer's abort.

use std::path::PathBuf;
use std::time::Duration;

use crate::runner::{self, RunOptions};

use super::CliError;

/// Arguments of `samen run`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The study file (TOML), byte-identical at all parties.
    #[arg(long, value_name = "STUDY.toml")]
    study: PathBuf,
    /// This party's name in the study.
    #[arg(long, value_name = "NAME")]
    party: String,
    /// Directory with ca.pem, <party>.pem and <party>.key (see `samen certs`).
    #[arg(long, value_name = "DIR")]
    certs: PathBuf,
    /// This party's table: TABLE=FILE.csv (data parties only).
    #[arg(long = "input", value_name = "TABLE=FILE.csv", value_parser = parse_input)]
    inputs: Vec<(String, PathBuf)>,
    /// Output folder for the tables, the run summary and the manifest run.json. Written only
    /// when the run succeeds, all files at once; it must be new or empty.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Replace the output folder of an earlier run (a folder holding run.json).
    #[arg(long)]
    force: bool,
    /// Write a transcript (one JSON line per message: step, peer, direction, bytes, SHA-256).
    #[arg(long, value_name = "FILE")]
    transcript: Option<PathBuf>,
    /// Write progress to FILE as JSON lines, for programs that supervise the run: one
    /// `{"phase": "...", "percent": null}` when a phase starts, then `{"phase": "...",
    /// "percent": N}` at each whole percent of a phase that reports progress.
    #[arg(long, value_name = "FILE")]
    progress_file: Option<PathBuf>,
    /// No progress display and no summary on stderr.
    #[arg(long)]
    quiet: bool,
    /// Seconds to wait for all other parties to connect.
    #[arg(long, value_name = "SECS", default_value_t = 120)]
    connect_timeout: u64,
    /// Seconds a peer may stay silent before this party gives up (at least 1). Parties send a
    /// keep-alive every half second while they compute, so this bounds how long a hung, crashed or
    /// unreachable peer goes unnoticed, not how long a phase may take.
    #[arg(long, value_name = "SECS", default_value_t = 120, value_parser = parse_io_timeout)]
    io_timeout: u64,
}

fn parse_io_timeout(s: &str) -> Result<u64, String> {
    let secs: u64 = s
        .parse()
        .map_err(|_| format!("expected a whole number of seconds, got '{s}'"))?;
    if secs == 0 {
        return Err("0 s would fail every wait at once: use at least 1 s (peers send a keep-alive every half second)".to_string());
    }
    Ok(secs)
}

fn parse_input(s: &str) -> Result<(String, PathBuf), String> {
    match s.split_once('=') {
        Some((t, f)) if !t.is_empty() && !f.is_empty() => Ok((t.to_string(), PathBuf::from(f))),
        _ => Err(format!("expected TABLE=FILE.csv, got '{s}'")),
    }
}

/// Run `samen run`.
pub fn run(args: Args) -> Result<(), CliError> {
    let opts = RunOptions {
        study: args.study,
        party: args.party,
        certs: args.certs,
        inputs: args.inputs,
        out: args.out,
        force: args.force,
        transcript: args.transcript,
        progress: !args.quiet,
        progress_file: args.progress_file,
        connect_timeout: Duration::from_secs(args.connect_timeout),
        io_timeout: Duration::from_secs(args.io_timeout),
    };
    let summary = runner::run(&opts)?;
    if !args.quiet {
        eprint!("{}", summary.report());
    }
    Ok(())
}
