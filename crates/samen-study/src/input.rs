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

/// Whether every field of a record is valid UTF-8 (checked on the whole record at once when it
/// is ASCII, the common case).
fn record_is_utf8(record: &csv::ByteRecord) -> bool {
    record.as_slice().is_ascii() || record.iter().all(|f| std::str::from_utf8(f).is_ok())
}

/// Read and validate a CSV table from `reader` (errors name `source_name`).
fn read_csv_from<R: std::io::Read>(
    spec: &TableSpec,
    source_name: &str,
    reader: R,
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
    let mut v = Validator::new(spec, source_name, &header_refs)?;
    let stopped = loop {
        match rdr.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break None,
            Err(e) => break Some(csv_err(source_name, e)),
        }
        let line = record_line(&record);
        if !record_is_utf8(&record) {
            break Some(not_utf8(source_name, line));
        }
        let field = |pos: usize| {
            record
                .get(pos)
                .and_then(|f| std::str::from_utf8(f).ok())
                .unwrap_or("")
        };
        if let Err(e) = v.push(line, field) {
            break Some(e);
        }
    };
    v.finish(stopped)
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
    let mut v = Validator::new(spec, source_name, header)?;
    let mut stopped = None;
    for r in records {
        let pushed = r.and_then(|(line, fields)| {
            v.push(line, |pos| fields.get(pos).copied().unwrap_or(""))
        });
        if let Err(e) = pushed {
            stopped = Some(e);
            break;
        }
    }
    v.finish(stopped)
}

/// Category columns with at most this many levels are looked up by a scan of the levels, larger
/// ones in a hash map.
const SCAN_LEVELS: usize = 16;

/// The declared levels of a category column, for looking up a field's level index.
enum Levels<'s> {
    /// A few levels with their indices, scanned in order.
    Few(Vec<(&'s str, u32)>),
    /// Many levels.
    Many(HashMap<&'s str, u32>),
}

impl<'s> Levels<'s> {
    fn new(levels: &'s [String]) -> Levels<'s> {
        let indexed = levels.iter().enumerate().map(|(i, l)| (l.as_str(), i as u32));
        if levels.len() <= SCAN_LEVELS {
            Levels::Few(indexed.collect())
        } else {
            Levels::Many(indexed.collect())
        }
    }

    fn index(&self, field: &str) -> Option<u32> {
        match self {
            Levels::Few(levels) => levels.iter().find(|(l, _)| *l == field).map(|&(_, i)| i),
            Levels::Many(index) => index.get(field).copied(),
        }
    }
}

enum ColCheck<'s> {
    Category {
        index: Levels<'s>,
        levels: usize,
        out: Vec<u32>,
    },
    Integer {
        min: i64,
        max: i64,
        out: Vec<i64>,
    },
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

    /// The line of `row` (a row that was pushed).
    fn line(&self, row: usize) -> u64 {
        let after = self.breaks.partition_point(|&(r, _)| r <= row);
        after
            .checked_sub(1)
            .and_then(|i| self.breaks.get(i))
            .map_or(0, |&(r, line)| line + (row - r) as u64)
    }
}

/// Checks rows one by one and encodes them. Duplicated identifiers are found at the end, over
/// all accepted rows at once ([`Validator::finish`]), and reported before any error that stopped
/// the rows: the same error a check row by row would stop at.
struct Validator<'s> {
    spec: &'s TableSpec,
    source_name: String,
    id_pos: usize,
    id_kind: norm::IdKind,
    cols: Vec<(&'s str, usize, ColCheck<'s>)>,
    ids: Vec<String>,
    lines: Lines,
}

impl<'s> Validator<'s> {
    fn new(
        spec: &'s TableSpec,
        source_name: &str,
        header: &[&str],
    ) -> Result<Validator<'s>, InputError> {
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
                    out: Vec::new(),
                },
                ColumnKind::Integer { min, max } => ColCheck::Integer {
                    min: *min,
                    max: *max,
                    out: Vec::new(),
                },
            };
            cols.push((name.as_str(), pos, check));
        }
        Ok(Validator {
            spec,
            source_name: source_name.to_string(),
            id_pos,
            id_kind: spec.id.kind,
            cols,
            ids: Vec::new(),
            lines: Lines::default(),
        })
    }

    /// Check and encode the row on physical line `line` whose field at position `pos` is
    /// `field(pos)` (`""` for a missing field). Does not check for duplicated identifiers.
    fn push<'f>(&mut self, line: u64, field: impl Fn(usize) -> &'f str) -> Result<(), InputError> {
        if self.ids.len() >= MAX_ROWS {
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
        for (name, pos, check) in &mut self.cols {
            let field = field(*pos).trim();
            match check {
                ColCheck::Category { index, levels, out } => match index.index(field) {
                    Some(i) => out.push(i),
                    None => {
                        return Err(InputError::UnknownLevel {
                            source_name: self.source_name.clone(),
                            line,
                            column: name.to_string(),
                            levels: *levels,
                        })
                    }
                },
                ColCheck::Integer { min, max, out } => {
                    let v: i64 = field.parse().map_err(|_| InputError::NotInteger {
                        source_name: self.source_name.clone(),
                        line,
                        column: name.to_string(),
                    })?;
                    if v < *min || v > *max {
                        return Err(InputError::OutOfRange {
                            source_name: self.source_name.clone(),
                            line,
                            column: name.to_string(),
                            min: *min,
                            max: *max,
                        });
                    }
                    out.push(v);
                }
            }
        }
        self.lines.push(self.ids.len(), line);
        self.ids.push(id);
        Ok(())
    }

    /// The table, or the first error in row order: a duplicated identifier among the accepted
    /// rows comes before `stopped`, the error that ended the rows (if any), because it is on an
    /// earlier line.
    fn finish(self, stopped: Option<InputError>) -> Result<PartyTable, InputError> {
        if let Some(repeat) = first_repeat(&self.ids) {
            return Err(InputError::DuplicateId {
                source_name: self.source_name,
                line: self.lines.line(repeat.later),
                column: self.spec.id.column.clone(),
                first_line: self.lines.line(repeat.earlier),
            });
        }
        if let Some(e) = stopped {
            return Err(e);
        }
        let columns = self
            .cols
            .into_iter()
            .map(|(name, _, check)| {
                let data = match check {
                    ColCheck::Category { out, .. } => ColumnData::Category(out),
                    ColCheck::Integer { out, .. } => ColumnData::Integer(out),
                };
                (name.to_string(), data)
            })
            .collect();
        Ok(PartyTable {
            table: self.spec.name.clone(),
            ids: self.ids,
            columns,
        })
    }
}
