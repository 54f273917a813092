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
//! use samen_core::Role;
//! use samen_join::private_join;
//!
//! let (mut ca, mut cb) = local_pair("bureau", "portal");
//! let a: Vec<&[u8]> = vec![b"111222333", b"123456782", b"999999990"];
//! let b: Vec<&[u8]> = vec![b"123456782", b"555555553"];
//! let t = std::thread::spawn(move || private_join(Role::Second, &b, &mut cb).unwrap());
//! let out_a = private_join(Role::First, &a, &mut ca).unwrap();
//! let out_b = t.join().unwrap();
//! assert_eq!((out_a.union_size, out_b.union_size), (4, 4));
//! assert_eq!(out_a.intersection_size(), 1);
//! // "123456782" is row 1 of A and row 0 of B: same position.
//! assert_eq!(out_a.positions[1], out_b.positions[0]);
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use samen_core::channel::{Abort, Channel};
use samen_core::codec::{CodecError, Reader};
use samen_core::Role;
#[doc(no_inline)]
pub use samen_pseudonym::joint::hash_to_group;
use samen_pseudonym::joint::SecretScalar;
use zeroize::Zeroize;

mod error;
pub mod helper;
mod method;
mod progress;
mod protocol;
mod wire;

pub use error::JoinError;
pub use helper::{helper_join, helper_join_with_progress, serve_helper_join, JoinSizes};
pub use method::JoinMethod;
pub use progress::JoinProgress;

use error::rng_error;
use protocol::{join_and_abort_on_error, Session};

/// Largest table size (rows per party) the join accepts, from this party or announced by the
/// peer; checked before anything is allocated.
pub const MAX_PARTY_SIZE: u64 = 100_000_000;

/// Points per frame: every point stream is sent as frames of this many 32-byte points (1 MiB),
/// and each received frame is processed (in parallel) as soon as it arrives.
pub const CHUNK_POINTS: usize = 1 << 15;

/// Version of the message flow, sent in the opening message.
pub const PROTOCOL_VERSION: u8 = 1;

/// The role byte of both joins' opening messages: 1 for First, 2 for Second. The helper has
/// no data party's role: its 0 is refused by every decoder, and the joins refuse
/// [`Role::Helper`] before they send anything.
pub(crate) fn role_tag(role: Role) -> u8 {
    match role {
        Role::First => 1,
        Role::Second => 2,
        Role::Helper => 0,
    }
}

/// Read a role byte: 1 First, 2 Second; anything else is an invalid value.
pub(crate) fn read_role(r: &mut Reader<'_>) -> Result<Role, CodecError> {
    match r.u8()? {
        1 => Ok(Role::First),
        2 => Ok(Role::Second),
        other => Err(r.bad_value("role", u64::from(other))),
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
/// [`JoinError`]: [`Role::Helper`] (which has no data party's half), duplicates or a too large
/// input (local), channel failures, and peer misbehaviour (invalid points, inconsistent sets, a
/// bad opening message). On an error the peer is told to abort (best effort).
pub fn private_join(
    role: Role,
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
/// use samen_core::Role;
/// use samen_join::{private_join, private_join_with_progress, JoinProgress};
/// use std::sync::Mutex;
///
/// let (mut ca, mut cb) = local_pair("bureau", "portal");
/// let a: Vec<&[u8]> = vec![b"111222333", b"123456782"];
/// let b: Vec<&[u8]> = vec![b"123456782"];
/// let t = std::thread::spawn(move || private_join(Role::Second, &b, &mut cb).unwrap());
/// let seen = Mutex::new(Vec::new());
/// let out = private_join_with_progress(Role::First, &a, &mut ca, &|p: JoinProgress| {
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
    role: Role,
    ids: &[&[u8]],
    peer: &mut dyn Channel,
    progress: &dyn Fn(JoinProgress),
) -> Result<JoinOutput, JoinError> {
    let keys = match JoinKeys::random() {
        Ok(k) => k,
        Err(e) => {
            peer.abort(&Abort::own("private join: local randomness failure"));
            return Err(e);
        }
    };
    let mut seed = [0u8; 32];
    let filled = {
        use rand_core::{OsRng, TryRngCore};
        OsRng.try_fill_bytes(&mut seed)
    };
    if let Err(e) = filled {
        peer.abort(&Abort::own("private join: local randomness failure"));
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
    role: Role,
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
