//! Differential-privacy noise: exact, integer-only samplers of the discrete Laplace and the
//! discrete Gaussian distribution.
//!
//! The samplers follow Canonne, Kamath and Steinke, "The Discrete Gaussian for Differential
//! Privacy" (NeurIPS 2020, arXiv:2004.00010), Algorithms 1–3:
//!
//! - [`sample_bernoulli_exp`]: Bernoulli(exp(−γ)) for a rational γ = n/d. For γ ≤ 1 it counts
//!   how long a run of Bernoulli(γ/k), k = 1, 2, …, lasts and returns 1 if the run length is
//!   odd (probability Σ_j (−γ)^j / j! = exp(−γ)); for γ > 1 it multiplies ⌊γ⌋ independent
//!   Bernoulli(exp(−1)) by one Bernoulli(exp(−(γ − ⌊γ⌋))).
//! - [`sample_discrete_laplace`]: P(k) ∝ exp(−|k|/scale) for a rational scale t/s, from a
//!   geometric variable built out of Bernoulli(exp(−u/t)) and Bernoulli(exp(−1)) draws, divided
//!   by s, with a random sign (a zero with negative sign is rejected).
//! - [`sample_discrete_gaussian`]: P(k) ∝ exp(−k²/(2σ²)) for a rational σ², by rejection from
//!   the discrete Laplace of scale t = ⌊σ⌋ + 1, accepting Y with probability
//!   exp(−(|Y| − σ²/t)² / (2σ²)).
//!
//! **Exactness.** Every sampling function uses integer arithmetic only (`u128`, with 256-bit
//! products where a square does not fit), and the only randomness is uniform integers drawn by
//! rejection (a value below `n` is drawn as a masked word of the bit length of `n − 1`, redrawn
//! while it is `≥ n`), so the output distribution is exactly the stated one: there is no
//! floating-point rounding and no modulo bias, the classical attacks on floating-point Laplace
//! noise (Mironov, CCS 2012) do not apply. Floating point appears only in [`pmf`] and
//! [`variance`], which describe the distributions for tests and documentation, and in
//! [`Ratio::from_f64`], which converts a parameter.
//!
//! **Bounds.** Parameters whose intermediate values could overflow are refused up front with
//! [`DpError::ParameterTooLarge`]: the discrete Laplace scale is at most 2^48, and a discrete
//! Gaussian σ² = p/q needs (⌊σ⌋ + 1)·q ≤ 2^64 and 2·p·q·(⌊σ⌋ + 1)² < 2^128 (in practice σ² up
//! to about 2^62 with an integer σ², or up to about 2^33 with a denominator of 10^9). Within
//! these bounds a sample fails ([`DpError::SampleOutOfRange`]) only if it would not fit an
//! `i64`, which has probability below exp(−2^15).
//!
//! **Timing.** The samplers are not constant time: their running time depends on the value
//! drawn. Each data party draws its own noise ([`crate::mpc::Computer::noise`]) and knows its own
//! values anyway; the draws happen before the opening, and no other party observes their
//! timing per value.
//!
//! ```
//! use rand_chacha::rand_core::SeedableRng;
//! use samen_core::dp::{pmf, sample, Mechanism, Ratio};
//! let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
//! // ε = 0.5 for a count (sensitivity 1): scale 1/ε = 2
//! let m = Mechanism::DiscreteLaplace { scale: Ratio::from_decimal_str("2").unwrap() };
//! let draws: Vec<i64> = (0..1000).map(|_| sample(&m, &mut rng).unwrap()).collect();
//! let zeros = draws.iter().filter(|&&z| z == 0).count() as f64 / 1000.0;
//! assert!((zeros - pmf(&m, 0)).abs() < 0.06); // P(0) = (1 − e^−½)/(1 + e^−½) ≈ 0.245
//! ```

use thiserror::Error;

mod accuracy;
mod ratio;
mod sample;
#[cfg(test)]
mod tests;

pub use accuracy::{half_width, sum_variance};
pub use ratio::Ratio;
pub(crate) use sample::Prepared;
pub use sample::{sample, sample_bernoulli_exp, sample_discrete_gaussian, sample_discrete_laplace};

/// An error of the noise samplers or their parameters.
#[derive(Debug, Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum DpError {
    /// A ratio with a zero numerator or denominator: noise parameters are positive.
    #[error("a noise parameter must be a positive rational number, got {num}/{den}")]
    NotPositive {
        /// The numerator given.
        num: u64,
        /// The denominator given.
        den: u64,
    },
    /// A string that is not a positive decimal number or fraction.
    #[error(
        "'{input}' is not a usable noise parameter ({reason}); write a positive decimal such \
         as 2.5, 0.001 or 1e-3, or a fraction such as 7/3"
    )]
    BadDecimal {
        /// The text given.
        input: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A floating-point parameter that is NaN, infinite, zero or negative.
    #[error("{value} is not a finite positive number; noise parameters must be positive")]
    BadFloat {
        /// The value given.
        value: f64,
    },
    /// A parameter outside the range in which the sampler's integer arithmetic cannot
    /// overflow.
    #[error("{what} = {value} is too large: the exact sampler requires {bound}")]
    ParameterTooLarge {
        /// Which parameter.
        what: &'static str,
        /// Its value.
        value: Ratio,
        /// The bound it violates.
        bound: &'static str,
    },
    /// A sample did not fit an `i64`. Within the parameter bounds this has probability below
    /// exp(−2^15); it indicates a broken random number generator.
    #[error("a noise sample does not fit a 64-bit integer; check the random number generator")]
    SampleOutOfRange,
}

/// A noise distribution on the integers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Mechanism {
    /// The discrete Laplace (two-sided geometric) distribution, P(k) ∝ exp(−|k|/scale).
    /// With scale Δ/ε it gives ε-differential privacy to a statistic of sensitivity Δ.
    DiscreteLaplace {
        /// The scale (at most 2^48).
        scale: Ratio,
    },
    /// The discrete Gaussian distribution, P(k) ∝ exp(−k²/(2σ²)).
    DiscreteGaussian {
        /// The parameter σ² (close to, and never more than, the variance).
        sigma2: Ratio,
    },
}

/// Check that the exact samplers accept `m`'s parameters (see the module documentation for
/// the bounds), without drawing.
pub fn check(m: &Mechanism) -> Result<(), DpError> {
    Prepared::new(m).map(|_| ())
}

/// Σ_k w(k) over the integers for the discrete Gaussian weights w(k) = k^(2·moment)
/// exp(−k²/(2σ²)), `moment` 0 or 1: a direct sum for small σ, the Poisson summation (Jacobi
/// theta) form for large σ, where its correction terms are tiny.
fn gaussian_sum(sigma2: f64, moment: i32) -> f64 {
    let sigma = sigma2.sqrt();
    if sigma <= 16.0 {
        let k_max = (40.0 * sigma).ceil() as i64 + 2;
        (-k_max..=k_max)
            .map(|k| {
                let k = k as f64;
                k.powi(2 * moment) * (-k * k / (2.0 * sigma2)).exp()
            })
            .sum()
    } else {
        let two_pi2 = 2.0 * std::f64::consts::PI * std::f64::consts::PI;
        let base = (2.0 * std::f64::consts::PI).sqrt() * sigma.powi(1 + 2 * moment);
        let corr: f64 = (1..=3)
            .map(|k| {
                let k = f64::from(k);
                let e = (-two_pi2 * sigma2 * k * k).exp();
                if moment == 0 {
                    2.0 * e
                } else {
                    2.0 * (1.0 - 2.0 * two_pi2 * sigma2 * k * k) * e
                }
            })
            .sum();
        base * (1.0 + corr)
    }
}

/// The probability of `k` under `m` (analytic, in `f64`; for tests and documentation, never
/// used for sampling).
///
/// Discrete Laplace of scale b: `(1 − e^{−1/b}) / (1 + e^{−1/b}) · e^{−|k|/b}`. Discrete
/// Gaussian: `e^{−k²/(2σ²)} / Σ_j e^{−j²/(2σ²)}`.
pub fn pmf(m: &Mechanism, k: i64) -> f64 {
    let kf = k as f64;
    match m {
        Mechanism::DiscreteLaplace { scale } => {
            let r = (-1.0 / scale.to_f64()).exp();
            (1.0 - r) / (1.0 + r) * (-kf.abs() / scale.to_f64()).exp()
        }
        Mechanism::DiscreteGaussian { sigma2 } => {
            let s2 = sigma2.to_f64();
            (-kf * kf / (2.0 * s2)).exp() / gaussian_sum(s2, 0)
        }
    }
}

/// The variance of `m` (analytic, in `f64`; the mean is 0).
///
/// Discrete Laplace of scale b: `2r/(1 − r)²` with `r = e^{−1/b}` (about 2b² − 1/6 for large
/// b). Discrete Gaussian: `Σ k² e^{−k²/(2σ²)} / Σ e^{−k²/(2σ²)}`, which is below σ² and equals
/// σ² up to a relative error of about 8π²σ²e^{−2π²σ²} (2·10^−7 at σ = 1, below 10^−15 from
/// σ = 2 on).
pub fn variance(m: &Mechanism) -> f64 {
    match m {
        Mechanism::DiscreteLaplace { scale } => {
            let r = (-1.0 / scale.to_f64()).exp();
            2.0 * r / ((1.0 - r) * (1.0 - r))
        }
        Mechanism::DiscreteGaussian { sigma2 } => {
            let s2 = sigma2.to_f64();
            gaussian_sum(s2, 1) / gaussian_sum(s2, 0)
        }
    }
}
