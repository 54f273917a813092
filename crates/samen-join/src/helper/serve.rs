//! The helper's side: receive both parties' tags, match them, and send each party the
//! positions of its rows in the union.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};

use super::*;

/// A 16-byte tag as a hash-map key, hashed as one `u128`.
#[derive(Clone, Copy, PartialEq, Eq)]
struct TagKey(Tag);

impl Hash for TagKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u128(u128::from_le_bytes(self.0));
    }
}

/// A fast keyed hash for the helper's tag map: a folded 64×64→128-bit multiplication of the
/// tag's halves masked with a per-run random key, then a second keyed fold. The tags are chosen
/// by the data parties; without the key they cannot aim at one bucket.
#[derive(Clone)]
struct TagHashKey([u64; 4]);

impl TagHashKey {
    fn random() -> Result<TagHashKey, JoinError> {
        let mut b = Zeroizing::new([0u8; 32]);
        os_random(b.as_mut_slice())?;
        let mut k = [0u64; 4];
        for (ki, c) in k.iter_mut().zip(b.as_chunks::<8>().0) {
            *ki = u64::from_le_bytes(*c);
        }
        Ok(TagHashKey(k))
    }
}

fn fold(a: u64, b: u64) -> u64 {
    let m = u128::from(a).wrapping_mul(u128::from(b));
    (m as u64) ^ ((m >> 64) as u64)
}

struct TagHasher {
    k: [u64; 4],
    h: u64,
}

impl Hasher for TagHasher {
    fn write(&mut self, bytes: &[u8]) {
        for c in bytes.chunks(8) {
            let mut w = [0u8; 8];
            for (d, s) in w.iter_mut().zip(c) {
                *d = *s;
            }
            self.h = fold(self.h ^ u64::from_le_bytes(w) ^ self.k[0], self.k[1] | 1);
        }
    }

    fn write_u128(&mut self, x: u128) {
        let h1 = fold((x as u64) ^ self.k[0], ((x >> 64) as u64) ^ self.k[1]);
        self.h = fold(h1 ^ self.k[2] ^ self.h, self.k[3] | 1);
    }

    fn finish(&self) -> u64 {
        self.h
    }
}

impl BuildHasher for TagHashKey {
    type Hasher = TagHasher;
    fn build_hasher(&self) -> TagHasher {
        TagHasher { k: self.0, h: 0 }
    }
}

/// Map values: the union index in the low bits, which parties sent the tag in the high bits.
const FROM_FIRST: u32 = 1 << 31;
const FROM_SECOND: u32 = 1 << 30;
const INDEX_MASK: u32 = FROM_SECOND - 1;

/// Initial capacity of the tag map at most this (it grows if the parties really send more).
const MAP_PREALLOC: u64 = 1 << 22;

fn recv_hello(ch: &mut dyn Channel, expected: Role) -> Result<u64, JoinError> {
    ch.set_step(STEP_HELLO);
    let frame = ch.recv(wire::HELLO_LEN)?;
    let hello: wire::Hello = codec::decode_exact(&frame).map_err(malformed(ch, STEP_HELLO))?;
    if hello.role != expected {
        return Err(JoinError::Handshake {
            peer: ch.peer().to_string(),
            detail: format!(
                "it claims the role {:?} but is connected as {expected:?} (check the party names and roles)",
                hello.role
            ),
        });
    }
    if hello.size > MAX_PARTY_SIZE {
        return Err(JoinError::PeerTooLarge {
            peer: ch.peer().to_string(),
            size: hello.size,
            max: MAX_PARTY_SIZE,
        });
    }
    Ok(hello.size)
}

/// One party's tag stream as the helper receives it.
struct Incoming<'c> {
    ch: &'c mut dyn Channel,
    size: usize,
    flag: u32,
    /// Union index of each received tag, in the order received.
    indices: Vec<u32>,
}

impl Incoming<'_> {
    fn frames(&self) -> usize {
        self.size.div_ceil(ITEMS_PER_FRAME)
    }

    fn recv_frame(
        &mut self,
        map: &mut HashMap<TagKey, u32, TagHashKey>,
        next: &mut u32,
    ) -> Result<(), JoinError> {
        let count = (self.size - self.indices.len()).min(ITEMS_PER_FRAME);
        let frame = self.ch.recv(wire::tags_len(count))?;
        let tags = wire::decode_tags(&frame, count).map_err(malformed(self.ch, STEP_TAGS))?;
        for tag in tags {
            let index = match map.entry(TagKey(tag)) {
                Entry::Occupied(mut e) => {
                    let v = e.get_mut();
                    if *v & self.flag != 0 {
                        return Err(JoinError::RepeatedTag {
                            peer: self.ch.peer().to_string(),
                            index: self.indices.len() as u64,
                        });
                    }
                    *v |= self.flag;
                    *v & INDEX_MASK
                }
                Entry::Vacant(e) => {
                    let i = *next;
                    e.insert(i | self.flag);
                    *next += 1;
                    i
                }
            };
            self.indices.push(index);
        }
        Ok(())
    }

    fn send_result(&mut self, sizes: JoinSizes, order: &[u32]) -> Result<(), JoinError> {
        self.ch.set_step(STEP_SIZES);
        self.ch.send(&codec::encode_to_vec(&sizes))?;
        self.ch.set_step(STEP_POSITIONS);
        for chunk in self.indices.chunks(ITEMS_PER_FRAME) {
            let pos = chunk
                .iter()
                .map(|&i| {
                    order.get(i as usize).copied().ok_or(JoinError::Internal(
                        "a tag's index outside the union's order",
                    ))
                })
                .collect::<Result<Vec<u32>, JoinError>>()?;
            self.ch.send_owned(wire::encode_positions(&pos))?;
        }
        self.ch.flush()?;
        Ok(())
    }
}

pub(super) fn serve(
    first: &mut dyn Channel,
    second: &mut dyn Channel,
) -> Result<JoinSizes, JoinError> {
    let na = recv_hello(first, Role::First)?;
    let nb = recv_hello(second, Role::Second)?;
    let mut parties = [
        Incoming {
            ch: first,
            size: na as usize,
            flag: FROM_FIRST,
            indices: Vec::with_capacity((na as usize).min(ITEMS_PER_FRAME)),
        },
        Incoming {
            ch: second,
            size: nb as usize,
            flag: FROM_SECOND,
            indices: Vec::with_capacity((nb as usize).min(ITEMS_PER_FRAME)),
        },
    ];
    let mut map: HashMap<TagKey, u32, TagHashKey> = HashMap::with_capacity_and_hasher(
        (na + nb).min(MAP_PREALLOC) as usize,
        TagHashKey::random()?,
    );
    let mut next = 0u32;
    let frames = parties.iter().map(Incoming::frames).max().unwrap_or(0);
    for p in parties.iter_mut() {
        p.ch.set_step(STEP_TAGS);
    }
    for j in 0..frames {
        for p in parties.iter_mut() {
            if j < p.frames() {
                p.recv_frame(&mut map, &mut next)?;
            }
        }
    }
    drop(map);

    // A uniformly random order of the union: union element i goes to position order[i].
    let mut order: Vec<u32> = (0..next).collect();
    order.shuffle(&mut fresh_rng()?);
    let sizes = JoinSizes {
        first: na,
        second: nb,
        union: u64::from(next),
    };
    for p in parties.iter_mut() {
        p.send_result(sizes, &order)?;
    }
    tracing::debug!(
        first = na,
        second = nb,
        union = next,
        "helper-assisted join served"
    );
    Ok(sizes)
}
