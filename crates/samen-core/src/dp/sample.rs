//! Exact integer samplers of the discrete Laplace and Gaussian distributions (Canonne,
//! Kamath, Steinke: "The Discrete Gaussian for Differential Privacy", NeurIPS 2020).

use rand::{CryptoRng, RngCore};

use super::{DpError, Mechanism, Ratio};

/// Largest supported discrete Laplace scale.
const MAX_LAPLACE_SCALE: u128 = 1 << 48;

/// A mechanism with validated parameters and the constants its sampler needs.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Prepared {
    /// Discrete Laplace of scale t/s.
    Laplace { t: u128, s: u128 },
    /// Discrete Gaussian of σ² = p/q: Laplace scale t = ⌊σ⌋ + 1, `tq = t·q`,
    /// `d = 2·p·q·t²` (the denominator of the acceptance exponent).
    Gaussian { p: u128, t: u128, tq: u128, d: u128 },
}

impl Prepared {
    /// Validate `m` (see the module documentation for the bounds).
    pub(crate) fn new(m: &Mechanism) -> Result<Prepared, DpError> {
        match *m {
            Mechanism::DiscreteLaplace { scale } => laplace_params(scale),
            Mechanism::DiscreteGaussian { sigma2 } => {
                let too_large = DpError::ParameterTooLarge {
                    what: "discrete Gaussian σ²",
                    value: sigma2,
                    bound: "(⌊σ⌋+1)·den ≤ 2^64 and 2·num·den·(⌊σ⌋+1)² < 2^128 for σ² = num/den \
                            (about σ² ≤ 2^62 for an integer σ²)",
                };
                let (p, q) = (u128::from(sigma2.num), u128::from(sigma2.den));
                // ⌊σ⌋ = ⌊√⌊σ²⌋⌋
                let t = (p / q).isqrt() + 1;
                let tq = t * q; // t ≤ 2^32 + 1 and q < 2^64
                if tq > 1 << 64 {
                    return Err(too_large);
                }
                let d = (2 * p)
                    .checked_mul(q)
                    .and_then(|x| x.checked_mul(t))
                    .and_then(|x| x.checked_mul(t))
                    .ok_or(too_large)?;
                Ok(Prepared::Gaussian { p, t, tq, d })
            }
        }
    }

    /// Draw one value (integer arithmetic only).
    pub(crate) fn sample<R: CryptoRng + RngCore + ?Sized>(
        &self,
        rng: &mut R,
    ) -> Result<i64, DpError> {
        match *self {
            Prepared::Laplace { t, s } => laplace(t, s, rng),
            Prepared::Gaussian { p, t, tq, d } => loop {
                let y = laplace(t, 1, rng)?;
                // γ = (|y| − σ²/t)² / (2σ²) = (|y|·t·q − p)² / (2·p·q·t²)
                let xtq = u128::from(y.unsigned_abs())
                    .checked_mul(tq)
                    .ok_or(DpError::SampleOutOfRange)?;
                let m = xtq.abs_diff(p);
                let (hi, lo) = mul_wide(m, m);
                let (whole, r) = if hi == 0 {
                    ((0, lo / d), lo % d)
                } else {
                    divrem_wide(hi, lo, d)
                };
                if bernoulli_exp_parts(whole, r, d, rng) {
                    return Ok(y);
                }
            },
        }
    }
}

fn laplace_params(scale: Ratio) -> Result<Prepared, DpError> {
    let (t, s) = (u128::from(scale.num), u128::from(scale.den));
    if t > MAX_LAPLACE_SCALE * s {
        return Err(DpError::ParameterTooLarge {
            what: "discrete Laplace scale",
            value: scale,
            bound: "a scale of at most 2^48",
        });
    }
    Ok(Prepared::Laplace { t, s })
}

/// A uniform integer in `0..n` (`n ≥ 1`): a random word masked to the bit length of `n − 1`,
/// redrawn while it is `≥ n` (fewer than two draws on average, no modulo bias).
pub(super) fn uniform_below<R: RngCore + ?Sized>(n: u128, rng: &mut R) -> u128 {
    if n <= 1 {
        return 0;
    }
    let bits = 128 - (n - 1).leading_zeros();
    let mask = u128::MAX >> (128 - bits);
    loop {
        let v = if bits <= 64 {
            u128::from(rng.next_u64())
        } else {
            (u128::from(rng.next_u64()) << 64) | u128::from(rng.next_u64())
        };
        let v = v & mask;
        if v < n {
            return v;
        }
    }
}

/// Bernoulli(exp(−r/d)) for `0 ≤ r ≤ d`, `d ≥ 1` (CKS Algorithm 1, first case): the length K
/// of the run of successes of Bernoulli(r/(d·k)), k = 1, 2, …, plus one, is odd with
/// probability exp(−r/d). Bernoulli(r/(d·k)) is drawn as Bernoulli(1/k) ∧ Bernoulli(r/d), so no
/// product can overflow.
fn bernoulli_exp_frac<R: RngCore + ?Sized>(r: u128, d: u128, rng: &mut R) -> bool {
    let mut k: u128 = 1;
    while uniform_below(k, rng) == 0 && uniform_below(d, rng) < r {
        k = k.saturating_add(1);
    }
    k % 2 == 1
}

/// Bernoulli(exp(−(w + r/d))) for a 256-bit integer part `w = (hi, lo)` and `0 ≤ r < d`
/// (CKS Algorithm 1, second case): `w` independent Bernoulli(exp(−1)), then
/// Bernoulli(exp(−r/d)); stops at the first failure.
fn bernoulli_exp_parts<R: RngCore + ?Sized>(
    whole: (u128, u128),
    r: u128,
    d: u128,
    rng: &mut R,
) -> bool {
    let mut done: u128 = 0;
    while whole.0 > 0 || done < whole.1 {
        if !bernoulli_exp_frac(1, 1, rng) {
            return false;
        }
        done = done.saturating_add(1);
    }
    bernoulli_exp_frac(r, d, rng)
}

/// Discrete Laplace of scale t/s (CKS Algorithm 2), `1 ≤ t, s < 2^64`.
fn laplace<R: RngCore + ?Sized>(t: u128, s: u128, rng: &mut R) -> Result<i64, DpError> {
    loop {
        // X = U + t·V is geometric: P(X = x) ∝ exp(−x/t)
        let u = uniform_below(t, rng);
        if !bernoulli_exp_frac(u, t, rng) {
            continue;
        }
        let mut v: u128 = 0;
        while bernoulli_exp_frac(1, 1, rng) {
            v = v.saturating_add(1);
        }
        let x = t
            .checked_mul(v)
            .and_then(|tv| tv.checked_add(u))
            .ok_or(DpError::SampleOutOfRange)?;
        // Y = ⌊X/s⌋ is geometric: P(Y = y) ∝ exp(−y·s/t)
        let y = x / s;
        let negative = rng.next_u64() & 1 == 1;
        if negative && y == 0 {
            continue;
        }
        let y = i64::try_from(y).map_err(|_| DpError::SampleOutOfRange)?;
        return Ok(if negative { -y } else { y });
    }
}

/// The full 256-bit product `a·b` as `(high, low)` 128-bit halves.
pub(super) fn mul_wide(a: u128, b: u128) -> (u128, u128) {
    const M: u128 = u64::MAX as u128;
    let (a1, a0) = (a >> 64, a & M);
    let (b1, b0) = (b >> 64, b & M);
    let ll = a0 * b0;
    let lh = a0 * b1;
    let hl = a1 * b0;
    let hh = a1 * b1;
    let mid = (ll >> 64) + (lh & M) + (hl & M);
    let lo = (ll & M) | (mid << 64);
    let hi = hh + (lh >> 64) + (hl >> 64) + (mid >> 64);
    (hi, lo)
}

/// `(hi·2^128 + lo) / d` as a 256-bit quotient `(high, low)` and the remainder (`d ≥ 1`), by
/// binary long division.
pub(super) fn divrem_wide(hi: u128, lo: u128, d: u128) -> ((u128, u128), u128) {
    let (mut qh, mut ql, mut r) = (0u128, 0u128, 0u128);
    for i in (0..256u32).rev() {
        let bit = if i >= 128 {
            (hi >> (i - 128)) & 1
        } else {
            (lo >> i) & 1
        };
        // r < d, so 2r + 1 < 2d: one subtraction suffices; `carry` is bit 128 of 2r + 1
        let carry = r >> 127;
        r = (r << 1) | bit;
        if carry == 1 || r >= d {
            r = r.wrapping_sub(d);
            if i >= 128 {
                qh |= 1 << (i - 128);
            } else {
                ql |= 1 << i;
            }
        }
    }
    ((qh, ql), r)
}

/// One draw of `m`. Exact; integer arithmetic only.
pub fn sample<R: CryptoRng + RngCore + ?Sized>(m: &Mechanism, rng: &mut R) -> Result<i64, DpError> {
    Prepared::new(m)?.sample(rng)
}

/// Bernoulli(exp(−γ)) for a positive rational γ (CKS Algorithm 1). Exact; integer arithmetic
/// only.
pub fn sample_bernoulli_exp<R: CryptoRng + RngCore + ?Sized>(gamma: Ratio, rng: &mut R) -> bool {
    let (n, d) = (u128::from(gamma.num), u128::from(gamma.den));
    bernoulli_exp_parts((0, n / d), n % d, d, rng)
}

/// One draw of the discrete Laplace distribution with the given scale, P(k) ∝ exp(−|k|/scale)
/// (CKS Algorithm 2). Exact; integer arithmetic only.
pub fn sample_discrete_laplace<R: CryptoRng + RngCore + ?Sized>(
    scale: Ratio,
    rng: &mut R,
) -> Result<i64, DpError> {
    sample(&Mechanism::DiscreteLaplace { scale }, rng)
}

/// One draw of the discrete Gaussian distribution with parameter σ², P(k) ∝ exp(−k²/(2σ²))
/// (CKS Algorithm 3). Exact; integer arithmetic only.
pub fn sample_discrete_gaussian<R: CryptoRng + RngCore + ?Sized>(
    sigma2: Ratio,
    rng: &mut R,
) -> Result<i64, DpError> {
    sample(&Mechanism::DiscreteGaussian { sigma2 }, rng)
}
