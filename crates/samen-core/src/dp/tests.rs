use super::sample::{divrem_wide, mul_wide, uniform_below};
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
    assert_eq!(ok("2.5").to_string(), "2.5");
    assert_eq!(ok("0.1").to_string(), "0.1");
    assert_eq!(ok("1e-1").to_string(), "0.1");
    assert_eq!(ok("0.0625").to_string(), "0.0625");
    assert_eq!(ok("3/7").to_string(), "3/7");
    assert_eq!(ok("7/3").to_string(), "7/3");
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
