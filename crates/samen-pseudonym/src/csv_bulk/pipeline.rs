//! The streaming pipeline: a reader thread parses chunks of records, rayon workers normalise
//! and pseudonymise them, and a writer thread appends the results in input order.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use csv::ByteRecord;
use rayon::prelude::*;

use super::lines::LineReader;
use super::{BulkError, BulkOptions, BulkSummary, OnInvalid, Progress, SUB_CHUNK};
use crate::key::PseudonymKey;
use crate::normalise::{normalise_bytes, IdKind, InvalidId};
use crate::pseudonym::{Pseudonymiser, PSEUDONYM_HEX_LEN};

/// One run: where the records go and under which keys and options.
pub(super) struct Run<'a, W, X> {
    /// The input file (for error messages).
    pub(super) input_path: &'a Path,
    /// The output and its path (for error messages).
    pub(super) out: W,
    pub(super) out_path: &'a Path,
    /// The rejects file and its path, if rejected rows are listed.
    pub(super) rejects: Option<(X, PathBuf)>,
    pub(super) key: &'a PseudonymKey,
    pub(super) previous: Option<&'a PseudonymKey>,
    pub(super) opts: &'a BulkOptions,
    /// Size of the input, for progress reports.
    pub(super) total_bytes: Option<u64>,
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

/// Rows counted so far.
#[derive(Default)]
struct Counts {
    rows: u64,
    written: u64,
    rejected: u64,
}

/// Run the pipeline over `input`: header first, then the records chunk by chunk.
pub(super) fn run_stream<R: Read + Send, W: Write + Send, X: Write + Send>(
    input: R,
    run: Run<'_, W, X>,
    progress: &mut dyn FnMut(Progress),
) -> Result<BulkSummary, BulkError> {
    let Run {
        input_path,
        out,
        out_path,
        rejects,
        key,
        previous,
        opts,
        total_bytes,
    } = run;
    let mut rdr = LineReader::new(input, input_path, opts.delimiter);
    let header = read_header(&mut rdr, input_path, opts, previous.is_some())?;

    let current = Pseudonymiser::new(key);
    let prev = previous.map(Pseudonymiser::new);
    // Output buffers go round from the workers to the writer and back, so that no large buffer is
    // allocated (and page-faulted) per sub-chunk.
    let pool = BufferPool::default();
    let job = Job {
        col: header.col,
        delimiter: opts.delimiter,
        kind: opts.id_kind,
        on_invalid: opts.on_invalid,
        want_rejects: rejects.is_some() && opts.on_invalid == OnInvalid::Drop,
        current: &current,
        previous: prev.as_ref(),
        pool: &pool,
    };
    let chunk_records = opts.chunk_records.max(1);

    let (full_tx, full_rx) = sync_channel::<Result<Chunk, BulkError>>(1);
    let (recycle_tx, recycle_rx) = sync_channel::<Vec<ByteRecord>>(2);
    let (out_tx, out_rx) = sync_channel::<OutChunk>(2);
    let mut counts = Counts::default();
    let mut report = |rows, bytes_read| {
        progress(Progress {
            rows,
            bytes_read,
            total_bytes,
        })
    };

    std::thread::scope(|s| -> Result<(), BulkError> {
        s.spawn(move || read_chunks(rdr, chunk_records, full_tx, recycle_rx));
        let pool = &pool;
        let head = header.line;
        let writer = s.spawn(move || write_chunks(out, out_path, rejects, head, out_rx, pool));
        // `work` drops its ends of the channels when it returns, which ends both threads.
        let outcome = work(&job, full_rx, recycle_tx, out_tx, &mut counts, &mut report);
        let written_ok = match writer.join() {
            Ok(r) => r,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        outcome.and(written_ok)
    })?;

    Ok(BulkSummary {
        rows: counts.rows,
        written: counts.written,
        rejected: counts.rejected,
        fingerprint: current.fingerprint().to_owned(),
        previous_fingerprint: prev.as_ref().map(|p| p.fingerprint().to_owned()),
    })
}

/// The column layout: where the identifier is, and the output's header line.
struct Header {
    /// Index of the id column.
    col: usize,
    /// The output header, ending in a newline.
    line: Vec<u8>,
}

/// Read the header (line 1), find the id column and build the output header.
fn read_header<R: Read>(
    rdr: &mut LineReader<'_, R>,
    input_path: &Path,
    opts: &BulkOptions,
    with_previous: bool,
) -> Result<Header, BulkError> {
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
    let col = find_column(&names, &opts.id_column)?;
    let prev_name = format!("{}_previous", opts.id_column.trim());
    if with_previous && names.iter().any(|n| n.as_slice() == prev_name.as_bytes()) {
        return Err(BulkError::ColumnExists { column: prev_name });
    }

    let delim = opts.delimiter;
    let mut line = Vec::with_capacity(256);
    for (i, n) in names.iter().enumerate() {
        if i > 0 {
            line.push(delim);
        }
        write_field(&mut line, n, delim);
        if i == col && with_previous {
            line.push(delim);
            write_field(&mut line, prev_name.as_bytes(), delim);
        }
    }
    line.push(b'\n');
    Ok(Header { col, line })
}

/// The index of the one header name equal to `id_column` (trimmed).
fn find_column(names: &[Vec<u8>], id_column: &str) -> Result<usize, BulkError> {
    let want = id_column.trim().as_bytes();
    let mut matches = names
        .iter()
        .enumerate()
        .filter(|(_, n)| n.as_slice() == want);
    match (matches.next(), matches.next()) {
        (Some((i, _)), None) => Ok(i),
        (Some(_), Some(_)) => Err(BulkError::DuplicateColumn {
            column: id_column.to_owned(),
        }),
        (None, _) => Err(BulkError::MissingColumn {
            column: id_column.to_owned(),
            available: names
                .iter()
                .map(|n| String::from_utf8_lossy(n).into_owned())
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

/// The workers' side: process each chunk the reader sends, in parallel, and hand the bytes to
/// the writer in order; `report(rows, bytes_read)` after each chunk. Stops at the first error
/// (of the reader or an invalid identifier with [`OnInvalid::Fail`]) or when the writer failed.
fn work(
    job: &Job<'_>,
    full_rx: Receiver<Result<Chunk, BulkError>>,
    recycle_tx: SyncSender<Vec<ByteRecord>>,
    out_tx: SyncSender<OutChunk>,
    counts: &mut Counts,
    report: &mut dyn FnMut(u64, u64),
) -> Result<(), BulkError> {
    for msg in full_rx.iter() {
        let chunk = msg?;
        let out = job.process_chunk(&chunk, counts)?;
        // Return the record buffers to the reader (ignored if it has finished).
        let _ = recycle_tx.try_send(chunk.records);
        if out_tx.send(out).is_err() {
            // The writer failed; its error is reported by the caller.
            break;
        }
        report(counts.rows, chunk.bytes_read);
    }
    Ok(())
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
        let bytes_read = rdr.bytes_read();
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
    /// Whether rejected rows are listed (a rejects file with [`OnInvalid::Drop`]).
    want_rejects: bool,
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
    /// Process one chunk in parallel sub-chunks: the output pieces in order and the rejects
    /// lines; the first invalid identifier with [`OnInvalid::Fail`] is an error.
    fn process_chunk(&self, chunk: &Chunk, counts: &mut Counts) -> Result<OutChunk, BulkError> {
        let recs = chunk.records.get(..chunk.len).unwrap_or(&[]);
        let subs: Vec<SubOut> = recs
            .par_chunks(SUB_CHUNK)
            .map(|sub| self.process(sub))
            .collect();
        counts.rows += chunk.len as u64;
        let mut pieces = Vec::with_capacity(subs.len());
        let mut rejects = Vec::new();
        for sub in subs {
            if let Some((line, reason)) = sub.failed {
                return Err(BulkError::Invalid { line, reason });
            }
            counts.written += sub.written;
            counts.rejected += sub.rejects.len() as u64;
            if self.want_rejects {
                for (line, reason) in &sub.rejects {
                    rejects.extend_from_slice(
                        format!("{line},{},{reason}\n", reason.code()).as_bytes(),
                    );
                }
            }
            pieces.push(sub.data);
        }
        Ok(OutChunk { pieces, rejects })
    }

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
