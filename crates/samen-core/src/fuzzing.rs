//! Property-test strategies for fuzzing the decoders of network data (feature `fuzzing`).
//!
//! A decoder must turn every byte string into a value or an error, never a panic. Random bytes
//! rarely get past the first check, so [`mutated`] also derives inputs from valid messages:
//! bit flips, overwritten bytes, truncation, extension, a removed or duplicated range.
//!
//! ```
//! use proptest::strategy::{Strategy, ValueTree};
//! use proptest::test_runner::TestRunner;
//! let valid = vec![1u8, 2, 3, 4];
//! let mut runner = TestRunner::deterministic();
//! let m = samen_core::fuzzing::mutated(valid.clone()).new_tree(&mut runner).unwrap().current();
//! assert_ne!(m, valid);
//! ```

use proptest::prelude::*;

/// One way of damaging a message.
#[derive(Clone, Debug)]
pub enum Mutation {
    /// Flip bit `bit % 8` of the byte at `at % len`.
    FlipBit {
        /// Position (reduced modulo the length).
        at: usize,
        /// Bit (reduced modulo 8).
        bit: u8,
    },
    /// Replace the byte at `at % len` by `byte` (or by its complement if equal).
    SetByte {
        /// Position (reduced modulo the length).
        at: usize,
        /// The new byte.
        byte: u8,
    },
    /// Keep only the first `keep % len` bytes.
    Truncate {
        /// Bytes kept (reduced modulo the length).
        keep: usize,
    },
    /// Append bytes.
    Extend {
        /// The bytes appended (at least one).
        tail: Vec<u8>,
    },
    /// Remove `len` bytes (at least one) starting at `at % len`.
    Remove {
        /// Start (reduced modulo the length).
        at: usize,
        /// Bytes removed (at least one, at most to the end).
        len: usize,
    },
    /// Insert `bytes` at `at % (len + 1)`.
    Insert {
        /// Position (reduced modulo the length + 1).
        at: usize,
        /// The bytes inserted (at least one).
        bytes: Vec<u8>,
    },
}

impl Mutation {
    /// Apply to `msg`. The result always differs from `msg`.
    pub fn apply(&self, msg: &[u8]) -> Vec<u8> {
        let mut out = msg.to_vec();
        let n = msg.len();
        match self {
            _ if n == 0 => out.push(0),
            Mutation::FlipBit { at, bit } => {
                if let Some(b) = out.get_mut(at % n) {
                    *b ^= 1 << (bit % 8);
                }
            }
            Mutation::SetByte { at, byte } => {
                if let Some(b) = out.get_mut(at % n) {
                    *b = if *b == *byte { !*byte } else { *byte };
                }
            }
            Mutation::Truncate { keep } => out.truncate(keep % n),
            Mutation::Extend { tail } => {
                out.extend_from_slice(tail);
                if tail.is_empty() {
                    out.push(0);
                }
            }
            Mutation::Remove { at, len } => {
                let at = at % n;
                let end = at + (*len).clamp(1, n - at);
                out.drain(at..end);
            }
            Mutation::Insert { at, bytes } => {
                let at = at % (n + 1);
                let bytes = if bytes.is_empty() { &[0u8][..] } else { bytes };
                out.splice(at..at, bytes.iter().copied());
            }
        }
        out
    }
}

/// Any [`Mutation`], with up to `max_extra` inserted or appended bytes.
pub fn mutation(max_extra: usize) -> impl Strategy<Value = Mutation> {
    let extra = move || proptest::collection::vec(any::<u8>(), 1..=max_extra.max(1));
    prop_oneof![
        3 => (any::<usize>(), any::<u8>()).prop_map(|(at, bit)| Mutation::FlipBit { at, bit }),
        2 => (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::SetByte { at, byte }),
        1 => any::<usize>().prop_map(|keep| Mutation::Truncate { keep }),
        1 => extra().prop_map(|tail| Mutation::Extend { tail }),
        1 => (any::<usize>(), 1usize..64).prop_map(|(at, len)| Mutation::Remove { at, len }),
        1 => (any::<usize>(), extra()).prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
    ]
}

/// `valid` damaged by one to three mutations (never equal to `valid` after the first; later
/// mutations may in rare cases undo earlier ones).
pub fn mutated(valid: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(mutation(16), 1..=3)
        .prop_map(move |ms| ms.iter().fold(valid.clone(), |msg, m| m.apply(&msg)))
}

/// Random bytes of length `0..max_len`.
pub fn bytes(max_len: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..max_len)
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]
        #[test]
        fn a_single_mutation_changes_the_message(msg in bytes(64), m in mutation(8)) {
            prop_assert_ne!(m.apply(&msg), msg);
        }
    }
}
