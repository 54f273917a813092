//! The errors of the joins.

use samen_core::channel::ChannelError;
use samen_core::codec::CodecError;
use samen_core::Role;
use samen_pseudonym::joint::JointError;
use thiserror::Error;

use crate::JoinSizes;

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
    /// This party's input is larger than [`MAX_PARTY_SIZE`](crate::MAX_PARTY_SIZE).
    #[error("{size} identifiers exceed the maximum of {max} per party")]
    TooManyIds {
        /// Number of identifiers given.
        size: usize,
        /// The maximum.
        max: u64,
    },
    /// Local misuse: a data party's half of a join was started with [`Role::Helper`]; only
    /// [`Role::First`] and [`Role::Second`] join their identifiers (the helper runs
    /// [`serve_helper_join`](crate::serve_helper_join)). Refused before anything is sent.
    #[error("a data party's half of the join needs the role 'first' or 'second', not '{0}'")]
    NotADataRole(Role),
    /// The peer announced a table larger than [`MAX_PARTY_SIZE`](crate::MAX_PARTY_SIZE).
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
        source: CodecError,
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
    /// A broken internal invariant of this party's own computation (a defect in samen, not
    /// bad input): the join stops instead of producing a wrong result.
    #[error("internal error in the join ({0}); this is a defect in samen, please report it")]
    Internal(&'static str),
}

pub(crate) fn rng_error(e: JointError) -> JoinError {
    JoinError::Randomness {
        detail: e.to_string(),
    }
}

/// Name the peer and the stream position of an invalid point (`base` = index of the batch's
/// first point in the step's stream; for the unmatched points of step 2, the index among them).
pub(crate) fn point_error(peer: &str, step: &'static str, base: usize, e: JointError) -> JoinError {
    match e {
        JointError::InvalidEncoding { index } => JoinError::InvalidPoint {
            peer: peer.to_string(),
            step,
            index: base + index,
        },
        other => rng_error(other),
    }
}
