//! Byte layouts of the helper-assisted join's messages, on the shared codec
//! ([`samen_core::codec`]).
//!
//! Every message starts with the version byte [`WIRE_VERSION`] and a kind byte
//! ([`MessageKind`]), followed by a body of fixed layout; integers are little endian. The
//! control messages ([`Key`], [`PeerHello`], [`Hello`], [`JoinSizes`]) implement
//! [`Encode`]/[`Decode`] and are read with [`samen_core::codec::decode_exact`]; the tag and position streams
//! are bulk frames whose header is read with the same [`Reader`] and whose body must have
//! exactly the length the receiver expects (derived from sizes it already knows). Truncated
//! frames, trailing bytes, another version or kind are [`CodecError`]s, never a panic.
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

use samen_core::codec::{CodecError, Decode, Encode, Reader};
use zeroize::Zeroizing;

use super::JoinSizes;
use crate::{read_role, role_tag};
use samen_core::Role;

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

    /// The message kind's name in codec errors.
    fn what(self) -> &'static str {
        match self {
            MessageKind::Key => "helper-join key",
            MessageKind::PeerHello => "helper-join peer-hello",
            MessageKind::Hello => "helper-join hello",
            MessageKind::Tags => "helper-join tags",
            MessageKind::Sizes => "helper-join sizes",
            MessageKind::Positions => "helper-join positions",
        }
    }

    /// Write the header: version, kind.
    fn encode(self, out: &mut Vec<u8>) {
        WIRE_VERSION.encode(out);
        (self as u8).encode(out);
    }

    /// Read and check the header: [`WIRE_VERSION`], then this kind
    /// ([`CodecError::BadValue`] with field `kind` for another).
    fn read(self, r: &mut Reader<'_>) -> Result<(), CodecError> {
        r.version(WIRE_VERSION)?;
        let kind = r.u8()?;
        if kind == self as u8 {
            Ok(())
        } else {
            Err(r.bad_value("kind", u64::from(kind)))
        }
    }
}

impl fmt::Display for MessageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether `e` says that a message of kind `kind` arrived where another kind was expected.
pub fn is_kind(e: &CodecError, kind: MessageKind) -> bool {
    matches!(e, CodecError::BadValue { field: "kind", value, .. } if *value == kind as u64)
}

/// The `key` message: First's per-run tag key, sent to Second (`01 01 ‖ k`). Secret: its
/// `Debug` prints no bytes; encode it into a zeroizing buffer.
pub struct Key(pub Zeroizing<[u8; 32]>);

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key(..)")
    }
}

impl Encode for Key {
    fn encode(&self, out: &mut Vec<u8>) {
        MessageKind::Key.encode(out);
        out.extend_from_slice(self.0.as_slice());
    }
    fn encoded_len(&self) -> Option<usize> {
        Some(KEY_LEN)
    }
}

impl Decode for Key {
    const WHAT: &'static str = "helper-join key";
    fn read(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        MessageKind::Key.read(r)?;
        let mut key = Zeroizing::new([0u8; 32]);
        key.copy_from_slice(r.take(32)?);
        Ok(Key(key))
    }
}

/// The `peer-hello` message: Second's answer to the key, with its role (`01 02 ‖ role`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerHello {
    /// The sender's role (Second).
    pub role: Role,
}

impl Encode for PeerHello {
    fn encode(&self, out: &mut Vec<u8>) {
        MessageKind::PeerHello.encode(out);
        role_tag(self.role).encode(out);
    }
    fn encoded_len(&self) -> Option<usize> {
        Some(PEER_HELLO_LEN)
    }
}

impl Decode for PeerHello {
    const WHAT: &'static str = "helper-join peer-hello";
    fn read(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        MessageKind::PeerHello.read(r)?;
        Ok(PeerHello {
            role: read_role(r)?,
        })
    }
}

/// A data party's opening message to the helper (`01 03 ‖ role ‖ size u64`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hello {
    /// The sender's role.
    pub role: Role,
    /// The sender's table size (number of tags it will send).
    pub size: u64,
}

impl Encode for Hello {
    fn encode(&self, out: &mut Vec<u8>) {
        MessageKind::Hello.encode(out);
        role_tag(self.role).encode(out);
        self.size.encode(out);
    }
    fn encoded_len(&self) -> Option<usize> {
        Some(HELLO_LEN)
    }
}

impl Decode for Hello {
    const WHAT: &'static str = "helper-join hello";
    fn read(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        MessageKind::Hello.read(r)?;
        Ok(Hello {
            role: read_role(r)?,
            size: r.u64()?,
        })
    }
}

/// The `sizes` message, helper → data party (`01 05 ‖ |A| ‖ |B| ‖ N`, each `u64`; the values
/// are checked by the receiver).
impl Encode for JoinSizes {
    fn encode(&self, out: &mut Vec<u8>) {
        MessageKind::Sizes.encode(out);
        self.first.encode(out);
        self.second.encode(out);
        self.union.encode(out);
    }
    fn encoded_len(&self) -> Option<usize> {
        Some(SIZES_LEN)
    }
}

impl Decode for JoinSizes {
    const WHAT: &'static str = "helper-join sizes";
    fn read(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        MessageKind::Sizes.read(r)?;
        Ok(JoinSizes {
            first: r.u64()?,
            second: r.u64()?,
            union: r.u64()?,
        })
    }
}

/// The body of a bulk frame of `kind` that must carry exactly `body_len` bytes.
fn bulk_body(bytes: &[u8], kind: MessageKind, body_len: usize) -> Result<&[u8], CodecError> {
    let mut r = Reader::new(kind.what(), bytes);
    kind.read(&mut r)?;
    let body = r.take(body_len)?;
    r.finish()?;
    Ok(body)
}

/// Length of a `tags` message carrying `count` tags.
pub fn tags_len(count: usize) -> usize {
    HEADER_LEN + TAG_LEN * count
}

/// Encode a `tags` message (a bulk frame: `01 04 ‖ c × 16-byte tag`).
pub fn encode_tags(tags: &[Tag]) -> Vec<u8> {
    let mut v = Vec::with_capacity(tags_len(tags.len()));
    MessageKind::Tags.encode(&mut v);
    for t in tags {
        v.extend_from_slice(t);
    }
    v
}

/// Decode a `tags` message that must carry exactly `count` tags.
pub fn decode_tags(
    bytes: &[u8],
    count: usize,
) -> Result<impl ExactSizeIterator<Item = Tag> + '_, CodecError> {
    let b = bulk_body(bytes, MessageKind::Tags, TAG_LEN * count)?;
    Ok(b.chunks_exact(TAG_LEN).map(|c| {
        let mut t = [0u8; TAG_LEN];
        t.copy_from_slice(c);
        t
    }))
}

/// Length of a `positions` message carrying `count` positions.
pub fn positions_len(count: usize) -> usize {
    HEADER_LEN + 4 * count
}

/// Encode a `positions` message (a bulk frame: `01 06 ‖ c × position u32`).
pub fn encode_positions(positions: &[u32]) -> Vec<u8> {
    let mut v = Vec::with_capacity(positions_len(positions.len()));
    MessageKind::Positions.encode(&mut v);
    for p in positions {
        p.encode(&mut v);
    }
    v
}

/// Decode a `positions` message that must carry exactly `count` positions (their range is
/// checked by the caller).
pub fn decode_positions(
    bytes: &[u8],
    count: usize,
) -> Result<impl ExactSizeIterator<Item = u32> + '_, CodecError> {
    let b = bulk_body(bytes, MessageKind::Positions, 4 * count)?;
    Ok(b.chunks_exact(4).map(|c| {
        let mut p = [0u8; 4];
        p.copy_from_slice(c);
        u32::from_le_bytes(p)
    }))
}

/// Encode the `key` message into a buffer that is zeroized when dropped.
pub fn encode_key(key: &Key) -> Zeroizing<Vec<u8>> {
    let mut v = Zeroizing::new(Vec::with_capacity(KEY_LEN));
    key.encode(&mut v);
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use samen_core::codec;
    use samen_core::codec::golden::{self, hex};

    // Golden vectors: the exact bytes of each message kind.
    #[test]
    fn golden_key() {
        let key: [u8; 32] = std::array::from_fn(|i| i as u8);
        let m = encode_key(&Key(Zeroizing::new(key)));
        assert_eq!(
            hex(&m),
            "0101000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
        );
        assert_eq!(*codec::decode_exact::<Key>(&m).unwrap().0, key);
        let mut longer = m.to_vec();
        longer.push(0);
        assert!(matches!(
            codec::decode_exact::<Key>(&longer),
            Err(CodecError::TrailingBytes { count: 1, .. })
        ));
        for cut in 0..m.len() {
            assert!(codec::decode_exact::<Key>(&m[..cut]).is_err());
        }
    }

    #[test]
    fn golden_peer_hello() {
        golden::check(&PeerHello { role: Role::Second }, "010202");
    }

    #[test]
    fn golden_hello() {
        golden::check(
            &Hello {
                role: Role::First,
                size: 0x0102_0304_0506,
            },
            "0103010605040302010000",
        );
        golden::check(
            &Hello {
                role: Role::Second,
                size: 5,
            },
            "0103020500000000000000",
        );
    }

    #[test]
    fn golden_sizes() {
        golden::check(
            &JoinSizes {
                first: 3,
                second: 0x100,
                union: 0x0102,
            },
            "0105030000000000000000010000000000000201000000000000",
        );
    }

    /// Bulk frames: the golden bytes, and every other length refused.
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
        let mut longer = m.clone();
        longer.push(0);
        assert!(matches!(
            decode_tags(&longer, 2),
            Err(CodecError::TrailingBytes { count: 1, .. })
        ));
        for cut in 0..m.len() {
            assert!(decode_tags(&m[..cut], 2).is_err());
        }
    }

    #[test]
    fn golden_positions() {
        let p = [0u32, 1, 0x0102_0304];
        let m = encode_positions(&p);
        assert_eq!(hex(&m), "0106000000000100000004030201");
        assert_eq!(decode_positions(&m, 3).unwrap().collect::<Vec<_>>(), p);
        let mut longer = m.clone();
        longer.push(0);
        assert!(decode_positions(&longer, 3).is_err());
        for cut in 0..m.len() {
            assert!(decode_positions(&m[..cut], 3).is_err());
        }
    }

    #[test]
    fn wrong_version_kind_length_and_role_are_rejected() {
        let good = codec::encode_to_vec(&Hello {
            role: Role::First,
            size: 1,
        });
        let decode = |b: &[u8]| codec::decode_exact::<Hello>(b);
        let mut v = good.clone();
        v[0] = 2;
        assert_eq!(
            decode(&v),
            Err(CodecError::Version {
                what: "helper-join hello",
                got: 2,
                expected: 1
            })
        );
        let mut v = good.clone();
        v[1] = MessageKind::Sizes as u8;
        let e = decode(&v).unwrap_err();
        assert!(is_kind(&e, MessageKind::Sizes), "{e:?}");
        let mut v = good.clone();
        v.push(0);
        assert!(matches!(
            decode(&v),
            Err(CodecError::TrailingBytes { count: 1, .. })
        ));
        assert!(matches!(
            decode(&good[..10]),
            Err(CodecError::Truncated { .. })
        ));
        assert!(matches!(decode(&[]), Err(CodecError::Truncated { .. })));
        assert!(matches!(decode(&[1]), Err(CodecError::Truncated { .. })));
        let mut v = good;
        v[2] = 3;
        assert_eq!(
            decode(&v),
            Err(CodecError::BadValue {
                what: "helper-join hello",
                field: "role",
                value: 3
            })
        );
        let tags = encode_tags(&[[1; 16]; 3]);
        assert!(decode_tags(&tags, 2).is_err());
        assert!(decode_tags(&tags, 4).is_err());
        assert!(decode_tags(&tags[..tags.len() - 1], 3).is_err());
        let pos = encode_positions(&[1, 2]);
        assert!(decode_positions(&pos, 1).is_err());
        assert!(decode_positions(&pos, 3).is_err());
    }
}
