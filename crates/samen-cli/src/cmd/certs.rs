//! `samen certs` (not yet implemented).

use super::CliError;

/// Arguments of `samen certs`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Run `samen certs`.
pub fn run(_args: Args) -> Result<(), CliError> {
    Err("samen certs is not implemented yet".into())
}
