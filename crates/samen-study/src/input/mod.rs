//! A data party's input: reading and validating its table (CSV file or in-memory rows).
//!
//! Every check happens before anything is sent: identifiers are normalised with
//! `samen_pseudonym::normalise` (invalid or duplicated identifiers are errors), category values
//! must be declared levels, integers must parse and lie within their bounds, and every declared
//! column must be present. Errors name the source (file), the physical line (header = line 1)
//! and the column, never the identifier or the offending value.
//!
//! Every problem is reported, not only the first: all missing columns of the header, and every
//! bad field of every row ([`InputError::Many`] lists the first [`MAX_REPORTED_ERRORS`] in line
//! order, with the total count). Only a malformed CSV record (a row with another number of
//! fields than the header, an unreadable file) ends the reading, after the problems found so far.
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
    #[error("{source_name}: more than {max} rows, the most one table of a study may have")]
    TooManyRows {
        /// The file.
        source_name: String,
        /// The limit.
        max: usize,
    },
    /// Several problems: the first [`MAX_REPORTED_ERRORS`] in line order (each one of the other
    /// variants), and how many there are in all.
    #[error("{}", many_message(source_name, *total, errors))]
    Many {
        /// The file.
        source_name: String,
        /// The number of problems found (at least `errors.len()`).
        total: u64,
        /// The first problems, in line order.
        errors: Vec<InputError>,
    },
}

/// The most problems of one input listed in an error ([`InputError::Many`]); all are counted.
pub const MAX_REPORTED_ERRORS: usize = 100;

fn many_message(source_name: &str, total: u64, errors: &[InputError]) -> String {
    let listed = if errors.len() as u64 == total {
        String::new()
    } else {
        format!(", the first {} listed", errors.len())
    };
    let mut s = format!("{source_name}: {total} problems{listed}:");
    for e in errors {
        s.push_str("\n  ");
        s.push_str(&e.to_string());
    }
    s
}

impl InputError {
    /// The physical line the problem is on, if it is on one line.
    pub fn line(&self) -> Option<u64> {
        match self {
            InputError::Csv { line, .. }
            | InputError::InvalidId { line, .. }
            | InputError::DuplicateId { line, .. }
            | InputError::UnknownLevel { line, .. }
            | InputError::NotInteger { line, .. }
            | InputError::OutOfRange { line, .. } => Some(*line),
            InputError::MissingColumn { .. } => Some(1),
            _ => None,
        }
    }

    /// Every single problem this error stands for (the listed ones of [`InputError::Many`]).
    pub fn problems(&self) -> Vec<&InputError> {
        match self {
            InputError::Many { errors, .. } => errors.iter().collect(),
            e => vec![e],
        }
    }

    /// One error for the problems of `source_name`: `None` without problems, the problem itself
    /// when there is one, else [`InputError::Many`]. `total` counts all problems, `errors` holds
    /// the first ones in line order.
    pub(crate) fn from_problems(
        source_name: &str,
        total: u64,
        mut errors: Vec<InputError>,
    ) -> Option<InputError> {
        if total <= 1 && errors.len() <= 1 {
            return errors.pop();
        }
        Some(InputError::Many {
            source_name: source_name.to_string(),
            total,
            errors,
        })
    }
}

/// Largest number of rows of one table: the largest table the private joins accept
/// ([`samen_join::MAX_PARTY_SIZE`], 10^8), so that a larger file is refused while it is read.
pub const MAX_ROWS: usize = samen_join::MAX_PARTY_SIZE as usize;

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

mod check;
mod read;

use read::{read_csv_from, validate_records};
#[cfg(test)]
mod tests;
