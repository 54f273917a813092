//! Shared helpers of the workspace integration tests: one synthetic study over two tables
//! with categories and integers on both sides.
#![allow(dead_code)]

use samen::join::JoinMethod;
use samen::{IdKind, InputTable, Statistic, StudyBuilder};

pub use samen_testkit::Rng;

/// The parties and tables: First = `bureau` with table `reg` (`region`, `sex`, `age`, `income`),
/// Second = `portal` with table `use` (`channel`, `logins`, `minutes`).
pub fn builder(method: JoinMethod) -> StudyBuilder {
    StudyBuilder::new("contract")
        .data_party("bureau", "127.0.0.1:7101")
        .data_party("portal", "127.0.0.1:7102")
        .helper("trustee", "127.0.0.1:7103")
        .join(method)
        .table("reg", "bureau", "id", IdKind::Text)
        .category("reg", "region", &["north", "south", "islands"])
        .category("reg", "sex", &["f", "m"])
        .integer("reg", "age", 0, 100)
        .integer("reg", "income", -1_000, 100_000)
        .table("use", "portal", "id", IdKind::Text)
        .category("use", "channel", &["app", "web"])
        .integer("use", "logins", 0, 500)
        .integer("use", "minutes", -20, 3_000)
}

/// Adds one output of each statistic to `b`: the cell statistics over 0, 1 and 2 `by` columns
/// from either side, covariance, correlation and regression with columns from both sides.
pub fn every_statistic(b: StudyBuilder, min_cell: u64) -> StudyBuilder {
    let groupings: [&[&str]; 6] = [
        &[],
        &["reg.region"],
        &["use.channel"],
        &["reg.region", "use.channel"],
        &["use.channel", "reg.sex"],
        &["reg.region", "reg.sex"],
    ];
    let mut b = b;
    for (g, by) in groupings.iter().enumerate() {
        b = b.output(&format!("count_{g}"), Statistic::Count, None, by, min_cell);
        for (stat, name) in [
            (Statistic::Sum, "sum"),
            (Statistic::Mean, "mean"),
            (Statistic::Variance, "variance"),
        ] {
            for of in ["reg.income", "use.minutes"] {
                let out = format!("{name}_{}_{g}", of.replace('.', "_"));
                b = b.output(&out, stat, Some(of), by, min_cell);
            }
        }
        b = b.statistic_output(
            &format!("covariance_{g}"),
            Statistic::Covariance,
            &["reg.age", "use.logins"],
            &[],
            by,
            min_cell,
        );
    }
    b.statistic_output(
        "covariance_same_side",
        Statistic::Covariance,
        &["use.logins", "use.minutes"],
        &[],
        &["reg.region"],
        min_cell,
    )
    .statistic_output(
        "correlation",
        Statistic::Correlation,
        &["reg.age", "use.logins", "reg.income", "use.minutes"],
        &[],
        &[],
        min_cell,
    )
    .statistic_output(
        "regression",
        Statistic::Regression,
        &["use.minutes"],
        &["reg.age", "reg.region", "use.logins", "use.channel"],
        &[],
        min_cell,
    )
    .output(
        "rate_region_sex",
        Statistic::Rate,
        None,
        &["reg.region", "reg.sex"],
        min_cell,
    )
    .output(
        "rate_channel",
        Statistic::Rate,
        None,
        &["use.channel"],
        min_cell,
    )
}

/// Random tables: `na` rows of `reg`, `nb` of `use`, the first `common` identifiers shared
/// (Second's rows in another order). Region `islands` is rare, so that its cells are small.
pub fn tables(seed: u64, na: usize, nb: usize, common: usize) -> (InputTable, InputTable) {
    let mut rng = Rng::new(0x9E37_79B9_7F4A_7C15 ^ seed);
    let mut reg = InputTable::new(&["id", "region", "sex", "age", "income"]);
    for i in 0..na {
        let id = if i < common {
            format!("u{i}")
        } else {
            format!("a{i}")
        };
        let region = match rng.below(20) {
            0 => "islands",
            1..=9 => "north",
            _ => "south",
        };
        let age = rng.range(0, 100);
        reg.push(vec![
            id,
            region.into(),
            ["f", "m"][rng.below(2) as usize].into(),
            age.to_string(),
            // Income depends on age, so that the regression and correlations are not trivial.
            (age * 700 + rng.range(-1_000, 20_000)).to_string(),
        ]);
    }
    let mut ids: Vec<String> = (0..nb)
        .map(|i| {
            if i < common {
                format!("u{i}")
            } else {
                format!("b{i}")
            }
        })
        .collect();
    for i in (1..ids.len()).rev() {
        ids.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let mut usage = InputTable::new(&["logins", "id", "minutes", "channel"]);
    for id in ids {
        let logins = rng.range(0, 500);
        usage.push(vec![
            logins.to_string(),
            id,
            (logins * 5 + rng.range(-20, 500)).to_string(),
            ["app", "web"][rng.below(2) as usize].into(),
        ]);
    }
    (reg, usage)
}
