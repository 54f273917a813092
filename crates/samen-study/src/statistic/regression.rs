//! Ordinary least squares regression with an intercept over the matched rows, with R's broom
//! output.
//!
//! `of = "t.y"` (the response, an integer column of either table), `x = [...]` (predictors
//! from either table: an integer column enters as it is, a category column as dummies with
//! its first declared level as the reference, as R's treatment contrasts), no `by`, no privacy
//! budget. The quantities are the Gram matrix `Σ z zᵀ` of `z = (1, x_1, …, x_p, y)` over the
//! matched rows — n, Σx, Σxxᵀ, Σxy, Σy² — and they are **never opened**: with `min_cell > 0`
//! the engine compares the number of matched rows and the count of every level of every
//! category predictor (the reference level's is `n` minus the others) with `min_cell` inside
//! MPC and opens only the AND of the comparisons; a model that passes is solved inside MPC
//! (`samen_core::mpc::solve`), which opens only `n`, the estimates, the diagonal of
//! `(XᵀX)⁻¹`, the residual sum of squares and `n·TSS` as exact rationals (see
//! `docs/protocols/regression.md`). The fit follows from those ([`crate::stats::fit_exact`]).
//!
//! Files: `<name>.csv` with `term,estimate,std_error,statistic,p_value`, one row per term —
//! `(intercept)`, then each predictor in `x` order: `table.column` for an integer,
//! `table.column=level` for each non-reference level; `<name>.glance.csv` with
//! `n,r_squared,adj_r_squared,sigma,df_residual,suppressed`. A suppressed model keeps its rows
//! with every statistic field empty (and `n` empty). A model that cannot be fitted (a singular
//! design: collinear predictors, a level without matched rows when `min_cell = 0`; a constant
//! response; too few rows) has empty estimates and a note saying why; never NaN or infinity.

use crate::output::{fmt_f64, OutputFile, OutputTable};
use crate::spec::{ColumnKind, ColumnRef, OutputSpec, Study};
use crate::stats::{fit_exact, ols_exact, OlsError, OlsExact, OlsFit};

use crate::disclosure::Suppression;

use super::{gram, Atom, CellValues, Definition, Quantity};

pub(super) struct Regression;

pub(super) static REGRESSION: Regression = Regression;

/// The expanded predictors: (term name, atom).
fn terms(output: &OutputSpec, study: &Study) -> Vec<(String, Atom)> {
    let mut t = Vec::new();
    for c in &output.x {
        match study.column(c) {
            Some(ColumnKind::Category { levels }) => {
                for (i, l) in levels.iter().enumerate().skip(1) {
                    t.push((format!("{c}={l}"), Atom::Level(c.clone(), i as u32)));
                }
            }
            _ => t.push((c.to_string(), Atom::Value(c.clone()))),
        }
    }
    t
}

impl Definition for Regression {
    fn name(&self) -> &'static str {
        "regression"
    }

    fn check<'a>(
        &self,
        output: &OutputSpec,
        column: &dyn Fn(&ColumnRef) -> Option<&'a ColumnKind>,
    ) -> Result<(), String> {
        if !output.by.is_empty() {
            return Err("statistic \"regression\" takes no 'by' columns".into());
        }
        let [y] = output.of.as_slice() else {
            return Err(
                "statistic \"regression\" needs 'of = \"table.column\"' naming the response, an \
                 integer column"
                    .into(),
            );
        };
        if let Some(ColumnKind::Category { .. }) = column(y) {
            return Err(format!(
                "the response '{y}' is a category; it must be an integer column"
            ));
        }
        if output.x.is_empty() {
            return Err("statistic \"regression\" needs 'x = [\"table.column\", …]' naming at least one predictor".into());
        }
        if output.privacy.is_some() {
            return Err(
                "a regression opens only the model, solved exactly inside MPC; it takes no \
                 'epsilon' or 'rho' (remove it, and protect the model with 'min_cell')"
                    .into(),
            );
        }
        if output.x.contains(y) {
            return Err(format!("the response '{y}' is also a predictor"));
        }
        let width: usize = output
            .x
            .iter()
            .map(|c| match column(c) {
                Some(ColumnKind::Category { levels }) => levels.len().saturating_sub(1),
                _ => 1,
            })
            .sum();
        if width > MAX_TERMS {
            return Err(format!(
                "the predictors expand to {width} terms, more than the limit of {MAX_TERMS}"
            ));
        }
        Ok(())
    }

    fn quantities(&self, output: &OutputSpec, study: &Study) -> Vec<Quantity> {
        let mut z: Vec<Atom> = terms(output, study).into_iter().map(|t| t.1).collect();
        z.extend(output.of.iter().cloned().map(Atom::Value));
        gram::quantities(&z)
    }

    /// A model releases its fit and `n` (the matched total), not its Gram matrix.
    fn released(&self, _output: &OutputSpec, _study: &Study) -> Vec<Quantity> {
        vec![Quantity::count()]
    }

    fn finish(&self, output: &OutputSpec, study: &Study, cells: &[CellValues]) -> OutputTable {
        finish_model(output, study, &outcome_in_the_clear(output, study, cells))
    }
}

/// What is known of a model after its secure phase (or, for the reference, from the Gram
/// matrix in the clear): the only inputs of its output files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelOutcome {
    /// Fewer than `min_cell` matched rows, in all or in some level of a category predictor.
    Suppressed,
    /// Shown: the number of matched rows and the exact fit, or why there is none.
    Shown {
        /// The number of matched rows.
        n: u64,
        /// The exact rationals of the fit, or the reason it cannot be fitted.
        exact: Result<OlsExact, String>,
    },
}

/// The Gram indices (1-based, after the constant) of the dummies of each category predictor
/// of a regression, one group per category predictor in `x` order. Each dummy's Gram entry
/// `(0, j)` is its level's count of matched rows; the reference level's count is `n` minus
/// the group's.
pub fn level_terms(output: &OutputSpec, study: &Study) -> Vec<Vec<usize>> {
    let mut groups = Vec::new();
    let mut at = 1;
    for c in &output.x {
        match study.column(c) {
            Some(ColumnKind::Category { levels }) => {
                let k = levels.len().saturating_sub(1);
                groups.push((at..at + k).collect());
                at += k;
            }
            _ => at += 1,
        }
    }
    groups
}

/// The outcome from a cell whose quantities (the Gram matrix) are known in the clear, with
/// the same rules as the secure phase: suppressed if the count or a level's count is below
/// `min_cell`; a singular design reported without naming a term, as the secure solve does.
fn outcome_in_the_clear(output: &OutputSpec, study: &Study, cells: &[CellValues]) -> ModelOutcome {
    let Some(c) = cells.first().filter(|c| !c.suppressed.is_suppressed()) else {
        return ModelOutcome::Suppressed;
    };
    let d = terms(output, study).len() + 2;
    let g = match gram::from_upper(d, &c.values) {
        Ok(g) => g,
        Err(e) => {
            return ModelOutcome::Shown {
                n: c.values.first().map_or(0, |v| *v as u64),
                exact: Err(e.to_string()),
            }
        }
    };
    let min = i128::from(output.min_cell);
    if output.min_cell > 0 {
        let small = g.n() < min
            || level_terms(output, study).iter().any(|group| {
                let levels: Vec<i128> = group.iter().map(|&j| g.get(0, j)).collect();
                let base = g.n() - levels.iter().sum::<i128>();
                base < min || levels.iter().any(|&c| c < min)
            });
        if small {
            return ModelOutcome::Suppressed;
        }
    }
    ModelOutcome::Shown {
        n: u64::try_from(g.n()).unwrap_or(0),
        exact: ols_exact(&g).map_err(|e| match e {
            OlsError::Singular { .. } => OlsError::SingularDesign.to_string(),
            e => e.to_string(),
        }),
    }
}

/// The output files of a regression from its outcome.
pub fn finish_model(output: &OutputSpec, study: &Study, outcome: &ModelOutcome) -> OutputTable {
    let mut names = vec!["(intercept)".to_string()];
    names.extend(terms(output, study).into_iter().map(|t| t.0));
    let mut notes = Vec::new();
    // A model is suppressed only by its own rule (a level below min_cell): `primary`.
    let (suppressed, n, fit): (Suppression, String, Option<OlsFit>) = match outcome {
        ModelOutcome::Suppressed => (Suppression::Primary, String::new(), None),
        ModelOutcome::Shown { n, exact } => {
            match exact
                .as_ref()
                .map_err(Clone::clone)
                .and_then(|e| fit_exact(e).map_err(|e| e.to_string()))
            {
                Ok(f) => (Suppression::Shown, n.to_string(), Some(f)),
                Err(e) => {
                    notes.push(format!("output '{}': no estimates: {e}", output.name));
                    (Suppression::Shown, n.to_string(), None)
                }
            }
        }
    };
    let rows = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let c = fit.as_ref().and_then(|f| f.coefficients.get(i));
            vec![
                name.clone(),
                fmt_f64(c.map(|c| c.estimate)),
                fmt_f64(c.map(|c| c.std_error)),
                fmt_f64(c.map(|c| c.statistic)),
                fmt_f64(c.map(|c| c.p_value)),
            ]
        })
        .collect();
    let glance = vec![vec![
        n,
        fmt_f64(fit.as_ref().map(|f| f.r_squared)),
        fmt_f64(fit.as_ref().map(|f| f.adj_r_squared)),
        fmt_f64(fit.as_ref().map(|f| f.sigma)),
        fit.as_ref()
            .map(|f| f.df_residual.to_string())
            .unwrap_or_default(),
        suppressed.to_string(),
    ]];
    OutputTable {
        name: output.name.clone(),
        statistic: output.statistic,
        files: vec![
            OutputFile::new(
                "",
                &["term", "estimate", "std_error", "statistic", "p_value"],
                rows,
            ),
            OutputFile::new(
                ".glance",
                &[
                    "n",
                    "r_squared",
                    "adj_r_squared",
                    "sigma",
                    "df_residual",
                    "suppressed",
                ],
                glance,
            ),
        ],
        notes,
    }
}

/// Largest number of terms (after dummy expansion) of a model.
pub const MAX_TERMS: usize = 200;
