//! The messages of the two-party join: the opening message (on the shared codec,
//! [`samen_core::codec`]) and the point streams, sent as bulk frames of [`CHUNK_POINTS`]
//! 32-byte encodings.

use std::ops::Range;

use samen_core::channel::{Channel, ChannelError};
use samen_core::codec::{self, CodecError, Decode, Encode, Reader};
use samen_pseudonym::joint::Encoded;

use samen_core::Role;

use crate::{read_role, role_tag, JoinError, CHUNK_POINTS, MAX_PARTY_SIZE, PROTOCOL_VERSION};

/// Length of the opening message: version, role, table size (u64 little endian).
const HELLO_LEN: usize = 10;

/// Step labels (also used in error messages and transcripts).
pub(crate) const STEP_HELLO: &str = "join/hello";
pub(crate) const STEP_BLINDED: &str = "join/1-blinded";
pub(crate) const STEP_LABELLED: &str = "join/2-labelled";
pub(crate) const STEP_SETS: &str = "join/2-sets";
pub(crate) const STEP_ONLY: &str = "join/3-only";

/// The opening message of the two-party join.
///
/// Layout (10 bytes): version ([`PROTOCOL_VERSION`]) ‖ role (1 First, 2 Second) ‖ the
/// sender's table size (`u64` little endian).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Opening {
    pub(crate) role: Role,
    pub(crate) size: u64,
}

impl Encode for Opening {
    fn encode(&self, out: &mut Vec<u8>) {
        PROTOCOL_VERSION.encode(out);
        role_tag(self.role).encode(out);
        self.size.encode(out);
    }
    fn encoded_len(&self) -> Option<usize> {
        Some(HELLO_LEN)
    }
}

impl Decode for Opening {
    const WHAT: &'static str = "two-party join opening message";
    fn read(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        r.version(PROTOCOL_VERSION)?;
        Ok(Opening {
            role: read_role(r)?,
            size: r.u64()?,
        })
    }
}

/// Round 0: send version, role and own size, and check the peer's; returns the peer's size
/// (at most [`MAX_PARTY_SIZE`]).
pub(crate) fn exchange_hello(
    peer: &mut dyn Channel,
    role: Role,
    n_own: usize,
) -> Result<usize, JoinError> {
    peer.set_step(STEP_HELLO);
    peer.send(&codec::encode_to_vec(&Opening {
        role,
        size: n_own as u64,
    }))?;
    peer.flush()?;
    let frame = peer.recv(HELLO_LEN)?;
    let handshake = |detail: String| JoinError::Handshake {
        peer: peer.peer().to_string(),
        detail,
    };
    let theirs: Opening = codec::decode_exact(&frame).map_err(|e| handshake(e.to_string()))?;
    if theirs.role == role {
        return Err(handshake(
            "both parties claim the same role (check the party names and roles)".to_string(),
        ));
    }
    if theirs.size > MAX_PARTY_SIZE {
        return Err(JoinError::PeerTooLarge {
            peer: peer.peer().to_string(),
            size: theirs.size,
            max: MAX_PARTY_SIZE,
        });
    }
    Ok(theirs.size as usize)
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

#[cfg(test)]
mod tests {
    use super::*;
    use samen_core::codec::{decode_exact, golden};

    #[test]
    fn golden_opening() {
        golden::check(
            &Opening {
                role: Role::First,
                size: 0x0102_0304_0506,
            },
            "01010605040302010000",
        );
        golden::check(
            &Opening {
                role: Role::Second,
                size: 5,
            },
            "01020500000000000000",
        );
        assert!(matches!(
            decode_exact::<Opening>(&[9, 2, 5, 0, 0, 0, 0, 0, 0, 0]),
            Err(CodecError::Version { got: 9, .. })
        ));
        assert!(matches!(
            decode_exact::<Opening>(&[1, 3, 5, 0, 0, 0, 0, 0, 0, 0]),
            Err(CodecError::BadValue {
                field: "role",
                value: 3,
                ..
            })
        ));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(5_000))]

        /// Any bytes: an error or exactly the encoding of what they decode to.
        #[test]
        fn opening_decoder_is_strict(bytes in samen_core::fuzzing::bytes(24)) {
            if let Ok(m) = decode_exact::<Opening>(&bytes) {
                proptest::prop_assert_eq!(codec::encode_to_vec(&m), bytes);
            }
        }

        #[test]
        fn openings_round_trip(second in proptest::prelude::any::<bool>(), size in proptest::prelude::any::<u64>()) {
            let m = Opening { role: if second { Role::Second } else { Role::First }, size };
            proptest::prop_assert_eq!(decode_exact::<Opening>(&codec::encode_to_vec(&m)), Ok(m));
        }
    }
}
