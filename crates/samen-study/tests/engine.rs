//! The joint computation (three parties in one process) against the plaintext reference.
// Test and benchmark code: a failed unwrap, expect or index is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use common::{output, random_tables, study_header, with_join, Rng, JOIN_METHODS};
use samen_study::input::InputTable;
use samen_study::reference;
use samen_study::session::run_in_process;
use samen_study::spec::{SpecError, Statistic, Study};
use samen_study::{EngineError, OutputTable};

fn run_both(
    study: &Study,
    ta: &InputTable,
    tb: &InputTable,
) -> (Vec<OutputTable>, Vec<OutputTable>) {
    let a = ta.validate(study, "ta").unwrap();
    let b = tb.validate(study, "tb").unwrap();
    let plain = reference::compute(study, &[&a, &b]);
    // Every join method gives the same tables.
    let mut tables: Option<Vec<OutputTable>> = None;
    for method in JOIN_METHODS {
        let s = Study::from_toml_str(&with_join(study.toml_text(), method)).unwrap();
        let mpc = run_in_process(&s, [&a, &b], false).unwrap().tables;
        match &tables {
            Some(t) => assert_eq!(t, &mpc, "{method} join gives other tables"),
            None => tables = Some(mpc),
        }
    }
    (tables.unwrap(), plain)
}

/// Example declarations (the `of` and `x` lines) of `stat` over the test tables, with values on
/// either side, and whether the statistic takes `by` columns. A statistic added to
/// [`Statistic::ALL`] fails this test until it has examples here.
fn declarations(stat: Statistic) -> (Vec<&'static str>, bool) {
    match stat {
        Statistic::Count => (vec![""], true),
        Statistic::Sum | Statistic::Mean | Statistic::Variance => {
            (vec!["of = \"ta.va\"\n", "of = \"tb.vb\"\n"], true)
        }
        Statistic::Covariance => (vec!["of = [\"ta.va\", \"tb.vb\"]\n"], true),
        Statistic::Correlation => (vec!["of = [\"tb.vb\", \"ta.va\"]\n"], false),
        Statistic::Regression => (
            vec![
                "of = \"tb.vb\"\nx = [\"ta.va\", \"ta.ca\", \"tb.cc\"]\n",
                "of = \"ta.va\"\nx = [\"tb.vb\", \"tb.cd\"]\n",
            ],
            false,
        ),
        // grouped by one table's columns only (the groupings that fit are kept below)
        Statistic::Rate => (vec![""], true),
        other => panic!("add example declarations of {other:?} to this test"),
    }
}

/// One output per statistic of [`Statistic::ALL`], example declaration and grouping.
fn all_outputs(min_cell: u64) -> String {
    let groupings: [&[&str]; 7] = [
        &[],
        &["ta.ca"],
        &["tb.cd"],
        &["ta.ca", "tb.cc"],
        &["tb.cd", "ta.cb"],
        &["ta.ca", "ta.cb"],
        &["tb.cc", "tb.cd"],
    ];
    let mut s = String::new();
    for stat in Statistic::ALL {
        let (decls, takes_by) = declarations(stat);
        let groupings = if takes_by {
            &groupings[..]
        } else {
            &groupings[..1]
        };
        for (d, decl) in decls.iter().enumerate() {
            for (g, by) in groupings.iter().enumerate() {
                // a rate groups by 1 or 2 columns of the table it counts the rows of
                let one_table = by.first().is_some_and(|f| {
                    by.iter()
                        .all(|b| b.split('.').next() == f.split('.').next())
                });
                if stat == Statistic::Rate && !one_table {
                    continue;
                }
                let by: Vec<String> = by.iter().map(|b| format!("\"{b}\"")).collect();
                s += &format!(
                    "\n[[outputs]]\nname = \"{}_{d}_{g}\"\nstatistic = \"{}\"\n{decl}by = [{}]\nmin_cell = {min_cell}\n",
                    stat.as_str(),
                    stat.as_str(),
                    by.join(", ")
                );
            }
        }
    }
    s
}

#[test]
fn every_statistic_and_grouping_matches_plaintext() {
    for (seed, min_cell, bounds_a, bounds_b) in [
        (1u64, 0u64, (0i64, 1000i64), (-50i64, 50i64)),
        (2, 3, (-100_000, -7), (0, 1)),
        (3, 20, (-5, 5), (-1_000_000, 1_000_000)),
    ] {
        let text =
            study_header(bounds_a.0, bounds_a.1, bounds_b.0, bounds_b.1) + &all_outputs(min_cell);
        let study = Study::from_toml_str(&text).unwrap();
        let mut rng = Rng::new(0x9E37_79B9_7F4A_7C15 ^ seed);
        let (ta, tb) = random_tables(&mut rng, 150, 120, 90, bounds_a, bounds_b);
        let (mpc, plain) = run_both(&study, &ta, &tb);
        assert_eq!(mpc.len(), study.outputs().len());
        for (m, p) in mpc.iter().zip(&plain) {
            assert_eq!(m, p, "output {} differs (seed {seed})", m.name);
        }
        // Every statistic is covered.
        for stat in Statistic::ALL {
            assert!(
                study.outputs().iter().any(|o| o.statistic == stat),
                "{stat:?} not covered"
            );
        }
        // Sanity: some cells revealed, and with min_cell = 10 some suppressed.
        let csv: String = mpc.iter().map(|t| t.to_csv()).collect();
        assert!(csv.contains(",false\n"));
        if min_cell == 20 {
            assert!(csv.contains(",primary\n"));
        }
    }
}

#[test]
fn reference_is_right_on_a_hand_computed_example() {
    let text = study_header(-10, 10, -10, 10)
        + &output("v", "variance", Some("tb.vb"), &["ta.ca"], 0)
        + &output("s", "sum", Some("ta.va"), &[], 0);
    let study = Study::from_toml_str(&text).unwrap();
    let ta = InputTable::new(&["id", "ca", "cb", "va"])
        .row(&["p", "a0", "b0", "-3"])
        .row(&["q", "a0", "b1", "5"])
        .row(&["r", "a2", "b0", "7"])
        .row(&["s", "a1", "b0", "9"]); // s has no partner
    let tb = InputTable::new(&["id", "cc", "cd", "vb"])
        .row(&["q", "c0", "d0", "-4"])
        .row(&["p", "c0", "d0", "1"])
        .row(&["r", "c1", "d2", "2"])
        .row(&["t", "c1", "d2", "10"]);
    let (mpc, plain) = run_both(&study, &ta, &tb);
    assert_eq!(mpc, plain);
    // a0: values 1, -4 → mean -1.5, variance ((1+1.5)² + (-4+1.5)²)/2 = 6.25
    let v = &mpc[0];
    assert_eq!(v.get(0, "count"), Some("2"));
    assert_eq!(v.get(0, "mean"), Some("-1.5"));
    assert_eq!(v.get(0, "variance"), Some("6.25"));
    assert_eq!(v.get(1, "count"), Some("0"));
    assert_eq!(v.get(1, "mean"), None);
    assert_eq!(v.get(2, "variance"), Some("0"));
    assert_eq!(
        v.to_csv(),
        "ta.ca,count,mean,variance,suppressed\na0,2,-1.5,6.25,false\na1,0,,,false\na2,1,2,0,false\n"
    );
    // Sum of va over joined rows p, q, r: -3 + 5 + 7.
    assert_eq!(mpc[1].get(0, "sum"), Some("9"));
    assert_eq!(mpc[1].to_csv(), "count,sum,suppressed\n3,9,false\n");
}

/// Cells with exactly min_cell − 1, min_cell and min_cell + 1 joined rows (and unjoined rows
/// that must not count); the known total would give the small cell by subtraction, so one
/// partner is suppressed as a secondary cell.
#[test]
fn suppression_at_the_threshold() {
    let min_cell = 5u64;
    let mut ta = InputTable::new(&["id", "ca", "cb", "va"]);
    let mut tb = InputTable::new(&["id", "cc", "cd", "vb"]);
    let mut k = 0;
    for (level, joined) in [(0, 4), (1, 5), (2, 6)] {
        for j in 0..joined {
            ta.push(vec![
                format!("j{k}"),
                format!("a{level}"),
                "b0".into(),
                format!("{}", j as i64 - 3),
            ]);
            tb.push(vec![
                format!("j{k}"),
                "c0".into(),
                "d0".into(),
                format!("{}", -(j as i64) * 7),
            ]);
            k += 1;
        }
        // Unjoined rows in the same level on both sides.
        for j in 0..3 {
            ta.push(vec![
                format!("xa{level}{j}"),
                format!("a{level}"),
                "b1".into(),
                "1".into(),
            ]);
            tb.push(vec![
                format!("xb{level}{j}"),
                "c1".into(),
                "d1".into(),
                "1".into(),
            ]);
        }
    }
    let text = study_header(-100, 100, -100, 100)
        + &output("n", "count", None, &["ta.ca"], min_cell)
        + &output("m", "mean", Some("tb.vb"), &["ta.ca"], min_cell);
    let study = Study::from_toml_str(&text).unwrap();
    let (mpc, plain) = run_both(&study, &ta, &tb);
    assert_eq!(mpc, plain);
    let n = &mpc[0];
    assert_eq!(
        (0..3)
            .map(|i| (n.get(i, "suppressed"), n.get(i, "count")))
            .collect::<Vec<_>>(),
        vec![
            (Some("primary"), None),
            (Some("secondary"), None),
            (Some("false"), Some("6"))
        ]
    );
    assert_eq!(
        n.to_csv(),
        "ta.ca,count,suppressed\na0,,primary\na1,,secondary\na2,6,false\n"
    );
    let m = &mpc[1];
    assert!(m.get(0, "suppressed") == Some("primary") && m.get(0, "mean").is_none());
    assert!(m.get(1, "suppressed") == Some("secondary") && m.get(1, "mean").is_none());
    assert_eq!(m.get(2, "mean"), Some("-17.5")); // -(0+1+2+3+4+5)*7/6

    // What First sends Second to open: the 6 comparison bits, then only the quantities of the
    // shown cells (n: a2's count; m: a2's count and sum), 8 bytes each; never a suppressed
    // cell's quantities.
    let a = ta.validate(&study, "ta").unwrap();
    let b = tb.validate(&study, "tb").unwrap();
    let run = run_in_process(&study, [&a, &b], true).unwrap();
    assert_eq!(run.pattern.totals(), (2, 2));
    let opened: Vec<u64> = run.transcripts["alpha"]
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["step"] == "open" && v["peer"] == "beta" && v["direction"] == "sent")
        .map(|v| v["bytes"].as_u64().unwrap())
        .collect();
    assert_eq!(opened, [6 * 8, 3 * 8]);

    // Two-column table with min_cell 4: (a0, c0) has 4 → shown, (a0, c1) 0 → suppressed; the
    // three suppressed cells share the known total, so nothing more is hidden.
    let text = study_header(-100, 100, -100, 100)
        + &output("v", "variance", Some("ta.va"), &["ta.ca", "tb.cc"], 4);
    let study = Study::from_toml_str(&text).unwrap();
    let (mpc, plain) = run_both(&study, &ta, &tb);
    assert_eq!(mpc, plain);
    let v = &mpc[0];
    assert!(v.get(0, "suppressed") == Some("false") && v.get(0, "count") == Some("4"));
    assert_eq!(v.get(1, "suppressed"), Some("primary"));
    assert!(!v.to_csv().contains("secondary"));
}

#[test]
fn negative_values_only() {
    let text = study_header(-1_000_000, -1, -9, -3)
        + &output("s", "sum", Some("ta.va"), &["tb.cd"], 0)
        + &output("v", "variance", Some("tb.vb"), &[], 0);
    let study = Study::from_toml_str(&text).unwrap();
    let mut rng = Rng::new(77);
    let (ta, tb) = random_tables(&mut rng, 60, 70, 50, (-1_000_000, -1), (-9, -3));
    let (mpc, plain) = run_both(&study, &ta, &tb);
    assert_eq!(mpc, plain);
    assert!((0..3).all(
        |i| mpc[0].get(i, "sum").unwrap().parse::<i64>().unwrap() < 0
            || mpc[0].get(i, "count") == Some("0")
    ));
}

#[test]
fn empty_intersection_and_empty_tables() {
    let text = study_header(0, 10, 0, 10)
        + &output("n", "count", None, &["ta.ca", "tb.cc"], 0)
        + &output("m", "mean", Some("ta.va"), &[], 1);
    let study = Study::from_toml_str(&text).unwrap();
    let mut rng = Rng::new(5);
    let (ta, tb) = random_tables(&mut rng, 10, 12, 0, (0, 10), (0, 10));
    let (mpc, plain) = run_both(&study, &ta, &tb);
    assert_eq!(mpc, plain);
    assert!((0..6).all(|i| mpc[0].get(i, "count") == Some("0")));
    assert_eq!(mpc[1].get(0, "suppressed"), Some("primary"));
    let (ta, tb) = random_tables(&mut rng, 0, 0, 0, (0, 10), (0, 10));
    let (mpc, plain) = run_both(&study, &ta, &tb);
    assert_eq!(mpc, plain);
}

#[test]
fn overflow_is_refused_by_every_party() {
    let text = study_header(0, 1 << 31, 0, 1) + &output("v", "variance", Some("ta.va"), &[], 0);
    let study = Study::from_toml_str(&text).unwrap();
    let mut rng = Rng::new(9);
    // |A ∩ B| = 2 → 2 · 2^62 = 2^63 is refused (the bound is strict), after the join, by all.
    let (ta, tb) = random_tables(&mut rng, 2, 2, 2, (0, 1 << 31), (0, 1));
    let a = ta.validate(&study, "ta").unwrap();
    let b = tb.validate(&study, "tb").unwrap();
    match run_in_process(&study, [&a, &b], false) {
        Err(EngineError::Spec(e)) => assert!(matches!(*e, SpecError::Overflow { rows: 2, .. })),
        other => panic!("expected an overflow error, got {other:?}"),
    }
    let msg = study.check_overflow(3).unwrap_err().to_string();
    assert!(msg.contains("2^63") && msg.contains("ta.va"), "{msg}");
    assert!(study.check_overflow(1).is_ok());
    // Only matched rows count: 3 + 3 rows with one in common pass.
    let (ta, tb) = random_tables(&mut rng, 3, 3, 1, (0, 1 << 31), (0, 1));
    let a = ta.validate(&study, "ta").unwrap();
    let b = tb.validate(&study, "tb").unwrap();
    assert!(run_in_process(&study, [&a, &b], false).is_ok());
}

/// What the helper received in a run: (step, bytes, sha256) of every frame.
fn helper_view(study: &Study, ta: &InputTable, tb: &InputTable) -> Vec<(String, u64, String)> {
    let a = ta.validate(study, "ta").unwrap();
    let b = tb.validate(study, "tb").unwrap();
    let run = run_in_process(study, [&a, &b], true).unwrap();
    // All outputs but the last are exact (the last is noisy).
    let exact = reference::compute(study, &[&a, &b]);
    assert_eq!(run.tables[..exact.len() - 1], exact[..exact.len() - 1]);
    run.transcripts["helper"]
        .iter()
        .filter(|l| l.contains("\"direction\":\"received\""))
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["step"].as_str().unwrap().to_string(),
                v["bytes"].as_u64().unwrap(),
                v["sha256"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The helper's view does not depend on the data: for two datasets of the same sizes (and
/// intersection size), the two-party join gives it byte-identical messages (only the sizes);
/// the helper-assisted join gives it messages of identical steps and lengths whose contents
/// (fresh pseudorandom tags) differ from run to run even on the same data. A noisy output
/// changes nothing the helper receives.
#[test]
fn helper_view_does_not_depend_on_data() {
    let body = study_header(-100, 100, 0, 50)
        + &output("n", "count", None, &["ta.ca", "tb.cc"], 3)
        + "\n[[outputs]]\nname = \"m\"\nstatistic = \"regression\"\nof = \"tb.vb\"\nx = [\"ta.va\", \"ta.ca\"]\nmin_cell = 3\n"
        + "\n[[outputs]]\nname = \"r\"\nstatistic = \"correlation\"\nof = [\"ta.va\", \"tb.vb\"]\nmin_cell = 3\n"
        + &output("v", "variance", Some("tb.vb"), &["ta.cb"], 0)
        + "epsilon = 1.0\n";
    for method in ["two-party", "helper"] {
        let study = Study::from_toml_str(&with_join(&body, method)).unwrap();
        let mut views = Vec::new();
        for seed in [11u64, 12, 11] {
            let mut rng = Rng::new(seed);
            let (ta, tb) = random_tables(&mut rng, 40, 30, 20, (-100, 100), (0, 50));
            views.push(helper_view(&study, &ta, &tb));
        }
        let shape = |v: &[(String, u64, String)]| -> Vec<(String, u64)> {
            v.iter().map(|(s, b, _)| (s.clone(), *b)).collect()
        };
        assert_eq!(shape(&views[0]), shape(&views[1]), "{method}");
        let sizes: Vec<_> = views[0].iter().filter(|m| m.0 == "sizes").collect();
        assert_eq!(
            sizes.len(),
            2,
            "{method}: one sizes message from each data party"
        );
        assert!(sizes.iter().all(|m| m.1 == 24));
        if method == "two-party" {
            // Only the sizes, byte for byte the same.
            assert_eq!(views[0], views[1]);
            assert_eq!(views[0].len(), 2, "{:?}", views[0]);
        } else {
            // Fresh tags: the same data gives different bytes in another run.
            let joins = |v: &[(String, u64, String)]| -> Vec<String> {
                v.iter()
                    .filter(|m| m.0 != "sizes")
                    .map(|m| m.2.clone())
                    .collect()
            };
            assert!(!joins(&views[0]).is_empty());
            assert_ne!(joins(&views[0]), joins(&views[2]));
        }
        // A different intersection size gives a different N in the sizes message.
        let mut rng = Rng::new(11);
        let (ta, tb) = random_tables(&mut rng, 40, 30, 10, (-100, 100), (0, 50));
        let other = helper_view(&study, &ta, &tb);
        let sizes_of = |v: &[(String, u64, String)]| -> Vec<String> {
            v.iter()
                .filter(|m| m.0 == "sizes")
                .map(|m| m.2.clone())
                .collect()
        };
        assert_ne!(sizes_of(&other), sizes_of(&views[0]));
    }
}

#[test]
fn transcripts_never_contain_payloads_and_label_steps() {
    let text = study_header(0, 9, 0, 9) + &output("n", "count", None, &["ta.ca"], 2);
    let study = Study::from_toml_str(&text).unwrap();
    let mut rng = Rng::new(3);
    let (ta, tb) = random_tables(&mut rng, 20, 20, 15, (0, 9), (0, 9));
    let a = ta.validate(&study, "ta").unwrap();
    let b = tb.validate(&study, "tb").unwrap();
    let run = run_in_process(&study, [&a, &b], true).unwrap();
    let alpha = &run.transcripts["alpha"];
    assert!(!alpha.is_empty());
    for l in alpha {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 5, "{l}");
        assert!(!l.contains("u1\""));
    }
    let steps: std::collections::BTreeSet<String> = alpha
        .iter()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["step"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(steps.iter().any(|s| s.starts_with("join")), "{steps:?}");
    assert!(
        steps.contains("sizes") && steps.contains("open"),
        "{steps:?}"
    );
}

mod properties {
    use proptest::prelude::*;
    use samen_study::statistic::mean_and_variance;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        /// The exact integer finishing agrees with a direct floating-point computation.
        #[test]
        fn finishing_matches_a_direct_computation(v in proptest::collection::vec(-1_000_000i64..1_000_000, 1..200)) {
            let n = v.len() as u64;
            let s: i128 = v.iter().map(|&x| i128::from(x)).sum();
            let s2: i128 = v.iter().map(|&x| i128::from(x) * i128::from(x)).sum();
            let (m, w) = mean_and_variance(i128::from(n), s, s2);
            let mean = v.iter().map(|&x| x as f64).sum::<f64>() / n as f64;
            let var = v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n as f64;
            let (m, w) = (m.unwrap(), w.unwrap());
            prop_assert!((m - mean).abs() <= 1e-9 * mean.abs().max(1.0));
            prop_assert!((w - var).abs() <= 1e-6 * var.abs().max(1.0));
            prop_assert!(w >= 0.0);
        }

        /// Random small studies: the joint computation equals the plaintext reference.
        #[test]
        fn random_small_studies_match_plaintext(
            seed in any::<u64>(),
            na in 0usize..25,
            nb in 0usize..25,
            min_cell in 0u64..4,
            by in 0usize..4,
        ) {
            let groupings: [&[&str]; 4] = [&[], &["tb.cc"], &["ta.cb", "tb.cd"], &["ta.ca", "ta.cb"]];
            let text = super::study_header(-20, 20, 0, 9)
                + &super::output("n", "count", None, groupings[by], min_cell)
                + &super::output("v", "variance", Some("ta.va"), groupings[by], min_cell)
                + &super::output("s", "sum", Some("tb.vb"), groupings[by], min_cell);
            let study = samen_study::spec::Study::from_toml_str(&text).unwrap();
            let mut rng = super::Rng::new(seed | 1);
            let common = na.min(nb) / 2;
            let (ta, tb) = super::random_tables(&mut rng, na, nb, common, (-20, 20), (0, 9));
            let (mpc, plain) = super::run_both(&study, &ta, &tb);
            prop_assert_eq!(mpc, plain);
        }
    }
}
