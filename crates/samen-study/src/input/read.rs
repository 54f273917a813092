//! Reading a CSV table: physical lines, UTF-8, windows of records checked in parallel.

use super::check::*;
use super::*;

pub(super) fn csv_err(source_name: &str, e: CsvLineError) -> InputError {
    let detail = match e.source.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("row has {len} fields but the header has {expected_len}"),
        csv::ErrorKind::Utf8 { .. } => "field is not valid UTF-8".to_string(),
        csv::ErrorKind::Io(io) => {
            return InputError::Read {
                source_name: source_name.to_string(),
                source: std::io::Error::new(io.kind(), io.to_string()),
            }
        }
        _ => "cannot parse the row".to_string(),
    };
    InputError::Csv {
        source_name: source_name.to_string(),
        line: e.line,
        detail,
    }
}

/// The fields of a record as text, or an error naming its physical line.
pub(super) fn utf8_fields<'r>(
    source_name: &str,
    record: &'r csv::ByteRecord,
) -> Result<(u64, Vec<&'r str>), InputError> {
    let line = record_line(record);
    let fields = record
        .iter()
        .map(std::str::from_utf8)
        .collect::<Result<Vec<&str>, _>>()
        .map_err(|_| not_utf8(source_name, line))?;
    Ok((line, fields))
}

/// The physical line where a record starts (set by [`PhysicalLineReader`]).
pub(super) fn record_line(record: &csv::ByteRecord) -> u64 {
    record.position().map_or(0, csv::Position::line)
}

pub(super) fn not_utf8(source_name: &str, line: u64) -> InputError {
    InputError::Csv {
        source_name: source_name.to_string(),
        line,
        detail: "field is not valid UTF-8".to_string(),
    }
}

/// A record as one text and the byte range of each field in it, or `None` when a field is not
/// valid UTF-8. `bounds` is reused from record to record.
pub(super) fn record_text<'r>(
    record: &'r csv::ByteRecord,
    bounds: &mut Vec<std::ops::Range<usize>>,
) -> Option<&'r str> {
    bounds.clear();
    let mut end = 0;
    for f in record {
        let start = end;
        end += f.len();
        bounds.push(start..end);
    }
    // The record's bytes are its fields one after the other: every field is valid UTF-8 exactly
    // when the whole is and every field starts and ends on a character boundary.
    std::str::from_utf8(record.as_slice()).ok().filter(|text| {
        bounds
            .iter()
            .all(|r| text.is_char_boundary(r.start) && text.is_char_boundary(r.end))
    })
}

/// How many rows are read ahead and checked together.
#[derive(Clone, Copy, Debug)]
pub(super) struct Chunking {
    /// Rows checked by one task.
    pub(super) batch: usize,
    /// Rows read ahead: one window is checked (in batches, on all cores) while the next is read.
    pub(super) window: usize,
}

/// Windows and batches that fit in the caches of one core.
pub(super) const CHUNKING: Chunking = Chunking {
    batch: 1 << 11,
    window: 1 << 14,
};

/// Records read from the file, their buffers reused from window to window.
#[derive(Default)]
pub(super) struct Window {
    records: Vec<csv::ByteRecord>,
    /// Records read into this window (the first `len` of `records`).
    len: usize,
    /// The reader's error after the last record, if reading stopped on one.
    error: Option<InputError>,
    /// Whether the input ends with this window (at its end or at `error`).
    last: bool,
}

impl Window {
    /// Read up to `rows` records.
    pub(super) fn fill<R: std::io::Read>(
        &mut self,
        rdr: &mut PhysicalLineReader<R>,
        source_name: &str,
        rows: usize,
    ) {
        self.len = 0;
        while self.len < rows {
            if self.records.len() <= self.len {
                self.records.push(csv::ByteRecord::new());
            }
            let Some(record) = self.records.get_mut(self.len) else {
                break;
            };
            match rdr.read_byte_record(record) {
                Ok(true) => self.len += 1,
                Ok(false) => {
                    self.last = true;
                    return;
                }
                Err(e) => {
                    self.error = Some(csv_err(source_name, e));
                    self.last = true;
                    return;
                }
            }
        }
    }

    pub(super) fn records(&self) -> &[csv::ByteRecord] {
        self.records.get(..self.len).unwrap_or(&[])
    }
}

/// Read and validate a CSV table from `reader` (errors name `source_name`).
///
/// The reader fills one window of records while the previous one is checked in batches on all
/// cores; the batches are joined in row order, their problems too, so that the problems are
/// those a check row by row would find, in the same order. A malformed record ends the reading.
pub(super) fn read_csv_from<R: std::io::Read + Send>(
    spec: &TableSpec,
    source_name: &str,
    reader: R,
) -> Result<PartyTable, InputError> {
    read_csv_chunked(spec, source_name, reader, CHUNKING)
}

/// [`read_csv_from`] in windows and batches of the given sizes.
pub(super) fn read_csv_chunked<R: std::io::Read + Send>(
    spec: &TableSpec,
    source_name: &str,
    reader: R,
    chunking: Chunking,
) -> Result<PartyTable, InputError> {
    let mut rdr = PhysicalLineReader::new(reader, spec.delimiter);
    let header = read_header(&mut rdr, source_name)?;
    let header_refs: Vec<&str> = header.iter().map(String::as_str).collect();
    let checks = Checks::new(spec, source_name, &header_refs)?;
    let mut rows = checks.rows();
    let mut problems = Problems::default();
    let mut current = Window::default();
    let mut next = Window::default();
    current.fill(&mut rdr, source_name, chunking.window);
    let stopped = loop {
        let (stopped, ()) = rayon::join(
            || checks.window(&current, chunking.batch, &mut rows, &mut problems),
            || {
                if !current.last {
                    next.fill(&mut rdr, source_name, chunking.window);
                }
            },
        );
        if let Some(e) = stopped.or_else(|| current.error.take()) {
            break Some(e);
        }
        if current.last {
            break None;
        }
        std::mem::swap(&mut current, &mut next);
    };
    checks.finish(rows, problems, stopped)
}

/// The header record's field names, trimmed and without a byte-order mark (none for an empty
/// input).
pub(super) fn read_header<R: std::io::Read>(
    rdr: &mut PhysicalLineReader<R>,
    source_name: &str,
) -> Result<Vec<String>, InputError> {
    let mut record = csv::ByteRecord::new();
    if !rdr
        .read_byte_record(&mut record)
        .map_err(|e| csv_err(source_name, e))?
    {
        return Ok(Vec::new());
    }
    Ok(utf8_fields(source_name, &record)?
        .1
        .iter()
        .map(|h| h.trim().trim_start_matches('\u{feff}').to_string())
        .collect())
}

pub(super) fn validate_records<'a, I>(
    spec: &TableSpec,
    source_name: &str,
    header: &[&str],
    records: I,
) -> Result<PartyTable, InputError>
where
    I: Iterator<Item = Result<(u64, Vec<&'a str>), InputError>>,
{
    let checks = Checks::new(spec, source_name, header)?;
    let mut rows = checks.rows();
    let mut problems = Problems::default();
    let mut stopped = None;
    for r in records {
        let pushed = r.and_then(|(line, fields)| {
            checks.push(
                &mut rows,
                line,
                |pos| fields.get(pos).copied().unwrap_or(""),
                &mut problems,
            )
        });
        if let Err(e) = pushed {
            stopped = Some(e);
            break;
        }
    }
    checks.finish(rows, problems, stopped)
}
