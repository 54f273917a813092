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
//! drawn. The helper that draws noise (see [`crate::dealer::Dealer::noise`]) knows the values
//! anyway, and nothing else observes its timing per value.
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

use rand::{CryptoRng, RngCore};
use thiserror::Error;

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

/// An exact positive rational `num/den` (`u64` numerator and denominator, in lowest terms).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ratio {
    num: u64,
    den: u64,
}

fn gcd(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

impl Ratio {
    /// The ratio `num/den`, reduced to lowest terms; both must be positive.
    pub fn new(num: u64, den: u64) -> Result<Ratio, DpError> {
        if num == 0 || den == 0 {
            return Err(DpError::NotPositive { num, den });
        }
        let g = gcd(num.into(), den.into()) as u64;
        Ok(Ratio {
            num: num / g,
            den: den / g,
        })
    }

    /// The numerator (in lowest terms).
    pub fn num(&self) -> u64 {
        self.num
    }

    /// The denominator (in lowest terms).
    pub fn den(&self) -> u64 {
        self.den
    }

    /// Parse a positive decimal number (`2`, `2.5`, `0.001`, `1e-3`, `1.5E2`) exactly, or a
    /// fraction of two integers (`7/3`). The value in lowest terms must have a numerator and a
    /// denominator below 2^64.
    pub fn from_decimal_str(s: &str) -> Result<Ratio, DpError> {
        let bad = |reason| DpError::BadDecimal {
            input: s.to_string(),
            reason,
        };
        let t = s.trim();
        if let Some((a, b)) = t.split_once('/') {
            let a = parse_digits(a.trim()).ok_or_else(|| bad("a fraction needs two integers"))?;
            let b = parse_digits(b.trim()).ok_or_else(|| bad("a fraction needs two integers"))?;
            return reduce_u128(a, b)
                .ok_or_else(|| bad("the value must be positive and fit 64 bits"));
        }
        let t = t.strip_prefix('+').unwrap_or(t);
        let (mantissa, exp) = match t.find(['e', 'E']) {
            Some(i) => {
                let e = t.get(i + 1..).unwrap_or("");
                let exp: i64 = e.parse().map_err(|_| bad("malformed exponent"))?;
                (t.get(..i).unwrap_or(""), exp)
            }
            None => (t, 0),
        };
        let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(bad("no digits"));
        }
        if !int_part
            .bytes()
            .chain(frac_part.bytes())
            .all(|c| c.is_ascii_digit())
        {
            return Err(bad("only digits, one '.', and an exponent are allowed"));
        }
        // digits without leading and trailing zeros, and the power of ten they are scaled by
        let digits: String = format!("{int_part}{frac_part}");
        let trimmed = digits.trim_start_matches('0');
        let sig = trimmed.trim_end_matches('0');
        if sig.is_empty() {
            return Err(bad("the value must be positive"));
        }
        let trailing = (trimmed.len() - sig.len()) as i64;
        let exp10 = exp
            .checked_sub(frac_part.len() as i64)
            .and_then(|e| e.checked_add(trailing))
            .ok_or_else(|| bad("exponent out of range"))?;
        let too_big =
            || bad("the value in lowest terms must fit a 64-bit numerator and denominator");
        let mut num = parse_digits(sig).ok_or_else(too_big)?;
        let mut den = 1u128;
        let pow = pow10(exp10.unsigned_abs()).ok_or_else(too_big)?;
        if exp10 >= 0 {
            num = num.checked_mul(pow).ok_or_else(too_big)?;
        } else {
            den = pow;
        }
        reduce_u128(num, den).ok_or_else(too_big)
    }

    /// The exact value of a finite positive `f64` when its numerator and denominator fit 64
    /// bits (every `f64` between 2^−63 and 2^64 with a short enough mantissa, e.g. `0.1` is
    /// 3602879701896397/2^55); otherwise the decimal of its shortest representation (`1e-30`
    /// becomes 1/10^30, which is refused as too large a denominator).
    pub fn from_f64(x: f64) -> Result<Ratio, DpError> {
        if !x.is_finite() || x <= 0.0 {
            return Err(DpError::BadFloat { value: x });
        }
        let bits = x.to_bits();
        let exp_bits = ((bits >> 52) & 0x7ff) as i64;
        let frac = bits & ((1u64 << 52) - 1);
        let (mut m, mut e) = if exp_bits == 0 {
            (frac, -1074)
        } else {
            (frac | (1u64 << 52), exp_bits - 1075)
        };
        let tz = m.trailing_zeros();
        m >>= tz;
        e += i64::from(tz);
        if (0..64).contains(&e) && m.leading_zeros() as i64 >= e {
            return Ratio::new(m << e, 1);
        }
        if (-63..0).contains(&e) {
            return Ratio::new(m, 1u64 << (-e));
        }
        Ratio::from_decimal_str(&format!("{x:e}"))
    }

    /// The value as the nearest `f64` (for tests and documentation only).
    pub fn to_f64(&self) -> f64 {
        self.num as f64 / self.den as f64
    }
}

impl std::fmt::Display for Ratio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.den == 1 {
            write!(f, "{}", self.num)
        } else {
            write!(f, "{}/{}", self.num, self.den)
        }
    }
}

impl std::str::FromStr for Ratio {
    type Err = DpError;
    fn from_str(s: &str) -> Result<Ratio, DpError> {
        Ratio::from_decimal_str(s)
    }
}

/// Decimal digits only, as a `u128`.
fn parse_digits(s: &str) -> Option<u128> {
    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.bytes().try_fold(0u128, |acc, c| {
        acc.checked_mul(10)?.checked_add(u128::from(c - b'0'))
    })
}

fn pow10(e: u64) -> Option<u128> {
    10u128.checked_pow(u32::try_from(e).ok()?)
}

fn reduce_u128(num: u128, den: u128) -> Option<Ratio> {
    if num == 0 || den == 0 {
        return None;
    }
    let g = gcd(num, den);
    Some(Ratio {
        num: u64::try_from(num / g).ok()?,
        den: u64::try_from(den / g).ok()?,
    })
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
fn uniform_below<R: RngCore + ?Sized>(n: u128, rng: &mut R) -> u128 {
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
fn mul_wide(a: u128, b: u128) -> (u128, u128) {
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
fn divrem_wide(hi: u128, lo: u128, d: u128) -> ((u128, u128), u128) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand_chacha::rand_core::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    fn r(num: u64, den: u64) -> Ratio {
        Ratio::new(num, den).unwrap()
    }

    #[test]
    fn ratios_reduce_and_parse() {
        assert_eq!(r(6, 4), r(3, 2));
        assert_eq!((r(6, 4).num(), r(6, 4).den()), (3, 2));
        assert!(matches!(Ratio::new(0, 3), Err(DpError::NotPositive { .. })));
        assert!(matches!(Ratio::new(3, 0), Err(DpError::NotPositive { .. })));
        let ok = |s: &str| Ratio::from_decimal_str(s).unwrap();
        assert_eq!(ok("0.1"), r(1, 10));
        assert_eq!(ok("2.50"), r(5, 2));
        assert_eq!(ok("007"), r(7, 1));
        assert_eq!(ok("1e-3"), r(1, 1000));
        assert_eq!(ok("1.5E2"), r(150, 1));
        assert_eq!(ok(" 7/3 "), r(7, 3));
        assert_eq!(ok("14/6"), r(7, 3));
        assert_eq!(ok(".5"), r(1, 2));
        assert_eq!(ok("0.000000001"), r(1, 1_000_000_000));
        assert_eq!(ok("1099511627776"), r(1 << 40, 1));
        assert_eq!(ok("1.000000000000000000000000000000000000000000"), r(1, 1));
        for bad in [
            "",
            ".",
            "0",
            "0.0",
            "-1",
            "1.2.3",
            "abc",
            "1e",
            "1/0",
            "0/5",
            "1e30",
            "1e-30",
            "1e99999999999",
        ] {
            assert!(
                matches!(
                    Ratio::from_decimal_str(bad),
                    Err(DpError::BadDecimal { .. })
                ),
                "{bad:?}"
            );
        }
        assert_eq!(ok("2").to_string(), "2");
        assert_eq!(ok("2.5").to_string(), "5/2");
    }

    #[test]
    fn ratios_from_floats_are_exact() {
        assert_eq!(Ratio::from_f64(0.5).unwrap(), r(1, 2));
        assert_eq!(Ratio::from_f64(4.5).unwrap(), r(9, 2));
        assert_eq!(Ratio::from_f64(100.0).unwrap(), r(100, 1));
        assert_eq!(Ratio::from_f64(2f64.powi(40)).unwrap(), r(1 << 40, 1));
        // 0.1 is not 1/10 in binary; its exact value is returned
        assert_eq!(Ratio::from_f64(0.1).unwrap(), r(3602879701896397, 1 << 55));
        // no exact fit: the shortest decimal, if that fits
        assert_eq!(
            Ratio::from_f64(1e19).unwrap(),
            r(10_000_000_000_000_000_000, 1)
        );
        assert!(Ratio::from_f64(1e-30).is_err());
        assert!(Ratio::from_f64(1e30).is_err());
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(matches!(
                Ratio::from_f64(bad),
                Err(DpError::BadFloat { .. })
            ));
        }
    }

    #[test]
    fn parameter_bounds_are_enforced() {
        let lap = |s: Ratio| Prepared::new(&Mechanism::DiscreteLaplace { scale: s });
        assert!(lap(r(1 << 48, 1)).is_ok());
        assert!(lap(r(1 << 40, 1_000_000_000)).is_ok());
        assert!(matches!(
            lap(r((1 << 48) + 1, 1)),
            Err(DpError::ParameterTooLarge { .. })
        ));
        let gauss = |s: Ratio| Prepared::new(&Mechanism::DiscreteGaussian { sigma2: s });
        assert!(gauss(r(1 << 40, 1)).is_ok());
        assert!(gauss(r(1 << 62, 1)).is_ok());
        assert!(gauss(r(8_589_934_592_000_000_000, 1_000_000_000 - 7)).is_ok());
        assert!(gauss(r(1, 1_000_000_000)).is_ok());
        assert!(matches!(
            gauss(r(u64::MAX, 1)),
            Err(DpError::ParameterTooLarge { .. })
        ));
        assert!(matches!(
            gauss(r(u64::MAX, u64::MAX - 1)),
            Err(DpError::ParameterTooLarge { .. })
        ));
        let e = gauss(r(u64::MAX, 1)).unwrap_err().to_string();
        assert!(e.contains("2^128"), "{e}");
        // the largest parameters still sample
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        for m in [
            Mechanism::DiscreteLaplace {
                scale: r(1 << 48, 1),
            },
            Mechanism::DiscreteGaussian {
                sigma2: r(1 << 62, 1),
            },
            Mechanism::DiscreteGaussian {
                sigma2: r(8_000_000_000_000_000_000, 1_000_000_007),
            },
        ] {
            for _ in 0..50 {
                sample(&m, &mut rng).unwrap();
            }
        }
    }

    proptest! {
        #[test]
        fn wide_arithmetic(a: u128, b: u128, d in 1u128..) {
            let (hi, lo) = mul_wide(a, b);
            if let Some(p) = a.checked_mul(b) {
                prop_assert_eq!((hi, lo), (0, p));
            }
            // low half is the wrapping product
            prop_assert_eq!(lo, a.wrapping_mul(b));
            let ((qh, ql), rem) = divrem_wide(hi, lo, d);
            prop_assert!(rem < d);
            // q·d + rem = a·b (mod 2^256, and q·d ≤ a·b so exactly)
            let (h1, l1) = mul_wide(ql, d);
            let (_, h2) = mul_wide(qh, d);
            let (l, c) = l1.overflowing_add(rem);
            let h = h1.wrapping_add(h2).wrapping_add(u128::from(c));
            prop_assert_eq!((h, l), (hi, lo));
            if hi == 0 {
                prop_assert_eq!(((qh, ql), rem), ((0, lo / d), lo % d));
            }
        }

        #[test]
        fn decimal_round_trip(num in 1u64.., den in 1u64..) {
            let x = r(num, den);
            prop_assert_eq!(Ratio::from_decimal_str(&x.to_string()).unwrap(), x);
        }
    }

    #[test]
    fn uniform_below_is_in_range_and_covers() {
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        let mut seen = [0u32; 7];
        for _ in 0..7000 {
            let v = uniform_below(7, &mut rng) as usize;
            seen[v] += 1;
        }
        assert!(seen.iter().all(|&c| (850..1150).contains(&c)), "{seen:?}");
        let big = (1u128 << 100) + 3;
        for _ in 0..1000 {
            assert!(uniform_below(big, &mut rng) < big);
        }
        assert_eq!(uniform_below(1, &mut rng), 0);
    }

    /// Frequency of Bernoulli(exp(−γ)) over 200 000 draws, within 5 standard deviations.
    #[test]
    fn bernoulli_exp_frequencies() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let n = 200_000;
        for gamma in [
            r(1, 10),
            r(1, 2),
            r(1, 1),
            r(7, 3),
            r(5, 1),
            r(1_000_000_001, 1_000_000_000),
        ] {
            let p = (-gamma.to_f64()).exp();
            let hits = (0..n)
                .filter(|_| sample_bernoulli_exp(gamma, &mut rng))
                .count() as f64;
            let sd = (n as f64 * p * (1.0 - p)).sqrt();
            assert!(
                (hits - n as f64 * p).abs() < 5.0 * sd,
                "γ = {gamma}: {hits} hits, expected {}",
                n as f64 * p
            );
        }
    }

    /// The 0.999 quantile of chi-square with `df` degrees of freedom (Wilson–Hilferty).
    fn chi2_999(df: usize) -> f64 {
        let k = df as f64;
        let z = 3.0902;
        k * (1.0 - 2.0 / (9.0 * k) + z * (2.0 / (9.0 * k)).sqrt()).powi(3)
    }

    /// Chi-square goodness of fit of `draws` samples of `m` against [`pmf`]: one bin per value
    /// with an expected count of at least 20, the two tails pooled.
    fn goodness_of_fit(m: Mechanism, draws: usize, seed: u64) {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let prepared = Prepared::new(&m).unwrap();
        let n = draws as f64;
        let mut k_max = 0i64;
        while n * pmf(&m, k_max + 1) >= 20.0 {
            k_max += 1;
        }
        let width = (2 * k_max + 1) as usize;
        let mut counts = vec![0u64; width + 2]; // [<−k_max, −k_max..=k_max, >k_max]
        let mut sum = 0f64;
        let mut sum2 = 0f64;
        for _ in 0..draws {
            let z = prepared.sample(&mut rng).unwrap();
            sum += z as f64;
            sum2 += (z as f64) * (z as f64);
            let bin = if z < -k_max {
                0
            } else if z > k_max {
                width + 1
            } else {
                (z + k_max) as usize + 1
            };
            counts[bin] += 1;
        }
        let centre: f64 = (-k_max..=k_max).map(|k| pmf(&m, k)).sum();
        let tail = (1.0 - centre) / 2.0;
        let mut stat = 0.0;
        for (i, &c) in counts.iter().enumerate() {
            let p = if i == 0 || i == width + 1 {
                tail
            } else {
                pmf(&m, i as i64 - 1 - k_max)
            };
            let e = n * p;
            if e > 0.0 {
                stat += (c as f64 - e).powi(2) / e;
            }
        }
        let df = counts.len() - 1;
        assert!(
            stat < chi2_999(df),
            "{m:?}: chi-square {stat:.1} with {df} degrees of freedom (limit {:.1})",
            chi2_999(df)
        );
        // moments: mean 0, variance as stated
        let var = variance(&m);
        let mean = sum / n;
        assert!(mean.abs() < 5.0 * (var / n).sqrt(), "{m:?}: mean {mean}");
        let emp = sum2 / n - mean * mean;
        assert!(
            (emp / var - 1.0).abs() < 0.03,
            "{m:?}: variance {emp} vs {var}"
        );
    }

    #[test]
    fn discrete_laplace_fits_its_pmf() {
        // ε = 0.1, 0.5, 1, 2 (scale 1/ε) and scale 7/3
        goodness_of_fit(
            Mechanism::DiscreteLaplace { scale: r(10, 1) },
            1_000_000,
            10,
        );
        goodness_of_fit(Mechanism::DiscreteLaplace { scale: r(2, 1) }, 1_000_000, 11);
        goodness_of_fit(Mechanism::DiscreteLaplace { scale: r(1, 1) }, 300_000, 12);
        goodness_of_fit(Mechanism::DiscreteLaplace { scale: r(1, 2) }, 300_000, 13);
        goodness_of_fit(Mechanism::DiscreteLaplace { scale: r(7, 3) }, 300_000, 14);
    }

    #[test]
    fn discrete_gaussian_fits_its_pmf() {
        goodness_of_fit(
            Mechanism::DiscreteGaussian { sigma2: r(1, 1) },
            1_000_000,
            20,
        );
        goodness_of_fit(Mechanism::DiscreteGaussian { sigma2: r(9, 2) }, 300_000, 21);
        goodness_of_fit(
            Mechanism::DiscreteGaussian { sigma2: r(100, 1) },
            1_000_000,
            22,
        );
        // σ² ≈ 4 with a denominator of 2^60: the acceptance exponent needs 256-bit products
        goodness_of_fit(
            Mechanism::DiscreteGaussian {
                sigma2: r((1 << 62) + 1, 1 << 60),
            },
            200_000,
            23,
        );
    }

    #[test]
    fn analytic_moments() {
        // discrete Laplace variance 2r/(1−r)² → 2b² − 1/6 for large b
        let b = 1000.0;
        let v = variance(&Mechanism::DiscreteLaplace { scale: r(1000, 1) });
        assert!((v - (2.0 * b * b - 1.0 / 6.0)).abs() < 1e-3 * v);
        // the pmfs sum to one
        for m in [
            Mechanism::DiscreteLaplace { scale: r(7, 3) },
            Mechanism::DiscreteGaussian { sigma2: r(1, 4) },
            Mechanism::DiscreteGaussian { sigma2: r(400, 1) },
        ] {
            let total: f64 = (-2000..=2000).map(|k| pmf(&m, k)).sum();
            assert!((total - 1.0).abs() < 1e-9, "{m:?}: {total}");
        }
        // small σ: the variance is well below σ²; the two summation forms agree near σ = 16
        let small = variance(&Mechanism::DiscreteGaussian { sigma2: r(1, 4) });
        assert!(small < 0.25 && small > 0.0);
        let direct = gaussian_sum(256.0, 1) / gaussian_sum(256.0, 0);
        let theta = gaussian_sum(256.0 + 1e-9, 1) / gaussian_sum(256.0 + 1e-9, 0);
        assert!((direct - 256.0).abs() < 1e-6 && (theta - 256.0).abs() < 1e-6);
    }
}
