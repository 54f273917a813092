//! Ordinary least squares from an exact Gram matrix, reported like R's `summary(lm(...))`
//! (broom's `tidy` and `glance`). See the [module overview](super) for the formulas.

use super::{ratio_to_f64, t_two_sided_p, Gram};
use num_bigint::BigInt;
use num_integer::Integer;
use num_rational::BigRational;
use num_traits::{Signed, Zero};

/// One row of the coefficient table (broom's `tidy`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Coefficient {
    /// The least-squares estimate `β_j`.
    pub estimate: f64,
    /// Its standard error `√(σ² (XᵀX)⁻¹_jj)`; always positive.
    pub std_error: f64,
    /// The t statistic `estimate / std_error`.
    pub statistic: f64,
    /// The two-sided p-value `P(|T_df| ≥ |statistic|)` with `df = n − p − 1`.
    pub p_value: f64,
}

/// A least-squares fit (broom's `tidy` plus the model-level `glance` values).
///
/// Every field is finite: conditions under which R would print NaN or ±Inf are [`OlsError`]s.
#[derive(Debug, Clone, PartialEq)]
pub struct OlsFit {
    /// The intercept first, then one coefficient per predictor, in Gram-matrix order.
    pub coefficients: Vec<Coefficient>,
    /// The number of rows the model was fitted on.
    pub n: u64,
    /// `1 − RSS/TSS`.
    pub r_squared: f64,
    /// `1 − (1 − R²)(n − 1)/(n − p − 1)`.
    pub adj_r_squared: f64,
    /// The residual standard error `√(RSS/(n − p − 1))`.
    pub sigma: f64,
    /// The residual degrees of freedom `n − p − 1`.
    pub df_residual: u64,
}

/// Why no regression can be reported for these sums.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OlsError {
    /// The Gram matrix has no response column (it needs `d ≥ 2`: the constant and `y`).
    #[error("the regression needs a response column: the Gram matrix has only the constant")]
    MissingResponse,
    /// `n ≤ p + 1`: no residual degrees of freedom are left.
    #[error(
        "only {n} matched rows for {} coefficients: at least {} are needed to estimate the \
         residual variance; use fewer predictors or a larger population",
        p + 1,
        p + 2
    )]
    TooFewRows {
        /// The number of matched rows.
        n: i128,
        /// The number of predictors besides the intercept.
        p: usize,
    },
    /// A predictor is a linear combination of the intercept and the predictors before it
    /// over the matched rows, so its coefficient is not identified (R reports it as NA).
    #[error(
        "predictor {term} is a linear combination of the intercept and the predictors before \
         it over the matched rows (for example a category level with no matched rows, a \
         constant column, or a column computed from others); drop it from the model"
    )]
    Singular {
        /// Its index in the Gram matrix (1-based among `z`: index 0 is the intercept).
        term: usize,
    },
    /// The terms are linearly dependent over the matched rows (found by the secure solve,
    /// which does not say which term).
    #[error(
        "a predictor is a linear combination of the intercept and the other predictors over \
         the matched rows (for example a category level with no matched rows, a constant \
         column, or a column computed from others); drop it from the model"
    )]
    SingularDesign,
    /// The response takes one value on all matched rows: R² is undefined.
    #[error("the response is constant over the matched rows, so R² and the tests are undefined")]
    ConstantResponse,
    /// The predictors explain the response exactly (zero residuals): the standard errors are
    /// zero and the t statistics infinite.
    #[error(
        "the predictors determine the response exactly (all residuals are zero), so standard \
         errors and tests are undefined"
    )]
    PerfectFit,
    /// The sums are not those of any data set (the matrix is not positive semi-definite), so
    /// they were assembled or opened incorrectly.
    #[error("the opened sums are inconsistent: they are not the sums of squares and products of any data")]
    NotPositiveSemidefinite,
    /// A reported value is outside the range of `f64`.
    #[error("the {quantity} of the regression is outside the range of floating-point output")]
    NotRepresentable {
        /// Which value.
        quantity: &'static str,
    },
}

/// Fits `y` on an intercept and `x_1..x_p` from the Gram matrix over `(1, x_1, …, x_p, y)`:
/// `y` is the **last** index.
///
/// All quantities are exact rationals until one rounding to `f64` each (see the
/// [module overview](super)); the result is finite in every field.
///
/// ```
/// use samen_study::stats::{fit_ols, Gram};
/// // Rows (x, y): (0, 1), (1, 3), (2, 4), (3, 8).
/// let rows = [[1i128, 0, 1], [1, 1, 3], [1, 2, 4], [1, 3, 8]];
/// let mut g = vec![0i128; 9];
/// for r in &rows {
///     for i in 0..3 {
///         for j in 0..3 {
///             g[i * 3 + j] += r[i] * r[j];
///         }
///     }
/// }
/// let fit = fit_ols(&Gram::new(3, g).unwrap()).unwrap();
/// assert_eq!(fit.coefficients[1].estimate, 2.2);      // slope = 11/5
/// assert_eq!(fit.coefficients[0].estimate, 0.7);      // intercept = 7/10
/// assert_eq!(fit.df_residual, 2);
/// ```
pub fn fit_ols(gram: &Gram) -> Result<OlsFit, OlsError> {
    fit_exact(&ols_exact(gram)?)
}

/// The exact rationals a least-squares fit is reported from: what the secure solve of a model
/// opens (`samen_core::mpc::solve`), or what [`ols_exact`] computes from an opened Gram matrix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OlsExact {
    /// The number of rows.
    pub n: u64,
    /// The estimates `β = (XᵀX)⁻¹Xᵀy`, the intercept first.
    pub beta: Vec<BigRational>,
    /// The diagonal of `(XᵀX)⁻¹` (each `Var(β_j) = σ² (XᵀX)⁻¹_jj`).
    pub inv_diag: Vec<BigRational>,
    /// The residual sum of squares `yᵀy − βᵀXᵀy`.
    pub rss: BigRational,
    /// `n · TSS = n Σy² − (Σy)²`.
    pub n_tss: BigRational,
}

/// The exact rationals of the fit of `y` (the **last** index) on an intercept and the other
/// columns of the Gram matrix, by one fraction-free elimination; the checks of [`fit_ols`] that
/// need the matrix itself (a response, enough rows, a nonsingular `XᵀX`, a non-negative
/// `det G`).
#[expect(
    clippy::indexing_slicing,
    reason = "indices below the dimensions of the d × 2d matrix that `eliminate` returns"
)]
pub fn ols_exact(gram: &Gram) -> Result<OlsExact, OlsError> {
    let d = gram.dim();
    if d < 2 {
        return Err(OlsError::MissingResponse);
    }
    let q = d - 1; // coefficients: intercept + p predictors
    let n = gram.n();
    if n <= q as i128 {
        return Err(OlsError::TooFewRows { n, p: q - 1 });
    }
    let m = eliminate(gram, q)?;
    let y = q;
    let det_a = m[0][0].clone();
    let det_g = m[y][y].clone();
    if det_g.is_negative() {
        return Err(OlsError::NotPositiveSemidefinite);
    }
    let s_y = BigInt::from(gram.get(0, y));
    let n_tss = BigInt::from(n) * BigInt::from(gram.get(y, y)) - &s_y * &s_y;
    let ratio = |num: BigInt| BigRational::new(num, det_a.clone());
    Ok(OlsExact {
        n: u64::try_from(n).map_err(|_| OlsError::NotRepresentable {
            quantity: "row count",
        })?,
        beta: m.iter().take(q).map(|row| ratio(row[y].clone())).collect(),
        inv_diag: m
            .iter()
            .take(q)
            .enumerate()
            .map(|(j, row)| ratio(row[d + j].clone()))
            .collect(),
        rss: ratio(det_g),
        n_tss: BigRational::from_integer(n_tss),
    })
}

/// The reported fit from its exact rationals: each value is one exact rational rounded once to
/// `f64` (then a square root for σ and the standard errors), so that the same rationals give
/// the same fit however they were obtained.
pub fn fit_exact(e: &OlsExact) -> Result<OlsFit, OlsError> {
    let q = e.beta.len();
    if q == 0 || e.inv_diag.len() != q {
        return Err(OlsError::MissingResponse);
    }
    let n = i128::from(e.n);
    if n <= q as i128 {
        return Err(OlsError::TooFewRows { n, p: q - 1 });
    }
    if e.n_tss.is_negative() {
        return Err(OlsError::NotPositiveSemidefinite);
    }
    if e.n_tss.is_zero() {
        return Err(OlsError::ConstantResponse);
    }
    if e.rss.is_negative() {
        return Err(OlsError::NotPositiveSemidefinite);
    }
    if e.rss.is_zero() {
        return Err(OlsError::PerfectFit);
    }
    let df = n - q as i128;
    let big = |v: i128| BigRational::from_integer(BigInt::from(v));
    let to_f64 = |r: BigRational| ratio_to_f64(r.numer().clone(), r.denom().clone());
    // RSS / TSS = n RSS / (n TSS)
    let unexplained = &e.rss * big(n) / &e.n_tss;
    let r2 = to_f64(big(1) - &unexplained);
    let adj_r2 = to_f64(big(1) - &unexplained * big(n - 1) / big(df));
    let sigma2 = &e.rss / big(df);
    let mut coefficients = Vec::with_capacity(q);
    for (beta, inv) in e.beta.iter().zip(&e.inv_diag) {
        let beta = to_f64(beta.clone()).ok_or(OlsError::NotRepresentable {
            quantity: "estimate",
        })?;
        if !inv.is_positive() {
            return Err(OlsError::NotPositiveSemidefinite);
        }
        let var = to_f64(&sigma2 * inv)
            .filter(|v| *v > 0.0)
            .ok_or(OlsError::NotRepresentable {
                quantity: "standard error",
            })?;
        let std_error = var.sqrt();
        let statistic = beta / std_error;
        if !statistic.is_finite() {
            return Err(OlsError::NotRepresentable {
                quantity: "t statistic",
            });
        }
        coefficients.push(Coefficient {
            estimate: beta,
            std_error,
            statistic,
            p_value: t_two_sided_p(statistic, df as f64),
        });
    }
    Ok(OlsFit {
        coefficients,
        n: e.n,
        r_squared: r2.ok_or(OlsError::NotRepresentable { quantity: "R²" })?,
        adj_r_squared: adj_r2.ok_or(OlsError::NotRepresentable {
            quantity: "adjusted R²",
        })?,
        sigma: to_f64(sigma2)
            .ok_or(OlsError::NotRepresentable {
                quantity: "residual standard error",
            })?
            .sqrt(),
        df_residual: u64::try_from(df).map_err(|_| OlsError::NotRepresentable {
            quantity: "residual degrees of freedom",
        })?,
    })
}

/// Fraction-free Gauss–Jordan elimination (Bareiss) of `[G | I]` on the first `q` pivots.
///
/// Afterwards, for pivot rows `j < q`: the pivot block is `det A · I`, column `q` (the
/// response) holds `det A · β_j` and column `d + j` holds `adj(A)_jj = det A · (A⁻¹)_jj`;
/// the response row has `det G` at `(q, q)`. Every intermediate entry is a minor of the
/// augmented matrix (Sylvester's identity), so every division is exact.
#[expect(
    clippy::indexing_slicing,
    reason = "pivot indices k < q < d address the d × 2d augmented matrix built here"
)]
fn eliminate(gram: &Gram, q: usize) -> Result<Vec<Vec<BigInt>>, OlsError> {
    let d = gram.dim();
    let mut m = gram.to_big();
    for (i, row) in m.iter_mut().enumerate() {
        row.extend((0..d).map(|j| BigInt::from(u8::from(i == j))));
    }
    let mut previous = BigInt::from(1u8);
    for k in 0..q {
        let pivot_row = m[k].clone();
        let pivot = pivot_row[k].clone();
        if pivot.is_zero() {
            return Err(OlsError::Singular { term: k });
        }
        if pivot.is_negative() {
            return Err(OlsError::NotPositiveSemidefinite);
        }
        for (i, row) in m.iter_mut().enumerate() {
            if i == k {
                continue;
            }
            let factor = row[k].clone();
            for (entry, pivot_entry) in row.iter_mut().zip(&pivot_row) {
                let value = &pivot * &*entry - &factor * pivot_entry;
                let (quotient, remainder) = value.div_rem(&previous);
                debug_assert!(remainder.is_zero(), "Bareiss division must be exact");
                *entry = quotient;
            }
        }
        previous = pivot;
    }
    Ok(m)
}
