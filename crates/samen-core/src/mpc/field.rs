//! Multi-modular prime-field arithmetic for exact secure linear algebra, and the conversion of
//! additive shares from Z_2^64 to shares modulo each prime.
//!
//! # Representation
//! A value is a vector of residues, one per public prime `p_i` of [`PRIMES`] (the 432 largest
//! primes below 2^62, fixed and public). A computation on `m` primes works modulo
//! `M = p_0 ⋯ p_{m−1}`; vectors of shares are laid out **prime-major**: element `j` of a vector of
//! `per` elements lives at index `i·per + j` for prime `i`. Every residue is reduced (`< p_i`).
//! An exact rational `N/D` with `|N|, D ≤ H` is recovered from its residues by the Chinese
//! remainder theorem and rational reconstruction ([`Crt::rational`]) whenever `2H² < M`;
//! [`primes_for`] picks the smallest `m` for the Hadamard bound of a `d × d` Gram matrix with
//! entries below 2^62 in magnitude.
//!
//! # Conversion from Z_2^64 ([`Computer::to_field`])
//! The input is a shared `x` with `|x| < 2^62` (the caller guarantees the bound; samen's
//! overflow rule does so for the Gram matrices of models). First adds 2^62 to its share, so
//! that `x' = x + 2^62 ∈ [0, 2^63)`. With the shares `s_F, s_S` read as unsigned integers,
//! `s_F + s_S = x' + c·2^64` with the carry `c = msb(s_F) ∨ msb(s_S)`: if both top bits are 0
//! the sum is below 2^64; if exactly one is set the sum is at least 2^63 > x', so `c = 1`; if
//! both are set the sum is at least 2^64. First knows `a = msb(s_F)` and Second `b = msb(s_S)`;
//! `c = a + b − a·b`. The product `a·b` modulo each prime is one oblivious product with dealer
//! randomness: the dealer deals `u` to First and `w` to Second (each from that party's seed) and
//! additive shares `z_F + z_S = u·w`; First sends `α = a − u`, Second sends `β = b − w`, and
//! `[ab]_F = αβ + uβ + z_F`, `[ab]_S = αw + z_S`. Then
//! `[x] = s_F + s_S − [c]·2^64 − 2^62 (mod p_i)`, each party computing its part locally. One
//! round; each party sends one residue per value per prime, and Second receives `z_S` (one
//! residue per value per prime) from the dealer. `α` and `β` are uniform (masked by `u`, `w`),
//! so neither party learns anything; the dealer receives nothing.
//!
//! Uniform residues are drawn from 128 bits of a party's PRG stream reduced modulo `p_i`
//! (statistical distance at most 2^−66 from uniform per residue).

use num_bigint::{BigInt, BigUint};
use num_integer::Integer;
use num_rational::BigRational;
use num_traits::{One, Signed, Zero};
use rayon::prelude::*;

use super::wire::{header, stream, OpKind};
use super::{check_len, Computer, Dealer, MpcError};
use crate::channel::{ChannelError, ChannelExt};
use crate::prg::{Prg, Seed};
use crate::Role;

pub use super::primes::PRIMES;

/// Values converted by [`Computer::to_field`] must satisfy `|x| < FIELD_INPUT_BOUND` (2^62).
pub const FIELD_INPUT_BOUND: u64 = 1 << 62;

const LOW62: u128 = (1 << 62) - 1;

/// One public prime modulus `p = 2^62 − c` of [`PRIMES`] and arithmetic on its residues.
///
/// Residues are `u64` values below `p`; results are always reduced. Reduction of a 128-bit
/// value uses `2^62 ≡ c (mod p)` twice and one conditional subtraction (no division).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Modulus {
    p: u64,
    c: u64,
}

impl Modulus {
    /// The modulus `PRIMES[i]`, or `None` past the end of the list.
    pub fn nth(i: usize) -> Option<Modulus> {
        PRIMES.get(i).map(|&p| Modulus {
            p,
            c: (1u64 << 62) - p,
        })
    }

    /// The first `m` moduli (at most [`PRIMES`]`.len()`).
    pub fn first(m: usize) -> Vec<Modulus> {
        (0..m.min(PRIMES.len())).filter_map(Modulus::nth).collect()
    }

    /// The prime.
    pub fn p(self) -> u64 {
        self.p
    }

    /// `x mod p` for any 128-bit `x`.
    #[inline(always)]
    pub fn reduce_wide(self, x: u128) -> u64 {
        let c = u128::from(self.c);
        // x = h·2^62 + l ≡ h·c + l; h < 2^66 and c < 2^15, so the sum is below 2^82.
        let x1 = (x >> 62) * c + (x & LOW62);
        // again: x1 >> 62 < 2^20, so x2 < 2^62 + 2^35 < 2p.
        let x2 = ((x1 >> 62) * c + (x1 & LOW62)) as u64;
        if x2 >= self.p {
            x2 - self.p
        } else {
            x2
        }
    }

    /// `x mod p` for a 64-bit `x`.
    #[inline(always)]
    pub fn reduce(self, x: u64) -> u64 {
        self.reduce_wide(u128::from(x))
    }

    /// The residue of a signed integer.
    pub fn from_i128(self, x: i128) -> u64 {
        let r = self.reduce_wide(x.unsigned_abs());
        if x < 0 {
            self.neg(r)
        } else {
            r
        }
    }

    /// `a + b mod p` (both reduced).
    #[inline(always)]
    pub fn add(self, a: u64, b: u64) -> u64 {
        let s = a + b; // both below 2^62: no overflow
        if s >= self.p {
            s - self.p
        } else {
            s
        }
    }

    /// `a − b mod p` (both reduced).
    #[inline(always)]
    pub fn sub(self, a: u64, b: u64) -> u64 {
        if a >= b {
            a - b
        } else {
            a + self.p - b
        }
    }

    /// `−a mod p` (reduced).
    #[inline(always)]
    pub fn neg(self, a: u64) -> u64 {
        if a == 0 {
            0
        } else {
            self.p - a
        }
    }

    /// `a·b mod p` (both reduced).
    #[inline(always)]
    pub fn mul(self, a: u64, b: u64) -> u64 {
        self.reduce_wide(u128::from(a) * u128::from(b))
    }

    /// `a^e mod p`.
    pub fn pow(self, mut a: u64, mut e: u64) -> u64 {
        let mut r = 1;
        while e > 0 {
            if e & 1 == 1 {
                r = self.mul(r, a);
            }
            a = self.mul(a, a);
            e >>= 1;
        }
        r
    }

    /// The inverse of a reduced `a` (Fermat), `None` for 0. Not constant time in whether `a`
    /// is zero; used on public values only.
    pub fn inv_vartime(self, a: u64) -> Option<u64> {
        (a != 0).then(|| self.pow(a, self.p - 2))
    }

    /// `Σ a_j·b_j mod p`, with one reduction per 15 products (each below 2^124).
    #[inline]
    pub fn dot(self, a: impl IntoIterator<Item = u64>, b: impl IntoIterator<Item = u64>) -> u64 {
        let mut acc: u128 = 0;
        let mut k = 0;
        for (x, y) in a.into_iter().zip(b) {
            acc += u128::from(x) * u128::from(y);
            k += 1;
            if k == 15 {
                acc = u128::from(self.reduce_wide(acc));
                k = 0;
            }
        }
        self.reduce_wide(acc)
    }

    /// The row-major `r × c` product of a row-major `r × k` matrix `a` and a `k × c` matrix `b`.
    pub fn matmul(
        self,
        a: &[u64],
        b: &[u64],
        r: usize,
        k: usize,
        c: usize,
    ) -> Result<Vec<u64>, MpcError> {
        check_len("field matmul: a", r * k, a.len())?;
        check_len("field matmul: b", k * c, b.len())?;
        let mut bt = vec![0u64; k * c];
        for (i, row) in b.chunks_exact(c.max(1)).enumerate() {
            for (j, &v) in row.iter().enumerate() {
                if let Some(t) = bt.get_mut(j * k + i) {
                    *t = v;
                }
            }
        }
        let mut out = Vec::with_capacity(r * c);
        for row in a.chunks_exact(k.max(1)).take(r) {
            for col in bt.chunks_exact(k.max(1)).take(c) {
                out.push(self.dot(row.iter().copied(), col.iter().copied()));
            }
        }
        if k == 0 {
            out = vec![0; r * c];
        }
        Ok(out)
    }

    /// The inverse of the row-major `q × q` matrix `a` (Gauss–Jordan in place with the first
    /// nonzero pivot, `q³` multiply-adds), or `None` if it is singular modulo `p`. Variable
    /// time; for public matrices.
    #[expect(
        clippy::indexing_slicing,
        reason = "row and column indices below q address the q × q matrix copied here"
    )]
    pub fn invert_vartime(self, a: &[u64], q: usize) -> Result<Option<Vec<u64>>, MpcError> {
        check_len("field inverse", q * q, a.len())?;
        let mut m = a.to_vec();
        let mut swaps = Vec::with_capacity(q);
        let mut pivot = vec![0u64; q];
        for k in 0..q {
            let Some(r) = (k..q).find(|&r| m[r * q + k] != 0) else {
                return Ok(None);
            };
            if r != k {
                for j in 0..q {
                    m.swap(r * q + j, k * q + j);
                }
            }
            swaps.push((k, r));
            let Some(inv) = self.inv_vartime(m[k * q + k]) else {
                return Ok(None);
            };
            // row k ← row k / a_kk, with a_kk replaced by 1 first (in-place inversion)
            m[k * q + k] = 1;
            for x in &mut m[k * q..(k + 1) * q] {
                *x = self.mul(*x, inv);
            }
            pivot.copy_from_slice(&m[k * q..(k + 1) * q]);
            for i in 0..q {
                let f = m[i * q + k];
                if i == k || f == 0 {
                    continue;
                }
                m[i * q + k] = 0;
                let nf = u128::from(self.neg(f));
                for (x, &pj) in m[i * q..(i + 1) * q].iter_mut().zip(&pivot) {
                    *x = self.reduce_wide(u128::from(*x) + nf * u128::from(pj));
                }
            }
        }
        // (PA)⁻¹ = A⁻¹P⁻¹: undo the row swaps as column swaps, last first.
        for &(k, r) in swaps.iter().rev() {
            if r != k {
                for i in 0..q {
                    m.swap(i * q + k, i * q + r);
                }
            }
        }
        Ok(Some(m))
    }
}

/// Uniform residues, prime-major: `per` residues for each of the moduli `mods`, residue `j` of
/// prime `i` from words `2(i·per + j)` and `2(i·per + j) + 1` of `prg` (128 bits reduced).
pub(crate) fn residues(prg: &Prg, mods: &[Modulus], per: usize) -> Vec<u64> {
    let mut out = vec![0u64; mods.len() * per];
    if per == 0 {
        return out;
    }
    out.par_chunks_mut(per)
        .zip(mods.par_iter())
        .enumerate()
        .for_each(|(i, (o, m))| {
            let mut words = vec![0u64; 2 * per];
            prg.fill_u64_at(2 * i * per, &mut words);
            for (r, w) in o.iter_mut().zip(words.chunks_exact(2)) {
                if let [lo, hi] = w {
                    *r = m.reduce_wide(u128::from(*lo) | (u128::from(*hi) << 64));
                }
            }
        });
    out
}

/// The residues of a party's stream `samen-mpc-v1/<kind>/<op>/<part>`.
pub(crate) fn seeded(
    seed: &Seed,
    kind: &str,
    op: u64,
    part: &str,
    mods: &[Modulus],
    per: usize,
) -> Vec<u64> {
    residues(&stream(seed, kind, op, part), mods, per)
}

/// Apply `f(modulus, chunk_of_out, index)` to each prime's chunk of a prime-major vector.
pub(crate) fn per_prime<F>(out: &mut [u64], mods: &[Modulus], per: usize, f: F)
where
    F: Fn(Modulus, &mut [u64], usize) + Sync + Send,
{
    if per == 0 {
        return;
    }
    out.par_chunks_mut(per)
        .zip(mods.par_iter())
        .enumerate()
        .for_each(|(i, (o, m))| f(*m, o, i));
}

/// The prime-major chunk of prime `i` of a vector with `per` elements per prime.
pub(crate) fn chunk(v: &[u64], i: usize, per: usize) -> &[u64] {
    v.get(i * per..(i + 1) * per).unwrap_or_default()
}

/// Element-wise `a ∘ b` of prime-major vectors.
pub(crate) fn zip_mod(
    a: &[u64],
    b: &[u64],
    mods: &[Modulus],
    per: usize,
    f: impl Fn(Modulus, u64, u64) -> u64 + Sync + Send,
) -> Result<Vec<u64>, MpcError> {
    check_len("field vectors", a.len(), b.len())?;
    let mut out = a.to_vec();
    per_prime(&mut out, mods, per, |m, o, i| {
        for (x, &y) in o.iter_mut().zip(chunk(b, i, per)) {
            *x = f(m, *x, y);
        }
    });
    Ok(out)
}

/// Check that every element of a prime-major vector received from `who` is reduced.
pub(crate) fn check_reduced(
    v: &[u64],
    mods: &[Modulus],
    per: usize,
    who: &str,
) -> Result<(), MpcError> {
    for (i, m) in mods.iter().enumerate() {
        if chunk(v, i, per).iter().any(|&x| x >= m.p) {
            return Err(ChannelError::Protocol {
                peer: who.to_string(),
                detail: format!("a residue is not below its prime p_{i}"),
            }
            .into());
        }
    }
    Ok(())
}

/// The smallest number of primes `m` such that `M = p_0 ⋯ p_{m−1} > 2·d^d·2^{124·d}`: then
/// every rational whose numerator and denominator are bounded by the Hadamard bound
/// `(√d·2^62)^d` of a `d × d` matrix with entries below 2^62 in magnitude — its determinant,
/// its minors, and the numerators of Cramer's rule with a column replaced — is recovered from
/// its residues ([`Crt::rational`]). `None` if [`PRIMES`] is too short (d > 203).
pub fn primes_for(d: usize) -> Option<usize> {
    let d32 = u32::try_from(d).ok()?;
    let need = (BigUint::from(2u8) * BigUint::from(d).pow(d32)) << (124 * d);
    let mut prod = BigUint::one();
    for (i, &p) in PRIMES.iter().enumerate() {
        prod *= p;
        if prod > need {
            return Some(i + 1);
        }
    }
    None
}

/// Chinese remaindering and rational reconstruction over the first `m` primes.
#[derive(Clone, Debug)]
pub struct Crt {
    modulus: BigUint,
    /// `M/p_i · ((M/p_i)^{-1} mod p_i)`.
    basis: Vec<BigUint>,
    /// `⌊√((M − 1)/2)⌋`: numerators and denominators up to this are recovered.
    bound: BigUint,
}

impl Crt {
    /// The reconstruction data of the first `m` primes (`None` if `m` is 0 or too large).
    pub fn new(m: usize) -> Option<Crt> {
        if m == 0 || m > PRIMES.len() {
            return None;
        }
        let mods = Modulus::first(m);
        let modulus: BigUint = mods.iter().map(|m| BigUint::from(m.p)).product();
        let basis = mods
            .iter()
            .map(|md| {
                let mi = &modulus / md.p;
                let r = (&mi % md.p).iter_u64_digits().next().unwrap_or(0);
                let inv = md.inv_vartime(r).unwrap_or(0);
                mi * inv
            })
            .collect();
        let bound = ((&modulus - 1u8) >> 1u8).sqrt();
        Some(Crt {
            modulus,
            basis,
            bound,
        })
    }

    /// The number of primes.
    pub fn primes(&self) -> usize {
        self.basis.len()
    }

    /// The bound `H` on numerators and denominators that [`Crt::rational`] recovers.
    pub fn bound(&self) -> &BigUint {
        &self.bound
    }

    /// The integer in `[0, M)` with these residues (one per prime, in prime order).
    pub fn integer(&self, residues: impl IntoIterator<Item = u64>) -> BigUint {
        let sum: BigUint = residues
            .into_iter()
            .zip(&self.basis)
            .map(|(r, b)| b * r)
            .sum();
        sum % &self.modulus
    }

    /// The rational `N/D` (lowest terms, `D > 0`, `|N|, D ≤ H`) with these residues, by
    /// rational reconstruction (the extended Euclidean algorithm stopped at the first remainder
    /// not above `H`); `None` if there is none. Unique because `2H² < M`.
    pub fn rational(&self, residues: impl IntoIterator<Item = u64>) -> Option<BigRational> {
        let x = self.integer(residues);
        let (mut r0, mut r1) = (BigInt::from(self.modulus.clone()), BigInt::from(x));
        let (mut t0, mut t1) = (BigInt::zero(), BigInt::one());
        let bound = BigInt::from(self.bound.clone());
        while r1 > bound {
            let (q, r) = r0.div_rem(&r1);
            r0 = std::mem::replace(&mut r1, r);
            let t = &t0 - &q * &t1;
            t0 = std::mem::replace(&mut t1, t);
        }
        if t1.is_zero() || t1.abs() > bound || !r1.gcd(&t1).is_one() {
            return None;
        }
        let (n, d) = if t1.is_negative() {
            (-r1, -t1)
        } else {
            (r1, t1)
        };
        Some(BigRational::new_raw(n, d))
    }
}

impl Computer<'_> {
    /// Shares modulo each of the first `m` primes of shared values `x` (Z_2^64 shares) with
    /// `|x| < 2^62`: prime-major, `m · x.len()` residues (see the [module overview](self)).
    /// One round; matched by [`Dealer::to_field`] with `n = x.len()`.
    ///
    /// A value outside the bound gives a wrong residue (the caller enforces the bound).
    pub fn to_field(&mut self, x: &[u64], m: usize) -> Result<Vec<u64>, MpcError> {
        let n = x.len();
        let mods = field_mods(m)?;
        let op = self.next_op();
        let first = self.role == Role::First;
        // This party's share as an unsigned integer (First adds 2^62) and its top bit.
        let s: Vec<u64> = if first {
            x.iter()
                .map(|v| v.wrapping_add(FIELD_INPUT_BOUND))
                .collect()
        } else {
            x.to_vec()
        };
        let (pad, z) = if first {
            (
                seeded(&self.seed, "field", op, "u", &mods, n),
                seeded(&self.seed, "field", op, "z", &mods, n),
            )
        } else {
            self.dealer.set_step("dealer-field");
            self.expect_header(header(OpKind::Field, op, n, m, 0))?;
            let z = self.dealer.recv_u64s(m * n)?;
            check_reduced(&z, &mods, n, self.dealer.peer())?;
            (seeded(&self.seed, "field", op, "w", &mods, n), z)
        };
        // First sends α = a − u, Second sends β = b − w (a, b: the top bits).
        let mut msg = vec![0u64; m * n];
        per_prime(&mut msg, &mods, n, |md, o, i| {
            for ((o, si), pi) in o.iter_mut().zip(&s).zip(chunk(&pad, i, n)) {
                *o = md.sub(si >> 63, *pi);
            }
        });
        self.peer.set_step("field");
        let theirs = self.exchange(&msg)?;
        check_reduced(&theirs, &mods, n, self.peer.peer())?;
        let mut out = vec![0u64; m * n];
        per_prime(&mut out, &mods, n, |md, o, i| {
            let (mine, peer, pad, z) = (
                chunk(&msg, i, n),
                chunk(&theirs, i, n),
                chunk(&pad, i, n),
                chunk(&z, i, n),
            );
            let two64 = md.reduce_wide(1 << 64);
            let two62 = md.reduce(FIELD_INPUT_BOUND);
            for (j, o) in o.iter_mut().enumerate() {
                let (own, other, pj, zj) = (
                    mine.get(j).copied().unwrap_or(0),
                    peer.get(j).copied().unwrap_or(0),
                    pad.get(j).copied().unwrap_or(0),
                    z.get(j).copied().unwrap_or(0),
                );
                let sj = s.get(j).copied().unwrap_or(0);
                let bit = sj >> 63;
                // First: [ab] = αβ + uβ + z_F (α own, β received); Second: [ab] = αw + z_S.
                let ab = if first {
                    md.add(md.mul(md.add(own, pj), other), zj)
                } else {
                    md.add(md.mul(other, pj), zj)
                };
                let c = md.sub(bit, ab);
                let mut v = md.sub(md.reduce(sj), md.mul(c, two64));
                if first {
                    v = md.sub(v, two62);
                }
                *o = v;
            }
        });
        Ok(out)
    }

    /// Stay in step with a [`Dealer::to_field`] whose conversion is not needed (both data
    /// parties know it, e.g. a suppressed model): Second receives and drops the dealer's part;
    /// nothing is sent to the peer.
    pub fn skip_to_field(&mut self, n: usize, m: usize) -> Result<(), MpcError> {
        field_mods(m)?;
        let op = self.next_op();
        if self.role == Role::Second {
            self.dealer.set_step("dealer-field");
            self.expect_header(header(OpKind::Field, op, n, m, 0))?;
            self.dealer.recv_u64s(m * n)?;
        }
        Ok(())
    }
}

impl Dealer<'_> {
    /// Correlated randomness for [`Computer::to_field`] of `n` values on `m` primes: Second
    /// receives `z_S = u·w − z_F` (`m·n` residues), with `u`, `z_F` from First's seed and `w`
    /// from Second's.
    pub fn to_field(&mut self, n: usize, m: usize) -> Result<(), MpcError> {
        let mods = field_mods(m)?;
        let op = self.next_op();
        let u = seeded(&self.seed_first, "field", op, "u", &mods, n);
        let zf = seeded(&self.seed_first, "field", op, "z", &mods, n);
        let w = seeded(&self.seed_second, "field", op, "w", &mods, n);
        let uw = zip_mod(&u, &w, &mods, n, Modulus::mul)?;
        let zs = zip_mod(&uw, &zf, &mods, n, Modulus::sub)?;
        self.second.set_step("dealer-field");
        self.second.send_msg(&header(OpKind::Field, op, n, m, 0))?;
        self.second.send_u64s(&zs)?;
        self.second.flush()?;
        Ok(())
    }
}

/// The first `m` moduli, or [`MpcError::Primes`] if `m` is 0 or beyond the list.
pub(crate) fn field_mods(m: usize) -> Result<Vec<Modulus>, MpcError> {
    if m == 0 || m > PRIMES.len() {
        return Err(MpcError::Primes {
            wanted: m,
            max: PRIMES.len(),
        });
    }
    Ok(Modulus::first(m))
}

#[cfg(test)]
mod tests;
