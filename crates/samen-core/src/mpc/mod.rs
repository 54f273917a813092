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
//! | [`Computer::noise`] | — | — | — | nothing (each party draws its own noise locally; no party knows the sum) |
//! | [`Computer::and_all`] | as `mul`, `⌈log2 k⌉` times | same | — | nothing |
//! | [`Computer::to_field`] | `b − w` mod each prime (w from Second's seed) | `a − u` (u from First's seed), `z_S` from dealer | — | nothing |
//! | [`Computer::solve_gram`] | masked `A − B`, `b − v`, `R·A` ([`solve`]) | same, plus dealer corrections | — | the model only (estimates, diagonal of `A⁻¹`, RSS, n·TSS), or "singular" |
//!
//! Every message a computing party receives is uniformly distributed and independent of the
//! other party's data, because it is masked by a pad that this party cannot derive (it depends
//! on the other party's seed); the dealer's corrections are masked by values derived from
//! First's seed, which Second does not know. The dealer learns the number and shapes of
//! operations (vector lengths, matrix shapes) and nothing else; it takes no part in
//! [`Computer::noise`], where each computing party draws its own noise (see [`crate::dp`]).
//! The statistical test
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
//! | `noise(n)` | 0 | 0 (local draws) |
//! | `and_all(k)` | `⌈log2 k⌉` | 2(k − 1) |
//! | `to_field(n, m)` | 1 | m·n |
//! | `solve_gram(d)` | 5 | [`solve::solve_words`] |
//!
//! ```
//! use samen_core::channel::local_mesh;
//! use samen_core::mpc::{Computer, Dealer};
//! use samen_core::Role;
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

use thiserror::Error;
use zeroize::Zeroizing;

use crate::channel::{Channel, ChannelError, ChannelExt};
use crate::codec::{self, CodecError};
use crate::dp::DpError;
use crate::prg::Seed;
use crate::ring::{self, RingError};
use crate::Role;

mod and;
mod compare;
mod cross;
mod dealer;
pub mod field;
mod mul;
mod noise;
mod primes;
pub mod solve;
pub(crate) mod wire;

pub use compare::CMP_BATCH;
pub(crate) use cross::check_dims;
pub use dealer::Dealer;
pub use noise::own_noise;
use wire::{DealerHello, OpHeader, HEADER_LEN, HELLO_LEN};

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
    #[error("the helper's hello is malformed or from an incompatible version: {0}")]
    BadHello(#[source] CodecError),
    /// The dealer's header of an operation is malformed (not a known operation kind, wrong
    /// length).
    #[error("the helper sent a malformed operation header: {0}")]
    BadHeader(#[source] CodecError),
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
    /// Local misuse: a computing party's session was started with [`Role::Helper`]; only the
    /// data parties ([`Role::First`], [`Role::Second`]) compute on shares, the helper runs a
    /// [`Dealer`].
    #[error("a computing party needs the role 'first' or 'second', not '{0}'; the helper runs the dealer")]
    NotADataRole(Role),
    /// Local misuse: a noise mechanism given to [`Computer::noise`] has unsupported parameters.
    #[error(transparent)]
    Noise(#[from] DpError),
    /// Local misuse: a field computation asked for no primes or for more than the fixed list
    /// holds ([`field::PRIMES`]); the model is too large for exact reconstruction.
    #[error("the exact solve needs {wanted} primes, but 1 to {max} are available")]
    Primes {
        /// Primes asked for.
        wanted: usize,
        /// Primes available.
        max: usize,
    },
    /// Local misuse: a model's Gram matrix is too large for exact reconstruction with the fixed
    /// list of primes ([`field::primes_for`] covers `d ≤ 203`).
    #[error("a {d}×{d} Gram matrix is too large for the exact solve (at most 203×203)")]
    ModelTooLarge {
        /// The dimension asked for.
        d: usize,
    },
    /// An opened value is not a rational within the reconstruction bound: a peer deviated from
    /// the protocol (honest parties always open such values).
    #[error("an opened value of the exact solve is not a bounded rational: a peer deviated from the protocol")]
    NotRational,
    /// An invariant of samen's own code did not hold (a defect in samen; nothing is revealed).
    #[error("internal error in the secure computation ({0}); this is a defect in samen, please report it")]
    Internal(&'static str),
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
    ///
    /// `role` must be a data party's role: [`Role::Helper`] is refused with
    /// [`MpcError::NotADataRole`] before anything is received (the helper runs a [`Dealer`]).
    pub fn new(
        role: Role,
        peer: &'a mut dyn Channel,
        dealer: &'a mut dyn Channel,
    ) -> Result<Self, MpcError> {
        if !role.is_data() {
            return Err(MpcError::NotADataRole(role));
        }
        dealer.set_step("dealer-seed");
        let hello = Zeroizing::new(dealer.recv(HELLO_LEN)?);
        let DealerHello {
            role: assigned,
            seed,
        } = codec::decode_exact(&hello).map_err(MpcError::BadHello)?;
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

    fn next_op(&mut self) -> u64 {
        self.op += 1;
        self.op
    }

    /// Second: receive and check the dealer's header for this operation.
    fn expect_header(&mut self, expected: OpHeader) -> Result<(), MpcError> {
        let frame = self.dealer.recv(HEADER_LEN)?;
        let got: OpHeader = codec::decode_exact(&frame).map_err(MpcError::BadHeader)?;
        if got != expected {
            return Err(MpcError::OutOfSync {
                expected: expected.words(),
                got: got.words(),
            });
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
            let state = pending
                .pop_front()
                .ok_or(MpcError::Internal("a block received before it was sent"))?;
            consume(i, state, &frame)?;
            spare.push(frame);
        }
        Ok(())
    }
}

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

/// The little-endian words of a frame (a trailing partial word is ignored: callers check that
/// frames hold whole words).
fn le_u64s(frame: &[u8]) -> impl Iterator<Item = u64> + '_ {
    frame
        .as_chunks::<8>()
        .0
        .iter()
        .map(|c| u64::from_le_bytes(*c))
}
