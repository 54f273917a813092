//! The cell statistics over 0–2 grouping columns: count, sum, mean and population variance of
//! one integer column.
//!
//! Quantities per cell: `n` (count); `n, Σv` (sum, mean); `n, Σv, Σv²` (variance). Columns of
//! `<name>.csv`: the `by` columns, `count`, then `sum`, `mean` or `mean,variance`, then
//! `suppressed`. mean = Σv / n and population variance = (n·Σv² − (Σv)²) / n², exact from the
//! integers in `i128` with one rounding to `f64`; both are empty for a cell with count ≤ 0
//! (only possible with `min_cell = 0`, or with differential-privacy noise).

use crate::output::{fmt_f64, OutputFile, OutputTable};
use crate::spec::{ColumnKind, ColumnRef, OutputSpec, Study};

use super::{check_of_integers, CellValues, Definition, Quantity};

/// Which of the four cell statistics.
pub(super) struct CellStatistic {
    name: &'static str,
    /// Powers of the value column summed per cell after the count (0 for count).
    degree: usize,
    /// Statistic columns after `count`.
    columns: &'static [&'static str],
    /// The statistic's fields from the cell's quantities `[n, Σv, Σv²]` (as many as `degree`
    /// declares).
    fields: fn(&[i128]) -> Vec<String>,
}

pub(super) static COUNT: CellStatistic = CellStatistic {
    name: "count",
    degree: 0,
    columns: &[],
    fields: |_| vec![],
};

pub(super) static SUM: CellStatistic = CellStatistic {
    name: "sum",
    degree: 1,
    columns: &["sum"],
    fields: |v| vec![v.get(1).map(ToString::to_string).unwrap_or_default()],
};

pub(super) static MEAN: CellStatistic = CellStatistic {
    name: "mean",
    degree: 1,
    columns: &["mean"],
    fields: |v| match *v {
        [n, s] => vec![fmt_f64(mean_and_variance(n, s, 0).0)],
        _ => vec![String::new()],
    },
};

pub(super) static VARIANCE: CellStatistic = CellStatistic {
    name: "variance",
    degree: 2,
    columns: &["mean", "variance"],
    fields: |v| {
        let (m, v) = match *v {
            [n, s, s2] => mean_and_variance(n, s, s2),
            _ => (None, None),
        };
        vec![fmt_f64(m), fmt_f64(v)]
    },
};

/// `num / den` as `f64` with one rounding of the integer quotient and remainder (`den > 0`).
pub(crate) fn ratio(num: i128, den: i128) -> f64 {
    let q = num.div_euclid(den);
    let r = num.rem_euclid(den);
    q as f64 + (r as f64) / (den as f64)
}

/// Mean `Σv / n` and population variance `(n·Σv² − (Σv)²) / n²` from exact integers; `None`
/// for `n ≤ 0`. A negative variance numerator (possible only with noisy sums) is clamped to 0.
///
/// ```
/// use samen_study::statistic::mean_and_variance;
/// // Three values 1, 2, 4: n = 3, Σv = 7, Σv² = 21.
/// let (m, v) = mean_and_variance(3, 7, 21);
/// assert_eq!(m, Some(7.0 / 3.0));
/// assert!((v.unwrap() - 14.0 / 9.0).abs() < 1e-15);
/// ```
pub fn mean_and_variance(n: i128, sum: i128, sum_sq: i128) -> (Option<f64>, Option<f64>) {
    if n <= 0 {
        return (None, None);
    }
    let num = n
        .saturating_mul(sum_sq)
        .saturating_sub(sum.saturating_mul(sum));
    (
        Some(ratio(sum, n)),
        Some(ratio(num.max(0), n.saturating_mul(n))),
    )
}

/// The file of a cell statistic: `by` columns, `count`, `columns`, `suppressed`; each cell's
/// fields from its values (empty when suppressed).
pub(super) fn cell_file(
    output: &OutputSpec,
    columns: &[&str],
    cells: &[CellValues],
    fields: impl Fn(&[i128]) -> Vec<String>,
) -> OutputFile {
    let mut header: Vec<String> = output.by.iter().map(ToString::to_string).collect();
    header.push("count".into());
    header.extend(columns.iter().map(|s| s.to_string()));
    header.push("suppressed".into());
    let rows = cells
        .iter()
        .map(|c| {
            let mut row = c.levels.clone();
            if c.suppressed.is_suppressed() {
                row.extend(std::iter::repeat_n(String::new(), columns.len() + 1));
            } else {
                row.push(
                    c.values
                        .first()
                        .map(ToString::to_string)
                        .unwrap_or_default(),
                );
                row.extend(fields(&c.values));
            }
            row.push(c.suppressed.to_string());
            row
        })
        .collect();
    OutputFile {
        suffix: String::new(),
        header,
        rows,
    }
}

impl Definition for CellStatistic {
    fn name(&self) -> &'static str {
        self.name
    }

    fn check<'a>(
        &self,
        output: &OutputSpec,
        column: &dyn Fn(&ColumnRef) -> Option<&'a ColumnKind>,
    ) -> Result<(), String> {
        check_of_integers(output, column, Some(self.degree.min(1)), 0)
    }

    fn quantities(&self, output: &OutputSpec, _study: &Study) -> Vec<Quantity> {
        let mut q = vec![Quantity::count()];
        if let Some(v) = output.of.first() {
            for d in 1..=self.degree {
                q.push(Quantity::of_values(&vec![v; d]));
            }
        }
        q
    }

    fn finish(&self, output: &OutputSpec, _study: &Study, cells: &[CellValues]) -> OutputTable {
        let file = cell_file(output, self.columns, cells, self.fields);
        OutputTable {
            name: output.name.clone(),
            statistic: output.statistic,
            files: vec![file],
            notes: Vec::new(),
        }
    }
}
