//! `samen run`: run one party of a study over mutual TLS.
//!
//! ```text
//! samen run --study STUDY.toml --party NAME (--keys DIR | --certs DIR) [--approve sha256:HEX]
//!           [--input TABLE=FILE.csv]... --out DIR
//!           [--transcript FILE] [--quiet] [--connect-timeout SECS] [--io-timeout SECS]
//!           [--ledger FILE [--max-epsilon E] [--max-rho R]]
//! ```
//! `--keys` (this party's own key from `samen keys`, peers authenticated by the keys pinned in
//! the study file) is for deployments; `--certs` (one CA from `samen certs`) is for demos and
//! tests. `--approve` makes the run refuse, before connecting, a study file whose SHA-256 is
//! not the approved one (`samen review` prints it).
//! Data parties give their own table; the helper gives none. Each output becomes
//! `OUT/<name>.csv` (data parties); every party writes `OUT/<party>-summary.json` (phase times,
//! bytes per peer, peak memory) and `OUT/run.json` (run id, study hash, every file's SHA-256).
//! The folder `OUT` appears only when the run succeeds, with all its files at once; an earlier
//! run's folder is replaced only with `--force`. Exit status is non-zero on any error, including
//! a peer's abort.

use std::path::PathBuf;
use std::time::Duration;

use samen_core::dp::Ratio;

use crate::runner::{self, RunOptions};

use super::CliError;

/// Arguments of `samen run`.
#[derive(clap::Args, Debug)]
#[command(group = clap::ArgGroup::new("credentials").required(true).args(["keys", "certs"]))]
pub struct Args {
    /// The study file (TOML), byte-identical at all parties.
    #[arg(long, value_name = "STUDY.toml")]
    study: PathBuf,
    /// This party's name in the study.
    #[arg(long, value_name = "NAME")]
    party: String,
    /// Directory with this party's own <party>.key and <party>.pem (see `samen keys`); every
    /// peer is authenticated by the key pinned for it in the study file (key = "sha256:…").
    #[arg(long, value_name = "DIR")]
    keys: Option<PathBuf>,
    /// For demos and tests: directory with ca.pem, <party>.pem and <party>.key from `samen
    /// certs` (one CA for all parties; whoever holds ca.key can impersonate any party).
    #[arg(long, value_name = "DIR")]
    certs: Option<PathBuf>,
    /// Run only if the study file's SHA-256 is this one (`sha256:<64 hex>`, the last line of
    /// `samen review`); checked before anything else.
    #[arg(long, value_name = "sha256:HEX", value_parser = parse_approve)]
    approve: Option<String>,
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
    /// Keep a privacy-budget ledger for this party's table in FILE (data parties): the run's
    /// epsilon and rho are added to what earlier runs spent, and the run is refused before
    /// anything is sent if a total would exceed the table's max_epsilon / max_rho.
    #[arg(long, value_name = "FILE")]
    ledger: Option<PathBuf>,
    /// Total epsilon allowed for this party's table (overrides the ledger's max_epsilon;
    /// needs --ledger). A decimal or fraction: 1, 0.5, 3/7.
    #[arg(long, value_name = "E", requires = "ledger", value_parser = parse_budget)]
    max_epsilon: Option<Ratio>,
    /// Total rho allowed for this party's table (overrides the ledger's max_rho; needs
    /// --ledger).
    #[arg(long, value_name = "R", requires = "ledger", value_parser = parse_budget)]
    max_rho: Option<Ratio>,
}

fn parse_budget(s: &str) -> Result<Ratio, String> {
    Ratio::from_decimal_str(s).map_err(|e| e.to_string())
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

fn parse_approve(s: &str) -> Result<String, String> {
    match s.strip_prefix("sha256:") {
        Some(h) if h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Ok(format!("sha256:{}", h.to_ascii_lowercase()))
        }
        _ => Err(format!(
            "expected sha256: followed by 64 hex digits (the last line of `samen review`), got '{s}'"
        )),
    }
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
        keys: args.keys,
        approve: args.approve,
        inputs: args.inputs,
        out: args.out,
        force: args.force,
        transcript: args.transcript,
        progress: !args.quiet,
        progress_file: args.progress_file,
        connect_timeout: Duration::from_secs(args.connect_timeout),
        io_timeout: Duration::from_secs(args.io_timeout),
        ledger: args.ledger,
        caps: samen_study::ledger::Caps {
            max_epsilon: args.max_epsilon,
            max_rho: args.max_rho,
        },
    };
    let summary = runner::run(&opts)?;
    if !args.quiet {
        eprint!("{}", summary.report());
    }
    Ok(())
}
