//! Jointly keyed pseudonyms on ristretto255: the building block of the private join.
//!
//! An identifier `id` (already normalised, see the `normalise` module) is mapped to a group
//! element with [`hash_to_group`] and *blinded* by a party's secret scalar `a`:
//! `H(id)^a` (written multiplicatively; in code `a · H(id)`). Blinding commutes, so two parties
//! holding `a` and `b` can compute `H(id)^(a·b)` without either knowing the other's key: one
//! blinds with `a` and sends, the other blinds the received point with `b`. Under the decisional
//! Diffie–Hellman assumption on ristretto255, and modelling [`hash_to_group`] as a random
//! oracle, `H(id)^a` looks uniformly random to anyone who does not know `a`.
//!
//! Points travel as 32-byte compressed ristretto255 encodings ([`Encoded`]). Decompression
//! validates: a non-canonical or invalid encoding is a [`JointError::InvalidEncoding`], never a
//! panic. The batch functions use rayon; blinding and compressing a batch uses the batched
//! "double-and-compress" of curve25519-dalek with the halved scalar (`compress(2·(a/2)·P) =
//! compress(a·P)`), which replaces one inverse square root per point by a shared batch
//! inversion.
//!
//! ```
//! use samen_pseudonym::joint::{hash_to_group, SecretScalar};
//! let a = SecretScalar::random().unwrap();
//! let b = SecretScalar::random().unwrap();
//! let id = b"123456782";
//! let h = hash_to_group(id);
//! // (H(id)^a)^b = (H(id)^b)^a = H(id)^(a·b)
//! assert_eq!(b.blind(&a.blind(&h)), a.blind(&b.blind(&h)));
//! assert_eq!(b.blind(&a.blind(&h)), a.mul(&b).blind(&h));
//! ```
//!
//! Build note: curve25519-dalek 5 compiles its AVX-512 IFMA backend only when built with
//! `--cfg curve25519_dalek_backend="avx512"` (set in this workspace's `.cargo/config.toml`); it
//! still selects the backend at run time (AVX-512 IFMA, else AVX2, else portable code).

use std::fmt;

use curve25519_dalek::ristretto::{CompressedRistretto, RistrettoPoint};
use curve25519_dalek::scalar::Scalar;
use rand_core::{OsRng, TryRngCore};
use rayon::prelude::*;
use sha2::{Digest, Sha512};
use subtle::{Choice, ConstantTimeEq};
use thiserror::Error;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Versioned domain-separation tag of [`hash_to_group`].
pub const HASH_TO_GROUP_DST: &[u8] = b"samen-h2g-v1";

/// A compressed ristretto255 point (its canonical 32-byte encoding).
pub type Encoded = [u8; 32];

/// Points per rayon work item in the batch functions (also the batch-inversion size).
const PAR_CHUNK: usize = 256;

/// An error of the ristretto255 primitives.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum JointError {
    /// A 32-byte string is not the canonical encoding of a ristretto255 point.
    #[error("item {index} is not a valid ristretto255 point encoding")]
    InvalidEncoding {
        /// Index of the offending item in the batch.
        index: usize,
    },
    /// The operating system's random number generator failed.
    #[error("the operating system random number generator failed: {detail}")]
    Rng {
        /// The error reported by the OS.
        detail: String,
    },
}

/// Map an identifier to a ristretto255 point: `RistrettoPoint::from_uniform_bytes(SHA-512(
/// len(DST) as one byte || DST || id))` with `DST` = [`HASH_TO_GROUP_DST`].
///
/// This is a public, versioned contract (changing it changes every joint pseudonym).
///
/// ```
/// use samen_pseudonym::joint::hash_to_group;
/// assert_eq!(hash_to_group(b"123456782"), hash_to_group(b"123456782"));
/// assert_ne!(hash_to_group(b"123456782"), hash_to_group(b"023456789"));
/// ```
pub fn hash_to_group(id: &[u8]) -> RistrettoPoint {
    let mut h = Sha512::new();
    // The DST is a compile-time constant shorter than 256 bytes.
    h.update([HASH_TO_GROUP_DST.len() as u8]);
    h.update(HASH_TO_GROUP_DST);
    h.update(id);
    let mut wide = [0u8; 64];
    wide.copy_from_slice(&h.finalize());
    RistrettoPoint::from_uniform_bytes(&wide)
}

/// A secret, nonzero scalar of ristretto255 (a party's blinding key).
///
/// Zeroized on drop, redacted in `Debug`, compared in constant time.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SecretScalar(Scalar);

impl fmt::Debug for SecretScalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretScalar(<redacted>)")
    }
}

impl ConstantTimeEq for SecretScalar {
    fn ct_eq(&self, other: &Self) -> Choice {
        self.0.ct_eq(&other.0)
    }
}

impl SecretScalar {
    /// A fresh uniformly random nonzero scalar from 64 bytes of the OS random number generator
    /// (reduced with `from_bytes_mod_order_wide`, so the bias is below 2^-250).
    pub fn random() -> Result<SecretScalar, JointError> {
        loop {
            let mut wide = [0u8; 64];
            OsRng
                .try_fill_bytes(&mut wide)
                .map_err(|e| JointError::Rng {
                    detail: e.to_string(),
                })?;
            let s = SecretScalar::from_wide_bytes(&wide);
            wide.zeroize();
            if let Some(s) = s {
                return Ok(s);
            }
        }
    }

    /// The scalar `bytes mod ℓ` (little-endian 512-bit integer), or `None` if it is zero.
    /// For tests and reproducible benchmarks; keys in production come from
    /// [`SecretScalar::random`].
    ///
    /// ```
    /// use samen_pseudonym::joint::SecretScalar;
    /// assert!(SecretScalar::from_wide_bytes(&[0u8; 64]).is_none());
    /// assert!(SecretScalar::from_wide_bytes(&[7u8; 64]).is_some());
    /// ```
    pub fn from_wide_bytes(bytes: &[u8; 64]) -> Option<SecretScalar> {
        let s = Scalar::from_bytes_mod_order_wide(bytes);
        if bool::from(s.ct_eq(&Scalar::ZERO)) {
            None
        } else {
            Some(SecretScalar(s))
        }
    }

    /// The multiplicative inverse modulo the group order (unblinds: `(P^a)^(1/a) = P`).
    ///
    /// ```
    /// use samen_pseudonym::joint::{hash_to_group, SecretScalar};
    /// let a = SecretScalar::random().unwrap();
    /// let p = hash_to_group(b"x");
    /// assert_eq!(a.invert().blind(&a.blind(&p)), p);
    /// ```
    pub fn invert(&self) -> SecretScalar {
        SecretScalar(self.0.invert())
    }

    /// The product `self · other` (blinding with it equals blinding with both, in any order).
    pub fn mul(&self, other: &SecretScalar) -> SecretScalar {
        SecretScalar(self.0 * other.0)
    }

    /// Blind one point: `P^self` (constant-time variable-base scalar multiplication).
    pub fn blind(&self, p: &RistrettoPoint) -> RistrettoPoint {
        p * self.0
    }

    /// Half of this scalar (`self · 2^-1 mod ℓ`), for batched double-and-compress.
    fn halved(&self) -> SecretScalar {
        SecretScalar(self.0 * Scalar::from(2u64).invert())
    }
}

/// Compress `points` after multiplying each by `2 · half`: `compress(P^(2·half))`, using one
/// batch inversion per [`PAR_CHUNK`] points.
fn blind_doubled_compress_into(
    points: &[RistrettoPoint],
    half: &SecretScalar,
    out: &mut [Encoded],
) {
    let blinded: Vec<RistrettoPoint> = points.iter().map(|p| half.blind(p)).collect();
    let enc = RistrettoPoint::double_and_compress_batch(&blinded);
    for (o, e) in out.iter_mut().zip(enc) {
        *o = e.to_bytes();
    }
}

/// Decompress one encoding, validating it (`None` if non-canonical or not a point).
pub fn decompress(e: &Encoded) -> Option<RistrettoPoint> {
    CompressedRistretto(*e).decompress()
}

/// Compress a batch of points in parallel.
pub fn compress_batch(points: &[RistrettoPoint]) -> Vec<Encoded> {
    points.par_iter().map(|p| p.compress().to_bytes()).collect()
}

/// Decompress (and validate) a batch of encodings in parallel.
///
/// ```
/// use samen_pseudonym::joint::{decompress_batch, JointError};
/// let mut bad = [0u8; 32];
/// bad[0] = 1; // s = 1 is negative (odd): not a canonical encoding
/// assert!(matches!(decompress_batch(&[[0u8; 32], bad]), Err(JointError::InvalidEncoding { index: 1 })));
/// ```
pub fn decompress_batch(encoded: &[Encoded]) -> Result<Vec<RistrettoPoint>, JointError> {
    encoded
        .par_iter()
        .enumerate()
        .map(|(index, e)| decompress(e).ok_or(JointError::InvalidEncoding { index }))
        .collect()
}

/// Hash, blind and compress a batch of identifiers in parallel: `enc(H(id_i)^key)`.
///
/// ```
/// use samen_pseudonym::joint::{hash_blind_compress_batch, hash_to_group, SecretScalar};
/// let k = SecretScalar::random().unwrap();
/// let ids: Vec<&[u8]> = vec![b"1", b"2"];
/// let out = hash_blind_compress_batch(&ids, &k);
/// assert_eq!(out[1], k.blind(&hash_to_group(b"2")).compress().to_bytes());
/// ```
pub fn hash_blind_compress_batch<I: AsRef<[u8]> + Sync>(
    ids: &[I],
    key: &SecretScalar,
) -> Vec<Encoded> {
    let half = key.halved();
    let mut out = vec![[0u8; 32]; ids.len()];
    out.par_chunks_mut(PAR_CHUNK)
        .zip(ids.par_chunks(PAR_CHUNK))
        .for_each(|(o, chunk)| {
            let points: Vec<RistrettoPoint> =
                chunk.iter().map(|id| hash_to_group(id.as_ref())).collect();
            blind_doubled_compress_into(&points, &half, o);
        });
    out
}

/// Blind and compress a batch of points in parallel: `enc(P_i^key)`.
pub fn blind_compress_batch(points: &[RistrettoPoint], key: &SecretScalar) -> Vec<Encoded> {
    let half = key.halved();
    let mut out = vec![[0u8; 32]; points.len()];
    out.par_chunks_mut(PAR_CHUNK)
        .zip(points.par_chunks(PAR_CHUNK))
        .for_each(|(o, chunk)| blind_doubled_compress_into(chunk, &half, o));
    out
}

/// Decompress (validating), blind and compress a batch in parallel: `enc(dec(e_i)^key)`.
///
/// ```
/// use samen_pseudonym::joint::{blind_encoded_batch, hash_blind_compress_batch, SecretScalar};
/// let (a, b) = (SecretScalar::random().unwrap(), SecretScalar::random().unwrap());
/// let ids = [b"42"];
/// let ab = blind_encoded_batch(&hash_blind_compress_batch(&ids, &a), &b).unwrap();
/// let ba = blind_encoded_batch(&hash_blind_compress_batch(&ids, &b), &a).unwrap();
/// assert_eq!(ab, ba);
/// ```
pub fn blind_encoded_batch(
    encoded: &[Encoded],
    key: &SecretScalar,
) -> Result<Vec<Encoded>, JointError> {
    let [out] = blind_encoded_batch_multi(encoded, [key])?;
    Ok(out)
}

/// Decompress (validating) each encoding once and blind it with every key:
/// `out[j][i] = enc(dec(e_i)^keys[j])`.
pub fn blind_encoded_batch_multi<const K: usize>(
    encoded: &[Encoded],
    keys: [&SecretScalar; K],
) -> Result<[Vec<Encoded>; K], JointError> {
    let halves: [SecretScalar; K] = keys.map(|k| k.halved());
    let n = encoded.len();
    let mut outs: [Vec<Encoded>; K] = std::array::from_fn(|_| vec![[0u8; 32]; n]);
    let results: Vec<Result<(), JointError>> = {
        // Split every output into the same chunks so one work item writes all outputs of its
        // input chunk.
        let mut out_chunks: Vec<Vec<&mut [Encoded]>> = (0..n.div_ceil(PAR_CHUNK))
            .map(|_| Vec::with_capacity(K))
            .collect();
        for out in outs.iter_mut() {
            for (slot, c) in out_chunks.iter_mut().zip(out.chunks_mut(PAR_CHUNK)) {
                slot.push(c);
            }
        }
        out_chunks
            .into_par_iter()
            .zip(encoded.par_chunks(PAR_CHUNK))
            .enumerate()
            .map(|(ci, (mut outs_c, chunk))| {
                let mut points = Vec::with_capacity(chunk.len());
                for (i, e) in chunk.iter().enumerate() {
                    points.push(decompress(e).ok_or(JointError::InvalidEncoding {
                        index: ci * PAR_CHUNK + i,
                    })?);
                }
                for (o, half) in outs_c.iter_mut().zip(&halves) {
                    blind_doubled_compress_into(&points, half, o);
                }
                Ok(())
            })
            .collect()
    };
    for r in results {
        r?;
    }
    Ok(outs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(seed: u8) -> SecretScalar {
        SecretScalar::from_wide_bytes(&[seed; 64]).unwrap()
    }

    #[test]
    fn commutativity_proof() {
        // H(id)^(a·b) = (H(id)^a)^b = (H(id)^b)^a, on the wire too.
        let (a, b) = (key(3), key(5));
        let ids: Vec<Vec<u8>> = (0..600u32)
            .map(|i| format!("{i:09}").into_bytes())
            .collect();
        let xa = hash_blind_compress_batch(&ids, &a);
        let xab = blind_encoded_batch(&xa, &b).unwrap();
        let xb = hash_blind_compress_batch(&ids, &b);
        let xba = blind_encoded_batch(&xb, &a).unwrap();
        assert_eq!(xab, xba);
        let ab = a.mul(&b);
        let direct: Vec<Encoded> = ids
            .iter()
            .map(|id| ab.blind(&hash_to_group(id)).compress().to_bytes())
            .collect();
        assert_eq!(xab, direct);
        // Distinct ids give distinct points.
        let set: std::collections::HashSet<_> = xab.iter().collect();
        assert_eq!(set.len(), ids.len());
    }

    #[test]
    fn batch_matches_single_and_multi() {
        let (a, b) = (key(9), key(11));
        let ids: Vec<&[u8]> = vec![b"", b"a", b"123456782", &[0xff; 300]];
        let pts: Vec<RistrettoPoint> = ids.iter().map(|i| hash_to_group(i)).collect();
        let enc = compress_batch(&pts);
        assert_eq!(decompress_batch(&enc).unwrap(), pts);
        let single: Vec<Encoded> = pts
            .iter()
            .map(|p| a.blind(p).compress().to_bytes())
            .collect();
        assert_eq!(blind_compress_batch(&pts, &a), single);
        assert_eq!(hash_blind_compress_batch(&ids, &a), single);
        let multi = blind_encoded_batch_multi(&enc, [&a, &b]).unwrap();
        assert_eq!(multi[0], single);
        assert_eq!(multi[1], blind_compress_batch(&pts, &b));
        assert!(blind_encoded_batch_multi(&[], [&a]).unwrap()[0].is_empty());
    }

    #[test]
    fn hash_to_group_known_construction() {
        // Independent recomputation of the documented construction.
        let mut input = vec![12u8];
        input.extend_from_slice(b"samen-h2g-v1");
        input.extend_from_slice(b"123456782");
        let digest: [u8; 64] = Sha512::digest(&input).into();
        assert_eq!(
            hash_to_group(b"123456782"),
            RistrettoPoint::from_uniform_bytes(&digest)
        );
        assert_eq!(HASH_TO_GROUP_DST.len(), 12);
    }

    #[test]
    fn invalid_encodings_are_errors() {
        let a = key(1);
        let good = hash_blind_compress_batch(&[b"x"], &a)[0];
        // Non-canonical: s >= p (all 0xff, top bit cleared).
        let mut noncanon = [0xffu8; 32];
        noncanon[31] = 0x7f;
        // Negative s (odd).
        let mut neg = good;
        neg[0] ^= 1;
        for bad in [noncanon, neg, [0xffu8; 32]] {
            let mut batch = vec![good; 700];
            batch[613] = bad;
            match blind_encoded_batch(&batch, &a) {
                Err(JointError::InvalidEncoding { index }) => assert_eq!(index, 613),
                other => panic!("expected an error, got {other:?}"),
            }
            assert!(decompress_batch(&batch).is_err());
        }
    }

    #[test]
    fn secret_scalar_hygiene() {
        let a = SecretScalar::random().unwrap();
        assert_eq!(format!("{a:?}"), "SecretScalar(<redacted>)");
        assert!(bool::from(a.ct_eq(&a.clone())));
        assert!(!bool::from(a.ct_eq(&SecretScalar::random().unwrap())));
        let p = hash_to_group(b"p");
        assert_eq!(a.invert().blind(&a.blind(&p)), p);
        assert!(bool::from(
            a.mul(&a.invert()).ct_eq(&key(1).mul(&key(1).invert()))
        ));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]
        #[test]
        fn blinding_commutes(id in proptest::collection::vec(any::<u8>(), 0..40), sa in any::<[u8; 32]>(), sb in any::<[u8; 32]>()) {
            let mut wa = [1u8; 64]; wa[..32].copy_from_slice(&sa);
            let mut wb = [2u8; 64]; wb[..32].copy_from_slice(&sb);
            let (a, b) = (SecretScalar::from_wide_bytes(&wa).unwrap(), SecretScalar::from_wide_bytes(&wb).unwrap());
            let h = hash_to_group(&id);
            prop_assert_eq!(b.blind(&a.blind(&h)), a.blind(&b.blind(&h)));
            prop_assert_eq!(blind_compress_batch(&[h], &a.mul(&b))[0], b.blind(&a.blind(&h)).compress().to_bytes());
        }
    }
}
