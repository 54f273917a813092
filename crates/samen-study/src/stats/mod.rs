//! Exact post-opening numerics for regression and correlation.
//!
//! Inside MPC the parties compute exact integer sums over the matched rows of the private join;
//! once opened they form the **Gram matrix** `G = Σ z zᵀ` of a row vector
//! `z = (1, z_1, …, z_k)`: `G[0][0] = n` (matched rows), `G[0][j] = Σ z_j`,
//! `G[i][j] = Σ z_i z_j`. Everything in this module is a deterministic function of `G`, computed
//! with exact big-integer arithmetic up to the last step, where one exact rational is rounded to
//! the nearest `f64` (then at most one square root and one division follow). No party learns
//! anything here beyond the opened matrix itself.
//!
//! # Ordinary least squares ([`fit_ols`])
//!
//! For predictors `x = (1, x_1, …, x_p)` and response `y` (the last index of `G`), write
//! `A = XᵀX` (the leading `(p+1)×(p+1)` block), `b = Xᵀy`, `Syy = Σ y²`, `Sy = Σ y`. Then
//!
//! - `β = A⁻¹ b`,
//! - `RSS = Syy − bᵀβ = det G / det A` (Schur complement),
//! - `TSS = Syy − Sy²/n`,
//! - `df = n − p − 1`, `σ = √(RSS/df)`,
//! - `se(β_j) = √(σ² (A⁻¹)_jj)`, `t_j = β_j / se(β_j)`, `p_j = P(|T_df| ≥ |t_j|)`,
//! - `R² = 1 − RSS/TSS`, `adjusted R² = 1 − (1 − R²)(n − 1)/df`.
//!
//! `β`, `RSS`, `(A⁻¹)_jj`, `R²` and the adjusted `R²` are exact rationals, from one
//! fraction-free Gauss–Jordan elimination (Bareiss) of `G` augmented with the identity; each
//! is rounded to `f64` once. A zero pivot is an exact linear dependency: the predictor at that
//! index is a linear combination (over the matched rows) of the intercept and the predictors
//! before it — for example a category level with no matched rows, or `x_2 = 2 x_1 + 3`.
//!
//! # Pearson correlation ([`correlation()`])
//!
//! `r_ij = (n S_ij − S_i S_j) / √((n S_ii − S_i²)(n S_jj − S_j²))`; `r_ij²` is formed exactly
//! and rounded once, then the square root takes the sign of the numerator.
//!
//! # Student's t ([`t_two_sided_p`])
//!
//! `P(|T| ≥ |t|) = I_x(df/2, 1/2)` with `x = df/(df + t²)`; see [`tdist`].

pub mod correlation;
pub mod ols;
pub mod tdist;

pub use correlation::correlation;
pub use ols::{fit_exact, fit_ols, ols_exact, Coefficient, OlsError, OlsExact, OlsFit};
pub use tdist::t_two_sided_p;

use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::ToPrimitive;

/// Why a matrix is not accepted as a Gram matrix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StatsError {
    /// The matrix has no rows; a Gram matrix has at least the constant column (`d ≥ 1`).
    #[error("a Gram matrix needs at least the constant column (d ≥ 1), got d = 0")]
    Empty,
    /// The number of entries is not `d × d` (the full matrix, row-major) or `d·(d+1)/2` (its
    /// upper triangle).
    #[error("a {d}×{d} Gram matrix needs {expected} entries, got {got}")]
    WrongLength {
        /// The dimension that was given.
        d: usize,
        /// `d × d`, or `d·(d+1)/2` for the upper triangle.
        expected: usize,
        /// The number of entries that were given.
        got: usize,
    },
    /// `G[i][j] ≠ G[j][i]`: the sums were assembled inconsistently.
    #[error("the Gram matrix is not symmetric: entry ({i}, {j}) differs from ({j}, {i})")]
    NotSymmetric {
        /// Row of the first entry.
        i: usize,
        /// Column of the first entry.
        j: usize,
    },
    /// A diagonal entry (a sum of squares, or the row count at index 0) is negative.
    #[error("diagonal entry {i} of the Gram matrix is negative, but it is a sum of squares")]
    NegativeDiagonal {
        /// The index of the diagonal entry.
        i: usize,
    },
}

/// The opened Gram matrix `Σ z zᵀ` over matched rows of `z = (1, z_1, …, z_{d−1})`.
///
/// Symmetric, `d ≥ 1`; index 0 is the constant 1, so `get(0, 0)` is the number of rows.
/// Construction checks the shape, the symmetry and that the diagonal is non-negative; it cannot
/// check positive semi-definiteness cheaply, so [`fit_ols`] reports a matrix that is not one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gram {
    d: usize,
    entries: Vec<i128>,
}

impl Gram {
    /// A `d × d` Gram matrix from its full row-major entries.
    pub fn new(d: usize, entries: Vec<i128>) -> Result<Gram, StatsError> {
        if d == 0 {
            return Err(StatsError::Empty);
        }
        let expected = d.checked_mul(d);
        if expected != Some(entries.len()) {
            return Err(StatsError::WrongLength {
                d,
                expected: expected.unwrap_or(usize::MAX),
                got: entries.len(),
            });
        }
        for i in 0..d {
            if entries.get(i * d + i).is_some_and(|v| *v < 0) {
                return Err(StatsError::NegativeDiagonal { i });
            }
            for j in (i + 1)..d {
                if entries.get(i * d + j) != entries.get(j * d + i) {
                    return Err(StatsError::NotSymmetric { i, j });
                }
            }
        }
        Ok(Gram { d, entries })
    }

    /// The dimension `d` (the constant plus the summed columns).
    pub fn dim(&self) -> usize {
        self.d
    }

    /// The number of rows summed over, `G[0][0]`.
    pub fn n(&self) -> i128 {
        self.get(0, 0)
    }

    /// The entry `G[i][j]`.
    ///
    /// # Panics
    ///
    /// If `i` or `j` is not below [`Gram::dim`] (a programming error, not a data error).
    #[expect(
        clippy::indexing_slicing,
        reason = "i, j < d is asserted here and `new` checked that there are d·d entries"
    )]
    pub fn get(&self, i: usize, j: usize) -> i128 {
        assert!(
            i < self.d && j < self.d,
            "Gram index ({i}, {j}) out of range"
        );
        self.entries[i * self.d + j]
    }

    /// The matrix as big integers, row by row.
    fn to_big(&self) -> Vec<Vec<BigInt>> {
        self.entries
            .chunks(self.d)
            .map(|row| row.iter().map(|v| BigInt::from(*v)).collect())
            .collect()
    }
}

/// `numer / denom` rounded to the nearest `f64`, or `None` if it is not finite (denominator
/// zero, or magnitude beyond `f64::MAX`).
fn ratio_to_f64(numer: BigInt, denom: BigInt) -> Option<f64> {
    if denom == BigInt::ZERO {
        return None;
    }
    BigRational::new_raw(numer, denom)
        .to_f64()
        .filter(|v| v.is_finite())
}
