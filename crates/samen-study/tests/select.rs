//! `where` filters and `by` bands: the joint computation equals the plaintext reference with
//! both joins, and the reference equals a direct computation on the joined rows.
// Test code: a failed unwrap, expect or index is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use common::{study_header, with_join, Rng, JOIN_METHODS};
use samen_study::input::InputTable;
use samen_study::reference;
use samen_study::session::run_in_process;
use samen_study::spec::Study;
use samen_study::OutputTable;

fn run_both(
    study: &Study,
    ta: &InputTable,
    tb: &InputTable,
) -> (Vec<OutputTable>, Vec<OutputTable>) {
    let a = ta.validate(study, "ta").unwrap();
    let b = tb.validate(study, "tb").unwrap();
    let plain = reference::compute(study, &[&a, &b]);
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

/// An output section with raw `by` and `where` TOML.
fn out(
    name: &str,
    stat: &str,
    of: Option<&str>,
    by: &str,
    filters: &[&str],
    min_cell: u64,
) -> String {
    let of = of.map(|o| format!("of = \"{o}\"\n")).unwrap_or_default();
    let w: Vec<String> = filters.iter().map(|f| format!("{f:?}")).collect();
    format!(
        "\n[[outputs]]\nname = \"{name}\"\nstatistic = \"{stat}\"\n{of}by = [{by}]\nwhere = [{}]\nmin_cell = {min_cell}\n",
        w.join(", ")
    )
}

/// A joined row: (ca, cb, va, cc, cd, vb).
type Joined = (String, String, i64, String, String, i64);

/// First's own row: (ca, cb, va).
type Own = (String, String, i64);

/// Random tables (First: 140 rows, Second: 110, 90 shared identifiers), their joined rows and
/// First's rows.
fn tables(rng: &mut Rng) -> (InputTable, InputTable, Vec<Joined>, Vec<Own>) {
    let mut ta = InputTable::new(&["id", "ca", "cb", "va"]);
    let mut tb = InputTable::new(&["id", "cc", "cd", "vb"]);
    let mut rows = Vec::new();
    let mut b_rows = Vec::new();
    let mut own = Vec::new();
    for i in 0..140 {
        let (ca, cb, va) = (
            format!("a{}", rng.below(3)),
            format!("b{}", rng.below(2)),
            rng.range(-20, 20),
        );
        ta.push(vec![
            format!("u{i}"),
            ca.clone(),
            cb.clone(),
            va.to_string(),
        ]);
        own.push((ca.clone(), cb.clone(), va));
        if i < 90 {
            let (cc, cd, vb) = (
                format!("c{}", rng.below(2)),
                format!("d{}", rng.below(3)),
                rng.range(0, 9),
            );
            b_rows.push(vec![
                format!("u{i}"),
                cc.clone(),
                cd.clone(),
                vb.to_string(),
            ]);
            rows.push((ca, cb, va, cc, cd, vb));
        }
    }
    for i in 0..20 {
        b_rows.push(vec![format!("v{i}"), "c0".into(), "d0".into(), "1".into()]);
    }
    for i in (1..b_rows.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        b_rows.swap(i, j);
    }
    for r in b_rows {
        tb.push(r);
    }
    (ta, tb, rows, own)
}

#[test]
fn filters_on_either_side_and_both_match_the_reference_and_a_direct_count() {
    for (seed, min_cell) in [(1u64, 0u64), (2, 4)] {
        let text = study_header(-20, 20, 0, 9)
            + &out("fa", "count", None, "\"tb.cd\"", &["ta.va >= 0"], min_cell)
            + &out(
                "fb",
                "mean",
                Some("ta.va"),
                "\"ta.ca\"",
                &["tb.cd in [\"d0\", \"d2\"]"],
                min_cell,
            )
            + &out(
                "fab",
                "sum",
                Some("tb.vb"),
                "\"ta.cb\", \"tb.cc\"",
                &["ta.ca not in [\"a1\"]", "tb.vb < 7", "ta.va != 3"],
                min_cell,
            )
            + &out(
                "fsame",
                "variance",
                Some("tb.vb"),
                "",
                &["ta.va >= 0", "tb.vb > 2"],
                min_cell,
            )
            + &out("none", "count", None, "\"tb.cd\"", &[], min_cell);
        let study = Study::from_toml_str(&text).unwrap();
        let mut rng = Rng::new(0xF117E5 ^ seed);
        let (ta, tb, rows, _) = tables(&mut rng);
        let (mpc, plain) = run_both(&study, &ta, &tb);
        for (m, p) in mpc.iter().zip(&plain) {
            assert_eq!(m, p, "output {} differs (seed {seed})", m.name);
        }
        // Direct computation on the joined rows.
        for (i, d) in ["d0", "d1", "d2"].iter().enumerate() {
            let n = rows.iter().filter(|r| r.4 == *d && r.2 >= 0).count() as u64;
            let all = rows.iter().filter(|r| r.4 == *d).count() as u64;
            if n >= min_cell {
                assert_eq!(mpc[0].get(i, "count"), Some(n.to_string().as_str()));
            }
            if all >= min_cell {
                assert_eq!(mpc[4].get(i, "count"), Some(all.to_string().as_str()));
            }
        }
        let mut cell = 0;
        for b in ["b0", "b1"] {
            for c in ["c0", "c1"] {
                let sel: Vec<&Joined> = rows
                    .iter()
                    .filter(|r| r.1 == b && r.3 == c && r.0 != "a1" && r.5 <= 6 && r.2 != 3)
                    .collect();
                if sel.len() as u64 >= min_cell {
                    let sum: i64 = sel.iter().map(|r| r.5).sum();
                    assert_eq!(
                        mpc[2].get(cell, "count"),
                        Some(sel.len().to_string().as_str())
                    );
                    assert_eq!(mpc[2].get(cell, "sum"), Some(sum.to_string().as_str()));
                }
                cell += 1;
            }
        }
    }
}

#[test]
fn bands_group_values_at_their_edges() {
    // ta.va in [-20, 20]: breaks 0 and 10 give (-inf,0), [0,10), [10,inf); tb.vb in [0, 9]:
    // breaks 0, 5 give [0,5), [5,inf) (no band below the declared minimum).
    let text = study_header(-20, 20, 0, 9)
        + &out(
            "band_a",
            "count",
            None,
            "{ column = \"ta.va\", breaks = [0, 10] }",
            &[],
            0,
        )
        + &out(
            "band_ab",
            "mean",
            Some("ta.va"),
            "\"ta.ca\", { column = \"tb.vb\", breaks = [0, 5] }",
            &["tb.vb != 9"],
            0,
        );
    let study = Study::from_toml_str(&text).unwrap();
    // Values exactly at the edges.
    let mut ta = InputTable::new(&["id", "ca", "cb", "va"]);
    let mut tb = InputTable::new(&["id", "cc", "cd", "vb"]);
    let va = [-20, -1, 0, 9, 10, 20, 0, 5];
    let vb = [0, 4, 5, 9, 0, 4, 5, 9];
    for (i, (a, b)) in va.iter().zip(vb).enumerate() {
        ta.push(vec![
            format!("p{i}"),
            format!("a{}", i % 3),
            "b0".into(),
            a.to_string(),
        ]);
        tb.push(vec![
            format!("p{i}"),
            "c0".into(),
            "d0".into(),
            b.to_string(),
        ]);
    }
    ta.push(vec!["lonely".into(), "a0".into(), "b0".into(), "0".into()]);
    let (mpc, plain) = run_both(&study, &ta, &tb);
    assert_eq!(mpc, plain);
    assert_eq!(
        mpc[0].to_csv(),
        "ta.va,count,suppressed\n\"(-inf,0)\",2,false\n\"[0,10)\",4,false\n\"[10,inf)\",2,false\n"
    );
    let file = mpc[1].main().unwrap();
    let bands: Vec<&str> = file.rows.iter().map(|r| r[1].as_str()).collect();
    assert_eq!(
        bands,
        ["[0,5)", "[5,inf)", "[0,5)", "[5,inf)", "[0,5)", "[5,inf)"]
    );
    // a0: rows 0, 3, 6 → (va, vb) = (-20, 0), (9, 9: filtered out), (0, 5).
    assert_eq!(mpc[1].get(0, "count"), Some("1"));
    assert_eq!(mpc[1].get(0, "mean"), Some("-20"));
    assert_eq!(mpc[1].get(1, "count"), Some("1"));
    assert_eq!(mpc[1].get(1, "mean"), Some("0"));
}

#[test]
fn rates_over_either_table_match_the_reference_and_a_direct_computation() {
    for (seed, min_cell) in [(3u64, 0u64), (4, 5)] {
        let text = study_header(-20, 20, 0, 9)
            + &out("ra", "rate", None, "\"ta.ca\", \"ta.cb\"", &[], min_cell)
            + &out(
                "rab",
                "rate",
                None,
                "\"ta.ca\"",
                &["ta.va >= 0", "tb.cd in [\"d1\", \"d2\"]"],
                min_cell,
            )
            + &out(
                "rb",
                "rate",
                None,
                "{ column = \"tb.vb\", breaks = [3, 6] }",
                &["tb.cc in [\"c0\"]"],
                min_cell,
            )
            + &out("n", "count", None, "\"ta.ca\"", &[], min_cell);
        let study = Study::from_toml_str(&text).unwrap();
        let mut rng = Rng::new(0x4A7E ^ seed);
        let (ta, tb, rows, own) = tables(&mut rng);
        let (mpc, plain) = run_both(&study, &ta, &tb);
        for (m, p) in mpc.iter().zip(&plain) {
            assert_eq!(m, p, "output {} differs (seed {seed})", m.name);
        }
        assert_eq!(
            mpc[0].main().unwrap().header,
            ["ta.ca", "ta.cb", "rows", "matched", "rate", "suppressed"]
        );
        // Direct: First's own rows per (ca, cb) and the matched ones.
        let mut cell = 0;
        for ca in ["a0", "a1", "a2"] {
            for cb in ["b0", "b1"] {
                let r = own.iter().filter(|x| x.0 == ca && x.1 == cb).count() as u64;
                let m = rows.iter().filter(|x| x.0 == ca && x.1 == cb).count() as u64;
                if m >= min_cell {
                    assert_eq!(mpc[0].get(cell, "rows"), Some(r.to_string().as_str()));
                    assert_eq!(mpc[0].get(cell, "matched"), Some(m.to_string().as_str()));
                    let rate: f64 = mpc[0].get(cell, "rate").unwrap().parse().unwrap();
                    assert_eq!(rate, m as f64 / r as f64);
                } else {
                    assert_eq!(mpc[0].get(cell, "suppressed"), Some("true"));
                    assert_eq!(mpc[0].get(cell, "rows"), None);
                }
                cell += 1;
            }
        }
        // With filters on both sides: rows counts First's rows with va >= 0 only.
        for (i, ca) in ["a0", "a1", "a2"].iter().enumerate() {
            let r = own.iter().filter(|x| x.0 == *ca && x.2 >= 0).count() as u64;
            let m = rows
                .iter()
                .filter(|x| x.0 == *ca && x.2 >= 0 && x.4 != "d0")
                .count() as u64;
            if m >= min_cell {
                assert_eq!(mpc[1].get(i, "rows"), Some(r.to_string().as_str()));
                assert_eq!(mpc[1].get(i, "matched"), Some(m.to_string().as_str()));
            }
        }
    }
}

/// A bad declaration: statistic, `of`, `by`, `where`, and what the message must say.
type Case = (
    &'static str,
    Option<&'static str>,
    &'static str,
    &'static [&'static str],
    &'static str,
);

/// Each bad `where`, band or rate declaration is refused with a message naming the output and
/// what to fix.
#[test]
fn bad_filters_bands_and_rates_are_refused_naming_the_output() {
    let head = study_header(-20, 20, 0, 9);
    let cases: [Case; 14] = [
        (
            "count",
            None,
            "\"ta.ca\"",
            &["ta.nope >= 1"],
            "'ta.nope' is not declared",
        ),
        (
            "count",
            None,
            "\"ta.ca\"",
            &["ta.ca in [\"a9\"]"],
            "'a9' is not a declared level",
        ),
        (
            "count",
            None,
            "\"ta.ca\"",
            &["tb.cd not in [\"x\"]"],
            "'x' is not a declared level",
        ),
        (
            "count",
            None,
            "\"ta.ca\"",
            &["ta.ca >= 1"],
            "category column",
        ),
        (
            "count",
            None,
            "\"ta.ca\"",
            &["ta.va in [\"a0\"]"],
            "integer column",
        ),
        (
            "count",
            None,
            "\"ta.ca\"",
            &["ta.va >= many"],
            "not an integer",
        ),
        ("count", None, "\"ta.ca\"", &["ta.va ~ 1"], "one of =, !="),
        (
            "count",
            None,
            "{ column = \"ta.va\", breaks = [0, 0] }",
            &[],
            "strictly increasing",
        ),
        (
            "count",
            None,
            "{ column = \"ta.va\", breaks = [5, 1] }",
            &[],
            "strictly increasing",
        ),
        (
            "count",
            None,
            "{ column = \"ta.ca\", breaks = [1] }",
            &[],
            "category column",
        ),
        ("count", None, "\"ta.va\"", &[], "group it in bands"),
        ("rate", None, "", &[], "needs 1 or 2 'by' columns"),
        ("rate", None, "\"ta.ca\", \"tb.cc\"", &[], "from one table"),
        ("rate", Some("ta.va"), "\"ta.ca\"", &[], "takes no 'of'"),
    ];
    for (stat, of, by, filters, want) in cases {
        let text = head.clone() + &out("culprit", stat, of, by, filters, 5);
        let e = match Study::from_toml_str(&text) {
            Ok(_) => panic!("accepted: {stat} by [{by}] where {filters:?}"),
            Err(e) => e.to_string(),
        };
        assert!(e.contains("output 'culprit'"), "{e}");
        assert!(e.contains(want), "{want}: {e}");
    }
    // Unknown keys in a band are refused too.
    let text = head
        + &out(
            "b",
            "count",
            None,
            "{ column = \"ta.va\", breaks = [1], open = true }",
            &[],
            5,
        );
    assert!(Study::from_toml_str(&text).is_err());
}

/// A rate with a privacy budget runs, and noise leaves the suppression rule in force.
#[test]
fn a_noisy_rate_runs_and_suppresses_small_cells() {
    let text = study_header(-20, 20, 0, 9)
        + &out("r", "rate", None, "\"ta.ca\", \"ta.cb\"", &[], 12)
        + "epsilon = 1\n";
    let study = Study::from_toml_str(&text).unwrap();
    let (ta, tb, _, _) = tables(&mut Rng::new(99));
    let a = ta.validate(&study, "ta").unwrap();
    let b = tb.validate(&study, "tb").unwrap();
    let t = run_in_process(&study, [&a, &b], false).unwrap().tables;
    let file = t[0].main().unwrap();
    assert_eq!(file.rows.len(), 6);
    for row in &file.rows {
        if row[5] == "false" {
            let rows: i64 = row[2].parse().unwrap();
            let matched: i64 = row[3].parse().unwrap();
            assert!(rows >= 12 && matched >= 12, "{row:?}");
        } else {
            assert_eq!(&row[2..5], ["", "", ""]);
        }
    }
}

/// A hand-computed rate: the CSV text, a cell with no matches, a filter on the other side.
#[test]
fn rate_on_a_hand_computed_example() {
    let text = study_header(-20, 20, 0, 9)
        + &out("r", "rate", None, "\"ta.ca\"", &[], 0)
        + &out(
            "rf",
            "rate",
            None,
            "\"ta.ca\"",
            &["tb.vb >= 5", "ta.va != 7"],
            0,
        );
    let study = Study::from_toml_str(&text).unwrap();
    let ta = InputTable::new(&["id", "ca", "cb", "va"])
        .row(&["p", "a0", "b0", "1"])
        .row(&["q", "a0", "b0", "7"])
        .row(&["r", "a0", "b1", "2"])
        .row(&["s", "a0", "b1", "3"])
        .row(&["t", "a1", "b0", "4"]);
    let tb = InputTable::new(&["id", "cc", "cd", "vb"])
        .row(&["q", "c0", "d0", "5"])
        .row(&["p", "c0", "d0", "9"])
        .row(&["r", "c1", "d2", "2"])
        .row(&["z", "c1", "d2", "8"]);
    let (mpc, plain) = run_both(&study, &ta, &tb);
    assert_eq!(mpc, plain);
    // a0: 4 rows, 3 matched (p, q, r); a1: 1 row, none matched; a2: no rows.
    assert_eq!(
        mpc[0].to_csv(),
        "ta.ca,rows,matched,rate,suppressed\na0,4,3,0.75,false\na1,1,0,0,false\na2,0,0,,false\n"
    );
    // Filters: rows counts First's rows with va != 7 (p, r, s in a0; t in a1); matched also
    // needs vb >= 5 (p only: q has va = 7, r has vb = 2).
    assert_eq!(
        mpc[1].to_csv(),
        "ta.ca,rows,matched,rate,suppressed\na0,3,1,0.3333333333333333,false\na1,1,0,0,false\na2,0,0,,false\n"
    );
}
