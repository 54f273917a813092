//! Bulk pseudonymisation of CSV files: streaming, parallel, order preserving, atomic.
//!
//! [`pseudonymise_csv`] reads the input in chunks of [`BulkOptions::chunk_records`] records on
//! one thread, normalises and pseudonymises each chunk in parallel (rayon, sub-chunks of
//! [`SUB_CHUNK`] records, each serialised to bytes by the worker that hashed it) and appends the
//! bytes in input order on a writer thread. At most a few chunks are in flight, so memory does not
//! depend on the file size.
//!
//! * The header (line 1) is copied; the id column keeps its name and its values are replaced by
//!   pseudonyms; with a previous key a column `<id-column>_previous` is inserted right after it.
//! * Fields are separated by [`BulkOptions::delimiter`] (default `,`; `;` is common in Dutch
//!   files, tab in exports); the output uses the same delimiter, quoting fields that contain it.
//! * Line numbers are physical lines of the input (the header is line 1); a record with an
//!   embedded newline is reported at the line where it starts.
//! * [`OnInvalid::Fail`]: the first invalid identifier (in file order) stops the run with
//!   [`BulkError::Invalid`] naming its line and reason. [`OnInvalid::Drop`]: invalid rows are left
//!   out and, if a rejects file is given, listed there as `line,code,reason`. Identifiers are never
//!   written to errors or rejects.
//! * The output (and rejects) file is written to a temporary file in the same directory, synced
//!   and renamed over the destination only when everything succeeded; on any error nothing is
//!   left behind. The new files have mode `0600` on Unix (pseudonymised data is still personal
//!   data).
//!
//! ```
//! use samen_pseudonym::csv_bulk::{pseudonymise_csv, BulkOptions};
//! use samen_pseudonym::key::PseudonymKey;
//!
//! let dir = tempfile::tempdir().unwrap();
//! let (input, output) = (dir.path().join("in.csv"), dir.path().join("out.csv"));
//! std::fs::write(&input, "bsn,age\n111222333,41\n12345672,7\n").unwrap();
//! let key = PseudonymKey::generate("cbs-2026").unwrap();
//! let summary = pseudonymise_csv(&input, &output, &key, None, &BulkOptions::new("bsn"), &mut |_| {})
//!     .unwrap();
//! assert_eq!(summary.written, 2);
//! let out = std::fs::read_to_string(&output).unwrap();
//! assert!(out.starts_with("bsn,age\n") && !out.contains("111222333"));
//! ```

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use samen_core::atomic::AtomicFile;

use crate::key::PseudonymKey;
use crate::normalise::InvalidId;

mod lines;
mod options;
mod pipeline;
#[cfg(test)]
mod tests;

pub use lines::{CsvLineError, PhysicalLineReader};
pub use options::{check_delimiter, parse_delimiter, BulkOptions, OnInvalid};
use pipeline::{run_stream, Run};

/// Records per parallel work item inside a chunk.
pub const SUB_CHUNK: usize = 2048;
/// Default number of records per chunk.
pub const DEFAULT_CHUNK_RECORDS: usize = 1 << 16;

/// Progress reported after each chunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// Data rows processed so far.
    pub rows: u64,
    /// Input bytes consumed so far.
    pub bytes_read: u64,
    /// Size of the input file, when known.
    pub total_bytes: Option<u64>,
}

/// What a successful run did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BulkSummary {
    /// Data rows read (excluding the header).
    pub rows: u64,
    /// Rows written to the output.
    pub written: u64,
    /// Rows dropped because of an invalid identifier.
    pub rejected: u64,
    /// Fingerprint of the key used.
    pub fingerprint: String,
    /// Fingerprint of the previous key, if one was given.
    pub previous_fingerprint: Option<String>,
}

/// Errors of bulk pseudonymisation. Messages never contain identifiers or key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BulkError {
    /// The input file could not be opened.
    #[error("cannot open input file {}: {source}", path.display())]
    OpenInput {
        /// The input file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Input and output are the same file.
    #[error("the output file {} is the input file; choose another output path", path.display())]
    SameFile {
        /// The file.
        path: PathBuf,
    },
    /// Reading the input failed.
    #[error("cannot read input file {} near line {line}: {source}", path.display())]
    Read {
        /// The input file.
        path: PathBuf,
        /// The line being read.
        line: u64,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The input is not well-formed CSV (e.g. a row with a different number of fields).
    #[error("malformed CSV in {} on line {line}: {message}", path.display())]
    Malformed {
        /// The input file.
        path: PathBuf,
        /// The line where the bad record starts.
        line: u64,
        /// What is wrong.
        message: String,
    },
    /// The input is empty (no header line).
    #[error("input file {} is empty: expected a header line", path.display())]
    NoHeader {
        /// The input file.
        path: PathBuf,
    },
    /// The id column is not in the header.
    #[error("the id column {column:?} is not in the header (columns: {available})")]
    MissingColumn {
        /// The requested column.
        column: String,
        /// The header's column names, comma separated.
        available: String,
    },
    /// The header names the id column more than once.
    #[error("the header has more than one column named {column:?}")]
    DuplicateColumn {
        /// The column name.
        column: String,
    },
    /// The column for previous pseudonyms already exists.
    #[error("the header already has a column {column:?}; cannot add the previous-key pseudonyms")]
    ColumnExists {
        /// The column name.
        column: String,
    },
    /// An identifier is invalid (with [`OnInvalid::Fail`]); nothing was written.
    #[error("line {line}: {reason}")]
    Invalid {
        /// Physical line of the row (header = line 1).
        line: u64,
        /// Why the identifier was rejected.
        reason: InvalidId,
    },
    /// The delimiter cannot separate CSV fields.
    #[error("invalid delimiter: {0}")]
    Delimiter(String),
    /// The output or rejects file could not be created, written or renamed into place.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The destination file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// Pseudonymise the id column of `input` into `output` (see the [module docs](self)).
///
/// `previous`, if given, adds the column `<id_column>_previous` with pseudonyms under that key.
/// `progress` is called after every chunk.
pub fn pseudonymise_csv(
    input: &Path,
    output: &Path,
    key: &PseudonymKey,
    previous: Option<&PseudonymKey>,
    opts: &BulkOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<BulkSummary, BulkError> {
    check_delimiter(opts.delimiter).map_err(BulkError::Delimiter)?;
    let file = File::open(input).map_err(|source| BulkError::OpenInput {
        path: input.to_owned(),
        source,
    })?;
    if same_file(input, output) || opts.rejects.as_deref().is_some_and(|r| same_file(input, r)) {
        return Err(BulkError::SameFile {
            path: input.to_owned(),
        });
    }
    let total_bytes = file.metadata().ok().map(|m| m.len());
    let mut out_tmp = temp_beside(output)?;
    let mut rej_tmp = match (&opts.rejects, opts.on_invalid) {
        (Some(r), OnInvalid::Drop) => Some((temp_beside(r)?, r.clone())),
        _ => None,
    };
    let summary = {
        let rejects = rej_tmp
            .as_mut()
            .map(|(t, p)| (BufWriter::with_capacity(1 << 16, t.file()), p.clone()));
        let run = Run {
            input_path: input,
            out: out_tmp.file(),
            out_path: output,
            rejects,
            key,
            previous,
            opts,
            total_bytes,
        };
        run_stream(file, run, progress)?
    };
    let werr = |path: &Path| {
        let path = path.to_owned();
        move |source| BulkError::Write { path, source }
    };
    if opts.durable {
        out_tmp.file().sync_all().map_err(werr(output))?;
        if let Some((t, p)) = &mut rej_tmp {
            t.file().sync_all().map_err(werr(p))?;
        }
    }
    // Synced above when durable: both files are on disk before either is renamed.
    out_tmp.commit(false).map_err(werr(output))?;
    if let Some((t, p)) = rej_tmp {
        t.commit(false).map_err(werr(&p))?;
    }
    Ok(summary)
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// A temporary file beside `dest` (mode `0600` on Unix), renamed over it when committed.
fn temp_beside(dest: &Path) -> Result<AtomicFile, BulkError> {
    AtomicFile::create(dest, 0o600).map_err(|source| BulkError::Write {
        path: dest.to_owned(),
        source,
    })
}
