//! Reading CSV records with their physical line numbers.

use std::io::Read;
use std::path::Path;

use csv::ByteRecord;

use super::BulkError;

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
pub(super) struct LineReader<'p, R> {
    inner: PhysicalLineReader<R>,
    path: &'p Path,
}

impl<'p, R: Read> LineReader<'p, R> {
    pub(super) fn new(input: R, path: &'p Path, delimiter: u8) -> Self {
        LineReader {
            inner: PhysicalLineReader::new(input, delimiter),
            path,
        }
    }

    /// Bytes of the input parsed so far.
    pub(super) fn bytes_read(&self) -> u64 {
        self.inner.bytes_read()
    }

    pub(super) fn read(&mut self, rec: &mut ByteRecord) -> Result<bool, BulkError> {
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
