//! Secondary suppression against an independent attacker, and the refusal of cancelled noise.
//!
//! The attacker does not use the pairwise margins of the implementation: it writes the unknown
//! joint table over every category column of the study (per released quantity), takes each
//! released cell and the known total as a linear functional of it, and decides with exact
//! rational arithmetic whether a suppressed cell's functional lies in their span.

use num_rational::BigRational;
use num_traits::{One, Zero};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use samen_pseudonym::IdKind;

use super::*;
use crate::spec::{Statistic, StudyBuilder};

/// Row-reduced basis of a set of vectors over the rationals.
struct Span {
    rows: Vec<(usize, Vec<BigRational>)>,
}

impl Span {
    fn new() -> Span {
        Span { rows: Vec::new() }
    }

    /// Reduce `v` by the basis; returns the remainder.
    fn reduce(&self, mut v: Vec<BigRational>) -> Vec<BigRational> {
        for (p, r) in &self.rows {
            if !v[*p].is_zero() {
                let f = v[*p].clone() / r[*p].clone();
                for (x, y) in v.iter_mut().zip(r) {
                    *x -= f.clone() * y;
                }
            }
        }
        v
    }

    fn add(&mut self, v: Vec<BigRational>) {
        let v = self.reduce(v);
        if let Some(p) = v.iter().position(|x| !x.is_zero()) {
            // Keep the basis reduced at p for the rows added earlier.
            for (_, r) in self.rows.iter_mut() {
                if !r[p].is_zero() {
                    let f = r[p].clone() / v[p].clone();
                    for (x, y) in r.iter_mut().zip(&v) {
                        *x -= f.clone() * y;
                    }
                }
            }
            self.rows.push((p, v));
        }
    }

    fn contains(&self, v: Vec<BigRational>) -> bool {
        self.reduce(v).iter().all(Zero::is_zero)
    }
}

/// The category columns of the test studies: (table.column, levels).
const COLUMNS: [(&str, usize); 3] = [("ta.g", 3), ("ta.h", 2), ("tb.k", 3)];

/// Joint cells: every combination of the levels of COLUMNS.
fn joint_cells() -> Vec<[usize; 3]> {
    let mut v = Vec::new();
    for g in 0..3 {
        for h in 0..2 {
            for k in 0..3 {
                v.push([g, h, k]);
            }
        }
    }
    v
}

/// The indicator over the joint cells of cell `cell` of an output grouped by `by`.
fn functional(by: &[ColumnRef], cell: usize) -> Vec<BigRational> {
    let sizes: Vec<usize> = by
        .iter()
        .map(|r| COLUMNS.iter().find(|(n, _)| *n == r.to_string()).unwrap().1)
        .collect();
    let mut idx = vec![0; by.len()];
    let mut rest = cell;
    for (slot, &n) in idx.iter_mut().zip(&sizes).rev() {
        *slot = rest % n;
        rest /= n;
    }
    joint_cells()
        .iter()
        .map(|j| {
            let inside = by.iter().zip(&idx).all(|(r, &l)| {
                let k = COLUMNS
                    .iter()
                    .position(|(n, _)| *n == r.to_string())
                    .unwrap();
                j[k] == l
            });
            if inside {
                BigRational::one()
            } else {
                BigRational::zero()
            }
        })
        .collect()
}

/// The suppressed (output, cell, quantity) values the attacker determines: it knows the total
/// and every shown cell of every exact output that releases the quantity. The count of a
/// one-cell output is the known total itself and is not counted.
fn attack(study: &Study, pattern: &Pattern) -> Vec<(usize, usize, String)> {
    let outputs = study.outputs();
    let released: Vec<Vec<Quantity>> = outputs
        .iter()
        .map(|o| {
            if o.privacy.is_some() {
                Vec::new()
            } else {
                statistic::definition(o.statistic).released(o, study)
            }
        })
        .collect();
    let all: BTreeSet<&Quantity> = released.iter().flatten().collect();
    let mut found = Vec::new();
    for q in all {
        let mut span = Span::new();
        if *q == Quantity::count() {
            span.add(vec![BigRational::one(); joint_cells().len()]);
        }
        for (oi, o) in outputs.iter().enumerate() {
            if !released[oi].contains(q) {
                continue;
            }
            for (ci, s) in pattern.output(oi).iter().enumerate() {
                if !s.is_suppressed() {
                    span.add(functional(&o.by, ci));
                }
            }
        }
        for (oi, o) in outputs.iter().enumerate() {
            if !released[oi].contains(q) {
                continue;
            }
            let one_cell = pattern.output(oi).len() == 1;
            for (ci, s) in pattern.output(oi).iter().enumerate() {
                if s.is_suppressed()
                    && !(one_cell && *q == Quantity::count())
                    && span.contains(functional(&o.by, ci))
                {
                    found.push((oi, ci, q.describe()));
                }
            }
        }
    }
    found
}

const BYS: [&[&str]; 8] = [
    &[],
    &["ta.g"],
    &["ta.h"],
    &["tb.k"],
    &["ta.g", "ta.h"],
    &["ta.h", "ta.g"],
    &["ta.g", "tb.k"],
    &["tb.k", "ta.h"],
];

/// A random study of 1–5 outputs over the columns above (counts, sums, means; sometimes a
/// regression or a noisy output), with its random primary pattern.
fn random_case(rng: &mut ChaCha8Rng) -> (Study, Vec<Vec<bool>>) {
    let mut b = StudyBuilder::new("s")
        .data_party("a", "x:1")
        .data_party("b", "x:2")
        .helper("h", "x:3")
        .table("ta", "a", "id", IdKind::Text)
        .category("ta", "g", &["g0", "g1", "g2"])
        .category("ta", "h", &["h0", "h1"])
        .table("tb", "b", "id", IdKind::Text)
        .category("tb", "k", &["k0", "k1", "k2"])
        .integer("tb", "v", 0, 100)
        .integer("tb", "w", 0, 100);
    let n = rng.random_range(1..=5);
    let mut primary = Vec::new();
    for i in 0..n {
        let name = format!("o{i}");
        let by = BYS[rng.random_range(0..BYS.len())];
        let cells: usize = by
            .iter()
            .map(|c| COLUMNS.iter().find(|(n, _)| n == c).unwrap().1)
            .product();
        let kind = rng.random_range(0..10);
        b = match kind {
            0..=3 => b.output(&name, Statistic::Count, None, by, 5),
            4..=5 => b.output(&name, Statistic::Sum, Some("tb.v"), by, 5),
            6 => b.output(&name, Statistic::Mean, Some("tb.w"), by, 5),
            7 => b.output(&name, Statistic::Variance, Some("tb.v"), by, 5),
            8 => b.statistic_output(&name, Statistic::Regression, &["tb.v"], &["ta.g"], &[], 5),
            _ => b
                .output(&name, Statistic::Count, None, by, 5)
                .epsilon(1.0)
                .allow_exact_overlap(),
        };
        let cells = if kind == 8 { 1 } else { cells };
        let p = rng.random_range(0.0..0.6);
        primary.push((0..cells).map(|_| rng.random_bool(p)).collect());
    }
    (b.build().unwrap(), primary)
}

/// For 10^3 random studies with nested outputs (one-way, two-way, the total): no suppressed
/// cell's count or sum is determined by the released cells and the known total; where nothing
/// was determined under the primary pattern alone, nothing is added; noisy outputs and models
/// keep their primary pattern; only cells shown before become secondary.
#[test]
fn no_suppressed_value_is_determined() {
    let mut rng = ChaCha8Rng::seed_from_u64(20);
    let (mut added_somewhere, mut untouched) = (0, 0);
    for case in 0..1000 {
        let (study, primary) = random_case(&mut rng);
        let links = Links::new(&study);
        let pattern = links.protect(&primary);
        let context = || format!("case {case}: {:?}\nprimary {primary:?}", study.outputs());
        assert!(pattern.exposed().is_empty(), "{}", context());
        let found = attack(&study, &pattern);
        assert!(found.is_empty(), "{}\ndetermined: {found:?}", context());
        for (oi, o) in study.outputs().iter().enumerate() {
            for (ci, s) in pattern.output(oi).iter().enumerate() {
                let was = primary[oi][ci];
                match s {
                    Suppression::Primary => assert!(was, "{}", context()),
                    Suppression::Shown => assert!(!was, "{}", context()),
                    Suppression::Secondary => {
                        assert!(!was, "{}", context());
                        assert!(
                            o.privacy.is_none() && o.statistic != Statistic::Regression,
                            "{}",
                            context()
                        );
                    }
                }
            }
        }
        let before = Pattern::primary_only(&primary, &links.cells);
        if attack(&study, &before).is_empty() {
            assert_eq!(pattern, before, "{}", context());
            untouched += 1;
        } else {
            added_somewhere += 1;
        }
    }
    // Both kinds of case occur often enough for the test to mean something.
    assert!(
        added_somewhere > 200 && untouched > 200,
        "{added_somewhere} {untouched}"
    );
}

/// An output of a test study: name, statistic, `of`, `by`, `min_cell`.
type TestOutput<'a> = (&'a str, Statistic, Option<&'a str>, &'a [&'a str], u64);

fn study_with(outputs: &[TestOutput<'_>]) -> StudyBuilder {
    let mut b = StudyBuilder::new("s")
        .data_party("a", "x:1")
        .data_party("b", "x:2")
        .helper("h", "x:3")
        .table("ta", "a", "id", IdKind::Text)
        .category("ta", "g", &["g0", "g1", "g2"])
        .category("ta", "h", &["h0", "h1"])
        .table("tb", "b", "id", IdKind::Text)
        .integer("tb", "v", 0, 100);
    for &(name, s, of, by, m) in outputs {
        b = b.output(name, s, of, by, m);
    }
    b
}

/// The examples of the documentation: a margin next to a two-way table, and different
/// `min_cell` values on the same grouping.
#[test]
fn margins_and_thresholds_are_protected() {
    // count by g (all shown) and count by g × h with (g0, h0) below min_cell: the margin of g0
    // would give it; its partner in row g0, (g0, h1), is hidden.
    let study = study_with(&[
        ("by_g", Statistic::Count, None, &["ta.g"], 10),
        ("by_gh", Statistic::Count, None, &["ta.g", "ta.h"], 10),
    ])
    .build()
    .unwrap();
    let p = protect(
        &study,
        &[
            vec![false; 3],
            vec![true, false, false, false, false, false],
        ],
    );
    assert_eq!(p.output(0), [Suppression::Shown; 3]);
    assert_eq!(p.counts(1), (1, 1));
    assert_eq!(p.get(1, 1), Suppression::Secondary, "{p:?}");
    assert!(attack(&study, &p).is_empty());

    // count by g with min_cell 10, mean by g with min_cell 0: the mean's cell hides too.
    let study = study_with(&[
        ("n", Statistic::Count, None, &["ta.g"], 10),
        ("m", Statistic::Mean, Some("tb.v"), &["ta.g"], 0),
    ])
    .build()
    .unwrap();
    let p = protect(&study, &[vec![true, false, false], vec![false; 3]]);
    assert!(attack(&study, &p).is_empty());
    assert!(p.get(1, 0).is_suppressed(), "{p:?}");
    assert_eq!(p.totals(), (1, 3), "{p:?}");
}

/// Nothing suppressed, or two suppressed cells in a table without margins: unchanged.
#[test]
fn nothing_to_derive_means_no_secondary_cell() {
    let study = study_with(&[("by_gh", Statistic::Count, None, &["ta.g", "ta.h"], 10)])
        .build()
        .unwrap();
    for primary in [vec![false; 6], vec![true, true, false, false, false, false]] {
        let p = protect(&study, std::slice::from_ref(&primary));
        assert_eq!(p.totals().1, 0, "{primary:?}");
    }
}

/// The pairwise margins catch outputs that are not nested: g × h and g × k share the g
/// margin, so one hidden cell in a row of g × h is found from g × k.
#[test]
fn a_shared_margin_links_outputs_that_are_not_nested() {
    let study = StudyBuilder::new("s")
        .data_party("a", "x:1")
        .data_party("b", "x:2")
        .helper("h", "x:3")
        .table("ta", "a", "id", IdKind::Text)
        .category("ta", "g", &["g0", "g1"])
        .category("ta", "h", &["h0", "h1"])
        .table("tb", "b", "id", IdKind::Text)
        .category("tb", "k", &["k0", "k1"])
        .output("gh", Statistic::Count, None, &["ta.g", "ta.h"], 10)
        .output("gk", Statistic::Count, None, &["ta.g", "tb.k"], 10)
        .build()
        .unwrap();
    let primary = vec![vec![true, false, false, false], vec![false; 4]];
    let before = Pattern::primary_only(&primary, &[4, 4]);
    assert!(!attack(&study, &before).is_empty());
    let p = protect(&study, &primary);
    assert!(p.totals().1 > 0);
    assert!(attack(&study, &p).is_empty());
}

/// Validation refuses a noisy output next to an exact output with the same or finer cells,
/// naming both; a coarser exact margin is fine; the override lets it through and is listed.
#[test]
fn noise_that_exact_outputs_cancel_is_refused() {
    let finer = study_with(&[
        ("exact", Statistic::Count, None, &["ta.h", "ta.g"], 10),
        ("noisy", Statistic::Count, None, &["ta.g"], 10),
    ]);
    let refused = [
        finer.clone().epsilon(1.0),
        study_with(&[
            ("exact", Statistic::Sum, Some("tb.v"), &["ta.g"], 10),
            ("noisy", Statistic::Mean, Some("tb.v"), &["ta.g"], 10),
        ])
        .rho(0.5),
        // A noisy total sum next to an exact sum by g: the sum of the cells gives it.
        study_with(&[
            ("exact", Statistic::Sum, Some("tb.v"), &["ta.g"], 10),
            ("noisy", Statistic::Sum, Some("tb.v"), &[], 0),
        ])
        .epsilon(1.0),
    ];
    for b in refused {
        match b.build() {
            Err(SpecError::NoiseCancelled { noisy, exact }) => {
                assert_eq!((noisy.as_str(), exact.as_str()), ("noisy", "exact"));
            }
            other => panic!("{other:?}"),
        }
    }
    let e = finer.clone().epsilon(1.0).build().unwrap_err().to_string();
    assert!(
        e.contains("'noisy'") && e.contains("'exact'") && e.contains("allow_exact_overlap"),
        "{e}"
    );
    let fine = [
        // An exact coarser margin.
        study_with(&[
            ("exact", Statistic::Count, None, &["ta.g"], 10),
            ("noisy", Statistic::Count, None, &["ta.g", "ta.h"], 10),
        ])
        .epsilon(1.0),
        // Other columns.
        study_with(&[
            ("exact", Statistic::Count, None, &["ta.h"], 10),
            ("noisy", Statistic::Count, None, &["ta.g"], 10),
        ])
        .epsilon(1.0),
        // A noisy count of all matched rows next to an exact total: known anyway.
        study_with(&[
            ("exact", Statistic::Count, None, &[], 10),
            ("noisy", Statistic::Count, None, &[], 10),
        ])
        .epsilon(1.0),
    ];
    for b in fine {
        let s = b.build().unwrap();
        assert!(exact_overlaps(&s).is_empty());
    }
    let allowed = finer.epsilon(1.0).allow_exact_overlap().build().unwrap();
    assert_eq!(
        allowed_overlaps(&allowed),
        [Overlap {
            noisy: "noisy".into(),
            exact: "exact".into(),
            allowed: true
        }]
    );
    // The override is for noisy outputs only.
    let e = study_with(&[("exact", Statistic::Count, None, &["ta.g"], 10)])
        .allow_exact_overlap()
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("allow_exact_overlap"), "{e}");
}

/// Tables with more suppressed cells than [`BATCH_FROM`] (one partner per equation and
/// round): a 12 × 10 table with both margins, for 20 random primary patterns; an attacker over
/// the 120 cells (with the total) determines nothing.
#[test]
fn large_tables_are_protected_in_batches() {
    let lg: Vec<String> = (0..12).map(|i| format!("g{i}")).collect();
    let lh: Vec<String> = (0..10).map(|i| format!("h{i}")).collect();
    let study = StudyBuilder::new("s")
        .data_party("a", "x:1")
        .data_party("b", "x:2")
        .helper("h", "x:3")
        .table("ta", "a", "id", IdKind::Text)
        .category(
            "ta",
            "g",
            &lg.iter().map(String::as_str).collect::<Vec<_>>(),
        )
        .category(
            "ta",
            "h",
            &lh.iter().map(String::as_str).collect::<Vec<_>>(),
        )
        .table("tb", "b", "id", IdKind::Text)
        .output("gh", Statistic::Count, None, &["ta.g", "ta.h"], 10)
        .output("g", Statistic::Count, None, &["ta.g"], 10)
        .output("h", Statistic::Count, None, &["ta.h"], 10)
        .build()
        .unwrap();
    let unit = |i: usize| {
        let mut v = vec![BigRational::zero(); 120];
        v[i] = BigRational::one();
        v
    };
    let row = |g: usize| {
        let mut v = vec![BigRational::zero(); 120];
        for h in 0..10 {
            v[g * 10 + h] = BigRational::one();
        }
        v
    };
    let col = |h: usize| {
        let mut v = vec![BigRational::zero(); 120];
        for g in 0..12 {
            v[g * 10 + h] = BigRational::one();
        }
        v
    };
    let mut rng = ChaCha8Rng::seed_from_u64(48);
    let mut batched = 0;
    for case in 0..20 {
        let primary = vec![
            (0..120)
                .map(|_| rng.random_bool(0.45))
                .collect::<Vec<bool>>(),
            (0..12).map(|_| rng.random_bool(0.1)).collect(),
            (0..10).map(|_| rng.random_bool(0.1)).collect(),
        ];
        if primary[0].iter().filter(|&&p| p).count() > BATCH_FROM {
            batched += 1;
        }
        let p = protect(&study, &primary);
        assert!(!p.fell_back() && p.exposed().is_empty(), "case {case}");
        let mut span = Span::new();
        span.add(vec![BigRational::one(); 120]);
        let mut hidden = Vec::new();
        for i in 0..120 {
            if p.get(0, i).is_suppressed() {
                hidden.push(unit(i));
            } else {
                span.add(unit(i));
            }
        }
        for g in 0..12 {
            if p.get(1, g).is_suppressed() {
                hidden.push(row(g));
            } else {
                span.add(row(g));
            }
        }
        for h in 0..10 {
            if p.get(2, h).is_suppressed() {
                hidden.push(col(h));
            } else {
                span.add(col(h));
            }
        }
        for v in hidden {
            assert!(
                !span.contains(v),
                "case {case}: a suppressed cell is determined"
            );
        }
    }
    assert!(batched > 10, "{batched}");
}
