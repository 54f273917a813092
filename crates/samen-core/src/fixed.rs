//! Fixed-point reals in Z_2^64 and truncation of shared products.
//!
//! A real `x` is encoded as the two's complement integer `round(x · 2^f)` for `f` fractional
//! bits (default [`DEFAULT_FRAC_BITS`] = 16). Encoding fails with [`FixedError`] when the value
//! is not finite or `|x| · 2^f` does not fit in 63 bits.
//!
//! The product of two encodings has `2f` fractional bits and must be truncated by `f` bits.
//! samen uses the **local truncation of SecureML** (Mohassel and Zhang, IEEE S&P 2017,
//! Theorem 1): with shares `x = x_F + x_S mod 2^64`, First replaces its share by `x_F ≫ f`
//! (logical shift) and Second by `−((−x_S) ≫ f)`; no communication. If the shared value
//! satisfies `|x| < 2^ℓ`, the reconstructed result is `⌊x / 2^f⌋` or `⌊x / 2^f⌋ + 1` (off by at
//! most one unit in the last place) **except with probability at most `2^(ℓ+1−64)`**, in which
//! case it is wrong by about `2^(64−f)` (a large, visible error). Keep products small: for
//! `ℓ = 40` the failure probability is below `2^−23` per value. Public values need no
//! such care: [`FixedPoint::truncate_public`] is exact (floor).
//!
//! ```
//! use samen_core::fixed::FixedPoint;
//! use samen_core::mpc::Role;
//! let fp = FixedPoint::default();
//! let x = fp.encode(1.5).unwrap();
//! let y = fp.encode(-2.25).unwrap();
//! let prod = x.wrapping_mul(y); // 2f fractional bits
//! // split into two shares and truncate each locally
//! let s0 = 0x1234_5678_9abc_def0u64;
//! let s1 = prod.wrapping_sub(s0);
//! let t = fp.truncate_share(s0, Role::First).wrapping_add(fp.truncate_share(s1, Role::Second));
//! assert!((fp.decode(t) - (-3.375)).abs() <= 2.0 * fp.ulp());
//! assert!(fp.encode(1e30).is_err());
//! ```

use thiserror::Error;

use crate::mpc::Role;

/// Default number of fractional bits.
pub const DEFAULT_FRAC_BITS: u32 = 16;

/// An error of fixed-point encoding.
#[derive(Debug, Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum FixedError {
    /// The number of fractional bits is not in `0..=62`.
    #[error("{0} fractional bits requested; use between 0 and 62")]
    FracBits(u32),
    /// The value is NaN or infinite.
    #[error("value is not a finite number")]
    NotFinite,
    /// The value's magnitude is too large for 64-bit fixed point with this many fractional bits.
    #[error("value {value} is out of range: fixed point with {frac_bits} fractional bits holds magnitudes below {max}")]
    OutOfRange {
        /// The value.
        value: f64,
        /// Fractional bits in use.
        frac_bits: u32,
        /// Exclusive bound on the magnitude.
        max: f64,
    },
}

/// A fixed-point format with a given number of fractional bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FixedPoint {
    frac_bits: u32,
}

impl Default for FixedPoint {
    fn default() -> Self {
        FixedPoint {
            frac_bits: DEFAULT_FRAC_BITS,
        }
    }
}

impl FixedPoint {
    /// A format with `frac_bits` fractional bits (at most 62).
    pub fn new(frac_bits: u32) -> Result<Self, FixedError> {
        if frac_bits > 62 {
            return Err(FixedError::FracBits(frac_bits));
        }
        Ok(FixedPoint { frac_bits })
    }

    /// Number of fractional bits.
    pub fn frac_bits(&self) -> u32 {
        self.frac_bits
    }

    /// The value of one unit in the last place, `2^−f`.
    pub fn ulp(&self) -> f64 {
        (-(self.frac_bits as f64)).exp2()
    }

    /// Exclusive bound on the magnitude of encodable values, `2^(63−f)`.
    pub fn max_abs(&self) -> f64 {
        ((63 - self.frac_bits) as f64).exp2()
    }

    /// Encode `x` as `round(x · 2^f)` in two's complement.
    pub fn encode(&self, x: f64) -> Result<u64, FixedError> {
        if !x.is_finite() {
            return Err(FixedError::NotFinite);
        }
        let scaled = (x * (self.frac_bits as f64).exp2()).round();
        // i64 range is [−2^63, 2^63); require the open interval for symmetry
        if scaled.abs() >= 9_223_372_036_854_775_808.0 {
            return Err(FixedError::OutOfRange {
                value: x,
                frac_bits: self.frac_bits,
                max: self.max_abs(),
            });
        }
        Ok((scaled as i64) as u64)
    }

    /// Encode every value of `xs`.
    pub fn encode_all(&self, xs: &[f64]) -> Result<Vec<u64>, FixedError> {
        xs.iter().map(|x| self.encode(*x)).collect()
    }

    /// Decode a (reconstructed) value: `(v as i64) / 2^f`.
    pub fn decode(&self, v: u64) -> f64 {
        (v as i64) as f64 * self.ulp()
    }

    /// Truncate one party's share of a product by `f` bits (SecureML local truncation; see the
    /// module documentation for the error bound).
    pub fn truncate_share(&self, share: u64, role: Role) -> u64 {
        match role {
            Role::First => share >> self.frac_bits,
            Role::Second => (share.wrapping_neg() >> self.frac_bits).wrapping_neg(),
        }
    }

    /// Truncate every element of one party's share vector.
    pub fn truncate_shares(&self, shares: &mut [u64], role: Role) {
        for s in shares {
            *s = self.truncate_share(*s, role);
        }
    }

    /// Truncate a public (reconstructed) value exactly: `⌊v / 2^f⌋` as a signed integer.
    pub fn truncate_public(&self, v: u64) -> u64 {
        ((v as i64) >> self.frac_bits) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prg::{Prg, Seed};
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn encode_decode_round_trip(x in -1.0e9f64..1.0e9, f in 0u32..30) {
            let fp = FixedPoint::new(f).unwrap();
            let v = fp.encode(x).unwrap();
            prop_assert!((fp.decode(v) - x).abs() <= fp.ulp() / 2.0 + 1e-9 * x.abs());
        }
    }

    #[test]
    fn range_errors() {
        let fp = FixedPoint::default();
        assert_eq!(fp.encode(f64::NAN), Err(FixedError::NotFinite));
        assert!(matches!(
            fp.encode(2f64.powi(47)),
            Err(FixedError::OutOfRange { .. })
        ));
        assert!(fp.encode(2f64.powi(46)).is_ok());
        assert!(fp.encode(-(2f64.powi(47)) + 1.0).is_ok());
        assert_eq!(FixedPoint::new(63), Err(FixedError::FracBits(63)));
        assert_eq!(fp.decode(fp.encode(-3.25).unwrap()), -3.25);
    }

    #[test]
    fn local_truncation_is_off_by_at_most_one() {
        // |x| < 2^40: failure probability per value is 2^-23; the fixed seeds make this
        // deterministic.
        let mut p = Prg::new(&Seed::from_bytes([9; 32]), b"trunc");
        for f in [8u32, 16, 24] {
            let fp = FixedPoint::new(f).unwrap();
            let mut off_by_one = 0;
            for _ in 0..20_000 {
                let x = ((p.next_u64() as i64) >> 24) as u64; // |x| < 2^39
                let s0 = p.next_u64();
                let s1 = x.wrapping_sub(s0);
                let t = fp
                    .truncate_share(s0, Role::First)
                    .wrapping_add(fp.truncate_share(s1, Role::Second));
                let exact = fp.truncate_public(x);
                let diff = t.wrapping_sub(exact) as i64;
                assert!(diff == 0 || diff == 1, "x={} f={f} diff={diff}", x as i64);
                off_by_one += diff as usize;
            }
            // both outcomes occur: the bound is tight, not vacuous
            assert!(off_by_one > 0);
        }
    }

    #[test]
    fn a_huge_value_breaks_local_truncation() {
        // the documented failure mode: for |x| near 2^62 the failure probability is about 1/2
        let fp = FixedPoint::default();
        let x = 1u64 << 62;
        let mut p = Prg::new(&Seed::from_bytes([4; 32]), b"huge");
        let failures = (0..64)
            .filter(|_| {
                let s0 = p.next_u64();
                let s1 = x.wrapping_sub(s0);
                let t = fp
                    .truncate_share(s0, Role::First)
                    .wrapping_add(fp.truncate_share(s1, Role::Second));
                t.wrapping_sub(fp.truncate_public(x)) > 1
            })
            .count();
        assert!(failures > 0);
    }
}
