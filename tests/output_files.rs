//! Contract: the files each statistic writes, by name and header line, as revealed by a study
//! run in process through the facade.
// Test and benchmark code: a failed unwrap, expect or index is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use samen::join::JoinMethod;
use samen::{run_in_process, Statistic};

#[test]
fn every_statistic_writes_its_documented_files_and_headers() {
    let study = common::builder(JoinMethod::Helper)
        .output(
            "n",
            Statistic::Count,
            None,
            &["reg.region", "use.channel"],
            0,
        )
        .output("s", Statistic::Sum, Some("use.logins"), &["use.channel"], 0)
        .output("m", Statistic::Mean, Some("reg.income"), &[], 0)
        .output(
            "v",
            Statistic::Variance,
            Some("use.minutes"),
            &["reg.sex"],
            0,
        )
        .statistic_output(
            "cov",
            Statistic::Covariance,
            &["reg.age", "use.logins"],
            &[],
            &["use.channel", "reg.region"],
            0,
        )
        .statistic_output(
            "cor",
            Statistic::Correlation,
            &["use.logins", "reg.age", "use.minutes"],
            &[],
            &[],
            0,
        )
        .statistic_output(
            "ols",
            Statistic::Regression,
            &["use.minutes"],
            &["reg.age", "use.channel"],
            &[],
            0,
        )
        .build()
        .unwrap();
    let (reg, usage) = common::tables(7, 40, 40, 30);
    let tables = run_in_process(&study, &[("reg", &reg), ("use", &usage)]).unwrap();
    let headers: Vec<(String, String)> = tables
        .iter()
        .flat_map(|t| t.rendered())
        .map(|(name, text)| (name, text.lines().next().unwrap_or_default().to_string()))
        .collect();
    let expected = [
        ("n.csv", "reg.region,use.channel,count,suppressed"),
        ("s.csv", "use.channel,count,sum,suppressed"),
        ("m.csv", "count,mean,suppressed"),
        ("v.csv", "reg.sex,count,mean,variance,suppressed"),
        (
            "cov.csv",
            "use.channel,reg.region,count,covariance,suppressed",
        ),
        (
            "cor.csv",
            "column,use.logins,reg.age,use.minutes,n,suppressed",
        ),
        ("ols.csv", "term,estimate,std_error,statistic,p_value"),
        (
            "ols.glance.csv",
            "n,r_squared,adj_r_squared,sigma,df_residual,suppressed",
        ),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(n, h)| (n.to_string(), h.to_string()))
        .collect();
    assert_eq!(headers, expected);

    // Rows: one per cell (first `by` column outermost), one per correlation column, one per
    // regression term, one glance row.
    let rows = |name: &str| {
        let t = tables.iter().find(|t| t.name == name).unwrap();
        t.files.iter().map(|f| f.rows.len()).collect::<Vec<_>>()
    };
    assert_eq!(rows("n"), [6]);
    assert_eq!(rows("m"), [1]);
    assert_eq!(rows("cov"), [6]);
    assert_eq!(rows("cor"), [3]);
    assert_eq!(rows("ols"), [3, 1]);
    let n = &tables[0];
    assert_eq!(n.get(0, "reg.region"), Some("north"));
    assert_eq!(n.get(0, "use.channel"), Some("app"));
    assert_eq!(n.get(1, "use.channel"), Some("web"));
    let ols = &tables[6];
    let terms: Vec<&str> = (0..3).filter_map(|r| ols.get(r, "term")).collect();
    assert_eq!(terms, ["(intercept)", "reg.age", "use.channel=web"]);
    // Every row as long as its header; no NaN or infinity anywhere.
    for t in &tables {
        for f in &t.files {
            assert!(f.rows.iter().all(|r| r.len() == f.header.len()));
        }
        for (_, text) in t.rendered() {
            assert!(!text.contains("NaN") && !text.contains("inf"), "{text}");
        }
    }
}
