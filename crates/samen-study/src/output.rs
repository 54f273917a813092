//! Output tables: what each statistic's [`crate::statistic::Definition::finish`] produces, and
//! their CSV files.
//!
//! An output is one or more CSV files: `DIR/<name>.csv` and, for some statistics, companion
//! files such as `DIR/<name>.glance.csv`. Each statistic documents its columns; the cell
//! statistics (count, sum, mean, variance, covariance) write the `by` columns named
//! `table.column`, then `count`, then the statistic's columns, then `suppressed`. A suppressed
//! cell has all statistic fields empty. Floating-point values are printed as the shortest
//! decimal that round-trips the `f64` (exponent notation below 10^-5 and from 10^15 in
//! magnitude); no file ever contains NaN or infinity — an undefined value is an empty field.
//!
//! ```
//! use samen_study::output::{OutputFile, OutputTable};
//! use samen_study::spec::Statistic;
//! let t = OutputTable {
//!     name: "n".into(),
//!     statistic: Statistic::Count,
//!     files: vec![OutputFile::new("", &["count", "suppressed"], vec![vec!["3".into(), "false".into()]])],
//!     notes: vec![],
//! };
//! assert_eq!(t.to_csv(), "count,suppressed\n3,false\n");
//! assert_eq!(t.get(0, "count"), Some("3"));
//! ```

use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::spec::Statistic;

/// An error writing an output file.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum OutputError {
    /// Creating, writing or renaming the file failed.
    #[error("cannot write output file {path}: {source}")]
    Write {
        /// The target file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// One CSV file of an output: `<name><suffix>.csv`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputFile {
    /// Appended to the output name before `.csv` (`""` for the main file, `".glance"`, …).
    pub suffix: String,
    /// Column names.
    pub header: Vec<String>,
    /// Rows of fields (an empty field is an empty string), each as long as the header.
    pub rows: Vec<Vec<String>>,
}

impl OutputFile {
    /// A file with this suffix, header and rows.
    pub fn new(suffix: &str, header: &[&str], rows: Vec<Vec<String>>) -> OutputFile {
        OutputFile {
            suffix: suffix.to_string(),
            header: header.iter().map(|s| s.to_string()).collect(),
            rows,
        }
    }

    /// The field of row `row` in column `column`; `None` if absent or empty.
    pub fn get(&self, row: usize, column: &str) -> Option<&str> {
        let c = self.header.iter().position(|h| h == column)?;
        let f = self.rows.get(row)?.get(c)?;
        (!f.is_empty()).then_some(f.as_str())
    }

    /// The file as CSV text (header line, one line per row, `\n` line ends).
    pub fn to_csv(&self) -> String {
        let mut out = String::new();
        for line in std::iter::once(&self.header).chain(&self.rows) {
            let fields: Vec<String> = line.iter().map(|s| csv_field(s)).collect();
            out.push_str(&fields.join(","));
            out.push('\n');
        }
        out
    }
}

/// A revealed output: its files, and notes for the run's log (e.g. why a model has no
/// estimates).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputTable {
    /// The output name.
    pub name: String,
    /// The statistic.
    pub statistic: Statistic,
    /// The files; the first is `<name>.csv`.
    pub files: Vec<OutputFile>,
    /// Messages about this output for the party's log (never data beyond the output itself).
    pub notes: Vec<String>,
}

impl OutputTable {
    /// The main file `<name>.csv` (`None` only for a table built with no files).
    pub fn main(&self) -> Option<&OutputFile> {
        self.files.first()
    }

    /// The field of row `row`, column `column` of the main file; `None` if absent or empty.
    pub fn get(&self, row: usize, column: &str) -> Option<&str> {
        self.main()?.get(row, column)
    }

    /// The main file as CSV text.
    pub fn to_csv(&self) -> String {
        self.main().map(OutputFile::to_csv).unwrap_or_default()
    }

    /// The file names and CSV texts of every file of the output.
    pub fn rendered(&self) -> Vec<(String, String)> {
        self.files
            .iter()
            .map(|f| (format!("{}{}.csv", self.name, f.suffix), f.to_csv()))
            .collect()
    }

    /// Write every file of the output to `dir`, each atomically; returns their paths.
    pub fn write_to_dir(&self, dir: &Path) -> Result<Vec<PathBuf>, OutputError> {
        let mut paths = Vec::new();
        for (name, text) in self.rendered() {
            let path = dir.join(name);
            write_atomic(&path, text.as_bytes())?;
            paths.push(path);
        }
        Ok(paths)
    }
}

/// Format a floating-point value for a CSV field: the shortest decimal that round-trips, in
/// exponent notation for very small or very large magnitudes; empty for `None`, NaN or
/// infinity (which are never written).
pub fn fmt_f64(x: Option<f64>) -> String {
    match x {
        Some(v) if v.is_finite() => {
            let a = v.abs();
            if a != 0.0 && !(1e-5..1e15).contains(&a) {
                format!("{v:e}")
            } else {
                format!("{v}")
            }
        }
        _ => String::new(),
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Write a file atomically (`samen_core::atomic`: a temporary file in the same directory,
/// synced, then renamed; mode 0600), creating the directory if needed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), OutputError> {
    let err = |source| OutputError::Write {
        path: path.display().to_string(),
        source,
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(err)?;
    samen_core::atomic::write_atomic(path, bytes, 0o600).map_err(err)
}
