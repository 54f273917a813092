//! Differential-privacy noise that no single party knows: each computing party adds its own
//! exact draw to its own share.

use rand::{CryptoRng, RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use zeroize::Zeroize;

use super::{Computer, MpcError};
use crate::dp::{Mechanism, Prepared};
use crate::prg::Seed;

impl Computer<'_> {
    /// This party's own noise contribution: one exact draw from each of `mechanisms`, as ring
    /// elements to add to this party's shares of the noisy quantities. No communication and
    /// no dealer: the helper takes no part and knows none of the noise.
    ///
    /// Both computing parties call this with the same mechanisms (each with its own fresh
    /// generator, a ChaCha20 keyed from the OS RNG), so an opened value is `x + z_F + z_S`:
    /// First knows `z_F` and is protected by `z_S`, Second the other way round, and the helper
    /// and the public by `z_F + z_S`. Each draw has the full scale the output's budget asks
    /// for (see `docs/protocols/differential-privacy.md`), so the released noise has twice the
    /// variance of one draw. All parameters are checked before anything is drawn
    /// ([`MpcError::Noise`]).
    pub fn noise(&mut self, mechanisms: &[Mechanism]) -> Result<Vec<u64>, MpcError> {
        let mut key = *Seed::random().as_bytes();
        let mut rng = ChaCha20Rng::from_seed(key);
        key.zeroize();
        own_noise(mechanisms, &mut rng)
    }
}

/// One exact draw from each of `mechanisms` with `rng`, as ring elements (two's complement):
/// the contribution [`Computer::noise`] adds to a party's shares, with the generator given
/// (for tests with a fixed seed; the protocol always uses a generator keyed from the OS).
/// All parameters are checked before anything is drawn.
pub fn own_noise<R: CryptoRng + RngCore + ?Sized>(
    mechanisms: &[Mechanism],
    rng: &mut R,
) -> Result<Vec<u64>, MpcError> {
    let prepared = mechanisms
        .iter()
        .map(Prepared::new)
        .collect::<Result<Vec<_>, _>>()?;
    let mut z = Vec::with_capacity(prepared.len());
    for m in &prepared {
        match m.sample(rng) {
            Ok(v) => z.push(v as u64),
            Err(e) => {
                z.zeroize();
                return Err(e.into());
            }
        }
    }
    Ok(z)
}
