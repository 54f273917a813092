//! `samen pseudonymise`: replace the identifier column of a CSV file by keyed pseudonyms.
//!
//! ```text
//! samen pseudonymise --key cbs-2026.key --input people.csv --output people.pseud.csv \
//!     --id-column bsn [--id-kind bsn|text] [--on-invalid fail|drop] [--rejects rejects.csv] \
//!     [--previous-key cbs-2025.key] [--delimiter ';'] [--quiet]
//! ```
//!
//! The output is written atomically (temporary file, then rename). With `--on-invalid fail` (the
//! default) the first invalid identifier stops the run with its line number and the reason, and no
//! output is left behind. Identifiers and keys are never printed; the key fingerprint is.

use std::io::IsTerminal;
use std::path::PathBuf;

use samen_pseudonym::csv_bulk::{pseudonymise_csv, BulkError, BulkOptions, OnInvalid};
use samen_pseudonym::key::PseudonymKey;
use samen_pseudonym::normalise::IdKind;

use super::CliError;

/// Arguments of `samen pseudonymise`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Key file written by `samen keygen`.
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// Input CSV file (with a header line).
    #[arg(long, value_name = "IN.csv")]
    pub input: PathBuf,
    /// Output CSV file (replaced atomically if it exists).
    #[arg(long, value_name = "OUT.csv")]
    pub output: PathBuf,
    /// Name of the identifier column.
    #[arg(long, value_name = "NAME")]
    pub id_column: String,
    /// Kind of identifier: bsn (9 digits, 11-test) or text.
    #[arg(long, value_name = "KIND", default_value = "bsn")]
    pub id_kind: IdKind,
    /// What to do with an invalid identifier: fail (stop, write nothing) or drop (skip the row).
    #[arg(long, value_name = "MODE", default_value = "fail")]
    pub on_invalid: OnInvalid,
    /// With --on-invalid drop: list dropped rows here (line, code, reason; no identifiers).
    #[arg(long, value_name = "REJECTS.csv")]
    pub rejects: Option<PathBuf>,
    /// Previous key file: adds a column <id-column>_previous with pseudonyms under that key.
    #[arg(long, value_name = "OLD")]
    pub previous_key: Option<PathBuf>,
    /// Field delimiter of the input, kept in the output: one character (e.g. ';') or "tab".
    #[arg(long, value_name = "CHAR", default_value = ",", value_parser = samen_pseudonym::csv_bulk::parse_delimiter)]
    pub delimiter: u8,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// Run `samen pseudonymise`.
pub fn run(args: Args) -> Result<(), CliError> {
    if args.rejects.is_some() && args.on_invalid != OnInvalid::Drop {
        return Err(
            "--rejects needs --on-invalid drop (with fail, the first invalid row stops the run)"
                .into(),
        );
    }
    let key = PseudonymKey::load(&args.key)?;
    let previous = args
        .previous_key
        .as_deref()
        .map(PseudonymKey::load)
        .transpose()?;
    if let Some(prev) = &previous {
        if prev.domain() != key.domain() {
            tracing::warn!(
                "the previous key's domain {} differs from the key's domain {}",
                prev.domain(),
                key.domain()
            );
        }
    }
    tracing::info!(
        fingerprint = %key.fingerprint(),
        domain = key.domain(),
        version = key.version(),
        "pseudonymising"
    );

    let mut opts = BulkOptions::new(args.id_column.clone());
    opts.id_kind = args.id_kind;
    opts.on_invalid = args.on_invalid;
    opts.rejects = args.rejects.clone();
    opts.delimiter = args.delimiter;

    let bar = if args.quiet || !std::io::stderr().is_terminal() {
        None
    } else {
        let size = std::fs::metadata(&args.input).map(|m| m.len()).unwrap_or(0);
        let bar = indicatif::ProgressBar::new(size);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, {eta}) {msg}",
        ) {
            bar.set_style(style);
        }
        Some(bar)
    };
    let mut on_progress = |p: samen_pseudonym::csv_bulk::Progress| {
        if let Some(bar) = &bar {
            bar.set_position(p.bytes_read);
            bar.set_message(format!("{} rows", p.rows));
        }
    };
    let result = pseudonymise_csv(
        &args.input,
        &args.output,
        &key,
        previous.as_ref(),
        &opts,
        &mut on_progress,
    );
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let summary = match result {
        Ok(s) => s,
        Err(BulkError::Invalid { line, reason }) => {
            return Err(format!(
                "{}: line {line}: {reason}; no output was written (fix the row, or use --on-invalid drop to skip invalid rows)",
                args.input.display()
            )
            .into())
        }
        Err(e) => return Err(e.into()),
    };
    let mut msg = format!(
        "wrote {} ({} of {} rows",
        args.output.display(),
        summary.written,
        summary.rows
    );
    if summary.rejected > 0 {
        msg.push_str(&format!(", {} dropped as invalid", summary.rejected));
        if let Some(r) = &args.rejects {
            msg.push_str(&format!(" and listed in {}", r.display()));
        }
    }
    msg.push_str(&format!(
        ") with key {} version {} fingerprint {}",
        key.domain(),
        key.version(),
        summary.fingerprint
    ));
    if let Some(fp) = &summary.previous_fingerprint {
        msg.push_str(&format!("; previous key fingerprint {fp}"));
    }
    eprintln!("{msg}");
    Ok(())
}
