//! # Helper-assisted private join (server-aided PSI)
//!
//! The same output as [`crate::private_join`] — each data party learns `|A|`, `|B|`, `N` and
//! the position of each of its own rows in a uniformly random order of the union — computed
//! with the help of a third party, after Kamara, Mohassel, Raykova and Sadeghian, *Scaling
//! Private Set Intersection to Billion-Element Sets*, FC 2014. It needs only symmetric
//! cryptography (one HMAC-SHA256 per row), so it is orders of magnitude faster than the
//! Diffie–Hellman flow.
//!
//! 1. First draws a fresh 32-byte key `k` from the OS RNG and sends it to Second; the helper
//!    never sees `k`.
//! 2. Each data party sends the helper its size and, in a secret random order, the tags
//!    `HMAC-SHA256(k, len(D) ‖ D ‖ id)[..16]` of its identifiers (`D` = [`HELPER_TAG_DST`]).
//! 3. The helper matches the two tag lists, draws a uniformly random order of the `N` union
//!    elements and returns to each party `(|A|, |B|, N)` and the position of each of its tags.
//! 4. Each party undoes its shuffle.
//!
//! **Trust model.** Semi-honest parties; the helper colludes with neither data party; channels
//! authenticated and confidential. Each data party then learns `|A|`, `|B|`, `N` and a random
//! order; the helper learns `|A|`, `|B|`, `N` and nothing else (the tags are pseudorandom under
//! a key it lacks, fresh per run, so unlinkable across runs).
//!
//! **More leakage than the two-party join under collusion.** If the helper and a data party
//! collude, they learn which of that party's rows matched and — since they hold `k` and the
//! other party's tags — the other party's *unmatched* identifiers, by tagging every possible
//! identifier (about 10^8 BSNs, minutes of work). The two-party join ([`crate::private_join`],
//! `JoinMethod::TwoParty`) does not give any coalition that; use it for studies that must not
//! allow this. Byte layouts: [`wire`]; protocol description: `docs/protocols/helper-join.md`.
//!
//! ```
//! use samen_core::channel::local_pair;
//! use samen_core::Role;
//! use samen_join::{helper_join, serve_helper_join};
//!
//! let (mut a_b, mut b_a) = local_pair("bureau", "portal");
//! let (mut a_h, mut h_a) = local_pair("bureau", "helper");
//! let (mut b_h, mut h_b) = local_pair("portal", "helper");
//! let helper = std::thread::spawn(move || serve_helper_join(&mut h_a, &mut h_b).unwrap());
//! let second = std::thread::spawn(move || {
//!     let b: Vec<&[u8]> = vec![b"123456782", b"555555553"];
//!     helper_join(Role::Second, &b, &mut b_a, &mut b_h).unwrap()
//! });
//! let a: Vec<&[u8]> = vec![b"111222333", b"123456782", b"999999990"];
//! let out_a = helper_join(Role::First, &a, &mut a_b, &mut a_h).unwrap();
//! let out_b = second.join().unwrap();
//! let sizes = helper.join().unwrap();
//! assert_eq!((sizes.first, sizes.second, sizes.union), (3, 2, 4));
//! assert_eq!((out_a.union_size, out_b.intersection_size()), (4, 1));
//! // "123456782" is row 1 of A and row 0 of B: same position.
//! assert_eq!(out_a.positions[1], out_b.positions[0]);
//! ```

mod serve;
pub mod wire;

use hmac::digest::{Key, KeyInit};
use hmac::{Hmac, Mac};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use rayon::prelude::*;
use samen_core::channel::{Abort, Channel};
use samen_core::codec::{self, CodecError};
use samen_core::Role;
use sha2::Sha256;
use zeroize::{Zeroize, Zeroizing};

use self::wire::{is_kind, MessageKind, Tag, ITEMS_PER_FRAME, TAG_LEN};
use crate::protocol::check_distinct;
use crate::{JoinError, JoinOutput, JoinProgress, MAX_PARTY_SIZE};
use serve::serve;

/// Domain-separation tag of the identifier tags, versioned: the HMAC message is
/// `len(D) ‖ D ‖ id` (one length byte).
pub const HELPER_TAG_DST: &[u8] = b"samen-helper-join-tag-v1";

/// The sizes of one helper-assisted join, as the helper saw them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JoinSizes {
    /// Number of rows of First (`|A|`).
    pub first: u64,
    /// Number of rows of Second (`|B|`).
    pub second: u64,
    /// Size of the union (`N = |A ∪ B|`).
    pub union: u64,
}

/// Step labels (transcripts and error messages).
const STEP_KEY: &str = "join/helper-key";
const STEP_HELLO: &str = "join/helper-hello";
const STEP_TAGS: &str = "join/helper-tags";
const STEP_SIZES: &str = "join/helper-sizes";
const STEP_POSITIONS: &str = "join/helper-positions";

type HmacSha256 = Hmac<Sha256>;

/// Privately join this party's identifiers with the peer's, with the help of a third party
/// (semi-honest; the helper colludes with neither data party — see the [module
/// documentation](self) for what a colluding helper learns).
///
/// `ids` are this party's normalised identifiers in row order; they must be distinct
/// ([`JoinError::DuplicateId`] otherwise, detected before anything is sent). Both data parties
/// call this at the same time with opposite roles, `peer` connecting them and `helper`
/// connecting each to the helper, which runs [`serve_helper_join`].
///
/// # Errors
/// [`JoinError`]: [`Role::Helper`] (which has no data party's half), duplicates or a too
/// large input (local), channel failures, and malformed or inconsistent messages from the peer or the helper (naming that party). On an error both the
/// peer and the helper are told to abort (best effort).
pub fn helper_join(
    role: Role,
    ids: &[&[u8]],
    peer: &mut dyn Channel,
    helper: &mut dyn Channel,
) -> Result<JoinOutput, JoinError> {
    helper_join_with_progress(role, ids, peer, helper, &|_| {})
}

/// [`helper_join`], telling `progress` after every frame how many tags were computed and
/// positions received (`total` = `2 · ids.len()`). The callback runs on the calling thread.
pub fn helper_join_with_progress(
    role: Role,
    ids: &[&[u8]],
    peer: &mut dyn Channel,
    helper: &mut dyn Channel,
    progress: &dyn Fn(JoinProgress),
) -> Result<JoinOutput, JoinError> {
    let result = data_party(role, ids, peer, helper, progress);
    if let Err(e) = &result {
        let reason = abort_reason(e);
        peer.abort(&reason);
        helper.abort(&reason);
    }
    result
}

/// The helper's half: serve one helper-assisted join between First and Second.
///
/// Receives both parties' hellos (roles checked against the channels, sizes bounded by
/// [`MAX_PARTY_SIZE`] before anything is allocated) and tag streams, matches the tags, draws a
/// uniformly random order of the union from the OS RNG and returns to each party the sizes and
/// the positions of its tags. Returns the sizes, the only thing the helper learns.
///
/// # Errors
/// [`JoinError`] naming the party that sent a malformed hello or tag frame, the same tag twice,
/// or a size above the maximum; channel failures. On an error both parties are told to abort.
pub fn serve_helper_join(
    first: &mut dyn Channel,
    second: &mut dyn Channel,
) -> Result<JoinSizes, JoinError> {
    let result = serve(first, second);
    if let Err(e) = &result {
        let reason = abort_reason(e);
        first.abort(&reason);
        second.abort(&reason);
    }
    result
}

/// What to tell the others when the join fails here: when another party stopped (its abort,
/// its lost connection, its silence, or a stop relayed to this party), that party and its
/// reason; for another channel failure, the channel error (it names the peer, never data);
/// otherwise a fixed description without details.
fn abort_reason(e: &JoinError) -> Abort {
    match e {
        JoinError::DuplicateId { .. } | JoinError::TooManyIds { .. } => {
            Abort::own("helper join: a data party's input was rejected")
        }
        JoinError::Randomness { .. } => Abort::own("helper join: local randomness failure"),
        JoinError::Internal(_) => Abort::own("helper join: internal error"),
        JoinError::NotADataRole(_) => {
            Abort::own("helper join: a data party was started as the helper")
        }
        JoinError::Channel(c) => match c.stopped_party() {
            // Another party stopped: relay who and why.
            Some(stop) => Abort::from(&stop),
            None => Abort::own(&c.to_string()),
        },
        _ => Abort::own("helper join: protocol violation detected"),
    }
}

fn malformed(ch: &dyn Channel, step: &'static str) -> impl FnOnce(CodecError) -> JoinError {
    let peer = ch.peer().to_string();
    move |source| JoinError::Malformed { peer, step, source }
}

fn os_random(buf: &mut [u8]) -> Result<(), JoinError> {
    use rand_core::{OsRng, TryRngCore};
    OsRng
        .try_fill_bytes(buf)
        .map_err(|e| JoinError::Randomness {
            detail: e.to_string(),
        })
}

/// A ChaCha20 generator seeded from the OS RNG (the seed is zeroized).
fn fresh_rng() -> Result<ChaCha20Rng, JoinError> {
    let mut seed = Zeroizing::new([0u8; 32]);
    os_random(seed.as_mut_slice())?;
    Ok(ChaCha20Rng::from_seed(*seed))
}

/// The tag function under one run's key: a keyed HMAC state with the domain tag absorbed,
/// cloned per identifier. The state is equivalent to the key (hmac 0.12 does not zeroize it);
/// it lives only for the tagging step.
struct Tagger {
    prefixed: HmacSha256,
}

impl Tagger {
    fn new(key: &[u8; 32]) -> Tagger {
        // HMAC pads keys shorter than the block with zeros: keying with k ‖ 0^32 is HMAC with k.
        let mut block: Key<HmacSha256> = Key::<HmacSha256>::default();
        for (dst, src) in block.iter_mut().zip(key) {
            *dst = *src;
        }
        let mut mac = <HmacSha256 as KeyInit>::new(&block);
        block.as_mut_slice().zeroize();
        mac.update(&[HELPER_TAG_DST.len() as u8]);
        mac.update(HELPER_TAG_DST);
        Tagger { prefixed: mac }
    }

    fn tag(&self, id: &[u8]) -> Tag {
        let mut m = self.prefixed.clone();
        m.update(id);
        let full = m.finalize().into_bytes();
        let mut t = [0u8; TAG_LEN];
        for (dst, src) in t.iter_mut().zip(full.iter()) {
            *dst = *src;
        }
        t
    }
}

/// First draws the key and sends it; Second answers with its role and receives the key. Both
/// send before they receive, so a role clash is an error on both sides, not a deadlock.
fn exchange_key(role: Role, peer: &mut dyn Channel) -> Result<Zeroizing<[u8; 32]>, JoinError> {
    peer.set_step(STEP_KEY);
    let clash = |peer: &dyn Channel, kind: MessageKind| JoinError::Handshake {
        peer: peer.peer().to_string(),
        detail: format!(
            "both parties claim the role {} (check the party names and roles)",
            if kind == MessageKind::Key {
                "First"
            } else {
                "Second"
            }
        ),
    };
    match role {
        Role::First => {
            let mut key = Zeroizing::new([0u8; 32]);
            os_random(key.as_mut_slice())?;
            let key = wire::Key(key);
            peer.send(&wire::encode_key(&key))?;
            peer.flush()?;
            let frame = Zeroizing::new(peer.recv(wire::KEY_LEN)?);
            match codec::decode_exact::<wire::PeerHello>(&frame) {
                Ok(wire::PeerHello { role: Role::Second }) => Ok(key.0),
                Ok(_) => Err(clash(peer, MessageKind::Key)),
                Err(e) if is_kind(&e, MessageKind::Key) => Err(clash(peer, MessageKind::Key)),
                Err(e) => Err(malformed(peer, STEP_KEY)(e)),
            }
        }
        Role::Helper => Err(JoinError::NotADataRole(role)),
        Role::Second => {
            peer.send(&codec::encode_to_vec(&wire::PeerHello {
                role: Role::Second,
            }))?;
            peer.flush()?;
            let frame = Zeroizing::new(peer.recv(wire::KEY_LEN)?);
            match codec::decode_exact::<wire::Key>(&frame) {
                Ok(key) => Ok(key.0),
                Err(e) if is_kind(&e, MessageKind::PeerHello) => {
                    Err(clash(peer, MessageKind::PeerHello))
                }
                Err(e) => Err(malformed(peer, STEP_KEY)(e)),
            }
        }
    }
}

/// Reports progress in tags computed plus positions received.
struct Meter<'a> {
    done: u64,
    total: u64,
    report: &'a dyn Fn(JoinProgress),
}

impl Meter<'_> {
    fn add(&mut self, n: usize) {
        self.done = self.done.saturating_add(n as u64).min(self.total);
        (self.report)(JoinProgress {
            done: self.done,
            total: self.total,
        });
    }
}

/// One bit per position of the union, to detect a position given twice.
struct Seen(Vec<u64>);

impl Seen {
    fn new(n: usize) -> Seen {
        Seen(vec![0; n.div_ceil(64)])
    }

    /// Mark `i`; `true` if it was marked before (or is out of range).
    fn test_and_set(&mut self, i: usize) -> bool {
        match self.0.get_mut(i / 64) {
            Some(w) => {
                let bit = 1u64 << (i % 64);
                let was = *w & bit != 0;
                *w |= bit;
                was
            }
            None => true,
        }
    }
}

/// Send the hello and the tags of `ids` in the order `order`; consumes (and so drops) the tag
/// function.
fn send_tags(
    role: Role,
    ids: &[&[u8]],
    order: &[usize],
    tagger: Tagger,
    helper: &mut dyn Channel,
    meter: &mut Meter<'_>,
) -> Result<(), JoinError> {
    helper.set_step(STEP_HELLO);
    helper.send(&codec::encode_to_vec(&wire::Hello {
        role,
        size: ids.len() as u64,
    }))?;
    helper.set_step(STEP_TAGS);
    for chunk in order.chunks(ITEMS_PER_FRAME) {
        let tags: Vec<Tag> = chunk
            .par_iter()
            .map(|&row| ids.get(row).map(|id| tagger.tag(id)))
            .collect::<Option<_>>()
            .ok_or(JoinError::Internal(
                "a shuffled row index outside the table",
            ))?;
        helper.send_owned(wire::encode_tags(&tags))?;
        meter.add(chunk.len());
    }
    helper.flush()?;
    Ok(())
}

fn data_party(
    role: Role,
    ids: &[&[u8]],
    peer: &mut dyn Channel,
    helper: &mut dyn Channel,
    progress: &dyn Fn(JoinProgress),
) -> Result<JoinOutput, JoinError> {
    if !role.is_data() {
        return Err(JoinError::NotADataRole(role));
    }
    let n = ids.len();
    if n as u64 > MAX_PARTY_SIZE {
        return Err(JoinError::TooManyIds {
            size: n,
            max: MAX_PARTY_SIZE,
        });
    }
    check_distinct(ids)?;
    let mut meter = Meter {
        done: 0,
        total: 2 * n as u64,
        report: progress,
    };
    meter.add(0);

    // 1. The run's key, shared between the data parties only; the tag function under it lives
    //    only for step 2.
    let tagger = Tagger::new(&*exchange_key(role, peer)?);

    // 2. Tags of the identifiers in a fresh secret order, to the helper.
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut fresh_rng()?);
    send_tags(role, ids, &order, tagger, helper, &mut meter)?;

    // 3. Sizes and positions from the helper.
    helper.set_step(STEP_SIZES);
    let frame = helper.recv(wire::SIZES_LEN)?;
    let sizes: JoinSizes = codec::decode_exact(&frame).map_err(malformed(helper, STEP_SIZES))?;
    let (own, other) = match role {
        Role::First => (sizes.first, sizes.second),
        Role::Second => (sizes.second, sizes.first),
        Role::Helper => return Err(JoinError::NotADataRole(role)),
    };
    let helper_name = helper.peer().to_string();
    if own != n as u64 {
        return Err(JoinError::SizeNotEchoed {
            peer: helper_name,
            announced: n as u64,
            echoed: own,
        });
    }
    if other > MAX_PARTY_SIZE {
        return Err(JoinError::PeerTooLarge {
            peer: helper_name,
            size: other,
            max: MAX_PARTY_SIZE,
        });
    }
    if sizes.union < own.max(other) || sizes.union > own + other {
        return Err(JoinError::UnionOutOfRange {
            peer: helper_name,
            sizes,
        });
    }
    let union = sizes.union as usize;

    // 4. Undo the shuffle.
    helper.set_step(STEP_POSITIONS);
    let mut seen = Seen::new(union);
    let mut positions = vec![0usize; n];
    let mut index = 0u64;
    for chunk in order.chunks(ITEMS_PER_FRAME) {
        let frame = helper.recv(wire::positions_len(chunk.len()))?;
        let received = wire::decode_positions(&frame, chunk.len())
            .map_err(malformed(helper, STEP_POSITIONS))?;
        for (&row, p) in chunk.iter().zip(received) {
            if u64::from(p) >= sizes.union {
                return Err(JoinError::PositionOutOfRange {
                    peer: helper_name,
                    index,
                    position: p,
                    union: sizes.union,
                });
            }
            if seen.test_and_set(p as usize) {
                return Err(JoinError::RepeatedPosition {
                    peer: helper_name,
                    index,
                    position: p,
                });
            }
            if let Some(slot) = positions.get_mut(row) {
                *slot = p as usize;
            }
            index += 1;
        }
        meter.add(chunk.len());
    }
    tracing::debug!(
        own = n,
        peer = other,
        union,
        "helper-assisted join finished"
    );
    Ok(JoinOutput {
        own_size: n,
        peer_size: other as usize,
        union_size: union,
        positions,
    })
}
