//! Disclosure control across a study's outputs: the one place an output checker reads.
//!
//! `min_cell` hides a small cell of one output, but outputs are not released alone. Both data
//! parties know the number of matched rows, `|A| + |B| − N`, and the cells of different outputs
//! over the same rows add up to each other. This module derives, from the validated study
//! alone (public), which released values are linked, and
//!
//! - extends a primary suppression pattern (cells with `count < min_cell`, decided inside MPC)
//!   with **secondary** cells, so that no suppressed cell's quantities follow from the released
//!   cells, the margins and the known total by linear equations ([`Links::protect`]);
//! - lists the noisy outputs whose noise an exact output cancels ([`exact_overlaps`]), which
//!   validation refuses unless the noisy output sets `allow_exact_overlap = true`
//!   ([`allowed_overlaps`] lists those for a review).
//!
//! # What is linked
//! Every cell of every output is a sum over the matched rows in the cell. An output releases,
//! per cell, the quantities of [`crate::statistic::Definition::released`]: a cell statistic
//! (count, sum, mean, variance, covariance) every quantity it declares (its printed fields give
//! them: `sum = mean · count`, …; a covariance is counted as releasing its sums, which can only
//! add suppression); a model (regression, correlation) only its fit and `n`, the matched total.
//! Outputs with a privacy budget (`epsilon`, `rho`) release noisy values that give no exact
//! equation; they stay out of the system (differential privacy protects them) and keep their
//! primary pattern.
//!
//! For each quantity `q`, the exact outputs releasing `q` form one linear system. Two such
//! outputs with `by` sets `S` and `T` are linked through their common margin over `S ∩ T`
//! (as sets: column order does not matter): for every level combination `m` of `S ∩ T`,
//! `Σ cells of the first output inside m = Σ cells of the second output inside m`. When
//! `S ⊆ T` this says that each cell of the coarser output is the sum of the finer output's
//! cells inside it; with `S ∩ T = ∅` that both have the same total. For the count, the known
//! total is one more member of the system with `by = ∅`, and the count of an output with a
//! single cell is the known total, so it is a known value whatever the pattern. These pairwise
//! relations generate every linear relation among the outputs' cells (the spaces of functions
//! of `S`-cells intersect in the functions of `S ∩ T`-cells, and their ANOVA decomposition
//! makes the relations pairwise), so the system is exactly what linear algebra can derive.
//!
//! # Secondary suppression
//! A suppressed cell is **determined** when its value is the same in every solution of the
//! system in which the shown cells and the known total are constants and the suppressed cells
//! unknowns: when its unit vector lies in the row space of the unknowns' coefficients. This is
//! decided over F_p (p = 2^61 − 1) with every "not determined" answer certified by an exact
//! integer kernel vector (`solve`), so an error can only add suppression.
//!
//! While any suppressed cell is determined in any system, one shown cell becomes secondary:
//! among the shown cells of the equations that contain a determined cell (if there are none, of
//! every equation with an unknown), the one whose suppression leaves the fewest determined
//! cells summed over the systems; ties go to the first in study order (output, then cell).
//! With more than [`BATCH_FROM`] suppressed cells a round adds, besides that one, the
//! best-ranked candidate of every further equation with a determined cell that holds no chosen
//! candidate yet (one partner per row of a large table per round, instead of one per round); the
//! loop still runs until nothing is determined. The
//! choice is a function of the primary pattern and the study only — never of a value — so the
//! secondary cells reveal nothing beyond the primary pattern, which is revealed anyway. With
//! every cell of the linked outputs suppressed nothing is determined (move one matched row
//! between two cells of the finest classification: every equation holds, the cell changes), so
//! the loop ends with no determined cell; [`Pattern::exposed`] would list any that remained.
//!
//! Not covered: bounds. A hidden count lies between 0 and the margin it belongs to, and sums
//! between the declared column bounds times the count; an attacker solving the linear
//! *inequalities* (interval or LP bounds, as τ-ARGUS's audit does) can narrow a suppressed cell
//! without determining it.
//!
//! Cost: every step eliminates the suppressed cells (and the candidates) of each system densely
//! over F_p. A study whose elimination would need a matrix of more than [`MAX_SYSTEM_ENTRIES`]
//! entries, or more than [`MAX_WORK`] multiply-adds over the whole search (hundreds of
//! suppressed cells tied together by margins), instead has every cell of its exact cell
//! statistics suppressed (nothing is then determined); `Pattern::fell_back` says so.
//!
//! ```
//! use samen_pseudonym::IdKind;
//! use samen_study::disclosure::{Links, Suppression};
//! use samen_study::spec::{Statistic, StudyBuilder};
//! let study = StudyBuilder::new("s")
//!     .data_party("a", "x:1").data_party("b", "x:2").helper("h", "x:3")
//!     .table("ta", "a", "id", IdKind::Text).category("ta", "g", &["g0", "g1", "g2"])
//!     .table("tb", "b", "id", IdKind::Text)
//!     .output("by_g", Statistic::Count, None, &["ta.g"], 10)
//!     .build()
//!     .unwrap();
//! // g0 is below min_cell; the known total would give it by subtraction: one partner hides.
//! let pattern = Links::new(&study).protect(&[vec![true, false, false]]);
//! assert_eq!(pattern.output(0), [Suppression::Primary, Suppression::Secondary, Suppression::Shown]);
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::spec::{Bands, ColumnRef, OutputSpec, SpecError, Study};
use crate::statistic::{self, Quantity};

mod solve;
#[cfg(test)]
mod tests;

use solve::{Echelon, Row};

/// Largest dense matrix (equations × columns) one elimination handles; beyond it every cell
/// of the exact outputs is suppressed.
pub const MAX_SYSTEM_ENTRIES: usize = 1 << 24;

/// Most multiply-adds (rows × columns × rank, summed over the eliminations) the search for
/// secondary cells may take (about half a minute); beyond it every cell of the exact outputs is
/// suppressed.
pub const MAX_WORK: u64 = 1 << 36;

/// Above this many suppressed cells (over the systems) a round of the search adds one partner
/// per equation that holds a determined cell, instead of one partner in all.
pub const BATCH_FROM: usize = 48;

/// The work of one dense elimination of `rows × cols`, or `None` if the matrix is too large.
fn elimination_work(rows: usize, cols: usize) -> Option<u64> {
    let entries = rows.checked_mul(cols)?;
    if entries > MAX_SYSTEM_ENTRIES {
        return None;
    }
    (entries as u64).checked_mul(rows.min(cols) as u64)
}

/// Whether a cell is shown, and if not, why: the value of the `suppressed` column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Suppression {
    /// Shown (`suppressed` = `false`).
    Shown,
    /// Its own count (noisy, for an output with a privacy budget) is below the output's
    /// `min_cell` (`primary`).
    Primary,
    /// Hidden so that no primary cell can be derived from the released cells
    /// (`secondary`).
    Secondary,
}

impl Suppression {
    /// Whether the cell's values are withheld.
    pub fn is_suppressed(self) -> bool {
        self != Suppression::Shown
    }

    /// The field written in the `suppressed` column: `false`, `primary` or `secondary`.
    pub fn as_str(self) -> &'static str {
        match self {
            Suppression::Shown => "false",
            Suppression::Primary => "primary",
            Suppression::Secondary => "secondary",
        }
    }
}

impl fmt::Display for Suppression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The suppression of every cell of every output (study order, cells in declared order).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pattern {
    cells: Vec<Vec<Suppression>>,
    exposed: Vec<(usize, usize)>,
    fell_back: bool,
}

impl Pattern {
    /// A pattern with only primary cells: `primary[output][cell]` (missing entries are
    /// shown).
    pub fn primary_only(primary: &[Vec<bool>], cells_per_output: &[usize]) -> Pattern {
        let cells = cells_per_output
            .iter()
            .enumerate()
            .map(|(o, &n)| {
                (0..n)
                    .map(|c| {
                        let p = primary.get(o).and_then(|v| v.get(c)).copied();
                        if p == Some(true) {
                            Suppression::Primary
                        } else {
                            Suppression::Shown
                        }
                    })
                    .collect()
            })
            .collect();
        Pattern {
            cells,
            exposed: Vec::new(),
            fell_back: false,
        }
    }

    /// The cells of output `output` (empty for an unknown output).
    pub fn output(&self, output: usize) -> &[Suppression] {
        self.cells.get(output).map_or(&[], Vec::as_slice)
    }

    /// The suppression of one cell (`Shown` for an unknown cell).
    pub fn get(&self, output: usize, cell: usize) -> Suppression {
        self.output(output)
            .get(cell)
            .copied()
            .unwrap_or(Suppression::Shown)
    }

    /// `(primary, secondary)` cells of output `output`.
    pub fn counts(&self, output: usize) -> (usize, usize) {
        let s = self.output(output);
        let n = |k| s.iter().filter(|&&x| x == k).count();
        (n(Suppression::Primary), n(Suppression::Secondary))
    }

    /// `(primary, secondary)` cells over all outputs.
    pub fn totals(&self) -> (usize, usize) {
        (0..self.cells.len())
            .map(|o| self.counts(o))
            .fold((0, 0), |(a, b), (p, s)| (a + p, b + s))
    }

    /// Suppressed `(output, cell)`s still determined by the released values (always empty
    /// when the elimination succeeds; see the module documentation).
    pub fn exposed(&self) -> &[(usize, usize)] {
        &self.exposed
    }

    /// Whether the search was too large ([`MAX_SYSTEM_ENTRIES`], [`MAX_WORK`]) and every cell
    /// of the exact outputs was suppressed instead.
    pub fn fell_back(&self) -> bool {
        self.fell_back
    }
}

/// A cell of the finest description shared by outputs: their sorted `by` set and the index
/// of the level combination over it. Outputs with the same `by` set (in any order) have the
/// same cells: a cell suppressed in one must be suppressed in every other that releases one of
/// its quantities exactly, or that one prints it.
/// Without `by`, the cell is the matched total: its count is known, and its other quantities
/// are linked only within their own system, so the key then names the system.
type Key = (Vec<ByCol>, usize, Option<usize>);

/// A grouping column as cells see it: the column and, for a banded integer column, its breaks
/// (the same column banded differently gives different cells).
type ByCol = (ColumnRef, Option<Bands>);

/// The grouping columns of an output, in declared order.
fn by_cols(o: &OutputSpec) -> Vec<ByCol> {
    o.by.iter()
        .map(|r| (r.clone(), o.bands.get(r).cloned()))
        .collect()
}

/// Number of levels of a grouping column.
fn levels_of(study: &Study, (r, bands): &ByCol) -> usize {
    match bands {
        Some(b) => b.levels().len(),
        None => statistic::levels_of(study, r),
    }
}

/// One member of a linear system: the exact outputs with one `by` set that release the
/// system's quantity (and, for the count, the known total with `by = ∅`).
struct Member {
    /// The sorted `by` set.
    by: Vec<ByCol>,
    /// The outputs.
    outputs: Vec<usize>,
    /// Number of cells.
    cells: usize,
    /// First column of the member in the system.
    offset: usize,
}

/// Per cell of an output grouped by `by` (declared order, first column outermost): the index
/// of its level combination over `common` (columns of `by`, in the order given).
fn margins(study: &Study, by: &[ByCol], common: &[ByCol]) -> Vec<usize> {
    let sizes: Vec<usize> = by.iter().map(|r| levels_of(study, r)).collect();
    let cells: usize = sizes.iter().product();
    let pos: Vec<(usize, usize)> = common
        .iter()
        .filter_map(|r| {
            let i = by.iter().position(|b| b == r)?;
            Some((i, levels_of(study, r)))
        })
        .collect();
    (0..cells)
        .map(|c| {
            let mut idx = vec![0usize; sizes.len()];
            let mut rest = c;
            for (slot, &n) in idx.iter_mut().zip(&sizes).rev() {
                *slot = rest % n.max(1);
                rest /= n.max(1);
            }
            pos.iter()
                .fold(0, |m, &(i, n)| m * n + idx.get(i).copied().unwrap_or(0))
        })
        .collect()
}

/// The linear system of one released quantity.
struct System {
    /// The `(output, cell)`s of each column (outputs with the same `by` set share a column;
    /// the known total has none of its own).
    twins: Vec<Vec<(usize, usize)>>,
    /// The key of each column (an index into [`Links::keys`]).
    keys: Vec<usize>,
    /// Column of each key.
    column_of: BTreeMap<usize, usize>,
    /// Columns whose value is known whatever the pattern: for the count, the cell of the
    /// outputs without `by`, the matched total.
    known: Vec<bool>,
    /// Equations `Σ coefficient · column = 0`.
    rows: Vec<Row>,
}

impl System {
    fn is_known(&self, c: usize) -> bool {
        self.known.get(c).copied().unwrap_or(true)
    }

    /// Whether column `c` is suppressed in `pattern` (any of its cells).
    fn suppressed(&self, pattern: &Pattern, c: usize) -> bool {
        self.twins
            .get(c)
            .is_some_and(|t| t.iter().any(|&(o, k)| pattern.get(o, k).is_suppressed()))
    }

    /// The suppressed columns whose value is not known anyway.
    fn unknowns(&self, pattern: &Pattern) -> Vec<usize> {
        (0..self.twins.len())
            .filter(|&c| !self.is_known(c) && self.suppressed(pattern, c))
            .collect()
    }
}

/// Which released values of a study are linked, derived from the study alone (every party
/// derives the same).
pub struct Links {
    systems: Vec<System>,
    cells: Vec<usize>,
    /// Every key, in order; with the first `(output, cell)` of each (the tie order).
    keys: Vec<(Key, (usize, usize))>,
}

impl fmt::Debug for Links {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Links")
            .field("systems", &self.systems.len())
            .field("cells", &self.cells)
            .finish()
    }
}

impl Links {
    /// The linked systems of `study`.
    pub fn new(study: &Study) -> Links {
        let outputs = study.outputs();
        let cells: Vec<usize> = outputs
            .iter()
            .map(|o| by_cols(o).iter().map(|r| levels_of(study, r)).product())
            .collect();
        let released: Vec<Vec<Quantity>> = outputs
            .iter()
            .map(|o| {
                if o.privacy.is_some() {
                    Vec::new()
                } else {
                    statistic::released(o, study)
                }
            })
            .collect();
        let sorted_by = |o: usize| -> Vec<ByCol> {
            let set: BTreeSet<ByCol> = outputs
                .get(o)
                .map(by_cols)
                .unwrap_or_default()
                .into_iter()
                .collect();
            set.into_iter().collect()
        };
        // The canonical cell of every (output, cell).
        let canonical: Vec<Vec<usize>> = (0..outputs.len())
            .map(|o| {
                let by = outputs.get(o).map(by_cols).unwrap_or_default();
                margins(study, &by, &sorted_by(o))
            })
            .collect();
        let mut key_ids: BTreeMap<Key, usize> = BTreeMap::new();
        let mut keys: Vec<(Key, (usize, usize))> = Vec::new();
        let quantities: BTreeSet<&Quantity> = released.iter().flatten().collect();
        let mut systems = Vec::new();
        for q in quantities {
            let is_count = *q == Quantity::count();
            let mut by_set: BTreeMap<Vec<ByCol>, Vec<usize>> = BTreeMap::new();
            if is_count {
                by_set.insert(Vec::new(), Vec::new());
            }
            for o in 0..outputs.len() {
                if released.get(o).is_some_and(|r| r.contains(q)) {
                    by_set.entry(sorted_by(o)).or_default().push(o);
                }
            }
            let mut members = Vec::new();
            let mut offset = 0;
            for (by, outs) in by_set {
                let n: usize = by.iter().map(|r| levels_of(study, r)).product();
                members.push(Member {
                    by,
                    outputs: outs,
                    cells: n,
                    offset,
                });
                offset += n;
            }
            let mut twins = vec![Vec::new(); offset];
            let mut col_keys = Vec::with_capacity(offset);
            let mut known = Vec::with_capacity(offset);
            for m in &members {
                for k in 0..m.cells {
                    let key = (m.by.clone(), k, m.by.is_empty().then_some(systems.len()));
                    let id = *key_ids.entry(key.clone()).or_insert_with(|| {
                        keys.push((key, (usize::MAX, 0)));
                        keys.len() - 1
                    });
                    col_keys.push(id);
                    known.push(is_count && m.by.is_empty());
                }
                for &o in &m.outputs {
                    for (c, &k) in canonical.get(o).into_iter().flatten().enumerate() {
                        if let Some(t) = twins.get_mut(m.offset + k) {
                            t.push((o, c));
                        }
                    }
                }
            }
            for (t, &id) in twins.iter().zip(&col_keys) {
                if let (Some(first), Some(entry)) = (t.iter().min(), keys.get_mut(id)) {
                    entry.1 = entry.1.min(*first);
                }
            }
            let mut rows = Vec::new();
            for (i, a) in members.iter().enumerate() {
                for b in members.iter().skip(i + 1) {
                    let common: Vec<ByCol> =
                        a.by.iter().filter(|r| b.by.contains(r)).cloned().collect();
                    let size: usize = common.iter().map(|r| levels_of(study, r)).product();
                    let mut eqs: Vec<Row> = vec![Vec::new(); size];
                    for (member, sign) in [(a, 1i64), (b, -1i64)] {
                        let m = margins(study, &member.by, &common);
                        for (c, k) in m.into_iter().enumerate() {
                            if let Some(eq) = eqs.get_mut(k) {
                                eq.push((member.offset + c, sign));
                            }
                        }
                    }
                    rows.extend(eqs);
                }
            }
            let column_of = col_keys.iter().enumerate().map(|(c, &k)| (k, c)).collect();
            systems.push(System {
                twins,
                keys: col_keys,
                column_of,
                known,
                rows,
            });
        }
        Links {
            systems,
            cells,
            keys,
        }
    }

    /// Suppress every cell of key `key` in every system where it is not known.
    fn suppress_key(&self, pattern: &mut Pattern, key: usize) -> bool {
        let mut changed = false;
        for sys in &self.systems {
            let Some(&c) = sys.column_of.get(&key) else {
                continue;
            };
            if sys.is_known(c) {
                continue;
            }
            for &(o, k) in sys.twins.get(c).into_iter().flatten() {
                if !pattern.get(o, k).is_suppressed() {
                    pattern.set(o, k, Suppression::Secondary);
                    changed = true;
                }
            }
        }
        changed
    }

    /// Suppress the other cells of every suppressed column (outputs with the same cells).
    fn close(&self, pattern: &mut Pattern) {
        loop {
            let mut changed = false;
            for sys in &self.systems {
                for c in sys.unknowns(pattern) {
                    if let Some(&key) = sys.keys.get(c) {
                        changed |= self.suppress_key(pattern, key);
                    }
                }
            }
            if !changed {
                break;
            }
        }
    }

    /// Extend the primary pattern (`primary[output][cell]`: the cell's count is below its
    /// output's `min_cell`) with secondary cells until no suppressed cell is determined (see
    /// the module documentation). A function of the primary pattern and the study only.
    pub fn protect(&self, primary: &[Vec<bool>]) -> Pattern {
        let mut pattern = Pattern::primary_only(primary, &self.cells);
        let mut work: u64 = 0;
        loop {
            self.close(&mut pattern);
            let mut determined_cells: Vec<(usize, usize)> = Vec::new();
            let mut candidates: BTreeSet<usize> = BTreeSet::new();
            let mut frontier: BTreeSet<usize> = BTreeSet::new();
            // Per equation with a determined cell: its shown candidates.
            let mut groups: Vec<Vec<usize>> = Vec::new();
            let mut n_unknown = 0usize;
            let mut too_large = false;
            for sys in &self.systems {
                let unknown = sys.unknowns(&pattern);
                if unknown.is_empty() {
                    continue;
                }
                let is_unknown = membership(&unknown, sys.twins.len());
                let rows: Vec<Row> = sys
                    .rows
                    .iter()
                    .filter(|r| r.iter().any(|&(c, _)| flag(&is_unknown, c)))
                    .cloned()
                    .collect();
                n_unknown += unknown.len();
                match elimination_work(rows.len(), unknown.len()) {
                    Some(w) if work.saturating_add(w) <= MAX_WORK => work += w,
                    _ => {
                        too_large = true;
                        break;
                    }
                }
                let e = Echelon::new(&rows, &unknown, unknown.len(), sys.twins.len());
                let free = e.certified_free(&rows, &unknown, sys.twins.len());
                let determined: Vec<usize> = unknown
                    .iter()
                    .zip(&free)
                    .filter(|(_, &f)| !f)
                    .map(|(&c, _)| c)
                    .collect();
                if determined.is_empty() {
                    continue;
                }
                let is_determined = membership(&determined, sys.twins.len());
                for r in &rows {
                    let shown = r
                        .iter()
                        .filter(|&&(c, _)| !flag(&is_unknown, c) && !sys.is_known(c))
                        .filter_map(|&(c, _)| sys.keys.get(c).copied());
                    if r.iter().any(|&(c, _)| flag(&is_determined, c)) {
                        let group: Vec<usize> = shown.collect();
                        candidates.extend(group.iter().copied());
                        groups.push(group);
                    } else {
                        frontier.extend(shown);
                    }
                }
                for c in determined {
                    determined_cells.extend(sys.twins.get(c).into_iter().flatten().copied());
                }
            }
            if too_large {
                self.suppress_all(&mut pattern);
                break;
            }
            if determined_cells.is_empty() {
                break;
            }
            if candidates.is_empty() {
                candidates = frontier;
            }
            let Ok(scores) = self.scores(&pattern, &candidates, &mut work) else {
                self.suppress_all(&mut pattern);
                break;
            };
            let order = |k: usize| self.keys.get(k).map(|x| x.1);
            let rank = |k: usize| (scores.get(&k).copied().unwrap_or(usize::MAX), order(k));
            let mut chosen: BTreeSet<usize> = BTreeSet::new();
            if let Some(&best) = candidates.iter().min_by_key(|&&k| rank(k)) {
                chosen.insert(best);
            }
            if n_unknown > BATCH_FROM {
                // Many suppressed cells: one partner per equation with a determined cell in
                // this round (the best-ranked of its candidates), skipping equations that
                // already hold a chosen one.
                for group in &groups {
                    if group.iter().any(|k| chosen.contains(k)) {
                        continue;
                    }
                    if let Some(&k) = group.iter().min_by_key(|&&k| rank(k)) {
                        chosen.insert(k);
                    }
                }
            }
            if chosen.is_empty() {
                determined_cells.sort_unstable();
                determined_cells.dedup();
                pattern.exposed = determined_cells;
                break;
            }
            for key in chosen {
                self.suppress_key(&mut pattern, key);
            }
        }
        pattern
    }

    /// The fallback of a search too large: every cell of every system suppressed (with every
    /// cell of the linked outputs suppressed nothing is determined).
    fn suppress_all(&self, pattern: &mut Pattern) {
        for sys in &self.systems {
            for &key in &sys.keys {
                self.suppress_key(pattern, key);
            }
        }
        pattern.fell_back = true;
    }

    /// For each candidate key, the number of determined columns (modulo p) over all systems
    /// if it alone were suppressed next. `Err(())` if the eliminations would exceed the work
    /// budget.
    fn scores(
        &self,
        pattern: &Pattern,
        candidates: &BTreeSet<usize>,
        work: &mut u64,
    ) -> Result<BTreeMap<usize, usize>, ()> {
        let mut score: BTreeMap<usize, usize> = candidates.iter().map(|&k| (k, 0)).collect();
        for sys in &self.systems {
            let unknown = sys.unknowns(pattern);
            let carried: Vec<(usize, usize)> = candidates
                .iter()
                .filter_map(|k| sys.column_of.get(k).map(|&c| (*k, c)))
                .filter(|&(_, c)| !sys.is_known(c))
                .collect();
            let mut cols = unknown.clone();
            cols.extend(carried.iter().map(|&(_, c)| c));
            let in_cols = membership(&cols, sys.twins.len());
            let rows = sys
                .rows
                .iter()
                .filter(|r| r.iter().any(|&(c, _)| flag(&in_cols, c)))
                .count();
            match elimination_work(rows, cols.len()) {
                Some(w) if work.saturating_add(w) <= MAX_WORK => *work += w,
                _ => return Err(()),
            }
            let e = Echelon::new(&sys.rows, &cols, unknown.len(), sys.twins.len());
            let det = e.determined_mod_p();
            let base = det.iter().filter(|&&d| d).count();
            let position: BTreeMap<usize, usize> = carried
                .iter()
                .enumerate()
                .map(|(j, &(k, _))| (k, j))
                .collect();
            for (k, s) in score.iter_mut() {
                let after = match position.get(k).copied() {
                    None => base,
                    Some(j) => match e.released_by(unknown.len() + j) {
                        None => base + 1,
                        Some(freed) => {
                            base - freed.iter().filter(|&&c| det.get(c) == Some(&true)).count()
                        }
                    },
                };
                *s += after;
            }
        }
        Ok(score)
    }
}

impl Pattern {
    fn set(&mut self, output: usize, cell: usize, s: Suppression) {
        if let Some(x) = self.cells.get_mut(output).and_then(|v| v.get_mut(cell)) {
            *x = s;
        }
    }
}

fn membership(items: &[usize], n: usize) -> Vec<bool> {
    let mut v = vec![false; n];
    for &i in items {
        if let Some(x) = v.get_mut(i) {
            *x = true;
        }
    }
    v
}

fn flag(v: &[bool], i: usize) -> bool {
    v.get(i).copied().unwrap_or(false)
}

/// Extend a primary pattern with the study's secondary cells: `Links::new(study).protect`
/// (without any primary cell nothing is suppressed, so nothing can be determined, and the
/// links are not built).
pub fn protect(study: &Study, primary: &[Vec<bool>]) -> Pattern {
    if primary.iter().flatten().any(|&p| p) {
        return Links::new(study).protect(primary);
    }
    let cells: Vec<usize> = study
        .outputs()
        .iter()
        .map(|o| by_cols(o).iter().map(|r| levels_of(study, r)).product())
        .collect();
    Pattern::primary_only(primary, &cells)
}

/// A noisy output whose cells an exact output releases at the same or a finer level, so that
/// its noise can be subtracted away.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Overlap {
    /// The output with a privacy budget.
    pub noisy: String,
    /// The exact output that releases the same values.
    pub exact: String,
    /// Whether the noisy output sets `allow_exact_overlap = true` (released anyway; a review
    /// lists it as a warning).
    pub allowed: bool,
}

/// Every pair (noisy output, exact output) in which the exact output releases a quantity of
/// the noisy one over the same or finer cells: its `by` set includes the noisy output's, and
/// both release the quantity ([`crate::statistic::Definition::released`]; every output
/// releases its count). The matched total itself (the count of an output without `by`) does
/// not count: the data parties know it anyway. An exact *coarser* margin is fine: it leaves
/// noise on every cell.
pub fn exact_overlaps(study: &Study) -> Vec<Overlap> {
    let outputs = study.outputs();
    let released: Vec<Vec<Quantity>> = outputs
        .iter()
        .map(|o| statistic::released(o, study))
        .collect();
    let mut out = Vec::new();
    for (ni, n) in outputs.iter().enumerate() {
        if n.privacy.is_none() {
            continue;
        }
        let nby: BTreeSet<ByCol> = by_cols(n).into_iter().collect();
        for (ei, e) in outputs.iter().enumerate() {
            if e.privacy.is_some() || ei == ni {
                continue;
            }
            let eby: BTreeSet<ByCol> = by_cols(e).into_iter().collect();
            if !nby.is_subset(&eby) {
                continue;
            }
            let shared = released.get(ni).into_iter().flatten().any(|q| {
                released.get(ei).is_some_and(|r| r.contains(q))
                    && !(nby.is_empty() && *q == Quantity::count())
            });
            if shared {
                out.push(Overlap {
                    noisy: n.name.clone(),
                    exact: e.name.clone(),
                    allowed: n.allow_exact_overlap,
                });
            }
        }
    }
    out
}

/// The overlaps a study releases anyway because the noisy output sets
/// `allow_exact_overlap = true` (for a review to list as warnings).
pub fn allowed_overlaps(study: &Study) -> Vec<Overlap> {
    exact_overlaps(study)
        .into_iter()
        .filter(|o| o.allowed)
        .collect()
}

/// Refuse the first overlap that is not allowed (called by validation).
pub(crate) fn check_overlaps(study: &Study) -> Result<(), SpecError> {
    match exact_overlaps(study).into_iter().find(|o| !o.allowed) {
        None => Ok(()),
        Some(o) => Err(SpecError::NoiseCancelled {
            noisy: o.noisy,
            exact: o.exact,
        }),
    }
}
