//! Shares of differential-privacy noise drawn by the dealer.

use rand::SeedableRng;
use rand_chacha::ChaCha12Rng;
use zeroize::Zeroize;

use super::wire::{combine, header, stream, OpKind};
use super::{Computer, Dealer, MpcError};
use crate::channel::ChannelExt;
use crate::dp::{Mechanism, Prepared};
use crate::prg::Seed;
use crate::Role;

impl Computer<'_> {
    /// This party's additive shares of `n` differential-privacy noise values drawn by the dealer
    /// (matched by [`Dealer::noise`] with `n` mechanisms). No communication with the peer.
    ///
    /// First expands its shares `r` from its seed; Second receives `z − r` from the dealer after
    /// checking the operation header. Each share alone is uniformly random; the dealer knows the
    /// noise values `z` but sees no data and no output.
    pub fn noise(&mut self, n: usize) -> Result<Vec<u64>, MpcError> {
        let op = self.next_op();
        if self.role == Role::First {
            Ok(stream(&self.seed, "noise", op, "r").u64s(n))
        } else {
            self.dealer.set_step("dealer-noise");
            self.expect_header(header(OpKind::Noise, op, n, 0, 0))?;
            Ok(self.dealer.recv_u64s(n)?)
        }
    }
}

impl Dealer<'_> {
    /// Additive shares of fresh differential-privacy noise, one value per mechanism, matched by
    /// [`crate::mpc::Computer::noise`] with `n = mechanisms.len()`.
    ///
    /// The dealer draws `z_i` from `mechanisms[i]` exactly ([`crate::dp`]) with a ChaCha12
    /// generator seeded from the OS RNG; First's share `r_i` is expanded from First's seed
    /// (label `samen-mpc-v1/noise/<op>/r`) and Second receives `z_i − r_i` after the operation
    /// header. All parameters are checked before anything is drawn or sent
    /// ([`MpcError::Noise`]). The noise values are zeroized after use.
    pub fn noise(&mut self, mechanisms: &[Mechanism]) -> Result<(), MpcError> {
        let prepared = mechanisms
            .iter()
            .map(Prepared::new)
            .collect::<Result<Vec<_>, _>>()?;
        let rng = self.noise_rng.get_or_insert_with(|| {
            let mut key = *Seed::random().as_bytes();
            let rng = ChaCha12Rng::from_seed(key);
            key.zeroize();
            rng
        });
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
        let op = self.next_op();
        let n = z.len();
        let r_first = stream(&self.seed_first, "noise", op, "r");
        let mut second = z;
        combine([&r_first], &mut second, |out, [r]| {
            *out = out.wrapping_sub(r);
        });
        self.second.set_step("dealer-noise");
        let sent = self
            .second
            .send_msg(&header(OpKind::Noise, op, n, 0, 0))
            .and_then(|()| self.second.send_u64s(&second))
            .and_then(|()| self.second.flush());
        second.zeroize();
        sent?;
        Ok(())
    }
}
