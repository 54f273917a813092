//! Byte layouts of the helper-assisted join's messages: one strict codec for all of them.
//!
//! Every message starts with the version byte [`WIRE_VERSION`] and a kind byte
//! ([`MessageKind`]), followed by a body of fixed layout; integers are little endian. A decoder
//! is given the exact length it expects (derived from sizes the receiver already knows) and
//! rejects any other length, so truncated frames and trailing bytes are errors, never a panic.
//!
//! | kind | from → to | bytes |
//! |---|---|---|
//! | 1 `key` | First → Second | `01 01 ‖ k` (32 bytes) — 34 |
//! | 2 `peer-hello` | Second → First | `01 02 ‖ role (02)` — 3 |
//! | 3 `hello` | data party → helper | `01 03 ‖ role (01 First, 02 Second) ‖ size u64` — 11 |
//! | 4 `tags` | data party → helper | `01 04 ‖ c × 16-byte tag` — `2 + 16c` |
//! | 5 `sizes` | helper → data party | `01 05 ‖ |A| u64 ‖ |B| u64 ‖ N u64` — 26 |
//! | 6 `positions` | helper → data party | `01 06 ‖ c × position u32` — `2 + 4c` |
//!
//! Tag and position streams are cut into frames of [`ITEMS_PER_FRAME`] items (the last frame
//! holds the rest; an empty stream sends no frame), so `c` is known to the receiver.

use std::fmt;

use thiserror::Error;
use zeroize::Zeroizing;

use super::JoinSizes;
use crate::JoinRole;

/// Version of the helper-assisted join's messages; the first byte of every message.
pub const WIRE_VERSION: u8 = 1;

/// Length of one tag, in bytes (HMAC-SHA256 truncated to 128 bits).
pub const TAG_LEN: usize = 16;

/// Tags (and positions) per frame: `2^16` tags make a frame of 1 MiB plus the header.
pub const ITEMS_PER_FRAME: usize = 1 << 16;

/// Length of the header (version, kind) in front of every message.
pub const HEADER_LEN: usize = 2;

/// Length of the `key` message.
pub const KEY_LEN: usize = HEADER_LEN + 32;

/// Length of the `peer-hello` message.
pub const PEER_HELLO_LEN: usize = HEADER_LEN + 1;

/// Length of the `hello` message.
pub const HELLO_LEN: usize = HEADER_LEN + 1 + 8;

/// Length of the `sizes` message.
pub const SIZES_LEN: usize = HEADER_LEN + 3 * 8;

/// One party's pseudonymous tag of one identifier.
pub type Tag = [u8; TAG_LEN];

/// The kind byte of a message (its second byte).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageKind {
    /// First sends the per-run tag key to Second.
    Key = 1,
    /// Second's answer to the key: it holds the role Second.
    PeerHello = 2,
    /// A data party's opening message to the helper: its role and table size.
    Hello = 3,
    /// A frame of tags, data party → helper.
    Tags = 4,
    /// The sizes `|A|`, `|B|`, `N`, helper → data party.
    Sizes = 5,
    /// A frame of positions, helper → data party.
    Positions = 6,
}

impl MessageKind {
    /// The kind's name, as in the documentation.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Key => "key",
            MessageKind::PeerHello => "peer-hello",
            MessageKind::Hello => "hello",
            MessageKind::Tags => "tags",
            MessageKind::Sizes => "sizes",
            MessageKind::Positions => "positions",
        }
    }
}

impl fmt::Display for MessageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A message that does not have the layout of the kind the receiver expects.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum WireError {
    /// The message is empty (it carries not even a version byte).
    #[error("empty message where a '{expected}' message was expected")]
    Empty {
        /// The kind expected.
        expected: MessageKind,
    },
    /// The first byte is not [`WIRE_VERSION`].
    #[error("message of helper-join version {got}; this party speaks version {WIRE_VERSION} (update samen on both sides)")]
    Version {
        /// The version byte received.
        got: u8,
    },
    /// The kind byte is not the kind expected at this point of the protocol.
    #[error("message of kind {got} where a '{expected}' message (kind {}) was expected", *expected as u8)]
    Kind {
        /// The kind expected.
        expected: MessageKind,
        /// The kind byte received.
        got: u8,
    },
    /// The message has the right header but not the exact length of its kind.
    #[error("'{kind}' message of {got} bytes; expected exactly {expected} bytes")]
    Length {
        /// The message kind.
        kind: MessageKind,
        /// The exact length expected.
        expected: usize,
        /// The length received.
        got: usize,
    },
    /// A role byte is neither 1 (First) nor 2 (Second).
    #[error("role byte {got} is neither 1 (First) nor 2 (Second)")]
    Role {
        /// The role byte received.
        got: u8,
    },
}

/// Check version, kind and exact length; return the body.
fn body(bytes: &[u8], kind: MessageKind, expected_len: usize) -> Result<&[u8], WireError> {
    let (&version, rest) = bytes
        .split_first()
        .ok_or(WireError::Empty { expected: kind })?;
    if version != WIRE_VERSION {
        return Err(WireError::Version { got: version });
    }
    let (&got, body) = rest.split_first().ok_or(WireError::Length {
        kind,
        expected: expected_len,
        got: bytes.len(),
    })?;
    if got != kind as u8 {
        return Err(WireError::Kind {
            expected: kind,
            got,
        });
    }
    if bytes.len() != expected_len {
        return Err(WireError::Length {
            kind,
            expected: expected_len,
            got: bytes.len(),
        });
    }
    Ok(body)
}

fn with_header(kind: MessageKind, body_len: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(HEADER_LEN + body_len);
    v.push(WIRE_VERSION);
    v.push(kind as u8);
    v
}

fn u64_at(body: &[u8], i: usize) -> u64 {
    let mut b = [0u8; 8];
    if let Some(s) = body.get(8 * i..8 * i + 8) {
        b.copy_from_slice(s);
    }
    u64::from_le_bytes(b)
}

fn role_from_byte(b: u8) -> Result<JoinRole, WireError> {
    match b {
        1 => Ok(JoinRole::First),
        2 => Ok(JoinRole::Second),
        got => Err(WireError::Role { got }),
    }
}

/// Encode the `key` message (zeroized when dropped).
pub fn encode_key(key: &[u8; 32]) -> Zeroizing<Vec<u8>> {
    let mut v = Zeroizing::new(with_header(MessageKind::Key, 32));
    v.extend_from_slice(key);
    v
}

/// Decode the `key` message.
pub fn decode_key(bytes: &[u8]) -> Result<Zeroizing<[u8; 32]>, WireError> {
    let b = body(bytes, MessageKind::Key, KEY_LEN)?;
    let mut key = Zeroizing::new([0u8; 32]);
    key.copy_from_slice(b);
    Ok(key)
}

/// Encode the `peer-hello` message.
pub fn encode_peer_hello(role: JoinRole) -> Vec<u8> {
    let mut v = with_header(MessageKind::PeerHello, 1);
    v.push(role.tag());
    v
}

/// Decode the `peer-hello` message.
pub fn decode_peer_hello(bytes: &[u8]) -> Result<JoinRole, WireError> {
    let b = body(bytes, MessageKind::PeerHello, PEER_HELLO_LEN)?;
    role_from_byte(b.first().copied().unwrap_or(0))
}

/// A data party's opening message to the helper.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hello {
    /// The sender's role.
    pub role: JoinRole,
    /// The sender's table size (number of tags it will send).
    pub size: u64,
}

/// Encode the `hello` message.
pub fn encode_hello(hello: Hello) -> Vec<u8> {
    let mut v = with_header(MessageKind::Hello, 9);
    v.push(hello.role.tag());
    v.extend_from_slice(&hello.size.to_le_bytes());
    v
}

/// Decode the `hello` message.
pub fn decode_hello(bytes: &[u8]) -> Result<Hello, WireError> {
    let b = body(bytes, MessageKind::Hello, HELLO_LEN)?;
    let (&role, size) = b.split_first().ok_or(WireError::Length {
        kind: MessageKind::Hello,
        expected: HELLO_LEN,
        got: bytes.len(),
    })?;
    Ok(Hello {
        role: role_from_byte(role)?,
        size: u64_at(size, 0),
    })
}

/// Length of a `tags` message carrying `count` tags.
pub fn tags_len(count: usize) -> usize {
    HEADER_LEN + TAG_LEN * count
}

/// Encode a `tags` message.
pub fn encode_tags(tags: &[Tag]) -> Vec<u8> {
    let mut v = with_header(MessageKind::Tags, TAG_LEN * tags.len());
    for t in tags {
        v.extend_from_slice(t);
    }
    v
}

/// Decode a `tags` message that must carry exactly `count` tags.
pub fn decode_tags(
    bytes: &[u8],
    count: usize,
) -> Result<impl ExactSizeIterator<Item = Tag> + '_, WireError> {
    let b = body(bytes, MessageKind::Tags, tags_len(count))?;
    Ok(b.chunks_exact(TAG_LEN).map(|c| {
        let mut t = [0u8; TAG_LEN];
        t.copy_from_slice(c);
        t
    }))
}

/// Encode the `sizes` message.
pub fn encode_sizes(sizes: JoinSizes) -> Vec<u8> {
    let mut v = with_header(MessageKind::Sizes, 24);
    for x in [sizes.first, sizes.second, sizes.union] {
        v.extend_from_slice(&x.to_le_bytes());
    }
    v
}

/// Decode the `sizes` message (the values are checked by the caller).
pub fn decode_sizes(bytes: &[u8]) -> Result<JoinSizes, WireError> {
    let b = body(bytes, MessageKind::Sizes, SIZES_LEN)?;
    Ok(JoinSizes {
        first: u64_at(b, 0),
        second: u64_at(b, 1),
        union: u64_at(b, 2),
    })
}

/// Length of a `positions` message carrying `count` positions.
pub fn positions_len(count: usize) -> usize {
    HEADER_LEN + 4 * count
}

/// Encode a `positions` message.
pub fn encode_positions(positions: &[u32]) -> Vec<u8> {
    let mut v = with_header(MessageKind::Positions, 4 * positions.len());
    for p in positions {
        v.extend_from_slice(&p.to_le_bytes());
    }
    v
}

/// Decode a `positions` message that must carry exactly `count` positions (their range is
/// checked by the caller).
pub fn decode_positions(
    bytes: &[u8],
    count: usize,
) -> Result<impl ExactSizeIterator<Item = u32> + '_, WireError> {
    let b = body(bytes, MessageKind::Positions, positions_len(count))?;
    Ok(b.chunks_exact(4).map(|c| {
        let mut p = [0u8; 4];
        p.copy_from_slice(c);
        u32::from_le_bytes(p)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    // Golden vectors: the exact bytes of each message kind.
    #[test]
    fn golden_key() {
        let key: [u8; 32] = std::array::from_fn(|i| i as u8);
        let m = encode_key(&key);
        assert_eq!(
            hex(&m),
            "0101000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
        );
        assert_eq!(*decode_key(&m).unwrap(), key);
    }

    #[test]
    fn golden_peer_hello() {
        let m = encode_peer_hello(JoinRole::Second);
        assert_eq!(hex(&m), "010202");
        assert_eq!(decode_peer_hello(&m).unwrap(), JoinRole::Second);
    }

    #[test]
    fn golden_hello() {
        let h = Hello {
            role: JoinRole::First,
            size: 0x0102_0304_0506,
        };
        let m = encode_hello(h);
        assert_eq!(hex(&m), "0103010605040302010000");
        assert_eq!(decode_hello(&m).unwrap(), h);
        let m = encode_hello(Hello {
            role: JoinRole::Second,
            size: 5,
        });
        assert_eq!(hex(&m), "0103020500000000000000");
    }

    #[test]
    fn golden_tags() {
        let tags = [[0xaau8; 16], std::array::from_fn(|i| i as u8)];
        let m = encode_tags(&tags);
        assert_eq!(
            hex(&m),
            "0104aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa000102030405060708090a0b0c0d0e0f"
        );
        assert_eq!(decode_tags(&m, 2).unwrap().collect::<Vec<_>>(), tags);
        assert_eq!(hex(&encode_tags(&[])), "0104");
    }

    #[test]
    fn golden_sizes() {
        let s = JoinSizes {
            first: 3,
            second: 0x100,
            union: 0x0102,
        };
        let m = encode_sizes(s);
        assert_eq!(
            hex(&m),
            "0105030000000000000000010000000000000201000000000000"
        );
        assert_eq!(decode_sizes(&m).unwrap(), s);
    }

    #[test]
    fn golden_positions() {
        let p = [0u32, 1, 0x0102_0304];
        let m = encode_positions(&p);
        assert_eq!(hex(&m), "0106000000000100000004030201");
        assert_eq!(decode_positions(&m, 3).unwrap().collect::<Vec<_>>(), p);
    }

    #[test]
    fn wrong_version_kind_length_and_role_are_rejected() {
        let good = encode_hello(Hello {
            role: JoinRole::First,
            size: 1,
        });
        let mut v = good.clone();
        v[0] = 2;
        assert_eq!(decode_hello(&v), Err(WireError::Version { got: 2 }));
        let mut v = good.clone();
        v[1] = MessageKind::Sizes as u8;
        assert!(matches!(
            decode_hello(&v),
            Err(WireError::Kind { got: 5, .. })
        ));
        let mut v = good.clone();
        v.push(0);
        assert!(matches!(
            decode_hello(&v),
            Err(WireError::Length { got: 12, .. })
        ));
        assert!(matches!(
            decode_hello(&good[..10]),
            Err(WireError::Length { got: 10, .. })
        ));
        assert!(matches!(decode_hello(&[]), Err(WireError::Empty { .. })));
        assert!(matches!(decode_hello(&[1]), Err(WireError::Length { .. })));
        let mut v = good;
        v[2] = 3;
        assert_eq!(decode_hello(&v), Err(WireError::Role { got: 3 }));
        let tags = encode_tags(&[[1; 16]; 3]);
        assert!(decode_tags(&tags, 2).is_err());
        assert!(decode_tags(&tags, 4).is_err());
        assert!(decode_tags(&tags[..tags.len() - 1], 3).is_err());
        let pos = encode_positions(&[1, 2]);
        assert!(decode_positions(&pos, 1).is_err());
        assert!(decode_positions(&pos, 3).is_err());
    }
}
