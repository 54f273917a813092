//! Finding a repeated identifier among many, exactly and without a map of all of them.
//!
//! Every identifier gets a fingerprint under a fresh random key (std's SipHash with
//! [`RandomState`], 32 bits of it packed with the row into one word); the words are sorted in
//! parallel, and only rows whose fingerprints are equal have their identifiers compared byte for
//! byte. The answer is exact (a
//! fingerprint collision between different identifiers is not a repeat) and does not depend on
//! the key: it is the repeat a scan in row order with a map from identifier to first row would
//! stop at.
//!
//! ```
//! use samen_pseudonym::distinct::{first_repeat, Repeat};
//! assert_eq!(first_repeat(&["a", "b", "c"]), None);
//! assert_eq!(
//!     first_repeat(&["a", "b", "c", "b", "a"]),
//!     Some(Repeat { earlier: 1, later: 3 })
//! );
//! ```

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;

use rayon::prelude::*;

/// Two rows with the same identifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repeat {
    /// The first row (0-based) that holds the identifier.
    pub earlier: usize,
    /// The row that repeats it.
    pub later: usize,
}

/// The first repeated identifier in row order: the smallest `later` whose identifier occurs in
/// an earlier row, with `earlier` the first row that holds it; `None` when all are distinct.
///
/// Identifiers are compared as bytes (`AsRef<[u8]>`), exactly. Runs in O(n log n) time on all
/// cores, with 8 bytes of memory per identifier (16 beyond 2^32 identifiers).
pub fn first_repeat<T: AsRef<[u8]> + Sync>(ids: &[T]) -> Option<Repeat> {
    let state = RandomState::new();
    first_repeat_by(ids, |id| state.hash_one(id))
}

/// [`first_repeat`] with the fingerprint function `fingerprint` (any function: equal
/// identifiers must only get equal fingerprints; up to 2^32 identifiers, only its upper 32 bits
/// are used).
fn first_repeat_by<T, F>(ids: &[T], fingerprint: F) -> Option<Repeat>
where
    T: AsRef<[u8]> + Sync,
    F: Fn(&[u8]) -> u64 + Sync,
{
    if ids.len() < 2 {
        return None;
    }
    if u32::try_from(ids.len() - 1).is_ok() {
        // Up to 2^32 rows: 32 bits of fingerprint and the row packed in one word, which sorts
        // fastest; the few rows whose fingerprints collide are compared exactly.
        let keyed = ids
            .par_iter()
            .enumerate()
            .with_min_len(1 << 12)
            .map(|(row, id)| (fingerprint(id.as_ref()) & 0xffff_ffff_0000_0000) | row as u64)
            .collect();
        first_in_runs(ids, keyed, |k| k >> 32, |k| (k & 0xffff_ffff) as usize)
    } else {
        let keyed = ids
            .par_iter()
            .enumerate()
            .with_min_len(1 << 12)
            .map(|(row, id)| (fingerprint(id.as_ref()), row))
            .collect();
        first_in_runs(ids, keyed, |k: (u64, usize)| k.0, |k| k.1)
    }
}

/// The first repeat, from `(fingerprint, row)` entries (sorted here) that order by fingerprint,
/// then row.
fn first_in_runs<T, E>(
    ids: &[T],
    mut keyed: Vec<E>,
    key: impl Fn(E) -> u64,
    row: impl Fn(E) -> usize,
) -> Option<Repeat>
where
    T: AsRef<[u8]>,
    E: Copy + Ord + Send,
{
    keyed.par_sort_unstable();
    let mut first: Option<Repeat> = None;
    let mut rows: Vec<usize> = Vec::new();
    for run in keyed.chunk_by(|&a, &b| key(a) == key(b)) {
        let found = match run {
            [_] => None,
            // The common case: two rows, in increasing order.
            [a, b] => {
                let (a, b) = (row(*a), row(*b));
                (id_at(ids, a) == id_at(ids, b)).then_some(Repeat {
                    earlier: a,
                    later: b,
                })
            }
            _ => {
                // Rows with equal fingerprints, in increasing order: group them by identifier
                // (a stable sort keeps each group in row order) and take each group's first two.
                rows.clear();
                rows.extend(run.iter().map(|&e| row(e)));
                rows.sort_by(|&a, &b| id_at(ids, a).cmp(id_at(ids, b)));
                rows.chunk_by(|&a, &b| id_at(ids, a) == id_at(ids, b))
                    .filter_map(|group| match group {
                        [earlier, later, ..] => Some(Repeat {
                            earlier: *earlier,
                            later: *later,
                        }),
                        _ => None,
                    })
                    .min_by_key(|r| r.later)
            }
        };
        if let Some(r) = found {
            if first.is_none_or(|f| r.later < f.later) {
                first = Some(r);
            }
        }
    }
    first
}

/// The identifier of `row` (every row passed here comes from enumerating `ids`).
fn id_at<T: AsRef<[u8]>>(ids: &[T], row: usize) -> &[u8] {
    ids.get(row).map_or(&[], AsRef::as_ref)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    /// The reference: a scan in row order with a map from identifier to its first row.
    fn scan(ids: &[Vec<u8>]) -> Option<Repeat> {
        let mut seen: HashMap<&[u8], usize> = HashMap::new();
        for (later, id) in ids.iter().enumerate() {
            if let Some(&earlier) = seen.get(id.as_slice()) {
                return Some(Repeat { earlier, later });
            }
            seen.insert(id, later);
        }
        None
    }

    #[test]
    fn small_cases() {
        let none: [&str; 0] = [];
        assert_eq!(first_repeat(&none), None);
        assert_eq!(first_repeat(&["x"]), None);
        assert_eq!(
            first_repeat(&["x", "x"]),
            Some(Repeat {
                earlier: 0,
                later: 1
            })
        );
        // The first repeat in row order, not the first identifier that repeats.
        assert_eq!(
            first_repeat(&["a", "b", "b", "a"]),
            Some(Repeat {
                earlier: 1,
                later: 2
            })
        );
        // Three of a kind: the second occurrence, named with the first.
        assert_eq!(
            first_repeat(&["q", "a", "a", "a"]),
            Some(Repeat {
                earlier: 1,
                later: 2
            })
        );
        assert_eq!(first_repeat(&["", "a", ""]).map(|r| r.later), Some(2));
    }

    #[test]
    fn many_distinct_then_one_repeat() {
        let mut ids: Vec<String> = (0..100_000).map(|i| format!("id-{i}")).collect();
        assert_eq!(first_repeat(&ids), None);
        ids.push("id-4711".to_string());
        ids.push("id-5".to_string());
        assert_eq!(
            first_repeat(&ids),
            Some(Repeat {
                earlier: 4711,
                later: 100_000
            })
        );
    }

    proptest! {
        #[test]
        fn matches_the_scan(ids in proptest::collection::vec(
            proptest::collection::vec(0u8..4, 0..3), 0..200)
        ) {
            prop_assert_eq!(first_repeat(&ids), scan(&ids));
        }

        #[test]
        fn matches_the_scan_on_wider_alphabets(ids in proptest::collection::vec(
            proptest::collection::vec(any::<u8>(), 0..6), 0..400)
        ) {
            prop_assert_eq!(first_repeat(&ids), scan(&ids));
        }

        #[test]
        fn fingerprint_collisions_are_not_repeats(ids in proptest::collection::vec(
            proptest::collection::vec(0u8..5, 0..4), 0..200)
        ) {
            // Fingerprints that collide often: by length only, and constant.
            let expected = scan(&ids);
            prop_assert_eq!(first_repeat_by(&ids, |id| (id.len() as u64) << 40), expected);
            prop_assert_eq!(first_repeat_by(&ids, |_| 7), expected);
        }
    }
}
