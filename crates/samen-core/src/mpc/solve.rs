//! Exact least squares on shared Gram matrices that opens only the model: a masked inversion
//! modulo many primes, with rational reconstruction of the outputs.
//!
//! # Input
//! Additive shares (Z_2^64) of the upper triangle of the `d × d` Gram matrix `G = Σ z zᵀ` of
//! `z = (1, x_1, …, x_p, y)` over the rows, every entry below 2^62 in magnitude, and the
//! public number of rows `n` (`G_00`). Write `q = d − 1`, `A` for the leading `q × q` block
//! (`XᵀX`), `b` for the response column (`Xᵀy`; `b_0 = Σy` because the first term is the
//! constant) and `yy = Σy²`.
//!
//! # Protocol ([`Computer::solve_gram`], [`Dealer::solve_gram`])
//! The parties convert their shares to shares modulo `m` = [`field::primes_for`]`(d)` primes
//! ([`Computer::to_field`]); everything below runs modulo every prime at once. The dealer deals
//! (First's parts from its seed, Second's from its seed, with the corrections `C_S`, `(Rv)_S`,
//! `(t²)_S` sent to Second) shares of uniformly random `R`, `B` (`q × q`), `C = R·B`, a random
//! vector `v` and `R·v`, and a random scalar `t` with `t²`.
//!
//! 1. Open `F = A − B`, `b − v` and `e = b_0 − t` (uniform: masked by `B`, `v`, `t`).
//! 2. Locally `[R·A] = [R]·F + [C]`; open `R·A`. If it is singular modulo some prime, both
//!    parties stop and report a singular design.
//! 3. Locally, with the public `W = (R·A)^{-1}`: `[β] = W·([R]·(b − v) + [R·v])`, the diagonal
//!    `[(A^{-1})_jj] = Σ_k W_jk [R_kj]` (as `A^{-1} = W·R`), and
//!    `[n·TSS] = n·[yy] − ([t²] + 2e[t] + e²)`; open them.
//! 4. Locally, with the public `β`: `[RSS] = [yy] − Σ_j β_j [b_j]`; open it.
//!
//! Each opened residue vector is turned into exact rationals by CRT and rational
//! reconstruction ([`field::Crt::rational`]); the bounds of [`field::primes_for`] cover `det A`,
//! Cramer's numerators, the minors of the adjugate, `det G` (`RSS = det G / det A`) and
//! `n·TSS < 2^125`.
//!
//! # What each party learns
//! The messages of step 1 are uniform. When `A` is invertible, `R·A` is uniform over the
//! invertible matrices (for `R` uniform and invertible; `R` is singular with probability below
//! `q/p` per prime, about 2^−55, and then the design is reported singular), so it reveals
//! nothing. Steps 3 and 4 open residues of the outputs themselves: `β`, the diagonal of
//! `A^{-1}` (each `Var(β_j) = σ² (A^{-1})_jj`), `n·TSS` and `RSS`. So each data party learns
//! exactly those outputs — or, for a singular `A`, that it is singular: a singular `A` over the
//! rationals is singular modulo every prime, and a nonsingular `A` is singular modulo a 62-bit
//! prime only if that prime divides `det A` (at most `log2(det A)/62` of the 2^56 or so primes
//! of that size). For a singular `A` the opened `R·A` reveals, besides singularity, the kernel
//! of `A` modulo the primes (the linear dependency among the terms), and nothing else is
//! opened. The dealer receives nothing.
//!
//! # Cost
//! Rounds: 1 (conversion) + 4. Words sent by each party: `m·(d(d+1)/2 + 2q² + 3q + 3)`;
//! Second receives `m·(d(d+1)/2 + q² + q + 1)` words from the dealer. Local work is
//! `O(m·q³)` for each party and for the dealer.

use num_rational::BigRational;
use rayon::prelude::*;

use super::field::{self, check_reduced, chunk, field_mods, seeded, Crt, Modulus};
use super::wire::{header, OpKind};
use super::{check_len, Computer, Dealer, MpcError};
use crate::channel::ChannelExt;
use crate::Role;

/// The opened model: exact rationals.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinearSolution {
    /// `β = A^{-1} b`, one per term (the constant first).
    pub beta: Vec<BigRational>,
    /// The diagonal of `A^{-1}`.
    pub inv_diag: Vec<BigRational>,
    /// The residual sum of squares `yy − βᵀb`.
    pub rss: BigRational,
    /// `n·TSS = n·yy − (Σy)²` (an integer).
    pub n_tss: BigRational,
}

/// The result of a secure solve.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Solution {
    /// `A` is singular (the only thing opened besides the masked `R·A`).
    Singular,
    /// The model.
    Solved(LinearSolution),
}

/// Index of `(i, j)`, `i ≤ j`, in the row-by-row upper triangle of a `d × d` matrix.
fn upper(d: usize, i: usize, j: usize) -> usize {
    i * d - i * i.saturating_sub(1) / 2 + (j - i)
}

/// Words each computing party sends in [`Computer::solve_gram`] for a `d × d` Gram matrix
/// (`None` if `d` needs more primes than [`field::PRIMES`] holds).
pub fn solve_words(d: usize) -> Option<(usize, usize)> {
    let m = field::primes_for(d)?;
    let q = d.saturating_sub(1);
    let e = d * (d + 1) / 2;
    Some((m * (e + 2 * q * q + 3 * q + 3), m * (e + q * q + q + 1)))
}

impl Computer<'_> {
    /// Solve the least-squares model of a shared Gram matrix (upper triangle, Z_2^64 shares,
    /// `d(d+1)/2` entries below 2^62 in magnitude; see the [module overview](self)) and open
    /// only the model. `n` is the public number of rows. Matched by [`Dealer::solve_gram`].
    pub fn solve_gram(&mut self, upper_g: &[u64], d: usize, n: u64) -> Result<Solution, MpcError> {
        let e = d * (d + 1) / 2;
        check_len("solve: Gram upper triangle", e, upper_g.len())?;
        let m = primes(d)?;
        let q = d - 1;
        let f = self.to_field(upper_g, m)?;
        let mods = field_mods(m)?;
        let (mut a, mut b, mut yy) = (
            Vec::with_capacity(m * q * q),
            Vec::with_capacity(m * q),
            Vec::with_capacity(m),
        );
        for i in 0..m {
            let g = chunk(&f, i, e);
            let at = |r: usize, c: usize| g.get(upper(d, r.min(c), r.max(c))).copied();
            for r in 0..q {
                for c in 0..q {
                    a.push(at(r, c).ok_or(MpcError::Internal("Gram index"))?);
                }
            }
            for r in 0..q {
                b.push(at(r, q).ok_or(MpcError::Internal("Gram index"))?);
            }
            yy.push(at(q, q).ok_or(MpcError::Internal("Gram index"))?);
        }
        self.solve(&a, &b, &yy, q, &mods, n)
    }

    /// Stay in step with a [`Dealer::solve_gram`] whose model is not computed (both data
    /// parties know it: a suppressed model, too few rows): Second receives and drops the
    /// dealer's parts; nothing is sent to the peer.
    pub fn skip_solve_gram(&mut self, d: usize) -> Result<(), MpcError> {
        let m = primes(d)?;
        let q = d - 1;
        self.skip_to_field(d * (d + 1) / 2, m)?;
        let op = self.next_op();
        if self.role == Role::Second {
            self.dealer.set_step("dealer-solve");
            self.expect_header(header(OpKind::Solve, op, q, m, 0))?;
            self.dealer.recv_u64s(m * (q * q + q + 1))?;
        }
        Ok(())
    }

    /// Open prime-major residue vectors (each with its number of elements per prime) in one
    /// round; every residue received is checked to be reduced.
    fn open_residues(
        &mut self,
        parts: &[(&[u64], usize)],
        mods: &[Modulus],
    ) -> Result<Vec<Vec<u64>>, MpcError> {
        let msg: Vec<u64> = parts.iter().flat_map(|(v, _)| v.iter().copied()).collect();
        let theirs = self.exchange(&msg)?;
        let mut out = Vec::with_capacity(parts.len());
        let mut at = 0;
        for &(mine, per) in parts {
            let peer = theirs
                .get(at..at + mine.len())
                .ok_or(MpcError::Internal("open: message length"))?;
            at += mine.len();
            check_reduced(peer, mods, per, self.peer.peer())?;
            out.push(field::zip_mod(mine, peer, mods, per, Modulus::add)?);
        }
        Ok(out)
    }

    fn solve(
        &mut self,
        a: &[u64],
        b: &[u64],
        yy: &[u64],
        q: usize,
        mods: &[Modulus],
        n: u64,
    ) -> Result<Solution, MpcError> {
        let m = mods.len();
        let op = self.next_op();
        let first = self.role == Role::First;
        let seed = &self.seed;
        let r = seeded(seed, "solve", op, "R", mods, q * q);
        let bm = seeded(seed, "solve", op, "B", mods, q * q);
        let v = seeded(seed, "solve", op, "v", mods, q);
        let t = seeded(seed, "solve", op, "t", mods, 1);
        let (c, rv, t2) = if first {
            (
                seeded(seed, "solve", op, "C", mods, q * q),
                seeded(seed, "solve", op, "Rv", mods, q),
                seeded(seed, "solve", op, "t2", mods, 1),
            )
        } else {
            self.dealer.set_step("dealer-solve");
            self.expect_header(header(OpKind::Solve, op, q, m, 0))?;
            let who = self.dealer.peer().to_string();
            let c = self.dealer.recv_u64s(m * q * q)?;
            let rv = self.dealer.recv_u64s(m * q)?;
            let t2 = self.dealer.recv_u64s(m)?;
            check_reduced(&c, mods, q * q, &who)?;
            check_reduced(&rv, mods, q, &who)?;
            check_reduced(&t2, mods, 1, &who)?;
            (c, rv, t2)
        };
        let b0: Vec<u64> = (0..m)
            .map(|i| chunk(b, i, q).first().copied().unwrap_or(0))
            .collect();
        let sub = |x: &[u64], y: &[u64], per| field::zip_mod(x, y, mods, per, Modulus::sub);

        // Step 1: open F = A − B, b − v, e = b_0 − t.
        self.peer.set_step("solve");
        let fa = sub(a, &bm, q * q)?;
        let bv = sub(b, &v, q)?;
        let et = sub(&b0, &t, 1)?;
        let opened = self.open_residues(&[(&fa, q * q), (&bv, q), (&et, 1)], mods)?;
        drop((fa, bm));
        let Ok([f_open, bv_open, e_open]) = <[Vec<u64>; 3]>::try_from(opened) else {
            return Err(MpcError::Internal("solve: step 1"));
        };
        let (bv_open, e_open) = (&bv_open, &e_open);

        // Step 2: [R·A] = [R]·F + [C]; open it and invert.
        let ra: Vec<Vec<u64>> = (0..m)
            .into_par_iter()
            .map(|i| {
                let md = mods.get(i).copied().ok_or(MpcError::Internal("prime"))?;
                let rf = md.matmul(chunk(&r, i, q * q), chunk(&f_open, i, q * q), q, q, q)?;
                Ok(rf
                    .iter()
                    .zip(chunk(&c, i, q * q))
                    .map(|(x, y)| md.add(*x, *y))
                    .collect())
            })
            .collect::<Result<_, MpcError>>()?;
        let ra: Vec<u64> = ra.concat();
        drop((f_open, c));
        let opened = self.open_residues(&[(&ra, q * q)], mods)?;
        drop(ra);
        let ra_open = opened.first().ok_or(MpcError::Internal("solve: step 2"))?;
        let w: Vec<Option<Vec<u64>>> = (0..m)
            .into_par_iter()
            .map(|i| {
                let md = mods.get(i).copied().ok_or(MpcError::Internal("prime"))?;
                md.invert_vartime(chunk(ra_open, i, q * q), q)
            })
            .collect::<Result<_, MpcError>>()?;
        let Some(w) = w.into_iter().collect::<Option<Vec<Vec<u64>>>>() else {
            return Ok(Solution::Singular);
        };

        // Step 3: [β] = W·([R]·(b − v) + [R·v]), diag(W·[R]), [n·TSS].
        let step3: Vec<(Vec<u64>, Vec<u64>, u64)> = (0..m)
            .into_par_iter()
            .map(|i| {
                let md = mods.get(i).copied().ok_or(MpcError::Internal("prime"))?;
                let wi = w.get(i).ok_or(MpcError::Internal("inverse"))?;
                let ri = chunk(&r, i, q * q);
                let rb: Vec<u64> = md
                    .matmul(ri, chunk(bv_open, i, q), q, q, 1)?
                    .iter()
                    .zip(chunk(&rv, i, q))
                    .map(|(x, y)| md.add(*x, *y))
                    .collect();
                let beta = md.matmul(wi, &rb, q, q, 1)?;
                let diag: Vec<u64> = (0..q)
                    .map(|j| {
                        let row = wi.get(j * q..(j + 1) * q).unwrap_or_default();
                        let col = ri.iter().skip(j).step_by(q.max(1)).copied();
                        md.dot(row.iter().copied(), col)
                    })
                    .collect();
                let e = chunk(e_open, i, 1).first().copied().unwrap_or(0);
                let ti = chunk(&t, i, 1).first().copied().unwrap_or(0);
                let t2i = chunk(&t2, i, 1).first().copied().unwrap_or(0);
                // [(Σy)²] = [t²] + 2e[t] (+ e² at First)
                let mut sq = md.add(t2i, md.mul(md.add(e, e), ti));
                if first {
                    sq = md.add(sq, md.mul(e, e));
                }
                let yyi = chunk(yy, i, 1).first().copied().unwrap_or(0);
                let ntss = md.sub(md.mul(md.reduce(n), yyi), sq);
                Ok((beta, diag, ntss))
            })
            .collect::<Result<_, MpcError>>()?;
        let beta: Vec<u64> = step3.iter().flat_map(|s| s.0.iter().copied()).collect();
        let diag: Vec<u64> = step3.iter().flat_map(|s| s.1.iter().copied()).collect();
        let ntss: Vec<u64> = step3.iter().map(|s| s.2).collect();
        let opened = self.open_residues(&[(&beta, q), (&diag, q), (&ntss, 1)], mods)?;
        let [beta_open, diag_open, ntss_open] = opened.as_slice() else {
            return Err(MpcError::Internal("solve: step 3"));
        };

        // Step 4: [RSS] = [yy] − Σ β_j [b_j].
        let rss: Vec<u64> = (0..m)
            .map(|i| {
                let md = mods.get(i).copied().ok_or(MpcError::Internal("prime"))?;
                let yyi = chunk(yy, i, 1).first().copied().unwrap_or(0);
                let bb = md.dot(
                    chunk(beta_open, i, q).iter().copied(),
                    chunk(b, i, q).iter().copied(),
                );
                Ok(md.sub(yyi, bb))
            })
            .collect::<Result<_, MpcError>>()?;
        let opened = self.open_residues(&[(&rss, 1)], mods)?;
        let rss_open = opened.first().ok_or(MpcError::Internal("solve: step 4"))?;

        let crt = Crt::new(m).ok_or(MpcError::Internal("solve: primes"))?;
        let rational = |v: &[u64], per: usize, j: usize| {
            crt.rational((0..m).map(|i| chunk(v, i, per).get(j).copied().unwrap_or(0)))
                .ok_or(MpcError::NotRational)
        };
        Ok(Solution::Solved(LinearSolution {
            beta: (0..q)
                .map(|j| rational(beta_open, q, j))
                .collect::<Result<_, _>>()?,
            inv_diag: (0..q)
                .map(|j| rational(diag_open, q, j))
                .collect::<Result<_, _>>()?,
            rss: rational(rss_open, 1, 0)?,
            n_tss: rational(ntss_open, 1, 0)?,
        }))
    }
}

impl Dealer<'_> {
    /// Correlated randomness for [`Computer::solve_gram`] of a `d × d` Gram matrix: one
    /// [`Dealer::to_field`] of its `d(d+1)/2` entries, then the masks of the solve (see the
    /// [module overview](self)).
    pub fn solve_gram(&mut self, d: usize) -> Result<(), MpcError> {
        let m = primes(d)?;
        let mods = field_mods(m)?;
        self.to_field(d * (d + 1) / 2, m)?;
        let q = d - 1;
        let op = self.next_op();
        let (sf, ss) = (&self.seed_first, &self.seed_second);
        let part = |per: usize, name: &str| {
            (
                seeded(sf, "solve", op, name, &mods, per),
                seeded(ss, "solve", op, name, &mods, per),
            )
        };
        let (rf, rs) = part(q * q, "R");
        let (bf, bs) = part(q * q, "B");
        let (vf, vs) = part(q, "v");
        let (tf, ts) = part(1, "t");
        let cf = seeded(sf, "solve", op, "C", &mods, q * q);
        let rvf = seeded(sf, "solve", op, "Rv", &mods, q);
        let t2f = seeded(sf, "solve", op, "t2", &mods, 1);
        let parts: Vec<(Vec<u64>, Vec<u64>, u64)> = (0..m)
            .into_par_iter()
            .map(|i| {
                let md = mods.get(i).copied().ok_or(MpcError::Internal("prime"))?;
                let add = |x: &[u64], y: &[u64]| -> Vec<u64> {
                    x.iter().zip(y).map(|(a, b)| md.add(*a, *b)).collect()
                };
                let r = add(chunk(&rf, i, q * q), chunk(&rs, i, q * q));
                let bm = add(chunk(&bf, i, q * q), chunk(&bs, i, q * q));
                let v = add(chunk(&vf, i, q), chunk(&vs, i, q));
                let t = md.add(
                    chunk(&tf, i, 1).first().copied().unwrap_or(0),
                    chunk(&ts, i, 1).first().copied().unwrap_or(0),
                );
                let sub = |x: &[u64], y: &[u64]| -> Vec<u64> {
                    x.iter().zip(y).map(|(a, b)| md.sub(*a, *b)).collect()
                };
                let c = sub(&md.matmul(&r, &bm, q, q, q)?, chunk(&cf, i, q * q));
                let rv = sub(&md.matmul(&r, &v, q, q, 1)?, chunk(&rvf, i, q));
                let t2 = md.sub(
                    md.mul(t, t),
                    chunk(&t2f, i, 1).first().copied().unwrap_or(0),
                );
                Ok((c, rv, t2))
            })
            .collect::<Result<_, MpcError>>()?;
        let c: Vec<u64> = parts.iter().flat_map(|p| p.0.iter().copied()).collect();
        let rv: Vec<u64> = parts.iter().flat_map(|p| p.1.iter().copied()).collect();
        let t2: Vec<u64> = parts.iter().map(|p| p.2).collect();
        self.second.set_step("dealer-solve");
        self.second.send_msg(&header(OpKind::Solve, op, q, m, 0))?;
        self.second.send_u64s(&c)?;
        self.second.send_u64s(&rv)?;
        self.second.send_u64s(&t2)?;
        self.second.flush()?;
        Ok(())
    }
}

/// The number of primes for a `d × d` Gram matrix (`d ≥ 2`: the constant and the response).
fn primes(d: usize) -> Result<usize, MpcError> {
    if d < 2 {
        return Err(MpcError::Length {
            what: "solve: Gram dimension (the constant and the response at least)",
            expected: 2,
            got: d,
        });
    }
    field::primes_for(d).ok_or(MpcError::ModelTooLarge { d })
}
