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

use std::fmt;
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use csv::ByteRecord;
use rayon::prelude::*;

use crate::key::PseudonymKey;
use crate::normalise::{normalise_bytes, IdKind, InvalidId};
use crate::pseudonym::{Pseudonymiser, PSEUDONYM_HEX_LEN};

/// Records per parallel work item inside a chunk.
pub const SUB_CHUNK: usize = 2048;
/// Default number of records per chunk.
pub const DEFAULT_CHUNK_RECORDS: usize = 1 << 16;

/// What to do with a row whose identifier is invalid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum OnInvalid {
    /// Stop at the first invalid identifier; write nothing. Written `fail`.
    #[default]
    Fail,
    /// Leave the row out (and list it in the rejects file, if any). Written `drop`.
    Drop,
}

impl FromStr for OnInvalid {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "fail" => Ok(OnInvalid::Fail),
            "drop" => Ok(OnInvalid::Drop),
            other => Err(format!(
                "unknown --on-invalid value {other:?}: expected \"fail\" or \"drop\""
            )),
        }
    }
}

impl fmt::Display for OnInvalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OnInvalid::Fail => "fail",
            OnInvalid::Drop => "drop",
        })
    }
}

/// Options of [`pseudonymise_csv`].
#[derive(Clone, Debug)]
pub struct BulkOptions {
    /// Name of the identifier column (matched after trimming header names).
    pub id_column: String,
    /// How identifiers are normalised.
    pub id_kind: IdKind,
    /// What to do with invalid identifiers.
    pub on_invalid: OnInvalid,
    /// Where to list dropped rows (`line,code,reason`); only used with [`OnInvalid::Drop`].
    pub rejects: Option<PathBuf>,
    /// Records per chunk (memory is a small multiple of this; at least 1).
    pub chunk_records: usize,
    /// Sync the output to disk before renaming it into place (default `true`).
    pub durable: bool,
    /// Field delimiter of the input and the output (default `b','`): one ASCII byte other than
    /// `"`, CR and LF ([`check_delimiter`]).
    pub delimiter: u8,
}

/// A delimiter as users write it: one printable ASCII character (not `"`), or `tab` (also
/// `\t`, written as a backslash and a `t`, or the tab character itself).
///
/// ```
/// use samen_pseudonym::csv_bulk::parse_delimiter;
/// assert_eq!(parse_delimiter(";"), Ok(b';'));
/// assert_eq!(parse_delimiter("tab"), Ok(b'\t'));
/// assert!(parse_delimiter(";;").is_err() && parse_delimiter("\"").is_err());
/// ```
pub fn parse_delimiter(s: &str) -> Result<u8, String> {
    let d = match s.as_bytes() {
        b"tab" | b"\\t" | b"\t" => b'\t',
        [d] => *d,
        _ => return Err(format!("expected one character or \"tab\", got {s:?}")),
    };
    check_delimiter(d)?;
    Ok(d)
}

/// Check that `d` can separate CSV fields: one printable ASCII byte or tab, not `"`.
///
/// ```
/// use samen_pseudonym::csv_bulk::check_delimiter;
/// assert!(check_delimiter(b';').is_ok() && check_delimiter(b'\t').is_ok());
/// assert!(check_delimiter(b'"').is_err() && check_delimiter(b'\n').is_err());
/// ```
pub fn check_delimiter(d: u8) -> Result<(), String> {
    if d == b'\t' || (d.is_ascii_graphic() && d != b'"') {
        Ok(())
    } else {
        Err(format!(
            "{:?} cannot separate CSV fields: use one printable ASCII character other than '\"', or tab",
            char::from(d)
        ))
    }
}

impl BulkOptions {
    /// Defaults: BSN identifiers, fail on invalid, no rejects file, 65536-record chunks, durable.
    pub fn new(id_column: impl Into<String>) -> Self {
        BulkOptions {
            id_column: id_column.into(),
            id_kind: IdKind::Bsn,
            on_invalid: OnInvalid::Fail,
            rejects: None,
            chunk_records: DEFAULT_CHUNK_RECORDS,
            durable: true,
            delimiter: b',',
        }
    }
}

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
        let out_file = out_tmp.as_file_mut();
        let rej = rej_tmp.as_mut().map(|(t, p)| {
            (
                BufWriter::with_capacity(1 << 16, t.as_file_mut()),
                p.clone(),
            )
        });
        run_stream(
            file,
            input,
            (out_file, output),
            rej,
            key,
            previous,
            opts,
            total_bytes,
            progress,
        )?
    };
    let werr = |path: &Path| {
        let path = path.to_owned();
        move |source| BulkError::Write { path, source }
    };
    if opts.durable {
        out_tmp.as_file().sync_all().map_err(werr(output))?;
        if let Some((t, p)) = &rej_tmp {
            t.as_file().sync_all().map_err(werr(p))?;
        }
    }
    out_tmp.persist(output).map_err(|e| BulkError::Write {
        path: output.to_owned(),
        source: e.error,
    })?;
    if let Some((t, p)) = rej_tmp {
        t.persist(&p).map_err(|e| BulkError::Write {
            path: p.clone(),
            source: e.error,
        })?;
    }
    Ok(summary)
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

fn temp_beside(dest: &Path) -> Result<tempfile::NamedTempFile, BulkError> {
    let dir = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    tempfile::Builder::new()
        .prefix(".samen-tmp-")
        .tempfile_in(dir)
        .map_err(|source| BulkError::Write {
            path: dest.to_owned(),
            source,
        })
}

/// A chunk of parsed records on its way from the reader to the workers.
struct Chunk {
    records: Vec<ByteRecord>,
    len: usize,
    bytes_read: u64,
}

/// Output of one sub-chunk.
#[derive(Default)]
struct SubOut {
    data: Vec<u8>,
    rejects: Vec<(u64, InvalidId)>,
    written: u64,
    failed: Option<(u64, InvalidId)>,
}

/// Bytes for the writer thread: output pieces in order and the rejects lines of the chunk.
struct OutChunk {
    pieces: Vec<Vec<u8>>,
    rejects: Vec<u8>,
}

#[allow(clippy::too_many_arguments)]
fn run_stream<R: Read + Send, W: Write + Send, X: Write + Send>(
    input: R,
    input_path: &Path,
    (out, out_path): (W, &Path),
    rejects: Option<(X, PathBuf)>,
    key: &PseudonymKey,
    previous: Option<&PseudonymKey>,
    opts: &BulkOptions,
    total_bytes: Option<u64>,
    progress: &mut dyn FnMut(Progress),
) -> Result<BulkSummary, BulkError> {
    let mut rdr = LineReader::new(input, input_path, opts.delimiter);
    let mut header = ByteRecord::new();
    if !rdr.read(&mut header)? {
        return Err(BulkError::NoHeader {
            path: input_path.to_owned(),
        });
    }
    let names: Vec<Vec<u8>> = header
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let f = if i == 0 {
                f.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(f)
            } else {
                f
            };
            f.trim_ascii().to_vec()
        })
        .collect();
    let want = opts.id_column.trim().as_bytes();
    let mut matches = names
        .iter()
        .enumerate()
        .filter(|(_, n)| n.as_slice() == want);
    let col = match (matches.next(), matches.next()) {
        (Some((i, _)), None) => i,
        (Some(_), Some(_)) => {
            return Err(BulkError::DuplicateColumn {
                column: opts.id_column.clone(),
            })
        }
        (None, _) => {
            return Err(BulkError::MissingColumn {
                column: opts.id_column.clone(),
                available: names
                    .iter()
                    .map(|n| String::from_utf8_lossy(n).into_owned())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
        }
    };
    let prev_name = format!("{}_previous", opts.id_column.trim());
    if previous.is_some() && names.iter().any(|n| n.as_slice() == prev_name.as_bytes()) {
        return Err(BulkError::ColumnExists { column: prev_name });
    }

    let delim = opts.delimiter;
    let mut head = Vec::with_capacity(256);
    for (i, n) in names.iter().enumerate() {
        if i > 0 {
            head.push(delim);
        }
        write_field(&mut head, n, delim);
        if i == col && previous.is_some() {
            head.push(delim);
            write_field(&mut head, prev_name.as_bytes(), delim);
        }
    }
    head.push(b'\n');

    let current = Pseudonymiser::new(key);
    let prev = previous.map(Pseudonymiser::new);
    // Output buffers go round from the workers to the writer and back, so that no large buffer is
    // allocated (and page-faulted) per sub-chunk.
    let pool = BufferPool::default();
    let job = Job {
        col,
        delimiter: delim,
        kind: opts.id_kind,
        on_invalid: opts.on_invalid,
        current: &current,
        previous: prev.as_ref(),
        pool: &pool,
    };
    let chunk_records = opts.chunk_records.max(1);

    let (full_tx, full_rx) = sync_channel::<Result<Chunk, BulkError>>(1);
    let (recycle_tx, recycle_rx) = sync_channel::<Vec<ByteRecord>>(2);
    let (out_tx, out_rx) = sync_channel::<OutChunk>(2);

    let mut rows = 0u64;
    let mut written = 0u64;
    let mut rejected = 0u64;
    let want_rejects = rejects.is_some() && opts.on_invalid == OnInvalid::Drop;

    std::thread::scope(|s| -> Result<(), BulkError> {
        s.spawn(move || read_chunks(rdr, chunk_records, full_tx, recycle_rx));
        let pool = &pool;
        let writer = s.spawn(move || write_chunks(out, out_path, rejects, head, out_rx, pool));

        let mut outcome = Ok(());
        for msg in full_rx.iter() {
            let chunk = match msg {
                Ok(c) => c,
                Err(e) => {
                    outcome = Err(e);
                    break;
                }
            };
            let recs = chunk.records.get(..chunk.len).unwrap_or(&[]);
            let subs: Vec<SubOut> = recs
                .par_chunks(SUB_CHUNK)
                .map(|sub| job.process(sub))
                .collect();
            rows += chunk.len as u64;
            let mut pieces = Vec::with_capacity(subs.len());
            let mut rej_bytes = Vec::new();
            for sub in subs {
                if let Some((line, reason)) = sub.failed {
                    outcome = Err(BulkError::Invalid { line, reason });
                    break;
                }
                written += sub.written;
                rejected += sub.rejects.len() as u64;
                if want_rejects {
                    for (line, reason) in &sub.rejects {
                        rej_bytes.extend_from_slice(
                            format!("{line},{},{reason}\n", reason.code()).as_bytes(),
                        );
                    }
                }
                pieces.push(sub.data);
            }
            if outcome.is_err() {
                break;
            }
            // Return the record buffers to the reader (ignored if it has finished).
            let _ = recycle_tx.try_send(chunk.records);
            if out_tx
                .send(OutChunk {
                    pieces,
                    rejects: rej_bytes,
                })
                .is_err()
            {
                // The writer failed; its error is reported below.
                break;
            }
            progress(Progress {
                rows,
                bytes_read: chunk.bytes_read,
                total_bytes,
            });
        }
        drop(full_rx);
        drop(out_tx);
        let written_ok = match writer.join() {
            Ok(r) => r,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        outcome.and(written_ok)
    })?;

    Ok(BulkSummary {
        rows,
        written,
        rejected,
        fingerprint: current.fingerprint().to_owned(),
        previous_fingerprint: prev.as_ref().map(|p| p.fingerprint().to_owned()),
    })
}

/// Reader thread: parse records into recycled chunk buffers and send them on.
fn read_chunks<R: Read>(
    mut rdr: LineReader<'_, R>,
    chunk_records: usize,
    full_tx: SyncSender<Result<Chunk, BulkError>>,
    recycle_rx: Receiver<Vec<ByteRecord>>,
) {
    loop {
        let mut records = recycle_rx
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(chunk_records));
        let mut len = 0;
        let mut eof = false;
        while len < chunk_records {
            if records.len() <= len {
                records.push(ByteRecord::new());
            }
            let Some(rec) = records.get_mut(len) else {
                break;
            };
            match rdr.read(rec) {
                Ok(true) => len += 1,
                Ok(false) => {
                    eof = true;
                    break;
                }
                Err(e) => {
                    let _ = full_tx.send(Err(e));
                    return;
                }
            }
        }
        let bytes_read = rdr.inner.bytes_read();
        if len > 0
            && full_tx
                .send(Ok(Chunk {
                    records,
                    len,
                    bytes_read,
                }))
                .is_err()
        {
            return;
        }
        if eof {
            return;
        }
    }
}

/// Writer thread: header, then the pieces of each chunk in order; rejects alongside.
fn write_chunks<W: Write, X: Write>(
    mut out: W,
    out_path: &Path,
    mut rejects: Option<(X, PathBuf)>,
    head: Vec<u8>,
    out_rx: Receiver<OutChunk>,
    pool: &BufferPool,
) -> Result<(), BulkError> {
    let oerr = |source| BulkError::Write {
        path: out_path.to_owned(),
        source,
    };
    out.write_all(&head).map_err(oerr)?;
    if let Some((r, p)) = rejects.as_mut() {
        r.write_all(b"line,code,reason\n")
            .map_err(|source| BulkError::Write {
                path: p.clone(),
                source,
            })?;
    }
    for chunk in out_rx.iter() {
        for piece in chunk.pieces {
            out.write_all(&piece).map_err(oerr)?;
            pool.put(piece);
        }
        if let Some((r, p)) = rejects.as_mut() {
            r.write_all(&chunk.rejects)
                .map_err(|source| BulkError::Write {
                    path: p.clone(),
                    source,
                })?;
        }
    }
    out.flush().map_err(oerr)?;
    if let Some((r, p)) = rejects.as_mut() {
        r.flush().map_err(|source| BulkError::Write {
            path: p.clone(),
            source,
        })?;
    }
    Ok(())
}

/// The per-record work shared by all workers.
struct Job<'a> {
    col: usize,
    delimiter: u8,
    kind: IdKind,
    on_invalid: OnInvalid,
    current: &'a Pseudonymiser,
    previous: Option<&'a Pseudonymiser>,
    pool: &'a BufferPool,
}

/// Recycled output buffers (at most [`BufferPool::MAX`] kept).
#[derive(Default)]
struct BufferPool(std::sync::Mutex<Vec<Vec<u8>>>);

impl BufferPool {
    const MAX: usize = 256;

    fn take(&self, capacity: usize) -> Vec<u8> {
        let reused = self.0.lock().ok().and_then(|mut v| v.pop());
        match reused {
            Some(mut b) => {
                b.clear();
                b.reserve(capacity);
                b
            }
            None => Vec::with_capacity(capacity),
        }
    }

    fn put(&self, buf: Vec<u8>) {
        if let Ok(mut v) = self.0.lock() {
            if v.len() < Self::MAX {
                v.push(buf);
            }
        }
    }
}

impl Job<'_> {
    fn process(&self, records: &[ByteRecord]) -> SubOut {
        let mut out = SubOut {
            data: self.pool.take(records.len() * 128),
            ..SubOut::default()
        };
        let mut hex = [0u8; PSEUDONYM_HEX_LEN];
        let mut prev_hex = [0u8; PSEUDONYM_HEX_LEN];
        for rec in records {
            let raw = rec.get(self.col).unwrap_or(b"");
            match normalise_bytes(self.kind, raw) {
                Ok(id) => {
                    self.current.hex_into(id.as_bytes(), &mut hex);
                    if let Some(p) = self.previous {
                        p.hex_into(id.as_bytes(), &mut prev_hex);
                    }
                    for (i, field) in rec.iter().enumerate() {
                        if i > 0 {
                            out.data.push(self.delimiter);
                        }
                        if i == self.col {
                            out.data.extend_from_slice(&hex);
                            if self.previous.is_some() {
                                out.data.push(self.delimiter);
                                out.data.extend_from_slice(&prev_hex);
                            }
                        } else {
                            write_field(&mut out.data, field, self.delimiter);
                        }
                    }
                    out.data.push(b'\n');
                    out.written += 1;
                }
                Err(reason) => {
                    let line = rec.position().map_or(0, csv::Position::line);
                    match self.on_invalid {
                        OnInvalid::Fail => {
                            out.failed = Some((line, reason));
                            return out;
                        }
                        OnInvalid::Drop => out.rejects.push((line, reason)),
                    }
                }
            }
        }
        out
    }
}

/// Append one CSV field, quoting it when it contains the delimiter, a quote or a line break.
fn write_field(out: &mut Vec<u8>, field: &[u8], delimiter: u8) {
    if field
        .iter()
        .any(|&b| b == delimiter || matches!(b, b'"' | b'\n' | b'\r'))
    {
        out.push(b'"');
        for &b in field {
            if b == b'"' {
                out.push(b'"');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(field);
    }
}

/// Keeps a copy of the bytes the CSV parser has read but not yet passed, so that line numbers
/// can be corrected: `csv` reports a record at the position where reading started, which is
/// before any skipped blank lines and, for CRLF files, before the previous record's `\n`.
struct Tee<R> {
    inner: R,
    /// Input offset of `bytes[0]`.
    base: u64,
    bytes: Vec<u8>,
}

impl<R: Read> Read for Tee<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes.extend_from_slice(buf.get(..n).unwrap_or(&[]));
        Ok(n)
    }
}

/// A CSV read error with the physical line where the bad record starts (header = line 1).
#[derive(Debug, thiserror::Error)]
#[error("line {line}: {source}")]
pub struct CsvLineError {
    /// Physical line (1-based) where the record that failed starts.
    pub line: u64,
    /// The parser's error (its own position is not a physical line).
    #[source]
    pub source: csv::Error,
}

/// A CSV reader (no header handling, not flexible) that sets every record's position to the
/// physical line where the record starts: the first line of the input is line 1, blank lines and
/// line breaks inside quoted fields are counted, and LF and CRLF files give the same numbers.
///
/// ```
/// use samen_pseudonym::csv_bulk::PhysicalLineReader;
/// let text = "id,x\r\n\r\n1,\"a\r\nb\"\r\n2,y\r\n";
/// let mut rdr = PhysicalLineReader::new(text.as_bytes(), b',');
/// let mut rec = csv::ByteRecord::new();
/// let mut lines = Vec::new();
/// while rdr.read_byte_record(&mut rec).unwrap() {
///     lines.push(rec.position().unwrap().line());
/// }
/// assert_eq!(lines, vec![1, 3, 5]);
/// ```
pub struct PhysicalLineReader<R> {
    rdr: csv::Reader<Tee<R>>,
    /// Byte offset and line (1-based) just after the previous record.
    end_byte: u64,
    end_line: u64,
}

/// Copied bytes the parser has passed are dropped once they exceed this many.
const TEE_KEEP: u64 = 1 << 20;

impl<R: Read> PhysicalLineReader<R> {
    /// A reader of `input` with fields separated by `delimiter`.
    pub fn new(input: R, delimiter: u8) -> Self {
        let tee = Tee {
            inner: input,
            base: 0,
            bytes: Vec::with_capacity(1 << 18),
        };
        let rdr = csv::ReaderBuilder::new()
            .has_headers(false)
            .delimiter(delimiter)
            .flexible(false)
            .buffer_capacity(1 << 17)
            .from_reader(tee);
        PhysicalLineReader {
            rdr,
            end_byte: 0,
            end_line: 1,
        }
    }

    /// Bytes of the input parsed so far (up to the end of the last record returned).
    pub fn bytes_read(&self) -> u64 {
        self.end_byte
    }

    /// The physical line where the next record starts: skip the `\r`/`\n` bytes after the
    /// previous record, counting `\n`.
    fn next_start_line(&self) -> u64 {
        let tee = self.rdr.get_ref();
        let from = usize::try_from(self.end_byte.saturating_sub(tee.base)).unwrap_or(usize::MAX);
        let skipped = tee
            .bytes
            .get(from..)
            .unwrap_or(&[])
            .iter()
            .take_while(|&&b| b == b'\r' || b == b'\n')
            .filter(|&&b| b == b'\n')
            .count() as u64;
        self.end_line + skipped
    }

    /// Read the next record into `rec` (its position's line set to the physical start line);
    /// `Ok(false)` at the end of the input.
    pub fn read_byte_record(&mut self, rec: &mut ByteRecord) -> Result<bool, CsvLineError> {
        match self.rdr.read_byte_record(rec) {
            Ok(true) => {
                let line = self.next_start_line();
                let mut pos = rec.position().cloned().unwrap_or_else(csv::Position::new);
                pos.set_line(line);
                rec.set_position(Some(pos));
                let end = self.rdr.position();
                self.end_byte = end.byte();
                self.end_line = end.line();
                self.forget_consumed();
                Ok(true)
            }
            Ok(false) => Ok(false),
            Err(source) => Err(CsvLineError {
                line: self.next_start_line(),
                source,
            }),
        }
    }

    /// Drop the copied bytes the parser has passed once there are more than [`TEE_KEEP`].
    fn forget_consumed(&mut self) {
        let end = self.end_byte;
        let tee = self.rdr.get_mut();
        if end.saturating_sub(tee.base) < TEE_KEEP {
            return;
        }
        let n = usize::try_from(end.saturating_sub(tee.base))
            .unwrap_or(usize::MAX)
            .min(tee.bytes.len());
        tee.bytes.drain(..n);
        tee.base += n as u64;
    }
}

/// [`PhysicalLineReader`] with errors naming the input file.
struct LineReader<'p, R> {
    inner: PhysicalLineReader<R>,
    path: &'p Path,
}

impl<'p, R: Read> LineReader<'p, R> {
    fn new(input: R, path: &'p Path, delimiter: u8) -> Self {
        LineReader {
            inner: PhysicalLineReader::new(input, delimiter),
            path,
        }
    }

    fn read(&mut self, rec: &mut ByteRecord) -> Result<bool, BulkError> {
        self.inner
            .read_byte_record(rec)
            .map_err(|e| csv_error(e.source, self.path, e.line))
    }
}

fn csv_error(e: csv::Error, path: &Path, line: u64) -> BulkError {
    match e.into_kind() {
        csv::ErrorKind::Io(source) => BulkError::Read {
            path: path.to_owned(),
            line,
            source,
        },
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => BulkError::Malformed {
            path: path.to_owned(),
            line,
            message: format!("the row has {len} fields but the header has {expected_len}"),
        },
        other => BulkError::Malformed {
            path: path.to_owned(),
            line,
            message: match other {
                csv::ErrorKind::Utf8 { .. } => "invalid UTF-8".to_owned(),
                _ => "unexpected CSV error".to_owned(),
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pseudonym::pseudonymise;

    fn key(b: u8, domain: &str) -> PseudonymKey {
        PseudonymKey::from_parts([b; 32], domain, 1, "2026-11-29T17:00:00Z").unwrap()
    }

    fn run(
        text: &str,
        opts: &BulkOptions,
        prev: Option<&PseudonymKey>,
    ) -> (Result<BulkSummary, BulkError>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.csv");
        std::fs::write(&input, text).unwrap();
        let r = pseudonymise_csv(
            &input,
            &dir.path().join("out.csv"),
            &key(1, "d"),
            prev,
            opts,
            &mut |_| {},
        );
        (r, dir)
    }

    #[test]
    fn semicolon_and_tab_delimiters_are_kept_in_the_output() {
        let k = key(1, "d");
        let (p1, p2) = (pseudonymise(&k, "111222333"), pseudonymise(&k, "012345672"));
        for d in [b';', b'\t'] {
            let c = char::from(d);
            // A comma is an ordinary character here; a field holding the delimiter is quoted.
            let text =
                format!("naam{c}bsn{c}noot\nx{c}111222333{c}a,b\ny{c}12345672{c}\"p{c}q\"\n");
            let mut opts = BulkOptions::new("bsn");
            opts.delimiter = d;
            let (r, dir) = run(&text, &opts, Some(&key(2, "d")));
            assert_eq!(r.unwrap().written, 2);
            let out = std::fs::read_to_string(dir.path().join("out.csv")).unwrap();
            let (q1, q2) = (
                pseudonymise(&key(2, "d"), "111222333"),
                pseudonymise(&key(2, "d"), "012345672"),
            );
            assert_eq!(
                out,
                format!(
                    "naam{c}bsn{c}bsn_previous{c}noot\nx{c}{p1}{c}{q1}{c}a,b\ny{c}{p2}{c}{q2}{c}\"p{c}q\"\n"
                )
            );
        }
        // The same semicolon file read with the default delimiter has no column "bsn".
        let (r, _dir) = run("naam;bsn\nx;111222333\n", &BulkOptions::new("bsn"), None);
        assert!(matches!(r, Err(BulkError::MissingColumn { .. })));
        let mut opts = BulkOptions::new("bsn");
        opts.delimiter = b'"';
        let (r, _dir) = run("bsn\n111222333\n", &opts, None);
        assert!(matches!(r, Err(BulkError::Delimiter(_))));
    }

    #[test]
    fn replaces_ids_in_order_and_keeps_other_fields() {
        let text =
            "name,bsn,note\nx,111222333,\"a,b\"\ny, 12345672 ,\"say \"\"hi\"\"\"\nz,111222333,\n";
        let mut opts = BulkOptions::new("bsn");
        opts.chunk_records = 2; // several chunks
        let (r, dir) = run(text, &opts, None);
        let s = r.unwrap();
        assert_eq!((s.rows, s.written, s.rejected), (3, 3, 0));
        let out = std::fs::read_to_string(dir.path().join("out.csv")).unwrap();
        let k = key(1, "d");
        let p1 = pseudonymise(&k, "111222333");
        let p2 = pseudonymise(&k, "012345672");
        assert_eq!(
            out,
            format!("name,bsn,note\nx,{p1},\"a,b\"\ny,{p2},\"say \"\"hi\"\"\"\nz,{p1},\n")
        );
    }

    #[test]
    fn fail_reports_first_invalid_line_and_leaves_nothing() {
        let mut text = String::from("bsn,v\n");
        for i in 0..5000 {
            text.push_str(if i == 3000 || i == 4000 {
                "123456789,1\n"
            } else {
                "111222333,1\n"
            });
        }
        let mut opts = BulkOptions::new("bsn");
        opts.chunk_records = 1000;
        let (r, dir) = run(&text, &opts, None);
        match r {
            Err(BulkError::Invalid { line, reason }) => {
                assert_eq!(line, 3002);
                assert_eq!(reason, InvalidId::Fails11Test);
            }
            other => panic!("{other:?}"),
        }
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("in.csv")]);
    }

    #[test]
    fn drop_writes_rejects_without_identifiers() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.csv");
        std::fs::write(&input, "bsn\n111222333\n\"12345\n678\"\nabc\n12345672\n").unwrap();
        let mut opts = BulkOptions::new("bsn");
        opts.on_invalid = OnInvalid::Drop;
        opts.rejects = Some(dir.path().join("rej.csv"));
        let s = pseudonymise_csv(
            &input,
            &dir.path().join("out.csv"),
            &key(1, "d"),
            None,
            &opts,
            &mut |_| {},
        )
        .unwrap();
        assert_eq!((s.rows, s.written, s.rejected), (4, 2, 2));
        let rej = std::fs::read_to_string(dir.path().join("rej.csv")).unwrap();
        assert_eq!(
            rej,
            "line,code,reason\n3,non-digit,BSN contains a character that is not a digit\n5,non-digit,BSN contains a character that is not a digit\n"
        );
        let out = std::fs::read_to_string(dir.path().join("out.csv")).unwrap();
        assert_eq!(out.lines().count(), 3);
    }

    fn reject_lines(text: &str) -> Vec<u64> {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.csv");
        std::fs::write(&input, text).unwrap();
        let mut opts = BulkOptions::new("bsn");
        opts.on_invalid = OnInvalid::Drop;
        opts.rejects = Some(dir.path().join("rej.csv"));
        opts.chunk_records = 2;
        pseudonymise_csv(
            &input,
            &dir.path().join("out.csv"),
            &key(1, "d"),
            None,
            &opts,
            &mut |_| {},
        )
        .unwrap();
        std::fs::read_to_string(dir.path().join("rej.csv"))
            .unwrap()
            .lines()
            .skip(1)
            .map(|l| l.split(',').next().unwrap().parse().unwrap())
            .collect()
    }

    #[test]
    fn line_numbers_are_physical_lines() {
        // Blank lines, quoted line breaks, CRLF and a missing final newline.
        let lf = "bsn,x\n\nbad,1\n111222333,\"a\nb\"\n\n\nbad,2\n\"bad\nbad\",3\nbad,4";
        assert_eq!(reject_lines(lf), vec![3, 8, 9, 11]);
        let crlf = lf.replace('\n', "\r\n");
        assert_eq!(reject_lines(&crlf), vec![3, 8, 9, 11]);
        let crlf_end = format!("{crlf}\r\n\r\n");
        assert_eq!(reject_lines(&crlf_end), vec![3, 8, 9, 11]);
        let blank_start = format!("\n\n{lf}");
        assert_eq!(reject_lines(&blank_start), vec![5, 10, 11, 13]);
    }

    #[test]
    fn previous_key_column() {
        let prev = key(2, "d");
        let (r, dir) = run(
            "a,bsn\n1,111222333\n",
            &BulkOptions::new("bsn"),
            Some(&prev),
        );
        let s = r.unwrap();
        assert!(s.previous_fingerprint.is_some());
        let out = std::fs::read_to_string(dir.path().join("out.csv")).unwrap();
        assert_eq!(
            out,
            format!(
                "a,bsn,bsn_previous\n1,{},{}\n",
                pseudonymise(&key(1, "d"), "111222333"),
                pseudonymise(&prev, "111222333")
            )
        );
    }

    #[test]
    fn header_errors() {
        let (r, _d) = run("", &BulkOptions::new("bsn"), None);
        assert!(matches!(r, Err(BulkError::NoHeader { .. })));
        let (r, _d) = run("id,x\n1,2\n", &BulkOptions::new("bsn"), None);
        let e = r.unwrap_err();
        assert!(matches!(e, BulkError::MissingColumn { .. }));
        assert!(e.to_string().contains("id, x"), "{e}");
        let (r, _d) = run("bsn,bsn\n1,2\n", &BulkOptions::new("bsn"), None);
        assert!(matches!(r, Err(BulkError::DuplicateColumn { .. })));
        let prev = key(2, "d");
        let (r, _d) = run(
            "bsn,bsn_previous\n1,2\n",
            &BulkOptions::new("bsn"),
            Some(&prev),
        );
        assert!(matches!(r, Err(BulkError::ColumnExists { .. })));
    }

    #[test]
    fn malformed_rows_name_the_line() {
        let (r, dir) = run(
            "bsn,x\n111222333,1\n111222333\n",
            &BulkOptions::new("bsn"),
            None,
        );
        match r {
            Err(BulkError::Malformed { line, .. }) => assert_eq!(line, 3),
            other => panic!("{other:?}"),
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn bom_and_crlf() {
        let (r, dir) = run(
            "\u{feff}bsn,x\r\n111222333,1\r\n",
            &BulkOptions::new("bsn"),
            None,
        );
        r.unwrap();
        let out = std::fs::read_to_string(dir.path().join("out.csv")).unwrap();
        assert!(out.starts_with("bsn,x\n"), "{out:?}");
        assert!(out.ends_with(",1\n"));
    }

    #[test]
    fn header_only_and_progress() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.csv");
        let mut text = String::from("bsn\n");
        for _ in 0..10 {
            text.push_str("111222333\n");
        }
        std::fs::write(&input, &text).unwrap();
        let mut opts = BulkOptions::new("bsn");
        opts.chunk_records = 3;
        let mut seen = Vec::new();
        pseudonymise_csv(
            &input,
            &dir.path().join("o.csv"),
            &key(1, "d"),
            None,
            &opts,
            &mut |p| seen.push(p.rows),
        )
        .unwrap();
        assert_eq!(seen, vec![3, 6, 9, 10]);
        std::fs::write(&input, "bsn\n").unwrap();
        let s = pseudonymise_csv(
            &input,
            &dir.path().join("o.csv"),
            &key(1, "d"),
            None,
            &opts,
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(s.rows, 0);
        assert_eq!(
            std::fs::read_to_string(dir.path().join("o.csv")).unwrap(),
            "bsn\n"
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(32))]
        /// Arbitrary other fields (quotes, commas, line breaks) survive unchanged, the id field
        /// becomes its pseudonym, and the order is kept.
        #[test]
        fn other_fields_round_trip(
            rows in proptest::collection::vec(
                (0u64..1_000_000, "[a-z,\"\n\r ]{0,6}", "[0-9x\" ]{0,4}"),
                0..40,
            ),
            chunk in 1usize..8,
        ) {
            let dir = tempfile::tempdir().unwrap();
            let (input, output) = (dir.path().join("in.csv"), dir.path().join("out.csv"));
            let mut w = csv::WriterBuilder::new().from_path(&input).unwrap();
            w.write_record(["a", "bsn", "b"]).unwrap();
            let mut ids = Vec::new();
            for (i, a, b) in &rows {
                let id = crate::normalise::bsn_from_index(*i).unwrap();
                w.write_record([a.as_str(), id.as_str(), b.as_str()]).unwrap();
                ids.push(id);
            }
            w.flush().unwrap();
            drop(w);
            let mut opts = BulkOptions::new("bsn");
            opts.chunk_records = chunk;
            let k = key(3, "d");
            let s = pseudonymise_csv(&input, &output, &k, None, &opts, &mut |_| {}).unwrap();
            proptest::prop_assert_eq!(s.written, rows.len() as u64);
            let mut r = csv::ReaderBuilder::new().from_path(&output).unwrap();
            let got: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
            proptest::prop_assert_eq!(got.len(), rows.len());
            for ((rec, (_, a, b)), id) in got.iter().zip(&rows).zip(&ids) {
                proptest::prop_assert_eq!(&rec[0], a.as_str());
                let want = pseudonymise(&k, id);
                proptest::prop_assert_eq!(&rec[1], want.as_str());
                proptest::prop_assert_eq!(&rec[2], b.as_str());
            }
        }
    }

    #[test]
    fn refuses_to_overwrite_input() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.csv");
        std::fs::write(&input, "bsn\n111222333\n").unwrap();
        let r = pseudonymise_csv(
            &input,
            &input,
            &key(1, "d"),
            None,
            &BulkOptions::new("bsn"),
            &mut |_| {},
        );
        assert!(matches!(r, Err(BulkError::SameFile { .. })));
    }
}
