//! Arithmetic in the ring Z_2^64 (wrapping `u64`) on vectors and row-major matrices.
//!
//! Shares, masks and correlated randomness are plain `Vec<u64>` / `&[u64]`; the kernels here are
//! free functions over slices. They are written as plain loops over zipped slices with wrapping
//! operations so that LLVM vectorises them on the portable target (no `target-cpu=native`),
//! and they split work over rayon only above thresholds chosen from the benchmarks in
//! `benches/ring.rs` (below a threshold the work stays on the calling thread).
//!
//! Binary operations check that their operands fit and return [`RingError`] otherwise, so that
//! a length that came from a peer or a user never panics.
//!
//! The algebra is captured by the small [`Ring`] trait, implemented for `u64` (Z_2^64) and for
//! [`Bits64`] (GF(2)^64, packed bits with XOR and AND); its laws are property-tested once for
//! both.
//!
//! ```
//! use samen_core::ring;
//! let a = vec![1u64, 2, u64::MAX];
//! let b = vec![5u64, 6, 2];
//! assert_eq!(ring::add(&a, &b).unwrap(), vec![6, 8, 1]); // wraps mod 2^64
//! assert_eq!(ring::dot(&a, &b).unwrap(), 15); // 5 + 12 + (2^64 − 1)·2 mod 2^64
//! // A^T·B for A (2×1) and B (2×2), row-major
//! assert_eq!(ring::matmul_tn(&[1, 2], &[3, 4, 5, 6], 2, 1, 2).unwrap(), vec![13, 16]);
//! ```

use rayon::prelude::*;
use thiserror::Error;

/// Element-wise kernels (add, sub, mul, ...) go parallel at this many elements. Below it a
/// single core is faster than the fork/join overhead; measured with `benches/ring.rs`.
pub const PAR_THRESHOLD: usize = 1 << 18;

/// Work split of element-wise kernels above [`PAR_THRESHOLD`] (elements per rayon task).
const PAR_CHUNK: usize = 1 << 16;

/// [`matmul_tn`] goes parallel when `n·k·l` reaches this many multiply-adds.
pub const MATMUL_PAR_THRESHOLD: usize = 1 << 20;

/// An error of a ring kernel: the operands do not fit together.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RingError {
    /// Two vectors that must have the same length do not.
    #[error("vector lengths differ: {left} and {right} elements")]
    LengthMismatch {
        /// Length of the left operand.
        left: usize,
        /// Length of the right operand.
        right: usize,
    },
    /// A matrix buffer does not have the length its shape requires.
    #[error("matrix '{which}' has {got} elements but its shape {rows}×{cols} needs {expected}")]
    Shape {
        /// Which operand ("a", "b", ...).
        which: &'static str,
        /// Declared rows.
        rows: usize,
        /// Declared columns.
        cols: usize,
        /// rows·cols (or `usize::MAX` when that overflows).
        expected: usize,
        /// The buffer's length.
        got: usize,
    },
}

/// A commutative ring with one, as used by the sharing schemes of samen.
///
/// Laws (checked by a property test for every implementation): `+` and `·` associative and
/// commutative, `0` and `1` neutral, `x + (−x) = 0`, `·` distributes over `+`,
/// `x − y = x + (−y)`.
pub trait Ring: Copy + PartialEq + Eq + std::fmt::Debug + Send + Sync + 'static {
    /// Additive identity.
    const ZERO: Self;
    /// Multiplicative identity.
    const ONE: Self;
    /// Addition.
    fn add(self, rhs: Self) -> Self;
    /// Subtraction.
    fn sub(self, rhs: Self) -> Self;
    /// Additive inverse.
    fn neg(self) -> Self;
    /// Multiplication.
    fn mul(self, rhs: Self) -> Self;
}

impl Ring for u64 {
    const ZERO: Self = 0;
    const ONE: Self = 1;
    #[inline(always)]
    fn add(self, rhs: Self) -> Self {
        self.wrapping_add(rhs)
    }
    #[inline(always)]
    fn sub(self, rhs: Self) -> Self {
        self.wrapping_sub(rhs)
    }
    #[inline(always)]
    fn neg(self) -> Self {
        self.wrapping_neg()
    }
    #[inline(always)]
    fn mul(self, rhs: Self) -> Self {
        self.wrapping_mul(rhs)
    }
}

/// 64 packed elements of GF(2): addition is XOR, multiplication is AND (a Boolean ring). XOR
/// shares of bit vectors and the packed AND triples of secure comparison live here.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Bits64(pub u64);

impl Ring for Bits64 {
    const ZERO: Self = Bits64(0);
    const ONE: Self = Bits64(u64::MAX);
    #[inline(always)]
    fn add(self, rhs: Self) -> Self {
        Bits64(self.0 ^ rhs.0)
    }
    #[inline(always)]
    fn sub(self, rhs: Self) -> Self {
        Bits64(self.0 ^ rhs.0)
    }
    #[inline(always)]
    fn neg(self) -> Self {
        self
    }
    #[inline(always)]
    fn mul(self, rhs: Self) -> Self {
        Bits64(self.0 & rhs.0)
    }
}

fn same_len(a: usize, b: usize) -> Result<(), RingError> {
    if a == b {
        Ok(())
    } else {
        Err(RingError::LengthMismatch { left: a, right: b })
    }
}

fn check_shape(which: &'static str, len: usize, rows: usize, cols: usize) -> Result<(), RingError> {
    let expected = rows.saturating_mul(cols);
    if expected == len {
        Ok(())
    } else {
        Err(RingError::Shape {
            which,
            rows,
            cols,
            expected,
            got: len,
        })
    }
}

/// `dst[i] = f(dst[i], src[i])`, in parallel above the threshold.
#[inline(always)]
fn zip_apply(dst: &mut [u64], src: &[u64], f: impl Fn(u64, u64) -> u64 + Sync + Send + Copy) {
    #[inline(always)]
    fn seq(dst: &mut [u64], src: &[u64], f: impl Fn(u64, u64) -> u64) {
        for (d, s) in dst.iter_mut().zip(src) {
            *d = f(*d, *s);
        }
    }
    if dst.len() >= PAR_THRESHOLD {
        dst.par_chunks_mut(PAR_CHUNK)
            .zip(src.par_chunks(PAR_CHUNK))
            .for_each(|(d, s)| seq(d, s, f));
    } else {
        seq(dst, src, f);
    }
}

/// `out[i] = f(a[i], b[i])` into a fresh vector.
#[inline(always)]
fn zip_map(a: &[u64], b: &[u64], f: impl Fn(u64, u64) -> u64 + Sync + Send + Copy) -> Vec<u64> {
    let mut out = a.to_vec();
    zip_apply(&mut out, b, f);
    out
}

/// `dst[i] = f(dst[i])`, in parallel above the threshold.
#[inline(always)]
fn map_apply(dst: &mut [u64], f: impl Fn(u64) -> u64 + Sync + Send + Copy) {
    if dst.len() >= PAR_THRESHOLD {
        dst.par_chunks_mut(PAR_CHUNK).for_each(|d| {
            for x in d {
                *x = f(*x);
            }
        });
    } else {
        for x in dst {
            *x = f(*x);
        }
    }
}

/// `a + b` element-wise.
pub fn add(a: &[u64], b: &[u64]) -> Result<Vec<u64>, RingError> {
    same_len(a.len(), b.len())?;
    Ok(zip_map(a, b, u64::wrapping_add))
}

/// `dst += src` element-wise.
pub fn add_assign(dst: &mut [u64], src: &[u64]) -> Result<(), RingError> {
    same_len(dst.len(), src.len())?;
    zip_apply(dst, src, u64::wrapping_add);
    Ok(())
}

/// `a − b` element-wise.
pub fn sub(a: &[u64], b: &[u64]) -> Result<Vec<u64>, RingError> {
    same_len(a.len(), b.len())?;
    Ok(zip_map(a, b, u64::wrapping_sub))
}

/// `dst −= src` element-wise.
pub fn sub_assign(dst: &mut [u64], src: &[u64]) -> Result<(), RingError> {
    same_len(dst.len(), src.len())?;
    zip_apply(dst, src, u64::wrapping_sub);
    Ok(())
}

/// `−a` element-wise.
pub fn neg(a: &[u64]) -> Vec<u64> {
    let mut out = a.to_vec();
    neg_assign(&mut out);
    out
}

/// `a = −a` element-wise.
pub fn neg_assign(a: &mut [u64]) {
    map_apply(a, u64::wrapping_neg);
}

/// `s · a` for a public scalar `s`.
pub fn scale(a: &[u64], s: u64) -> Vec<u64> {
    let mut out = a.to_vec();
    scale_assign(&mut out, s);
    out
}

/// `a = s · a` for a public scalar `s`.
pub fn scale_assign(a: &mut [u64], s: u64) {
    map_apply(a, move |x| x.wrapping_mul(s));
}

/// `a · b` element-wise (Hadamard product).
pub fn mul(a: &[u64], b: &[u64]) -> Result<Vec<u64>, RingError> {
    same_len(a.len(), b.len())?;
    Ok(zip_map(a, b, u64::wrapping_mul))
}

/// `dst = dst · src` element-wise.
pub fn mul_assign(dst: &mut [u64], src: &[u64]) -> Result<(), RingError> {
    same_len(dst.len(), src.len())?;
    zip_apply(dst, src, u64::wrapping_mul);
    Ok(())
}

/// Sum of all elements.
pub fn sum(a: &[u64]) -> u64 {
    fn seq(a: &[u64]) -> u64 {
        // four independent accumulators keep the adds pipelined / vectorised
        let mut acc = [0u64; 4];
        let mut chunks = a.chunks_exact(4);
        for c in &mut chunks {
            for (s, x) in acc.iter_mut().zip(c) {
                *s = s.wrapping_add(*x);
            }
        }
        let tail = chunks
            .remainder()
            .iter()
            .fold(0u64, |s, x| s.wrapping_add(*x));
        acc.iter().fold(tail, |s, x| s.wrapping_add(*x))
    }
    if a.len() >= PAR_THRESHOLD {
        a.par_chunks(PAR_CHUNK)
            .map(seq)
            .reduce(|| 0, u64::wrapping_add)
    } else {
        seq(a)
    }
}

/// Inner product `Σ a[i]·b[i]`.
pub fn dot(a: &[u64], b: &[u64]) -> Result<u64, RingError> {
    same_len(a.len(), b.len())?;
    fn seq(a: &[u64], b: &[u64]) -> u64 {
        let mut acc = [0u64; 4];
        let mut ca = a.chunks_exact(4);
        let mut cb = b.chunks_exact(4);
        for (x, y) in (&mut ca).zip(&mut cb) {
            for ((s, xi), yi) in acc.iter_mut().zip(x).zip(y) {
                *s = s.wrapping_add(xi.wrapping_mul(*yi));
            }
        }
        let tail = ca
            .remainder()
            .iter()
            .zip(cb.remainder())
            .fold(0u64, |s, (x, y)| s.wrapping_add(x.wrapping_mul(*y)));
        acc.iter().fold(tail, |s, x| s.wrapping_add(*x))
    }
    Ok(if a.len() >= PAR_THRESHOLD {
        a.par_chunks(PAR_CHUNK)
            .zip(b.par_chunks(PAR_CHUNK))
            .map(|(x, y)| seq(x, y))
            .reduce(|| 0, u64::wrapping_add)
    } else {
        seq(a, b)
    })
}

/// Matrix product `A·B` of a row-major `k×n` matrix `a` and a row-major `n×l` matrix `b`;
/// returns the row-major `k×l` product.
pub fn matmul(a: &[u64], b: &[u64], k: usize, n: usize, l: usize) -> Result<Vec<u64>, RingError> {
    check_shape("a", a.len(), k, n)?;
    check_shape("b", b.len(), n, l)?;
    let mut out = vec![0u64; k * l];
    if l == 0 || n == 0 {
        return Ok(out);
    }
    let row = |(out_row, a_row): (&mut [u64], &[u64])| {
        for (aij, b_row) in a_row.iter().zip(b.chunks_exact(l)) {
            for (o, bj) in out_row.iter_mut().zip(b_row) {
                *o = o.wrapping_add(aij.wrapping_mul(*bj));
            }
        }
    };
    if k.saturating_mul(n).saturating_mul(l) >= MATMUL_PAR_THRESHOLD {
        out.par_chunks_mut(l)
            .zip(a.par_chunks_exact(n))
            .for_each(row);
    } else {
        out.chunks_mut(l).zip(a.chunks_exact(n)).for_each(row);
    }
    Ok(out)
}

/// Rows per rayon task in [`matmul_tn`].
const TN_ROWS_PER_TASK: usize = 1 << 13;

/// Accumulate `Σ_rows a_row^T · b_row` into `acc` (k×L) with the column count `L` known at
/// compile time, so that the inner loop is unrolled and kept in registers.
#[inline(always)]
fn tn_block_const<const L: usize>(a: &[u64], b: &[u64], k: usize, acc: &mut [u64]) {
    let mut acc_rows: Vec<[u64; L]> = acc
        .chunks_exact(L)
        .map(|c| {
            let mut r = [0u64; L];
            r.copy_from_slice(c);
            r
        })
        .collect();
    for (a_row, b_row) in a.chunks_exact(k).zip(b.chunks_exact(L)) {
        let mut bv = [0u64; L];
        bv.copy_from_slice(b_row);
        for (acc_row, ap) in acc_rows.iter_mut().zip(a_row) {
            for (o, bq) in acc_row.iter_mut().zip(&bv) {
                *o = o.wrapping_add(ap.wrapping_mul(*bq));
            }
        }
    }
    for (c, r) in acc.chunks_exact_mut(L).zip(&acc_rows) {
        c.copy_from_slice(r);
    }
}

/// Generic fallback of [`tn_block_const`] for any column count.
fn tn_block_dyn(a: &[u64], b: &[u64], k: usize, l: usize, acc: &mut [u64]) {
    for (a_row, b_row) in a.chunks_exact(k).zip(b.chunks_exact(l)) {
        for (acc_row, ap) in acc.chunks_exact_mut(l).zip(a_row) {
            for (o, bq) in acc_row.iter_mut().zip(b_row) {
                *o = o.wrapping_add(ap.wrapping_mul(*bq));
            }
        }
    }
}

/// Dispatch on `l` to a specialised kernel.
fn tn_block(a: &[u64], b: &[u64], k: usize, l: usize, acc: &mut [u64]) {
    macro_rules! dispatch {
        ($($n:literal)*) => {
            match l {
                $($n => tn_block_const::<$n>(a, b, k, acc),)*
                _ => tn_block_dyn(a, b, k, l, acc),
            }
        };
    }
    dispatch!(1 2 3 4 5 6 7 8 9 10 11 12 16)
}

/// Sequential accumulation `acc += Aᵀ·B` for a row-major `rows×k` block `a` and `rows×l`
/// block `b` (for callers that parallelise themselves, e.g. over row blocks of PRG output).
pub fn matmul_tn_acc(
    a: &[u64],
    b: &[u64],
    k: usize,
    l: usize,
    acc: &mut [u64],
) -> Result<(), RingError> {
    if k == 0 || l == 0 {
        return Ok(());
    }
    let rows = a.len() / k;
    check_shape("a", a.len(), rows, k)?;
    check_shape("b", b.len(), rows, l)?;
    check_shape("acc", acc.len(), k, l)?;
    tn_block(a, b, k, l, acc);
    Ok(())
}

/// Transposed matrix product `Aᵀ·B` of a row-major `n×k` matrix `a` and a row-major `n×l`
/// matrix `b`; returns the row-major `k×l` product.
///
/// This is the hot kernel of the cross-party product (n up to 10^7 rows, k·l up to a few
/// hundred): it streams both matrices once, row by row, accumulating the outer product
/// `a_rowᵀ·b_row` into a `k×l` accumulator that stays in L1; above
/// [`MATMUL_PAR_THRESHOLD`] multiply-adds, rayon gives each task a block of rows and its own
/// accumulator, and the accumulators are summed at the end. If `l > k` the roles are swapped
/// (`Aᵀ·B = (Bᵀ·A)ᵀ`) so that the unrolled dimension is the small one.
pub fn matmul_tn(
    a: &[u64],
    b: &[u64],
    n: usize,
    k: usize,
    l: usize,
) -> Result<Vec<u64>, RingError> {
    check_shape("a", a.len(), n, k)?;
    check_shape("b", b.len(), n, l)?;
    if k == 0 || l == 0 || n == 0 {
        return Ok(vec![0u64; k * l]);
    }
    if l > k && l > 12 {
        // keep the unrolled (inner) dimension small
        let t = matmul_tn(b, a, n, l, k)?;
        return Ok(transpose(&t, l, k));
    }
    let work = n.saturating_mul(k).saturating_mul(l);
    if work < MATMUL_PAR_THRESHOLD {
        let mut acc = vec![0u64; k * l];
        tn_block(a, b, k, l, &mut acc);
        return Ok(acc);
    }
    let acc = a
        .par_chunks(TN_ROWS_PER_TASK * k)
        .zip(b.par_chunks(TN_ROWS_PER_TASK * l))
        .fold(
            || vec![0u64; k * l],
            |mut acc, (ab, bb)| {
                tn_block(ab, bb, k, l, &mut acc);
                acc
            },
        )
        .reduce(
            || vec![0u64; k * l],
            |mut x, y| {
                for (p, q) in x.iter_mut().zip(&y) {
                    *p = p.wrapping_add(*q);
                }
                x
            },
        );
    Ok(acc)
}

/// Transpose a row-major `rows×cols` matrix (the caller guarantees `m.len() == rows·cols`).
pub fn transpose(m: &[u64], rows: usize, cols: usize) -> Vec<u64> {
    let mut out = vec![0u64; m.len()];
    if cols == 0 {
        return out;
    }
    for (i, row) in m.chunks_exact(cols).take(rows).enumerate() {
        for (j, x) in row.iter().enumerate() {
            if let Some(o) = out.get_mut(j * rows + i) {
                *o = *x;
            }
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests;
