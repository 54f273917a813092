//! Beaver multiplication: the computing parties' online half and the dealer's triples.

use rayon::prelude::*;

use super::wire::{combine, header, stream, OpKind};
use super::{check_len, sized, Computer, Dealer, MpcError};
use crate::channel::ChannelExt;
use crate::Role;

impl Computer<'_> {
    /// Beaver multiplication of shared vectors (same length): shares of `x·y` element-wise.
    ///
    /// With a triple `c = a·b` from the dealer, both parties open `d = x − a` and `e = y − b`
    /// in one round and set `z = c + d·b + e·a (+ d·e at First)`.
    #[expect(
        clippy::indexing_slicing,
        reason = "x, y and z have length n (checked on entry) and every block range lies in 0..n"
    )]
    pub fn mul(&mut self, x: &[u64], y: &[u64]) -> Result<Vec<u64>, MpcError> {
        check_len("mul: y", x.len(), y.len())?;
        let n = x.len();
        let op = self.next_op();
        let first = self.role == Role::First;
        let sa = stream(&self.seed, "mul", op, "a");
        let sb = stream(&self.seed, "mul", op, "b");
        let mut z = if first {
            stream(&self.seed, "mul", op, "c").u64s(n)
        } else {
            self.dealer.set_step("dealer-mul");
            self.expect_header(header(OpKind::Mul, op, n, 0, 0))?;
            self.dealer.recv_u64s(n)?
        };
        // Pipelined in blocks of one frame: [x_j − a_j, y_j − b_j] interleaved, 16 bytes per
        // element. The pads of the blocks in flight are kept until the peer's block arrives.
        let block = MUL_BLOCK;
        let blocks = n.div_ceil(block);
        let range = |i: usize| (i * block, ((i + 1) * block).min(n));
        self.peer.set_step("mul");
        // Pads of the blocks in flight come from (and go back to) the recycled buffers.
        let pool = std::cell::RefCell::new(std::mem::take(&mut self.scratch));
        // Every element is overwritten by the PRG before it is read.
        let take = |len: usize| sized(pool.borrow_mut().pop().unwrap_or_default(), len);
        let result = self.pipelined(
            blocks,
            |i, buf| {
                let (s, e) = range(i);
                let (xs, ys) = (&x[s..e], &y[s..e]);
                let mut a = take(e - s);
                let mut b = take(e - s);
                let mut frame = sized(buf, 16 * (e - s));
                if e - s >= SUB {
                    rayon::join(|| sa.fill_u64_at(s, &mut a), || sb.fill_u64_at(s, &mut b));
                    frame
                        .par_chunks_mut(16 * SUB)
                        .zip(xs.par_chunks(SUB).zip(ys.par_chunks(SUB)))
                        .zip(a.par_chunks(SUB).zip(b.par_chunks(SUB)))
                        .for_each(|((f, (xs, ys)), (a, b))| mul_encode(f, xs, ys, a, b));
                } else {
                    sa.fill_u64_at(s, &mut a);
                    sb.fill_u64_at(s, &mut b);
                    mul_encode(&mut frame, xs, ys, &a, &b);
                }
                Ok((frame, (a, b)))
            },
            |i| {
                let (s, e) = range(i);
                16 * (e - s)
            },
            |i, (a, b), frame| {
                let (s, e) = range(i);
                let zs = &mut z[s..e];
                let (xs, ys) = (&x[s..e], &y[s..e]);
                if e - s >= SUB {
                    zs.par_chunks_mut(SUB)
                        .zip(frame.par_chunks(16 * SUB))
                        .zip(xs.par_chunks(SUB).zip(ys.par_chunks(SUB)))
                        .zip(a.par_chunks(SUB).zip(b.par_chunks(SUB)))
                        .for_each(|(((zs, f), (xs, ys)), (a, b))| {
                            mul_finish(zs, f, xs, ys, a, b, first)
                        });
                } else {
                    mul_finish(zs, frame, xs, ys, &a, &b, first);
                }
                pool.borrow_mut().extend([a, b]);
                Ok(())
            },
        );
        self.scratch = pool.into_inner();
        result?;
        Ok(z)
    }
}

impl Dealer<'_> {
    /// Correlated randomness for one Beaver multiplication of `n`-element vectors.
    pub fn mul(&mut self, n: usize) -> Result<(), MpcError> {
        let op = self.next_op();
        let [af, bf, cf] = ["a", "b", "c"].map(|p| stream(&self.seed_first, "mul", op, p));
        let [as_, bs] = ["a", "b"].map(|p| stream(&self.seed_second, "mul", op, p));
        let mut c_second = vec![0u64; n];
        combine(
            [&af, &bf, &cf, &as_, &bs],
            &mut c_second,
            |out, [af, bf, cf, as_, bs]| {
                let a = af.wrapping_add(as_);
                let b = bf.wrapping_add(bs);
                *out = a.wrapping_mul(b).wrapping_sub(cf);
            },
        );
        self.second.set_step("dealer-mul");
        self.second.send_msg(&header(OpKind::Mul, op, n, 0, 0))?;
        self.second.send_u64s(&c_second)?;
        self.second.flush()?;
        Ok(())
    }
}

/// Beaver message encoding: `[x_j − a_j, y_j − b_j]` little-endian, 16 bytes per element.
fn mul_encode(frame: &mut [u8], xs: &[u64], ys: &[u64], a: &[u64], b: &[u64]) {
    for ((((f, x), y), a), b) in frame.chunks_exact_mut(16).zip(xs).zip(ys).zip(a).zip(b) {
        let (fd, fe) = f.split_at_mut(8);
        fd.copy_from_slice(&x.wrapping_sub(*a).to_le_bytes());
        fe.copy_from_slice(&y.wrapping_sub(*b).to_le_bytes());
    }
}

/// Beaver output: with `d = x − a` and `e = y − b` opened (own part recomputed, peer's part
/// from `frame`), `z += d·b + e·a (+ d·e at First)`.
fn mul_finish(
    zs: &mut [u64],
    frame: &[u8],
    xs: &[u64],
    ys: &[u64],
    a: &[u64],
    b: &[u64],
    first: bool,
) {
    for (((((zj, f), x), y), a), b) in zs
        .iter_mut()
        .zip(frame.as_chunks::<16>().0)
        .zip(xs)
        .zip(ys)
        .zip(a)
        .zip(b)
    {
        // [d_j, e_j] as two little-endian words: the low and high halves of one u128.
        let w = u128::from_le_bytes(*f);
        let d = x.wrapping_sub(*a).wrapping_add(w as u64);
        let e = y.wrapping_sub(*b).wrapping_add((w >> 64) as u64);
        let mut v = zj
            .wrapping_add(d.wrapping_mul(*b))
            .wrapping_add(e.wrapping_mul(*a));
        if first {
            v = v.wrapping_add(d.wrapping_mul(e));
        }
        *zj = v;
    }
}

/// Elements per frame in Beaver multiplication (16 bytes each).
const MUL_BLOCK: usize = crate::channel::BULK_FRAME / 16;

/// Elements per rayon task inside one block.
const SUB: usize = 1 << 14;
