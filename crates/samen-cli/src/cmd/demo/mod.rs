//! `samen demo`: the whole job in one command.
//!
//! 1. Generate synthetic MijnOverheid-style data (`samen synth`) into a temporary directory.
//! 2. Pick three free loopback ports and write them into the study file.
//! 3. Generate a study CA and party certificates by running this binary's `certs`.
//! 4. Start `bureau` (register), `portal` (usage) and `trustee` (helper) as three OS processes of
//!    this binary (`samen run … --quiet`) talking mutual TLS on 127.0.0.1, with a spinner.
//! 5. Print each revealed table, the time per phase and the bytes each party sent (from the
//!    `<party>-summary.json` files the runners write), and check every file against the study
//!    engine's plaintext reference (`samen_study::reference`, the same declarations evaluated
//!    in the clear on both inputs) — possible only because the demo generated both data sets.
//!    Exact outputs must match byte for byte, at the bureau and at the portal; for a
//!    differentially private output the demo checks every cell is there and reports the noise
//!    (noisy − exact). Exit non-zero if a party fails or a table differs.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::synth;
use super::CliError;

mod check;
mod children;
mod report;
mod run;
#[cfg(test)]
mod tests;
mod view;

/// Arguments of `samen demo`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Number of residents in the synthetic register.
    #[arg(long, default_value_t = synth::DEFAULT_RESIDENTS)]
    residents: usize,
    /// Number of portal users in the synthetic usage table.
    #[arg(long, default_value_t = synth::DEFAULT_USERS)]
    users: usize,
    /// Seed of the synthetic data.
    #[arg(long, default_value_t = synth::DEFAULT_SEED)]
    seed: u64,
    /// Keep the data, study file, certificates, outputs and logs in DIR (default: a temporary
    /// directory that is removed at the end).
    #[arg(long, value_name = "DIR")]
    keep: Option<PathBuf>,
    /// Stop the parties if they have not finished after this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = 1800)]
    timeout: u64,
    /// Use the two-party Diffie–Hellman join (minutes for 10^6 rows) instead of the
    /// helper-assisted join (seconds).
    #[arg(long)]
    two_party: bool,
}

/// Errors of `samen demo`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DemoError {
    /// A file or directory operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What the demo was doing.
        what: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A child process (certs or a party) failed.
    #[error("{0}")]
    Child(String),
    /// The demo's own study file or data could not be read back for the plaintext check.
    #[error("cannot read back the generated study or data: {0}")]
    Reference(String),
    /// Some revealed outputs differ from the plaintext computation.
    #[error("{0} of {1} outputs differ from the plaintext computation")]
    Mismatch(usize, usize),
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> DemoError {
    let what = what.into();
    move |source| DemoError::Io { what, source }
}

/// Run `samen demo`.
pub fn run(args: Args) -> Result<(), CliError> {
    let started = Instant::now();
    let exe = std::env::current_exe().map_err(io("cannot find the samen executable"))?;
    let tmp;
    let dir: PathBuf = match &args.keep {
        Some(d) => {
            std::fs::create_dir_all(d).map_err(io(format!("cannot create {}", d.display())))?;
            d.clone()
        }
        None => {
            tmp = tempfile::Builder::new()
                .prefix("samen-demo-")
                .tempdir()
                .map_err(io("cannot create a temporary directory"))?;
            tmp.path().to_path_buf()
        }
    };
    let mut timings: Vec<(&str, Duration)> = Vec::new();

    println!("samen demo: a joint study of a population register and a portal usage log");
    println!(
        "  bureau holds the register, portal the usage log, trustee is the helper (sees no data)\n"
    );

    // 1–2. Data and study file with free ports.
    let t = Instant::now();
    let (data, ports) = run::generate_data(&args, &dir)?;
    timings.push(("generate synthetic data", t.elapsed()));

    // 3. Certificates.
    let t = Instant::now();
    let certs = run::make_certs(&exe, &dir, &data.study)?;
    timings.push(("certificates", t.elapsed()));
    run::print_study(&data.study, ports, args.two_party, &certs);

    // 4. The three parties.
    let t = Instant::now();
    let logs = dir.join("logs");
    let mut parties = children::start(&exe, &args, &dir, &data, &certs, &logs)?;
    println!("parties   started bureau, portal and trustee as three processes (mutual TLS)\n");
    let failures = children::supervise(&mut parties, Duration::from_secs(args.timeout));
    let party_time = t.elapsed();
    timings.push(("three parties (wall)", party_time));
    if !failures.is_empty() {
        let logs = args.keep.is_some().then_some(logs.as_path());
        let msg = children::failure_report(&parties, &failures, party_time, args.timeout, logs);
        return Err(DemoError::Child(msg).into());
    }
    println!(
        "all three parties finished in {}\n",
        report::seconds(party_time)
    );

    // 5. Tables, costs, checks.
    let t = Instant::now();
    let checked = report::check_outputs(&data, &parties, &dir)?;
    timings.push(("plaintext check", t.elapsed()));

    report::print_costs(&parties);
    report::print_timings(&timings, started.elapsed());
    let differ = report::print_verdicts(&checked);
    if let Some(d) = &args.keep {
        println!(
            "\nkept data, study file, certificates, outputs and logs in {}",
            d.display()
        );
    }
    if differ > 0 {
        return Err(DemoError::Mismatch(differ, checked.verdicts.len()).into());
    }
    Ok(())
}
