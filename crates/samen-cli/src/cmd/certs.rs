//! `samen certs`: a local CA and a certificate and key per party of a study (for pilots, tests
//! and the demo).

use std::path::PathBuf;

use samen_study::runner;

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
}

/// Run `samen certs`.
pub fn run(args: Args) -> Result<(), CliError> {
    let names = runner::generate_study_certs(&args.study, &args.out)?;
    eprintln!(
        "wrote a CA and certificates for {} to {}",
        names.join(", "),
        args.out.display()
    );
    Ok(())
}
