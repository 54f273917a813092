//! The cross-party matrix product: the computing parties' online half and the dealer's
//! correction `R_S = UᵀV − R_F`.

use rayon::prelude::*;

use super::wire::{header, stream, OpKind, BLOCK};
use super::{check_len, le_u64s, sized, Computer, Dealer, MpcError};
use crate::channel::ChannelExt;
use crate::ring::{self, RingError};
use crate::Role;

/// Check that the shapes of a cross product are addressable.
pub(crate) fn check_dims(n: usize, k: usize, l: usize) -> Result<(), MpcError> {
    let ok = n
        .checked_mul(k)
        .and_then(|_| n.checked_mul(l))
        .and_then(|_| k.checked_mul(l))
        .and_then(|_| n.checked_mul(k.checked_add(l)?))
        .is_some();
    if ok {
        Ok(())
    } else {
        Err(MpcError::ShapeOverflow { n, k, l })
    }
}

impl Computer<'_> {
    /// Cross-party matrix product. First passes its private row-major n×k matrix M_A, Second its
    /// private row-major n×l matrix M_B (both know n, k, l). Both get additive shares of
    /// M_Aᵀ · M_B (k×l, row-major).
    ///
    /// First sends `E = M_A − U`, Second sends `F = M_B − V` (one round, pipelined in blocks of
    /// rows); with `R_F + R_S = UᵀV` from the dealer, First's share is `UᵀF + R_F` and Second's
    /// is `EᵀM_B + R_S`, because `M_Aᵀ M_B = (E + U)ᵀ M_B = EᵀM_B + UᵀF + UᵀV`.
    #[expect(
        clippy::indexing_slicing,
        reason = "`mine` has n rows of my_cols (checked on entry); every block of rows lies in 0..n"
    )]
    pub fn cross_product(
        &mut self,
        mine: &[u64],
        n: usize,
        k: usize,
        l: usize,
    ) -> Result<Vec<u64>, MpcError> {
        check_dims(n, k, l)?;
        let op = self.next_op();
        let first = self.role == Role::First;
        let (my_cols, peer_cols) = if first { (k, l) } else { (l, k) };
        check_len(
            if first {
                "cross_product: First's matrix (n·k)"
            } else {
                "cross_product: Second's matrix (n·l)"
            },
            n * my_cols,
            mine.len(),
        )?;
        let r = if first {
            stream(&self.seed, "cross", op, "r").u64s(k * l)
        } else {
            self.dealer.set_step("dealer-cross-product");
            self.expect_header(header(OpKind::Cross, op, n, k, l))?;
            self.dealer.recv_u64s(k * l)?
        };
        if k == 0 || l == 0 {
            return Ok(r);
        }
        let pad = stream(&self.seed, "cross", op, if first { "u" } else { "v" });
        let rows = (crate::channel::BULK_FRAME / 8 / k.max(l)).max(1);
        let blocks = n.div_ceil(rows);
        let range = |i: usize| (i * rows, ((i + 1) * rows).min(n));
        let mut acc = r;
        self.peer.set_step("cross-product");
        self.pipelined(
            blocks,
            |i, buf| {
                let (s, e) = range(i);
                let mut p = vec![0u64; (e - s) * my_cols];
                pad.fill_u64_at(s * my_cols, &mut p);
                let m = &mine[s * my_cols..e * my_cols];
                let mut frame = sized(buf, 8 * p.len());
                for ((f, m), p) in frame.chunks_exact_mut(8).zip(m).zip(&p) {
                    f.copy_from_slice(&m.wrapping_sub(*p).to_le_bytes());
                }
                // First keeps U's block for UᵀF; Second needs nothing
                Ok((frame, if first { p } else { Vec::new() }))
            },
            |i| {
                let (s, e) = range(i);
                8 * (e - s) * peer_cols
            },
            |i, u, frame| {
                let (s, e) = range(i);
                let theirs: Vec<u64> = le_u64s(frame).collect();
                let part = if first {
                    // UᵀF
                    ring::matmul_tn(&u, &theirs, e - s, k, l)?
                } else {
                    // EᵀM_B
                    ring::matmul_tn(&theirs, &mine[s * l..e * l], e - s, k, l)?
                };
                ring::add_assign(&mut acc, &part)?;
                Ok(())
            },
        )?;
        Ok(acc)
    }
}

impl Dealer<'_> {
    /// Correlated randomness for one cross-party product of an `n×k` and an `n×l` matrix.
    pub fn cross_product(&mut self, n: usize, k: usize, l: usize) -> Result<(), MpcError> {
        let op = self.next_op();
        crate::mpc::check_dims(n, k, l)?;
        let u = stream(&self.seed_first, "cross", op, "u");
        let r_first = stream(&self.seed_first, "cross", op, "r").u64s(k * l);
        let v = stream(&self.seed_second, "cross", op, "v");
        let rows = (BLOCK / (k + l).max(1)).max(1);
        let blocks = n.div_ceil(rows);
        let utv = (0..blocks)
            .into_par_iter()
            .try_fold(
                || vec![0u64; k * l],
                |mut acc, b| {
                    let start = b * rows;
                    let len = rows.min(n - start);
                    let mut ub = vec![0u64; len * k];
                    let mut vb = vec![0u64; len * l];
                    u.fill_u64_at(start * k, &mut ub);
                    v.fill_u64_at(start * l, &mut vb);
                    ring::matmul_tn_acc(&ub, &vb, k, l, &mut acc)?;
                    Ok::<_, RingError>(acc)
                },
            )
            .try_reduce(
                || vec![0u64; k * l],
                |mut x, y| {
                    ring::add_assign(&mut x, &y)?;
                    Ok(x)
                },
            )?;
        let r_second = ring::sub(&utv, &r_first)?;
        self.second.set_step("dealer-cross-product");
        self.second.send_msg(&header(OpKind::Cross, op, n, k, l))?;
        self.second.send_u64s(&r_second)?;
        self.second.flush()?;
        Ok(())
    }
}
