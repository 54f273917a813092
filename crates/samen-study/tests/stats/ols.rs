//! `fit_ols` on random and constructed data against the independent fits of
//! [`crate::ols_reference`], plus every typed refusal.

use crate::common::{assert_all_finite, assert_close, gram_of, Rng};
use crate::ols_reference::{exact, householder};
use samen_study::stats::{fit_ols, t_two_sided_p, Gram, OlsError, OlsFit};

/// Rows `(1, x_1..x_p, y)`: incomes up to 1e6, ages, and 0/1 dummies of 4-level categories
/// (first level the reference; a new category every five predictors), and a response linear
/// in them plus noise.
fn random_rows(seed: u64, n: usize, p: usize) -> Vec<Vec<i64>> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|_| {
            let mut level = 0;
            let mut row = vec![1i64];
            for j in 0..p {
                if j % 5 == 0 {
                    level = rng.range(0, 3);
                }
                row.push(match j % 5 {
                    0 => rng.range(0, 1_000_000),
                    1 => rng.range(18, 90),
                    2..=4 => i64::from(level == (j % 5) as i64 - 1),
                    _ => unreachable!(),
                });
            }
            let signal: i64 = row
                .iter()
                .enumerate()
                .map(|(j, v)| v / (1 + 1000 * (j as i64 % 5 == 1) as i64) * (j as i64 % 7 - 3))
                .sum();
            row.push(signal + rng.range(-50_000, 50_000));
            row
        })
        .collect()
}

/// Compares every field with the exact reference to 1e−12 relative, and with Householder QR
/// to 1e−9 (estimates relative to their standard error, which bounds QR's error).
fn check_against_references(rows: &[Vec<i64>]) -> OlsFit {
    let fit = fit_ols(&gram_of(rows)).unwrap();
    assert_all_finite(&fit);
    let q = rows[0].len() - 1;
    let df = (rows.len() - q) as u64;
    assert_eq!(
        (fit.n, fit.df_residual, fit.coefficients.len()),
        (rows.len() as u64, df, q)
    );
    let e = exact(rows);
    for (j, c) in fit.coefficients.iter().enumerate() {
        assert_close(&format!("estimate {j}"), c.estimate, e.estimate[j], 1e-12);
        assert_close(
            &format!("std error {j}"),
            c.std_error,
            e.std_error[j],
            1e-12,
        );
        let t = e.estimate[j] / e.std_error[j];
        assert_close(&format!("t {j}"), c.statistic, t, 1e-12);
        assert_close(
            &format!("p {j}"),
            c.p_value,
            t_two_sided_p(t, df as f64),
            1e-11,
        );
    }
    assert_close("R²", fit.r_squared, e.r_squared, 1e-12);
    assert_close("adjusted R²", fit.adj_r_squared, e.adj_r_squared, 1e-12);
    assert_close("sigma", fit.sigma, e.sigma, 1e-12);
    let h = householder(rows);
    for (j, c) in fit.coefficients.iter().enumerate() {
        assert!(
            (c.estimate - h.estimate[j]).abs() <= 1e-9 * (h.estimate[j].abs() + h.std_error[j]),
            "QR estimate {j}"
        );
        assert_close(
            &format!("QR std error {j}"),
            c.std_error,
            h.std_error[j],
            1e-9,
        );
    }
    assert!(
        (fit.r_squared - h.r_squared).abs() < 1e-9
            && (fit.adj_r_squared - h.adj_r_squared).abs() < 1e-9
    );
    assert_close("QR sigma", fit.sigma, h.sigma, 1e-9);
    fit
}

#[test]
fn ols_intercept_only() {
    let rows = random_rows(1, 40, 0);
    let fit = check_against_references(&rows);
    assert_eq!((fit.r_squared, fit.adj_r_squared), (0.0, 0.0));
}

#[test]
fn ols_random_p1_p3_p10() {
    for (seed, n, p) in [
        (2, 30, 1),
        (3, 200, 1),
        (4, 50, 3),
        (5, 300, 3),
        (6, 120, 10),
        (7, 400, 10),
    ] {
        check_against_references(&random_rows(seed, n, p));
    }
}

#[test]
fn ols_one_residual_degree_of_freedom() {
    // n = p + 2 works; n = p + 1 (and below) is refused.
    for p in [0, 1, 3] {
        let rows = random_rows(10 + p as u64, p + 2, p);
        let fit = check_against_references(&rows);
        assert_eq!(fit.df_residual, 1);
        for n in [0, 1, p + 1] {
            let few: Vec<Vec<i64>> = rows.iter().take(n).cloned().collect();
            let g = if n == 0 {
                Gram::new(p + 2, vec![0; (p + 2) * (p + 2)]).unwrap()
            } else {
                gram_of(&few)
            };
            assert_eq!(fit_ols(&g), Err(OlsError::TooFewRows { n: n as i128, p }));
        }
    }
}

#[test]
fn ols_known_answer() {
    // Rows (x1, d1, d2, y), fitted in exact rationals with mpmath p-values (40 digits).
    let data = [
        (3, 1, 0, 12),
        (5, 0, 1, 15),
        (2, 1, 1, 9),
        (8, 0, 0, 22),
        (7, 1, 0, 20),
        (1, 0, 1, 4),
        (9, 1, 1, 27),
        (4, 0, 0, 13),
        (6, 1, 0, 16),
        (10, 0, 1, 30),
        (2, 0, 0, 7),
        (5, 1, 1, 17),
    ];
    let rows: Vec<Vec<i64>> = data
        .iter()
        .map(|&(a, b, c, y)| vec![1, a, b, c, y])
        .collect();
    let expected = [
        (
            1.520310633213859,
            0.9020493106622791,
            1.6853963694043026,
            0.13040126512923914,
        ),
        (
            2.6164874551971327,
            0.13212516756531897,
            19.803096589479175,
            4.403263663268185e-08,
        ),
        (
            0.7945041816009558,
            0.7369589746734596,
            1.0780846816513687,
            0.3124266257582644,
        ),
        (
            1.1278375149342892,
            0.7369589746734596,
            1.5303938939532211,
            0.16444991764218547,
        ),
    ];
    let fit = fit_ols(&gram_of(&rows)).unwrap();
    assert_all_finite(&fit);
    for (c, &(b, se, t, p)) in fit.coefficients.iter().zip(&expected) {
        assert_close("estimate", c.estimate, b, 1e-14);
        assert_close("std error", c.std_error, se, 1e-14);
        assert_close("t", c.statistic, t, 1e-14);
        assert_close("p", c.p_value, p, 1e-12);
    }
    assert_close("R²", fit.r_squared, 0.9806148469123914, 1e-15);
    assert_close("adjusted R²", fit.adj_r_squared, 0.9733454145045383, 1e-15);
    assert_close("sigma", fit.sigma, 1.27416897273761, 1e-14);
    assert_eq!((fit.n, fit.df_residual), (12, 8));
}

#[test]
fn ols_names_the_singular_term() {
    // A category level with no matched rows: its dummy (index 3) is all zero.
    let mut rows = random_rows(20, 60, 3);
    for r in &mut rows {
        r[3] = 0;
    }
    assert_eq!(
        fit_ols(&gram_of(&rows)),
        Err(OlsError::Singular { term: 3 })
    );
    // x2 = 2·x1 + 3.
    let mut rng = Rng::new(21);
    let rows: Vec<Vec<i64>> = (0..50)
        .map(|_| {
            let x1 = rng.range(0, 1_000_000);
            vec![1, x1, 2 * x1 + 3, rng.range(0, 9), rng.range(-100, 100)]
        })
        .collect();
    assert_eq!(
        fit_ols(&gram_of(&rows)),
        Err(OlsError::Singular { term: 2 })
    );
    // All levels' dummies (the dummy trap): the last one is 1 − the others.
    let rows: Vec<Vec<i64>> = (0..30i64)
        .map(|i| {
            vec![
                1,
                i,
                i64::from(i % 2 == 0),
                i64::from(i % 2 == 1),
                i * i % 7,
            ]
        })
        .collect();
    assert_eq!(
        fit_ols(&gram_of(&rows)),
        Err(OlsError::Singular { term: 3 })
    );
    // A constant predictor is a multiple of the intercept.
    let rows: Vec<Vec<i64>> = (0..30i64).map(|i| vec![1, 5, i, i * i % 11]).collect();
    assert_eq!(
        fit_ols(&gram_of(&rows)),
        Err(OlsError::Singular { term: 1 })
    );
}

#[test]
fn ols_constant_response_and_perfect_fit() {
    let rows: Vec<Vec<i64>> = (0..20i64).map(|i| vec![1, i, i % 3, 42]).collect();
    assert_eq!(fit_ols(&gram_of(&rows)), Err(OlsError::ConstantResponse));
    let rows: Vec<Vec<i64>> = (0..20i64)
        .map(|i| vec![1, i, i % 3, 3 + 2 * i - i % 3])
        .collect();
    assert_eq!(fit_ols(&gram_of(&rows)), Err(OlsError::PerfectFit));
    // Intercept-only with a constant response.
    let rows: Vec<Vec<i64>> = (0..5).map(|_| vec![1, 7]).collect();
    assert_eq!(fit_ols(&gram_of(&rows)), Err(OlsError::ConstantResponse));
}

#[test]
fn ols_refuses_inconsistent_sums() {
    // |Σ x y| > √(Σx² Σy²): no data has these sums.
    let g = Gram::new(3, vec![3, 0, 0, 0, 1, 5, 0, 5, 1]).unwrap();
    assert_eq!(fit_ols(&g), Err(OlsError::NotPositiveSemidefinite));
    assert_eq!(
        fit_ols(&Gram::new(1, vec![9]).unwrap()),
        Err(OlsError::MissingResponse)
    );
    // Every error explains itself.
    assert!(OlsError::Singular { term: 2 }
        .to_string()
        .contains("predictor 2"));
    assert!(OlsError::TooFewRows { n: 3, p: 2 }
        .to_string()
        .contains("at least 4"));
}

#[test]
fn gram_rejects_malformed_matrices() {
    use samen_study::stats::StatsError;
    assert_eq!(Gram::new(0, vec![]), Err(StatsError::Empty));
    assert_eq!(
        Gram::new(2, vec![1, 2, 3]),
        Err(StatsError::WrongLength {
            d: 2,
            expected: 4,
            got: 3
        })
    );
    assert_eq!(
        Gram::new(2, vec![1, 2, 3, 4]),
        Err(StatsError::NotSymmetric { i: 0, j: 1 })
    );
    assert_eq!(
        Gram::new(2, vec![1, 2, 2, -4]),
        Err(StatsError::NegativeDiagonal { i: 1 })
    );
    let g = Gram::new(2, vec![4, 2, 2, 9]).unwrap();
    assert_eq!((g.n(), g.get(1, 0), g.dim()), (4, 2, 2));
}

#[test]
fn ols_large_values_stay_exact() {
    // Sums near the study's overflow bound: values up to 2^40 with large intercept offsets.
    let mut rng = Rng::new(99);
    let rows: Vec<Vec<i64>> = (0..80)
        .map(|_| {
            let x1 = (1 << 40) + rng.range(0, 1000);
            let x2 = rng.range(0, 1 << 30);
            vec![1, x1, x2, 7 * x1 - 3 * x2 + rng.range(-1 << 20, 1 << 20)]
        })
        .collect();
    let fit = fit_ols(&gram_of(&rows)).unwrap();
    assert_all_finite(&fit);
    let e = exact(&rows);
    for (j, c) in fit.coefficients.iter().enumerate() {
        assert_close("estimate", c.estimate, e.estimate[j], 1e-12);
        assert_close("std error", c.std_error, e.std_error[j], 1e-12);
    }
    assert_close("R²", fit.r_squared, e.r_squared, 1e-12);
}
