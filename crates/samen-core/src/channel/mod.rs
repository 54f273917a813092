//! The channel abstraction every protocol is written against.
//!
//! A [`Channel`] connects this party to one peer and moves whole messages (frames) of bytes.
//! Implementations: [`LocalChannel`] (in-process, for tests, simulation and the library API) and
//! the TLS transport of `samen-net` (deployment). Typed helpers in [`ChannelExt`] send share
//! vectors and byte blocks as raw little-endian bytes in large frames and control messages
//! through [`crate::codec`]; every receive is bounded by a length the receiver already expects.
//!
//! ```
//! use samen_core::channel::{local_pair, Channel, ChannelExt};
//! let (mut a, mut b) = local_pair("alice", "bob");
//! a.send_u64s(&[1, 2, 3]).unwrap();
//! assert_eq!(b.recv_u64s(3).unwrap(), vec![1, 2, 3]);
//! assert_eq!(a.stats().bytes_sent, 24);
//! ```

use std::time::Duration;

use thiserror::Error;

use crate::codec::{self, CodecError, Decode, Encode};

/// Hard maximum size of one frame (message) on any channel, in bytes.
pub const MAX_FRAME: usize = 16 << 20;

/// Bulk data is split into frames of at most this many bytes (a multiple of 8 and of 32).
pub const BULK_FRAME: usize = 4 << 20;

/// Default time a receive waits before failing with [`ChannelError::Timeout`].
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// An error on a channel. Peer misbehaviour ([`ChannelError::Protocol`],
/// [`ChannelError::PeerAborted`]) is kept apart from transport failures.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ChannelError {
    /// The peer closed the connection or its process ended.
    #[error("connection to party '{peer}' closed unexpectedly")]
    Closed {
        /// The peer's party name.
        peer: String,
    },
    /// A receive waited longer than the configured timeout.
    #[error("party '{peer}' sent nothing for {secs} s (timeout)")]
    Timeout {
        /// The peer's party name.
        peer: String,
        /// The timeout, in seconds.
        secs: u64,
    },
    /// The peer sent an abort message.
    #[error("party '{peer}' aborted: {message}")]
    PeerAborted {
        /// The peer's party name.
        peer: String,
        /// The peer's message, as read by [`Abort::receive`] (its texts passed through
        /// [`sanitize_peer_text`]: each one line of at most [`MAX_PEER_TEXT`] printable bytes).
        message: Abort,
    },
    /// The peer sent a frame that does not fit the protocol (wrong length, bad encoding,
    /// invalid curve point, ...).
    #[error("party '{peer}' violated the protocol: {detail}")]
    Protocol {
        /// The peer's party name.
        peer: String,
        /// What was wrong.
        detail: String,
    },
    /// A frame was larger than the limit the receiver allows.
    #[error("party '{peer}' sent a frame of {len} bytes, more than the limit of {max} bytes")]
    FrameTooLarge {
        /// The peer's party name.
        peer: String,
        /// Announced or actual length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// An I/O or TLS failure in the transport.
    #[error("transport failure talking to party '{peer}': {detail}")]
    Transport {
        /// The peer's party name.
        peer: String,
        /// What failed.
        detail: String,
    },
    /// This party tried to send a message that cannot be encoded or is too large.
    #[error("cannot send to party '{peer}': {source}")]
    Encode {
        /// The peer's party name.
        peer: String,
        /// The codec error.
        #[source]
        source: CodecError,
    },
    /// The run stopped because some party failed or went away, seen on another channel of
    /// this party (see [`StopSignal`]).
    #[error("{0}")]
    Stopped(StopReason),
}

impl ChannelError {
    /// The stop this error reports, if it is another party's: the party that stopped first
    /// (from a shared stop signal or a peer's [`Abort`], so a relayed stop keeps its origin;
    /// the peer for a lost connection or a silent peer) and why, without `via`. `None` for a
    /// failure of this party's own (a protocol violation it detected, a transport error, a
    /// message it cannot encode): those are the party's own reason to stop.
    ///
    /// ```
    /// use samen_core::channel::{Abort, ChannelError, StopReason};
    /// let relayed = ChannelError::PeerAborted {
    ///     peer: "cbs".into(),
    ///     message: Abort::from(&StopReason::new("ttp", "its input failed validation")),
    /// };
    /// assert_eq!(relayed.stopped_party().unwrap().party, "ttp");
    /// let gone = ChannelError::Closed { peer: "cbs".into() };
    /// assert_eq!(gone.stopped_party().unwrap().party, "cbs");
    /// ```
    pub fn stopped_party(&self) -> Option<StopReason> {
        let stop = match self {
            ChannelError::Stopped(r) => r.clone(),
            ChannelError::PeerAborted { peer, message } => message.stop_reason(peer),
            ChannelError::Closed { peer } => StopReason::new(
                peer,
                "its connection was lost (its process ended or the network failed)",
            ),
            ChannelError::Timeout { peer, .. } => {
                StopReason::new(peer, "it sent nothing for longer than the I/O timeout")
            }
            _ => return None,
        };
        Some(StopReason { via: None, ..stop })
    }
}

mod abort;
mod local;
mod sanitize;
mod stats;
mod stop;
#[cfg(test)]
mod tests;

pub use abort::{Abort, MAX_ABORT_REASON};
pub use local::{local_mesh, local_pair, LocalChannel};
pub use sanitize::{sanitize_peer_text, MAX_PEER_TEXT};
pub use stats::{ChannelStats, TrafficCounter};
pub use stop::{StopReason, StopSignal};
/// A bidirectional, message-oriented link from this party to one peer.
///
/// Implementations must bound every receive by `max_len`, fail (never panic) on malformed
/// input from the peer, and count traffic in [`ChannelStats`].
pub trait Channel: Send {
    /// The peer's party name (used in error messages and transcripts).
    fn peer(&self) -> &str;

    /// Send one frame.
    fn send(&mut self, payload: &[u8]) -> Result<(), ChannelError>;

    /// Send one frame that the caller no longer needs (lets in-process channels avoid a copy).
    fn send_owned(&mut self, payload: Vec<u8>) -> Result<(), ChannelError> {
        self.send(&payload)
    }

    /// Receive one frame of at most `max_len` bytes; a longer frame is
    /// [`ChannelError::FrameTooLarge`].
    fn recv(&mut self, max_len: usize) -> Result<Vec<u8>, ChannelError>;

    /// Flush buffered frames to the peer.
    fn flush(&mut self) -> Result<(), ChannelError> {
        Ok(())
    }

    /// Traffic counters so far.
    fn stats(&self) -> ChannelStats;

    /// Label the frames that follow with a protocol step (used by transcripts); no-op by default.
    fn set_step(&mut self, _step: &str) {}

    /// Tell the peer, if still possible, that this party is stopping and why (an [`Abort`]
    /// message). Best effort: errors are ignored. The reason must not contain data or
    /// identifiers.
    fn abort(&mut self, _message: &Abort) {}

    /// End a successful run: tell the peer this party is done and wait until the peer is
    /// done too, so that a peer that fails after this party's last message is still noticed.
    /// `Ok` if the peer ended cleanly; the default (in-process channels) does nothing.
    fn finish(&mut self) -> Result<(), ChannelError> {
        Ok(())
    }
}

/// Implements [`Channel`] for a pointer type by forwarding every method to the pointee.
macro_rules! forward_channel {
    ($($ptr:ty),+) => {$(
        impl<C: Channel + ?Sized> Channel for $ptr {
            fn peer(&self) -> &str {
                (**self).peer()
            }
            fn send(&mut self, payload: &[u8]) -> Result<(), ChannelError> {
                (**self).send(payload)
            }
            fn send_owned(&mut self, payload: Vec<u8>) -> Result<(), ChannelError> {
                (**self).send_owned(payload)
            }
            fn recv(&mut self, max_len: usize) -> Result<Vec<u8>, ChannelError> {
                (**self).recv(max_len)
            }
            fn flush(&mut self) -> Result<(), ChannelError> {
                (**self).flush()
            }
            fn stats(&self) -> ChannelStats {
                (**self).stats()
            }
            fn set_step(&mut self, step: &str) {
                (**self).set_step(step)
            }
            fn abort(&mut self, message: &Abort) {
                (**self).abort(message)
            }
            fn finish(&mut self) -> Result<(), ChannelError> {
                (**self).finish()
            }
        }
    )+};
}

forward_channel!(Box<C>, &mut C);

/// Typed helpers on every [`Channel`]: bulk vectors as raw little-endian bytes, control
/// messages through [`crate::codec`].
pub trait ChannelExt: Channel {
    /// Send a vector of ring elements as little-endian bytes, split into frames of at most
    /// [`BULK_FRAME`] bytes. Sends nothing for an empty slice.
    fn send_u64s(&mut self, v: &[u64]) -> Result<(), ChannelError> {
        for chunk in v.chunks(BULK_FRAME / 8) {
            let mut bytes = vec![0u8; chunk.len() * 8];
            for (out, x) in bytes.chunks_exact_mut(8).zip(chunk) {
                out.copy_from_slice(&x.to_le_bytes());
            }
            self.send_owned(bytes)?;
        }
        Ok(())
    }

    /// Receive exactly `n` ring elements sent with [`ChannelExt::send_u64s`].
    fn recv_u64s(&mut self, n: usize) -> Result<Vec<u64>, ChannelError> {
        let mut out = Vec::with_capacity(n.min(BULK_FRAME));
        while out.len() < n {
            let want = ((n - out.len()) * 8).min(BULK_FRAME);
            let frame = self.recv(want)?;
            if frame.is_empty() || frame.len() % 8 != 0 {
                return Err(ChannelError::Protocol {
                    peer: self.peer().to_string(),
                    detail: format!(
                        "bulk frame of {} bytes is not a whole number of ring elements",
                        frame.len()
                    ),
                });
            }
            out.extend(
                frame
                    .as_chunks::<8>()
                    .0
                    .iter()
                    .map(|c| u64::from_le_bytes(*c)),
            );
        }
        Ok(out)
    }

    /// Send one ring element.
    fn send_u64(&mut self, x: u64) -> Result<(), ChannelError> {
        self.send(&x.to_le_bytes())
    }

    /// Receive one ring element.
    fn recv_u64(&mut self) -> Result<u64, ChannelError> {
        let frame = self.recv(8)?;
        let arr: [u8; 8] = frame
            .as_slice()
            .try_into()
            .map_err(|_| ChannelError::Protocol {
                peer: self.peer().to_string(),
                detail: format!("expected an 8-byte value, got {} bytes", frame.len()),
            })?;
        Ok(u64::from_le_bytes(arr))
    }

    /// Send a block of bytes (e.g. compressed curve points), split into frames of at most
    /// [`BULK_FRAME`] bytes. Sends nothing for an empty slice.
    fn send_bulk(&mut self, bytes: &[u8]) -> Result<(), ChannelError> {
        for chunk in bytes.chunks(BULK_FRAME) {
            self.send(chunk)?;
        }
        Ok(())
    }

    /// Receive exactly `n` bytes sent with [`ChannelExt::send_bulk`].
    fn recv_bulk(&mut self, n: usize) -> Result<Vec<u8>, ChannelError> {
        let mut out = Vec::with_capacity(n.min(BULK_FRAME));
        while out.len() < n {
            let want = (n - out.len()).min(BULK_FRAME);
            let frame = self.recv(want)?;
            if frame.is_empty() {
                return Err(ChannelError::Protocol {
                    peer: self.peer().to_string(),
                    detail: "empty bulk frame".to_string(),
                });
            }
            out.extend_from_slice(&frame);
        }
        Ok(out)
    }

    /// Send a control message through the codec ([`codec::encode_checked`]: a message a
    /// receiver would refuse is [`ChannelError::Encode`] here, before anything is sent).
    fn send_msg<T: Encode + Decode>(&mut self, msg: &T) -> Result<(), ChannelError> {
        let bytes = codec::encode_checked(msg).map_err(|source| ChannelError::Encode {
            peer: self.peer().to_string(),
            source,
        })?;
        self.send_owned(bytes)
    }

    /// Receive one control message of type `T` through the codec ([`codec::decode_exact`]):
    /// a frame of at most [`codec::MAX_CONTROL_MESSAGE`] bytes holding exactly one message.
    fn recv_msg<T: Decode>(&mut self) -> Result<T, ChannelError> {
        let frame = self.recv(codec::MAX_CONTROL_MESSAGE)?;
        codec::decode_exact(&frame).map_err(|e| ChannelError::Protocol {
            peer: self.peer().to_string(),
            detail: e.to_string(),
        })
    }
}

impl<C: Channel + ?Sized> ChannelExt for C {}
