//! Contract: the study file. A TOML text with the join method, a privacy budget, regression
//! predictors and a list-valued `of` parses into the study it describes; typical mistakes in
//! an output give an error that names the output.
// Test and benchmark code: a failed unwrap, expect or index is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use samen::join::JoinMethod;
use samen::study::spec::Privacy;
use samen::{Statistic, Study};

const STUDY: &str = r#"
[study]
name = "portal-usage"
join = "two-party"

[parties.bureau]
address = "127.0.0.1:7101"
[parties.portal]
address = "127.0.0.1:7102"
[parties.trustee]
address = "127.0.0.1:7103"
role = "helper"

[tables.register]
party = "bureau"
id = { column = "bsn", kind = "bsn" }
columns.region = { kind = "category", levels = ["north", "south"] }
columns.age = { kind = "integer", min = 0, max = 120 }

[tables.usage]
party = "portal"
id = { column = "bsn", kind = "bsn" }
columns.channel = { kind = "category", levels = ["app", "web"] }
columns.logins = { kind = "integer", min = 0, max = 1000 }

[[outputs]]
name = "users"
statistic = "count"
by = ["register.region", "usage.channel"]
min_cell = 5
epsilon = 1.5

[[outputs]]
name = "age_logins"
statistic = "correlation"
of = ["register.age", "usage.logins"]

[[outputs]]
name = "logins_model"
statistic = "regression"
of = "usage.logins"
x = ["register.age", "register.region"]
min_cell = 20
"#;

#[test]
fn a_study_with_join_epsilon_x_and_list_valued_of_parses() {
    let study = Study::from_toml_str(STUDY).unwrap();
    assert_eq!(study.name(), "portal-usage");
    assert_eq!(study.join(), JoinMethod::TwoParty);
    assert_eq!(study.helper().name, "trustee");
    let names = |v: &[samen::study::spec::ColumnRef]| -> Vec<String> {
        v.iter().map(ToString::to_string).collect()
    };
    let [users, corr, model] = study.outputs() else {
        panic!("expected three outputs, got {}", study.outputs().len());
    };
    assert_eq!(users.statistic, Statistic::Count);
    assert_eq!(names(&users.by), ["register.region", "usage.channel"]);
    assert_eq!(users.min_cell, 5);
    assert_eq!(
        users.privacy,
        Some(Privacy::Epsilon(samen::core::dp::Ratio::new(3, 2).unwrap()))
    );
    assert_eq!(corr.statistic, Statistic::Correlation);
    assert_eq!(names(&corr.of), ["register.age", "usage.logins"]);
    assert_eq!(corr.min_cell, 10, "the default min_cell");
    assert_eq!(corr.privacy, None);
    assert_eq!(model.statistic, Statistic::Regression);
    assert_eq!(names(&model.of), ["usage.logins"]);
    assert_eq!(names(&model.x), ["register.age", "register.region"]);
    // The study hash is the SHA-256 of the exact text every party holds.
    assert_eq!(study.toml_text(), STUDY);
    assert_ne!(
        Study::from_toml_str(&STUDY.replace("min_cell = 20", "min_cell = 21"))
            .unwrap()
            .hash(),
        study.hash()
    );
    // The default join is the helper-assisted one.
    let helper = Study::from_toml_str(&STUDY.replace("join = \"two-party\"\n", "")).unwrap();
    assert_eq!(helper.join(), JoinMethod::Helper);
}

#[test]
fn mistakes_in_an_output_name_that_output() {
    let cases: [(&str, &str, &str, &str); 12] = [
        // (output, text to replace, replacement, expected in the message)
        ("users", "epsilon = 1.5", "epsilon = -1.0", "epsilon"),
        (
            "users",
            "epsilon = 1.5",
            "epsilon = 1.5\nrho = 0.5",
            "not both",
        ),
        (
            "users",
            "by = [\"register.region\", \"usage.channel\"]",
            "by = [\"register.region\", \"usage.logins\"]",
            "usage.logins",
        ),
        (
            "users",
            "by = [\"register.region\", \"usage.channel\"]",
            "by = [\"register.region\", \"usage.channel\", \"register.age\"]",
            "at most 2",
        ),
        (
            "users",
            "by = [\"register.region\", \"usage.channel\"]",
            "by = [\"register.regio\"]",
            "register.regio",
        ),
        (
            "users",
            "statistic = \"count\"",
            "statistic = \"mean\"",
            "of",
        ),
        (
            "age_logins",
            "of = [\"register.age\", \"usage.logins\"]",
            "of = [\"register.age\"]",
            "correlation",
        ),
        (
            "age_logins",
            "of = [\"register.age\", \"usage.logins\"]",
            "of = [\"register.age\", \"usage.logins\"]\nby = [\"register.region\"]",
            "by",
        ),
        (
            "age_logins",
            "of = [\"register.age\", \"usage.logins\"]",
            "of = [\"register.age\", \"register.age\"]",
            "twice",
        ),
        (
            "logins_model",
            "x = [\"register.age\", \"register.region\"]",
            "x = []",
            "predictor",
        ),
        (
            "logins_model",
            "x = [\"register.age\", \"register.region\"]",
            "x = [\"usage.logins\"]",
            "usage.logins",
        ),
        (
            "logins_model",
            "of = \"usage.logins\"",
            "of = \"usage\"",
            "usage",
        ),
    ];
    for (output, from, to, needle) in cases {
        assert!(STUDY.contains(from), "test case does not apply: {from}");
        let text = STUDY.replacen(from, to, 1);
        let msg = match Study::from_toml_str(&text) {
            Ok(_) => panic!("accepted a study with {to:?}"),
            Err(e) => e.to_string(),
        };
        assert!(
            msg.contains(&format!("output '{output}'")),
            "the message does not name output '{output}': {msg}"
        );
        assert!(msg.contains(needle), "expected '{needle}' in: {msg}");
    }
}

#[test]
fn a_misspelt_key_or_join_method_is_refused() {
    for (from, to, needle) in [
        ("min_cell = 5", "min_cells = 5", "min_cells"),
        ("join = \"two-party\"", "join = \"dh\"", "dh"),
        ("statistic = \"count\"", "statistic = \"median\"", "median"),
    ] {
        let msg = match Study::from_toml_str(&STUDY.replacen(from, to, 1)) {
            Ok(_) => panic!("accepted a study with {to:?}"),
            Err(e) => e.to_string(),
        };
        assert!(msg.contains(needle), "expected '{needle}' in: {msg}");
    }
}
