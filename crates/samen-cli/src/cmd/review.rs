//! `samen review`: print what a study makes this party send and learn and what it releases
//! to whom, and the study hash to approve.
//!
//! ```text
//! samen review --study study.toml --party portal
//! ```
//!
//! The text comes from [`samen_study::review::statement`]; its last line is the study file's
//! SHA-256 as `sha256:<hex>`, the value `samen run --approve` checks (and the hash every hello
//! compares).

use std::path::PathBuf;

use samen_study::spec::Study;

use super::CliError;

/// Arguments of `samen review`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The study file (TOML) to review.
    #[arg(long, value_name = "STUDY.toml")]
    study: PathBuf,
    /// The party whose view to describe.
    #[arg(long, value_name = "NAME")]
    party: String,
}

/// Run `samen review`.
pub fn run(args: Args) -> Result<(), CliError> {
    let study = Study::load(&args.study)?;
    print!("{}", samen_study::review::statement(&study, &args.party)?);
    Ok(())
}
