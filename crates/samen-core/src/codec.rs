//! The one place where control messages are (de)serialised.
//!
//! Control messages (hellos, aborts, small protocol headers) go through bincode 2, pinned at
//! `=2.0.1` and reachable only through this module so that the serializer can be swapped.
//! Bulk data (share vectors, curve points) never goes through here: it travels as raw
//! little-endian bytes (see [`crate::channel::ChannelExt`]).

use thiserror::Error;

/// Upper bound on the encoded size of any control message, in bytes.
pub const MAX_CONTROL_MESSAGE: usize = 64 * 1024;

/// An error encoding or decoding a control message.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CodecError {
    /// The message could not be encoded.
    #[error("cannot encode control message: {0}")]
    Encode(String),
    /// The bytes are not a valid message of the expected type.
    #[error("malformed control message: {0}")]
    Decode(String),
    /// The bytes decode to a message but bytes are left over.
    #[error("malformed control message: {0} trailing bytes")]
    TrailingBytes(usize),
    /// The message is larger than [`MAX_CONTROL_MESSAGE`].
    #[error("control message of {0} bytes exceeds the limit of {MAX_CONTROL_MESSAGE} bytes")]
    TooLarge(usize),
}

fn config() -> impl bincode::config::Config {
    bincode::config::standard()
        .with_little_endian()
        .with_variable_int_encoding()
        .with_limit::<MAX_CONTROL_MESSAGE>()
}

/// Encode a control message.
///
/// ```
/// #[derive(bincode::Encode, bincode::Decode, PartialEq, Debug)]
/// struct Ping { round: u32 }
/// let bytes = samen_core::codec::encode(&Ping { round: 7 }).unwrap();
/// let back: Ping = samen_core::codec::decode(&bytes).unwrap();
/// assert_eq!(back, Ping { round: 7 });
/// ```
pub fn encode<T: bincode::Encode>(msg: &T) -> Result<Vec<u8>, CodecError> {
    let bytes =
        bincode::encode_to_vec(msg, config()).map_err(|e| CodecError::Encode(e.to_string()))?;
    if bytes.len() > MAX_CONTROL_MESSAGE {
        return Err(CodecError::TooLarge(bytes.len()));
    }
    Ok(bytes)
}

/// Decode a control message, rejecting oversized input and trailing bytes.
pub fn decode<T: bincode::Decode<()>>(bytes: &[u8]) -> Result<T, CodecError> {
    if bytes.len() > MAX_CONTROL_MESSAGE {
        return Err(CodecError::TooLarge(bytes.len()));
    }
    let (msg, used) = bincode::decode_from_slice(bytes, config())
        .map_err(|e| CodecError::Decode(e.to_string()))?;
    if used != bytes.len() {
        return Err(CodecError::TrailingBytes(bytes.len() - used));
    }
    Ok(msg)
}
