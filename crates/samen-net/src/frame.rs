//! Sans-IO framing: how frames look on the wire, independent of sockets and TLS.
//!
//! Every frame is a 5-byte header followed by its payload:
//!
//! | bytes | meaning |
//! |---|---|
//! | 1 | kind: [`FrameKind::Hello`] = 1, [`FrameKind::Data`] = 2, [`FrameKind::Abort`] = 3, [`FrameKind::KeepAlive`] = 4 |
//! | 4 | payload length, `u32` little endian |
//! | n | payload |
//!
//! Each kind has a hard maximum payload length ([`FrameKind::max_len`]): data frames at most
//! [`MAX_FRAME`], hellos and aborts at most [`MAX_CONTROL_MESSAGE`], keep-alives nothing. A
//! longer announced length
//! is rejected as soon as the header is complete, before anything is allocated, so a decoder
//! never holds more than one frame of at most [`MAX_FRAME`] bytes.
//!
//! An abort frame's payload is an encoded [`samen_core::channel::Abort`] message; its receiver
//! decodes it with [`Abort::receive`](samen_core::channel::Abort::receive), which passes the
//! texts through [`samen_core::channel::sanitize_peer_text`] (valid UTF-8, one line of at most
//! [`samen_core::channel::MAX_PEER_TEXT`] printable bytes), so whatever reaches an error
//! message or a log is safe to print.
//!
//! ```
//! use samen_net::frame::{encode_frame, FrameDecoder, FrameKind};
//! let wire = encode_frame(FrameKind::Data, b"hello").unwrap();
//! let mut decoder = FrameDecoder::new();
//! let (used, frame) = decoder.decode(&wire).unwrap();
//! assert_eq!(used, wire.len());
//! let frame = frame.unwrap();
//! assert_eq!((frame.kind, frame.payload.as_slice()), (FrameKind::Data, &b"hello"[..]));
//! assert!(decoder.finish().is_ok());
//! ```

use samen_core::channel::MAX_FRAME;
use samen_core::codec::MAX_CONTROL_MESSAGE;
use thiserror::Error;

/// Length of a frame header in bytes (kind + `u32` length).
pub const HEADER_LEN: usize = 5;

/// What a frame carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FrameKind {
    /// The hello that opens every connection (a [`crate::hello::Hello`] through the codec).
    Hello,
    /// A protocol message (opaque bytes for the [`samen_core::channel::Channel`] user).
    Data,
    /// The sender stops; the payload is a UTF-8 reason.
    Abort,
    /// "Still here": sent by an idle sender so that a peer waiting for its next message does
    /// not time out while it computes. Always empty; never delivered to the channel's user.
    KeepAlive,
}

impl FrameKind {
    /// The byte that encodes this kind on the wire.
    pub fn to_byte(self) -> u8 {
        match self {
            FrameKind::Hello => 1,
            FrameKind::Data => 2,
            FrameKind::Abort => 3,
            FrameKind::KeepAlive => 4,
        }
    }

    /// The kind a header byte stands for, if any.
    pub fn from_byte(byte: u8) -> Option<FrameKind> {
        match byte {
            1 => Some(FrameKind::Hello),
            2 => Some(FrameKind::Data),
            3 => Some(FrameKind::Abort),
            4 => Some(FrameKind::KeepAlive),
            _ => None,
        }
    }

    /// The largest payload a frame of this kind may carry.
    pub fn max_len(self) -> usize {
        match self {
            FrameKind::Data => MAX_FRAME,
            FrameKind::Hello | FrameKind::Abort => MAX_CONTROL_MESSAGE,
            FrameKind::KeepAlive => 0,
        }
    }
}

/// One decoded frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// What the frame carries.
    pub kind: FrameKind,
    /// The payload bytes.
    pub payload: Vec<u8>,
}

/// A malformed byte stream. After any error the stream is unusable and the connection must be
/// dropped.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameError {
    /// The header names a kind that does not exist (garbage or an incompatible peer).
    #[error("unknown frame kind {0} (garbage on the connection or an incompatible samen version)")]
    UnknownKind(u8),
    /// The announced (or, when encoding, the actual) payload is longer than allowed.
    #[error("{kind:?} frame of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// The frame's kind.
        kind: FrameKind,
        /// The announced length.
        len: usize,
        /// The limit for this kind.
        max: usize,
    },
    /// The stream ended in the middle of a frame.
    #[error("the connection ended in the middle of a frame ({have} of {need} bytes received)")]
    Truncated {
        /// Bytes of the current frame (header included) received.
        have: usize,
        /// Bytes the frame needs (header included), or the header length if the header itself
        /// is incomplete.
        need: usize,
    },
}

/// Encode a frame header, refusing payloads longer than the kind allows.
pub fn encode_header(kind: FrameKind, len: usize) -> Result<[u8; HEADER_LEN], FrameError> {
    let max = kind.max_len();
    if len > max {
        return Err(FrameError::TooLarge { kind, len, max });
    }
    // `max` is below 2^32, so the conversion cannot fail once the check above passed.
    let len32 = u32::try_from(len).map_err(|_| FrameError::TooLarge { kind, len, max })?;
    let [l0, l1, l2, l3] = len32.to_le_bytes();
    Ok([kind.to_byte(), l0, l1, l2, l3])
}

/// Encode a whole frame (header + payload) into a new buffer.
pub fn encode_frame(kind: FrameKind, payload: &[u8]) -> Result<Vec<u8>, FrameError> {
    let header = encode_header(kind, payload.len())?;
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.extend_from_slice(&header);
    out.extend_from_slice(payload);
    Ok(out)
}

/// An incremental frame decoder: feed it bytes as they arrive, in pieces of any size.
#[derive(Debug, Default)]
pub struct FrameDecoder {
    /// The bytes of a header not yet complete (fewer than [`HEADER_LEN`]).
    header: Vec<u8>,
    current: Option<(FrameKind, Vec<u8>, usize)>,
}

impl FrameDecoder {
    /// A decoder at the start of a stream.
    pub fn new() -> FrameDecoder {
        FrameDecoder::default()
    }

    /// Consume bytes from `input`. Returns how many bytes were used and the frame they
    /// completed, if any. At most one frame is returned per call: call again with the unused
    /// rest of `input` until everything is used.
    pub fn decode(&mut self, input: &[u8]) -> Result<(usize, Option<Frame>), FrameError> {
        let mut rest = input;
        if self.current.is_none() {
            let want = HEADER_LEN.saturating_sub(self.header.len()).min(rest.len());
            let (head, tail) = rest.split_at(want);
            self.header.extend_from_slice(head);
            rest = tail;
            let [kind, l0, l1, l2, l3] = *self.header.as_slice() else {
                // The header is still incomplete: every input byte went into it.
                return Ok((input.len(), None));
            };
            let kind = FrameKind::from_byte(kind).ok_or(FrameError::UnknownKind(kind))?;
            let len = u32::from_le_bytes([l0, l1, l2, l3]) as usize;
            let max = kind.max_len();
            if len > max {
                return Err(FrameError::TooLarge { kind, len, max });
            }
            self.header.clear();
            self.current = Some((kind, Vec::with_capacity(len), len));
        }
        let done = match self.current.as_mut() {
            Some((_, payload, len)) => {
                let want = len.saturating_sub(payload.len()).min(rest.len());
                let (body, tail) = rest.split_at(want);
                payload.extend_from_slice(body);
                rest = tail;
                payload.len() == *len
            }
            None => false,
        };
        let used = input.len() - rest.len();
        if done {
            if let Some((kind, payload, _)) = self.current.take() {
                return Ok((used, Some(Frame { kind, payload })));
            }
        }
        Ok((used, None))
    }

    /// True when the decoder sits between frames (no partial frame buffered).
    pub fn at_boundary(&self) -> bool {
        self.current.is_none() && self.header.is_empty()
    }

    /// Call when the stream has ended: an error if it ended inside a frame.
    pub fn finish(&self) -> Result<(), FrameError> {
        match &self.current {
            Some((_, payload, len)) => Err(FrameError::Truncated {
                have: HEADER_LEN + payload.len(),
                need: HEADER_LEN + len,
            }),
            None if !self.header.is_empty() => Err(FrameError::Truncated {
                have: self.header.len(),
                need: HEADER_LEN,
            }),
            None => Ok(()),
        }
    }
}

/// Decode a complete byte stream into frames; the stream must end on a frame boundary.
///
/// ```
/// use samen_net::frame::{decode_all, FrameError};
/// assert!(matches!(decode_all(&[2, 9, 0, 0, 0, 1]), Err(FrameError::Truncated { .. })));
/// assert_eq!(decode_all(&[7, 0, 0, 0, 0]), Err(FrameError::UnknownKind(7)));
/// ```
pub fn decode_all(mut bytes: &[u8]) -> Result<Vec<Frame>, FrameError> {
    let mut decoder = FrameDecoder::new();
    let mut frames = Vec::new();
    while !bytes.is_empty() {
        let (used, frame) = decoder.decode(bytes)?;
        frames.extend(frame);
        bytes = bytes.get(used..).unwrap_or_default();
    }
    decoder.finish()?;
    Ok(frames)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn round_trip_in_pieces() {
        let mut wire = encode_frame(FrameKind::Hello, b"hi").unwrap();
        wire.extend(encode_frame(FrameKind::Data, &[7u8; 1000]).unwrap());
        wire.extend(encode_frame(FrameKind::Data, &[]).unwrap());
        wire.extend(encode_frame(FrameKind::Abort, b"stop").unwrap());
        for piece in [1, 2, 3, 5, 7, 64, 4096] {
            let mut decoder = FrameDecoder::new();
            let mut frames = Vec::new();
            for chunk in wire.chunks(piece) {
                let mut rest = chunk;
                while !rest.is_empty() {
                    let (used, frame) = decoder.decode(rest).unwrap();
                    frames.extend(frame);
                    rest = &rest[used..];
                }
            }
            decoder.finish().unwrap();
            assert_eq!(frames, decode_all(&wire).unwrap());
            assert_eq!(frames.len(), 4);
            assert_eq!(frames[1].payload, vec![7u8; 1000]);
            assert!(frames[2].payload.is_empty());
        }
    }

    #[test]
    fn oversized_announcement_is_rejected_before_allocation() {
        let mut wire = vec![2u8];
        wire.extend_from_slice(&(MAX_FRAME as u32 + 1).to_le_bytes());
        assert_eq!(
            decode_all(&wire),
            Err(FrameError::TooLarge {
                kind: FrameKind::Data,
                len: MAX_FRAME + 1,
                max: MAX_FRAME
            })
        );
        let mut hello = vec![1u8];
        hello.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            decode_all(&hello),
            Err(FrameError::TooLarge {
                kind: FrameKind::Hello,
                ..
            })
        ));
        assert!(encode_header(FrameKind::Abort, MAX_CONTROL_MESSAGE + 1).is_err());
        assert!(encode_header(FrameKind::Data, MAX_FRAME).is_ok());
        assert!(encode_header(FrameKind::KeepAlive, 0).is_ok());
        assert_eq!(
            decode_all(&[4, 1, 0, 0, 0, 0]),
            Err(FrameError::TooLarge {
                kind: FrameKind::KeepAlive,
                len: 1,
                max: 0
            })
        );
    }

    #[test]
    fn truncation_and_garbage() {
        assert_eq!(
            decode_all(&[2, 10, 0, 0, 0, 1, 2]),
            Err(FrameError::Truncated { have: 7, need: 15 })
        );
        assert_eq!(
            decode_all(&[2, 10]),
            Err(FrameError::Truncated { have: 2, need: 5 })
        );
        assert_eq!(
            decode_all(&[0x47, 0x45, 0x54, 0x20, 0x2f]),
            Err(FrameError::UnknownKind(0x47))
        );
        assert_eq!(decode_all(&[]), Ok(vec![]));
    }

    /// Decode `bytes` whole and in pieces of `split` bytes: both must agree, every call must
    /// use at least one byte, and no frame may exceed its kind's limit.
    fn check_stream(bytes: &[u8], split: usize) -> Result<(), TestCaseError> {
        let whole = decode_all(bytes);
        let mut decoder = FrameDecoder::new();
        let mut frames = Vec::new();
        let mut outcome = Ok(());
        'outer: for chunk in bytes.chunks(split.max(1)) {
            let mut rest = chunk;
            while !rest.is_empty() {
                match decoder.decode(rest) {
                    Ok((used, frame)) => {
                        prop_assert!(used > 0 && used <= rest.len());
                        frames.extend(frame);
                        rest = &rest[used..];
                    }
                    Err(e) => {
                        outcome = Err(e);
                        break 'outer;
                    }
                }
            }
        }
        let pieces = outcome.and_then(|()| decoder.finish()).map(|()| frames);
        prop_assert_eq!(&whole, &pieces);
        for f in whole.iter().flatten() {
            prop_assert!(f.payload.len() <= f.kind.max_len());
        }
        Ok(())
    }

    /// A valid stream of a few frames of every kind.
    fn valid_stream() -> Vec<u8> {
        let mut wire = encode_frame(FrameKind::Hello, &[1, 2, 3, 4, 5, 6, 7, 8]).unwrap();
        wire.extend(encode_frame(FrameKind::Data, &[7u8; 40]).unwrap());
        wire.extend(encode_frame(FrameKind::KeepAlive, &[]).unwrap());
        let abort =
            samen_core::codec::encode_to_vec(&samen_core::channel::Abort::own("input invalid"));
        wire.extend(encode_frame(FrameKind::Abort, &abort).unwrap());
        wire.extend(encode_frame(FrameKind::Data, &[]).unwrap());
        wire
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]

        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in samen_core::fuzzing::bytes(512), split in 1usize..64) {
            check_stream(&bytes, split)?;
        }

        #[test]
        fn decoding_mutated_streams_never_panics(bytes in samen_core::fuzzing::mutated(valid_stream()), split in 1usize..64) {
            check_stream(&bytes, split)?;
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        #[test]
        fn encode_decode_round_trip(frames in proptest::collection::vec((0u8..4, proptest::collection::vec(any::<u8>(), 0..300)), 0..8)) {
            let kinds = [FrameKind::Hello, FrameKind::Data, FrameKind::Abort, FrameKind::KeepAlive];
            let mut wire = Vec::new();
            let mut expected = Vec::new();
            for (k, mut payload) in frames {
                let kind = kinds[k as usize];
                if kind == FrameKind::KeepAlive {
                    payload.clear();
                }
                wire.extend(encode_frame(kind, &payload).unwrap());
                expected.push(Frame { kind, payload });
            }
            prop_assert_eq!(decode_all(&wire).unwrap(), expected);
        }
    }
}
