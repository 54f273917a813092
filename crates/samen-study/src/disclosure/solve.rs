//! Which unknowns of a linear system are determined, over F_p with p = 2^61 − 1, every
//! "not determined" answer certified by an exact integer vector.
//!
//! Unknown `c` of `A x = b` (the values of `b` do not matter) is **determined** when every
//! solution has the same `x_c`, i.e. when every `v` with `A v = 0` has `v_c = 0`. The reduced row
//! echelon form of `A` modulo `p` gives a basis of the kernel modulo `p`: one vector per free
//! column. Modulo `p` the kernel can be larger than over the rationals (when `p` divides a
//! minor of `A`), so a vector of that basis is trusted only after it is lifted to the integers
//! (rational reconstruction of each entry, scaled by the common denominator) and `A v = 0` is
//! checked exactly in `i128`. An unknown is reported undetermined only if a checked vector has
//! a non-zero entry there; otherwise it is reported determined. The answer can therefore only
//! err towards "determined", which makes secondary suppression add a cell more, never less.

#![expect(
    clippy::indexing_slicing,
    reason = "dense kernels over matrices built here: every row has `cols.len()` entries, \
              pivot and unknown indices are below `nu ≤ cols.len()`, `at` has `n_system` slots \
              and holds only indices into `cols`"
)]

/// The prime 2^61 − 1.
const P: u64 = (1 << 61) - 1;

fn reduce(x: u128) -> u64 {
    // 2^61 ≡ 1 (mod P): fold the high bits onto the low ones twice.
    let p = u128::from(P);
    let s = (x & p) + (x >> 61);
    let s = (s & p) + (s >> 61);
    let s = s as u64;
    if s >= P {
        s - P
    } else {
        s
    }
}

fn mul(a: u64, b: u64) -> u64 {
    reduce(u128::from(a) * u128::from(b))
}

fn sub(a: u64, b: u64) -> u64 {
    if a >= b {
        a - b
    } else {
        a + P - b
    }
}

fn inv(a: u64) -> u64 {
    let (mut base, mut e, mut r) = (a, P - 2, 1u64);
    while e > 0 {
        if e & 1 == 1 {
            r = mul(r, base);
        }
        base = mul(base, base);
        e >>= 1;
    }
    r
}

fn from_i64(c: i64) -> u64 {
    if c >= 0 {
        c as u64 % P
    } else {
        sub(0, c.unsigned_abs() % P)
    }
}

/// `a` as `n / d` with `|n|, d ≤ 2^30` (`None` if there is no such fraction).
fn reconstruct(a: u64) -> Option<(i128, i128)> {
    const BOUND: i128 = 1 << 30;
    let (mut r0, mut r1) = (i128::from(P), i128::from(a));
    let (mut t0, mut t1) = (0i128, 1i128);
    while r1 > BOUND {
        let q = r0 / r1;
        (r0, r1) = (r1, r0 - q * r1);
        (t0, t1) = (t1, t0 - q * t1);
    }
    if t1 == 0 || t1.abs() > BOUND {
        return None;
    }
    Some(if t1 < 0 { (-r1, -t1) } else { (r1, t1) })
}

fn gcd(a: i128, b: i128) -> i128 {
    let (mut a, mut b) = (a.abs(), b.abs());
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// A sparse equation: (column, coefficient) pairs.
pub(super) type Row = Vec<(usize, i64)>;

/// The reduced row echelon form of the equations over the columns `cols` (the unknowns first,
/// `nu` of them, then further columns carried along), pivoting in the unknowns only.
pub(super) struct Echelon {
    /// Dense rows over `cols`; the first `rank` are the pivot rows.
    rows: Vec<Vec<u64>>,
    /// Pivot column (index into `cols`) of each of the first `rank` rows.
    pivots: Vec<usize>,
    nu: usize,
}

impl Echelon {
    /// Eliminate `rows` (column ids are system columns) over `cols`.
    pub(super) fn new(rows: &[Row], cols: &[usize], nu: usize, n_system: usize) -> Echelon {
        let mut at = vec![usize::MAX; n_system];
        for (i, &c) in cols.iter().enumerate() {
            if let Some(slot) = at.get_mut(c) {
                *slot = i;
            }
        }
        let mut m: Vec<Vec<u64>> = rows
            .iter()
            .filter(|r| {
                r.iter()
                    .any(|&(c, _)| at.get(c).is_some_and(|&i| i < cols.len()))
            })
            .map(|r| {
                let mut dense = vec![0u64; cols.len()];
                for &(c, k) in r {
                    if let Some(x) = at.get(c).and_then(|&i| dense.get_mut(i)) {
                        *x = reduce(u128::from(*x) + u128::from(from_i64(k)));
                    }
                }
                dense
            })
            .collect();
        let mut pivots = Vec::new();
        let mut r = 0;
        for c in 0..nu {
            let Some(p) = (r..m.len()).find(|&i| m[i][c] != 0) else {
                continue;
            };
            m.swap(r, p);
            let f = inv(m[r][c]);
            for x in m[r].iter_mut() {
                *x = mul(*x, f);
            }
            let pivot_row = m[r].clone();
            for (i, row) in m.iter_mut().enumerate() {
                let k = row[c];
                if i == r || k == 0 {
                    continue;
                }
                for (x, &y) in row.iter_mut().zip(&pivot_row) {
                    if y != 0 {
                        *x = sub(*x, mul(k, y));
                    }
                }
            }
            pivots.push(c);
            r += 1;
        }
        Echelon {
            rows: m,
            pivots,
            nu,
        }
    }

    /// The unknowns (indices `< nu`) that are determined modulo p.
    pub(super) fn determined_mod_p(&self) -> Vec<bool> {
        let mut det = vec![false; self.nu];
        for (row, &c) in self.rows.iter().zip(&self.pivots) {
            let alone = (0..self.nu).all(|j| j == c || row[j] == 0);
            det[c] = alone;
        }
        det
    }

    /// The unknowns certified undetermined: the supports of the kernel vectors (one per free
    /// unknown) that lift to integer vectors `v` with `A v = 0` exactly (`rows` over the
    /// unknown columns `cols[..nu]`).
    pub(super) fn certified_free(
        &self,
        rows: &[Row],
        cols: &[usize],
        n_system: usize,
    ) -> Vec<bool> {
        let mut free = vec![false; self.nu];
        let is_pivot = {
            let mut v = vec![false; self.nu];
            for &c in &self.pivots {
                v[c] = true;
            }
            v
        };
        let mut at = vec![usize::MAX; n_system];
        for (i, &c) in cols.iter().take(self.nu).enumerate() {
            at[c] = i;
        }
        for f in (0..self.nu).filter(|&f| !is_pivot[f]) {
            // v_f = 1, v_pivot(i) = −R[i][f].
            let mut frac: Vec<(usize, i128, i128)> = vec![(f, 1, 1)];
            let mut ok = true;
            for (row, &c) in self.rows.iter().zip(&self.pivots) {
                let x = row[f];
                if x == 0 {
                    continue;
                }
                match reconstruct(sub(0, x)) {
                    Some((n, d)) => frac.push((c, n, d)),
                    None => {
                        ok = false;
                        break;
                    }
                }
            }
            if !ok {
                continue;
            }
            let mut lcm: i128 = 1;
            for &(_, _, d) in &frac {
                let g = gcd(lcm, d);
                match (lcm / g).checked_mul(d) {
                    Some(l) if l < (1 << 62) => lcm = l,
                    _ => {
                        ok = false;
                        break;
                    }
                }
            }
            if !ok {
                continue;
            }
            let mut v = vec![0i128; self.nu];
            for &(c, n, d) in &frac {
                v[c] = n * (lcm / d);
            }
            let exact = rows.iter().all(|r| {
                let mut s: i128 = 0;
                for &(c, k) in r {
                    if let Some(&i) = at.get(c) {
                        if let Some(&x) = v.get(i) {
                            match x.checked_mul(i128::from(k)).and_then(|p| s.checked_add(p)) {
                                Some(t) => s = t,
                                None => return false,
                            }
                        }
                    }
                }
                s == 0
            });
            if exact {
                for (i, x) in v.iter().enumerate() {
                    if *x != 0 {
                        free[i] = true;
                    }
                }
            }
        }
        free
    }

    /// For the carried column `j` (`≥ nu`): the unknowns (pivot columns) it makes
    /// undetermined if it becomes an unknown, or `None` if it is not in the column space of
    /// the unknowns (it would be determined itself).
    pub(super) fn released_by(&self, j: usize) -> Option<Vec<usize>> {
        let rank = self.pivots.len();
        if self.rows.iter().skip(rank).any(|r| r[j] != 0) {
            return None;
        }
        Some(
            self.rows
                .iter()
                .zip(&self.pivots)
                .filter(|(r, _)| r[j] != 0)
                .map(|(_, &c)| c)
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_arithmetic() {
        for a in [1u64, 2, 3, 12345, P - 1, 1 << 40] {
            assert_eq!(mul(a, inv(a)), 1);
        }
        assert_eq!(from_i64(-1), P - 1);
        assert_eq!(reduce(u128::from(P) * u128::from(P)), 0);
        assert_eq!(reduce(u128::MAX), (u128::MAX % u128::from(P)) as u64);
    }

    #[test]
    fn reconstruction_finds_small_fractions() {
        for (n, d) in [
            (1i128, 1i128),
            (-1, 1),
            (3, 7),
            (-5, 12),
            (0, 1),
            (1 << 29, 3),
        ] {
            let a = mul(from_i64(n as i64), inv(d as u64));
            assert_eq!(reconstruct(a), Some((n, d)), "{n}/{d}");
        }
    }

    #[test]
    fn determined_and_free_unknowns() {
        // x0 + x1 = k, x2 = k': x2 determined, x0 and x1 not.
        let rows: Vec<Row> = vec![vec![(0, 1), (1, 1)], vec![(2, 1)]];
        let cols = [0, 1, 2];
        let e = Echelon::new(&rows, &cols, 3, 3);
        assert_eq!(e.determined_mod_p(), [false, false, true]);
        assert_eq!(e.certified_free(&rows, &cols, 3), [true, true, false]);
    }

    #[test]
    fn a_carried_column_releases_what_it_joins() {
        // Unknown x0 is determined by x0 − s = 0 with s shown; making s unknown frees x0.
        // The shown t is alone in its equation: an unknown t would be determined.
        let rows: Vec<Row> = vec![vec![(0, 1), (1, -1)], vec![(2, 1)]];
        let e = Echelon::new(&rows, &[0, 1, 2], 1, 3);
        assert_eq!(e.determined_mod_p(), [true]);
        assert_eq!(e.released_by(1), Some(vec![0]));
        // Column 2 appears only where no unknown is: not in the column space.
        assert_eq!(e.released_by(2), None);
    }
}
