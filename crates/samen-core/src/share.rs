//! Additive secret sharing over Z_2^64 among `n ≥ 2` parties.
//!
//! A vector `x` is split into `n` share vectors that add up (wrapping) to `x`; any `n − 1` of
//! them are uniformly random and independent of `x`. Linear operations (adding shares, adding
//! or multiplying by public constants) need no communication.
//!
//! Seed-compressed sharing gives `n − 1` parties a 32-byte [`Seed`] from which they expand
//! their share with [`expand_share`], and the last party a correction vector; this is how the
//! dealer sends correlated randomness cheaply.
//!
//! ```
//! use samen_core::share;
//! let x = vec![1u64, 2, 3];
//! let shares = share::share(&x, 3).unwrap();
//! assert_eq!(share::reconstruct(&shares).unwrap(), x);
//!
//! let (seeds, correction) = share::share_with_seeds(&x, 2, b"doc").unwrap();
//! let first = share::expand_share(&seeds[0], b"doc", x.len());
//! assert_eq!(share::reconstruct(&[first, correction]).unwrap(), x);
//! ```

use thiserror::Error;

use crate::prg::{Prg, Seed};
use crate::ring::{self, RingError};
use crate::Role;

/// An error of the sharing functions.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ShareError {
    /// Secret sharing needs at least two parties.
    #[error("secret sharing needs at least 2 parties, got {0}")]
    TooFewParties(usize),
    /// Shares (or a share and a constant vector) have different lengths.
    #[error(transparent)]
    Ring(#[from] RingError),
}

/// Split `x` into `parties` additive shares (fresh randomness from a seed drawn from the OS).
pub fn share(x: &[u64], parties: usize) -> Result<Vec<Vec<u64>>, ShareError> {
    share_with_prg(
        x,
        parties,
        &mut Prg::new(&Seed::random(), b"samen-share-v1"),
    )
}

/// Split `x` into `parties` additive shares with randomness from `prg` (deterministic, for
/// tests and benchmarks).
pub fn share_with_prg(
    x: &[u64],
    parties: usize,
    prg: &mut Prg,
) -> Result<Vec<Vec<u64>>, ShareError> {
    if parties < 2 {
        return Err(ShareError::TooFewParties(parties));
    }
    let mut shares = Vec::with_capacity(parties);
    let mut last = x.to_vec();
    for _ in 1..parties {
        let r = prg.u64s(x.len());
        ring::sub_assign(&mut last, &r)?;
        shares.push(r);
    }
    shares.push(last);
    Ok(shares)
}

/// Add up shares.
pub fn reconstruct<S: AsRef<[u64]>>(shares: &[S]) -> Result<Vec<u64>, ShareError> {
    let (first, rest) = shares.split_first().ok_or(ShareError::TooFewParties(0))?;
    let mut out = first.as_ref().to_vec();
    for s in rest {
        ring::add_assign(&mut out, s.as_ref())?;
    }
    Ok(out)
}

/// Seed-compressed sharing: `parties − 1` fresh seeds (parties `0..parties−1` expand their
/// shares with [`expand_share`] under `label`) and the correction vector that is the last
/// party's share.
pub fn share_with_seeds(
    x: &[u64],
    parties: usize,
    label: &[u8],
) -> Result<(Vec<Seed>, Vec<u64>), ShareError> {
    if parties < 2 {
        return Err(ShareError::TooFewParties(parties));
    }
    let mut seeds = Vec::with_capacity(parties - 1);
    let mut correction = x.to_vec();
    for _ in 1..parties {
        let seed = Seed::random();
        let r = expand_share(&seed, label, x.len());
        ring::sub_assign(&mut correction, &r)?;
        seeds.push(seed);
    }
    Ok((seeds, correction))
}

/// The share of length `len` that `seed` stands for under `label`.
pub fn expand_share(seed: &Seed, label: &[u8], len: usize) -> Vec<u64> {
    Prg::new(seed, label).u64s(len)
}

/// Add a public vector `c` to a shared vector held by `role`: only [`Role::First`] adds it,
/// every other party keeps its share (so the sum of the shares grows by exactly `c`).
pub fn add_public(share: &mut [u64], c: &[u64], role: Role) -> Result<(), ShareError> {
    if share.len() != c.len() {
        return Err(RingError::LengthMismatch {
            left: share.len(),
            right: c.len(),
        }
        .into());
    }
    if role == Role::First {
        ring::add_assign(share, c)?;
    }
    Ok(())
}

/// Add a public constant to every element of a shared vector held by `role` (only
/// [`Role::First`] adds it).
pub fn add_public_scalar(share: &mut [u64], c: u64, role: Role) {
    if role == Role::First {
        for x in share {
            *x = x.wrapping_add(c);
        }
    }
}

/// Multiply a shared vector by a public constant (every party scales its share).
pub fn scale(share: &mut [u64], c: u64) {
    ring::scale_assign(share, c);
}

/// Add shared vectors (every party adds its shares).
pub fn add(a: &[u64], b: &[u64]) -> Result<Vec<u64>, ShareError> {
    Ok(ring::add(a, b)?)
}

/// Subtract shared vectors (every party subtracts its shares).
pub fn sub(a: &[u64], b: &[u64]) -> Result<Vec<u64>, ShareError> {
    Ok(ring::sub(a, b)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn reconstruct_share_is_identity(x in proptest::collection::vec(any::<u64>(), 0..64), n in 2usize..7) {
            let s = share(&x, n).unwrap();
            prop_assert_eq!(s.len(), n);
            prop_assert_eq!(reconstruct(&s).unwrap(), x.clone());
            let (seeds, corr) = share_with_seeds(&x, n, b"p").unwrap();
            let mut all: Vec<Vec<u64>> = seeds.iter().map(|sd| expand_share(sd, b"p", x.len())).collect();
            all.push(corr);
            prop_assert_eq!(reconstruct(&all).unwrap(), x);
        }

        #[test]
        fn linear_operations_commute_with_reconstruction(
            v in proptest::collection::vec((any::<u64>(), any::<u64>(), any::<u64>()), 0..64),
            n in 2usize..5, s: u64, c: u64,
        ) {
            let x: Vec<u64> = v.iter().map(|t| t.0).collect();
            let y: Vec<u64> = v.iter().map(|t| t.1).collect();
            let pc: Vec<u64> = v.iter().map(|t| t.2).collect();
            let sx = share(&x, n).unwrap();
            let sy = share(&y, n).unwrap();
            // z = s·(x + y) − y + pc + c
            let sz: Vec<Vec<u64>> = sx.iter().zip(&sy).enumerate().map(|(i, (a, b))| {
                let mut z = add(a, b).unwrap();
                scale(&mut z, s);
                let mut z = sub(&z, b).unwrap();
                // Party 0 plays First; every other party keeps its share.
                let role = if i == 0 { Role::First } else { Role::Second };
                add_public(&mut z, &pc, role).unwrap();
                add_public_scalar(&mut z, c, role);
                z
            }).collect();
            let want: Vec<u64> = (0..x.len()).map(|i| s.wrapping_mul(x[i].wrapping_add(y[i])).wrapping_sub(y[i]).wrapping_add(pc[i]).wrapping_add(c)).collect();
            prop_assert_eq!(reconstruct(&sz).unwrap(), want);
        }
    }

    #[test]
    fn too_few_parties() {
        assert_eq!(share(&[1], 1), Err(ShareError::TooFewParties(1)));
        assert!(reconstruct::<Vec<u64>>(&[]).is_err());
        assert!(reconstruct(&[vec![1], vec![1, 2]]).is_err());
    }
}
