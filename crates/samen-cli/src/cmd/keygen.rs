//! `samen keygen`: write a new pseudonymisation key file, or the next version of one.
//!
//! ```text
//! samen keygen --domain cbs-2026 --out cbs-2026.key
//! samen keygen --rotate cbs-2026.key --out cbs-2026-v2.key
//! ```
//!
//! The key file is written with mode 0600 and never overwrites an existing file. Only the key's
//! fingerprint is printed.

use std::path::PathBuf;

use samen_pseudonym::key::PseudonymKey;

use super::CliError;

/// Arguments of `samen keygen`.
#[derive(clap::Args, Debug)]
#[command(group = clap::ArgGroup::new("source").required(true).args(["domain", "rotate"]))]
pub struct Args {
    /// Domain of the new key (letters, digits, '.', '_', '-'; e.g. cbs-2026).
    #[arg(long, value_name = "NAME")]
    pub domain: Option<String>,
    /// Make the next version of this key file (same domain, version + 1, fresh key).
    #[arg(long, value_name = "OLD")]
    pub rotate: Option<PathBuf>,
    /// Where to write the new key file (must not exist).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

/// Run `samen keygen`.
pub fn run(args: Args) -> Result<(), CliError> {
    if args.out.exists() {
        return Err(format!(
            "{} already exists; refusing to overwrite a key file (choose another --out)",
            args.out.display()
        )
        .into());
    }
    let key = match (&args.domain, &args.rotate) {
        (_, Some(old_path)) => {
            let old = PseudonymKey::load(old_path)?;
            let new = old.rotate()?;
            tracing::info!(
                old_fingerprint = %old.fingerprint(),
                old_version = old.version(),
                "rotating key"
            );
            new
        }
        (Some(domain), None) => PseudonymKey::generate(domain)?,
        (None, None) => return Err("give --domain NAME or --rotate OLD".into()),
    };
    key.write_new(&args.out)?;
    tracing::info!(fingerprint = %key.fingerprint(), "wrote key file");
    eprintln!(
        "wrote {} (domain {}, version {}, fingerprint {})",
        args.out.display(),
        key.domain(),
        key.version(),
        key.fingerprint()
    );
    Ok(())
}
