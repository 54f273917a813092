//! `samen synth` (not yet implemented).

use super::CliError;

/// Arguments of `samen synth`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Run `samen synth`.
pub fn run(_args: Args) -> Result<(), CliError> {
    Err("samen synth is not implemented yet".into())
}
