//! `samen keygen` (not yet implemented).

use super::CliError;

/// Arguments of `samen keygen`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Run `samen keygen`.
pub fn run(_args: Args) -> Result<(), CliError> {
    Err("samen keygen is not implemented yet".into())
}
