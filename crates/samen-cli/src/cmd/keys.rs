//! `samen keys`: make this party's own key pair and self-signed certificate.
//!
//! ```text
//! samen keys --party portal --out keys/
//! ```
//!
//! Writes `DIR/<party>.key` (private key, mode 0600, never printed) and `DIR/<party>.pem`
//! (self-signed certificate), never replacing an existing file unless `--force` is given, and
//! prints the key's fingerprint as the last line of standard output: `sha256:` and 64 hex
//! digits, the SHA-256 of the DER SubjectPublicKeyInfo (the public key with its algorithm),
//! to be pinned as `key = "sha256:…"` under `[parties.<party>]` in the study file. Each party
//! runs this on its own machine; no party ever holds another party's private key.

use std::path::PathBuf;

use samen_net::certs::Existing;
use samen_net::pin::generate_party_key;

use super::CliError;

/// Arguments of `samen keys`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// This party's name, as in the study file.
    #[arg(long, value_name = "NAME")]
    party: String,
    /// Directory for <party>.key (mode 0600) and <party>.pem; created if missing.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Replace this party's key and certificate if they exist (the old fingerprint then no
    /// longer matches the study file).
    #[arg(long)]
    force: bool,
}

/// Run `samen keys`.
pub fn run(args: Args) -> Result<(), CliError> {
    let existing = if args.force {
        Existing::Overwrite
    } else {
        Existing::Refuse
    };
    let fingerprint = generate_party_key(&args.party, &args.out, existing)?;
    eprintln!(
        "wrote the private key {} (mode 0600; keep it on this machine) and the certificate {}\n\
         pin this fingerprint in the study file under [parties.{}]: key = \"{fingerprint}\"",
        args.out.join(format!("{}.key", args.party)).display(),
        args.out.join(format!("{}.pem", args.party)).display(),
        args.party,
    );
    println!("{fingerprint}");
    Ok(())
}
