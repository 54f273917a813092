//! The share of a table's rows that are matched, per cell of that table's own columns (a
//! left-join statistic: "which share of each province's residents use the portal").
//!
//! `statistic = "rate"`, no `of`, 1–2 `by` columns all of one table (the **owning** table;
//! categories or bands), optional `where` filters on either table. Quantities per cell:
//! `matched` (the count of matched rows passing every filter) and `rows` (the count of the
//! owning table's rows passing the filters on the owning table, matched or not). `<name>.csv`:
//! the `by` columns, `rows`, `matched`, `rate` = matched / rows (exact integers, one
//! rounding), `suppressed`.
//!
//! **What is released.** `rows` is the owning data party's own per-cell count over its own
//! table. It is computed inside the same cross-party product as every other quantity: the other
//! data party contributes a column that is 1 at every position of the union (whether or not it
//! holds a row there), so the product entry sums the owner's factor over all its rows. It is
//! opened, like every quantity, only for a cell that is not suppressed, and becomes part of the
//! release: the other data party and every reader of the output learn the owning table's count
//! of each published cell. A suppressed cell reveals neither count.
//!
//! **Suppression.** A cell is suppressed when `matched` or `rows` is below `min_cell`. The
//! decision on `matched` is the usual one inside MPC (secure comparison, then every quantity
//! times the bit). Since the matched rows of a cell are among its rows, `rows ≥ matched`:
//! without noise a cell with `rows < min_cell` always has `matched < min_cell` and is
//! suppressed inside MPC, so its own count is never opened. With a privacy budget both counts
//! carry noise (the budget split over the two, as for every statistic); a cell whose noisy
//! `matched` passes but whose noisy `rows` is below `min_cell` is opened (both values are
//! differentially private) and then suppressed in the file. The rate of noisy counts may lie
//! outside [0, 1]; it is written as computed.
//!
//! Cost: one column more in the other data party's matrix (N words); no extra round.

use crate::output::{fmt_f64, OutputFile, OutputTable};
use crate::spec::{ColumnKind, ColumnRef, OutputSpec, Study};

use crate::disclosure::Suppression;

use super::cells::ratio;
use super::{Atom, CellValues, Definition, Quantity};

pub(super) struct Rate;

pub(super) static RATE: Rate = Rate;

/// The owning table of a rate output (the table of its `by` columns).
pub(super) fn owner(output: &OutputSpec) -> Option<&str> {
    output.by.first().map(|r| r.table.as_str())
}

impl Definition for Rate {
    fn name(&self) -> &'static str {
        "rate"
    }

    fn check<'a>(
        &self,
        output: &OutputSpec,
        _column: &dyn Fn(&ColumnRef) -> Option<&'a ColumnKind>,
    ) -> Result<(), String> {
        if !output.of.is_empty() || !output.x.is_empty() {
            return Err("statistic \"rate\" takes no 'of' and no 'x'".into());
        }
        let Some(table) = owner(output) else {
            return Err(
                "statistic \"rate\" needs 1 or 2 'by' columns of one table (the table \
                        whose rows the rate is a share of)"
                    .into(),
            );
        };
        if let Some(r) = output.by.iter().find(|r| r.table != table) {
            return Err(format!(
                "statistic \"rate\" needs every 'by' column from one table; '{r}' is not of \
                 table '{table}'"
            ));
        }
        Ok(())
    }

    fn quantities(&self, output: &OutputSpec, study: &Study) -> Vec<Quantity> {
        let other = study
            .tables()
            .iter()
            .find(|t| Some(t.name.as_str()) != owner(output));
        let mut q = vec![Quantity::count()];
        if let Some(t) = other {
            q.push(Quantity(vec![Atom::Union(ColumnRef {
                table: t.name.clone(),
                column: t.id.column.clone(),
            })]));
        }
        q
    }

    fn finish(&self, output: &OutputSpec, _study: &Study, cells: &[CellValues]) -> OutputTable {
        let mut header: Vec<String> = output.by.iter().map(ToString::to_string).collect();
        header.extend(["rows", "matched", "rate", "suppressed"].map(String::from));
        let min = i128::from(output.min_cell);
        let rows = cells
            .iter()
            .map(|c| {
                let mut row = c.levels.clone();
                let (matched, own) = match *c.values.as_slice() {
                    [m, r] => (m, r),
                    _ => (0, 0),
                };
                // A noisy own count below min_cell is blanked after the opening (both values
                // are noisy, so nothing exact is revealed); it counts as primary.
                let mark = match c.suppressed {
                    Suppression::Shown if output.min_cell > 0 && own < min => Suppression::Primary,
                    m => m,
                };
                if mark.is_suppressed() {
                    row.extend(std::iter::repeat_n(String::new(), 3));
                } else {
                    row.push(own.to_string());
                    row.push(matched.to_string());
                    row.push(fmt_f64((own > 0).then(|| ratio(matched, own))));
                }
                row.push(mark.to_string());
                row
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
            notes: Vec::new(),
        }
    }
}
