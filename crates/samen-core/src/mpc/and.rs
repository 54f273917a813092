//! The AND of many shared bits: a tree of Beaver multiplications in Z_2^64.

use super::{Computer, Dealer, MpcError};
use crate::Role;

/// The sizes of the multiplications that [`Computer::and_all`] performs for `k` bits, in order:
/// each level multiplies the first half of the remaining bits by the second half (an odd bit
/// out is carried to the next level).
fn levels(k: usize) -> Vec<usize> {
    let mut out = Vec::new();
    let mut left = k;
    while left > 1 {
        out.push(left / 2);
        left = left.div_ceil(2);
    }
    out
}

impl Computer<'_> {
    /// Shares of `Π bits` for shared bits (0 or 1 in Z_2^64): the AND of all of them (1 for
    /// none). `⌈log2 k⌉` rounds of Beaver multiplication, `k − 1` products in all; matched by
    /// [`Dealer::and_all`] with `k = bits.len()`. Nothing is revealed.
    pub fn and_all(&mut self, bits: &[u64]) -> Result<u64, MpcError> {
        let mut cur = bits.to_vec();
        for h in levels(bits.len()) {
            let (x, rest) = cur.split_at(h);
            let (y, odd) = rest.split_at(h);
            let mut next = self.mul(x, y)?;
            next.extend_from_slice(odd);
            cur = next;
        }
        Ok(match cur.first() {
            Some(&v) => v,
            None => u64::from(self.role == Role::First),
        })
    }
}

impl Dealer<'_> {
    /// Correlated randomness for [`Computer::and_all`] of `k` bits (one multiplication triple
    /// per tree level).
    pub fn and_all(&mut self, k: usize) -> Result<(), MpcError> {
        for h in levels(k) {
            self.mul(h)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::levels;

    #[test]
    fn the_tree_multiplies_k_minus_one_times() {
        for k in 0..40 {
            assert_eq!(
                levels(k).iter().sum::<usize>(),
                k.saturating_sub(1),
                "k = {k}"
            );
        }
        assert_eq!(levels(5), vec![2, 1, 1]);
    }
}
