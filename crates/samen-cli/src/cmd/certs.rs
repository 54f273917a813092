//! `samen certs`: a local CA and a certificate and key per party of a study (for pilots, tests
//! and the demo).

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
    /// Output directory: ca.pem, ca.key, <party>.pem, <party>.key (keys mode 0600).
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
