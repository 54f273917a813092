//! The sizes the join reveals, and the message that tells them to the helper.

use samen_core::codec::{CodecError, Decode, Encode, Reader};

/// Sizes learned in the join: |A| (First's table), |B| (Second's table), N (union).
///
/// Also the "sizes" message each data party sends the helper after the join (through
/// [`samen_core::codec`]): `|A| ‖ |B| ‖ N`, three little-endian `u64`s (24 bytes). Its layout
/// is covered by the transport's protocol version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Sizes {
    /// Rows of First's table.
    pub first: u64,
    /// Rows of Second's table.
    pub second: u64,
    /// Size of the union of identifiers.
    pub union: u64,
}

impl Encode for Sizes {
    fn encode(&self, out: &mut Vec<u8>) {
        self.first.encode(out);
        self.second.encode(out);
        self.union.encode(out);
    }
    fn encoded_len(&self) -> Option<usize> {
        Some(24)
    }
}

impl Decode for Sizes {
    const WHAT: &'static str = "sizes message";
    fn read(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        Ok(Sizes {
            first: r.u64()?,
            second: r.u64()?,
            union: r.u64()?,
        })
    }
}

impl Sizes {
    /// Size of the intersection, `|A| + |B| − N`: the number of rows any quantity sums over.
    pub fn intersection(&self) -> u64 {
        (self.first + self.second).saturating_sub(self.union)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use samen_core::codec::{self, golden};

    #[test]
    fn golden_sizes() {
        golden::check(
            &Sizes {
                first: 3,
                second: 0x100,
                union: 0x0102,
            },
            "0300000000000000\
             0001000000000000\
             0201000000000000",
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(5_000))]

        /// Any bytes: an error or exactly the encoding of the sizes they decode to.
        #[test]
        fn sizes_decoder_is_strict(bytes in samen_core::fuzzing::bytes(40)) {
            match codec::decode_exact::<Sizes>(&bytes) {
                Ok(s) => prop_assert_eq!(codec::encode_to_vec(&s), bytes),
                Err(_) => prop_assert_ne!(bytes.len(), 24),
            }
        }

        #[test]
        fn sizes_round_trip(first in any::<u64>(), second in any::<u64>(), union in any::<u64>()) {
            let s = Sizes { first, second, union };
            prop_assert_eq!(codec::decode_exact::<Sizes>(&codec::encode_to_vec(&s)), Ok(s));
        }
    }
}
