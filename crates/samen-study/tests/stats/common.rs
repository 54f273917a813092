//! Shared helpers: a seeded generator, Gram matrices of raw rows, and finiteness checks.

use samen_study::stats::{Gram, OlsFit};

pub use samen_testkit::Rng;

/// The exact Gram matrix Σ z zᵀ of rows `z` (each row already starting with the constant 1).
pub fn gram_of(rows: &[Vec<i64>]) -> Gram {
    let d = rows.first().map_or(1, Vec::len);
    let mut g = vec![0i128; d * d];
    for r in rows {
        for i in 0..d {
            for j in 0..d {
                g[i * d + j] += i128::from(r[i]) * i128::from(r[j]);
            }
        }
    }
    Gram::new(d, g).unwrap()
}

/// Every reported number is finite (and standard errors positive, p-values in [0, 1]).
pub fn assert_all_finite(fit: &OlsFit) {
    for v in [fit.r_squared, fit.adj_r_squared, fit.sigma] {
        assert!(v.is_finite(), "{fit:?}");
    }
    for c in &fit.coefficients {
        for v in [c.estimate, c.std_error, c.statistic, c.p_value] {
            assert!(v.is_finite(), "{fit:?}");
        }
        assert!(
            c.std_error > 0.0 && (0.0..=1.0).contains(&c.p_value),
            "{c:?}"
        );
    }
}

/// `|got − expected| ≤ tol · |expected|` (or `≤ tol` absolutely where `expected` is 0).
pub fn assert_close(what: &str, got: f64, expected: f64, tol: f64) {
    let scale = expected.abs().max(if expected == 0.0 { 1.0 } else { 0.0 });
    assert!(
        (got - expected).abs() <= tol * scale,
        "{what}: got {got:e}, expected {expected:e} (relative {:e})",
        ((got - expected) / expected).abs()
    );
}
