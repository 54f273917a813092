//! The two-party join, round by round (see [`crate::private_join`] for the message flow).

use std::cell::RefCell;
use std::time::Instant;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use rayon::prelude::*;
use samen_core::channel::{Abort, Channel, ChannelError};
use samen_pseudonym::distinct::first_repeat;
use samen_pseudonym::joint::{
    blind_encoded_batch, blind_encoded_batch_multi, hash_blind_compress_batch, Encoded,
};

use crate::error::point_error;
use crate::progress::Meter;
use crate::wire::{
    check_increasing_named, exchange, exchange_hello, STEP_BLINDED, STEP_LABELLED, STEP_ONLY,
    STEP_SETS,
};
use samen_core::Role;

use crate::{JoinError, JoinKeys, JoinOutput, JoinProgress, MAX_PARTY_SIZE};

/// One party's inputs to one join session.
pub(crate) struct Session<'a> {
    pub(crate) role: Role,
    pub(crate) ids: &'a [&'a [u8]],
    pub(crate) keys: &'a JoinKeys,
    pub(crate) shuffle_seed: &'a [u8; 32],
    pub(crate) progress: &'a dyn Fn(JoinProgress),
}

/// Run the join; on an error, tell the peer to abort unless the channel itself failed.
pub(crate) fn join_and_abort_on_error(
    session: &Session<'_>,
    peer: &mut dyn Channel,
) -> Result<JoinOutput, JoinError> {
    let result = run(session, peer);
    if let Err(e) = &result {
        let message = match e {
            // Another party stopped (the helper, say): tell the peer who, if it does not know.
            JoinError::Channel(ChannelError::Stopped(stop)) => Some(Abort::from(stop)),
            // The peer itself went away, aborted or failed: nothing to tell it.
            JoinError::Channel(
                ChannelError::Closed { .. }
                | ChannelError::PeerAborted { .. }
                | ChannelError::Timeout { .. }
                | ChannelError::Transport { .. },
            ) => None,
            JoinError::DuplicateId { .. } | JoinError::TooManyIds { .. } => {
                Some(Abort::own("private join: this party's input was rejected"))
            }
            JoinError::NotADataRole(_) => Some(Abort::own(
                "private join: this party was started as the helper",
            )),
            JoinError::Randomness { .. } => {
                Some(Abort::own("private join: local randomness failure"))
            }
            JoinError::Internal(_) => Some(Abort::own("private join: internal error")),
            _ => Some(Abort::own("private join: protocol violation detected")),
        };
        if let Some(m) = message {
            peer.abort(&m);
        }
    }
    result
}

/// Refuse an input that holds the same identifier twice, naming the first row (in order) that
/// repeats an earlier one, and that earlier row.
pub(crate) fn check_distinct(ids: &[&[u8]]) -> Result<(), JoinError> {
    match first_repeat(ids) {
        Some(r) => Err(JoinError::DuplicateId {
            row: r.later,
            earlier_row: r.earlier,
        }),
        None => Ok(()),
    }
}

fn run(session: &Session<'_>, peer: &mut dyn Channel) -> Result<JoinOutput, JoinError> {
    let Session {
        role,
        ids,
        keys,
        shuffle_seed,
        progress,
    } = *session;
    if !role.is_data() {
        return Err(JoinError::NotADataRole(role));
    }
    let t0 = Instant::now();
    let n_own = ids.len();
    if n_own as u64 > MAX_PARTY_SIZE {
        return Err(JoinError::TooManyIds {
            size: n_own,
            max: MAX_PARTY_SIZE,
        });
    }
    check_distinct(ids)?;

    let n_peer = exchange_hello(peer, role, n_own)?;
    // 2|own| + 2|peer| multiplications in rounds 1–2, at most |own| + |peer| more in round 3.
    let both = (n_own + n_peer) as u64;
    let rounds = Rounds {
        keys,
        peer_name: peer.peer().to_string(),
        meter: RefCell::new(Meter::start(3 * both, progress)),
    };

    let mut pi: Vec<usize> = (0..n_own).collect();
    pi.shuffle(&mut ChaCha20Rng::from_seed(*shuffle_seed));
    let (peer_d, peer_l) = rounds.blind(peer, ids, &pi, n_peer)?;
    let t1 = t0.elapsed();
    let own_f = rounds.label(peer, peer_l, pi)?;
    let (own_only, peer_only) = rounds.compare_sets(peer, peer_d, n_own)?;
    rounds
        .meter
        .borrow_mut()
        .set_total(2 * both + (own_only.len() + peer_only.len()) as u64);
    let t2 = t0.elapsed();
    let peer_f = rounds.exchange_only(peer, &own_only, peer_only.len())?;

    if n_own + peer_f.len() != n_peer + own_only.len() {
        return Err(JoinError::Inconsistent {
            peer: rounds.peer_name,
            step: STEP_ONLY,
            detail: "the union sizes seen from the two sides differ".to_string(),
        });
    }
    let union_size = n_own + peer_f.len();
    let positions = union_positions(own_f, peer_f, &rounds.peer_name)?;
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

/// What every round needs: the keys, the peer's name for errors, the progress meter.
struct Rounds<'a> {
    keys: &'a JoinKeys,
    peer_name: String,
    meter: RefCell<Meter<'a>>,
}

impl Rounds<'_> {
    /// Round 1: send own blinded identifiers in the shuffled order `pi`; blind the peer's with
    /// `blind` (to the comparison space H^(ab)) and with `blind·label` (labelled values for the
    /// peer). Returns the peer's values in both forms, in the peer's order.
    fn blind(
        &self,
        peer: &mut dyn Channel,
        ids: &[&[u8]],
        pi: &[usize],
        n_peer: usize,
    ) -> Result<(Vec<Encoded>, Vec<Encoded>), JoinError> {
        let keys = self.keys;
        let blind_label = keys.blind.mul(&keys.label);
        let mut peer_d: Vec<Encoded> = Vec::with_capacity(n_peer.min(crate::CHUNK_POINTS));
        let mut peer_l: Vec<Encoded> = Vec::with_capacity(n_peer.min(crate::CHUNK_POINTS));
        exchange(
            peer,
            STEP_BLINDED,
            pi.len(),
            n_peer,
            |r| {
                let chunk = part(pi, r)?
                    .iter()
                    .map(|&i| ids.get(i).copied())
                    .collect::<Option<Vec<&[u8]>>>()
                    .ok_or(JoinError::Internal(
                        "a shuffled row index outside the table",
                    ))?;
                let out = hash_blind_compress_batch(&chunk, &keys.blind);
                self.meter.borrow_mut().add(out.len());
                Ok(out)
            },
            |r, enc| {
                let [d, l] = blind_encoded_batch_multi(&enc, [&keys.blind, &blind_label])
                    .map_err(|e| point_error(&self.peer_name, STEP_BLINDED, r.start, e))?;
                peer_d.extend_from_slice(&d);
                peer_l.extend_from_slice(&l);
                self.meter.borrow_mut().add(2 * enc.len());
                Ok(())
            },
        )?;
        Ok((peer_d, peer_l))
    }

    /// Round 2a: return the peer's labelled values (in its own shuffled order); receive ours,
    /// raise them to `label` and undo our shuffle `pi`. Returns own final values in row order.
    fn label(
        &self,
        peer: &mut dyn Channel,
        peer_l: Vec<Encoded>,
        pi: Vec<usize>,
    ) -> Result<Vec<Encoded>, JoinError> {
        let n_own = pi.len();
        let mut own_f: Vec<Encoded> = vec![[0u8; 32]; n_own];
        exchange(
            peer,
            STEP_LABELLED,
            peer_l.len(),
            n_own,
            |r| Ok(part(&peer_l, r)?.to_vec()),
            |r, enc| {
                let f = blind_encoded_batch(&enc, &self.keys.label)
                    .map_err(|e| point_error(&self.peer_name, STEP_LABELLED, r.start, e))?;
                self.meter.borrow_mut().add(f.len());
                for (k, v) in r.zip(f) {
                    if let Some(slot) = pi.get(k).and_then(|&row| own_f.get_mut(row)) {
                        *slot = v;
                    }
                }
                Ok(())
            },
        )?;
        Ok(own_f)
    }

    /// Round 2b: exchange the unlabelled sets in H^(ab), sorted (an order that depends only on
    /// the set, like a fresh shuffle); returns `(own_only, peer_only)` by a sorted merge.
    fn compare_sets(
        &self,
        peer: &mut dyn Channel,
        mut peer_d: Vec<Encoded>,
        n_own: usize,
    ) -> Result<(Vec<Encoded>, Vec<Encoded>), JoinError> {
        peer_d.par_sort_unstable();
        let mut own_s: Vec<Encoded> = Vec::with_capacity(n_own.min(crate::CHUNK_POINTS));
        let mut last: Option<Encoded> = None;
        exchange(
            peer,
            STEP_SETS,
            peer_d.len(),
            n_own,
            |r| Ok(part(&peer_d, r)?.to_vec()),
            |_, enc| {
                check_increasing_named(&self.peer_name, STEP_SETS, &mut last, &enc)?;
                own_s.extend_from_slice(&enc);
                Ok(())
            },
        )?;
        Ok(sorted_differences(&own_s, &peer_d))
    }

    /// Round 3: send own-only points raised to `label` (sorted); receive the peer's and raise
    /// them to `label`: the final values of the rows only the peer has.
    fn exchange_only(
        &self,
        peer: &mut dyn Channel,
        own_only: &[Encoded],
        n_peer_only: usize,
    ) -> Result<Vec<Encoded>, JoinError> {
        let mut own_only_l = blind_encoded_batch(own_only, &self.keys.label)
            .map_err(|e| point_error(&self.peer_name, STEP_SETS, 0, e))?;
        self.meter.borrow_mut().add(own_only_l.len());
        own_only_l.par_sort_unstable();
        let mut peer_f: Vec<Encoded> = Vec::with_capacity(n_peer_only);
        let mut last: Option<Encoded> = None;
        exchange(
            peer,
            STEP_ONLY,
            own_only.len(),
            n_peer_only,
            |r| Ok(part(&own_only_l, r)?.to_vec()),
            |r, enc| {
                check_increasing_named(&self.peer_name, STEP_ONLY, &mut last, &enc)?;
                let f = blind_encoded_batch(&enc, &self.keys.label)
                    .map_err(|e| point_error(&self.peer_name, STEP_ONLY, r.start, e))?;
                self.meter.borrow_mut().add(f.len());
                peer_f.extend_from_slice(&f);
                Ok(())
            },
        )?;
        Ok(peer_f)
    }
}

/// Finish: sort the union of own final values (`own_f`, in row order) and the peer-only ones by
/// encoding; a row's position is its rank. Two equal final values are peer misbehaviour.
fn union_positions(
    own_f: Vec<Encoded>,
    peer_f: Vec<Encoded>,
    peer_name: &str,
) -> Result<Vec<usize>, JoinError> {
    let n_own = own_f.len();
    let mut all: Vec<(Encoded, usize)> = Vec::with_capacity(n_own + peer_f.len());
    all.extend(own_f.into_iter().enumerate().map(|(row, f)| (f, row)));
    all.extend(peer_f.into_iter().map(|f| (f, usize::MAX)));
    all.par_sort_unstable_by(|x, y| x.0.cmp(&y.0));
    if all.windows(2).any(|w| matches!(w, [x, y] if x.0 == y.0)) {
        return Err(JoinError::Inconsistent {
            peer: peer_name.to_string(),
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
    Ok(positions)
}

/// The chunk `r` of a sequence being sent; `exchange` only asks for chunks inside it.
fn part<T>(v: &[T], r: std::ops::Range<usize>) -> Result<&[T], JoinError> {
    v.get(r).ok_or(JoinError::Internal(
        "a chunk outside the sequence being sent",
    ))
}

/// `(a \ b, b \ a)` of two strictly increasing sequences.
fn sorted_differences(a: &[Encoded], b: &[Encoded]) -> (Vec<Encoded>, Vec<Encoded>) {
    let (mut a, mut b) = (a.iter().peekable(), b.iter().peekable());
    let (mut only_a, mut only_b) = (Vec::new(), Vec::new());
    while let (Some(&x), Some(&y)) = (a.peek(), b.peek()) {
        match x.cmp(y) {
            std::cmp::Ordering::Less => {
                only_a.push(*x);
                a.next();
            }
            std::cmp::Ordering::Greater => {
                only_b.push(*y);
                b.next();
            }
            std::cmp::Ordering::Equal => {
                a.next();
                b.next();
            }
        }
    }
    only_a.extend(a);
    only_b.extend(b);
    (only_a, only_b)
}
