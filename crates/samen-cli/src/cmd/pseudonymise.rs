//! `samen pseudonymise` (not yet implemented).

use super::CliError;

/// Arguments of `samen pseudonymise`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Run `samen pseudonymise`.
pub fn run(_args: Args) -> Result<(), CliError> {
    Err("samen pseudonymise is not implemented yet".into())
}
