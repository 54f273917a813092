//! The one codec of every protocol control message.
//!
//! Control messages (the transport hello, the dealer's hello and operation headers, the sizes
//! after the join, the opening messages of the joins) implement [`Encode`] and [`Decode`]:
//! a fixed, explicit byte layout written by hand, integers little endian, in the manner of
//! rustls's `Codec` and libprio's `Encode`/`Decode`. Decoding is strict:
//!
//! - a [`Reader`] knows how many bytes are left; reading past the end is
//!   [`CodecError::Truncated`], never a panic;
//! - a length read from the network is checked against an explicit maximum *before* anything
//!   is allocated ([`Reader::bytes`], [`Reader::string`], [`Reader::vec`]);
//! - [`decode_exact`] refuses input longer than [`MAX_CONTROL_MESSAGE`] and bytes left over
//!   after the message ([`CodecError::TrailingBytes`]);
//! - every error names the message kind ([`Decode::WHAT`]) and what was wrong.
//!
//! Bulk data (share vectors, curve points, tag and position streams) never goes through here:
//! it travels as raw little-endian frames (see [`crate::channel::ChannelExt`]); only the
//! headers in front of such frames are read with a [`Reader`].
//!
//! ```
//! use samen_core::codec::{decode_exact, encode_to_vec, CodecError, Decode, Encode, Reader};
//!
//! /// A made-up message: a round number and a name of at most 16 bytes.
//! #[derive(Debug, PartialEq)]
//! struct Ping { round: u32, name: String }
//!
//! impl Encode for Ping {
//!     fn encode(&self, out: &mut Vec<u8>) {
//!         self.round.encode(out);
//!         samen_core::codec::put_str(out, &self.name);
//!     }
//! }
//!
//! impl Decode for Ping {
//!     const WHAT: &'static str = "ping";
//!     fn read(r: &mut Reader<'_>) -> Result<Self, CodecError> {
//!         Ok(Ping { round: r.u32()?, name: r.string("name", 16)? })
//!     }
//! }
//!
//! let ping = Ping { round: 7, name: "a".into() };
//! let bytes = encode_to_vec(&ping);
//! assert_eq!(bytes, [7, 0, 0, 0, 1, 0, 0, 0, b'a']);
//! assert_eq!(decode_exact::<Ping>(&bytes).unwrap(), ping);
//! let mut longer = bytes.clone();
//! longer.push(0);
//! assert_eq!(
//!     decode_exact::<Ping>(&longer),
//!     Err(CodecError::TrailingBytes { what: "ping", count: 1 })
//! );
//! assert!(matches!(decode_exact::<Ping>(&bytes[..3]), Err(CodecError::Truncated { .. })));
//! ```

use thiserror::Error;

/// Upper bound on the encoded size of any control message, in bytes.
pub const MAX_CONTROL_MESSAGE: usize = 64 * 1024;

/// A control message that is not valid, or (when sending) too large. Every variant names the
/// message kind (`what`, a [`Decode::WHAT`]).
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum CodecError {
    /// The message ended before a field was complete.
    #[error("malformed {what}: truncated (wanted {wanted} more bytes, {left} left)")]
    Truncated {
        /// The message kind.
        what: &'static str,
        /// Bytes the next field needs.
        wanted: usize,
        /// Bytes that were left.
        left: usize,
    },
    /// A length prefix announces more than the field allows (checked before allocating).
    #[error("malformed {what}: {field} of length {len} exceeds the limit of {max}")]
    LengthOverLimit {
        /// The message kind.
        what: &'static str,
        /// The field.
        field: &'static str,
        /// The announced length (bytes, or items for a vector).
        len: u64,
        /// The field's limit.
        max: usize,
    },
    /// A field holds a value its type does not allow (an unknown tag, kind or role byte).
    #[error("malformed {what}: {field} has the invalid value {value}")]
    BadValue {
        /// The message kind.
        what: &'static str,
        /// The field.
        field: &'static str,
        /// The value received.
        value: u64,
    },
    /// The message is of another version of its kind (an incompatible samen release).
    #[error(
        "{what} of version {got}, but this party speaks version {expected} (install the same \
         samen release at every party)"
    )]
    Version {
        /// The message kind.
        what: &'static str,
        /// The version received.
        got: u64,
        /// The version this party speaks.
        expected: u64,
    },
    /// The message is complete but bytes are left over.
    #[error("malformed {what}: {count} trailing bytes")]
    TrailingBytes {
        /// The message kind.
        what: &'static str,
        /// Bytes left over.
        count: usize,
    },
    /// A text field is not valid UTF-8.
    #[error("malformed {what}: {field} is not valid UTF-8")]
    InvalidUtf8 {
        /// The message kind.
        what: &'static str,
        /// The field.
        field: &'static str,
    },
    /// The message is larger than [`MAX_CONTROL_MESSAGE`].
    #[error(
        "{what} of {len} bytes exceeds the control-message limit of {MAX_CONTROL_MESSAGE} bytes"
    )]
    TooLarge {
        /// The message kind.
        what: &'static str,
        /// Its length.
        len: usize,
    },
}

/// A value that writes itself in its wire layout.
pub trait Encode {
    /// Append the encoding to `out`.
    fn encode(&self, out: &mut Vec<u8>);

    /// The exact encoded length if it is cheap to know (used to size buffers).
    fn encoded_len(&self) -> Option<usize> {
        None
    }
}

/// A message that reads itself from a [`Reader`], strictly.
pub trait Decode: Sized {
    /// The message kind's name, as errors and the protocol documents call it.
    const WHAT: &'static str;

    /// Read one message from `r`; leaves the bytes after it in `r`.
    fn read(r: &mut Reader<'_>) -> Result<Self, CodecError>;
}

/// A cursor over received bytes that knows how many are left. No read can panic: a read past
/// the end is [`CodecError::Truncated`]. Errors name the message kind given at construction.
#[derive(Clone, Debug)]
pub struct Reader<'a> {
    what: &'static str,
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `bytes`, which hold (the start of) a message of kind `what`.
    pub fn new(what: &'static str, bytes: &'a [u8]) -> Reader<'a> {
        Reader { what, rest: bytes }
    }

    /// The message kind this reader reads (for errors raised by callers).
    pub fn what(&self) -> &'static str {
        self.what
    }

    /// Bytes left.
    pub fn left(&self) -> usize {
        self.rest.len()
    }

    /// Whether no byte is left.
    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], CodecError> {
        if n > self.rest.len() {
            return Err(CodecError::Truncated {
                what: self.what,
                wanted: n,
                left: self.rest.len(),
            });
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    /// The next `N` bytes as an array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], CodecError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    /// One byte.
    pub fn u8(&mut self) -> Result<u8, CodecError> {
        Ok(u8::from_le_bytes(self.array()?))
    }

    /// A little-endian `u16`.
    pub fn u16(&mut self) -> Result<u16, CodecError> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    /// A little-endian `u32`.
    pub fn u32(&mut self) -> Result<u32, CodecError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    /// A little-endian `u64`.
    pub fn u64(&mut self) -> Result<u64, CodecError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// A `u32` length prefix, checked against `max` before anything is read or allocated.
    fn length(&mut self, field: &'static str, max: usize) -> Result<usize, CodecError> {
        let len = self.u32()?;
        match usize::try_from(len) {
            Ok(n) if n <= max => Ok(n),
            _ => Err(CodecError::LengthOverLimit {
                what: self.what,
                field,
                len: u64::from(len),
                max,
            }),
        }
    }

    /// A byte string with a `u32` length prefix of at most `max` bytes.
    pub fn bytes(&mut self, field: &'static str, max: usize) -> Result<&'a [u8], CodecError> {
        let n = self.length(field, max)?;
        self.take(n)
    }

    /// A UTF-8 string with a `u32` length prefix of at most `max` bytes.
    pub fn string(&mut self, field: &'static str, max: usize) -> Result<String, CodecError> {
        let bytes = self.bytes(field, max)?;
        match std::str::from_utf8(bytes) {
            Ok(s) => Ok(s.to_owned()),
            Err(_) => Err(CodecError::InvalidUtf8 {
                what: self.what,
                field,
            }),
        }
    }

    /// A vector with a `u32` item-count prefix of at most `max` items, each read by `item`.
    /// The count is checked against `max` and against the bytes left (each item takes at
    /// least one byte) before anything is allocated.
    pub fn vec<T>(
        &mut self,
        field: &'static str,
        max: usize,
        mut item: impl FnMut(&mut Reader<'a>) -> Result<T, CodecError>,
    ) -> Result<Vec<T>, CodecError> {
        let n = self.length(field, max)?;
        if n > self.rest.len() {
            return Err(CodecError::Truncated {
                what: self.what,
                wanted: n,
                left: self.rest.len(),
            });
        }
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(item(self)?);
        }
        Ok(out)
    }

    /// The error for a field of this message holding a value its type does not allow.
    pub fn bad_value(&self, field: &'static str, value: u64) -> CodecError {
        CodecError::BadValue {
            what: self.what,
            field,
            value,
        }
    }

    /// Read a version field (one byte) and check that it is `expected`.
    pub fn version(&mut self, expected: u8) -> Result<(), CodecError> {
        let got = self.u8()?;
        if got == expected {
            Ok(())
        } else {
            Err(CodecError::Version {
                what: self.what,
                got: u64::from(got),
                expected: u64::from(expected),
            })
        }
    }

    /// End of the message: any byte left is [`CodecError::TrailingBytes`].
    pub fn finish(self) -> Result<(), CodecError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(CodecError::TrailingBytes {
                what: self.what,
                count: self.rest.len(),
            })
        }
    }
}

macro_rules! encode_le {
    ($($t:ty),*) => {$(
        impl Encode for $t {
            fn encode(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
            fn encoded_len(&self) -> Option<usize> {
                Some(std::mem::size_of::<$t>())
            }
        }
    )*};
}

encode_le!(u8, u16, u32, u64);

impl<const N: usize> Encode for [u8; N] {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self);
    }
    fn encoded_len(&self) -> Option<usize> {
        Some(N)
    }
}

/// Write a `u32` length or item-count prefix (read back by [`Reader::bytes`],
/// [`Reader::string`] and [`Reader::vec`]). A length above `u32::MAX` cannot belong to a control
/// message: the prefix saturates, the receiver refuses it, and so does [`encode_checked`].
pub fn put_len(out: &mut Vec<u8>, len: usize) {
    u32::try_from(len).unwrap_or(u32::MAX).encode(out);
}

/// Write a byte string: `u32` length prefix, then the bytes (read back with [`Reader::bytes`]).
pub fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_len(out, bytes.len());
    out.extend_from_slice(bytes);
}

/// Write a UTF-8 string like a byte string (read back with [`Reader::string`]).
pub fn put_str(out: &mut Vec<u8>, s: &str) {
    put_bytes(out, s.as_bytes());
}

/// Encode a message into a new buffer.
pub fn encode_to_vec<T: Encode + ?Sized>(msg: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(msg.encoded_len().unwrap_or(64));
    msg.encode(&mut out);
    out
}

/// Encode a message that this party is about to send and check that a receiver accepts it:
/// at most [`MAX_CONTROL_MESSAGE`] bytes, every field within the limits its decoder enforces.
pub fn encode_checked<T: Encode + Decode>(msg: &T) -> Result<Vec<u8>, CodecError> {
    let bytes = encode_to_vec(msg);
    decode_exact::<T>(&bytes)?;
    Ok(bytes)
}

/// Decode exactly one message of type `T` from `bytes`: input longer than
/// [`MAX_CONTROL_MESSAGE`] and bytes left over after the message are errors.
pub fn decode_exact<T: Decode>(bytes: &[u8]) -> Result<T, CodecError> {
    if bytes.len() > MAX_CONTROL_MESSAGE {
        return Err(CodecError::TooLarge {
            what: T::WHAT,
            len: bytes.len(),
        });
    }
    let mut r = Reader::new(T::WHAT, bytes);
    let msg = T::read(&mut r)?;
    r.finish()?;
    Ok(msg)
}

/// Checks shared by the golden-vector tests of every message kind (here and in the other
/// samen crates): the encoding is the hex string, the hex string decodes to the value, and
/// the bytes plus one trailing byte and every truncation are rejected.
#[cfg(any(test, feature = "fuzzing"))]
pub mod golden {
    use super::{decode_exact, encode_to_vec, CodecError, Decode, Encode};

    /// Lower-case hex of `bytes`.
    pub fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Check `msg` against its golden encoding `expected_hex` (see the [module](self)).
    ///
    /// # Panics
    /// If any check fails (this is test code).
    pub fn check<T: Encode + Decode + PartialEq + std::fmt::Debug>(msg: &T, expected_hex: &str) {
        let bytes = encode_to_vec(msg);
        assert_eq!(hex(&bytes), expected_hex, "{} encoding", T::WHAT);
        if let Some(len) = msg.encoded_len() {
            assert_eq!(len, bytes.len(), "{} encoded_len", T::WHAT);
        }
        assert_eq!(
            decode_exact::<T>(&bytes).as_ref(),
            Ok(msg),
            "{} decoding",
            T::WHAT
        );
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(
            decode_exact::<T>(&longer).err(),
            Some(CodecError::TrailingBytes {
                what: T::WHAT,
                count: 1
            }),
            "{} with a trailing byte",
            T::WHAT
        );
        for cut in 0..bytes.len() {
            let short = bytes.get(..cut).unwrap_or_default();
            assert!(
                decode_exact::<T>(short).is_err(),
                "{} truncated to {cut} bytes was accepted",
                T::WHAT
            );
        }
    }
}

#[cfg(test)]
mod tests;
