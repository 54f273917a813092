//! Statistics as declarations: each statistic is one implementation of [`Definition`].
//!
//! A statistic declares, for one output, the **quantities** it needs per cell: sums over the
//! cell's matched rows of a product of per-row atoms — an integer column's value or a category
//! column's indicator of one level — from either table ([`Quantity`]; the empty product is
//! the count). From that declaration alone the rest of samen derives everything else:
//!
//! - the layout of the cross-party product ([`crate::plan`]): each quantity is split into the
//!   atoms First owns and those Second owns, which become per-row factors of each side's
//!   matrix (times its presence flag and the one-hot encoding of its `by` columns);
//! - the overflow rule ([`check_overflow`]): `rows · Π max|atom| < 2^63` for every quantity;
//! - the differential-privacy noise ([`sensitivity`]): the bound of one person's contribution;
//! - the plaintext reference ([`crate::reference`]), which evaluates the same quantities in
//!   the clear;
//! - and, after the opening, the output files, through [`Definition::finish`].
//!
//! Adding a statistic is one module with a [`Definition`] and its tests, plus its name in
//! [`Statistic`] and [`definition`].

use crate::disclosure::Suppression;
use crate::output::OutputTable;
use crate::spec::{ColumnKind, ColumnRef, Filter, OutputSpec, SpecError, Statistic, Study};

mod cells;
mod correlation;
mod covariance;
mod gram;
mod rate;
mod regression;

pub use cells::mean_and_variance;
pub use regression::{finish_model, level_terms, ModelOutcome, MAX_TERMS};

/// One per-row factor of a quantity.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Atom {
    /// The value of an integer column.
    Value(ColumnRef),
    /// 1 if a category column has this level (index into its declared levels), else 0.
    Level(ColumnRef, u32),
    /// 1 if the row passes a `where` filter on its column, else 0. Every quantity of an output
    /// with filters carries one per filter ([`quantities`]), so each side's filters become
    /// part of its per-row factors.
    Test(Filter),
    /// 1 at every position of the union, whether or not the side holding this table has a row
    /// there (the column names that table's id column, so the atom lands on its side). A
    /// quantity with it sums the other side's factor over all of the other side's rows, matched
    /// or not: the own row count of a `rate` output. It carries no filter of this table.
    Union(ColumnRef),
}

impl Atom {
    /// The column the atom reads.
    pub fn column(&self) -> &ColumnRef {
        match self {
            Atom::Value(c) | Atom::Level(c, _) => c,
            Atom::Test(f) => &f.column,
            Atom::Union(c) => c,
        }
    }

    /// Largest magnitude of the atom on any row. A column the study does not declare counts as
    /// unbounded, so that the overflow rule refuses rather than a noise scale being too small.
    pub fn max_abs(&self, study: &Study) -> u128 {
        match self {
            Atom::Value(c) => study.column(c).map_or(u128::MAX, ColumnKind::max_abs),
            Atom::Level(..) | Atom::Test(_) | Atom::Union(_) => 1,
        }
    }
}

/// A sum over a cell's matched rows of the product of its atoms (no atoms: the count).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Quantity(pub Vec<Atom>);

impl Quantity {
    /// The count of matched rows.
    pub fn count() -> Quantity {
        Quantity(Vec::new())
    }

    /// Σ of the product of these integer columns.
    pub fn of_values(columns: &[&ColumnRef]) -> Quantity {
        Quantity(columns.iter().map(|c| Atom::Value((*c).clone())).collect())
    }

    /// The product written as `a.x·b.y` (`1` for the count).
    pub fn describe(&self) -> String {
        if self.0.is_empty() {
            return "1".into();
        }
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|a| match a {
                Atom::Value(c) => c.to_string(),
                Atom::Level(c, l) => format!("[{c} = level {l}]"),
                Atom::Test(f) => format!("[{f}]"),
                Atom::Union(c) => format!("[any row, with or without one of {}]", c.table),
            })
            .collect();
        parts.join("·")
    }
}

/// One cell's opened quantities, as the statistic's [`Definition::finish`] receives them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CellValues {
    /// The level of each `by` column.
    pub levels: Vec<String>,
    /// Whether the cell is shown, or suppressed as a primary cell (its count, possibly noisy,
    /// was below `min_cell`) or a secondary cell ([`crate::disclosure`]); written as
    /// `false`, `primary` or `secondary` in the `suppressed` column.
    pub suppressed: Suppression,
    /// The quantities in declared order (the count first); all zero when suppressed.
    pub values: Vec<i128>,
}

/// What a statistic is: how it is checked, what it needs, how it is finished.
pub trait Definition: Sync {
    /// Its name in the study file.
    fn name(&self) -> &'static str;

    /// Check an output's columns (`of`, `x`, `by`; names and kinds) beyond the common checks
    /// (every column declared, `by` columns are categories). Returns what to fix.
    fn check<'a>(
        &self,
        output: &OutputSpec,
        column: &dyn Fn(&ColumnRef) -> Option<&'a ColumnKind>,
    ) -> Result<(), String>;

    /// The quantities every cell needs, the count first.
    fn quantities(&self, output: &OutputSpec, study: &Study) -> Vec<Quantity>;

    /// What the output's files release about each cell, as quantities, for disclosure control
    /// ([`crate::disclosure`]): by default every declared quantity (a cell statistic's printed
    /// fields give its sums exactly). A model releases only its fit and `n`, the matched total.
    fn released(&self, output: &OutputSpec, study: &Study) -> Vec<Quantity> {
        self.quantities(output, study)
    }

    /// Turn the opened cells (declared order, first `by` column outermost) into the output.
    fn finish(&self, output: &OutputSpec, study: &Study, cells: &[CellValues]) -> OutputTable;
}

/// The definition of a statistic.
pub fn definition(statistic: Statistic) -> &'static dyn Definition {
    match statistic {
        Statistic::Count => &cells::COUNT,
        Statistic::Sum => &cells::SUM,
        Statistic::Mean => &cells::MEAN,
        Statistic::Variance => &cells::VARIANCE,
        Statistic::Covariance => &covariance::COVARIANCE,
        Statistic::Correlation => &correlation::CORRELATION,
        Statistic::Regression => &regression::REGRESSION,
        Statistic::Rate => &rate::RATE,
    }
}

/// The quantities of an output: its statistic's declaration, each quantity times the 0/1
/// test of every `where` filter of the output (so a filtered quantity sums over the matched
/// rows that pass every filter).
pub fn quantities(output: &OutputSpec, study: &Study) -> Vec<Quantity> {
    with_filters(
        output,
        definition(output.statistic).quantities(output, study),
    )
}

/// The quantities an output releases exactly ([`Definition::released`]), each times the 0/1
/// test of every `where` filter, as [`quantities`] does: quantities over different populations
/// are different quantities.
pub fn released(output: &OutputSpec, study: &Study) -> Vec<Quantity> {
    with_filters(output, definition(output.statistic).released(output, study))
}

fn with_filters(output: &OutputSpec, mut qs: Vec<Quantity>) -> Vec<Quantity> {
    for q in &mut qs {
        // A sum over all rows of one side (a `Union` atom on the other) cannot test the other
        // side's columns: it carries only the filters of its own side.
        let union: Vec<String> =
            q.0.iter()
                .filter_map(|a| match a {
                    Atom::Union(c) => Some(c.table.clone()),
                    _ => None,
                })
                .collect();
        q.0.extend(
            output
                .filters
                .iter()
                .filter(|f| !union.contains(&f.column.table))
                .cloned()
                .map(Atom::Test),
        );
    }
    qs
}

/// The bound on one person's contribution to a quantity: `Π max|atom|` (1 for the count).
pub fn sensitivity(quantity: &Quantity, study: &Study) -> u128 {
    quantity
        .0
        .iter()
        .fold(1u128, |acc, a| acc.saturating_mul(a.max_abs(study)))
}

/// Number of levels of a category column (1 for anything else).
pub fn levels_of(study: &Study, column: &ColumnRef) -> usize {
    match study.column(column) {
        Some(ColumnKind::Category { levels }) => levels.len(),
        _ => 1,
    }
}

/// The level names of one `by` column of an output: a category's declared levels, or the
/// bands of a banded integer column.
pub fn by_levels(output: &OutputSpec, study: &Study, column: &ColumnRef) -> Vec<String> {
    if let Some(b) = output.bands.get(column) {
        return b.levels();
    }
    match study.column(column) {
        Some(ColumnKind::Category { levels }) => levels.clone(),
        _ => Vec::new(),
    }
}

/// The level names of every cell of an output, in declared order (first `by` column
/// outermost); one cell with no levels without `by` columns.
pub fn cell_levels(output: &OutputSpec, study: &Study) -> Vec<Vec<String>> {
    let levels: Vec<Vec<String>> = output
        .by
        .iter()
        .map(|r| by_levels(output, study, r))
        .collect();
    let n: usize = levels.iter().map(|l| l.len().max(1)).product();
    (0..n)
        .map(|cell| {
            let mut names = vec![String::new(); levels.len()];
            let mut rest = cell;
            for (name, lv) in names.iter_mut().zip(&levels).rev() {
                let len = lv.len().max(1);
                if let Some(l) = lv.get(rest % len) {
                    name.clone_from(l);
                }
                rest /= len;
            }
            names
        })
        .collect()
}

/// The exponent of the overflow limit of an output's quantities: 63 (the ring Z_2^64 read as
/// signed), or 62 for a regression, whose Gram matrix is converted to the prime fields of the
/// exact solve (`samen_core::mpc::field`, which needs `|x| < 2^62`).
pub fn overflow_bits(statistic: Statistic) -> u32 {
    match statistic {
        Statistic::Regression => 62,
        _ => 63,
    }
}

/// Refuse if any quantity of any output could reach 2^63 (2^62 for a regression, see
/// [`overflow_bits`]) in magnitude with `rows` joined rows: `rows · Π max|atom| < 2^63` must
/// hold (see [`crate::spec::Study::check_overflow`]).
pub fn check_overflow(study: &Study, rows: u64) -> Result<(), SpecError> {
    let n = u128::from(rows);
    for o in study.outputs() {
        let limit_bits = overflow_bits(o.statistic);
        let limit = 1u128 << limit_bits;
        for q in quantities(o, study) {
            let per_row = sensitivity(&q, study);
            let bound = n.saturating_mul(per_row);
            if bound < limit {
                continue;
            }
            let columns: Vec<&ColumnRef> = q.0.iter().map(Atom::column).collect();
            let one_column = columns.windows(2).all(|w| w.first() == w.last());
            let degree = q.0.len() as u32;
            let (what, column, max_abs) = match (one_column, degree) {
                (true, 1) => ("sum", q.describe(), per_row),
                (true, 2) => (
                    "sum of squares",
                    columns.first().map(ToString::to_string).unwrap_or_default(),
                    q.0.first().map(|a| a.max_abs(study)).unwrap_or(0),
                ),
                _ => ("sum of products", q.describe(), per_row),
            };
            let exponent = if what == "sum of squares" { 2 } else { 1 };
            return Err(SpecError::Overflow {
                output: o.name.clone(),
                column,
                rows,
                max_abs,
                what,
                bound,
                allowed: largest_allowed(n, exponent, limit),
                limit_bits,
            });
        }
    }
    Ok(())
}

/// Largest `m` with `n · m^e < limit` (`e` = 1 or 2).
fn largest_allowed(n: u128, e: u32, limit: u128) -> u128 {
    let Some(q) = limit.checked_div(n) else {
        return u128::MAX;
    };
    if e == 1 {
        return (limit - 1) / n;
    }
    let mut a = (q as f64).sqrt() as u128;
    while a > 0 && n.saturating_mul(a.saturating_mul(a)) >= limit {
        a -= 1;
    }
    while n.saturating_mul((a + 1).saturating_mul(a + 1)) < limit {
        a += 1;
    }
    a
}

/// Common checks: the output takes exactly `count` integer `of` columns (`None`: at least
/// `min`), no `x`.
pub(crate) fn check_of_integers<'a>(
    output: &OutputSpec,
    column: &dyn Fn(&ColumnRef) -> Option<&'a ColumnKind>,
    count: Option<usize>,
    min: usize,
) -> Result<(), String> {
    let name = output.statistic.as_str();
    if !output.x.is_empty() {
        return Err(format!(
            "statistic \"{name}\" takes no 'x' (predictors are for \"regression\")"
        ));
    }
    match (count, output.of.len()) {
        (Some(0), 0) => {}
        (Some(0), _) => return Err(format!("statistic \"{name}\" takes no 'of'")),
        (Some(1), 0) => {
            return Err(format!(
                "statistic \"{name}\" needs 'of = \"table.column\"' naming an integer column"
            ))
        }
        (Some(c), n) if c != n => {
            return Err(format!(
                "statistic \"{name}\" needs 'of' with exactly {c} integer columns, found {n}"
            ))
        }
        (None, n) if n < min => {
            return Err(format!(
                "statistic \"{name}\" needs 'of' with at least {min} integer columns, found {n}"
            ))
        }
        _ => {}
    }
    for r in &output.of {
        if let Some(ColumnKind::Category { .. }) = column(r) {
            return Err(format!(
                "'of' column '{r}' is a category; it must be an integer column"
            ));
        }
    }
    Ok(())
}
