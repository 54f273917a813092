//! Student's t distribution: the two-sided tail probability used for coefficient p-values.
//!
//! `P(|T| ≥ |t|) = I_x(ν/2, 1/2)` with `x = ν/(ν + t²)`, where `I` is the regularised incomplete
//! beta function. It is evaluated as in *Numerical Recipes* (`betai`): a prefactor
//! `x^a (1−x)^b / (a·B(a, b))` times a continued fraction evaluated by the modified Lentz method,
//! on whichever side of `(a+1)/(a+b+2)` the fraction converges fast (the other side by the
//! symmetry `I_x(a, b) = 1 − I_{1−x}(b, a)`, used only where the result is at least about 0.08,
//! so the subtraction loses at most one digit).
//!
//! For ν ≥ 200 and `ln(1 + t²/ν) ≤ 2`, where `x` is so close to 1 that the continued fraction
//! would lose digits to cancellation, the asymptotic expansion of DiDonato and Morris
//! (TOMS 708, `bgrat`) for large `a` and small `b` takes over, specialised to `b = 1/2`:
//! `P = Σ_k d_k Γ(2k+½, u) / (B(ν/2, ½) T^{2k+½})` with `T = ν/2 − 1/4`,
//! `u = T ln(1 + t²/ν)` and `d_k` the coefficients of `(sinh(v/2)/(v/2))^{−1/2}` in `v²`;
//! `Γ(½, u) = √π erfc(√u)` starts an upward recurrence of positive terms.
//!
//! In both, the prefactor is formed as one logarithm in which no two large terms cancel:
//!
//! - `ln x = −ln(1 + t²/ν)` and `ln(1−x) = −ln(1 + ν/t²)` (via `ln_1p`, never `1 − x`);
//! - `ln B(a, 1/2) = ln Γ(1/2) + [ln Γ(a) − ln Γ(a + 1/2)]`, where the bracket comes from
//!   Stirling's formula with its remainder series δ(a) (eight terms, error below 1e−17 for
//!   a ≥ 10), written so that only O(1) quantities are added, and from the recurrence
//!   `Γ(a)/Γ(a+½) = Γ(a+k)/Γ(a+k+½) · ∏ (a+i+½)/(a+i)` for a < 10.
//!
//! The absolute error of the logarithm of the result is then a few units of 1e−16 times the
//! magnitude of its terms (about `t²/2` for large ν), so small p-values keep their relative
//! accuracy until they leave the range of `f64`.

/// From this many degrees of freedom on, the large-ν expansion replaces the continued fraction
/// wherever `ln(1 + t²/ν) ≤ 2`: there `x = ν/(ν + t²)` is close to 1 and the continued fraction
/// loses about `log₁₀(ν/t²)` digits to cancellation.
const LARGE_DF: f64 = 200.0;

/// ln Γ(1/2) = ln √π.
const LN_SQRT_PI: f64 = 0.572_364_942_924_700_087_071_713_675_677;

/// Stirling's remainder δ(a) = ln Γ(a) − [(a − ½) ln a − a + ½ ln 2π], for a ≥ 10.
///
/// The asymptotic series Σ B₂ₖ / (2k(2k−1) a^(2k−1)) to k = 8; the first omitted term is below
/// 2e−18 at a = 10.
fn stirling_remainder(a: f64) -> f64 {
    // B₂ₖ / (2k(2k−1)) for k = 1..=8.
    const C: [f64; 8] = [
        1.0 / 12.0,
        -1.0 / 360.0,
        1.0 / 1260.0,
        -1.0 / 1680.0,
        1.0 / 1188.0,
        -691.0 / 360_360.0,
        1.0 / 156.0,
        -3617.0 / 122_400.0,
    ];
    let inv = 1.0 / a;
    let inv2 = inv * inv;
    let mut sum = 0.0;
    for c in C.iter().rev() {
        sum = sum * inv2 + c;
    }
    sum * inv
}

/// ln Γ(a) − ln Γ(a + ½) for a > 0, without cancellation between the two log-gammas.
fn ln_gamma_ratio_half(a: f64) -> f64 {
    // Shift a up to at least 10, remembering ∏ (a+i+½)/(a+i).
    let mut shifted = a;
    let mut product = 1.0;
    while shifted < 10.0 {
        product *= (shifted + 0.5) / shifted;
        shifted += 1.0;
    }
    // ln Γ(s) − ln Γ(s+½) = −½ ln s − [s ln(1 + 1/(2s)) − ½] + δ(s) − δ(s+½).
    let s = shifted;
    let bracket = s * (0.5 / s).ln_1p() - 0.5;
    -0.5 * s.ln() - bracket + stirling_remainder(s) - stirling_remainder(s + 0.5) + product.ln()
}

/// The continued fraction of the incomplete beta function (modified Lentz), as in
/// *Numerical Recipes* `betacf`; converges fast for `x < (a+1)/(a+b+2)`.
fn beta_continued_fraction(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    const EPS: f64 = 1e-16;
    // Far more than the O(√max(a, b)) iterations needed for ν up to 1e8 (about 1e4).
    const MAX_ITERATIONS: u32 = 1_000_000;
    let guard = |v: f64| if v.abs() < TINY { TINY } else { v };
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 / guard(1.0 - qab * x / qap);
    let mut h = d;
    for m in 1..=MAX_ITERATIONS {
        let m = f64::from(m);
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 / guard(1.0 + aa * d);
        c = guard(1.0 + aa / c);
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 / guard(1.0 + aa * d);
        c = guard(1.0 + aa / c);
        let step = d * c;
        h *= step;
        if (step - 1.0).abs() < EPS {
            break;
        }
    }
    h
}

/// `Q(1/2, x)·eˣ = erfc(√x)·eˣ` (the scaled upper regularised incomplete gamma function at
/// one half), accurate to a few units of 1e−16 relative for all `x ≥ 0`.
///
/// For `x < 1.5` the series of `P(1/2, x)` (positive terms) and `1 − P` (the result is at least
/// 0.08 there, so the subtraction loses at most one digit); otherwise Legendre's continued
/// fraction (modified Lentz), as in *Numerical Recipes* `gser` / `gcf`.
fn scaled_erfc_sqrt(x: f64) -> f64 {
    const EPS: f64 = 1e-17;
    const TINY: f64 = 1e-300;
    const MAX_ITERATIONS: u32 = 10_000;
    const SQRT_PI: f64 = 1.772_453_850_905_516_027_298_167_483_341;
    if x < 1.5 {
        // P(½, x) = e^{−x} x^½ / Γ(3/2) · Σ xⁿ / ((3/2)(5/2)…(½+n)).
        let (mut term, mut sum, mut ap) = (2.0, 2.0, 0.5);
        for _ in 0..MAX_ITERATIONS {
            ap += 1.0;
            term *= x / ap;
            sum += term;
            if term < sum * EPS {
                break;
            }
        }
        // Γ(3/2) = √π / 2, folded into the starting value 2 = 1/(a·…) with a = ½.
        let p = sum * (-x).exp() * x.sqrt() / SQRT_PI;
        return (1.0 - p) * x.exp();
    }
    let guard = |v: f64| if v.abs() < TINY { TINY } else { v };
    let mut b = x + 0.5;
    let mut c = 1.0 / TINY;
    let mut d = 1.0 / b;
    let mut h = d;
    for i in 1..=MAX_ITERATIONS {
        let i = f64::from(i);
        let an = -i * (i - 0.5);
        b += 2.0;
        d = 1.0 / guard(an * d + b);
        c = guard(b + an / c);
        let step = d * c;
        h *= step;
        if (step - 1.0).abs() < EPS {
            break;
        }
    }
    x.sqrt() / SQRT_PI * h
}

/// `P(|T| ≥ t)` for large ν by the expansion of DiDonato and Morris (TOMS 708, `bgrat`),
/// specialised to `b = 1/2`.
///
/// With `s = e^{−v}` and `T = ν/2 − 1/4`, `I_x(ν/2, ½) = ∫_{v₀}^∞ e^{−Tv} v^{−½} φ(v) dv / B`,
/// where `v₀ = ln(1 + t²/ν)`, `B = B(ν/2, ½)` and `φ(v) = (sinh(v/2)/(v/2))^{−½} = Σ d_k v^{2k}`.
/// Term by term, `∫_{v₀}^∞ e^{−Tv} v^{2k−½} dv = T^{−(2k+½)} Γ(2k+½, T v₀)`. The series
/// converges like `(v₀/2π)^{2k}` (φ's radius of convergence is 2π) and is asymptotic in `1/T`
/// with terms below `(2k)!/(2πT)^{2k}`; all its terms are positive after the first few.
#[expect(clippy::indexing_slicing, reason = "series indices below the fixed array length TERMS")]
fn t_tail_large_df(df: f64, v0: f64) -> f64 {
    const TERMS: usize = 24;
    const SQRT_PI: f64 = 1.772_453_850_905_516_027_298_167_483_341;
    let a = 0.5 * df;
    let big_t = a - 0.25;
    let u = big_t * v0;
    // f_k: coefficients of sinh(h)/h with h = v/2, in w = v²: 1 / (4ᵏ (2k+1)!).
    let mut f = [0.0f64; TERMS];
    let mut coefficient = 1.0;
    for (k, slot) in f.iter_mut().enumerate() {
        if k > 0 {
            let k = k as f64;
            coefficient /= 4.0 * (2.0 * k) * (2.0 * k + 1.0);
        }
        *slot = coefficient;
    }
    // d_k: coefficients of f^{−½}: d_n = (1/n) Σ_{k=1}^{n} (k/2 − n) f_k d_{n−k}.
    let mut d = [0.0f64; TERMS];
    d[0] = 1.0;
    for n in 1..TERMS {
        let mut sum = 0.0;
        for k in 1..=n {
            sum += (0.5 * k as f64 - n as f64) * f[k] * d[n - k];
        }
        d[n] = sum / n as f64;
    }
    // H(s) = eᵘ Γ(s, u) / √π, by H(s+1) = s H(s) + u^s / √π from H(½) = eᵘ erfc(√u).
    let ln_u = u.ln();
    let mut h = scaled_erfc_sqrt(u);
    let mut s = 0.5;
    let inv_t2 = 1.0 / (big_t * big_t);
    let mut scale = 1.0; // T^{−2k}
    let mut sum = h;
    for d_k in d.iter().skip(1) {
        for _ in 0..2 {
            h = s * h + (s * ln_u).exp() / SQRT_PI;
            s += 1.0;
        }
        scale *= inv_t2;
        let term = d_k * h * scale;
        sum += term;
        if term.abs() < 1e-17 * sum {
            break;
        }
    }
    // 1/(B(a,½) √T) = Γ(a+½) / (Γ(a) √π √T); the √π cancels against H's.
    (-ln_gamma_ratio_half(a) - 0.5 * big_t.ln() - u).exp() * sum
}

/// Two-sided p-value of Student's t with `df` degrees of freedom: `P(|T| ≥ |t|)`.
///
/// Accurate to about 1e−13 relative for `df` in [1, 1e8] wherever the result is a normal
/// `f64` (beyond that the problem itself is ill-conditioned: the result's relative
/// sensitivity to a relative change of `t` is about `t²`). Returns exactly 1 for `t = 0` and
/// 0 for infinite `t` or when the result underflows. Returns NaN only for NaN `t`, or for a
/// `df` that is not a finite positive number.
///
/// ```
/// use samen_study::stats::t_two_sided_p;
/// let p = t_two_sided_p(2.0, 10.0);
/// assert!((p - 0.073_388_034_770_740_6).abs() < 1e-15);
/// ```
pub fn t_two_sided_p(t: f64, df: f64) -> f64 {
    if t.is_nan() || !df.is_finite() || df <= 0.0 {
        return f64::NAN;
    }
    let t = t.abs();
    if t == 0.0 {
        return 1.0;
    }
    if t.is_infinite() {
        return 0.0;
    }
    let (a, b) = (0.5 * df, 0.5);
    // t² may overflow or underflow on its own; ratios and logs are formed without it when it
    // would.
    let ratio_t_df = (t / df) * t; // t²/ν
    let ratio_df_t = (df / t) / t; // ν/t²
                                   // x = ν/(ν+t²), y = 1 − x = t²/(ν+t²), each without cancellation.
    let (x, y) = if ratio_t_df.is_finite() && ratio_t_df > 0.0 {
        (1.0 / (1.0 + ratio_t_df), ratio_t_df / (1.0 + ratio_t_df))
    } else if ratio_t_df == 0.0 {
        (1.0, ratio_t_df)
    } else {
        (0.0, 1.0)
    };
    let ln_x = if ratio_t_df.is_finite() {
        -ratio_t_df.ln_1p()
    } else {
        df.ln() - 2.0 * t.ln()
    };
    let ln_y = if ratio_df_t.is_finite() {
        -ratio_df_t.ln_1p()
    } else {
        2.0 * t.ln() - df.ln()
    };
    if df >= LARGE_DF && ratio_t_df.is_finite() && ratio_t_df.ln_1p() <= 2.0 {
        return t_tail_large_df(df, ratio_t_df.ln_1p()).clamp(0.0, 1.0);
    }
    let ln_beta = LN_SQRT_PI + ln_gamma_ratio_half(a);
    let ln_front = a * ln_x + b * ln_y - ln_beta;
    let front = ln_front.exp();
    let p = if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_continued_fraction(a, b, x) / a
    } else {
        1.0 - front * beta_continued_fraction(b, a, y) / b
    };
    p.clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaled_erfc_matches_closed_values() {
        // erfc(√x)·eˣ at x = 1, 2, 9 (mpmath, rounded to f64), either side of x = 1.5.
        for (x, expected) in [
            (1.0, 0.427_583_576_155_807),
            (2.0, 0.336_204_002_446_341_2),
            (9.0, 0.179_001_151_181_389_96),
        ] {
            let got = scaled_erfc_sqrt(x);
            assert!(((got - expected) / expected).abs() < 3e-15, "x={x}: {got}");
        }
        assert_eq!(scaled_erfc_sqrt(0.0), 1.0);
    }

    #[test]
    fn gamma_ratio_matches_closed_forms() {
        // Γ(1)/Γ(3/2) = 2/√π; Γ(1/2)/Γ(1) = √π; Γ(10)/Γ(10.5) at the switch-over point.
        let pi = std::f64::consts::PI;
        assert!((ln_gamma_ratio_half(1.0) - (2.0 / pi.sqrt()).ln()).abs() < 1e-15);
        assert!((ln_gamma_ratio_half(0.5) - pi.sqrt().ln()).abs() < 1e-15);
        // Γ(n+½) = (2n)! √π / (4ⁿ n!): Γ(10)/Γ(10.5) = 9!·4¹⁰·10!/(20!·√π).
        let exact =
            (362_880.0_f64 * 1_048_576.0 * 3_628_800.0 / 2_432_902_008_176_640_000.0 / pi.sqrt())
                .ln();
        assert!((ln_gamma_ratio_half(10.0) - exact).abs() < 1e-14);
        assert!((ln_gamma_ratio_half(9.999_999) - ln_gamma_ratio_half(10.0)).abs() < 1e-6);
    }
}
