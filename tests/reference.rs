//! Contract: a study run in process through the facade, with either join method, reveals
//! exactly the files of the plaintext reference computation
//! (`samen::study::reference::compute`), for every statistic and every grouping.
// Test and benchmark code: a failed unwrap, expect or index is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use samen::join::JoinMethod;
use samen::study::reference;
use samen::{run_in_process, OutputTable, Study};

/// All files of all outputs: `(file name, CSV text)`.
fn files(tables: &[OutputTable]) -> Vec<(String, String)> {
    tables.iter().flat_map(OutputTable::rendered).collect()
}

fn check(seed: u64, min_cell: u64) {
    let (reg, usage) = common::tables(seed, 140, 120, 90);
    let mut runs = Vec::new();
    for method in JoinMethod::ALL {
        let built = common::every_statistic(common::builder(method), min_cell).build();
        let study: Study = built.unwrap();
        assert_eq!(study.join(), method);
        // The outputs cover the one list of statistics: a new statistic fails here until
        // `common::every_statistic` declares it.
        for stat in samen::study::spec::Statistic::ALL {
            assert!(
                study.outputs().iter().any(|o| o.statistic == stat),
                "{stat:?} has no output in common::every_statistic"
            );
        }
        let a = reg.validate(&study, "reg").unwrap();
        let b = usage.validate(&study, "use").unwrap();
        let expected = files(&reference::compute(&study, &[&a, &b]));
        let got = files(&run_in_process(&study, &[("reg", &reg), ("use", &usage)]).unwrap());
        assert_eq!(got.len(), expected.len());
        for (g, e) in got.iter().zip(&expected) {
            assert_eq!(g, e, "{method} join, seed {seed}, min_cell {min_cell}");
        }
        runs.push(got);
    }
    // Every statistic produced files, and the regression its glance file.
    let names: Vec<&str> = runs[0].iter().map(|(n, _)| n.as_str()).collect();
    for name in [
        "count_3.csv",
        "variance_use_minutes_4.csv",
        "covariance_5.csv",
        "correlation.csv",
        "regression.csv",
        "regression.glance.csv",
    ] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    let all: String = runs[0].iter().map(|(_, text)| text.as_str()).collect();
    assert!(all.contains(",false\n"), "no cell was revealed");
    if min_cell > 0 {
        // The rare region's cells by region × sex hold fewer rows than min_cell.
        assert!(all.contains(",primary\n"), "no cell was suppressed");
    }
}

#[test]
fn every_statistic_matches_the_plaintext_reference_with_both_join_methods() {
    check(1, 0);
    check(2, 4);
}
