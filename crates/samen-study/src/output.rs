//! Output tables: typed cells, the exact finishing of statistics from integers, and CSV files.
//!
//! CSV format of `DIR/<name>.csv`: header = the `by` columns named `table.column` (in the order
//! given), `count`, then `sum` (statistic sum), `mean` (mean) or `mean,variance` (variance),
//! then `suppressed` (`true`/`false`). One row per cell in declared level order, first `by`
//! column outermost; without `by` columns one row. A suppressed cell has all statistic fields
//! empty (count included). A cell with count 0 that is not suppressed (only possible with
//! `min_cell = 0`) has count 0, sum 0 and empty mean/variance. Means and (population)
//! variances are printed as the shortest decimal that round-trips the `f64` (up to 17
//! significant digits).
//!
//! ```
//! use samen_study::output::finish_cell;
//! use samen_study::spec::Statistic;
//! // Three values 1, 2, 4: n = 3, Σv = 7, Σv² = 21.
//! let c = finish_cell(Statistic::Variance, vec![], false, 3, 7, 21);
//! assert_eq!(c.count, Some(3));
//! assert_eq!(c.mean, Some(7.0 / 3.0));
//! assert!((c.variance.unwrap() - 14.0 / 9.0).abs() < 1e-15);
//! ```

use std::io::Write;
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::spec::{ColumnRef, Statistic};

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

/// One cell of an output table.
#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    /// The level of each `by` column (same order as [`OutputTable::by`]).
    pub levels: Vec<String>,
    /// Whether the cell was suppressed (count < min_cell); then every statistic is `None`.
    pub suppressed: bool,
    /// Number of joined rows in the cell.
    pub count: Option<u64>,
    /// Σv (statistic sum only).
    pub sum: Option<i64>,
    /// Mean of v (statistics mean and variance; `None` when the count is 0).
    pub mean: Option<f64>,
    /// Population variance of v (statistic variance; `None` when the count is 0).
    pub variance: Option<f64>,
}

/// A revealed output table.
#[derive(Clone, Debug, PartialEq)]
pub struct OutputTable {
    /// The output name.
    pub name: String,
    /// The statistic.
    pub statistic: Statistic,
    /// The grouping columns.
    pub by: Vec<ColumnRef>,
    /// The cells in declared order (first `by` column outermost).
    pub cells: Vec<Cell>,
}

/// Finish one cell exactly from its integer aggregates (count `n`, Σv, Σv²).
///
/// mean = Σv / n and population variance = (n·Σv² − (Σv)²) / n², computed in `i128` and
/// converted to `f64` with one rounding of the integer quotient and remainder.
pub fn finish_cell(
    statistic: Statistic,
    levels: Vec<String>,
    suppressed: bool,
    n: u64,
    sum: i128,
    sum_sq: i128,
) -> Cell {
    if suppressed {
        return Cell {
            levels,
            suppressed,
            count: None,
            sum: None,
            mean: None,
            variance: None,
        };
    }
    let n128 = i128::from(n);
    let ratio = |num: i128, den: i128| -> f64 {
        let q = num.div_euclid(den);
        let r = num.rem_euclid(den);
        q as f64 + (r as f64) / (den as f64)
    };
    let mean = (n > 0).then(|| ratio(sum, n128));
    let variance = (n > 0).then(|| {
        let num = n128
            .saturating_mul(sum_sq)
            .saturating_sub(sum.saturating_mul(sum));
        ratio(num.max(0), n128.saturating_mul(n128))
    });
    Cell {
        levels,
        suppressed,
        count: Some(n),
        sum: (statistic == Statistic::Sum).then(|| i64::try_from(sum).unwrap_or(i64::MAX)),
        mean: if matches!(statistic, Statistic::Mean | Statistic::Variance) {
            mean
        } else {
            None
        },
        variance: if statistic == Statistic::Variance {
            variance
        } else {
            None
        },
    }
}

fn fmt_f64(x: Option<f64>) -> String {
    x.map(|v| format!("{v}")).unwrap_or_default()
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

impl OutputTable {
    /// The CSV header fields.
    pub fn header(&self) -> Vec<String> {
        let mut h: Vec<String> = self.by.iter().map(ToString::to_string).collect();
        h.push("count".into());
        match self.statistic {
            Statistic::Count => {}
            Statistic::Sum => h.push("sum".into()),
            Statistic::Mean => h.push("mean".into()),
            Statistic::Variance => {
                h.push("mean".into());
                h.push("variance".into());
            }
        }
        h.push("suppressed".into());
        h
    }

    /// The table as CSV text (header line, one line per cell, `\n` line ends).
    pub fn to_csv(&self) -> String {
        let mut out = String::new();
        let h: Vec<String> = self.header().iter().map(|s| csv_field(s)).collect();
        out.push_str(&h.join(","));
        out.push('\n');
        for c in &self.cells {
            let mut f: Vec<String> = c.levels.iter().map(|s| csv_field(s)).collect();
            f.push(c.count.map(|n| n.to_string()).unwrap_or_default());
            match self.statistic {
                Statistic::Count => {}
                Statistic::Sum => f.push(c.sum.map(|s| s.to_string()).unwrap_or_default()),
                Statistic::Mean => f.push(fmt_f64(c.mean)),
                Statistic::Variance => {
                    f.push(fmt_f64(c.mean));
                    f.push(fmt_f64(c.variance));
                }
            }
            f.push(if c.suppressed { "true" } else { "false" }.into());
            out.push_str(&f.join(","));
            out.push('\n');
        }
        out
    }

    /// Write `dir/<name>.csv` atomically (temporary file in `dir`, then rename).
    pub fn write_to_dir(&self, dir: &Path) -> Result<PathBuf, OutputError> {
        let path = dir.join(format!("{}.csv", self.name));
        write_atomic(&path, self.to_csv().as_bytes())?;
        Ok(path)
    }
}

/// Write a file atomically: a temporary file in the same directory, synced, then renamed.
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
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(err)?;
    tmp.write_all(bytes).map_err(err)?;
    tmp.as_file().sync_all().map_err(err)?;
    tmp.persist(path).map_err(|e| err(e.error))?;
    Ok(())
}
