//! Differential privacy: each data party adds its own noise draw inside MPC; the helper takes
//! no part in it.
// Test and benchmark code: a failed unwrap, expect or index is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use common::{output, random_tables, study_header, Rng};
use samen_core::dp::Ratio;
use samen_study::reference;
use samen_study::session::run_in_process;
use samen_study::spec::{Privacy, Study};

fn with_budget(text: String, budget: &str) -> String {
    // Append the budget to the last output section.
    format!("{text}{budget}\n")
}

fn numbers(t: &samen_study::OutputTable, column: &str, rows: usize) -> Vec<i64> {
    (0..rows)
        .map(|i| t.get(i, column).unwrap().parse().unwrap())
        .collect()
}

/// Noisy counts: noisy − exact over many cells and runs has the spread of two discrete Laplace
/// draws of scale 2/ε (replace-one neighbours: sensitivity 2), and the noise differs between
/// runs.
#[test]
fn noisy_counts_follow_the_mechanism_and_differ_between_runs() {
    let epsilon = 0.5f64;
    let text = with_budget(
        study_header(0, 10, 0, 10) + &output("n", "count", None, &["ta.ca", "tb.cd"], 0),
        "epsilon = 0.5",
    );
    let study = Study::from_toml_str(&text).unwrap();
    assert_eq!(
        study.outputs()[0].privacy,
        Some(Privacy::Epsilon(Ratio::new(1, 2).unwrap()))
    );
    let mut rng = Rng::new(3);
    let (ta, tb) = random_tables(&mut rng, 80, 70, 50, (0, 10), (0, 10));
    let a = ta.validate(&study, "ta").unwrap();
    let b = tb.validate(&study, "tb").unwrap();
    let exact = numbers(&reference::compute(&study, &[&a, &b])[0], "count", 9);
    let mut errors = Vec::new();
    let mut runs = Vec::new();
    for _ in 0..40 {
        let run = run_in_process(&study, [&a, &b], false).unwrap();
        let noisy = numbers(&run.tables[0], "count", 9);
        errors.extend(noisy.iter().zip(&exact).map(|(n, e)| (n - e) as f64));
        runs.push(noisy);
    }
    assert!(runs.windows(2).any(|w| w[0] != w[1]), "noise must be fresh");
    let n = errors.len() as f64;
    let mean = errors.iter().sum::<f64>() / n;
    let var = errors.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / n;
    // Two draws of discrete Laplace with scale 2/ε: variance 2 · 2·e^{−ε/2}/(1 − e^{−ε/2})².
    let p = (-epsilon / 2.0).exp();
    let expected = 2.0 * 2.0 * p / (1.0 - p).powi(2);
    assert!(mean.abs() < 2.0, "mean {mean}");
    assert!(
        (var / expected - 1.0).abs() < 0.35,
        "variance {var}, expected {expected}"
    );
    assert!(errors.iter().any(|&e| e != 0.0));
}

/// Sums and variances get noise too (the budget split over count, Σv, Σv²); suppression is
/// decided on the noisy count; without a budget the same study is exact.
#[test]
fn noisy_sums_and_suppression_on_noisy_counts() {
    let base = study_header(-5, 5, 0, 3) + &output("v", "variance", Some("tb.vb"), &["ta.ca"], 3);
    let exact_study = Study::from_toml_str(&base).unwrap();
    let noisy_study = Study::from_toml_str(&with_budget(base, "epsilon = 2.0")).unwrap();
    let mut rng = Rng::new(9);
    let (ta, tb) = random_tables(&mut rng, 60, 60, 45, (-5, 5), (0, 3));
    let a = ta.validate(&exact_study, "ta").unwrap();
    let b = tb.validate(&exact_study, "tb").unwrap();
    let exact = run_in_process(&exact_study, [&a, &b], false).unwrap();
    assert_eq!(exact.tables, reference::compute(&exact_study, &[&a, &b]));
    let mut differs = false;
    for _ in 0..5 {
        let noisy = run_in_process(&noisy_study, [&a, &b], false).unwrap();
        let t = &noisy.tables[0];
        for i in 0..3 {
            match t.get(i, "suppressed") {
                Some("primary") => assert!(t.get(i, "count").is_none()),
                Some("false") => {
                    let c: i64 = t.get(i, "count").unwrap().parse().unwrap();
                    assert!(
                        c >= 3,
                        "a shown cell has a noisy count of at least min_cell"
                    );
                    differs |= t.get(i, "mean") != exact.tables[0].get(i, "mean");
                }
                other => panic!("{other:?}"),
            }
        }
    }
    assert!(differs, "noisy means differ from the exact ones");
}

/// A budget too small for the declared bounds is refused at validation, naming the output.
#[test]
fn unsampleable_budgets_are_refused() {
    let text = with_budget(
        study_header(-(1 << 40), 1 << 40, 0, 1) + &output("v", "variance", Some("ta.va"), &[], 0),
        "epsilon = 0.001",
    );
    let e = Study::from_toml_str(&text).unwrap_err().to_string();
    assert!(e.contains("output 'v'") && e.contains("limit"), "{e}");
    let both = with_budget(
        study_header(0, 1, 0, 1) + &output("n", "count", None, &[], 0),
        "epsilon = 1.0\nrho = 0.5",
    );
    assert!(Study::from_toml_str(&both).is_err());
}

/// The discrete Gaussian (ρ-zCDP) path runs end to end.
#[test]
fn rho_uses_the_discrete_gaussian() {
    let text = with_budget(
        study_header(0, 10, 0, 10) + &output("s", "sum", Some("ta.va"), &["tb.cc"], 0),
        "rho = 0.25",
    );
    let study = Study::from_toml_str(&text).unwrap();
    let mut rng = Rng::new(4);
    let (ta, tb) = random_tables(&mut rng, 40, 40, 30, (0, 10), (0, 10));
    let a = ta.validate(&study, "ta").unwrap();
    let b = tb.validate(&study, "tb").unwrap();
    let run = run_in_process(&study, [&a, &b], false).unwrap();
    assert_eq!(run.tables[0].main().unwrap().rows.len(), 2);
}

/// Budgets as users write them: 0.1, 0.3, 1e-1 and 3/7 on means of columns bounded by 10^4
/// and by 10^9 validate, and a study with ε = 0.1 on a bounded mean runs.
#[test]
fn ordinary_budgets_validate_and_run() {
    for budget in [
        "epsilon = 0.1",
        "epsilon = 0.3",
        "epsilon = 1e-1",
        "epsilon = \"3/7\"",
    ] {
        for max in [10_000, 1_000_000_000] {
            let text = with_budget(
                study_header(0, max, 0, max) + &output("m", "mean", Some("ta.va"), &["tb.cc"], 0),
                budget,
            );
            let study = Study::from_toml_str(&text)
                .unwrap_or_else(|e| panic!("{budget}, bound {max}: {e}"));
            assert!(study.outputs()[0].privacy.is_some());
        }
    }
    let text = with_budget(
        study_header(0, 10_000, 0, 10_000) + &output("m", "mean", Some("ta.va"), &["tb.cc"], 0),
        "epsilon = 0.1",
    );
    let study = Study::from_toml_str(&text).unwrap();
    let mut rng = Rng::new(5);
    let (ta, tb) = random_tables(&mut rng, 60, 60, 45, (0, 10_000), (0, 10_000));
    let a = ta.validate(&study, "ta").unwrap();
    let b = tb.validate(&study, "tb").unwrap();
    let run = run_in_process(&study, [&a, &b], false).unwrap();
    assert_eq!(run.tables[0].main().unwrap().rows.len(), 2);
}

/// The released noise of a sum has the variance the accuracy report states (two draws of the
/// mechanism the plan gives the quantity), measured over many cells and runs.
#[test]
fn released_noise_has_the_reported_variance() {
    let text = with_budget(
        study_header(0, 10, 0, 10) + &output("s", "sum", Some("ta.va"), &["ta.ca", "tb.cd"], 0),
        "epsilon = 2",
    );
    let study = Study::from_toml_str(&text).unwrap();
    let report = samen_study::privacy::report(&study).unwrap();
    let (count_sd, sum_sd) = (report[0].quantities[0].sd, report[0].quantities[1].sd);
    let mut rng = Rng::new(8);
    let (ta, tb) = random_tables(&mut rng, 80, 70, 50, (0, 10), (0, 10));
    let a = ta.validate(&study, "ta").unwrap();
    let b = tb.validate(&study, "tb").unwrap();
    let exact = &reference::compute(&study, &[&a, &b])[0];
    let (exact_n, exact_s) = (numbers(exact, "count", 9), numbers(exact, "sum", 9));
    let (mut en, mut es) = (Vec::new(), Vec::new());
    for _ in 0..60 {
        let run = run_in_process(&study, [&a, &b], false).unwrap();
        let t = &run.tables[0];
        en.extend(
            numbers(t, "count", 9)
                .iter()
                .zip(&exact_n)
                .map(|(x, y)| (x - y) as f64),
        );
        es.extend(
            numbers(t, "sum", 9)
                .iter()
                .zip(&exact_s)
                .map(|(x, y)| (x - y) as f64),
        );
    }
    for (what, e, sd) in [("count", &en, count_sd), ("sum", &es, sum_sd)] {
        let n = e.len() as f64;
        let var = e.iter().map(|x| x * x).sum::<f64>() / n;
        // 540 draws of a Laplace-like sum: the sample variance is within 30 % with
        // overwhelming probability (relative standard deviation about 9 %)
        assert!(
            (var / (sd * sd) - 1.0).abs() < 0.3,
            "{what}: variance {var}, reported {}",
            sd * sd
        );
    }
}
