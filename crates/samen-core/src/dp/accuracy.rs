//! The accuracy of released noise: the standard deviation and a confidence interval of the sum
//! of independent draws of one mechanism, computed from the distribution (no simulation).

use super::{variance, Mechanism};

/// Largest standard deviation for which a discrete Gaussian's interval is summed term by term;
/// above it the sum is replaced by the integral of the normal density, whose difference from
/// the sum (Euler–Maclaurin, midpoint rule) is below 10^−9 in probability there.
const DIRECT_SUM_SD: f64 = 65_536.0;

/// The variance of the sum of `draws` independent draws of `m` (`draws` times
/// [`super::variance`]).
pub fn sum_variance(m: &Mechanism, draws: u32) -> f64 {
    f64::from(draws) * variance(m)
}

/// The smallest integer `h ≥ 0` such that the sum `Z` of `draws` independent draws of `m`
/// (`draws` 1 or 2) satisfies `P(|Z| ≤ h) ≥ level`: the half-width of the central interval that
/// holds the noise with probability `level` (0 < level < 1). Returns `None` for other `draws`
/// or levels.
///
/// Exact forms: one discrete Laplace of scale `b` (`r = e^{−1/b}`) has
/// `P(|Z| > h) = 2r^{h+1}/(1 + r)`; the sum of two has
/// `P(Z = k) = c² r^{|k|} (|k| + 1 + 2r²/(1 − r²))` with `c = (1 − r)/(1 + r)`, whose tail is a
/// closed form. The sum of two discrete Gaussians with parameter σ² has
/// `P(Z = k) ∝ e^{−k²/(4σ²)} θ_{k mod 2}` with `θ_0 = Σ_j e^{−j²/σ²}` and
/// `θ_1 = Σ_j e^{−(j − ½)²/σ²}`; it is summed term by term up to a standard deviation of 2^16
/// and integrated above.
pub fn half_width(m: &Mechanism, draws: u32, level: f64) -> Option<u64> {
    if !(level > 0.0 && level < 1.0 && (1..=2).contains(&draws)) {
        return None;
    }
    let alpha = 1.0 - level;
    match m {
        Mechanism::DiscreteLaplace { scale } => {
            let b = scale.to_f64();
            let tail = |h: u64| laplace_tail(b, draws, h);
            Some(smallest_h(alpha, tail))
        }
        Mechanism::DiscreteGaussian { sigma2 } => {
            let s2 = sigma2.to_f64();
            let tau = (f64::from(draws) * s2).sqrt();
            if tau <= DIRECT_SUM_SD {
                Some(gaussian_direct(s2, draws, alpha))
            } else {
                // P(|Z| > h) ≈ 2 ∫_{h+½}^∞ φ_τ = 2 Q((h + ½)/τ)
                Some(smallest_h(alpha, |h| {
                    2.0 * normal_upper_tail((h as f64 + 0.5) / tau)
                }))
            }
        }
    }
}

/// `P(|Z| > h)` for the sum of `draws` (1 or 2) discrete Laplace draws of scale `b`.
fn laplace_tail(b: f64, draws: u32, h: u64) -> f64 {
    let hf = h as f64;
    // r = e^{−1/b}, 1 − r computed without cancellation
    let r = (-1.0 / b).exp();
    let one_minus_r = -(-1.0 / b).exp_m1();
    let r_h1 = (-(hf + 1.0) / b).exp();
    if draws == 1 {
        return 2.0 * r_h1 / (1.0 + r);
    }
    let c = one_minus_r / (1.0 + r);
    let a = 2.0 * r * r / (one_minus_r * (1.0 + r));
    let s0 = r_h1 / one_minus_r;
    let s1 = r_h1 * ((hf + 1.0) - hf * r) / (one_minus_r * one_minus_r);
    (2.0 * c * c * ((1.0 + a) * s0 + s1)).min(1.0)
}

/// The smallest `h` with `tail(h) ≤ alpha` for a non-increasing `tail`.
fn smallest_h(alpha: f64, tail: impl Fn(u64) -> f64) -> u64 {
    let mut hi: u64 = 1;
    while tail(hi) > alpha {
        if hi >= 1 << 62 {
            return hi;
        }
        hi *= 2;
    }
    let mut lo: u64 = 0;
    if tail(lo) <= alpha {
        return 0;
    }
    // tail(lo) > alpha ≥ tail(hi)
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if tail(mid) > alpha {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi
}

/// The half-width for the sum of `draws` discrete Gaussians with parameter `s2`, by summing the
/// probabilities term by term (up to 40 standard deviations, beyond which the mass is below
/// e^{−800}).
fn gaussian_direct(s2: f64, draws: u32, alpha: f64) -> u64 {
    let tau = (f64::from(draws) * s2).sqrt();
    let k_max = (40.0 * tau).ceil() as u64 + 2;
    let theta = |odd: bool| -> f64 {
        let shift = if odd { 0.5 } else { 0.0 };
        let j_max = (40.0 * s2.sqrt()).ceil() as i64 + 2;
        (-j_max..=j_max)
            .map(|j| {
                let d = j as f64 - shift;
                (-d * d / s2).exp()
            })
            .sum()
    };
    let (t0, t1) = if draws == 2 {
        (theta(false), theta(true))
    } else {
        (1.0, 1.0)
    };
    let weight = |k: u64| -> f64 {
        let kf = k as f64;
        if draws == 2 {
            (-kf * kf / (4.0 * s2)).exp() * if k.is_multiple_of(2) { t0 } else { t1 }
        } else {
            (-kf * kf / (2.0 * s2)).exp()
        }
    };
    let weights: Vec<f64> = (0..=k_max).map(weight).collect();
    let total: f64 =
        weights.first().copied().unwrap_or(0.0) + 2.0 * weights.iter().skip(1).sum::<f64>();
    // tail(h) = 2 Σ_{k>h} w(k) / total; walk down from the far end
    let mut above = 0.0;
    let mut h = k_max;
    while h > 0 {
        let next = above + weights.get(h as usize).copied().unwrap_or(0.0);
        if 2.0 * next / total > alpha {
            return h;
        }
        above = next;
        h -= 1;
    }
    0
}

/// `P(X > x)` for a standard normal `X` and `x ≥ 0`, by Simpson's rule on `[x, x + 40]`
/// (error far below 10^−12).
fn normal_upper_tail(x: f64) -> f64 {
    let n = 40_000usize;
    let step = 40.0 / n as f64;
    let phi = |t: f64| (-t * t / 2.0).exp() / (2.0 * std::f64::consts::PI).sqrt();
    let mut s = phi(x) + phi(x + 40.0);
    for i in 1..n {
        let t = x + i as f64 * step;
        s += if i % 2 == 1 { 4.0 } else { 2.0 } * phi(t);
    }
    s * step / 3.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dp::{pmf, Ratio};

    /// The half-width by convolving the probabilities numerically.
    fn brute(m: &Mechanism, draws: u32, level: f64) -> u64 {
        let k = 4000i64;
        let one: Vec<f64> = (-k..=k).map(|v| pmf(m, v)).collect();
        let dist: Vec<f64> = if draws == 1 {
            one.clone()
        } else {
            let mut out = vec![0.0; one.len() * 2 - 1];
            for (i, a) in one.iter().enumerate() {
                for (j, b) in one.iter().enumerate() {
                    out[i + j] += a * b;
                }
            }
            out
        };
        let mid = (dist.len() / 2) as i64;
        let mut h = 0i64;
        loop {
            let inside: f64 = ((mid - h)..=(mid + h)).map(|i| dist[i as usize]).sum();
            if inside >= level {
                return h as u64;
            }
            h += 1;
        }
    }

    #[test]
    fn half_widths_match_a_numerical_convolution() {
        for (num, den) in [(1, 1), (2, 1), (20, 1), (7, 3), (1, 2)] {
            let m = Mechanism::DiscreteLaplace {
                scale: Ratio::new(num, den).unwrap(),
            };
            for draws in [1, 2] {
                for level in [0.5, 0.9, 0.95, 0.99] {
                    assert_eq!(
                        half_width(&m, draws, level),
                        Some(brute(&m, draws, level)),
                        "Laplace {num}/{den}, {draws} draws, {level}"
                    );
                }
            }
        }
        for (num, den) in [(1, 1), (9, 1), (400, 1), (5, 2)] {
            let m = Mechanism::DiscreteGaussian {
                sigma2: Ratio::new(num, den).unwrap(),
            };
            for draws in [1, 2] {
                for level in [0.5, 0.95, 0.99] {
                    assert_eq!(
                        half_width(&m, draws, level),
                        Some(brute(&m, draws, level)),
                        "Gaussian {num}/{den}, {draws} draws, {level}"
                    );
                }
            }
        }
    }

    #[test]
    fn large_scales_agree_with_the_normal_limit() {
        // two discrete Laplace draws of scale b: sd = 2b (approximately); 95 % at about 2.9·sd
        let m = Mechanism::DiscreteLaplace {
            scale: Ratio::new(200_000, 1).unwrap(),
        };
        let h = half_width(&m, 2, 0.95).unwrap() as f64;
        // closed form of the continuous limit: P(|L1 + L2| > x) = e^{−x/b}(1 + x/(2b))
        let x = 200_000.0 * 4.113_003_3;
        assert!((h / x - 1.0).abs() < 1e-3, "{h} vs {x}");
        // two discrete Gaussians of σ = 10^6 (integral branch) and of σ = 4·10^4 (summed)
        for sigma in [1e6f64, 4e4] {
            let m = Mechanism::DiscreteGaussian {
                sigma2: Ratio::new((sigma * sigma) as u64, 1).unwrap(),
            };
            let h = half_width(&m, 2, 0.95).unwrap() as f64;
            let want = 1.959964 * sigma * 2f64.sqrt();
            assert!((h - want).abs() <= 1e-5 * want + 1.0, "{h} vs {want}");
        }
        assert_eq!(half_width(&m, 3, 0.95), None);
        assert_eq!(half_width(&m, 2, 1.0), None);
    }
}
