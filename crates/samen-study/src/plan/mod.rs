//! The layout of the joint computation, derived from the study alone (public), and the list
//! of protocol operations every party walks.
//!
//! Every output is a block of one cross-party matrix product `M_Aᵀ · M_B`. Each statistic
//! declares its per-cell [`Quantity`]s (sums of products of atoms); each quantity is split into
//! the atoms First owns and those Second owns, which become **factors**: per-row columns of
//! each side's matrix, multiplied by the side's presence flag and laid out per cell of the
//! one-hot encoding of the side's own `by` columns (first `by` column outermost). Factor 0 of
//! every block is the presence flag alone. A quantity is then the product entry (First's factor
//! of cell a, Second's factor of cell b). Outputs whose `by` columns on a side are the same
//! share that side's block, whose factors are the union of theirs (each column is sent once,
//! however many outputs read it). All blocks go into one cross product of shape `k × l`;
//! communication is `N·(k + l)` words, streamed in blocks of rows so that a party's memory is
//! its table plus `O(block · (k + l))`.
//!
//! The helper derives the same plan and the same [`Op`] list from the study file and the sizes,
//! so it deals exactly the operations the data parties compute.

use samen_core::dp::Mechanism;
use samen_core::Role;
use samen_join::JoinMethod;

use crate::input::PartyTable;
use crate::spec::{Bands, ColumnRef, SpecError, Study};
use crate::statistic::{self, Atom, Quantity};

mod layout;
mod model;
mod rows;

pub use layout::{Layout, Slot};
pub use model::{is_model, CountOf, ModelPlan};
pub use rows::{MatrixRows, TableMismatch};

/// Largest width of one side's matrix (columns); keeps a row of a block within a frame.
pub const MAX_WIDTH: usize = 1 << 18;

/// Largest number of entries `k · l` of the cross-party product (2^24 ring elements: 128 MiB,
/// held by each of the three parties).
pub const MAX_PRODUCT: usize = 1 << 24;

/// Target number of ring elements of one side's matrix per streamed block of rows.
const BLOCK_WORDS: usize = 1 << 21;

/// A per-row factor: the product of these atoms (all of one side), times the presence flag.
pub type Factor = Vec<Atom>;

/// A block of one side's matrix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    /// This side's `by` columns (in output order).
    pub by: Vec<ColumnRef>,
    /// Number of levels of each `by` column.
    pub levels: Vec<usize>,
    /// The bands of each `by` column grouped in bands (`None`: a category column).
    pub bands: Vec<Option<Bands>>,
    /// Factors per cell; factor 0 is the presence flag alone.
    pub factors: Vec<Factor>,
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
        self.cells() * self.factors.len()
    }
}

/// One output's place in the product.
#[derive(Clone, Debug)]
pub struct OutputPlan {
    /// Block index on First's side.
    pub first_block: usize,
    /// Block index on Second's side.
    pub second_block: usize,
    /// The statistic's quantities per cell (the count first).
    pub quantities: Vec<Quantity>,
    /// Per quantity: (factor index in First's block, factor index in Second's block).
    pub factor_pairs: Vec<(usize, usize)>,
    /// Per output cell (declared order): (First's cell index, Second's cell index).
    pub cells: Vec<(usize, usize)>,
    /// With a privacy budget: the noise mechanism of each quantity (same order).
    pub noise: Vec<Mechanism>,
}

/// One protocol operation after the join, with its shape. Data parties compute it, the helper
/// deals for it; both walk the same list ([`Plan::ops`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// A cross-party product of the union rows `start..start + rows` (`k × l` result).
    CrossProduct {
        /// First union position of the block.
        start: usize,
        /// Rows in the block.
        rows: usize,
    },
    /// Shares of differential-privacy noise, one value per noisy quantity (see
    /// [`Plan::noise`]).
    Noise {
        /// Number of noise values.
        n: usize,
    },
    /// Comparison of `n` shared counts with their `min_cell`.
    Compare {
        /// Number of comparisons.
        n: usize,
    },
    /// Opening of the `n` comparison bits to both data parties (nothing from the helper): the
    /// primary suppression pattern, from which both derive the full pattern
    /// ([`crate::disclosure`]).
    OpenPattern {
        /// Number of bits.
        n: usize,
    },
    /// Opening of the quantities of every shown cell to both data parties (nothing from the
    /// helper). Which cells are shown follows from the pattern, so the number of values opened
    /// is at most `quantities`, the quantities of all cells; a suppressed cell's quantities
    /// are never opened.
    Open {
        /// The quantities of all cells (an upper bound of the values opened).
        quantities: usize,
    },
    /// The suppression check of a model with `min_cell > 0`: `counts` secure comparisons with
    /// `min_cell` (its [`ModelPlan::counts`]), the AND of the bits, and the opening of that one
    /// bit.
    ModelCheck {
        /// Output index.
        output: usize,
        /// Number of counts compared.
        counts: usize,
    },
    /// The secure solve of a model's `d × d` Gram matrix (`samen_core::mpc::solve`), opening
    /// `n` and the model only; skipped online (but dealt) when the model is suppressed.
    Solve {
        /// Output index.
        output: usize,
        /// Dimension of the Gram matrix.
        d: usize,
    },
}

/// The layout of the whole study.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The join method.
    pub join: JoinMethod,
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

fn add_factor(factors: &mut Vec<Factor>, f: Factor) -> usize {
    if let Some(i) = factors.iter().position(|x| *x == f) {
        return i;
    }
    factors.push(f);
    factors.len() - 1
}

/// The block of one side for the `by` columns `by`: the existing one with these `by` columns
/// (outputs grouped alike share its columns), else a new one holding the presence factor.
fn block_for(
    blocks: &mut Vec<Block>,
    by: Vec<ColumnRef>,
    levels: Vec<usize>,
    bands: Vec<Option<Bands>>,
) -> (usize, &mut Block) {
    let i = blocks
        .iter()
        .position(|x| x.by == by && x.bands == bands)
        .unwrap_or(blocks.len());
    if i == blocks.len() {
        blocks.push(Block {
            by,
            levels,
            bands,
            factors: vec![Vec::new()],
            offset: 0,
        });
    }
    #[expect(clippy::indexing_slicing, reason = "i is the block found or the one just pushed")]
    let block = &mut blocks[i];
    (i, block)
}

impl Plan {
    /// Derive the plan from a study; refuses a side wider than [`MAX_WIDTH`].
    pub fn new(study: &Study) -> Result<Plan, SpecError> {
        let role_of = |r: &ColumnRef| study.table_role(&r.table);
        let on_first = |r: &ColumnRef| role_of(r) == Some(Role::First);
        let mut first = Vec::new();
        let mut second = Vec::new();
        let mut outputs = Vec::new();
        for o in study.outputs() {
            let quantities = statistic::quantities(o, study);
            let side_by = |side: Role| {
                let by: Vec<ColumnRef> =
                    o.by.iter()
                        .filter(|r| role_of(r) == Some(side))
                        .cloned()
                        .collect();
                let levels = by
                    .iter()
                    .map(|r| statistic::by_levels(o, study, r).len())
                    .collect();
                let bands = by.iter().map(|r| o.bands.get(r).cloned()).collect();
                (by, levels, bands)
            };
            let (by, levels, bands) = side_by(Role::First);
            let (first_block, fb) = block_for(&mut first, by, levels, bands);
            let (by, levels, bands) = side_by(Role::Second);
            let (second_block, sb) = block_for(&mut second, by, levels, bands);
            let mut factor_pairs = Vec::with_capacity(quantities.len());
            for q in &quantities {
                let (mut a, mut b): (Factor, Factor) =
                    q.0.iter()
                        .cloned()
                        .partition(|atom| on_first(atom.column()));
                a.sort();
                b.sort();
                factor_pairs.push((
                    add_factor(&mut fb.factors, a),
                    add_factor(&mut sb.factors, b),
                ));
            }
            // Cells in declared order (first `by` column outermost) → (first cell, second cell).
            let all_levels: Vec<usize> =
                o.by.iter()
                    .map(|r| statistic::by_levels(o, study, r).len())
                    .collect();
            let n_cells: usize = all_levels.iter().product();
            let mut cells = Vec::with_capacity(n_cells);
            for c in 0..n_cells {
                let (mut a, mut b) = (0usize, 0usize);
                let mut stride = n_cells;
                for (r, &n) in o.by.iter().zip(&all_levels) {
                    stride /= n;
                    let idx = (c / stride) % n;
                    if on_first(r) {
                        a = a * n + idx;
                    } else {
                        b = b * n + idx;
                    }
                }
                cells.push((a, b));
            }
            let noise = match o.privacy {
                None => Vec::new(),
                Some(privacy) => crate::privacy::mechanisms(o, study, privacy, &quantities)?,
            };
            outputs.push(OutputPlan {
                first_block,
                second_block,
                quantities,
                factor_pairs,
                cells,
                noise,
            });
        }
        let mut widths = [0usize; 2];
        for (blocks, width) in [&mut first, &mut second].into_iter().zip(&mut widths) {
            for b in blocks.iter_mut() {
                b.offset = *width;
                *width = width.saturating_add(b.width());
            }
        }
        let [k, l] = widths;
        for (party, width) in study.data_parties().iter().zip([k, l]) {
            if width > MAX_WIDTH {
                return Err(SpecError::TooWide {
                    party: party.name.clone(),
                    width,
                    max: MAX_WIDTH,
                });
            }
        }
        if k.saturating_mul(l) > MAX_PRODUCT {
            return Err(SpecError::ProductTooLarge {
                k,
                l,
                max: MAX_PRODUCT,
            });
        }
        Ok(Plan {
            join: study.join(),
            first,
            second,
            k,
            l,
            outputs,
        })
    }

    /// Index into the row-major `k × l` product of quantity `q` of cell `cell` of output
    /// `output` (`None` if out of range).
    pub fn entry(&self, output: usize, cell: usize, q: usize) -> Option<usize> {
        let o = self.outputs.get(output)?;
        let &(a, b) = o.cells.get(cell)?;
        let &(fa, fb) = o.factor_pairs.get(q)?;
        let ba = self.first.get(o.first_block)?;
        let bb = self.second.get(o.second_block)?;
        let row = ba.offset + a * ba.factors.len() + fa;
        let col = bb.offset + b * bb.factors.len() + fb;
        Some(row * self.l + col)
    }

    /// Total number of cells over all outputs.
    pub fn total_cells(&self) -> usize {
        self.outputs.iter().map(|o| o.cells.len()).sum()
    }

    /// The noise mechanism of every noise value of [`Op::Noise`], in slot order: for each
    /// cell of each output with a privacy budget, one per quantity.
    pub fn noise(&self) -> Vec<Mechanism> {
        self.outputs
            .iter()
            .flat_map(|o| o.cells.iter().flat_map(|_| o.noise.iter().copied()))
            .collect()
    }

    /// Rows per streamed block of the cross product.
    pub fn block_rows(&self) -> usize {
        (BLOCK_WORDS / self.k.max(self.l).max(1)).clamp(1024, 1 << 20)
    }

    /// The protocol operations after the join, for a union of `n` rows, in order. Every party
    /// derives the same list.
    pub fn ops(&self, study: &Study, n: usize) -> Vec<Op> {
        let mut ops = Vec::new();
        if self.k > 0 && self.l > 0 {
            let step = self.block_rows();
            let mut start = 0;
            while start < n {
                let rows = step.min(n - start);
                ops.push(Op::CrossProduct { start, rows });
                start += rows;
            }
        }
        let layout = Layout::new(study, self);
        if layout.n_noise > 0 {
            ops.push(Op::Noise { n: layout.n_noise });
        }
        if layout.n_cmp > 0 {
            ops.push(Op::Compare { n: layout.n_cmp });
            ops.push(Op::OpenPattern { n: layout.n_cmp });
        }
        ops.push(Op::Open {
            quantities: layout.n_values,
        });
        for m in self.models(study) {
            if m.min_cell > 0 {
                ops.push(Op::ModelCheck {
                    output: m.output,
                    counts: m.counts.len(),
                });
            }
            ops.push(Op::Solve {
                output: m.output,
                d: m.d,
            });
        }
        ops
    }

    /// The width of the matrix of the data party with `role`: `k` for First, `l` for Second,
    /// 0 for the helper (which holds no table).
    pub fn width(&self, role: Role) -> usize {
        match role {
            Role::First => self.k,
            Role::Second => self.l,
            Role::Helper => 0,
        }
    }

    /// The matrix builder of the data party with `role` over its validated `table`: every
    /// column the plan needs is looked up (and its length checked) once, before any row is
    /// built. The helper's matrix has no columns.
    pub fn rows<'t>(
        &self,
        role: Role,
        table: &'t PartyTable,
    ) -> Result<MatrixRows<'t>, TableMismatch> {
        let (blocks, width) = match role {
            Role::First => (self.first.as_slice(), self.k),
            Role::Second => (self.second.as_slice(), self.l),
            Role::Helper => (&[][..], 0),
        };
        MatrixRows::new(blocks, width, table)
    }
}
