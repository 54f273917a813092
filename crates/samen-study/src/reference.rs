//! Plaintext reference computation of a study (inner join in the clear).
//!
//! Computes exactly what the joint computation reveals — same cells, same suppression rule
//! (`count < min_cell`), same finishing from integers — for tests, audits and simulation. It
//! sees both tables, so it is never part of a real run.

use std::collections::HashMap;

use crate::input::{ColumnData, PartyTable};
use crate::output::{finish_cell, OutputTable};
use crate::spec::{ColumnKind, Study};

/// Compute every output of `study` in the clear from both parties' validated tables
/// (`tables` in any order; each must be one of the study's tables).
pub fn compute(study: &Study, tables: &[&PartyTable]) -> Vec<OutputTable> {
    let find = |name: &str| tables.iter().find(|t| t.table == name).copied();
    let a_name = &study.tables()[0].name;
    let b_name = &study.tables()[1].name;
    let empty_a = PartyTable {
        table: a_name.clone(),
        ids: vec![],
        columns: Default::default(),
    };
    let empty_b = PartyTable {
        table: b_name.clone(),
        ids: vec![],
        columns: Default::default(),
    };
    let a = find(a_name).unwrap_or(&empty_a);
    let b = find(b_name).unwrap_or(&empty_b);
    let b_index: HashMap<&str, usize> = b
        .ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    let pairs: Vec<(usize, usize)> = a
        .ids
        .iter()
        .enumerate()
        .filter_map(|(i, id)| b_index.get(id.as_str()).map(|&j| (i, j)))
        .collect();

    let mut out = Vec::new();
    for o in study.outputs() {
        let levels: Vec<Vec<String>> =
            o.by.iter()
                .map(|r| match study.column(r) {
                    Some(ColumnKind::Category { levels }) => levels.clone(),
                    _ => vec![],
                })
                .collect();
        let n_cells: usize = levels.iter().map(Vec::len).product();
        let mut agg = vec![(0u64, 0i128, 0i128); n_cells];
        for &(i, j) in &pairs {
            let row_of = |table: &str| if table == *a_name { i } else { j };
            let tab_of = |table: &str| if table == *a_name { a } else { b };
            let mut cell = 0usize;
            for (r, lv) in o.by.iter().zip(&levels) {
                let idx = match tab_of(&r.table).columns.get(&r.column) {
                    Some(ColumnData::Category(v)) => {
                        v.get(row_of(&r.table)).copied().unwrap_or(0) as usize
                    }
                    _ => 0,
                };
                cell = cell * lv.len() + idx;
            }
            let v = match &o.of {
                Some(r) => match tab_of(&r.table).columns.get(&r.column) {
                    Some(ColumnData::Integer(v)) => {
                        i128::from(v.get(row_of(&r.table)).copied().unwrap_or(0))
                    }
                    _ => 0,
                },
                None => 0,
            };
            let Some(e) = agg.get_mut(cell) else { continue };
            e.0 += 1;
            e.1 += v;
            e.2 += v * v;
        }
        let cells = agg
            .into_iter()
            .enumerate()
            .map(|(c, (n, s, s2))| {
                let lv: Vec<&[String]> = levels.iter().map(Vec::as_slice).collect();
                let names = cell_levels(&lv, c);
                let suppressed = o.min_cell > 0 && n < o.min_cell;
                finish_cell(o.statistic, names, suppressed, n, s, s2)
            })
            .collect();
        out.push(OutputTable {
            name: o.name.clone(),
            statistic: o.statistic,
            by: o.by.clone(),
            cells,
        });
    }
    out
}

/// The level names of cell `cell` of an output with these `by`-column levels.
pub(crate) fn cell_levels(levels: &[&[String]], cell: usize) -> Vec<String> {
    let mut names = vec![String::new(); levels.len()];
    let mut rest = cell;
    for (j, lv) in levels.iter().enumerate().rev() {
        if lv.is_empty() {
            continue;
        }
        names[j] = lv[rest % lv.len()].clone();
        rest /= lv.len();
    }
    names
}
