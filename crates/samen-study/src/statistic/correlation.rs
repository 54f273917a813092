//! Pearson correlation matrix of two or more integer columns (from either table) over the
//! matched rows.
//!
//! `of = ["a.x", "b.y", …]`, no `by`. Quantities: the Gram matrix of `(1, c_1, …, c_m)` —
//! n, Σc_i and Σc_i·c_j — opened after suppression by n (inside MPC). `<name>.csv`: header
//! `column,<c_1>,…,<c_m>,n,suppressed`, one row per column in order; `r_ij` from the exact
//! integers ([`crate::stats::correlation`]); an entry is empty where a column is constant. A
//! suppressed output keeps its rows with every statistic field (and `n`) empty.

use crate::output::{fmt_f64, OutputFile, OutputTable};
use crate::spec::{ColumnKind, ColumnRef, OutputSpec, Study};

use crate::disclosure::Suppression;

use super::{check_of_integers, gram, Atom, CellValues, Definition, Quantity};

pub(super) struct Correlation;

pub(super) static CORRELATION: Correlation = Correlation;

impl Definition for Correlation {
    fn name(&self) -> &'static str {
        "correlation"
    }

    fn check<'a>(
        &self,
        output: &OutputSpec,
        column: &dyn Fn(&ColumnRef) -> Option<&'a ColumnKind>,
    ) -> Result<(), String> {
        if !output.by.is_empty() {
            return Err("statistic \"correlation\" takes no 'by' columns".into());
        }
        check_of_integers(output, column, None, 2)
    }

    fn quantities(&self, output: &OutputSpec, _study: &Study) -> Vec<Quantity> {
        let z: Vec<Atom> = output.of.iter().cloned().map(Atom::Value).collect();
        gram::quantities(&z)
    }

    /// A model releases its fit and `n` (the matched total), not its Gram matrix.
    fn released(&self, _output: &OutputSpec, _study: &Study) -> Vec<Quantity> {
        vec![Quantity::count()]
    }

    fn finish(&self, output: &OutputSpec, _study: &Study, cells: &[CellValues]) -> OutputTable {
        let m = output.of.len();
        let mut header = vec!["column".to_string()];
        header.extend(output.of.iter().map(ToString::to_string));
        header.push("n".into());
        header.push("suppressed".into());
        let cell = cells.first();
        let mark = cell.map_or(Suppression::Primary, |c| c.suppressed);
        let suppressed = mark.is_suppressed();
        let mut notes = Vec::new();
        let (n, r) = match cell.filter(|_| !suppressed) {
            None => (String::new(), vec![vec![None; m]; m]),
            Some(c) => {
                let n = c
                    .values
                    .first()
                    .map(ToString::to_string)
                    .unwrap_or_default();
                match gram::from_upper(m + 1, &c.values) {
                    Ok(g) => (n, crate::stats::correlation(&g)),
                    Err(e) => {
                        notes.push(format!("output '{}': {e}", output.name));
                        (n, vec![vec![None; m]; m])
                    }
                }
            }
        };
        let rows = output
            .of
            .iter()
            .zip(&r)
            .map(|(c, row)| {
                let mut fields = vec![c.to_string()];
                fields.extend(row.iter().map(|v| fmt_f64(*v)));
                fields.push(n.clone());
                fields.push(mark.to_string());
                fields
            })
            .collect();
        OutputTable {
            name: output.name.clone(),
            statistic: output.statistic,
            files: vec![OutputFile {
                suffix: String::new(),
                header,
                rows,
            }],
            notes,
        }
    }
}
