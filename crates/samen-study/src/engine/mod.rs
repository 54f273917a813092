//! The joint computation of a study (one party's side), over any [`Channel`]s.
//!
//! # Parties and trust model
//! Two data parties — `First` (the data party whose name sorts first) and `Second` — and one
//! helper (dealer) that only produces correlated randomness from seeds. Semi-honest, no two
//! parties collude.
//!
//! # Steps
//! Every party derives the same [`Plan`] from the study, and after the join the same list of
//! [`Op`]s ([`Plan::ops`]): the data parties compute each operation, the helper deals for it.
//! 1. **join**: the study's [`samen_join::JoinMethod`] — its data-party half at the data
//!    parties, its helper half at the helper (which does nothing for the two-party join).
//!    Each data party learns |A|, |B|, N and the union position of each of its rows.
//! 2. **sizes**: each data party sends `(|A|, |B|, N)` to the helper in a [`Sizes`] message
//!    (through the codec), and the helper checks that both agree (and agree with what it saw
//!    in a helper-assisted join).
//! 3. The overflow rule ([`Study::check_overflow`] with `|A ∩ B| = |A| + |B| − N` rows, the
//!    most any quantity sums over) is checked by all three parties; if it fails, all stop with
//!    the same error.
//! 4. **shares**/**products**: each data party starts its MPC session (seed from the helper)
//!    and streams its matrix in blocks of rows ([`Plan::rows`]) through cross-party
//!    products (helper: a matrix triple per block); both data parties hold additive shares of
//!    every quantity of every cell of the inner join.
//! 5. **comparison**: for outputs with a privacy budget, each data party adds its own exact
//!    noise draw to its shares of the quantities (the helper takes no part;
//!    [`crate::privacy`]); for every cell of an output with `min_cell > 0`, shares of
//!    `s = [count ≥ min_cell]` (secure comparison).
//! 6. **open**: the bits `s` are opened first (the primary pattern); both data parties extend
//!    it with the same secondary cells ([`crate::disclosure`], a public function of the primary
//!    pattern and the study); then the quantities of the shown cells, and only those, are
//!    opened. Each statistic finishes its output from the integers
//!    ([`statistic::Definition::finish`]), each cell marked `false`, `primary` or `secondary`.
//! 7. **model**: for each regression, its Gram matrix is never opened: with `min_cell > 0`,
//!    `n` and every category level's count are compared with `min_cell` and only the AND of
//!    the bits is opened; a shown model opens `n` and is solved inside MPC, which opens only
//!    the model as exact rationals (`samen_core::mpc::solve`, `docs/protocols/regression.md`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use samen_core::channel::{Channel, ChannelError, ChannelExt};
use samen_core::mpc::{Computer, Dealer, MpcError};
use samen_core::ring;
use samen_core::Role;
use samen_join::{JoinError, JoinProgress};
use thiserror::Error;

use crate::disclosure::{self, Pattern};
use crate::input::{PartyTable, MAX_ROWS};
use crate::output::OutputTable;
use crate::plan::{Layout, Op, Plan, TableMismatch};
use crate::spec::{SpecError, Study};
use crate::statistic::{self, CellValues};

mod model;
mod sizes;

pub use sizes::Sizes;

/// An error of the joint computation.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum EngineError {
    /// A channel failed or a peer aborted (the message names the party).
    #[error(transparent)]
    Channel(#[from] ChannelError),
    /// An MPC primitive failed.
    #[error("secure computation failed: {0}")]
    Mpc(#[from] MpcError),
    /// The private join failed.
    #[error("private join failed: {0}")]
    Join(#[from] JoinError),
    /// The study cannot be run with these table sizes (overflow rule).
    #[error(transparent)]
    Spec(Box<SpecError>),
    /// The data parties reported inconsistent sizes to the helper.
    #[error("the data parties reported inconsistent table sizes ({detail}); they may run different studies")]
    Sizes {
        /// What did not match.
        detail: String,
    },
    /// The given table is not this party's table of the study.
    #[error("party '{party}' holds table '{expected}', but the input is table '{given}'")]
    WrongTable {
        /// This party.
        party: String,
        /// Its table in the study.
        expected: String,
        /// The table given.
        given: String,
    },
    /// The party name is not in the study.
    #[error("party '{0}' is not a party of the study")]
    UnknownParty(String),
    /// No channel to a party this party must talk to.
    #[error("no connection to party '{0}'")]
    MissingChannel(String),
    /// A revealed suppression bit was neither 0 nor 1 (a peer misbehaved).
    #[error("a revealed suppression bit is not 0 or 1: the peer deviated from the protocol")]
    BadBit,
    /// The input table does not fit the study's plan.
    #[error(transparent)]
    Table(#[from] TableMismatch),
    /// The private join returned positions outside the union (a peer or helper misbehaved).
    #[error("the private join placed a row at position {position}, outside the union of {union}")]
    BadPosition {
        /// The position.
        position: usize,
        /// The union size.
        union: usize,
    },
    /// The opened values do not fit the plan's layout (an internal inconsistency).
    #[error("internal error: the opened values do not match the plan's layout")]
    Layout,
}

impl From<SpecError> for EngineError {
    fn from(e: SpecError) -> Self {
        EngineError::Spec(Box::new(e))
    }
}

/// A callback told the name of each phase as it starts.
pub type PhaseCallback = Box<dyn FnMut(&str) + Send>;

/// A callback told `(phase, done, total)` work units of a phase while it runs (so far only the
/// join reports, in scalar multiplications; see `samen_join::JoinProgress`).
pub type ProgressCallback = Arc<dyn Fn(&str, u64, u64) + Send + Sync>;

/// Phase timing, with an optional callback when a phase starts (progress display, transcript
/// step labels).
pub struct Phases {
    done: Vec<(String, Duration)>,
    current: Option<(String, Instant)>,
    on_start: Option<PhaseCallback>,
    on_progress: Option<ProgressCallback>,
}

impl std::fmt::Debug for Phases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Phases").field("done", &self.done).finish()
    }
}

impl Default for Phases {
    fn default() -> Self {
        Phases::new()
    }
}

impl Phases {
    /// No callback.
    pub fn new() -> Phases {
        Phases {
            done: Vec::new(),
            current: None,
            on_start: None,
            on_progress: None,
        }
    }

    /// Also call `f(phase, done, total)` while a long phase makes progress.
    pub fn with_progress(mut self, f: impl Fn(&str, u64, u64) + Send + Sync + 'static) -> Phases {
        self.on_progress = Some(Arc::new(f));
        self
    }

    /// A callback `(done, total)` for the current phase (a no-op if no progress callback was
    /// given), to hand to a long computation.
    pub fn progress(&self) -> Box<dyn Fn(u64, u64) + Send + Sync> {
        let phase = self
            .current
            .as_ref()
            .map(|(name, _)| name.clone())
            .unwrap_or_default();
        match &self.on_progress {
            Some(f) => {
                let f = Arc::clone(f);
                Box::new(move |done, total| f(&phase, done, total))
            }
            None => Box::new(|_, _| {}),
        }
    }

    /// Call `f(name)` whenever a phase starts and `f("")` when the last phase ends.
    pub fn with_callback(f: impl FnMut(&str) + Send + 'static) -> Phases {
        Phases {
            on_start: Some(Box::new(f)),
            ..Phases::new()
        }
    }

    /// End the current phase (if any) and start `name`.
    pub fn start(&mut self, name: &str) {
        self.end_current();
        self.current = Some((name.to_string(), Instant::now()));
        if let Some(f) = &mut self.on_start {
            f(name);
        }
    }

    fn end_current(&mut self) {
        if let Some((n, t)) = self.current.take() {
            self.done.push((n, t.elapsed()));
        }
    }

    /// Start `name` unless it is the current phase already.
    pub fn enter(&mut self, name: &str) {
        if self.current.as_ref().map(|c| c.0.as_str()) != Some(name) {
            self.start(name);
        }
    }

    /// End the current phase.
    pub fn finish(&mut self) {
        self.end_current();
        if let Some(f) = &mut self.on_start {
            f("");
        }
    }

    /// Completed phases with their durations, in order.
    pub fn durations(&self) -> &[(String, Duration)] {
        &self.done
    }
}

/// Maximum union size the helper accepts (bounds its allocations).
pub const MAX_UNION: u64 = 1 << 31;

/// This data party's role, after checking that `table` is the one it holds.
fn check_table(study: &Study, me: &str, table: &PartyTable) -> Result<Role, EngineError> {
    let spec = study
        .table_of(me)
        .ok_or_else(|| EngineError::UnknownParty(me.to_string()))?;
    if spec.name != table.table {
        return Err(EngineError::WrongTable {
            party: me.to_string(),
            expected: spec.name.clone(),
            given: table.table.clone(),
        });
    }
    study
        .table_role(&spec.name)
        .ok_or_else(|| EngineError::UnknownParty(me.to_string()))
}

/// Run a data party: join, matrices, product, suppression, reveal. Returns the revealed tables,
/// the sizes and the suppression pattern. `peer` is the channel to the other data party,
/// `helper` to the helper.
pub fn run_data_party(
    study: &Study,
    me: &str,
    table: &PartyTable,
    peer: &mut dyn Channel,
    helper: &mut dyn Channel,
    phases: &mut Phases,
) -> Result<(Vec<OutputTable>, Sizes, Pattern), EngineError> {
    let role = check_table(study, me, table)?;
    // Before sending anything: a single row must not overflow (the full rule needs the
    // intersection size, known after the join).
    study.check_overflow(1)?;
    let plan = Plan::new(study)?;
    let layout = Layout::new(study, &plan);
    if !layout.is_complete() {
        return Err(EngineError::Layout);
    }

    phases.start("join");
    peer.set_step("join");
    helper.set_step("join");
    let ids: Vec<&[u8]> = table.ids.iter().map(|s| s.as_bytes()).collect();
    let progress = phases.progress();
    let joined = plan
        .join
        .run_data_party(role, &ids, peer, helper, &|p: JoinProgress| {
            progress(p.done, p.total)
        })?;
    drop(ids);
    let (a, b) = if role == Role::First {
        (joined.own_size, joined.peer_size)
    } else {
        (joined.peer_size, joined.own_size)
    };
    let sizes = Sizes {
        first: a as u64,
        second: b as u64,
        union: joined.union_size as u64,
    };
    let n = joined.union_size;
    if sizes.union > MAX_UNION || n.checked_mul(plan.k.max(plan.l)).is_none() {
        return Err(EngineError::Sizes {
            detail: format!("union size {n} is larger than the limit of {MAX_UNION}"),
        });
    }
    helper.set_step("sizes");
    helper.send_msg(&sizes)?;
    helper.flush()?;
    study.check_overflow(sizes.intersection())?;

    // The dealer's seed arrives once the helper has both size messages, i.e. once the slower
    // party has finished the join; waiting for it counts as part of the join phase.
    let mut mpc = Computer::new(role, peer, helper)?;

    phases.start("shares");
    let mut row_at = vec![u32::MAX; n];
    for (i, &pos) in joined.positions.iter().enumerate() {
        let slot = row_at.get_mut(pos).ok_or(EngineError::BadPosition {
            position: pos,
            union: n,
        })?;
        *slot = u32::try_from(i).map_err(|_| EngineError::Sizes {
            detail: format!("{} rows exceed the limit of {}", joined.own_size, u32::MAX),
        })?;
    }
    drop(joined);

    let width = plan.width(role);
    let mut shares = vec![0u64; plan.k * plan.l];
    let mut values: Vec<u64> = Vec::new();
    let mut bits: Vec<u64> = Vec::new();
    let mut primary: Vec<Vec<bool>> = Vec::new();
    let mut pattern = Pattern::default();
    let mut opened: Vec<u64> = Vec::new();
    let mut block: Vec<u64> = Vec::new();
    let matrix = plan.rows(role, table)?;
    let mut models = model::Models::new(plan.models(study));
    for op in plan.ops(study, n) {
        match op {
            Op::CrossProduct { start, rows } => {
                if start == 0 {
                    phases.start("products");
                }
                block.resize(rows * width, 0);
                matrix.fill(&row_at, start, &mut block)?;
                let part = mpc.cross_product(&block, rows, plan.k, plan.l)?;
                ring::add_assign(&mut shares, &part).map_err(MpcError::from)?;
            }
            Op::Noise { n } => {
                phases.enter("comparison");
                values = cell_values(&layout, &shares)?;
                // This party's own draw, added to its own share: no party knows the sum.
                let mechanisms = plan.noise();
                if mechanisms.len() != n {
                    return Err(EngineError::Layout);
                }
                let noise = mpc.noise(&mechanisms)?;
                let mut noise = noise.iter();
                let mut at = 0;
                for slot in &layout.slots {
                    let q = slot.entries.len();
                    if slot.noisy {
                        let cell = values.get_mut(at..at + q).ok_or(EngineError::Layout)?;
                        for v in cell {
                            *v = v.wrapping_add(*noise.next().ok_or(EngineError::Layout)?);
                        }
                    }
                    at += q;
                }
            }
            Op::Compare { .. } => {
                phases.enter("comparison");
                if values.is_empty() {
                    values = cell_values(&layout, &shares)?;
                }
                // Counts minus min_cell (First subtracts the public threshold), compared with 0.
                let mut cmp_in = Vec::with_capacity(layout.n_cmp);
                let mut at = 0;
                for slot in &layout.slots {
                    let count = values.get(at).copied().ok_or(EngineError::Layout)?;
                    at += slot.entries.len();
                    if slot.min_cell > 0 {
                        let t = if role == Role::First {
                            slot.min_cell
                        } else {
                            0
                        };
                        cmp_in.push(count.wrapping_sub(t));
                    }
                }
                bits = mpc.ge_public(&cmp_in, 0)?;
            }
            Op::OpenPattern { .. } => {
                phases.start("open");
                let opened_bits = mpc.open(&bits)?;
                primary = primary_pattern(study, &layout, &opened_bits)?;
            }
            Op::Open { .. } => {
                phases.enter("open");
                if values.is_empty() {
                    values = cell_values(&layout, &shares)?;
                }
                // The full pattern is a public function of the primary one (both data parties
                // compute the same); only the shown cells' quantities are opened.
                pattern = disclosure::protect(study, &primary);
                let mut to_open = Vec::with_capacity(values.len());
                let mut at = 0;
                for slot in &layout.slots {
                    let q = slot.entries.len();
                    if !pattern.get(slot.output, slot.cell).is_suppressed() {
                        to_open
                            .extend_from_slice(values.get(at..at + q).ok_or(EngineError::Layout)?);
                    }
                    at += q;
                }
                opened = mpc.open(&to_open)?;
            }
            Op::ModelCheck { output, .. } => {
                phases.enter("model");
                models.check(&mut mpc, output, &shares)?;
            }
            Op::Solve { output, .. } => {
                phases.enter("model");
                models.solve(&mut mpc, output, &shares)?;
            }
        }
    }
    drop(mpc);
    let mut tables = finish(study, &layout, &pattern, &opened)?;
    models.apply(study, &mut tables)?;
    phases.finish();
    Ok((tables, sizes, pattern))
}

/// Each slot's quantities (shares), in slot order, from the product shares.
fn cell_values(layout: &Layout, shares: &[u64]) -> Result<Vec<u64>, EngineError> {
    layout
        .slots
        .iter()
        .flat_map(|s| &s.entries)
        .map(|&e| shares.get(e).copied().ok_or(EngineError::Layout))
        .collect()
}

/// Run the helper: serve its half of the join, receive the sizes from both data parties, check
/// them, and deal for every operation of the plan. `first` and `second` are the channels to
/// First and Second.
pub fn run_helper(
    study: &Study,
    first: &mut dyn Channel,
    second: &mut dyn Channel,
    phases: &mut Phases,
) -> Result<Sizes, EngineError> {
    let plan = Plan::new(study)?;
    phases.start("join");
    first.set_step("join");
    second.set_step("join");
    let seen = plan.join.run_helper(first, second)?;
    first.set_step("sizes");
    second.set_step("sizes");
    let fs: Sizes = first.recv_msg()?;
    let ss: Sizes = second.recv_msg()?;
    if fs != ss {
        return Err(EngineError::Sizes {
            detail: "First and Second disagree on |A|, |B| or N".into(),
        });
    }
    let Sizes {
        first: a,
        second: b,
        union: n,
    } = fs;
    if a > MAX_ROWS as u64 || b > MAX_ROWS as u64 || n > MAX_UNION || n > a + b || n < a.max(b) {
        return Err(EngineError::Sizes {
            detail: format!("|A| = {a}, |B| = {b}, N = {n} are not consistent or too large"),
        });
    }
    if let Some(s) = seen {
        if (s.first, s.second, s.union) != (a, b, n) {
            return Err(EngineError::Sizes {
                detail: "the sizes reported after the join differ from those of the join".into(),
            });
        }
    }
    let sizes = fs;
    study.check_overflow(sizes.intersection())?;

    phases.start("shares");
    let mut dealer = Dealer::new(first, second)?;
    for op in plan.ops(study, n as usize) {
        match op {
            Op::CrossProduct { start, rows } => {
                if start == 0 {
                    phases.start("products");
                }
                dealer.cross_product(rows, plan.k, plan.l)?;
            }
            // The data parties draw the noise themselves; the helper takes no part in it.
            Op::Noise { .. } => phases.enter("comparison"),
            Op::Compare { n } => {
                phases.enter("comparison");
                dealer.ge_public(n)?;
            }
            Op::OpenPattern { .. } => phases.start("open"),
            Op::Open { .. } => phases.enter("open"),
            Op::ModelCheck { counts, .. } => {
                phases.enter("model");
                model::deal_check(&mut dealer, counts)?;
            }
            Op::Solve { d, .. } => {
                phases.enter("model");
                model::deal_solve(&mut dealer, d)?;
            }
        }
    }
    drop(dealer);
    phases.finish();
    Ok(sizes)
}

/// The primary pattern from the opened comparison bits (slot order, cells with
/// `min_cell > 0`): `primary[output][cell]` is true when the cell's count is below its
/// `min_cell`.
fn primary_pattern(
    study: &Study,
    layout: &Layout,
    bits: &[u64],
) -> Result<Vec<Vec<bool>>, EngineError> {
    let mut primary: Vec<Vec<bool>> = study.outputs().iter().map(|_| Vec::new()).collect();
    let mut bits = bits.iter();
    for slot in &layout.slots {
        let below = if slot.min_cell > 0 {
            match bits.next() {
                Some(0) => true,
                Some(1) => false,
                Some(_) => return Err(EngineError::BadBit),
                None => return Err(EngineError::Layout),
            }
        } else {
            false
        };
        let cells = primary.get_mut(slot.output).ok_or(EngineError::Layout)?;
        if cells.len() != slot.cell {
            return Err(EngineError::Layout);
        }
        cells.push(below);
    }
    if bits.next().is_some() {
        return Err(EngineError::Layout);
    }
    Ok(primary)
}

/// Turn the opened quantities of the shown cells (slot order) into each statistic's output.
fn finish(
    study: &Study,
    layout: &Layout,
    pattern: &Pattern,
    opened: &[u64],
) -> Result<Vec<OutputTable>, EngineError> {
    let mut cells: Vec<Vec<CellValues>> = study.outputs().iter().map(|_| Vec::new()).collect();
    let levels: Vec<Vec<Vec<String>>> = study
        .outputs()
        .iter()
        .map(|o| statistic::cell_levels(o, study))
        .collect();
    let mut opened = opened.iter();
    for slot in &layout.slots {
        let q = slot.entries.len();
        let suppressed = pattern.get(slot.output, slot.cell);
        let values = if suppressed.is_suppressed() {
            vec![0; q]
        } else {
            (0..q)
                .map(|_| {
                    opened
                        .next()
                        .map(|&v| i128::from(v as i64))
                        .ok_or(EngineError::Layout)
                })
                .collect::<Result<Vec<i128>, EngineError>>()?
        };
        let lv = levels
            .get(slot.output)
            .and_then(|l| l.get(slot.cell))
            .cloned()
            .ok_or(EngineError::Layout)?;
        cells
            .get_mut(slot.output)
            .ok_or(EngineError::Layout)?
            .push(CellValues {
                levels: lv,
                suppressed,
                values,
            });
    }
    if opened.next().is_some() {
        return Err(EngineError::Layout);
    }
    Ok(study
        .outputs()
        .iter()
        .zip(&cells)
        .map(|(o, c)| statistic::definition(o.statistic).finish(o, study, c))
        .collect())
}
