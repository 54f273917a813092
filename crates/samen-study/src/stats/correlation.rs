//! Pearson correlation from an exact Gram matrix.

use super::{ratio_to_f64, Gram};
use num_bigint::BigInt;
use num_traits::Signed;

/// Pearson correlation matrix of columns `1..d` of `gram` (the Gram matrix over
/// `(1, c_1, …, c_m)`, so the result is `m × m`, indexed from 0 for `c_1`).
///
/// `r_ij = (n S_ij − S_i S_j) / √((n S_ii − S_i²)(n S_jj − S_j²))`: the square `r_ij²` is formed
/// exactly from big integers and rounded once, then the square root takes the numerator's sign.
/// The diagonal is exactly 1. An entry is `None` where column `i` or `j` is constant over the
/// rows (zero variance), or `n < 2`; every `Some` value is finite and in `[−1, 1]`.
///
/// ```
/// use samen_study::stats::{correlation, Gram};
/// // Rows (a, b): (1, 2), (2, 4), (3, 5).
/// let g = Gram::new(3, vec![3, 6, 11, 6, 14, 25, 11, 25, 45]).unwrap();
/// let r = correlation(&g);
/// assert_eq!(r[0][0], Some(1.0));
/// assert!((r[0][1].unwrap() - 0.981_980_506_061_965_7).abs() < 1e-15);
/// ```
pub fn correlation(gram: &Gram) -> Vec<Vec<Option<f64>>> {
    let d = gram.dim();
    let n = gram.n();
    let big_n = BigInt::from(n);
    // n · (centred sum of products) for columns i, j ≥ 1.
    let centred = |i: usize, j: usize| {
        &big_n * BigInt::from(gram.get(i, j))
            - BigInt::from(gram.get(0, i)) * BigInt::from(gram.get(0, j))
    };
    let spread: Vec<BigInt> = (1..d).map(|i| centred(i, i)).collect();
    let mut out = vec![vec![None; d - 1]; d - 1];
    if n < 2 {
        return out;
    }
    for ((i, row), si) in out.iter_mut().enumerate().zip(&spread) {
        for ((j, cell), sj) in row.iter_mut().enumerate().zip(&spread) {
            if !si.is_positive() || !sj.is_positive() {
                continue;
            }
            if i == j {
                *cell = Some(1.0);
                continue;
            }
            let num = centred(i + 1, j + 1);
            let r2 = ratio_to_f64(&num * &num, si * sj).map(|v| v.min(1.0));
            *cell = r2.map(|v| {
                if num.is_negative() {
                    -v.sqrt()
                } else {
                    v.sqrt()
                }
            });
        }
    }
    out
}
