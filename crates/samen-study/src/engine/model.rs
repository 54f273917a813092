//! The model phase of the joint computation: for each regression, the level check (one opened
//! bit) and the secure solve that opens only the model (`samen_core::mpc::solve`). Every party
//! walks the same [`Op::ModelCheck`] and [`Op::Solve`] operations; the helper deals for each,
//! whatever the data parties find.
//!
//! [`Op::ModelCheck`]: crate::plan::Op::ModelCheck
//! [`Op::Solve`]: crate::plan::Op::Solve

use std::collections::BTreeMap;

use samen_core::mpc::solve::Solution;
use samen_core::mpc::{Computer, Dealer};
use samen_core::Role;

use super::EngineError;
use crate::output::OutputTable;
use crate::plan::ModelPlan;
use crate::spec::Study;
use crate::statistic::{finish_model, ModelOutcome};
use crate::stats::{OlsError, OlsExact};

/// The data party's state of the model phase.
#[derive(Debug, Default)]
pub(super) struct Models {
    plans: Vec<ModelPlan>,
    suppressed: BTreeMap<usize, bool>,
    outcomes: BTreeMap<usize, ModelOutcome>,
}

impl Models {
    pub(super) fn new(plans: Vec<ModelPlan>) -> Models {
        Models {
            plans,
            ..Models::default()
        }
    }

    fn plan(&self, output: usize) -> Result<&ModelPlan, EngineError> {
        self.plans
            .iter()
            .find(|m| m.output == output)
            .ok_or(EngineError::Layout)
    }

    /// [`crate::plan::Op::ModelCheck`]: compare `n` and every level's count with `min_cell`,
    /// AND the bits, open the one bit.
    pub(super) fn check(
        &mut self,
        mpc: &mut Computer<'_>,
        output: usize,
        shares: &[u64],
    ) -> Result<(), EngineError> {
        let plan = self.plan(output)?;
        let upper = gram_shares(plan, shares)?;
        let t = if mpc.role() == Role::First {
            plan.min_cell
        } else {
            0
        };
        let at = |i: usize| upper.get(i).copied().ok_or(EngineError::Layout);
        let mut diffs = Vec::with_capacity(plan.counts.len());
        for c in &plan.counts {
            let mut v = at(c.plus)?;
            for &j in &c.minus {
                v = v.wrapping_sub(at(j)?);
            }
            diffs.push(v.wrapping_sub(t));
        }
        let bits = mpc.ge_public(&diffs, 0)?;
        let all = mpc.and_all(&bits)?;
        let shown = match mpc.open(&[all])?.as_slice() {
            [0] => false,
            [1] => true,
            _ => return Err(EngineError::BadBit),
        };
        self.suppressed.insert(output, !shown);
        Ok(())
    }

    /// [`crate::plan::Op::Solve`]: open `n` and solve, or stay in step with the helper when
    /// the model is suppressed or has too few rows.
    pub(super) fn solve(
        &mut self,
        mpc: &mut Computer<'_>,
        output: usize,
        shares: &[u64],
    ) -> Result<(), EngineError> {
        let plan = self.plan(output)?;
        let d = plan.d;
        if self.suppressed.get(&output).copied().unwrap_or(false) {
            mpc.skip_solve_gram(d)?;
            self.outcomes.insert(output, ModelOutcome::Suppressed);
            return Ok(());
        }
        let upper = gram_shares(plan, shares)?;
        let n = match mpc
            .open(upper.get(..1).ok_or(EngineError::Layout)?)?
            .as_slice()
        {
            [n] => *n,
            _ => return Err(EngineError::Layout),
        };
        let q = d - 1;
        let exact = if n <= q as u64 {
            mpc.skip_solve_gram(d)?;
            Err(OlsError::TooFewRows {
                n: i128::from(n),
                p: q - 1,
            }
            .to_string())
        } else {
            match mpc.solve_gram(&upper, d, n)? {
                Solution::Singular => Err(OlsError::SingularDesign.to_string()),
                Solution::Solved(s) => Ok(OlsExact {
                    n,
                    beta: s.beta,
                    inv_diag: s.inv_diag,
                    rss: s.rss,
                    n_tss: s.n_tss,
                }),
            }
        };
        self.outcomes
            .insert(output, ModelOutcome::Shown { n, exact });
        Ok(())
    }

    /// Replace each model's table (finished from no cells by the ordinary path) with the one
    /// from its outcome.
    pub(super) fn apply(
        &self,
        study: &Study,
        tables: &mut [OutputTable],
    ) -> Result<(), EngineError> {
        for (&output, outcome) in &self.outcomes {
            let spec = study.outputs().get(output).ok_or(EngineError::Layout)?;
            let table = tables.get_mut(output).ok_or(EngineError::Layout)?;
            *table = finish_model(spec, study, outcome);
        }
        Ok(())
    }
}

/// This party's shares of a model's Gram upper triangle.
fn gram_shares(plan: &ModelPlan, shares: &[u64]) -> Result<Vec<u64>, EngineError> {
    plan.entries
        .iter()
        .map(|&e| shares.get(e).copied().ok_or(EngineError::Layout))
        .collect()
}

/// The helper's half of [`crate::plan::Op::ModelCheck`] with `counts` comparisons.
pub(super) fn deal_check(dealer: &mut Dealer<'_>, counts: usize) -> Result<(), EngineError> {
    dealer.ge_public(counts)?;
    dealer.and_all(counts)?;
    Ok(())
}

/// The helper's half of [`crate::plan::Op::Solve`] for a `d × d` Gram matrix.
pub(super) fn deal_solve(dealer: &mut Dealer<'_>, d: usize) -> Result<(), EngineError> {
    dealer.solve_gram(d)?;
    Ok(())
}
