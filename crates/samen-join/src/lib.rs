//! # samen-join: two-party private join (Private-ID style) on ristretto255
//!
//! Two data parties each hold a table keyed by a normalised identifier. [`private_join`] places
//! both parties' rows in one common order over the **union** of the two identifier sets (a full
//! outer join of positions): afterwards each party knows, for each of its own rows, the
//! position (in `0..union_size`) that row occupies, and nothing about which positions hold the
//! other party's rows. A matched identifier occupies the same position for both parties.
//!
//! **Leakage.** Each party learns `|A|`, `|B|` and the union size `N` (hence the intersection
//! size `|A| + |B| − N`) and nothing else: not which of its own rows matched, not the other
//! party's identifiers. **Assumptions:** semi-honest (honest-but-curious) parties, the
//! decisional Diffie–Hellman assumption on ristretto255, [`hash_to_group`] modelled as a random
//! oracle, channels that are authenticated and confidential (TLS in `samen-net`).
//!
//! This is the output of the "Private-ID" protocol of Buddhavarapu, Knox, Mohassel, Sengupta,
//! Taubeneck and Vlaskin, *Private Matching for Compute*, IACR ePrint 2020/599, with the
//! message flow described in `docs/protocols/private-join.md` (summarised on [`private_join`]).
//!
//! A second method with the same output, [`helper_join`], lets the helper match pseudorandom
//! tags instead: one HMAC per row instead of five scalar multiplications, at the price of more
//! leakage if the helper colludes with a data party (see [`helper`]). [`JoinMethod`] selects
//! between the two.
//!
//! ```
//! use samen_core::channel::local_pair;
//! use samen_join::{private_join, JoinRole};
//!
//! let (mut ca, mut cb) = local_pair("bureau", "portal");
//! let a: Vec<&[u8]> = vec![b"111222333", b"123456782", b"999999990"];
//! let b: Vec<&[u8]> = vec![b"123456782", b"555555553"];
//! let t = std::thread::spawn(move || private_join(JoinRole::Second, &b, &mut cb).unwrap());
//! let out_a = private_join(JoinRole::First, &a, &mut ca).unwrap();
//! let out_b = t.join().unwrap();
//! assert_eq!((out_a.union_size, out_b.union_size), (4, 4));
//! assert_eq!(out_a.intersection_size(), 1);
//! // "123456782" is row 1 of A and row 0 of B: same position.
//! assert_eq!(out_a.positions[1], out_b.positions[0]);
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::collections::HashMap;
use std::ops::Range;
use std::time::Instant;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use rayon::prelude::*;
use samen_core::channel::{Channel, ChannelError};
#[doc(no_inline)]
pub use samen_pseudonym::joint::hash_to_group;
use samen_pseudonym::joint::{
    blind_encoded_batch, blind_encoded_batch_multi, hash_blind_compress_batch, Encoded, JointError,
    SecretScalar,
};
use thiserror::Error;
use zeroize::Zeroize;

pub mod helper;
mod method;

pub use helper::{helper_join, helper_join_with_progress, serve_helper_join, JoinSizes};
pub use method::JoinMethod;

/// Largest table size (rows per party) the join accepts, from this party or announced by the
/// peer; checked before anything is allocated.
pub const MAX_PARTY_SIZE: u64 = 100_000_000;

/// Points per frame: every point stream is sent as frames of this many 32-byte points (1 MiB),
/// and each received frame is processed (in parallel) as soon as it arrives.
pub const CHUNK_POINTS: usize = 1 << 15;

/// Version of the message flow, sent in the opening message.
pub const PROTOCOL_VERSION: u8 = 1;

/// Length of the opening message: version, role, table size (u64 little endian).
const HELLO_LEN: usize = 10;

/// Which of the two data parties this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JoinRole {
    /// The data party whose name sorts first.
    First,
    /// The other data party.
    Second,
}

impl JoinRole {
    fn tag(self) -> u8 {
        match self {
            JoinRole::First => 1,
            JoinRole::Second => 2,
        }
    }
}

/// The result of a private join for one party.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JoinOutput {
    /// Number of rows of this party (`ids.len()`).
    pub own_size: usize,
    /// Number of rows of the peer.
    pub peer_size: usize,
    /// Size of the union of the two identifier sets (the length of the common order).
    pub union_size: usize,
    /// `positions[i]` = position (in `0..union_size`) of own input row `i` in the common union
    /// order. Distinct for distinct rows.
    pub positions: Vec<usize>,
}

impl JoinOutput {
    /// Size of the intersection, `own_size + peer_size − union_size`.
    pub fn intersection_size(&self) -> usize {
        (self.own_size + self.peer_size).saturating_sub(self.union_size)
    }

    /// Presence flags over the union order: `1` at the positions of own rows, `0` elsewhere.
    pub fn presence(&self) -> Vec<u64> {
        let mut p = vec![0u64; self.union_size];
        for &pos in &self.positions {
            if let Some(slot) = p.get_mut(pos) {
                *slot = 1;
            }
        }
        p
    }
}

/// Progress of a running join: `done` units of work so far and `total` expected; `total`
/// never grows. For [`private_join`] the unit is a variable-base scalar multiplication (its
/// dominant cost) and `total` is an upper bound until the unmatched elements are known (after
/// the sets are compared), then exact. For [`helper_join`] the unit is a tag computed or a
/// position received, and `total` is `2 · |own|` from the start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JoinProgress {
    /// Scalar multiplications done.
    pub done: u64,
    /// Scalar multiplications expected in all.
    pub total: u64,
}

/// Tracks [`JoinProgress`] and reports it to a callback after every frame.
struct Meter<'a> {
    done: u64,
    total: u64,
    report: &'a dyn Fn(JoinProgress),
}

impl Meter<'_> {
    fn add(&mut self, mults: usize) {
        self.done = self.done.saturating_add(mults as u64);
        self.total = self.total.max(self.done);
        (self.report)(JoinProgress {
            done: self.done,
            total: self.total,
        });
    }

    fn set_total(&mut self, total: u64) {
        self.total = total.max(self.done);
        (self.report)(JoinProgress {
            done: self.done,
            total: self.total,
        });
    }
}

/// One party's session keys: the blinding key (`a` for First, `b` for Second) and the labelling
/// key (`α` for First, `β` for Second). Zeroized on drop (they are [`SecretScalar`]s).
#[derive(Clone, Debug)]
pub struct JoinKeys {
    /// Blinding key: brings identifiers into the space `H^(a·b)` where both sets are compared.
    pub blind: SecretScalar,
    /// Labelling key: brings points into the final space `H^(a·α·b·β)` that orders the union.
    pub label: SecretScalar,
}

impl JoinKeys {
    /// Fresh keys from the OS random number generator.
    pub fn random() -> Result<JoinKeys, JoinError> {
        Ok(JoinKeys {
            blind: SecretScalar::random().map_err(rng_error)?,
            label: SecretScalar::random().map_err(rng_error)?,
        })
    }
}

/// An error of the private join. Local input problems are kept apart from peer misbehaviour;
/// no message contains an identifier.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum JoinError {
    /// Sending to or receiving from the peer failed (including frames of the wrong size).
    #[error(transparent)]
    Channel(#[from] ChannelError),
    /// This party's input holds the same identifier twice (after normalisation).
    #[error("identifier of row {row} repeats the identifier of row {earlier_row}; remove duplicates before joining")]
    DuplicateId {
        /// Row (0-based) of the repetition.
        row: usize,
        /// Earlier row (0-based) with the same identifier.
        earlier_row: usize,
    },
    /// This party's input is larger than [`MAX_PARTY_SIZE`].
    #[error("{size} identifiers exceed the maximum of {max} per party")]
    TooManyIds {
        /// Number of identifiers given.
        size: usize,
        /// The maximum.
        max: u64,
    },
    /// The peer announced a table larger than [`MAX_PARTY_SIZE`].
    #[error("party '{peer}' announced {size} identifiers, more than the maximum of {max}")]
    PeerTooLarge {
        /// The peer's name.
        peer: String,
        /// Announced size.
        size: u64,
        /// The maximum.
        max: u64,
    },
    /// The peer's opening message does not fit: other protocol version, same role as this
    /// party, or malformed.
    #[error("party '{peer}' cannot join with this party: {detail}")]
    Handshake {
        /// The peer's name.
        peer: String,
        /// What did not fit.
        detail: String,
    },
    /// The peer sent a 32-byte string that is not a valid ristretto255 point encoding.
    #[error("party '{peer}' sent an invalid curve point (item {index} of step '{step}')")]
    InvalidPoint {
        /// The peer's name.
        peer: String,
        /// Protocol step of the message.
        step: &'static str,
        /// Index of the point within the step's stream.
        index: usize,
    },
    /// The peer's messages are inconsistent with the protocol (an unsorted or repeated set, a
    /// union that does not add up).
    #[error("party '{peer}' violated the join protocol in step '{step}': {detail}")]
    Inconsistent {
        /// The peer's name.
        peer: String,
        /// Protocol step.
        step: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// A message of the helper-assisted join does not have the layout of its kind (wrong
    /// version, kind or length, trailing bytes).
    #[error("party '{peer}' sent a malformed message in step '{step}': {source}")]
    Malformed {
        /// The sender's name.
        peer: String,
        /// Protocol step.
        step: &'static str,
        /// What was wrong.
        #[source]
        source: helper::wire::WireError,
    },
    /// A data party sent the helper the same tag twice (its identifiers were not distinct, or
    /// it deviates from the protocol).
    #[error("party '{peer}' sent the helper the same tag twice (tag {index} of its stream)")]
    RepeatedTag {
        /// The sender's name.
        peer: String,
        /// Index of the repetition in the sender's tag stream.
        index: u64,
    },
    /// The helper reported a size for this party other than the one this party announced.
    #[error("party '{peer}' reported {echoed} rows for this party, which announced {announced}")]
    SizeNotEchoed {
        /// The helper's name.
        peer: String,
        /// The size this party announced.
        announced: u64,
        /// The size the helper reported.
        echoed: u64,
    },
    /// The helper reported a union size outside `max(|A|, |B|) ..= |A| + |B|`.
    #[error("party '{peer}' reported a union of {} rows for tables of {} and {} rows (it must lie between the larger size and the sum)", sizes.union, sizes.first, sizes.second)]
    UnionOutOfRange {
        /// The helper's name.
        peer: String,
        /// The sizes it reported.
        sizes: JoinSizes,
    },
    /// The helper sent a position outside the union `0..N`.
    #[error("party '{peer}' sent position {position} for tag {index}, outside the union of {union} rows")]
    PositionOutOfRange {
        /// The helper's name.
        peer: String,
        /// Index of the position in the stream (the order this party sent its tags).
        index: u64,
        /// The position received.
        position: u32,
        /// The union size it reported.
        union: u64,
    },
    /// The helper gave two of this party's (distinct) rows the same position.
    #[error("party '{peer}' sent position {position} twice (again for tag {index})")]
    RepeatedPosition {
        /// The helper's name.
        peer: String,
        /// Index of the repetition in the stream.
        index: u64,
        /// The repeated position.
        position: u32,
    },
    /// The operating system's random number generator failed.
    #[error("the operating system random number generator failed: {detail}")]
    Randomness {
        /// The OS error.
        detail: String,
    },
}

fn rng_error(e: JointError) -> JoinError {
    JoinError::Randomness {
        detail: e.to_string(),
    }
}

/// Step labels (also used in error messages and transcripts).
const STEP_HELLO: &str = "join/hello";
const STEP_BLINDED: &str = "join/1-blinded";
const STEP_LABELLED: &str = "join/2-labelled";
const STEP_SETS: &str = "join/2-sets";
const STEP_ONLY: &str = "join/3-only";

/// Privately join this party's identifiers with the peer's (semi-honest, two parties).
///
/// `ids` are this party's normalised identifiers in row order; they must be distinct
/// ([`JoinError::DuplicateId`] otherwise, detected before anything is sent). Both parties call
/// this at the same time with opposite roles over a connected channel. Keys and shuffles are
/// fresh per call, from the OS random number generator.
///
/// Returns this party's [`JoinOutput`]: the sizes `|A|`, `|B|`, `N = |A ∪ B|` and the position
/// of each own row in a common order of the union that both parties share. This is all a party
/// learns (under DDH on ristretto255, with hash-to-group as a random oracle, semi-honest
/// parties).
///
/// # Message flow
/// First holds `(a, α)`, Second `(b, β)`; `H` = [`hash_to_group`]; all points travel as
/// 32-byte encodings in frames of [`CHUNK_POINTS`].
/// 0. Both send (version, role, own size); sizes above [`MAX_PARTY_SIZE`] are refused.
/// 1. First sends `X = π_A[H(u)^a]`, Second sends `Y = π_B[H(v)^b]` (secret shuffles).
/// 2. Second sends `XL = X^(bβ)` in the order of `X` and `XS = sort(X^b)`; First sends
///    `YL = Y^(aα)` and `YS = sort(Y^a)`. Each party now holds both sets in the space
///    `H^(ab)` without labels, and computes `A_only` and `B_only` by a sorted merge.
/// 3. First sends `sort(A_only^α)`, Second sends `sort(B_only^β)`.
/// 4. First's own final values are `XL^α` (labelled through `π_A`), the others
///    `(B_only^β)^α`; Second's are `YL^β` and `(A_only^α)^β`: both hold the union in the space
///    `H^(a·α·b·β)`. Sorting it by encoding gives the common order.
///
/// # What each party learns, and why
/// Written for First (Second is symmetric). `Y` and every value in the space `H^(ab)` are
/// pseudo-random without `b` (DDH); `XL` is labelled by First's own rows but carries the unknown
/// exponent `bβ`, so it cannot be linked to the comparison set `XS` (that needs `β`); `XS` is
/// sorted, so only the number of matches with `Y^a` is visible — the intersection size; the
/// round-3 values `B_only^β` share `XL`'s space but never contain First's identifiers. Hence
/// First learns `|A|`, `|B|`, `N` and a union order that is uniformly random to it.
/// Enforced by `tests/leakage.rs` (received frames for two inputs with equal sizes: valid,
/// distinct, underivable from own data, uncorrelated with row order, identical frame shapes)
/// and `tests/join.rs` (exact outer join against plaintext; malformed peers are errors).
///
/// Cost per party: `|own|` hashes to the group and `2|own| + 2|peer| + |A_only| + |B_only|`
/// variable-base scalar multiplications; `32·(|own| + 2|peer| + |own_only|)` bytes sent
/// (plus 10). See `docs/protocols/private-join.md` for the security argument and measurements.
///
/// # Errors
/// [`JoinError`]: duplicates or a too large input (local), channel failures, and peer
/// misbehaviour (invalid points, inconsistent sets, a bad opening message). On an error the
/// peer is told to abort (best effort).
pub fn private_join(
    role: JoinRole,
    ids: &[&[u8]],
    peer: &mut dyn Channel,
) -> Result<JoinOutput, JoinError> {
    private_join_with_progress(role, ids, peer, &|_| {})
}

/// [`private_join`], telling `progress` how far it is after every frame (for a progress bar or
/// periodic log lines; the join of 10^6 rows per party takes minutes). The callback runs on
/// the calling thread and should return quickly.
///
/// ```
/// use samen_core::channel::local_pair;
/// use samen_join::{private_join, private_join_with_progress, JoinProgress, JoinRole};
/// use std::sync::Mutex;
///
/// let (mut ca, mut cb) = local_pair("bureau", "portal");
/// let a: Vec<&[u8]> = vec![b"111222333", b"123456782"];
/// let b: Vec<&[u8]> = vec![b"123456782"];
/// let t = std::thread::spawn(move || private_join(JoinRole::Second, &b, &mut cb).unwrap());
/// let seen = Mutex::new(Vec::new());
/// let out = private_join_with_progress(JoinRole::First, &a, &mut ca, &|p: JoinProgress| {
///     seen.lock().unwrap().push(p)
/// })
/// .unwrap();
/// t.join().unwrap();
/// let seen = seen.into_inner().unwrap();
/// // 2·|A| + 2·|B| + |A_only| + |B_only| = 4 + 2 + 1 + 0 multiplications, all reported.
/// assert_eq!(seen.last(), Some(&JoinProgress { done: 7, total: 7 }));
/// assert!(seen.windows(2).all(|w| w[0].done <= w[1].done && w[0].total >= w[1].total));
/// # assert_eq!(out.union_size, 2);
/// ```
pub fn private_join_with_progress(
    role: JoinRole,
    ids: &[&[u8]],
    peer: &mut dyn Channel,
    progress: &dyn Fn(JoinProgress),
) -> Result<JoinOutput, JoinError> {
    let keys = match JoinKeys::random() {
        Ok(k) => k,
        Err(e) => {
            peer.abort("private join: local randomness failure");
            return Err(e);
        }
    };
    let mut seed = [0u8; 32];
    let filled = {
        use rand_core::{OsRng, TryRngCore};
        OsRng.try_fill_bytes(&mut seed)
    };
    if let Err(e) = filled {
        peer.abort("private join: local randomness failure");
        return Err(JoinError::Randomness {
            detail: e.to_string(),
        });
    }
    let session = Session {
        role,
        ids,
        keys: &keys,
        shuffle_seed: &seed,
        progress,
    };
    let out = join_and_abort_on_error(&session, peer);
    seed.zeroize();
    out
}

/// [`private_join`] with caller-chosen session keys and shuffle seed (ChaCha20). For tests
/// (leakage checks need the keys) and reproducible benchmarks only: reusing keys or seeds
/// across sessions breaks the privacy guarantees. Production code calls [`private_join`].
pub fn private_join_with_keys(
    role: JoinRole,
    ids: &[&[u8]],
    peer: &mut dyn Channel,
    keys: &JoinKeys,
    shuffle_seed: &[u8; 32],
) -> Result<JoinOutput, JoinError> {
    let session = Session {
        role,
        ids,
        keys,
        shuffle_seed,
        progress: &|_| {},
    };
    join_and_abort_on_error(&session, peer)
}

/// One party's inputs to one join session.
struct Session<'a> {
    role: JoinRole,
    ids: &'a [&'a [u8]],
    keys: &'a JoinKeys,
    shuffle_seed: &'a [u8; 32],
    progress: &'a dyn Fn(JoinProgress),
}

fn join_and_abort_on_error(
    session: &Session<'_>,
    peer: &mut dyn Channel,
) -> Result<JoinOutput, JoinError> {
    let result = run(session, peer);
    if let Err(e) = &result {
        let reason = match e {
            JoinError::Channel(
                ChannelError::Closed { .. }
                | ChannelError::PeerAborted { .. }
                | ChannelError::Timeout { .. }
                | ChannelError::Transport { .. },
            ) => None,
            JoinError::DuplicateId { .. } | JoinError::TooManyIds { .. } => {
                Some("private join: this party's input was rejected")
            }
            JoinError::Randomness { .. } => Some("private join: local randomness failure"),
            _ => Some("private join: protocol violation detected"),
        };
        if let Some(r) = reason {
            peer.abort(r);
        }
    }
    result
}

fn check_distinct(ids: &[&[u8]]) -> Result<(), JoinError> {
    let mut seen: HashMap<&[u8], usize> = HashMap::with_capacity(ids.len());
    for (row, id) in ids.iter().enumerate() {
        if let Some(earlier_row) = seen.insert(id, row) {
            return Err(JoinError::DuplicateId { row, earlier_row });
        }
    }
    Ok(())
}

fn chunk_range(j: usize, n: usize) -> Range<usize> {
    let start = j * CHUNK_POINTS;
    start..(start + CHUNK_POINTS).min(n)
}

fn to_encoded(bytes: &[u8]) -> Vec<Encoded> {
    bytes
        .chunks_exact(32)
        .map(|c| {
            let mut e = [0u8; 32];
            e.copy_from_slice(c);
            e
        })
        .collect()
}

/// Exchange two point streams chunk by chunk: send own chunk `j` (from `produce`), then receive
/// the peer's chunk `j` (exactly the expected size, one frame) and hand it to `consume`.
fn exchange(
    peer: &mut dyn Channel,
    step: &'static str,
    n_send: usize,
    n_recv: usize,
    mut produce: impl FnMut(Range<usize>) -> Result<Vec<Encoded>, JoinError>,
    mut consume: impl FnMut(Range<usize>, Vec<Encoded>) -> Result<(), JoinError>,
) -> Result<(), JoinError> {
    peer.set_step(step);
    let chunks_send = n_send.div_ceil(CHUNK_POINTS);
    let chunks_recv = n_recv.div_ceil(CHUNK_POINTS);
    for j in 0..chunks_send.max(chunks_recv) {
        if j < chunks_send {
            let pts = produce(chunk_range(j, n_send))?;
            peer.send_owned(pts.into_flattened())?;
        }
        if j < chunks_recv {
            let r = chunk_range(j, n_recv);
            let want = r.len() * 32;
            let frame = peer.recv(want)?;
            if frame.len() != want {
                return Err(JoinError::Channel(ChannelError::Protocol {
                    peer: peer.peer().to_string(),
                    detail: format!(
                        "step '{step}': expected a frame of {want} bytes, got {} bytes",
                        frame.len()
                    ),
                }));
            }
            consume(r, to_encoded(&frame))?;
        }
    }
    peer.flush()?;
    Ok(())
}

fn run(session: &Session<'_>, peer: &mut dyn Channel) -> Result<JoinOutput, JoinError> {
    let Session {
        role,
        ids,
        keys,
        shuffle_seed,
        progress,
    } = *session;
    let t0 = Instant::now();
    let n_own = ids.len();
    if n_own as u64 > MAX_PARTY_SIZE {
        return Err(JoinError::TooManyIds {
            size: n_own,
            max: MAX_PARTY_SIZE,
        });
    }
    check_distinct(ids)?;

    // Round 0: version, role and sizes.
    peer.set_step(STEP_HELLO);
    let mut hello = [0u8; HELLO_LEN];
    hello[0] = PROTOCOL_VERSION;
    hello[1] = role.tag();
    hello[2..].copy_from_slice(&(n_own as u64).to_le_bytes());
    peer.send(&hello)?;
    peer.flush()?;
    let theirs = peer.recv(HELLO_LEN)?;
    let handshake = |detail: String| JoinError::Handshake {
        peer: peer.peer().to_string(),
        detail,
    };
    if theirs.len() != HELLO_LEN {
        return Err(handshake(format!(
            "opening message of {} bytes instead of {HELLO_LEN}",
            theirs.len()
        )));
    }
    if theirs[0] != PROTOCOL_VERSION {
        return Err(handshake(format!(
            "it speaks join protocol version {}, this party version {PROTOCOL_VERSION}",
            theirs[0]
        )));
    }
    if theirs[1] == role.tag() || !(1..=2).contains(&theirs[1]) {
        return Err(handshake(
            "both parties claim the same role (check the party names and roles)".to_string(),
        ));
    }
    let mut size_bytes = [0u8; 8];
    size_bytes.copy_from_slice(&theirs[2..]);
    let announced = u64::from_le_bytes(size_bytes);
    if announced > MAX_PARTY_SIZE {
        return Err(JoinError::PeerTooLarge {
            peer: peer.peer().to_string(),
            size: announced,
            max: MAX_PARTY_SIZE,
        });
    }
    let n_peer = announced as usize;
    let peer_name = peer.peer().to_string();
    // 2|own| + 2|peer| multiplications in rounds 1–2, at most |own| + |peer| more in round 3.
    let both = (n_own + n_peer) as u64;
    let mut meter = Meter {
        done: 0,
        total: 3 * both,
        report: progress,
    };
    meter.set_total(3 * both);
    let meter = std::cell::RefCell::new(meter);

    let mut pi: Vec<usize> = (0..n_own).collect();
    pi.shuffle(&mut ChaCha20Rng::from_seed(*shuffle_seed));
    let blind_label = keys.blind.mul(&keys.label);

    // Round 1: send own blinded, shuffled identifiers; blind the peer's with `blind` (to the
    // comparison space H^(ab)) and with `blind·label` (labelled values for the peer).
    let mut peer_d: Vec<Encoded> = Vec::with_capacity(n_peer.min(CHUNK_POINTS));
    let mut peer_l: Vec<Encoded> = Vec::with_capacity(n_peer.min(CHUNK_POINTS));
    exchange(
        peer,
        STEP_BLINDED,
        n_own,
        n_peer,
        |r| {
            let chunk: Vec<&[u8]> = pi[r].iter().map(|&i| ids[i]).collect();
            let out = hash_blind_compress_batch(&chunk, &keys.blind);
            meter.borrow_mut().add(out.len());
            Ok(out)
        },
        |r, enc| {
            let mut outs = blind_encoded_batch_multi(&enc, &[&keys.blind, &blind_label])
                .map_err(|e| point_error(&peer_name, STEP_BLINDED, r.start, e))?;
            let l = outs.pop().unwrap_or_default();
            let d = outs.pop().unwrap_or_default();
            peer_d.extend_from_slice(&d);
            peer_l.extend_from_slice(&l);
            meter.borrow_mut().add(2 * enc.len());
            Ok(())
        },
    )?;
    let t1 = t0.elapsed();

    // Round 2a: return the peer's labelled values (in its own shuffled order); receive ours,
    // raise them to `label` and undo our shuffle.
    let mut own_f: Vec<Encoded> = vec![[0u8; 32]; n_own];
    exchange(
        peer,
        STEP_LABELLED,
        n_peer,
        n_own,
        |r| Ok(peer_l[r].to_vec()),
        |r, enc| {
            let f = blind_encoded_batch(&enc, &keys.label)
                .map_err(|e| point_error(&peer_name, STEP_LABELLED, r.start, e))?;
            meter.borrow_mut().add(f.len());
            for (k, v) in r.zip(f) {
                if let Some(slot) = pi.get(k).and_then(|&row| own_f.get_mut(row)) {
                    *slot = v;
                }
            }
            Ok(())
        },
    )?;
    drop(peer_l);
    drop(pi);

    // Round 2b: exchange the unlabelled sets in H^(ab), sorted (an order that depends only on
    // the set, like a fresh shuffle).
    peer_d.par_sort_unstable();
    let mut own_s: Vec<Encoded> = Vec::with_capacity(n_own.min(CHUNK_POINTS));
    let mut last: Option<Encoded> = None;
    exchange(
        peer,
        STEP_SETS,
        n_peer,
        n_own,
        |r| Ok(peer_d[r].to_vec()),
        |_, enc| {
            check_increasing_named(&peer_name, STEP_SETS, &mut last, &enc)?;
            own_s.extend_from_slice(&enc);
            Ok(())
        },
    )?;

    // Local: own_only = own_s \ peer_d, peer_only = peer_d \ own_s (sorted merge).
    let (own_only, peer_only) = sorted_differences(&own_s, &peer_d);
    drop(own_s);
    drop(peer_d);
    let mut meter = meter.into_inner();
    meter.set_total(2 * both + (own_only.len() + peer_only.len()) as u64);
    let t2 = t0.elapsed();

    // Round 3: send own-only points raised to `label` (sorted); receive the peer's and raise
    // them to `label`: final values of the rows only the peer has.
    let mut own_only_l = blind_encoded_batch(&own_only, &keys.label)
        .map_err(|e| point_error(&peer_name, STEP_SETS, 0, e))?;
    meter.add(own_only_l.len());
    own_only_l.par_sort_unstable();
    let mut peer_f: Vec<Encoded> = Vec::with_capacity(peer_only.len());
    let mut last: Option<Encoded> = None;
    exchange(
        peer,
        STEP_ONLY,
        own_only.len(),
        peer_only.len(),
        |r| Ok(own_only_l[r].to_vec()),
        |r, enc| {
            check_increasing_named(&peer_name, STEP_ONLY, &mut last, &enc)?;
            let f = blind_encoded_batch(&enc, &keys.label)
                .map_err(|e| point_error(&peer_name, STEP_ONLY, r.start, e))?;
            meter.add(f.len());
            peer_f.extend_from_slice(&f);
            Ok(())
        },
    )?;
    drop(own_only_l);

    // Finish: sort the union by encoding; a row's position is its rank.
    let union_size = n_own + peer_f.len();
    if union_size != n_peer + own_only.len() {
        return Err(JoinError::Inconsistent {
            peer: peer_name,
            step: STEP_ONLY,
            detail: "the union sizes seen from the two sides differ".to_string(),
        });
    }
    let mut all: Vec<(Encoded, usize)> = Vec::with_capacity(union_size);
    all.extend(own_f.into_iter().enumerate().map(|(row, f)| (f, row)));
    all.extend(peer_f.into_iter().map(|f| (f, usize::MAX)));
    all.par_sort_unstable_by(|x, y| x.0.cmp(&y.0));
    if all.windows(2).any(|w| w[0].0 == w[1].0) {
        return Err(JoinError::Inconsistent {
            peer: peer_name,
            step: STEP_ONLY,
            detail: "two rows of the union received the same final value".to_string(),
        });
    }
    let mut positions = vec![0usize; n_own];
    for (pos, (_, row)) in all.iter().enumerate() {
        if let Some(slot) = positions.get_mut(*row) {
            *slot = pos;
        }
    }
    tracing::debug!(
        own = n_own,
        peer = n_peer,
        union = union_size,
        round1_s = t1.as_secs_f64(),
        round2_s = t2.as_secs_f64(),
        total_s = t0.elapsed().as_secs_f64(),
        "private join finished"
    );
    Ok(JoinOutput {
        own_size: n_own,
        peer_size: n_peer,
        union_size,
        positions,
    })
}

fn check_increasing_named(
    peer: &str,
    step: &'static str,
    last: &mut Option<Encoded>,
    chunk: &[Encoded],
) -> Result<(), JoinError> {
    for e in chunk {
        if let Some(prev) = last {
            if *e <= *prev {
                return Err(JoinError::Inconsistent {
                    peer: peer.to_string(),
                    step,
                    detail:
                        "a set was not sent in strictly increasing order (unsorted or repeated points)"
                            .to_string(),
                });
            }
        }
        *last = Some(*e);
    }
    Ok(())
}

/// Name the peer and the stream position of an invalid point (`base` = index of the batch's
/// first point in the step's stream; for the unmatched points of step 2, the index among them).
fn point_error(peer: &str, step: &'static str, base: usize, e: JointError) -> JoinError {
    match e {
        JointError::InvalidEncoding { index } => JoinError::InvalidPoint {
            peer: peer.to_string(),
            step,
            index: base + index,
        },
        other => rng_error(other),
    }
}

/// `(a \ b, b \ a)` of two strictly increasing sequences.
fn sorted_differences(a: &[Encoded], b: &[Encoded]) -> (Vec<Encoded>, Vec<Encoded>) {
    let (mut i, mut j) = (0, 0);
    let (mut only_a, mut only_b) = (Vec::new(), Vec::new());
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => {
                only_a.push(a[i]);
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                only_b.push(b[j]);
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                i += 1;
                j += 1;
            }
        }
    }
    only_a.extend_from_slice(&a[i..]);
    only_b.extend_from_slice(&b[j..]);
    (only_a, only_b)
}
