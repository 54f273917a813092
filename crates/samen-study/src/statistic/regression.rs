//! Ordinary least squares regression with an intercept over the matched rows, with R's broom
//! output.
//!
//! `of = "t.y"` (the response, an integer column of either table), `x = [...]` (predictors
//! from either table: an integer column enters as it is, a category column as dummies with
//! its first declared level as the reference, as R's treatment contrasts), no `by`. The
//! quantities are the Gram matrix `Σ z zᵀ` of `z = (1, x_1, …, x_p, y)` over the matched rows
//! — n, Σx, Σxxᵀ, Σxy, Σy² — suppressed by n inside MPC, then opened; the fit is computed
//! exactly from the integers ([`crate::stats::fit_ols`]).
//!
//! Files: `<name>.csv` with `term,estimate,std_error,statistic,p_value`, one row per term —
//! `(intercept)`, then each predictor in `x` order: `table.column` for an integer,
//! `table.column=level` for each non-reference level; `<name>.glance.csv` with
//! `n,r_squared,adj_r_squared,sigma,df_residual,suppressed`. A suppressed model keeps its rows
//! with every statistic field empty (and `n` empty). A model that cannot be fitted (a singular
//! design: a level with no matched rows, collinear predictors; a constant response; too few
//! rows) has empty estimates and a note saying why; never NaN or infinity.

use crate::output::{fmt_f64, OutputFile, OutputTable};
use crate::spec::{ColumnKind, ColumnRef, OutputSpec, Study};
use crate::stats::{fit_ols, OlsFit};

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
        let mut names = vec!["(intercept)".to_string()];
        names.extend(terms(output, study).into_iter().map(|t| t.0));
        let cell = cells.first();
        let mark = cell.map_or(Suppression::Primary, |c| c.suppressed);
        let suppressed = mark.is_suppressed();
        let mut notes = Vec::new();
        let mut n = String::new();
        let mut fit: Option<OlsFit> = None;
        if let Some(c) = cell.filter(|_| !suppressed) {
            n = c
                .values
                .first()
                .map(ToString::to_string)
                .unwrap_or_default();
            let result = gram::from_upper(names.len() + 1, &c.values)
                .map_err(|e| e.to_string())
                .and_then(|g| fit_ols(&g).map_err(|e| e.to_string()));
            match result {
                Ok(f) => fit = Some(f),
                Err(e) => notes.push(format!("output '{}': no estimates: {e}", output.name)),
            }
        }
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
            mark.to_string(),
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
}

/// Largest number of terms (after dummy expansion) of a model.
pub const MAX_TERMS: usize = 200;
