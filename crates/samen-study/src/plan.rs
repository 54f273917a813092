//! The layout of the joint computation, derived from the study alone (public).
//!
//! Every output is a block of one cross-party matrix product `M_A^T · M_B`. Each data party
//! contributes, per output, a block of columns: the one-hot encoding of its own `by` columns
//! (combined, first `by` column outermost), multiplied by its presence flag and, if it owns the
//! value column, by the factors `(1, v)` (sum, mean) or `(1, v, v²)` (variance). Identical
//! blocks of different outputs are shared, so each side's matrix has as few columns as possible.
//! All blocks go into **one** cross product of shape `k × l` (`k`, `l` = total widths); an
//! output reads its cells from its diagonal block. Communication is `N·(k + l)` words either
//! way, so one call (fewer rounds, blocks shared) is never worse than one call per output.
//!
//! The helper derives the same plan from the study file, so it knows the shapes without any
//! data.

use crate::input::{ColumnData, PartyTable};
use crate::spec::{ColumnKind, ColumnRef, Statistic, Study};

/// A block of one side's matrix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    /// This side's `by` columns (in output order).
    pub by: Vec<ColumnRef>,
    /// Number of levels of each `by` column.
    pub levels: Vec<usize>,
    /// The value column, if this side owns it (with `factors` > 1).
    pub value: Option<ColumnRef>,
    /// Factors per cell: 1 (presence only), 2 (1, v) or 3 (1, v, v²).
    pub factors: usize,
    /// First column of the block in the side's matrix.
    pub offset: usize,
}

impl Block {
    /// Number of cells of this side's part (product of levels; 1 without `by` columns).
    pub fn cells(&self) -> usize {
        self.levels.iter().product()
    }

    /// Number of matrix columns.
    pub fn width(&self) -> usize {
        self.cells() * self.factors
    }
}

/// One output's place in the product.
#[derive(Clone, Debug)]
pub struct OutputPlan {
    /// Block index on First's side.
    pub first_block: usize,
    /// Block index on Second's side.
    pub second_block: usize,
    /// Number of revealed quantities per cell (1 count, 2 count and Σv, 3 with Σv²).
    pub factors: usize,
    /// Whether First owns the value column (meaningless for count).
    pub value_on_first: bool,
    /// Per output cell (declared order): (First's cell index, Second's cell index).
    pub cells: Vec<(usize, usize)>,
}

/// The layout of the whole study.
#[derive(Clone, Debug)]
pub struct Plan {
    /// First's blocks.
    pub first: Vec<Block>,
    /// Second's blocks.
    pub second: Vec<Block>,
    /// Total width of First's matrix (`k`).
    pub k: usize,
    /// Total width of Second's matrix (`l`).
    pub l: usize,
    /// One entry per output, in study order.
    pub outputs: Vec<OutputPlan>,
}

fn levels_of(study: &Study, r: &ColumnRef) -> usize {
    match study.column(r) {
        Some(ColumnKind::Category { levels }) => levels.len(),
        _ => 1,
    }
}

fn add_block(blocks: &mut Vec<Block>, b: Block) -> usize {
    if let Some(i) = blocks
        .iter()
        .position(|x| x.by == b.by && x.value == b.value && x.factors == b.factors)
    {
        return i;
    }
    blocks.push(b);
    blocks.len() - 1
}

impl Plan {
    /// Derive the plan from a validated study.
    pub fn new(study: &Study) -> Plan {
        let first_table = study.tables()[0].name.clone();
        let mut first = Vec::new();
        let mut second = Vec::new();
        let mut outputs = Vec::new();
        for o in study.outputs() {
            let factors = o.statistic.factors();
            let value_on_first = o.of.as_ref().is_some_and(|r| r.table == first_table);
            let side_block = |on_first: bool| {
                let by: Vec<ColumnRef> =
                    o.by.iter()
                        .filter(|r| (r.table == first_table) == on_first)
                        .cloned()
                        .collect();
                let levels = by.iter().map(|r| levels_of(study, r)).collect();
                let owns_value = o.statistic != Statistic::Count && value_on_first == on_first;
                Block {
                    by,
                    levels,
                    value: if owns_value { o.of.clone() } else { None },
                    factors: if owns_value { factors } else { 1 },
                    offset: 0,
                }
            };
            let fb = side_block(true);
            let sb = side_block(false);
            let first_block = add_block(&mut first, fb);
            let second_block = add_block(&mut second, sb);
            // Cells in declared order (first `by` column outermost) → (first cell, second cell).
            let all_levels: Vec<usize> = o.by.iter().map(|r| levels_of(study, r)).collect();
            let n_cells: usize = all_levels.iter().product();
            let mut cells = Vec::with_capacity(n_cells);
            for c in 0..n_cells {
                // Decompose c into per-column level indices.
                let mut idx = vec![0usize; all_levels.len()];
                let mut rest = c;
                for (j, &n) in all_levels.iter().enumerate().rev() {
                    idx[j] = rest % n;
                    rest /= n;
                }
                let (mut a, mut b) = (0usize, 0usize);
                for (j, r) in o.by.iter().enumerate() {
                    if r.table == first_table {
                        a = a * all_levels[j] + idx[j];
                    } else {
                        b = b * all_levels[j] + idx[j];
                    }
                }
                cells.push((a, b));
            }
            outputs.push(OutputPlan {
                first_block,
                second_block,
                factors,
                value_on_first,
                cells,
            });
        }
        let mut k = 0;
        for b in &mut first {
            b.offset = k;
            k += b.width();
        }
        let mut l = 0;
        for b in &mut second {
            b.offset = l;
            l += b.width();
        }
        Plan {
            first,
            second,
            k,
            l,
            outputs,
        }
    }

    /// Index into the row-major `k × l` product of quantity `f` (0 count, 1 Σv, 2 Σv²) of
    /// cell `cell` of output `output`.
    pub fn entry(&self, output: usize, cell: usize, f: usize) -> usize {
        let o = &self.outputs[output];
        let (a, b) = o.cells[cell];
        let fa = &self.first[o.first_block];
        let sb = &self.second[o.second_block];
        let row = fa.offset + a * fa.factors + if o.value_on_first { f } else { 0 };
        let col = sb.offset + b * sb.factors + if o.value_on_first { 0 } else { f };
        row * self.l + col
    }

    /// Total number of cells over all outputs.
    pub fn total_cells(&self) -> usize {
        self.outputs.iter().map(|o| o.cells.len()).sum()
    }

    /// Build this side's `n × width` matrix (row-major): for own row `i` at union position
    /// `positions[i]`, the block entries; every other position stays zero (presence 0).
    pub fn local_matrix(
        &self,
        on_first: bool,
        table: &PartyTable,
        positions: &[usize],
        n: usize,
    ) -> Vec<u64> {
        let blocks = if on_first { &self.first } else { &self.second };
        let width = if on_first { self.k } else { self.l };
        let mut m = vec![0u64; n.saturating_mul(width)];
        if width == 0 {
            return m;
        }
        // Per block: the category columns and value column as slices.
        struct Prepared<'t> {
            cats: Vec<(&'t [u32], usize)>,
            value: Option<&'t [i64]>,
            factors: usize,
            offset: usize,
        }
        let prepared: Vec<Prepared<'_>> = blocks
            .iter()
            .map(|b| Prepared {
                cats: b
                    .by
                    .iter()
                    .zip(&b.levels)
                    .map(|(r, &n)| match table.columns.get(&r.column) {
                        Some(ColumnData::Category(v)) => (v.as_slice(), n),
                        _ => (&[][..], n),
                    })
                    .collect(),
                value: b
                    .value
                    .as_ref()
                    .and_then(|r| match table.columns.get(&r.column) {
                        Some(ColumnData::Integer(v)) => Some(v.as_slice()),
                        _ => None,
                    }),
                factors: b.factors,
                offset: b.offset,
            })
            .collect();
        for (i, &pos) in positions.iter().enumerate() {
            let Some(row) = m.get_mut(pos * width..(pos + 1) * width) else {
                continue;
            };
            for p in &prepared {
                let mut cell = 0usize;
                for (col, n) in &p.cats {
                    cell = cell * n + col.get(i).copied().unwrap_or(0) as usize;
                }
                let base = p.offset + cell * p.factors;
                let v = p.value.and_then(|v| v.get(i)).copied().unwrap_or(0);
                let v128 = i128::from(v);
                let factors = [1u64, v as u64, (v128 * v128) as u64];
                for (f, x) in factors.iter().take(p.factors).enumerate() {
                    if let Some(slot) = row.get_mut(base + f) {
                        *slot = *x;
                    }
                }
            }
        }
        m
    }
}
