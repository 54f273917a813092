//! `samen run` (not yet implemented).

use super::CliError;

/// Arguments of `samen run`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Run `samen run`.
pub fn run(_args: Args) -> Result<(), CliError> {
    Err("samen run is not implemented yet".into())
}
