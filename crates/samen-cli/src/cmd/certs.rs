//! `samen certs`: a local CA and a certificate and key per party of a study, for demos and
//! tests. Whoever holds `ca.key` (and this directory holds every party's key) can impersonate
//! every party; across organisations each party makes its own key with `samen keys` and the
//! study file pins them (docs/deploying.md).

use std::path::PathBuf;

use samen_net::certs::{generate_certs_with, Existing};
use samen_study::spec::Study;

use super::CliError;

/// Arguments of `samen certs`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The study file (TOML); its party names become the certificate names.
    #[arg(long, value_name = "STUDY.toml")]
    study: PathBuf,
    /// Output directory: ca.pem, ca.key, <party>.pem, <party>.key (keys mode 0600). For demos
    /// and tests only: across organisations use `samen keys` on each party's machine.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Replace certificate and key files that already exist in the output directory (without
    /// it, any existing file stops the command before anything is written).
    #[arg(long)]
    force: bool,
}

/// Run `samen certs`.
pub fn run(args: Args) -> Result<(), CliError> {
    let study = Study::load(&args.study)?;
    let names: Vec<String> = study.parties().iter().map(|p| p.name.clone()).collect();
    let existing = if args.force {
        Existing::Overwrite
    } else {
        Existing::Refuse
    };
    generate_certs_with(&names, &args.out, existing)?;
    eprintln!(
        "wrote a CA and certificates for {} to {}",
        names.join(", "),
        args.out.display()
    );
    Ok(())
}
