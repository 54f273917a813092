//! Regression and correlation over the private join, against independent plaintext fits.
// Test and benchmark code: a failed unwrap, expect or index is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;
#[path = "stats/ols_reference.rs"]
#[allow(dead_code)]
mod ols_reference;

use common::{study_header, with_join, Rng, JOIN_METHODS};
use samen_study::input::InputTable;
use samen_study::reference;
use samen_study::session::run_in_process;
use samen_study::spec::Study;
use samen_study::OutputTable;

/// One joined person: (ca, cb, va) of table ta and (cc, cd, vb) of table tb.
#[derive(Clone, Copy, Debug)]
struct Person {
    ca: u64,
    cb: u64,
    va: i64,
    cc: u64,
    cd: u64,
    vb: i64,
}

/// Tables with `matched` joined people (plus unmatched rows on both sides), and the people.
/// `levels_ca` limits the levels of ca that occur among the matched rows.
fn data(rng: &mut Rng, matched: usize, levels_ca: u64) -> (InputTable, InputTable, Vec<Person>) {
    data_with(rng, matched, |_, rng| rng.below(levels_ca))
}

/// [`data`] with the level of ca of matched person `i` given by `level_ca(i, rng)`.
fn data_with(
    rng: &mut Rng,
    matched: usize,
    level_ca: impl Fn(usize, &mut Rng) -> u64,
) -> (InputTable, InputTable, Vec<Person>) {
    let mut ta = InputTable::new(&["id", "ca", "cb", "va"]);
    let mut tb = InputTable::new(&["id", "cc", "cd", "vb"]);
    let mut people = Vec::new();
    for i in 0..matched {
        let ca = level_ca(i, rng);
        let cb = rng.below(2);
        let va = rng.range(-1000, 100_000);
        let cc = rng.below(2);
        let cd = rng.below(3);
        // A response that depends on the predictors, plus noise.
        let vb = (va / 1000 + 7 * ca as i64 - 4 * cd as i64 + rng.range(-20, 20)).clamp(-500, 500);
        ta.push(vec![
            format!("p{i}"),
            format!("a{ca}"),
            format!("b{cb}"),
            va.to_string(),
        ]);
        tb.push(vec![
            format!("p{i}"),
            format!("c{cc}"),
            format!("d{cd}"),
            vb.to_string(),
        ]);
        people.push(Person {
            ca,
            cb,
            va,
            cc,
            cd,
            vb,
        });
    }
    for i in 0..7 {
        ta.push(vec![
            format!("x{i}"),
            "a2".into(),
            "b0".into(),
            "99999".into(),
        ]);
        tb.push(vec![
            format!("y{i}"),
            "c0".into(),
            "d2".into(),
            "-500".into(),
        ]);
    }
    (ta, tb, people)
}

fn regression(name: &str, of: &str, x: &[&str], min_cell: u64) -> String {
    let x: Vec<String> = x.iter().map(|c| format!("\"{c}\"")).collect();
    format!(
        "\n[[outputs]]\nname = \"{name}\"\nstatistic = \"regression\"\nof = \"{of}\"\nx = [{}]\nmin_cell = {min_cell}\n",
        x.join(", ")
    )
}

fn run(study: &Study, ta: &InputTable, tb: &InputTable) -> Vec<OutputTable> {
    let a = ta.validate(study, "ta").unwrap();
    let b = tb.validate(study, "tb").unwrap();
    let plain = reference::compute(study, &[&a, &b]);
    let mut out = None;
    for method in JOIN_METHODS {
        let s = Study::from_toml_str(&with_join(study.toml_text(), method)).unwrap();
        let t = run_in_process(&s, [&a, &b], false).unwrap().tables;
        assert_eq!(t, plain, "{method} join");
        out = Some(t);
    }
    out.unwrap()
}

fn field(t: &OutputTable, file: usize, row: usize, column: &str) -> Option<f64> {
    t.files[file].get(row, column).map(|v| v.parse().unwrap())
}

fn close(what: &str, got: f64, want: f64) {
    let tol = 1e-9 * want.abs().max(1e-300);
    assert!((got - want).abs() <= tol, "{what}: {got} vs {want}");
}

/// Coefficients, standard errors, R², adjusted R² and σ equal an independent exact fit on the
/// joined rows to ≥ 9 significant digits, with predictors from First, from Second and from
/// both, integer and category; the p-values follow from t and the residual degrees of freedom.
#[test]
fn regression_equals_an_independent_fit() {
    let mut rng = Rng::new(0xC0FFEE);
    let (ta, tb, people) = data(&mut rng, 300, 3);
    let text = study_header(-1000, 100_000, -500, 500)
        + &regression("both", "tb.vb", &["ta.va", "ta.ca", "tb.cd"], 10)
        + &regression("first", "tb.vb", &["ta.va", "ta.cb"], 10)
        + &regression("second", "ta.va", &["tb.vb", "tb.cc"], 10);
    let study = Study::from_toml_str(&text).unwrap();
    let tables = run(&study, &ta, &tb);
    type Row = fn(&Person) -> Vec<i64>;
    let designs: [(&str, Row, &[&str]); 3] = [
        (
            "both",
            |p| {
                vec![
                    1,
                    p.va,
                    (p.ca == 1) as i64,
                    (p.ca == 2) as i64,
                    (p.cd == 1) as i64,
                    (p.cd == 2) as i64,
                    p.vb,
                ]
            },
            &[
                "(intercept)",
                "ta.va",
                "ta.ca=a1",
                "ta.ca=a2",
                "tb.cd=d1",
                "tb.cd=d2",
            ],
        ),
        (
            "first",
            |p| vec![1, p.va, (p.cb == 1) as i64, p.vb],
            &["(intercept)", "ta.va", "ta.cb=b1"],
        ),
        (
            "second",
            |p| vec![1, p.vb, (p.cc == 1) as i64, p.va],
            &["(intercept)", "tb.vb", "tb.cc=c1"],
        ),
    ];
    for (t, (name, row, terms)) in tables.iter().zip(designs) {
        assert_eq!(t.name, name);
        let rows: Vec<Vec<i64>> = people.iter().map(row).collect();
        let want = ols_reference::exact(&rows);
        let main = &t.files[0];
        assert_eq!(
            main.header,
            ["term", "estimate", "std_error", "statistic", "p_value"]
        );
        let got_terms: Vec<&str> = main.rows.iter().map(|r| r[0].as_str()).collect();
        assert_eq!(got_terms, terms);
        let df = (people.len() - terms.len()) as f64;
        for i in 0..terms.len() {
            let est = field(t, 0, i, "estimate").unwrap();
            let se = field(t, 0, i, "std_error").unwrap();
            close(&format!("{name} estimate {i}"), est, want.estimate[i]);
            close(&format!("{name} std_error {i}"), se, want.std_error[i]);
            close(
                &format!("{name} t {i}"),
                field(t, 0, i, "statistic").unwrap(),
                est / se,
            );
            let p = field(t, 0, i, "p_value").unwrap();
            close(
                &format!("{name} p {i}"),
                p,
                samen_study::stats::t_two_sided_p(est / se, df),
            );
        }
        assert_eq!(t.files[1].suffix, ".glance");
        assert_eq!(t.files[1].get(0, "n"), Some("300"));
        assert_eq!(
            t.files[1].get(0, "df_residual"),
            Some(df.to_string().as_str())
        );
        close("r2", field(t, 1, 0, "r_squared").unwrap(), want.r_squared);
        close(
            "adj r2",
            field(t, 1, 0, "adj_r_squared").unwrap(),
            want.adj_r_squared,
        );
        close("sigma", field(t, 1, 0, "sigma").unwrap(), want.sigma);
        assert_eq!(t.files[1].get(0, "suppressed"), Some("false"));
    }
}

/// A level absent from the matched rows makes the design singular: with `min_cell = 0` (no
/// level check) the estimates are empty with a note naming the output, never NaN or infinity;
/// with `min_cell > 0` the empty level suppresses the model.
#[test]
fn a_level_without_matched_rows_gives_empty_estimates_and_a_note() {
    let mut rng = Rng::new(5);
    let (ta, tb, _) = data(&mut rng, 60, 2); // ca = a2 occurs only among unmatched rows
    let text = study_header(-1000, 100_000, -500, 500)
        + &regression("m", "tb.vb", &["ta.ca", "ta.va"], 0)
        + &regression("checked", "tb.vb", &["ta.ca", "ta.va"], 10);
    let study = Study::from_toml_str(&text).unwrap();
    let tables = run(&study, &ta, &tb);
    let t = &tables[0];
    for row in &t.files[0].rows {
        assert!(row[1..].iter().all(String::is_empty), "{row:?}");
    }
    assert_eq!(t.files[1].get(0, "n"), Some("60"));
    assert_eq!(t.files[1].get(0, "r_squared"), None);
    assert!(
        t.notes
            .iter()
            .any(|n| n.contains("'m'") && n.contains("linear combination")),
        "{:?}",
        t.notes
    );
    let text: String = t.rendered().into_iter().map(|f| f.1).collect();
    assert!(!text.contains("NaN") && !text.contains("inf"));
    let checked = &tables[1];
    assert_eq!(checked.files[1].get(0, "suppressed"), Some("primary"));
    assert_eq!(checked.files[1].get(0, "n"), None);
    assert!(checked.notes.is_empty());
}

/// Each level of a category predictor, the reference level included, with fewer than
/// `min_cell` matched rows suppresses the whole model (decided inside MPC); at exactly
/// `min_cell` rows the model is shown. The other predictors' levels are unaffected.
#[test]
fn a_level_below_min_cell_suppresses_the_model() {
    // 60 matched rows; level `small` of ca has `k` rows, the other two share the rest.
    for small in [0u64, 1, 2] {
        for (k, suppressed) in [(9usize, true), (10, false)] {
            let mut rng = Rng::new(17 + k as u64 + small);
            let (ta, tb, _) = data_with(&mut rng, 60, |i, _| {
                if i < k {
                    small
                } else {
                    let others: Vec<u64> = (0..3).filter(|l| *l != small).collect();
                    others[i % 2]
                }
            });
            let text = study_header(-1000, 100_000, -500, 500)
                + &regression("m", "tb.vb", &["ta.ca", "ta.va", "tb.cc"], 10);
            let study = Study::from_toml_str(&text).unwrap();
            let t = &run(&study, &ta, &tb)[0];
            assert_eq!(
                t.files[1].get(0, "suppressed"),
                Some(if suppressed { "primary" } else { "false" }),
                "level a{small} with {k} rows"
            );
            assert_eq!(t.files[0].get(0, "estimate").is_none(), suppressed);
            assert_eq!(t.files[1].get(0, "n").is_none(), suppressed);
        }
    }
}

/// A regression refuses a privacy budget: it opens only the model.
#[test]
fn a_regression_takes_no_privacy_budget() {
    let text = study_header(-1000, 100_000, -500, 500)
        + &regression("m", "tb.vb", &["ta.va"], 10)
        + "epsilon = 1.0\n";
    let e = Study::from_toml_str(&text).unwrap_err().to_string();
    assert!(e.contains("epsilon") && e.contains("'m'"), "{e}");
}

/// Suppression by the number of matched rows: at min_cell − 1 the model is suppressed (rows
/// kept, statistic fields empty, glance `n` empty, `suppressed = primary`); at min_cell and
/// min_cell + 1 it is shown.
#[test]
fn models_are_suppressed_below_min_cell() {
    for (matched, suppressed) in [(19usize, true), (20, false), (21, false)] {
        let mark = if suppressed { "primary" } else { "false" };
        let mut rng = Rng::new(matched as u64);
        let (ta, tb, _) = data(&mut rng, matched, 3);
        let text = study_header(-1000, 100_000, -500, 500)
            + &regression("m", "tb.vb", &["ta.va"], 20)
            + "\n[[outputs]]\nname = \"r\"\nstatistic = \"correlation\"\nof = [\"ta.va\", \"tb.vb\"]\nmin_cell = 20\n";
        let study = Study::from_toml_str(&text).unwrap();
        let tables = run(&study, &ta, &tb);
        let (m, r) = (&tables[0], &tables[1]);
        assert_eq!(m.files[0].rows.len(), 2);
        assert_eq!(m.files[1].get(0, "suppressed"), Some(mark));
        assert_eq!(m.files[1].get(0, "n").is_none(), suppressed);
        assert_eq!(m.files[0].get(0, "estimate").is_none(), suppressed);
        assert_eq!(r.get(0, "suppressed"), Some(mark));
        assert_eq!(r.get(1, "ta.va").is_none(), suppressed);
        if !suppressed {
            assert_eq!(r.get(0, "n"), Some(matched.to_string().as_str()));
        }
    }
}

/// The correlation matrix equals a direct two-pass computation on the joined rows.
#[test]
fn correlation_equals_a_direct_computation() {
    let mut rng = Rng::new(77);
    let (ta, tb, people) = data(&mut rng, 200, 3);
    let text = study_header(-1000, 100_000, -500, 500)
        + "\n[[outputs]]\nname = \"r\"\nstatistic = \"correlation\"\nof = [\"ta.va\", \"tb.vb\", \"ta.ca\"]\nmin_cell = 5\n";
    assert!(
        Study::from_toml_str(&text).is_err(),
        "a category column is refused"
    );
    let text = text.replace(", \"ta.ca\"]", "]");
    let study = Study::from_toml_str(&text).unwrap();
    let t = &run(&study, &ta, &tb)[0];
    assert_eq!(
        t.main().unwrap().header,
        ["column", "ta.va", "tb.vb", "n", "suppressed"]
    );
    let cols: [Vec<f64>; 2] = [
        people.iter().map(|p| p.va as f64).collect(),
        people.iter().map(|p| p.vb as f64).collect(),
    ];
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let cov = |x: &[f64], y: &[f64]| {
        let (mx, my) = (mean(x), mean(y));
        x.iter()
            .zip(y)
            .map(|(a, b)| (a - mx) * (b - my))
            .sum::<f64>()
    };
    for i in 0..2 {
        for j in 0..2 {
            let want = cov(&cols[i], &cols[j])
                / (cov(&cols[i], &cols[i]) * cov(&cols[j], &cols[j])).sqrt();
            let name = ["ta.va", "tb.vb"][j];
            let got: f64 = t.get(i, name).unwrap().parse().unwrap();
            assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        }
    }
    assert_eq!(t.get(0, "ta.va"), Some("1"));
}

/// What the study file refuses for models.
#[test]
fn model_outputs_are_validated() {
    let h = study_header(0, 10, 0, 10);
    for (body, needle) in [
        (regression("m", "ta.ca", &["ta.va"], 1), "category"),
        (regression("m", "tb.vb", &[], 1), "predictor"),
        (regression("m", "tb.vb", &["tb.vb"], 1), "also a predictor"),
        ("\n[[outputs]]\nname = \"r\"\nstatistic = \"correlation\"\nof = [\"ta.va\"]\n".to_string(), "at least 2"),
        ("\n[[outputs]]\nname = \"r\"\nstatistic = \"correlation\"\nof = [\"ta.va\", \"tb.vb\"]\nby = [\"ta.ca\"]\n".to_string(), "no 'by'"),
    ] {
        let e = Study::from_toml_str(&(h.clone() + &body)).unwrap_err().to_string();
        assert!(e.contains(needle), "{e}");
    }
}

/// A regression's Gram entries must stay below 2^62 in magnitude (the exact solve converts
/// them to the prime fields), one bit less than the other outputs.
#[test]
fn the_overflow_rule_of_models_is_2_62() {
    let max = 1i64 << 30; // max² = 2^60
    let text = study_header(-max, max, -500, 500) + &regression("m", "tb.vb", &["ta.va"], 1);
    let study = Study::from_toml_str(&text).unwrap();
    assert!(study.check_overflow(3).is_ok());
    let e = study.check_overflow(4).unwrap_err().to_string();
    assert!(e.contains("2^62") && e.contains("'m'"), "{e}");
    let text = study_header(-max, max, -500, 500)
        + "\n[[outputs]]\nname = \"v\"\nstatistic = \"variance\"\nof = \"ta.va\"\n";
    let study = Study::from_toml_str(&text).unwrap();
    assert!(study.check_overflow(7).is_ok());
    assert!(study
        .check_overflow(8)
        .unwrap_err()
        .to_string()
        .contains("2^63"));
}

/// What First receives from Second in a run with one regression is exactly the documented
/// messages: the comparisons of the level check, `k − 1` Beaver products of the AND tree, one
/// opened bit and `n`, then the conversion and the four rounds of the solve
/// (`docs/protocols/regression.md`, counted from the run's transcript).
#[test]
fn a_data_party_receives_exactly_the_documented_model_messages() {
    let mut rng = Rng::new(99);
    let (ta, tb, _) = data(&mut rng, 120, 3);
    let text = study_header(-1000, 100_000, -500, 500)
        + &regression("m", "tb.vb", &["ta.va", "ta.ca", "tb.cd"], 10);
    let study = Study::from_toml_str(&text).unwrap();
    let a = ta.validate(&study, "ta").unwrap();
    let b = tb.validate(&study, "tb").unwrap();
    let run = run_in_process(&study, [&a, &b], true).unwrap();
    assert_eq!(run.tables, reference::compute(&study, &[&a, &b]));
    assert_eq!(run.tables[0].files[1].get(0, "suppressed"), Some("false"));
    let mut bytes = std::collections::BTreeMap::<String, u64>::new();
    for l in &run.transcripts["alpha"] {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        if v["direction"] == "received" && v["peer"] == "beta" {
            *bytes
                .entry(v["step"].as_str().unwrap().to_string())
                .or_default() += v["bytes"].as_u64().unwrap();
        }
    }
    let d = 7u64; // the constant, va, two dummies of ca, two of cd, the response
    let (q, e) = (d - 1, d * (d + 1) / 2);
    let m = samen_core::mpc::field::primes_for(d as usize).unwrap() as u64;
    let k = 1 + 3 + 3; // n, and the three levels of each category predictor
    assert_eq!(bytes.get("field"), Some(&(8 * m * e)), "{bytes:?}");
    assert_eq!(
        bytes.get("solve"),
        Some(&(8 * m * (2 * q * q + 3 * q + 3))),
        "{bytes:?}"
    );
    assert_eq!(bytes.get("mul"), Some(&(16 * (k - 1))), "{bytes:?}");
    assert_eq!(bytes.get("open"), Some(&16), "the bit and n: {bytes:?}");
    let (words, _) = samen_core::mpc::solve::solve_words(d as usize).unwrap();
    assert_eq!(8 * words as u64, bytes["field"] + bytes["solve"]);
}
