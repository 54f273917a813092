//! Run a study with all three parties inside one process and print the revealed tables.
//!
//! ```text
//! cargo run -p samen --example study_in_process [ROWS]
//! ```
//! Builds synthetic register and usage tables (deterministic), runs the joint computation over
//! in-process channels, prints every output as CSV and checks it against the plaintext answer.
// Test and benchmark code: a failed unwrap, expect or index is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use samen::study::reference;
use samen::{IdKind, InputTable, Statistic, StudyBuilder};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rows: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(5_000);
    let regions = ["Groningen", "Friesland", "Drenthe", "Overijssel"];
    let study = StudyBuilder::new("example")
        .data_party("bureau", "127.0.0.1:7101")
        .data_party("portal", "127.0.0.1:7102")
        .helper("trustee", "127.0.0.1:7103")
        .table("register", "bureau", "bsn", IdKind::Bsn)
        .category("register", "region", &regions)
        .integer("register", "age", 0, 120)
        .table("usage", "portal", "bsn", IdKind::Bsn)
        .category("usage", "channel", &["app", "web", "phone"])
        .integer("usage", "logins", 0, 10_000)
        .output(
            "users_by_region_channel",
            Statistic::Count,
            None,
            &["register.region", "usage.channel"],
            10,
        )
        .output(
            "mean_logins_by_region",
            Statistic::Mean,
            Some("usage.logins"),
            &["register.region"],
            10,
        )
        .output(
            "age_variance_by_channel",
            Statistic::Variance,
            Some("register.age"),
            &["usage.channel"],
            10,
        )
        .build()?;

    let bsn = |i: usize| samen::pseudonym::normalise::bsn_from_index(i as u64).unwrap_or_default();
    let mut register = InputTable::new(&["bsn", "region", "age"]);
    for i in 0..rows {
        register.push(vec![
            bsn(i),
            regions[i * 7 % regions.len()].to_string(),
            (i * 31 % 100).to_string(),
        ]);
    }
    let mut usage = InputTable::new(&["bsn", "channel", "logins"]);
    for j in 0..rows * 2 / 5 {
        // Two thirds of the portal's users are in the register.
        let i = if j % 3 == 2 { rows + j } else { j * 2 };
        usage.push(vec![
            bsn(i),
            ["app", "web", "phone"][j % 3].to_string(),
            (j * 13 % 200).to_string(),
        ]);
    }

    let start = std::time::Instant::now();
    let tables = samen::run_in_process(&study, &[("register", &register), ("usage", &usage)])?;
    eprintln!("joint computation: {:.2} s", start.elapsed().as_secs_f64());
    for t in &tables {
        println!("# {}\n{}", t.name, t.to_csv());
    }

    let a = register.validate(&study, "register")?;
    let b = usage.validate(&study, "usage")?;
    assert_eq!(
        tables,
        reference::compute(&study, &[&a, &b]),
        "MPC and plaintext differ"
    );
    eprintln!("tables equal the plaintext computation");
    Ok(())
}
