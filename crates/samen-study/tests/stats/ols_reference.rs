//! Two independent plaintext least-squares fits on the raw rows.
//!
//! - [`exact`]: the normal equations in exact rationals, inverted by ordinary (fraction-carrying)
//!   Gauss–Jordan with row exchanges, residuals summed row by row — a different algorithm from
//!   the Bareiss elimination and Schur complement under test.
//! - [`householder`]: Householder QR of the raw design matrix in `f64`.

use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{One, ToPrimitive, Zero};

/// The fields of an OLS fit, as plain numbers.
#[derive(Debug)]
pub struct Reference {
    pub estimate: Vec<f64>,
    pub std_error: Vec<f64>,
    pub r_squared: f64,
    pub adj_r_squared: f64,
    pub sigma: f64,
}

fn rat(v: i64) -> BigRational {
    BigRational::from_integer(BigInt::from(v))
}

fn f(v: &BigRational) -> f64 {
    v.to_f64().unwrap()
}

/// Exact rational fit; rows are `(1, x_1..x_p, y)`.
pub fn exact(rows: &[Vec<i64>]) -> Reference {
    let d = rows[0].len();
    let q = d - 1;
    let n = rows.len();
    let mut m = vec![vec![BigRational::zero(); 2 * q + 1]; q];
    for r in rows {
        for i in 0..q {
            for j in 0..q {
                m[i][j] += rat(r[i]) * rat(r[j]);
            }
            m[i][q] += rat(r[i]) * rat(r[q]);
        }
    }
    for (i, row) in m.iter_mut().enumerate() {
        row[q + 1 + i] = BigRational::one();
    }
    for k in 0..q {
        let pivot_row = (k..q).find(|&i| !m[i][k].is_zero()).expect("singular");
        m.swap(k, pivot_row);
        let pivot = m[k][k].clone();
        for v in m[k].iter_mut() {
            *v /= pivot.clone();
        }
        let row_k = m[k].clone();
        for (i, row) in m.iter_mut().enumerate() {
            if i != k && !row[k].is_zero() {
                let factor = row[k].clone();
                for (v, w) in row.iter_mut().zip(&row_k) {
                    *v -= factor.clone() * w;
                }
            }
        }
    }
    let beta: Vec<BigRational> = (0..q).map(|i| m[i][q].clone()).collect();
    let mut rss = BigRational::zero();
    let mut sum_y = BigRational::zero();
    for r in rows {
        let fitted: BigRational = (0..q).map(|j| beta[j].clone() * rat(r[j])).sum();
        let e = rat(r[q]) - fitted;
        rss += e.clone() * e;
        sum_y += rat(r[q]);
    }
    let mean = sum_y / rat(n as i64);
    let tss: BigRational = rows
        .iter()
        .map(|r| (rat(r[q]) - &mean) * (rat(r[q]) - &mean))
        .sum();
    let df = rat((n - q) as i64);
    let s2 = rss.clone() / &df;
    let r2 = BigRational::one() - rss / &tss;
    let adj = BigRational::one() - (BigRational::one() - &r2) * rat(n as i64 - 1) / &df;
    Reference {
        estimate: beta.iter().map(f).collect(),
        std_error: (0..q)
            .map(|j| f(&(s2.clone() * &m[j][q + 1 + j])).sqrt())
            .collect(),
        r_squared: f(&r2),
        adj_r_squared: f(&adj),
        sigma: f(&s2).sqrt(),
    }
}

/// Householder QR of `[X | y]` in `f64`; rows are `(1, x_1..x_p, y)`.
#[allow(clippy::needless_range_loop)] // matrix code reads best with explicit indices
pub fn householder(rows: &[Vec<i64>]) -> Reference {
    let n = rows.len();
    let d = rows[0].len();
    let q = d - 1;
    let mut a: Vec<Vec<f64>> = rows
        .iter()
        .map(|r| r.iter().map(|&v| v as f64).collect())
        .collect();
    for k in 0..q {
        let norm = (k..n).map(|i| a[i][k] * a[i][k]).sum::<f64>().sqrt();
        let alpha = if a[k][k] > 0.0 { -norm } else { norm };
        let mut v: Vec<f64> = (k..n).map(|i| a[i][k]).collect();
        v[0] -= alpha;
        let vv: f64 = v.iter().map(|x| x * x).sum();
        for j in k..d {
            let dot: f64 = (k..n).map(|i| v[i - k] * a[i][j]).sum();
            let s = 2.0 * dot / vv;
            for i in k..n {
                a[i][j] -= s * v[i - k];
            }
        }
    }
    // R is a[0..q][0..q], Qᵀy is a[..][q]; residual sum of squares is ‖(Qᵀy)[q..]‖².
    let mut beta = vec![0.0; q];
    for i in (0..q).rev() {
        let s: f64 = (i + 1..q).map(|j| a[i][j] * beta[j]).sum();
        beta[i] = (a[i][q] - s) / a[i][i];
    }
    let rss: f64 = (q..n).map(|i| a[i][q] * a[i][q]).sum();
    // (XᵀX)⁻¹ = R⁻¹ R⁻ᵀ: diagonal j is the squared norm of row j of R⁻¹.
    let mut rinv = vec![vec![0.0; q]; q];
    for c in 0..q {
        for i in (0..=c).rev() {
            let rhs = if i == c { 1.0 } else { 0.0 };
            let s: f64 = (i + 1..=c).map(|j| a[i][j] * rinv[j][c]).sum();
            rinv[i][c] = (rhs - s) / a[i][i];
        }
    }
    let mean = rows.iter().map(|r| r[q] as f64).sum::<f64>() / n as f64;
    let tss: f64 = rows.iter().map(|r| (r[q] as f64 - mean).powi(2)).sum();
    let df = (n - q) as f64;
    let s2 = rss / df;
    let r2 = 1.0 - rss / tss;
    Reference {
        estimate: beta,
        std_error: (0..q)
            .map(|j| (s2 * rinv[j].iter().map(|v| v * v).sum::<f64>()).sqrt())
            .collect(),
        r_squared: r2,
        adj_r_squared: 1.0 - (1.0 - r2) * (n as f64 - 1.0) / df,
        sigma: s2.sqrt(),
    }
}

#[test]
fn references_agree_on_a_small_case() {
    let rows: Vec<Vec<i64>> = vec![vec![1, 0, 1], vec![1, 1, 3], vec![1, 2, 4], vec![1, 3, 8]];
    let e = exact(&rows);
    let h = householder(&rows);
    assert!(e
        .estimate
        .iter()
        .zip(&h.estimate)
        .all(|(a, b)| (a - b).abs() < 1e-12));
    assert!(!e.r_squared.is_sign_negative() && (e.sigma - h.sigma).abs() < 1e-12);
}
