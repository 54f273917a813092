//! The Gram matrix `Σ z zᵀ` over the matched rows of a vector `z = (1, z_1, …)` of atoms, as
//! quantities: shared by the regression and the correlation statistics.

use super::{Atom, Quantity};
use crate::stats::{Gram, StatsError};

/// The quantities of the upper triangle of the Gram matrix of `z` (without the leading 1),
/// row by row: `(0,0)` = n, `(0,j)` = Σz_j, `(i,j)` = Σz_i·z_j.
pub(super) fn quantities(z: &[Atom]) -> Vec<Quantity> {
    let d = z.len() + 1;
    let atom = |i: usize| -> Vec<Atom> {
        i.checked_sub(1)
            .and_then(|i| z.get(i))
            .cloned()
            .into_iter()
            .collect()
    };
    let mut q = Vec::with_capacity(d * (d + 1) / 2);
    for i in 0..d {
        for j in i..d {
            let mut atoms = atom(i);
            atoms.extend(atom(j));
            q.push(Quantity(atoms));
        }
    }
    q
}

/// The full symmetric Gram matrix from the opened upper triangle (as [`quantities`] orders it),
/// which must have exactly `d·(d+1)/2` entries.
pub(super) fn from_upper(d: usize, upper: &[i128]) -> Result<Gram, StatsError> {
    let expected = d * (d + 1) / 2;
    if upper.len() != expected {
        return Err(StatsError::WrongLength {
            d,
            expected,
            got: upper.len(),
        });
    }
    let mut full = vec![0i128; d * d];
    let cells = (0..d).flat_map(|i| (i..d).map(move |j| (i, j)));
    for ((i, j), &v) in cells.zip(upper) {
        for at in [i * d + j, j * d + i] {
            if let Some(x) = full.get_mut(at) {
                *x = v;
            }
        }
    }
    Gram::new(d, full)
}
