//! Where each cell's quantities go after the cross product.

use crate::spec::Study;

use super::Plan;

/// Where each cell's quantities go after the product: noise, comparison, opening (if the cell
/// is shown).
#[derive(Clone, Debug)]
pub struct Slot {
    /// Output index.
    pub output: usize,
    /// Cell index within the output.
    pub cell: usize,
    /// The output's `min_cell` (0: not compared).
    pub min_cell: u64,
    /// Product entries of the cell's quantities (count first).
    pub entries: Vec<usize>,
    /// How many quantities the output's statistic declares (`entries.len()` in a consistent
    /// plan).
    pub quantities: usize,
    /// Whether the output adds noise (one noise value per quantity).
    pub noisy: bool,
}

/// The cells of the study in order, with the sizes of the operations that follow the product.
#[derive(Clone, Debug)]
pub struct Layout {
    /// Every cell of every output, in study order, except the models' (see
    /// [`super::Plan::models`]).
    pub slots: Vec<Slot>,
    /// Noise values (quantities of noisy outputs).
    pub n_noise: usize,
    /// Comparisons (cells with `min_cell > 0`).
    pub n_cmp: usize,
    /// Quantities of all cells (those of the shown cells are opened).
    pub n_values: usize,
}

impl Layout {
    /// Whether every cell has a product entry for each quantity its statistic declares.
    pub fn is_complete(&self) -> bool {
        self.slots.iter().all(|s| s.entries.len() == s.quantities)
    }

    /// The layout of `plan`.
    pub fn new(study: &Study, plan: &Plan) -> Layout {
        let mut slots = Vec::with_capacity(plan.total_cells());
        let (mut n_noise, mut n_cmp, mut n_values) = (0, 0, 0);
        for (oi, (o, op)) in study.outputs().iter().zip(&plan.outputs).enumerate() {
            if super::is_model(o.statistic) {
                // suppressed and opened by its own operations (Plan::models)
                continue;
            }
            for cell in 0..op.cells.len() {
                let entries: Vec<usize> = (0..op.quantities.len())
                    .filter_map(|q| plan.entry(oi, cell, q))
                    .collect();
                let noisy = o.privacy.is_some();
                if noisy {
                    n_noise += entries.len();
                }
                if o.min_cell > 0 {
                    n_cmp += 1;
                }
                n_values += entries.len();
                slots.push(Slot {
                    output: oi,
                    cell,
                    min_cell: o.min_cell,
                    entries,
                    quantities: op.quantities.len(),
                    noisy,
                });
            }
        }
        Layout {
            slots,
            n_noise,
            n_cmp,
            n_values,
        }
    }
}
