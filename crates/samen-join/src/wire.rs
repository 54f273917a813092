//! The messages of the two-party join: the opening message and the point streams, sent in
//! frames of [`CHUNK_POINTS`] 32-byte encodings.

use std::ops::Range;

use samen_core::channel::{Channel, ChannelError};
use samen_pseudonym::joint::Encoded;

use crate::{JoinError, JoinRole, CHUNK_POINTS, MAX_PARTY_SIZE, PROTOCOL_VERSION};

/// Length of the opening message: version, role, table size (u64 little endian).
const HELLO_LEN: usize = 10;

/// Step labels (also used in error messages and transcripts).
pub(crate) const STEP_HELLO: &str = "join/hello";
pub(crate) const STEP_BLINDED: &str = "join/1-blinded";
pub(crate) const STEP_LABELLED: &str = "join/2-labelled";
pub(crate) const STEP_SETS: &str = "join/2-sets";
pub(crate) const STEP_ONLY: &str = "join/3-only";

/// Round 0: send version, role and own size, and check the peer's; returns the peer's size
/// (at most [`MAX_PARTY_SIZE`]).
pub(crate) fn exchange_hello(
    peer: &mut dyn Channel,
    role: JoinRole,
    n_own: usize,
) -> Result<usize, JoinError> {
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
    Ok(announced as usize)
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
pub(crate) fn exchange(
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

pub(crate) fn check_increasing_named(
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
