//! Shared helpers: a seeded generator, Gram matrices of raw rows, and finiteness checks.

use samen_study::stats::{Gram, OlsFit};

/// SplitMix64: a small seeded generator, so the tests need no extra dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % ((hi - lo) as u64 + 1)) as i64
    }
}

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
