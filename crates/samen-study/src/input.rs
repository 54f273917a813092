//! A data party's input: reading and validating its table (CSV file or in-memory rows).
//!
//! Every check happens before anything is sent: identifiers are normalised with
//! `samen_pseudonym::normalise` (invalid or duplicated identifiers are errors), category values
//! must be declared levels, integers must parse and lie within their bounds, and every declared
//! column must be present. Errors name the source (file), the physical line (header = line 1)
//! and the column, never the identifier or the offending value.
//!
//! ```
//! use samen_study::input::{InputTable, ColumnData};
//! use samen_pseudonym::IdKind;
//! use samen_study::spec::{Statistic, StudyBuilder};
//! let study = StudyBuilder::new("demo")
//!     .data_party("a", "x:1").data_party("b", "x:2").helper("h", "x:3")
//!     .table("ta", "a", "id", IdKind::Text)
//!     .category("ta", "colour", &["red", "blue"])
//!     .table("tb", "b", "id", IdKind::Text)
//!     .output("n", Statistic::Count, None, &["ta.colour"], 0)
//!     .build().unwrap();
//! let raw = InputTable::new(&["id", "colour", "ignored"])
//!     .row(&["u1", "blue", "x"])
//!     .row(&["u2", "red", "y"]);
//! let t = raw.validate(&study, "ta").unwrap();
//! assert_eq!(t.len(), 2);
//! assert_eq!(t.columns["colour"], ColumnData::Category(vec![1, 0]));
//! let bad = InputTable::new(&["id", "colour"]).row(&["u1", "green"]);
//! let e = bad.validate(&study, "ta").unwrap_err().to_string();
//! assert!(e.contains("line 2") && e.contains("colour"), "{e}");
//! ```

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use rayon::prelude::*;
use samen_pseudonym::csv_bulk::{CsvLineError, PhysicalLineReader};
use samen_pseudonym::distinct::first_repeat;
use samen_pseudonym::normalise as norm;
use thiserror::Error;

use crate::spec::{ColumnKind, Study, TableSpec};

/// An error in a party's input table. Never contains an identifier or a data value.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum InputError {
    /// The study has no table of this name.
    #[error("the study has no table named '{0}'")]
    UnknownTable(String),
    /// The file could not be opened or read.
    #[error("cannot read {source_name}: {source}")]
    Read {
        /// The file.
        source_name: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The CSV is malformed (e.g. a row with a different number of fields than the header).
    #[error("{source_name}, line {line}: malformed CSV: {detail}")]
    Csv {
        /// The file.
        source_name: String,
        /// Physical line (header = 1).
        line: u64,
        /// What is wrong.
        detail: String,
    },
    /// A declared column (or the id column) is missing from the header.
    #[error("{source_name}, line 1 (header): column '{column}' is missing; the study declares it for table '{table}'")]
    MissingColumn {
        /// The file.
        source_name: String,
        /// The table.
        table: String,
        /// The missing column.
        column: String,
    },
    /// An identifier is invalid for its kind.
    #[error("{source_name}, line {line}, column '{column}': invalid identifier: {reason}")]
    InvalidId {
        /// The file.
        source_name: String,
        /// Physical line.
        line: u64,
        /// The id column.
        column: String,
        /// Why (never the identifier itself).
        reason: norm::InvalidId,
    },
    /// An identifier occurs twice (after normalisation).
    #[error("{source_name}, line {line}, column '{column}': duplicated identifier (same as on line {first_line} after normalisation)")]
    DuplicateId {
        /// The file.
        source_name: String,
        /// Physical line of the second occurrence.
        line: u64,
        /// The id column.
        column: String,
        /// Physical line of the first occurrence.
        first_line: u64,
    },
    /// A category value is not one of the declared levels.
    #[error("{source_name}, line {line}, column '{column}': value is not one of the {levels} declared levels")]
    UnknownLevel {
        /// The file.
        source_name: String,
        /// Physical line.
        line: u64,
        /// The column.
        column: String,
        /// Number of declared levels.
        levels: usize,
    },
    /// An integer field does not parse as an integer.
    #[error("{source_name}, line {line}, column '{column}': value is not an integer")]
    NotInteger {
        /// The file.
        source_name: String,
        /// Physical line.
        line: u64,
        /// The column.
        column: String,
    },
    /// An integer is outside the declared bounds.
    #[error("{source_name}, line {line}, column '{column}': value is outside the declared bounds [{min}, {max}]")]
    OutOfRange {
        /// The file.
        source_name: String,
        /// Physical line.
        line: u64,
        /// The column.
        column: String,
        /// Declared minimum.
        min: i64,
        /// Declared maximum.
        max: i64,
    },
    /// More rows than the engine supports.
    #[error("{source_name}: more than {max} rows")]
    TooManyRows {
        /// The file.
        source_name: String,
        /// The limit.
        max: usize,
    },
}

/// Largest number of rows of one table.
pub const MAX_ROWS: usize = 1 << 32;

/// A validated column, encoded for the engine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ColumnData {
    /// Level indices (into the declared levels).
    Category(Vec<u32>),
    /// Integer values within the declared bounds.
    Integer(Vec<i64>),
}

/// A party's validated table: normalised identifiers and encoded columns, in row order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartyTable {
    /// The study table name.
    pub table: String,
    /// Normalised identifiers (distinct).
    pub ids: Vec<String>,
    /// Declared columns by name (all of them).
    pub columns: BTreeMap<String, ColumnData>,
}

impl PartyTable {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// An in-memory table of text fields with a header, validated like a CSV file.
#[derive(Clone, Debug, Default)]
pub struct InputTable {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl InputTable {
    /// A table with this header (column names) and no rows.
    pub fn new(header: &[&str]) -> InputTable {
        InputTable {
            header: header.iter().map(|s| s.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// Append a row (fields in header order).
    pub fn row(mut self, fields: &[&str]) -> InputTable {
        self.push(fields.iter().map(|s| s.to_string()).collect());
        self
    }

    /// Append a row (fields in header order).
    pub fn push(&mut self, fields: Vec<String>) {
        self.rows.push(fields);
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Validate against the study table `table` (errors name `<in-memory table NAME>` and the
    /// line the row would have in a CSV file: first row = line 2).
    pub fn validate(&self, study: &Study, table: &str) -> Result<PartyTable, InputError> {
        let spec = study
            .table(table)
            .ok_or_else(|| InputError::UnknownTable(table.to_string()))?;
        let source_name = format!("<in-memory table {table}>");
        let records = self.rows.iter().enumerate().map(|(i, r)| {
            if r.len() != self.header.len() {
                return Err(InputError::Csv {
                    source_name: source_name.clone(),
                    line: i as u64 + 2,
                    detail: format!(
                        "row has {} fields but the header has {}",
                        r.len(),
                        self.header.len()
                    ),
                });
            }
            Ok((
                i as u64 + 2,
                r.iter().map(String::as_str).collect::<Vec<_>>(),
            ))
        });
        let header: Vec<&str> = self.header.iter().map(String::as_str).collect();
        validate_records(spec, &source_name, &header, records)
    }
}

/// Read and validate a party's CSV file for study table `table`.
pub fn read_csv(study: &Study, table: &str, path: &Path) -> Result<PartyTable, InputError> {
    let spec = study
        .table(table)
        .ok_or_else(|| InputError::UnknownTable(table.to_string()))?;
    let source_name = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|source| InputError::Read {
        source_name: source_name.clone(),
        source,
    })?;
    read_csv_from(
        spec,
        &source_name,
        std::io::BufReader::with_capacity(1 << 20, file),
    )
}

fn csv_err(source_name: &str, e: CsvLineError) -> InputError {
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
fn utf8_fields<'r>(
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
fn record_line(record: &csv::ByteRecord) -> u64 {
    record.position().map_or(0, csv::Position::line)
}

fn not_utf8(source_name: &str, line: u64) -> InputError {
    InputError::Csv {
        source_name: source_name.to_string(),
        line,
        detail: "field is not valid UTF-8".to_string(),
    }
}

/// A record as one text and the byte range of each field in it, or `None` when a field is not
/// valid UTF-8. `bounds` is reused from record to record.
fn record_text<'r>(
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
struct Chunking {
    /// Rows checked by one task.
    batch: usize,
    /// Rows read ahead: one window is checked (in batches, on all cores) while the next is read.
    window: usize,
}

/// Windows and batches that fit in the caches of one core.
const CHUNKING: Chunking = Chunking {
    batch: 1 << 11,
    window: 1 << 14,
};

/// Records read from the file, their buffers reused from window to window.
#[derive(Default)]
struct Window {
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
    fn fill<R: std::io::Read>(
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

    fn records(&self) -> &[csv::ByteRecord] {
        self.records.get(..self.len).unwrap_or(&[])
    }
}

/// Read and validate a CSV table from `reader` (errors name `source_name`).
///
/// The reader fills one window of records while the previous one is checked in batches on all
/// cores; the batches are joined in row order and stop at the first error, as a check row by row
/// would.
fn read_csv_from<R: std::io::Read + Send>(
    spec: &TableSpec,
    source_name: &str,
    reader: R,
) -> Result<PartyTable, InputError> {
    read_csv_chunked(spec, source_name, reader, CHUNKING)
}

/// [`read_csv_from`] in windows and batches of the given sizes.
fn read_csv_chunked<R: std::io::Read + Send>(
    spec: &TableSpec,
    source_name: &str,
    reader: R,
    chunking: Chunking,
) -> Result<PartyTable, InputError> {
    let mut rdr = PhysicalLineReader::new(reader, spec.delimiter);
    let mut record = csv::ByteRecord::new();
    let has_header = rdr
        .read_byte_record(&mut record)
        .map_err(|e| csv_err(source_name, e))?;
    let header: Vec<String> = if has_header {
        utf8_fields(source_name, &record)?
            .1
            .iter()
            .map(|h| h.trim().trim_start_matches('\u{feff}').to_string())
            .collect()
    } else {
        Vec::new()
    };
    let header_refs: Vec<&str> = header.iter().map(String::as_str).collect();
    let checks = Checks::new(spec, source_name, &header_refs)?;
    let mut rows = checks.rows();
    let mut current = Window::default();
    let mut next = Window::default();
    current.fill(&mut rdr, source_name, chunking.window);
    let stopped = loop {
        let (stopped, ()) = rayon::join(
            || checks.window(&current, chunking.batch, &mut rows),
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
    checks.finish(rows, stopped)
}

fn validate_records<'a, I>(
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
    let mut stopped = None;
    for r in records {
        let pushed = r.and_then(|(line, fields)| {
            checks.push(&mut rows, line, |pos| {
                fields.get(pos).copied().unwrap_or("")
            })
        });
        if let Err(e) = pushed {
            stopped = Some(e);
            break;
        }
    }
    checks.finish(rows, stopped)
}

/// Category columns with at most this many levels are looked up by a scan of the levels, larger
/// ones in a hash map.
const SCAN_LEVELS: usize = 16;

/// The declared levels of a category column, for looking up a field's level index.
enum Levels<'s> {
    /// A few levels with their [`prefix`]es and indices, scanned in order.
    Few(Vec<(u64, &'s str, u32)>),
    /// Many levels.
    Many(HashMap<&'s str, u32>),
}

/// The first 8 bytes of `s` (zero-padded) as one word: two strings with different prefixes
/// differ, so most levels are ruled out by one comparison of words.
fn prefix(s: &str) -> u64 {
    let mut word = [0u8; 8];
    for (w, b) in word.iter_mut().zip(s.as_bytes()) {
        *w = *b;
    }
    u64::from_le_bytes(word)
}

impl<'s> Levels<'s> {
    fn new(levels: &'s [String]) -> Levels<'s> {
        let indexed = levels
            .iter()
            .enumerate()
            .map(|(i, l)| (l.as_str(), i as u32));
        if levels.len() <= SCAN_LEVELS {
            Levels::Few(indexed.map(|(l, i)| (prefix(l), l, i)).collect())
        } else {
            Levels::Many(indexed.collect())
        }
    }

    fn index(&self, field: &str) -> Option<u32> {
        match self {
            Levels::Few(levels) => {
                let p = prefix(field);
                levels
                    .iter()
                    .find(|&&(lp, l, _)| lp == p && l == field)
                    .map(|&(_, _, i)| i)
            }
            Levels::Many(index) => index.get(field).copied(),
        }
    }
}

/// The check of one declared column.
enum ColCheck<'s> {
    Category { index: Levels<'s>, levels: usize },
    Integer { min: i64, max: i64 },
}

/// Encoded values of one column.
enum ColOut {
    Category(Vec<u32>),
    Integer(Vec<i64>),
}

/// The physical line of every accepted row, stored as the rows where the line does not follow
/// on from the previous row's (the first row, and rows after blank lines or multi-line fields).
#[derive(Default)]
struct Lines {
    /// (row, line) at each break, rows increasing.
    breaks: Vec<(usize, u64)>,
    /// The line that would follow on from the last row pushed.
    next: Option<u64>,
}

impl Lines {
    fn push(&mut self, row: usize, line: u64) {
        if self.next != Some(line) {
            self.breaks.push((row, line));
        }
        self.next = line.checked_add(1);
    }

    /// Append the lines of the rows that follow on from these.
    fn append(&mut self, other: Lines) {
        let mut breaks = other.breaks.into_iter();
        if let Some((row, line)) = breaks.next() {
            self.push(row, line);
            self.breaks.extend(breaks);
            self.next = other.next;
        }
    }

    /// The line of `row` (a row that was pushed).
    fn line(&self, row: usize) -> u64 {
        let after = self.breaks.partition_point(|&(r, _)| r <= row);
        after
            .checked_sub(1)
            .and_then(|i| self.breaks.get(i))
            .map_or(0, |&(r, line)| line + (row - r) as u64)
    }
}

/// Accepted rows, encoded: a whole table or a run of rows of it.
struct Rows {
    /// Index of the first row in the table.
    first: usize,
    ids: Vec<String>,
    /// One per declared column, in the order of [`Checks::cols`].
    cols: Vec<ColOut>,
    lines: Lines,
}

impl Rows {
    /// Drop the values of a row whose later column failed its check, so that every column has
    /// one value per identifier.
    fn drop_partial_row(&mut self) {
        let n = self.ids.len();
        for out in &mut self.cols {
            match out {
                ColOut::Category(out) => out.truncate(n),
                ColOut::Integer(out) => out.truncate(n),
            }
        }
    }

    /// Append the rows that follow on from these.
    fn append(&mut self, other: Rows) {
        self.ids.extend(other.ids);
        for (out, more) in self.cols.iter_mut().zip(other.cols) {
            match (out, more) {
                (ColOut::Category(out), ColOut::Category(more)) => out.extend(more),
                (ColOut::Integer(out), ColOut::Integer(more)) => out.extend(more),
                // Rows of one table have the same kinds of columns.
                _ => {}
            }
        }
        self.lines.append(other.lines);
    }
}

/// The checks of a table's rows, from its header. Each row is checked and encoded on its own
/// ([`Checks::push`]); duplicated identifiers are found at the end, over all accepted rows at once
/// ([`Checks::finish`]), and reported before any error that stopped the rows: the same error a
/// check row by row would stop at.
struct Checks<'s> {
    spec: &'s TableSpec,
    source_name: String,
    id_pos: usize,
    id_kind: norm::IdKind,
    cols: Vec<(&'s str, usize, ColCheck<'s>)>,
}

impl<'s> Checks<'s> {
    fn new(
        spec: &'s TableSpec,
        source_name: &str,
        header: &[&str],
    ) -> Result<Checks<'s>, InputError> {
        let find = |col: &str| -> Result<usize, InputError> {
            header
                .iter()
                .position(|h| h.trim() == col)
                .ok_or_else(|| InputError::MissingColumn {
                    source_name: source_name.to_string(),
                    table: spec.name.clone(),
                    column: col.to_string(),
                })
        };
        let id_pos = find(&spec.id.column)?;
        let mut cols = Vec::new();
        for (name, kind) in &spec.columns {
            let pos = find(name)?;
            let check = match kind {
                ColumnKind::Category { levels } => ColCheck::Category {
                    index: Levels::new(levels),
                    levels: levels.len(),
                },
                ColumnKind::Integer { min, max } => ColCheck::Integer {
                    min: *min,
                    max: *max,
                },
            };
            cols.push((name.as_str(), pos, check));
        }
        Ok(Checks {
            spec,
            source_name: source_name.to_string(),
            id_pos,
            id_kind: spec.id.kind,
            cols,
        })
    }

    /// No rows yet, from row `first` on.
    fn rows_from(&self, first: usize) -> Rows {
        let cols = self
            .cols
            .iter()
            .map(|(_, _, check)| match check {
                ColCheck::Category { .. } => ColOut::Category(Vec::new()),
                ColCheck::Integer { .. } => ColOut::Integer(Vec::new()),
            })
            .collect();
        Rows {
            first,
            ids: Vec::new(),
            cols,
            lines: Lines::default(),
        }
    }

    /// A table with no rows yet.
    fn rows(&self) -> Rows {
        self.rows_from(0)
    }

    /// Check the records of `window` in batches of `batch_rows` on all cores and append them to `rows`, up to the
    /// first error, which is returned.
    fn window(&self, window: &Window, batch_rows: usize, rows: &mut Rows) -> Option<InputError> {
        let first = rows.first + rows.ids.len();
        let batches: Vec<(Rows, Option<InputError>)> = window
            .records()
            .par_chunks(batch_rows.max(1))
            .enumerate()
            .map(|(i, batch)| self.batch(batch, first + i * batch_rows.max(1)))
            .collect();
        for (batch, stopped) in batches {
            rows.append(batch);
            if stopped.is_some() {
                return stopped;
            }
        }
        None
    }

    /// Check and encode `records`, the rows from row `first` on, up to the first error.
    fn batch(&self, records: &[csv::ByteRecord], first: usize) -> (Rows, Option<InputError>) {
        let mut rows = self.rows_from(first);
        let mut bounds = Vec::new();
        for record in records {
            let line = record_line(record);
            let Some(text) = record_text(record, &mut bounds) else {
                return (rows, Some(not_utf8(&self.source_name, line)));
            };
            let field = |pos: usize| {
                bounds
                    .get(pos)
                    .and_then(|r| text.get(r.clone()))
                    .unwrap_or("")
            };
            if let Err(e) = self.push(&mut rows, line, field) {
                return (rows, Some(e));
            }
        }
        (rows, None)
    }

    /// Check and encode the row on physical line `line` whose field at position `pos` is
    /// `field(pos)` (`""` for a missing field), and append it to `rows` (whose rows are all
    /// accepted ones before it). Does not check for duplicated identifiers.
    fn push<'f>(
        &self,
        rows: &mut Rows,
        line: u64,
        field: impl Fn(usize) -> &'f str,
    ) -> Result<(), InputError> {
        let row = rows.first + rows.ids.len();
        if row >= MAX_ROWS {
            return Err(InputError::TooManyRows {
                source_name: self.source_name.clone(),
                max: MAX_ROWS,
            });
        }
        let invalid_id = |reason| InputError::InvalidId {
            source_name: self.source_name.clone(),
            line,
            column: self.spec.id.column.clone(),
            reason,
        };
        // `normalise_bytes` on the bytes of a `&str` is `normalise`, without its allocation;
        // its result is a trimmed slice of the field or ASCII digits, so valid UTF-8.
        let id = norm::normalise_bytes(self.id_kind, field(self.id_pos).as_bytes())
            .map_err(invalid_id)?;
        let id = std::str::from_utf8(id.as_bytes())
            .map_err(|_| invalid_id(norm::InvalidId::NotUtf8))?
            .to_string();
        for ((name, pos, check), out) in self.cols.iter().zip(&mut rows.cols) {
            let field = field(*pos).trim();
            let encoded = match (check, out) {
                (ColCheck::Category { index, levels }, ColOut::Category(out)) => {
                    match index.index(field) {
                        Some(i) => {
                            out.push(i);
                            Ok(())
                        }
                        None => Err(InputError::UnknownLevel {
                            source_name: self.source_name.clone(),
                            line,
                            column: name.to_string(),
                            levels: *levels,
                        }),
                    }
                }
                (ColCheck::Integer { min, max }, ColOut::Integer(out)) => match field.parse() {
                    Ok(v) if v >= *min && v <= *max => {
                        out.push(v);
                        Ok(())
                    }
                    Ok(_) => Err(InputError::OutOfRange {
                        source_name: self.source_name.clone(),
                        line,
                        column: name.to_string(),
                        min: *min,
                        max: *max,
                    }),
                    Err(_) => Err(InputError::NotInteger {
                        source_name: self.source_name.clone(),
                        line,
                        column: name.to_string(),
                    }),
                },
                // `rows_from` makes one output of the kind of each check.
                _ => Ok(()),
            };
            if let Err(e) = encoded {
                rows.drop_partial_row();
                return Err(e);
            }
        }
        rows.lines.push(row, line);
        rows.ids.push(id);
        Ok(())
    }

    /// The table, or the first error in row order: a duplicated identifier among the accepted
    /// rows comes before `stopped`, the error that ended the rows (if any), because it is on an
    /// earlier line.
    fn finish(self, rows: Rows, stopped: Option<InputError>) -> Result<PartyTable, InputError> {
        if let Some(repeat) = first_repeat(&rows.ids) {
            return Err(InputError::DuplicateId {
                source_name: self.source_name,
                line: rows.lines.line(repeat.later),
                column: self.spec.id.column.clone(),
                first_line: rows.lines.line(repeat.earlier),
            });
        }
        if let Some(e) = stopped {
            return Err(e);
        }
        let columns = self
            .cols
            .into_iter()
            .zip(rows.cols)
            .map(|((name, _, _), out)| {
                let data = match out {
                    ColOut::Category(out) => ColumnData::Category(out),
                    ColOut::Integer(out) => ColumnData::Integer(out),
                };
                (name.to_string(), data)
            })
            .collect();
        Ok(PartyTable {
            table: self.spec.name.clone(),
            ids: rows.ids,
            columns,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{Statistic, StudyBuilder};
    use proptest::prelude::*;

    fn study() -> Study {
        let many: Vec<String> = (0..20).map(|i| format!("l{i}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        StudyBuilder::new("t")
            .data_party("a", "x:1")
            .data_party("b", "x:2")
            .helper("h", "x:3")
            .table("ta", "a", "id", norm::IdKind::Bsn)
            .category("ta", "c", &["a", "b", "é", "c d", "long-level-name"])
            .integer("ta", "v", -5, 1000)
            .table("tb", "b", "key", norm::IdKind::Text)
            .category("tb", "m", &many)
            .integer("tb", "w", 0, 9)
            .output("n", Statistic::Count, None, &["ta.c"], 0)
            .build()
            .unwrap()
    }

    /// The reference: every row as a vector of text fields, checked in row order with a map
    /// from identifier to its first line.
    fn reference(spec: &TableSpec, bytes: &[u8]) -> Result<PartyTable, InputError> {
        let source_name = "src";
        let mut rdr = PhysicalLineReader::new(bytes, spec.delimiter);
        let mut record = csv::ByteRecord::new();
        let header: Vec<String> = if rdr
            .read_byte_record(&mut record)
            .map_err(|e| csv_err(source_name, e))?
        {
            utf8_fields(source_name, &record)?
                .1
                .iter()
                .map(|h| h.trim().trim_start_matches('\u{feff}').to_string())
                .collect()
        } else {
            Vec::new()
        };
        let find = |col: &str| {
            header
                .iter()
                .position(|h| h.trim() == col)
                .ok_or_else(|| InputError::MissingColumn {
                    source_name: source_name.to_string(),
                    table: spec.name.clone(),
                    column: col.to_string(),
                })
        };
        let id_pos = find(&spec.id.column)?;
        let mut cols = Vec::new();
        for (name, kind) in &spec.columns {
            let out = match kind {
                ColumnKind::Category { .. } => ColumnData::Category(Vec::new()),
                ColumnKind::Integer { .. } => ColumnData::Integer(Vec::new()),
            };
            cols.push((name, find(name)?, kind, out));
        }
        let mut ids = Vec::new();
        let mut seen: HashMap<String, u64> = HashMap::new();
        while rdr
            .read_byte_record(&mut record)
            .map_err(|e| csv_err(source_name, e))?
        {
            let (line, fields) = utf8_fields(source_name, &record)?;
            let get = |pos: usize| fields.get(pos).copied().unwrap_or("");
            let id = norm::normalise(spec.id.kind, get(id_pos)).map_err(|reason| {
                InputError::InvalidId {
                    source_name: source_name.to_string(),
                    line,
                    column: spec.id.column.clone(),
                    reason,
                }
            })?;
            for (name, pos, kind, out) in &mut cols {
                let field = get(*pos).trim();
                let column = name.to_string();
                let source_name = source_name.to_string();
                match (kind, out) {
                    (ColumnKind::Category { levels }, ColumnData::Category(out)) => {
                        let i = levels.iter().position(|l| l == field).ok_or(
                            InputError::UnknownLevel {
                                source_name,
                                line,
                                column,
                                levels: levels.len(),
                            },
                        )?;
                        out.push(i as u32);
                    }
                    (ColumnKind::Integer { min, max }, ColumnData::Integer(out)) => {
                        let v: i64 = field.parse().map_err(|_| InputError::NotInteger {
                            source_name: source_name.clone(),
                            line,
                            column: column.clone(),
                        })?;
                        if v < *min || v > *max {
                            return Err(InputError::OutOfRange {
                                source_name,
                                line,
                                column,
                                min: *min,
                                max: *max,
                            });
                        }
                        out.push(v);
                    }
                    _ => unreachable!(),
                }
            }
            if let Some(&first_line) = seen.get(&id) {
                return Err(InputError::DuplicateId {
                    source_name: source_name.to_string(),
                    line,
                    column: spec.id.column.clone(),
                    first_line,
                });
            }
            seen.insert(id.clone(), line);
            ids.push(id);
        }
        Ok(PartyTable {
            table: spec.name.clone(),
            ids,
            columns: cols
                .into_iter()
                .map(|(name, _, _, out)| (name.clone(), out))
                .collect(),
        })
    }

    /// Both readers on `bytes` give the same table or the same error (compared in full by
    /// their debug form).
    fn same(table: &str, bytes: &[u8]) -> Result<(), TestCaseError> {
        let study = study();
        let spec = study.table(table).unwrap();
        let want = format!("{:?}", reference(spec, bytes));
        let got = read_csv_from(spec, "src", bytes);
        prop_assert_eq!(&format!("{got:?}"), &want);
        // Small windows and batches: rows joined across batches and windows, errors in any.
        for (batch, window) in [(1, 1), (2, 5), (3, 7), (4, 4)] {
            let got = read_csv_chunked(spec, "src", bytes, Chunking { batch, window });
            prop_assert_eq!(
                &format!("{got:?}"),
                &want,
                "batch {}, window {}",
                batch,
                window
            );
        }
        Ok(())
    }

    fn bsn() -> impl Strategy<Value = String> {
        prop_oneof![
            // A pool of valid BSNs, so that repeats are frequent; 8-digit and padded forms.
            4 => prop_oneof![
                Just("111222333"),
                Just("123456782"),
                Just("012345672"),
                Just("12345672"),
                Just(" 12345672\t"),
                Just("100000010"),
            ]
            .prop_map(str::to_string),
            1 => prop_oneof![
                Just("123456789"),
                Just("000000000"),
                Just("1234567"),
                Just("12a456782"),
                Just(""),
                Just("\u{a0}111222333"),
            ]
            .prop_map(str::to_string),
        ]
    }

    fn text_id() -> impl Strategy<Value = String> {
        prop_oneof![
            6 => "[a-c]{1,2}",
            1 => " [a-c]{1,2} ",
            1 => Just("\u{b}a".to_string()),
            1 => Just("é".to_string()),
            1 => Just(" ".to_string()),
        ]
    }

    fn category(levels: &'static [&'static str]) -> impl Strategy<Value = String> {
        prop_oneof![
            8 => proptest::sample::select(levels).prop_map(str::to_string),
            1 => proptest::sample::select(levels).prop_map(|l| format!(" {l}\u{a0}")),
            1 => proptest::sample::select(levels).prop_map(|l| format!("\u{b}{l}")),
            1 => Just("zz".to_string()),
            1 => Just(String::new()),
        ]
    }

    fn integer() -> impl Strategy<Value = String> {
        prop_oneof![
            8 => (-8i64..1003).prop_map(|v| v.to_string()),
            1 => (0i64..10).prop_map(|v| format!(" +{v} ")),
            1 => prop_oneof![
                Just("-"),
                Just("+"),
                Just(""),
                Just("1.5"),
                Just("99999999999999999999"),
                Just("-9223372036854775808"),
                Just("\u{2003}7"),
                Just("007"),
            ]
            .prop_map(str::to_string),
        ]
    }

    const LEVELS_C: &[&str] = &["a", "b", "é", "c d", "long-level-name"];
    const LEVELS_M: &[&str] = &[
        "l0", "l1", "l2", "l3", "l4", "l5", "l6", "l7", "l8", "l9", "l10", "l11", "l12", "l13",
        "l14", "l15", "l16", "l17", "l18", "l19",
    ];

    /// A CSV field as written: plain, or quoted (with the quotes doubled inside).
    fn write_field(out: &mut Vec<u8>, field: &str, quote: bool) {
        if quote || field.contains([',', '"', '\n', '\r']) {
            out.push(b'"');
            out.extend_from_slice(field.replace('"', "\"\"").as_bytes());
            out.push(b'"');
        } else {
            out.extend_from_slice(field.as_bytes());
        }
    }

    /// A file: header (the columns in a given order, with an extra column) and rows, with
    /// mistakes: rows with a field too many or too few, bytes that are not UTF-8 (also split
    /// across two fields), blank lines, CRLF line ends, quoted fields over two lines.
    fn file(
        names: [&'static str; 4],
        rows: Vec<[String; 4]>,
        mistakes: Vec<(usize, u8)>,
        crlf: bool,
    ) -> Vec<u8> {
        let eol: &[u8] = if crlf { b"\r\n" } else { b"\n" };
        let mut out = Vec::new();
        out.extend_from_slice(names.join(",").as_bytes());
        out.extend_from_slice(eol);
        for (i, row) in rows.iter().enumerate() {
            let mistake = mistakes.iter().find(|m| m.0 == i).map(|m| m.1);
            for (j, f) in row.iter().enumerate() {
                if j > 0 {
                    out.push(b',');
                }
                match (mistake, j) {
                    (Some(0), 1) => out.extend_from_slice(b"x\xff"),
                    // "é" split over two fields: each field is invalid on its own.
                    (Some(1), 1) => out.extend_from_slice(b"\xc3"),
                    (Some(1), 2) => out.extend_from_slice(b"\xa9"),
                    (Some(2), 3) => write_field(&mut out, &format!("{f}\nsecond"), false),
                    (Some(3), 2) => write_field(&mut out, f, true),
                    _ => write_field(&mut out, f, false),
                }
            }
            match mistake {
                Some(4) => out.extend_from_slice(b",extra"),
                Some(5) => {
                    out.extend_from_slice(eol);
                    out.extend_from_slice(eol);
                }
                Some(6) => out.extend_from_slice(b"\xe2\x82"),
                _ => {}
            }
            out.extend_from_slice(eol);
        }
        out
    }

    fn mistakes() -> impl Strategy<Value = Vec<(usize, u8)>> {
        proptest::collection::vec((0usize..40, 0u8..7), 0..3)
    }

    proptest! {
        #[test]
        fn bsn_table_reads_as_the_reference(
            rows in proptest::collection::vec(
                (bsn(), category(LEVELS_C), integer(), "[a-z,\"]{0,3}")
                    .prop_map(|(a, b, c, d)| [a, b, c, d]),
                0..40,
            ),
            mistakes in mistakes(),
            crlf in any::<bool>(),
            short in 0usize..40,
        ) {
            // The header names id, c, v and an extra column, in a shuffled order below.
            let mut rows = rows;
            if let Some(r) = rows.get_mut(short) {
                // A row with a field too few.
                r[3] = String::new();
            }
            let bytes = file([" id", "c", "v\u{feff}", "x"], rows.clone(), mistakes.clone(), crlf);
            same("ta", &bytes)?;
            let reordered: Vec<[String; 4]> = rows
                .into_iter()
                .map(|[a, b, c, d]| [d, c, a, b])
                .collect();
            let bytes = file(["x", "v", "\u{feff}id", "c"], reordered, mistakes, crlf);
            same("ta", &bytes)?;
        }

        #[test]
        fn text_table_reads_as_the_reference(
            rows in proptest::collection::vec(
                (text_id(), category(LEVELS_M), integer(), "[a-z]{0,2}")
                    .prop_map(|(a, b, c, d)| [a, b, c, d]),
                0..40,
            ),
            mistakes in mistakes(),
            crlf in any::<bool>(),
        ) {
            let bytes = file(["key", "m", "w", "x"], rows, mistakes, crlf);
            same("tb", &bytes)?;
        }

        #[test]
        fn any_bytes_read_as_the_reference(
            body in proptest::collection::vec(
                prop_oneof![
                    Just(b'1'), Just(b'2'), Just(b'a'), Just(b','), Just(b'\n'), Just(b'"'),
                    Just(b' '), Just(0xc3), Just(0xa9), Just(b'l'),
                ],
                0..200,
            ),
        ) {
            let mut bytes = b"key,m,w\nb,l1,3\n".to_vec();
            bytes.extend_from_slice(&body);
            same("tb", &bytes)?;
        }
    }

    proptest! {
        #[test]
        fn valid_tables_read_as_the_reference_and_in_memory(
            rows in proptest::collection::vec(
                (any::<bool>(), category(LEVELS_M), 0i64..10, "[a-z]{0,2}"),
                0..300,
            ),
            repeat in proptest::option::of((0usize..300, 0usize..300)),
            // Blank lines and quoted line breaks, which move the lines of the rows after them.
            breaks in proptest::collection::vec((0usize..300, prop_oneof![Just(2u8), Just(5u8)]), 0..20),
        ) {
            // Distinct identifiers (sometimes padded), unless `repeat` copies one to another row.
            let mut ids: Vec<String> = (0..rows.len())
                .map(|i| if rows[i].0 { format!(" u{i} ") } else { format!("u{i}") })
                .collect();
            if let Some((from, to)) = repeat {
                if from < ids.len() && to < ids.len() {
                    ids[to] = format!("u{from}");
                }
            }
            let fields: Vec<[String; 4]> = rows
                .iter()
                .zip(&ids)
                .map(|((_, m, w, x), id)| [id.clone(), m.trim().to_string(), w.to_string(), x.clone()])
                .collect();
            let bytes = file(["key", "m", "w", "x"], fields.clone(), breaks, false);
            same("tb", &bytes)?;
            let study = study();
            let mut table = InputTable::new(&["key", "m", "w", "x"]);
            for f in &fields {
                table.push(f.to_vec());
            }
            let in_memory = table.validate(&study, "tb");
            let bytes = file(["key", "m", "w", "x"], fields, Vec::new(), false);
            let from_csv = read_csv_from(study.table("tb").unwrap(), "src", &bytes[..]);
            match (in_memory, from_csv) {
                (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
                (Err(a), Err(b)) => {
                    let a = a.to_string().replace("<in-memory table tb>", "src");
                    prop_assert_eq!(a, b.to_string());
                }
                (a, b) => prop_assert!(false, "{:?} vs {:?}", a, b),
            }
        }
    }

    #[test]
    fn a_repeat_before_another_error_is_reported_first() {
        let study = study();
        let spec = study.table("tb").unwrap();
        // Line 4 repeats line 2; line 6 has a bad integer; a blank line shifts the numbers.
        let bytes = b"key,m,w\na,l1,1\nb,l2,2\na,l3,3\n\nc,l4,x\n";
        match read_csv_from(spec, "src", &bytes[..]).unwrap_err() {
            InputError::DuplicateId {
                line, first_line, ..
            } => assert_eq!((line, first_line), (4, 2)),
            e => panic!("{e}"),
        }
        // Without the repeat, the bad integer.
        let bytes = b"key,m,w\na,l1,1\nb,l2,2\nd,l3,3\n\nc,l4,x\n";
        match read_csv_from(spec, "src", &bytes[..]).unwrap_err() {
            InputError::NotInteger { line, .. } => assert_eq!(line, 6),
            e => panic!("{e}"),
        }
        // A repeat after the error is never reached.
        let bytes = b"key,m,w\na,l1,1\nc,l4,x\na,l3,3\n";
        assert!(matches!(
            read_csv_from(spec, "src", &bytes[..]).unwrap_err(),
            InputError::NotInteger { line: 3, .. }
        ));
    }

    #[test]
    fn lines_of_rows_follow_breaks() {
        let mut lines = Lines::default();
        for (row, line) in [(0, 2), (1, 3), (2, 5), (3, 6), (4, 9)] {
            lines.push(row, line);
        }
        assert_eq!(lines.breaks.len(), 3);
        let got: Vec<u64> = (0..5).map(|r| lines.line(r)).collect();
        assert_eq!(got, vec![2, 3, 5, 6, 9]);
    }
}
