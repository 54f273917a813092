//! Secure comparison with a public threshold: the computing parties' online half and the
//! dealer's edaBits, AND triples and daBits.

use rayon::prelude::*;

use super::wire::{combine, header, stream, OpKind, BLOCK};
use super::{check_len, Computer, Dealer, MpcError};
use crate::channel::ChannelExt;
use crate::ring;
use crate::Role;

/// Number of packed AND gates per value in the comparison circuit: 5 Kogge–Stone levels with
/// two ANDs and a last level with one.
pub(crate) const CMP_ANDS: usize = 11;

/// Values per secure-comparison batch (see [`Computer::ge_public`]): 2^18, about 100 MB of
/// correlated randomness and intermediates per party.
pub const CMP_BATCH: usize = 1 << 18;

impl Computer<'_> {
    /// Shares of the bits `[x_i ≥ t]` (0 or 1 in Z_2^64), `x_i` read as two's complement
    /// signed; exact whenever `|x_i − t| < 2^63`.
    ///
    /// Method: `d = x − t` is masked with a dealer value `r` whose bits the parties hold as XOR
    /// shares (an edaBit, Escudero, Ghosh, Keller, Rachuri, Scholl: "Improved Primitives for
    /// MPC over Mixed Arithmetic-Binary Circuits", CRYPTO 2020); `m = d + r` is opened (it is
    /// uniform). Then `d = m + ¬r + 1`, whose most significant bit is computed on XOR shares with
    /// a Kogge–Stone parallel-prefix carry circuit (as in ABY3, Mohassel and Rindal, CCS 2018):
    /// 6 levels over 64-bit packed words, each AND a packed Beaver AND triple from the dealer.
    /// The XOR-shared MSB becomes an arithmetic share with a dealer daBit `β`:
    /// `c = msb ⊕ β` is opened and `[msb] = c + [β] − 2c[β]`. The result is `1 − [msb]`.
    /// Eight rounds per [`CMP_BATCH`] values: longer inputs are compared batch by batch (one
    /// dealer operation each, matched by [`Dealer::ge_public`]), which bounds the memory for the
    /// dealer's bits and triples to about 100 MB per party whatever the input size.
    pub fn ge_public(&mut self, x: &[u64], t: u64) -> Result<Vec<u64>, MpcError> {
        let mut out = Vec::with_capacity(x.len());
        for chunk in x.chunks(CMP_BATCH) {
            out.extend(self.ge_public_batch(chunk, t)?);
        }
        Ok(out)
    }

    /// [`Computer::ge_public`] for at most [`CMP_BATCH`] values: one dealer operation.
    fn ge_public_batch(&mut self, x: &[u64], t: u64) -> Result<Vec<u64>, MpcError> {
        let n = x.len();
        let op = self.next_op();
        let first = self.role == Role::First;
        let seed = &self.seed;
        let ra = stream(seed, "cmp", op, "ra").u64s(n);
        let ta = stream(seed, "cmp", op, "ta").u64s(CMP_ANDS * n);
        let tb = stream(seed, "cmp", op, "tb").u64s(CMP_ANDS * n);
        let words = n.div_ceil(64);
        let beta_b = stream(seed, "cmp", op, "betab").u64s(words);
        let (rb, tc, beta_a) = if first {
            (
                stream(seed, "cmp", op, "rb").u64s(n),
                stream(seed, "cmp", op, "tc").u64s(CMP_ANDS * n),
                stream(seed, "cmp", op, "betaa").u64s(n),
            )
        } else {
            self.dealer.set_step("dealer-compare");
            self.expect_header(header(OpKind::Cmp, op, n, 0, 0))?;
            let rb = self.dealer.recv_u64s(n)?;
            let tc = self.dealer.recv_u64s(CMP_ANDS * n)?;
            let ba = self.dealer.recv_u64s(n)?;
            (rb, tc, ba)
        };

        // Round 1: open m = x − t + r.
        self.peer.set_step("compare");
        let mut m: Vec<u64> = x
            .iter()
            .zip(&ra)
            .map(|(xi, ri)| {
                let d = if first { xi.wrapping_sub(t) } else { *xi };
                d.wrapping_add(*ri)
            })
            .collect();
        let theirs = self.exchange(&m)?;
        ring::add_assign(&mut m, &theirs)?;

        // XOR shares of B = ¬r (First complements its share), G = m ∧ B, P = m ⊕ B.
        let mut g = Vec::with_capacity(n);
        let mut p = Vec::with_capacity(n);
        for (mi, ri) in m.iter().zip(&rb) {
            let b = if first { !ri } else { *ri };
            let gi = mi & b;
            let pi = if first { mi ^ b } else { b };
            g.push(gi ^ (pi & 1)); // fold the carry-in 1 into bit 0: g0 ∨ p0 = g0 ⊕ p0
            p.push(pi);
        }
        // p63 = bit 63 of P, kept for the sum bit; then clear bit 0 of P (nothing below it).
        let p63: Vec<u64> = p.iter().map(|pi| pi >> 63).collect();
        for pi in &mut p {
            *pi &= !1;
        }

        // Rounds 2–7: Kogge–Stone prefix, G ^= P ∧ (G ≪ s); P = P ∧ (P ≪ s).
        let mut off = 0;
        for level in 0..6 {
            let s = 1u32 << level;
            let last = level == 5;
            let ands = if last { 1 } else { 2 };
            let mut lhs = Vec::with_capacity(ands * n);
            let mut rhs = Vec::with_capacity(ands * n);
            lhs.extend_from_slice(&p);
            rhs.extend(g.iter().map(|gi| gi << s));
            if !last {
                lhs.extend_from_slice(&p);
                rhs.extend(p.iter().map(|pi| pi << s));
            }
            let span = ands * n;
            let z = self.and_gates(
                &lhs,
                &rhs,
                part(&ta, off, span)?,
                part(&tb, off, span)?,
                part(&tc, off, span)?,
            )?;
            off += span;
            for (gi, zi) in g.iter_mut().zip(&z) {
                *gi ^= zi;
            }
            if !last {
                p.copy_from_slice(part(&z, n, n)?);
            }
        }

        // MSB(d) = p63 ⊕ carry into bit 63 = p63 ⊕ G[62]; then open msb ⊕ β (packed).
        let mut packed = vec![0u64; words];
        for (i, (gi, pi)) in g.iter().zip(&p63).enumerate() {
            let bit = (pi ^ (gi >> 62)) & 1;
            if let Some(w) = packed.get_mut(i / 64) {
                *w |= bit << (i % 64);
            }
        }
        for (w, bw) in packed.iter_mut().zip(&beta_b) {
            *w ^= bw;
        }
        let theirs = self.exchange(&packed)?;
        let opened: Vec<u64> = packed.iter().zip(&theirs).map(|(x, y)| x ^ y).collect();
        let out = beta_a
            .iter()
            .zip(bits(&opened))
            .map(|(ba, c)| {
                // [msb] = c + [β] − 2c[β];  result = 1 − [msb]
                let msb = if c == 1 {
                    let v = ba.wrapping_neg();
                    if first {
                        v.wrapping_add(1)
                    } else {
                        v
                    }
                } else {
                    *ba
                };
                if first {
                    1u64.wrapping_sub(msb)
                } else {
                    msb.wrapping_neg()
                }
            })
            .collect();
        Ok(out)
    }

    /// Packed AND of XOR-shared words with Beaver AND triples (one round).
    fn and_gates(
        &mut self,
        x: &[u64],
        y: &[u64],
        ta: &[u64],
        tb: &[u64],
        tc: &[u64],
    ) -> Result<Vec<u64>, MpcError> {
        let n = x.len();
        for (what, len) in [
            ("and: y", y.len()),
            ("and: triple a", ta.len()),
            ("and: triple b", tb.len()),
            ("and: triple c", tc.len()),
        ] {
            check_len(what, n, len)?;
        }
        let mut msg = Vec::with_capacity(2 * n);
        msg.extend(x.iter().zip(ta).map(|(x, a)| x ^ a));
        msg.extend(y.iter().zip(tb).map(|(y, b)| y ^ b));
        let theirs = self.exchange(&msg)?;
        check_len("and: the peer's message", msg.len(), theirs.len())?;
        let first = self.role == Role::First;
        let (md, me) = msg.split_at(n);
        let (td, te) = theirs.split_at(n);
        Ok(md
            .iter()
            .zip(td)
            .zip(me.iter().zip(te))
            .zip(ta.iter().zip(tb).zip(tc))
            .map(|(((md, td), (me, te)), ((a, b), c))| {
                let d = md ^ td;
                let e = me ^ te;
                let mut z = c ^ (d & b) ^ (e & a);
                if first {
                    z ^= d & e;
                }
                z
            })
            .collect())
    }
}

impl Dealer<'_> {
    /// Correlated randomness for one secure comparison of `n` shared values with a public
    /// threshold: one operation per [`crate::mpc::CMP_BATCH`] values (none for `n = 0`), as
    /// [`crate::mpc::Computer::ge_public`] consumes them.
    pub fn ge_public(&mut self, n: usize) -> Result<(), MpcError> {
        let mut left = n;
        while left > 0 {
            let k = left.min(crate::mpc::CMP_BATCH);
            self.ge_public_batch(k)?;
            left -= k;
        }
        Ok(())
    }

    fn ge_public_batch(&mut self, n: usize) -> Result<(), MpcError> {
        let op = self.next_op();
        let sf = &self.seed_first;
        let ss = &self.seed_second;
        let (ra_f, ra_s, rb_f) = (
            stream(sf, "cmp", op, "ra"),
            stream(ss, "cmp", op, "ra"),
            stream(sf, "cmp", op, "rb"),
        );
        // ⟨r⟩_S = (r_F + r_S) ⊕ ⟨r⟩_F
        let mut rb_second = vec![0u64; n];
        combine([&ra_f, &ra_s, &rb_f], &mut rb_second, |out, [x, y, z]| {
            *out = x.wrapping_add(y) ^ z;
        });
        // packed AND triples over GF(2)^64
        let [ta_f, tb_f, tc_f] = ["ta", "tb", "tc"].map(|p| stream(sf, "cmp", op, p));
        let [ta_s, tb_s] = ["ta", "tb"].map(|p| stream(ss, "cmp", op, p));
        let mut tc_second = vec![0u64; CMP_ANDS * n];
        combine(
            [&ta_f, &tb_f, &tc_f, &ta_s, &tb_s],
            &mut tc_second,
            |out, [af, bf, cf, as_, bs]| {
                *out = ((af ^ as_) & (bf ^ bs)) ^ cf;
            },
        );
        // daBits: β = ⟨β⟩_F ⊕ ⟨β⟩_S bitwise (packed), [β]_S = β − [β]_F
        let words = n.div_ceil(64);
        let beta_f = stream(sf, "cmp", op, "betab").u64s(words);
        let beta_s = stream(ss, "cmp", op, "betab").u64s(words);
        let beta: Vec<u64> = beta_f.iter().zip(&beta_s).map(|(x, y)| x ^ y).collect();
        drop((beta_f, beta_s));
        let betaa_f = stream(sf, "cmp", op, "betaa");
        let mut betaa_second = vec![0u64; n];
        // BLOCK is a multiple of 64, so value j of block i is bit (j % 64) of word (i·BLOCK+j)/64
        betaa_second
            .par_chunks_mut(BLOCK)
            .enumerate()
            .for_each(|(i, o)| {
                let mut bf = vec![0u64; o.len()];
                betaa_f.fill_u64_at(i * BLOCK, &mut bf);
                // Block i starts at bit i·BLOCK, a whole word (BLOCK is a multiple of 64).
                let block_bits = bits(beta.iter().skip(i * BLOCK / 64));
                for ((out, f), bit) in o.iter_mut().zip(&bf).zip(block_bits) {
                    *out = bit.wrapping_sub(*f);
                }
            });
        self.second.set_step("dealer-compare");
        self.second.send_msg(&header(OpKind::Cmp, op, n, 0, 0))?;
        self.second.send_u64s(&rb_second)?;
        self.second.send_u64s(&tc_second)?;
        self.second.send_u64s(&betaa_second)?;
        self.second.flush()?;
        Ok(())
    }
}

const _: () = assert!(
    BLOCK.is_multiple_of(64),
    "dealer blocks start at whole words of packed bits"
);

/// The bits of packed words, least significant first: bit `i` is bit `i % 64` of word `i / 64`.
fn bits<'a, I>(words: I) -> impl Iterator<Item = u64> + 'a
where
    I: IntoIterator<Item = &'a u64>,
    I::IntoIter: 'a,
{
    words
        .into_iter()
        .flat_map(|&w| (0..64).map(move |k| (w >> k) & 1))
}

/// `len` values of `v` from `off`: the part of the correlated randomness one step consumes.
fn part(v: &[u64], off: usize, len: usize) -> Result<&[u64], MpcError> {
    v.get(off..off + len).ok_or(MpcError::Length {
        what: "compare: correlated randomness",
        expected: off + len,
        got: v.len(),
    })
}
