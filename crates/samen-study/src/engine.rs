//! The joint computation of a study (one party's side), over any [`Channel`]s.
//!
//! # Parties and trust model
//! Two data parties — `First` (the data party whose name sorts first) and `Second` — and one
//! helper (dealer) that only produces correlated randomness from seeds. Semi-honest, no two
//! parties collude.
//!
//! # Steps
//! 1. **join**: `samen_join::private_join` between the data parties (reveals |A|, |B| and the
//!    union size N to both). Each party learns the union position of each of its rows.
//! 2. **sizes**: each data party sends `(|A|, |B|, N)` (three words) to the helper, which
//!    checks that both agree. This is all the helper ever receives.
//! 3. The overflow rule ([`Study::check_overflow`] with `|A| + |B|` rows) is checked by all
//!    three parties; if it fails, all stop with the same error.
//! 4. **shares**: each data party starts its MPC session (seed from the helper; the wait for
//!    it is counted in the join phase) and builds its local matrix ([`Plan::local_matrix`]).
//! 5. **products**: one cross-party product `M_A^T · M_B` (helper: a matrix triple); both data
//!    parties hold additive shares of count, Σv and Σv² of every cell of the inner join.
//! 6. **comparison**: for every cell of an output with `min_cell > 0`, shares of
//!    `s = [count ≥ min_cell]` (secure comparison), then every revealed quantity of the cell is
//!    multiplied by `s` (Beaver multiplication).
//! 7. **open**: the products, the bits `s` and the quantities of unsuppressed outputs are opened;
//!    the statistics are finished in the clear from integers.

use std::sync::Arc;
use std::time::{Duration, Instant};

use samen_core::channel::{Channel, ChannelError, ChannelExt};
use samen_core::mpc::{Computer, Dealer, MpcError, Role};
use samen_join::{private_join_with_progress, JoinError, JoinProgress, JoinRole};
use thiserror::Error;

use crate::input::{PartyTable, MAX_ROWS};
use crate::output::{finish_cell, OutputTable};
use crate::plan::Plan;
use crate::reference::cell_levels;
use crate::spec::{ColumnKind, SpecError, Study};

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
}

impl From<SpecError> for EngineError {
    fn from(e: SpecError) -> Self {
        EngineError::Spec(Box::new(e))
    }
}

/// Sizes learned in the join: |A| (First's table), |B| (Second's table), N (union).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Sizes {
    /// Rows of First's table.
    pub first: u64,
    /// Rows of Second's table.
    pub second: u64,
    /// Size of the union of identifiers.
    pub union: u64,
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

fn check_table(study: &Study, me: &str, table: &PartyTable) -> Result<bool, EngineError> {
    let [first, _] = study.data_parties();
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
    Ok(first.name == me)
}

/// Run a data party: join, matrices, product, suppression, reveal. Returns the revealed tables
/// and the sizes. `peer` is the channel to the other data party, `helper` to the helper.
pub fn run_data_party(
    study: &Study,
    me: &str,
    table: &PartyTable,
    peer: &mut dyn Channel,
    helper: &mut dyn Channel,
    phases: &mut Phases,
) -> Result<(Vec<OutputTable>, Sizes), EngineError> {
    let is_first = check_table(study, me, table)?;
    // Pre-check with this party's own size (a lower bound of |A| + |B|) before sending.
    study.check_overflow(table.len() as u64)?;
    let plan = Plan::new(study);

    phases.start("join");
    peer.set_step("join");
    let ids: Vec<&[u8]> = table.ids.iter().map(|s| s.as_bytes()).collect();
    let join_role = if is_first {
        JoinRole::First
    } else {
        JoinRole::Second
    };
    let progress = phases.progress();
    let joined = private_join_with_progress(join_role, &ids, peer, &|p: JoinProgress| {
        progress(p.done, p.total)
    })?;
    drop(ids);
    let (a, b) = if is_first {
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
    helper.send_u64s(&[sizes.first, sizes.second, sizes.union])?;
    helper.flush()?;
    study.check_overflow(sizes.first + sizes.second)?;

    // The dealer's seed arrives once the helper has both size messages, i.e. once the slower
    // party has finished the join; waiting for it counts as part of the join phase.
    let role = if is_first { Role::First } else { Role::Second };
    let mut mpc = Computer::new(role, peer, helper)?;

    phases.start("shares");
    let matrix = plan.local_matrix(is_first, table, &joined.positions, n);
    drop(joined);

    phases.start("products");
    let shares = if n == 0 {
        vec![0u64; plan.k * plan.l]
    } else {
        mpc.cross_product(&matrix, n, plan.k, plan.l)?
    };
    drop(matrix);

    phases.start("comparison");
    let layout = Layout::new(study, &plan);
    // Counts minus min_cell (First subtracts the public threshold), compared with 0.
    let mut cmp_in = Vec::with_capacity(layout.n_cmp);
    let mut mul_x = Vec::with_capacity(layout.n_mul);
    let mut direct = Vec::with_capacity(layout.n_direct);
    for slot in &layout.slots {
        let count = shares.get(slot.entries[0]).copied().unwrap_or(0);
        if slot.min_cell > 0 {
            let t = if is_first { slot.min_cell } else { 0 };
            cmp_in.push(count.wrapping_sub(t));
            for &e in &slot.entries {
                mul_x.push(shares.get(e).copied().unwrap_or(0));
            }
        } else {
            for &e in &slot.entries {
                direct.push(shares.get(e).copied().unwrap_or(0));
            }
        }
    }
    let bits = if cmp_in.is_empty() {
        Vec::new()
    } else {
        mpc.ge_public(&cmp_in, 0)?
    };
    let mut mul_y = Vec::with_capacity(layout.n_mul);
    let mut bi = 0;
    for slot in &layout.slots {
        if slot.min_cell > 0 {
            let bit = bits.get(bi).copied().unwrap_or(0);
            bi += 1;
            mul_y.extend(std::iter::repeat_n(bit, slot.entries.len()));
        }
    }
    let products = if mul_x.is_empty() {
        Vec::new()
    } else {
        mpc.mul(&mul_x, &mul_y)?
    };

    phases.start("open");
    let mut to_open = products;
    to_open.extend_from_slice(&bits);
    to_open.extend_from_slice(&direct);
    let opened = mpc.open(&to_open)?;
    drop(mpc);
    let tables = layout.finish(study, &opened)?;
    phases.finish();
    Ok((tables, sizes))
}

/// Run the helper: receive the sizes from both data parties, check them, and serve the
/// correlated randomness for the product, the comparisons and the multiplications.
/// `first` and `second` are the channels to First and Second.
pub fn run_helper(
    study: &Study,
    first: &mut dyn Channel,
    second: &mut dyn Channel,
    phases: &mut Phases,
) -> Result<Sizes, EngineError> {
    let plan = Plan::new(study);
    phases.start("join");
    first.set_step("sizes");
    second.set_step("sizes");
    let fs = first.recv_u64s(3)?;
    let ss = second.recv_u64s(3)?;
    if fs != ss {
        return Err(EngineError::Sizes {
            detail: "First and Second disagree on |A|, |B| or N".into(),
        });
    }
    let (a, b, n) = match fs.as_slice() {
        [a, b, n] => (*a, *b, *n),
        _ => {
            return Err(EngineError::Sizes {
                detail: "expected three sizes".into(),
            })
        }
    };
    if a > MAX_ROWS as u64 || b > MAX_ROWS as u64 || n > MAX_UNION || n > a + b || n < a.max(b) {
        return Err(EngineError::Sizes {
            detail: format!("|A| = {a}, |B| = {b}, N = {n} are not consistent or too large"),
        });
    }
    let sizes = Sizes {
        first: a,
        second: b,
        union: n,
    };
    study.check_overflow(a + b)?;

    phases.start("shares");
    let mut dealer = Dealer::new(first, second)?;
    phases.start("products");
    if n > 0 {
        dealer.cross_product(n as usize, plan.k, plan.l)?;
    }
    phases.start("comparison");
    let layout = Layout::new(study, &plan);
    if layout.n_cmp > 0 {
        dealer.ge_public(layout.n_cmp)?;
    }
    if layout.n_mul > 0 {
        dealer.mul(layout.n_mul)?;
    }
    drop(dealer);
    phases.finish();
    Ok(sizes)
}

/// Which product entries each cell reveals, and where they land in the opened vector.
struct Slot {
    output: usize,
    cell: usize,
    min_cell: u64,
    entries: Vec<usize>,
}

struct Layout {
    slots: Vec<Slot>,
    n_cmp: usize,
    n_mul: usize,
    n_direct: usize,
}

impl Layout {
    fn new(study: &Study, plan: &Plan) -> Layout {
        let mut slots = Vec::with_capacity(plan.total_cells());
        let (mut n_cmp, mut n_mul, mut n_direct) = (0, 0, 0);
        for (oi, (o, op)) in study.outputs().iter().zip(&plan.outputs).enumerate() {
            for cell in 0..op.cells.len() {
                let entries: Vec<usize> =
                    (0..op.factors).map(|f| plan.entry(oi, cell, f)).collect();
                if o.min_cell > 0 {
                    n_cmp += 1;
                    n_mul += entries.len();
                } else {
                    n_direct += entries.len();
                }
                slots.push(Slot {
                    output: oi,
                    cell,
                    min_cell: o.min_cell,
                    entries,
                });
            }
        }
        Layout {
            slots,
            n_cmp,
            n_mul,
            n_direct,
        }
    }

    /// Turn the opened vector (products ‖ bits ‖ direct) into tables.
    fn finish(&self, study: &Study, opened: &[u64]) -> Result<Vec<OutputTable>, EngineError> {
        let mut tables: Vec<OutputTable> = study
            .outputs()
            .iter()
            .map(|o| OutputTable {
                name: o.name.clone(),
                statistic: o.statistic,
                by: o.by.clone(),
                cells: Vec::new(),
            })
            .collect();
        let levels: Vec<Vec<&[String]>> = study
            .outputs()
            .iter()
            .map(|o| {
                o.by.iter()
                    .map(|r| match study.column(r) {
                        Some(ColumnKind::Category { levels }) => levels.as_slice(),
                        _ => &[][..],
                    })
                    .collect()
            })
            .collect();
        let (mut p, mut bit, mut d) = (0usize, self.n_mul, self.n_mul + self.n_cmp);
        let get = |i: usize| opened.get(i).copied().unwrap_or(0);
        for slot in &self.slots {
            let f = slot.entries.len();
            let (suppressed, start) = if slot.min_cell > 0 {
                let s = get(bit);
                bit += 1;
                let start = p;
                p += f;
                match s {
                    0 => (true, start),
                    1 => (false, start),
                    _ => return Err(EngineError::BadBit),
                }
            } else {
                let start = d;
                d += f;
                (false, start)
            };
            let count = get(start);
            let sum = if f > 1 {
                i128::from(get(start + 1) as i64)
            } else {
                0
            };
            let sum_sq = if f > 2 { i128::from(get(start + 2)) } else { 0 };
            let o = &study.outputs()[slot.output];
            let lv = cell_levels(&levels[slot.output], slot.cell);
            tables[slot.output].cells.push(finish_cell(
                o.statistic,
                lv,
                suppressed,
                count,
                sum,
                sum_sq,
            ));
        }
        Ok(tables)
    }
}
