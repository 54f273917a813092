//! `samen demo` (not yet implemented).

use super::CliError;

/// Arguments of `samen demo`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Run `samen demo`.
pub fn run(_args: Args) -> Result<(), CliError> {
    Err("samen demo is not implemented yet".into())
}
