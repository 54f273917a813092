//! Models that open only the model: where each regression's Gram matrix lies in the product,
//! and the counts its level check compares with `min_cell`.

use crate::spec::{Statistic, Study};
use crate::statistic;

use super::Plan;

/// Whether an output is a model solved inside MPC (its cells do not go through the ordinary
/// suppression and opening of [`super::Layout`]).
pub fn is_model(statistic: Statistic) -> bool {
    statistic == Statistic::Regression
}

/// A count the level check compares with `min_cell`: the Gram entry at `plus` (an index into
/// the model's upper triangle) minus the entries at `minus`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CountOf {
    /// Upper-triangle index of the entry added.
    pub plus: usize,
    /// Upper-triangle indices of the entries subtracted.
    pub minus: Vec<usize>,
}

/// One regression's place in the joint computation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelPlan {
    /// Output index.
    pub output: usize,
    /// Dimension of the Gram matrix: the constant, the terms and the response.
    pub d: usize,
    /// Product entry of each upper-triangle element of the Gram matrix (row by row).
    pub entries: Vec<usize>,
    /// The output's `min_cell` (0: no check).
    pub min_cell: u64,
    /// The counts compared with `min_cell`: `n`, then per category predictor each non-reference
    /// level's count and the reference level's (`n` minus the others).
    pub counts: Vec<CountOf>,
}

impl Plan {
    /// The models of the study, in study order.
    pub fn models(&self, study: &Study) -> Vec<ModelPlan> {
        let mut out = Vec::new();
        for (oi, (o, op)) in study.outputs().iter().zip(&self.outputs).enumerate() {
            if !is_model(o.statistic) {
                continue;
            }
            let entries: Vec<usize> = (0..op.quantities.len())
                .filter_map(|q| self.entry(oi, 0, q))
                .collect();
            // d(d+1)/2 = number of quantities
            let mut d = 0;
            while d * (d + 1) / 2 < op.quantities.len() {
                d += 1;
            }
            // The first row of the upper triangle is (0, 0), (0, 1), …: entry j is G_0j.
            let mut counts = vec![CountOf {
                plus: 0,
                minus: Vec::new(),
            }];
            for group in statistic::level_terms(o, study) {
                counts.extend(group.iter().map(|&j| CountOf {
                    plus: j,
                    minus: Vec::new(),
                }));
                counts.push(CountOf {
                    plus: 0,
                    minus: group,
                });
            }
            out.push(ModelPlan {
                output: oi,
                d,
                entries,
                min_cell: o.min_cell,
                counts,
            });
        }
        out
    }
}
