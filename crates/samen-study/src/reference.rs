//! Plaintext reference computation of a study (inner join in the clear).
//!
//! Evaluates, in the clear, exactly the quantities each statistic declares — same cells, same
//! primary suppression rule (`count < min_cell`), the same secondary cells
//! ([`crate::disclosure::protect`]), same finishing — for tests, audits and simulation. It
//! sees both tables, so it is never part of a real run. Differential-privacy noise is not
//! added: the reference gives the exact values a noisy output is compared with.

use std::collections::HashMap;

use crate::disclosure;
use crate::input::{ColumnData, PartyTable};
use crate::output::OutputTable;
use crate::spec::{ColumnRef, Study};
use crate::statistic::{self, Atom, CellValues};

/// Compute every output of `study` in the clear from both parties' validated tables
/// (`tables` in any order; each must be one of the study's tables; a missing table or column
/// counts as empty).
pub fn compute(study: &Study, tables: &[&PartyTable]) -> Vec<OutputTable> {
    let names: Vec<&str> = study.tables().iter().map(|t| t.name.as_str()).collect();
    let find = |name: &str| tables.iter().find(|t| t.table == name).copied();
    let (a, b) = match names.as_slice() {
        [a, b] => (find(a), find(b)),
        _ => (None, None),
    };
    let b_index: HashMap<&str, usize> = b
        .map(|b| {
            b.ids
                .iter()
                .enumerate()
                .map(|(i, id)| (id.as_str(), i))
                .collect()
        })
        .unwrap_or_default();
    let pairs: Vec<(usize, usize)> = a
        .map(|a| {
            a.ids
                .iter()
                .enumerate()
                .filter_map(|(i, id)| b_index.get(id.as_str()).map(|&j| (i, j)))
                .collect()
        })
        .unwrap_or_default();
    let first_name = names.first().copied().unwrap_or_default();
    // The row of a joined pair in the table of column `r`, and that table.
    let locate = |r: &ColumnRef, (i, j): (usize, usize)| {
        if r.table == first_name {
            (a, i)
        } else {
            (b, j)
        }
    };
    let category = |r: &ColumnRef, pair| -> Option<u32> {
        let (t, row) = locate(r, pair);
        match t?.columns.get(&r.column)? {
            ColumnData::Category(v) => v.get(row).copied(),
            ColumnData::Integer(_) => None,
        }
    };
    let integer = |r: &ColumnRef, pair| -> Option<i64> {
        let (t, row) = locate(r, pair);
        match t?.columns.get(&r.column)? {
            ColumnData::Integer(v) => v.get(row).copied(),
            ColumnData::Category(_) => None,
        }
    };
    let atom = |x: &Atom, pair| -> i128 {
        match x {
            Atom::Value(r) => integer(r, pair).map_or(0, i128::from),
            Atom::Level(r, l) => i128::from(category(r, pair) == Some(*l)),
            Atom::Union(_) => 1,
            Atom::Test(f) => i128::from(
                match (integer(&f.column, pair), category(&f.column, pair)) {
                    (Some(v), _) => f.passes_value(v),
                    (_, Some(l)) => f.passes_level(l),
                    _ => false,
                },
            ),
        }
    };

    // Every output's cell sums, then the primary pattern in the clear and the same secondary
    // cells the engine adds (disclosure::protect), then each statistic's files.
    let mut all_sums = Vec::new();
    let mut primary = Vec::new();
    for o in study.outputs() {
        let quantities = statistic::quantities(o, study);
        let n_cells = statistic::cell_levels(o, study).len();
        let sizes: Vec<usize> =
            o.by.iter()
                .map(|r| statistic::by_levels(o, study, r).len())
                .collect();
        let mut sums = vec![vec![0i128; quantities.len()]; n_cells];
        // A quantity with a `Union` atom of one table sums over every row of the other table
        // (matched or not); the others over the joined pairs. A row of one table alone is a
        // pair whose other index points nowhere.
        let own_rows = |q: &statistic::Quantity| -> Option<Vec<(usize, usize)>> {
            let t = q.0.iter().find_map(|x| match x {
                Atom::Union(c) => Some(c.table.as_str()),
                _ => None,
            })?;
            Some(if t == first_name {
                (0..b.map_or(0, |b| b.len()))
                    .map(|j| (usize::MAX, j))
                    .collect()
            } else {
                (0..a.map_or(0, |a| a.len()))
                    .map(|i| (i, usize::MAX))
                    .collect()
            })
        };
        for (qi, q) in quantities.iter().enumerate() {
            let rows = own_rows(q);
            for &pair in rows.as_deref().unwrap_or(&pairs) {
                let mut cell = 0usize;
                for (r, n) in o.by.iter().zip(&sizes) {
                    let level = match o.bands.get(r) {
                        Some(b) => integer(r, pair).map_or(0, |v| b.index(v)),
                        None => category(r, pair).unwrap_or(0) as usize,
                    };
                    cell = cell * n + level;
                }
                if let Some(s) = sums.get_mut(cell).and_then(|acc| acc.get_mut(qi)) {
                    *s += q.0.iter().map(|x| atom(x, pair)).product::<i128>();
                }
            }
        }
        primary.push(
            sums.iter()
                .map(|v| {
                    let count = v.first().copied().unwrap_or(0);
                    o.min_cell > 0 && count < i128::from(o.min_cell)
                })
                .collect::<Vec<bool>>(),
        );
        all_sums.push(sums);
    }
    let pattern = disclosure::protect(study, &primary);
    let mut out = Vec::new();
    for (oi, (o, sums)) in study.outputs().iter().zip(all_sums).enumerate() {
        let levels = statistic::cell_levels(o, study);
        let cells: Vec<CellValues> = levels
            .into_iter()
            .zip(sums)
            .enumerate()
            .map(|(ci, (levels, values))| {
                let suppressed = pattern.get(oi, ci);
                CellValues {
                    levels,
                    suppressed,
                    values: if suppressed.is_suppressed() {
                        vec![0; values.len()]
                    } else {
                        values
                    },
                }
            })
            .collect();
        out.push(statistic::definition(o.statistic).finish(o, study, &cells));
    }
    out
}
