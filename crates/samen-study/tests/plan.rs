//! The matrix rows a data party contributes to the cross-party product: exact values for a
//! fitting table, typed errors (never a silently wrong row) for a table that does not fit.
// Test and benchmark code: a failed unwrap, expect or index is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use common::{output, study_header};
use samen_core::Role;
use samen_pseudonym::IdKind;
use samen_study::input::{ColumnData, InputTable, PartyTable};
use samen_study::plan::{Layout, Plan, TableMismatch, MAX_PRODUCT, MAX_WIDTH};
use samen_study::spec::{SpecError, Statistic, Study, StudyBuilder};

fn study() -> Study {
    let text = study_header(0, 100, 0, 100) + &output("m", "mean", Some("ta.va"), &["ta.ca"], 0);
    Study::from_toml_str(&text).unwrap()
}

fn table(study: &Study) -> PartyTable {
    InputTable::new(&["id", "ca", "cb", "va", "extra"])
        .row(&["x", "a2", "b0", "7", ""])
        .row(&["y", "a0", "b1", "9", ""])
        .validate(study, "ta")
        .unwrap()
}

#[test]
fn rows_hold_presence_times_one_hot_and_values() {
    let study = study();
    let plan = Plan::new(&study).unwrap();
    let t = table(&study);
    let width = plan.width(Role::First);
    let rows = plan.rows(Role::First, &t).unwrap();
    // Positions 0..3: row 1 (y), nobody, row 0 (x).
    let mut out = vec![u64::MAX; 3 * width];
    rows.fill(&[1, u32::MAX, 0], 0, &mut out).unwrap();
    let (y, rest) = out.split_at(width);
    let (nobody, x) = rest.split_at(width);
    assert!(
        nobody.iter().all(|&v| v == 0),
        "an empty position contributes nothing"
    );
    // One output, `mean of va by ca`: per level of ca the factors (1, va), so row y (level a0)
    // is (1, 9) in cell 0 and row x (level a2) is (1, 7) in cell 2.
    assert_eq!(width, 6);
    assert_eq!(y, [1, 9, 0, 0, 0, 0]);
    assert_eq!(x, [0, 0, 0, 0, 1, 7]);
}

#[test]
fn a_table_that_does_not_fit_is_an_error() {
    let study = study();
    let plan = Plan::new(&study).unwrap();
    let width = plan.width(Role::First);
    let mut out = vec![0u64; width];

    let mut short = table(&study);
    short
        .columns
        .insert("va".into(), ColumnData::Integer(vec![7]));
    assert!(matches!(
        plan.rows(Role::First, &short),
        Err(TableMismatch::ColumnLength {
            len: 1,
            rows: 2,
            ..
        })
    ));

    let mut missing = table(&study);
    missing.columns.remove("ca");
    assert!(matches!(
        plan.rows(Role::First, &missing),
        Err(TableMismatch::MissingColumn(c)) if c.contains("ca")
    ));

    let mut bad_level = table(&study);
    bad_level
        .columns
        .insert("ca".into(), ColumnData::Category(vec![2, 3]));
    let rows = plan.rows(Role::First, &bad_level).unwrap();
    rows.fill(&[0], 0, &mut out).unwrap();
    assert!(matches!(
        rows.fill(&[1], 0, &mut out),
        Err(TableMismatch::LevelOutOfRange {
            level: 3,
            levels: 3,
            ..
        })
    ));

    let t = table(&study);
    let rows = plan.rows(Role::First, &t).unwrap();
    assert!(matches!(
        rows.fill(&[2], 0, &mut out),
        Err(TableMismatch::RowOutOfRange { row: 2, rows: 2 })
    ));
}

#[test]
fn the_helper_has_no_matrix() {
    let study = study();
    let plan = Plan::new(&study).unwrap();
    let t = table(&study);
    assert_eq!(plan.width(Role::Helper), 0);
    let mut out: Vec<u64> = Vec::new();
    plan.rows(Role::Helper, &t)
        .unwrap()
        .fill(&[0, 1], 0, &mut out)
        .unwrap();
}

#[test]
fn outputs_grouped_alike_share_their_columns() {
    // count by ca, mean of ta.va by ca, mean of tb.vb by ca: First's side needs per level of ca
    // the factors 1 and va — one block of 3 × 2 columns, not 3 + 6 + 3. Second's side needs
    // 1 and vb (no `by` column of its own): 2 columns.
    let text = study_header(0, 100, 0, 100)
        + &output("n", "count", None, &["ta.ca"], 0)
        + &output("ma", "mean", Some("ta.va"), &["ta.ca"], 0)
        + &output("mb", "mean", Some("tb.vb"), &["ta.ca"], 0)
        + &output("by_cb", "count", None, &["ta.cb"], 0);
    let study = Study::from_toml_str(&text).unwrap();
    let plan = Plan::new(&study).unwrap();
    // + 2 columns for the count by cb (its own block).
    assert_eq!((plan.k, plan.l), (3 * 2 + 2, 2));
    assert_eq!(plan.first.len(), 2);
    // Every quantity still has its own product entry, and the shared ones coincide.
    let n_count = plan.entry(0, 1, 0).unwrap();
    assert_eq!(
        plan.entry(1, 1, 0),
        Some(n_count),
        "the counts by ca are one entry"
    );
    assert_ne!(
        plan.entry(1, 1, 1),
        plan.entry(2, 1, 1),
        "Σva and Σvb are different entries"
    );
}

#[test]
fn every_cell_has_an_entry_per_declared_quantity() {
    let mut text = study_header(0, 100, 0, 100);
    for (i, (stat, of)) in [
        ("count", None),
        ("sum", Some("tb.vb")),
        ("mean", Some("ta.va")),
        ("variance", Some("tb.vb")),
    ]
    .into_iter()
    .enumerate()
    {
        text += &output(&format!("o{i}"), stat, of, &["ta.ca", "tb.cc"], 0);
    }
    let study = Study::from_toml_str(&text).unwrap();
    let plan = Plan::new(&study).unwrap();
    let layout = Layout::new(&study, &plan);
    assert!(layout.is_complete());
    for slot in &layout.slots {
        let want = [1, 2, 2, 3][slot.output];
        assert_eq!(slot.entries.len(), want, "output {}", slot.output);
        assert!(slot.entries.iter().all(|&e| e < plan.k * plan.l));
        let mut distinct = slot.entries.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), want, "one entry per quantity");
    }
}

fn refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// A study of `a` × `b` cells of a count on First's side and `c` cells on Second's.
fn wide_study(a: usize, b: usize, c: usize) -> StudyBuilder {
    let levels = |n: usize, p: &str| -> Vec<String> { (0..n).map(|i| format!("{p}{i}")).collect() };
    let (la, lb, lc) = (levels(a, "a"), levels(b, "b"), levels(c, "c"));
    StudyBuilder::new("wide")
        .data_party("p", "x:1")
        .data_party("q", "x:2")
        .helper("h", "x:3")
        .table("ta", "p", "id", IdKind::Text)
        .category("ta", "ca", &refs(&la))
        .category("ta", "cb", &refs(&lb))
        .table("tb", "q", "id", IdKind::Text)
        .category("tb", "cc", &refs(&lc))
        .output("first", Statistic::Count, None, &["ta.ca", "ta.cb"], 0)
        .output("second", Statistic::Count, None, &["tb.cc"], 0)
}

#[test]
fn matrices_and_their_product_are_bounded_before_anything_is_sent() {
    // k = a·b + 1 (the second output's presence column), l = 1 + c.
    let plan = Plan::new(&wide_study(500, 500, 60).build().unwrap()).unwrap();
    assert_eq!((plan.k, plan.l), (250_001, 61));
    assert!(plan.k * plan.l <= MAX_PRODUCT);
    match wide_study(600, 500, 2).build() {
        Err(SpecError::TooWide { party, width, max }) => {
            assert_eq!((party.as_str(), width, max), ("p", 300_001, MAX_WIDTH));
        }
        other => panic!("{other:?}"),
    }
    match wide_study(500, 500, 100).build() {
        Err(SpecError::ProductTooLarge { k, l, max }) => {
            assert_eq!((k, l, max), (250_001, 101, MAX_PRODUCT));
        }
        other => panic!("{other:?}"),
    }
}
