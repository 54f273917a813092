//! Online two-party primitives on additive shares over Z_2^64, with a helper (dealer).
//!
//! # Parties and trust model
//! Two computing parties, [`Role::First`] and [`Role::Second`], hold additive shares; a third
//! party, the dealer ([`Dealer`]), produces correlated randomness from two seeds (one per
//! computing party, see [`crate::dealer`]) and never receives anything. Security is
//! **semi-honest with no collusion**: each party follows the protocol, and each party's view
//! (its inputs, its seed or seeds, and the messages it receives) is simulatable from its own
//! input and output. A coalition of any two parties learns everything.
//!
//! # What each party learns
//! | primitive | First receives | Second receives | dealer receives | revealed |
//! |---|---|---|---|---|
//! | [`Computer::open`] | Second's share | First's share | — | the opened values |
//! | [`Computer::mul`] | `x−a`, `y−b` shares of Second (masked by Second's seed) | same from First, `c_S` from dealer | — | nothing |
//! | [`Computer::cross_product`] | `F = M_B − V` (V from Second's seed) | `E = M_A − U` (U from First's seed), `R_S` | — | nothing |
//! | [`Computer::ge_public`] | `x−t+r` shares, masked bit shares | same, plus dealer corrections | — | nothing |
//! | [`Computer::noise`] | — | `z − r` from dealer (r from First's seed) | — | nothing (the dealer knows the noise `z`) |
//!
//! Every message a computing party receives is uniformly distributed and independent of the
//! other party's data, because it is masked by a pad that this party cannot derive (it depends
//! on the other party's seed); the dealer's corrections are masked by values derived from
//! First's seed, which Second does not know. The dealer learns the number and shapes of
//! operations (vector lengths, matrix shapes) and nothing else, apart from the noise values it
//! draws itself for [`Computer::noise`] (see [`crate::dp`]). The statistical test
//! `messages_are_uniform_for_any_secret` in `tests/mpc.rs` checks the uniformity of shares and
//! of the messages received in a Beaver multiplication for two very different secrets;
//! `comparison_messages_are_uniform_for_any_secret` does the same for [`Computer::ge_public`].
//!
//! # Message flow
//! Both computing parties send before they receive in every round, so one round costs one
//! one-way latency; the transports are full duplex and buffer a round's messages.
//!
//! | primitive | rounds (peer) | words sent per party |
//! |---|---|---|
//! | `open(n)` | 1 | n |
//! | `mul(n)` | 1 | 2n |
//! | `cross_product(n,k,l)` | 1 | First n·k, Second n·l |
//! | `ge_public(n)` | 8 | about 23·n |
//! | `noise(n)` | 0 | 0 (Second receives n words from the dealer) |
//!
//! ```
//! use samen_core::channel::local_mesh;
//! use samen_core::mpc::{Computer, Dealer, Role};
//! let mut mesh = local_mesh(&["first", "second", "helper"]);
//! let mut h = mesh.pop().unwrap();
//! let mut s = mesh.pop().unwrap();
//! let mut f = mesh.pop().unwrap();
//! let helper = std::thread::spawn(move || {
//!     let (mut to_f, mut to_s) = (h.remove("first").unwrap(), h.remove("second").unwrap());
//!     let mut d = Dealer::new(&mut to_f, &mut to_s).unwrap();
//!     d.mul(2).unwrap();
//!     d.ge_public(2).unwrap();
//! });
//! let second = std::thread::spawn(move || {
//!     let (mut peer, mut dealer) = (s.remove("first").unwrap(), s.remove("helper").unwrap());
//!     let mut c = Computer::new(Role::Second, &mut peer, &mut dealer).unwrap();
//!     // Second's shares of x = (3, 10) and y = (5, 7): First holds (1, 1) and (2, 2)
//!     let z = c.mul(&[2, 9], &[3, 5]).unwrap();
//!     let big = c.ge_public(&z, 20).unwrap();
//!     c.open(&big).unwrap()
//! });
//! let (mut peer, mut dealer) = (f.remove("second").unwrap(), f.remove("helper").unwrap());
//! let mut c = Computer::new(Role::First, &mut peer, &mut dealer).unwrap();
//! let z = c.mul(&[1, 1], &[2, 2]).unwrap();
//! let big = c.ge_public(&z, 20).unwrap();
//! assert_eq!(c.open(&big).unwrap(), vec![0, 1]); // 15 ≥ 20 is false, 70 ≥ 20 is true
//! assert_eq!(second.join().unwrap(), vec![0, 1]);
//! helper.join().unwrap();
//! ```

use rayon::prelude::*;
use thiserror::Error;
use zeroize::Zeroize;

use crate::channel::{Channel, ChannelError, ChannelExt};
pub use crate::dealer::Dealer;
use crate::dealer::{
    header, stream, CMP_ANDS, HELLO_LEN, HELLO_TAG, KIND_CMP, KIND_CROSS, KIND_MUL, KIND_NOISE,
};
use crate::dp::DpError;
use crate::prg::Seed;
use crate::ring::{self, RingError};

/// The two computing (data) parties. `First` is the data party whose name sorts first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// The data party whose name sorts first.
    First,
    /// The other data party.
    Second,
}

impl Role {
    pub(crate) fn code(self) -> u8 {
        match self {
            Role::First => 0,
            Role::Second => 1,
        }
    }

    /// The other computing party's role.
    pub fn other(self) -> Role {
        match self {
            Role::First => Role::Second,
            Role::Second => Role::First,
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Role::First => "first",
            Role::Second => "second",
        })
    }
}

/// An error of an MPC primitive.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum MpcError {
    /// The channel to the peer or the dealer failed, or a peer sent malformed data.
    #[error(transparent)]
    Channel(#[from] ChannelError),
    /// Local misuse: an input vector does not have the length the operation requires.
    #[error("{what}: expected {expected} values, got {got}")]
    Length {
        /// Which input.
        what: &'static str,
        /// Required length.
        expected: usize,
        /// Given length.
        got: usize,
    },
    /// Local misuse: the matrix shape is too large to address.
    #[error("matrix shape n={n}, k={k}, l={l} is too large")]
    ShapeOverflow {
        /// Rows.
        n: usize,
        /// Columns of First's matrix.
        k: usize,
        /// Columns of Second's matrix.
        l: usize,
    },
    /// Vectors that must have equal length do not.
    #[error(transparent)]
    Ring(#[from] RingError),
    /// The dealer's first message is not a valid samen dealer hello (wrong version or
    /// malformed).
    #[error("the helper's hello is malformed or from an incompatible version ({0})")]
    BadHello(&'static str),
    /// The dealer believes this party has the other role: the parties are configured
    /// inconsistently.
    #[error("the helper assigned role '{assigned}' but this party runs as '{expected}'")]
    RoleMismatch {
        /// The role this party was started with.
        expected: Role,
        /// The role the dealer's hello names.
        assigned: Role,
    },
    /// The dealer prepared a different operation than this party performs: the two sides run
    /// different studies or different versions.
    #[error(
        "the helper prepared operation {got:?} but this party performs {expected:?} \
         ([kind, sequence number, n, k, l]); check that all parties run the same study and version"
    )]
    OutOfSync {
        /// This party's operation header.
        expected: [u64; 5],
        /// The dealer's operation header.
        got: [u64; 5],
    },
    /// Local misuse: [`Dealer::with_seeds`] was given the same seed for both computing parties,
    /// which would let each of them unmask the other's messages.
    #[error(
        "the helper's seeds for the two data parties are equal; give two independent random seeds"
    )]
    EqualSeeds,
    /// Local misuse: a noise mechanism given to [`Dealer::noise`] has unsupported parameters.
    #[error(transparent)]
    Noise(#[from] DpError),
}

/// Check that the shapes of a cross product are addressable.
pub(crate) fn check_dims(n: usize, k: usize, l: usize) -> Result<(), MpcError> {
    let ok = n
        .checked_mul(k)
        .and_then(|_| n.checked_mul(l))
        .and_then(|_| k.checked_mul(l))
        .and_then(|_| n.checked_mul(k.checked_add(l)?))
        .is_some();
    if ok {
        Ok(())
    } else {
        Err(MpcError::ShapeOverflow { n, k, l })
    }
}

/// A computing party's online session. Created after the dealer sent its seed.
///
/// Every operation must be mirrored, in the same order and with the same shapes, by the other
/// computing party and (except [`Computer::open`]) by the [`Dealer`].
pub struct Computer<'a> {
    role: Role,
    peer: &'a mut dyn Channel,
    dealer: &'a mut dyn Channel,
    seed: Seed,
    op: u64,
    /// Recycled block buffers of `mul` (the Beaver pads of the blocks in flight), so that
    /// long runs of multiplications do not page-fault fresh memory for every block.
    scratch: Vec<Vec<u64>>,
}

impl std::fmt::Debug for Computer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Computer")
            .field("role", &self.role)
            .field("peer", &self.peer.peer())
            .field("dealer", &self.dealer.peer())
            .field("op", &self.op)
            .finish_non_exhaustive()
    }
}

fn check_len(what: &'static str, expected: usize, got: usize) -> Result<(), MpcError> {
    if expected == got {
        Ok(())
    } else {
        Err(MpcError::Length {
            what,
            expected,
            got,
        })
    }
}

impl<'a> Computer<'a> {
    /// Start a session: receive this party's seed from the dealer.
    pub fn new(
        role: Role,
        peer: &'a mut dyn Channel,
        dealer: &'a mut dyn Channel,
    ) -> Result<Self, MpcError> {
        dealer.set_step("dealer-seed");
        let mut hello = dealer.recv(HELLO_LEN)?;
        let parsed = parse_hello(&hello);
        hello.zeroize();
        let (assigned, seed) = parsed?;
        if assigned != role {
            return Err(MpcError::RoleMismatch {
                expected: role,
                assigned,
            });
        }
        Ok(Computer {
            role,
            peer,
            dealer,
            seed,
            op: 0,
            scratch: Vec::new(),
        })
    }

    /// This party's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Number of dealer-assisted operations performed so far.
    pub fn operations(&self) -> u64 {
        self.op
    }

    fn is_first(&self) -> bool {
        self.role == Role::First
    }

    fn next_op(&mut self) -> u64 {
        self.op += 1;
        self.op
    }

    /// Second: receive and check the dealer's header for this operation.
    fn expect_header(&mut self, expected: [u64; 5]) -> Result<(), MpcError> {
        let got = self.dealer.recv_u64s(5)?;
        let got: [u64; 5] = got
            .try_into()
            .map_err(|_| MpcError::BadHello("operation header"))?;
        if got != expected {
            return Err(MpcError::OutOfSync { expected, got });
        }
        Ok(())
    }

    /// Send `mine` to the peer and receive the peer's vector of the same length.
    fn exchange(&mut self, mine: &[u64]) -> Result<Vec<u64>, MpcError> {
        self.peer.send_u64s(mine)?;
        self.peer.flush()?;
        Ok(self.peer.recv_u64s(mine.len())?)
    }

    /// Reveal additively shared values to both computing parties (one round, n words each
    /// way). Needs nothing from the dealer.
    pub fn open(&mut self, shares: &[u64]) -> Result<Vec<u64>, MpcError> {
        self.peer.set_step("open");
        let mut theirs = self.exchange(shares)?;
        ring::add_assign(&mut theirs, shares)?;
        Ok(theirs)
    }

    /// Beaver multiplication of shared vectors (same length): shares of `x·y` element-wise.
    ///
    /// With a triple `c = a·b` from the dealer, both parties open `d = x − a` and `e = y − b`
    /// in one round and set `z = c + d·b + e·a (+ d·e at First)`.
    pub fn mul(&mut self, x: &[u64], y: &[u64]) -> Result<Vec<u64>, MpcError> {
        check_len("mul: y", x.len(), y.len())?;
        let n = x.len();
        let op = self.next_op();
        let first = self.is_first();
        let sa = stream(&self.seed, "mul", op, "a");
        let sb = stream(&self.seed, "mul", op, "b");
        let mut z = if first {
            stream(&self.seed, "mul", op, "c").u64s(n)
        } else {
            self.dealer.set_step("dealer-mul");
            self.expect_header(header(KIND_MUL, op, n, 0, 0))?;
            self.dealer.recv_u64s(n)?
        };
        // Pipelined in blocks of one frame: [x_j − a_j, y_j − b_j] interleaved, 16 bytes per
        // element. The pads of the blocks in flight are kept until the peer's block arrives.
        let block = MUL_BLOCK;
        let blocks = n.div_ceil(block);
        let range = |i: usize| (i * block, ((i + 1) * block).min(n));
        self.peer.set_step("mul");
        // Pads of the blocks in flight come from (and go back to) the recycled buffers.
        let pool = std::cell::RefCell::new(std::mem::take(&mut self.scratch));
        // Every element is overwritten by the PRG before it is read.
        let take = |len: usize| sized(pool.borrow_mut().pop().unwrap_or_default(), len);
        let result = self.pipelined(
            blocks,
            |i, buf| {
                let (s, e) = range(i);
                let (xs, ys) = (&x[s..e], &y[s..e]);
                let mut a = take(e - s);
                let mut b = take(e - s);
                let mut frame = sized(buf, 16 * (e - s));
                if e - s >= SUB {
                    rayon::join(|| sa.fill_u64_at(s, &mut a), || sb.fill_u64_at(s, &mut b));
                    frame
                        .par_chunks_mut(16 * SUB)
                        .zip(xs.par_chunks(SUB).zip(ys.par_chunks(SUB)))
                        .zip(a.par_chunks(SUB).zip(b.par_chunks(SUB)))
                        .for_each(|((f, (xs, ys)), (a, b))| mul_encode(f, xs, ys, a, b));
                } else {
                    sa.fill_u64_at(s, &mut a);
                    sb.fill_u64_at(s, &mut b);
                    mul_encode(&mut frame, xs, ys, &a, &b);
                }
                Ok((frame, (a, b)))
            },
            |i| {
                let (s, e) = range(i);
                16 * (e - s)
            },
            |i, (a, b), frame| {
                let (s, e) = range(i);
                let zs = &mut z[s..e];
                let (xs, ys) = (&x[s..e], &y[s..e]);
                if e - s >= SUB {
                    zs.par_chunks_mut(SUB)
                        .zip(frame.par_chunks(16 * SUB))
                        .zip(xs.par_chunks(SUB).zip(ys.par_chunks(SUB)))
                        .zip(a.par_chunks(SUB).zip(b.par_chunks(SUB)))
                        .for_each(|(((zs, f), (xs, ys)), (a, b))| {
                            mul_finish(zs, f, xs, ys, a, b, first)
                        });
                } else {
                    mul_finish(zs, frame, xs, ys, &a, &b, first);
                }
                pool.borrow_mut().extend([a, b]);
                Ok(())
            },
        );
        self.scratch = pool.into_inner();
        result?;
        Ok(z)
    }

    /// This party's additive shares of `n` differential-privacy noise values drawn by the dealer
    /// (matched by [`Dealer::noise`] with `n` mechanisms). No communication with the peer.
    ///
    /// First expands its shares `r` from its seed; Second receives `z − r` from the dealer after
    /// checking the operation header. Each share alone is uniformly random; the dealer knows the
    /// noise values `z` but sees no data and no output.
    pub fn noise(&mut self, n: usize) -> Result<Vec<u64>, MpcError> {
        let op = self.next_op();
        if self.is_first() {
            Ok(stream(&self.seed, "noise", op, "r").u64s(n))
        } else {
            self.dealer.set_step("dealer-noise");
            self.expect_header(header(KIND_NOISE, op, n, 0, 0))?;
            Ok(self.dealer.recv_u64s(n)?)
        }
    }

    /// Exchange `blocks` frames with the peer, keeping up to [`WINDOW`] of this party's frames
    /// in flight: `make(i, buf)` builds block `i` and a state kept until the peer's block `i` (of
    /// exactly `peer_len(i)` bytes) arrives and `consume(i, state, frame)` runs. `buf` is a
    /// received frame already consumed (or empty at first), for `make` to reuse as its next
    /// frame: over in-process channels the buffers then go back and forth between the parties
    /// instead of being allocated (and page-faulted) anew for every block.
    fn pipelined<S>(
        &mut self,
        blocks: usize,
        mut make: impl FnMut(usize, Vec<u8>) -> Result<(Vec<u8>, S), MpcError>,
        peer_len: impl Fn(usize) -> usize,
        mut consume: impl FnMut(usize, S, &[u8]) -> Result<(), MpcError>,
    ) -> Result<(), MpcError> {
        let mut pending = std::collections::VecDeque::with_capacity(WINDOW);
        let mut spare: Vec<Vec<u8>> = Vec::new();
        let mut next = 0;
        for i in 0..blocks {
            while next < blocks && next < i + WINDOW {
                let (frame, state) = make(next, spare.pop().unwrap_or_default())?;
                self.peer.send_owned(frame)?;
                pending.push_back(state);
                next += 1;
            }
            self.peer.flush()?;
            let want = peer_len(i);
            let frame = self.peer.recv(want)?;
            if frame.len() != want {
                return Err(ChannelError::Protocol {
                    peer: self.peer.peer().to_string(),
                    detail: format!("expected a block of {want} bytes, got {}", frame.len()),
                }
                .into());
            }
            // one state per block sent, and block i was sent before it is received
            if let Some(state) = pending.pop_front() {
                consume(i, state, &frame)?;
            }
            spare.push(frame);
        }
        Ok(())
    }

    /// Cross-party matrix product. First passes its private row-major n×k matrix M_A, Second its
    /// private row-major n×l matrix M_B (both know n, k, l). Both get additive shares of
    /// M_Aᵀ · M_B (k×l, row-major).
    ///
    /// First sends `E = M_A − U`, Second sends `F = M_B − V` (one round, pipelined in blocks of
    /// rows); with `R_F + R_S = UᵀV` from the dealer, First's share is `UᵀF + R_F` and Second's
    /// is `EᵀM_B + R_S`, because `M_Aᵀ M_B = (E + U)ᵀ M_B = EᵀM_B + UᵀF + UᵀV`.
    pub fn cross_product(
        &mut self,
        mine: &[u64],
        n: usize,
        k: usize,
        l: usize,
    ) -> Result<Vec<u64>, MpcError> {
        check_dims(n, k, l)?;
        let op = self.next_op();
        let first = self.is_first();
        let (my_cols, peer_cols) = if first { (k, l) } else { (l, k) };
        check_len(
            if first {
                "cross_product: First's matrix (n·k)"
            } else {
                "cross_product: Second's matrix (n·l)"
            },
            n * my_cols,
            mine.len(),
        )?;
        let r = if first {
            stream(&self.seed, "cross", op, "r").u64s(k * l)
        } else {
            self.dealer.set_step("dealer-cross-product");
            self.expect_header(header(KIND_CROSS, op, n, k, l))?;
            self.dealer.recv_u64s(k * l)?
        };
        if k == 0 || l == 0 {
            return Ok(r);
        }
        let pad = stream(&self.seed, "cross", op, if first { "u" } else { "v" });
        let rows = (crate::channel::BULK_FRAME / 8 / k.max(l)).max(1);
        let blocks = n.div_ceil(rows);
        let range = |i: usize| (i * rows, ((i + 1) * rows).min(n));
        let mut acc = r;
        self.peer.set_step("cross-product");
        self.pipelined(
            blocks,
            |i, buf| {
                let (s, e) = range(i);
                let mut p = vec![0u64; (e - s) * my_cols];
                pad.fill_u64_at(s * my_cols, &mut p);
                let m = &mine[s * my_cols..e * my_cols];
                let mut frame = sized(buf, 8 * p.len());
                for ((f, m), p) in frame.chunks_exact_mut(8).zip(m).zip(&p) {
                    f.copy_from_slice(&m.wrapping_sub(*p).to_le_bytes());
                }
                // First keeps U's block for UᵀF; Second needs nothing
                Ok((frame, if first { p } else { Vec::new() }))
            },
            |i| {
                let (s, e) = range(i);
                8 * (e - s) * peer_cols
            },
            |i, u, frame| {
                let (s, e) = range(i);
                let theirs: Vec<u64> = frame.chunks_exact(8).map(le_u64).collect();
                let part = if first {
                    // UᵀF
                    ring::matmul_tn(&u, &theirs, e - s, k, l)?
                } else {
                    // EᵀM_B
                    ring::matmul_tn(&theirs, &mine[s * l..e * l], e - s, k, l)?
                };
                ring::add_assign(&mut acc, &part)?;
                Ok(())
            },
        )?;
        Ok(acc)
    }

    /// Shares of the bits `[x_i ≥ t]` (0 or 1 in Z_2^64), `x_i` read as two's complement
    /// signed; exact whenever `|x_i − t| < 2^63`.
    ///
    /// Method: `d = x − t` is masked with a dealer value `r` whose bits the parties hold as XOR
    /// shares (an edaBit, Escudero, Ghosh, Keller, Rachuri, Scholl: "Improved Primitives for
    /// MPC over Mixed Arithmetic-Binary Circuits", CRYPTO 2020); `m = d + r` is opened (it is
    /// uniform). Then `d = m + ¬r + 1`, whose most significant bit is computed on XOR shares with
    /// a Kogge–Stone parallel-prefix carry circuit (as in ABY3, Mohassel and Rindal, CCS 2018):
    /// 6 levels over 64-bit packed words, each AND a packed Beaver AND triple from the dealer.
    /// The XOR-shared MSB becomes an arithmetic share with a dealer daBit `β`:
    /// `c = msb ⊕ β` is opened and `[msb] = c + [β] − 2c[β]`. The result is `1 − [msb]`.
    /// Eight rounds per [`CMP_BATCH`] values: longer inputs are compared batch by batch (one
    /// dealer operation each, matched by [`Dealer::ge_public`]), which bounds the memory for the
    /// dealer's bits and triples to about 100 MB per party whatever the input size.
    pub fn ge_public(&mut self, x: &[u64], t: u64) -> Result<Vec<u64>, MpcError> {
        let mut out = Vec::with_capacity(x.len());
        for chunk in x.chunks(CMP_BATCH) {
            out.extend(self.ge_public_batch(chunk, t)?);
        }
        Ok(out)
    }

    /// [`Computer::ge_public`] for at most [`CMP_BATCH`] values: one dealer operation.
    fn ge_public_batch(&mut self, x: &[u64], t: u64) -> Result<Vec<u64>, MpcError> {
        let n = x.len();
        let op = self.next_op();
        let first = self.is_first();
        let seed = &self.seed;
        let ra = stream(seed, "cmp", op, "ra").u64s(n);
        let ta = stream(seed, "cmp", op, "ta").u64s(CMP_ANDS * n);
        let tb = stream(seed, "cmp", op, "tb").u64s(CMP_ANDS * n);
        let words = n.div_ceil(64);
        let beta_b = stream(seed, "cmp", op, "betab").u64s(words);
        let (rb, tc, beta_a) = if first {
            (
                stream(seed, "cmp", op, "rb").u64s(n),
                stream(seed, "cmp", op, "tc").u64s(CMP_ANDS * n),
                stream(seed, "cmp", op, "betaa").u64s(n),
            )
        } else {
            self.dealer.set_step("dealer-compare");
            self.expect_header(header(KIND_CMP, op, n, 0, 0))?;
            let rb = self.dealer.recv_u64s(n)?;
            let tc = self.dealer.recv_u64s(CMP_ANDS * n)?;
            let ba = self.dealer.recv_u64s(n)?;
            (rb, tc, ba)
        };

        // Round 1: open m = x − t + r.
        self.peer.set_step("compare");
        let mut m: Vec<u64> = x
            .iter()
            .zip(&ra)
            .map(|(xi, ri)| {
                let d = if first { xi.wrapping_sub(t) } else { *xi };
                d.wrapping_add(*ri)
            })
            .collect();
        let theirs = self.exchange(&m)?;
        ring::add_assign(&mut m, &theirs)?;

        // XOR shares of B = ¬r (First complements its share), G = m ∧ B, P = m ⊕ B.
        let mut g = Vec::with_capacity(n);
        let mut p = Vec::with_capacity(n);
        for (mi, ri) in m.iter().zip(&rb) {
            let b = if first { !ri } else { *ri };
            let gi = mi & b;
            let pi = if first { mi ^ b } else { b };
            g.push(gi ^ (pi & 1)); // fold the carry-in 1 into bit 0: g0 ∨ p0 = g0 ⊕ p0
            p.push(pi);
        }
        // p63 = bit 63 of P, kept for the sum bit; then clear bit 0 of P (nothing below it).
        let p63: Vec<u64> = p.iter().map(|pi| pi >> 63).collect();
        for pi in &mut p {
            *pi &= !1;
        }

        // Rounds 2–7: Kogge–Stone prefix, G ^= P ∧ (G ≪ s); P = P ∧ (P ≪ s).
        let mut off = 0;
        for level in 0..6 {
            let s = 1u32 << level;
            let last = level == 5;
            let ands = if last { 1 } else { 2 };
            let mut lhs = Vec::with_capacity(ands * n);
            let mut rhs = Vec::with_capacity(ands * n);
            lhs.extend_from_slice(&p);
            rhs.extend(g.iter().map(|gi| gi << s));
            if !last {
                lhs.extend_from_slice(&p);
                rhs.extend(p.iter().map(|pi| pi << s));
            }
            let span = ands * n;
            let z = self.and_gates(
                &lhs,
                &rhs,
                slice(&ta, off, span),
                slice(&tb, off, span),
                slice(&tc, off, span),
            )?;
            off += span;
            for (gi, zi) in g.iter_mut().zip(&z) {
                *gi ^= zi;
            }
            if !last {
                p.copy_from_slice(slice(&z, n, n));
            }
        }

        // MSB(d) = p63 ⊕ carry into bit 63 = p63 ⊕ G[62]; then open msb ⊕ β (packed).
        let mut packed = vec![0u64; words];
        for (i, (gi, pi)) in g.iter().zip(&p63).enumerate() {
            let bit = (pi ^ (gi >> 62)) & 1;
            if let Some(w) = packed.get_mut(i / 64) {
                *w |= bit << (i % 64);
            }
        }
        for (w, bw) in packed.iter_mut().zip(&beta_b) {
            *w ^= bw;
        }
        let theirs = self.exchange(&packed)?;
        let out = beta_a
            .iter()
            .enumerate()
            .map(|(i, ba)| {
                let c = ((packed.get(i / 64).copied().unwrap_or(0)
                    ^ theirs.get(i / 64).copied().unwrap_or(0))
                    >> (i % 64))
                    & 1;
                // [msb] = c + [β] − 2c[β];  result = 1 − [msb]
                let msb = if c == 1 {
                    let v = ba.wrapping_neg();
                    if first {
                        v.wrapping_add(1)
                    } else {
                        v
                    }
                } else {
                    *ba
                };
                if first {
                    1u64.wrapping_sub(msb)
                } else {
                    msb.wrapping_neg()
                }
            })
            .collect();
        Ok(out)
    }

    /// Packed AND of XOR-shared words with Beaver AND triples (one round).
    fn and_gates(
        &mut self,
        x: &[u64],
        y: &[u64],
        ta: &[u64],
        tb: &[u64],
        tc: &[u64],
    ) -> Result<Vec<u64>, MpcError> {
        let n = x.len();
        let mut msg = Vec::with_capacity(2 * n);
        msg.extend(x.iter().zip(ta).map(|(x, a)| x ^ a));
        msg.extend(y.iter().zip(tb).map(|(y, b)| y ^ b));
        let theirs = self.exchange(&msg)?;
        let first = self.is_first();
        let (md, me) = msg.split_at(n);
        let (td, te) = theirs.split_at(n);
        Ok((0..n)
            .map(|i| {
                let d = md_get(md, i) ^ md_get(td, i);
                let e = md_get(me, i) ^ md_get(te, i);
                let mut z = md_get(tc, i) ^ (d & md_get(tb, i)) ^ (e & md_get(ta, i));
                if first {
                    z ^= d & e;
                }
                z
            })
            .collect())
    }
}

/// Beaver message encoding: `[x_j − a_j, y_j − b_j]` little-endian, 16 bytes per element.
fn mul_encode(frame: &mut [u8], xs: &[u64], ys: &[u64], a: &[u64], b: &[u64]) {
    for ((((f, x), y), a), b) in frame.chunks_exact_mut(16).zip(xs).zip(ys).zip(a).zip(b) {
        let (fd, fe) = f.split_at_mut(8);
        fd.copy_from_slice(&x.wrapping_sub(*a).to_le_bytes());
        fe.copy_from_slice(&y.wrapping_sub(*b).to_le_bytes());
    }
}

/// Beaver output: with `d = x − a` and `e = y − b` opened (own part recomputed, peer's part
/// from `frame`), `z += d·b + e·a (+ d·e at First)`.
fn mul_finish(
    zs: &mut [u64],
    frame: &[u8],
    xs: &[u64],
    ys: &[u64],
    a: &[u64],
    b: &[u64],
    first: bool,
) {
    for (((((zj, f), x), y), a), b) in zs
        .iter_mut()
        .zip(frame.chunks_exact(16))
        .zip(xs)
        .zip(ys)
        .zip(a)
        .zip(b)
    {
        let (fd, fe) = f.split_at(8);
        let d = x.wrapping_sub(*a).wrapping_add(le_u64(fd));
        let e = y.wrapping_sub(*b).wrapping_add(le_u64(fe));
        let mut v = zj
            .wrapping_add(d.wrapping_mul(*b))
            .wrapping_add(e.wrapping_mul(*a));
        if first {
            v = v.wrapping_add(d.wrapping_mul(e));
        }
        *zj = v;
    }
}

/// Elements per frame in Beaver multiplication (16 bytes each).
const MUL_BLOCK: usize = crate::channel::BULK_FRAME / 16;

/// Values per secure-comparison batch (see [`Computer::ge_public`]): 2^18, about 100 MB of
/// correlated randomness and intermediates per party.
pub const CMP_BATCH: usize = 1 << 18;

/// Elements per rayon task inside one block.
const SUB: usize = 1 << 14;

/// Frames in flight per direction in pipelined exchanges.
const WINDOW: usize = 4;

/// `buf` with exactly `len` elements, reusing its allocation; the caller overwrites every
/// element, so the old contents are not cleared.
fn sized<T: Copy + Default>(mut buf: Vec<T>, len: usize) -> Vec<T> {
    if buf.len() < len {
        buf.resize(len, T::default());
    } else {
        buf.truncate(len);
    }
    buf
}

/// Little-endian `u64` from an 8-byte slice (the callers pass `chunks_exact(8)` pieces).
#[inline(always)]
fn le_u64(b: &[u8]) -> u64 {
    u64::from_le_bytes(b.try_into().unwrap_or([0; 8]))
}

/// Bounds-checked read that lengths established by the caller make infallible.
#[inline(always)]
fn md_get(v: &[u64], i: usize) -> u64 {
    v.get(i).copied().unwrap_or(0)
}

fn slice(v: &[u64], off: usize, len: usize) -> &[u64] {
    v.get(off..off + len).unwrap_or(&[])
}

fn parse_hello(hello: &[u8]) -> Result<(Role, Seed), MpcError> {
    if hello.len() != HELLO_LEN {
        return Err(MpcError::BadHello("wrong length"));
    }
    let (tag, rest) = hello.split_at(HELLO_TAG.len());
    if tag != HELLO_TAG {
        return Err(MpcError::BadHello("unknown version tag"));
    }
    let (role, seed) = rest.split_at(1);
    let role = match role.first() {
        Some(0) => Role::First,
        Some(1) => Role::Second,
        _ => return Err(MpcError::BadHello("unknown role")),
    };
    let mut bytes: [u8; 32] = seed
        .try_into()
        .map_err(|_| MpcError::BadHello("wrong seed length"))?;
    let seed = Seed::from_bytes(bytes);
    bytes.zeroize();
    Ok((role, seed))
}
