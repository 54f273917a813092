//! Tests of the `ring` module.

use super::*;
use proptest::prelude::*;

pub(crate) fn check_laws<R: Ring>(a: R, b: R, c: R) {
    assert_eq!(a.add(b), b.add(a));
    assert_eq!(a.mul(b), b.mul(a));
    assert_eq!(a.add(b).add(c), a.add(b.add(c)));
    assert_eq!(a.mul(b).mul(c), a.mul(b.mul(c)));
    assert_eq!(a.add(R::ZERO), a);
    assert_eq!(a.mul(R::ONE), a);
    assert_eq!(a.mul(R::ZERO), R::ZERO);
    assert_eq!(a.add(a.neg()), R::ZERO);
    assert_eq!(a.sub(b), a.add(b.neg()));
    assert_eq!(a.mul(b.add(c)), a.mul(b).add(a.mul(c)));
}

fn naive_tn(a: &[u64], b: &[u64], n: usize, k: usize, l: usize) -> Vec<u64> {
    let mut out = vec![0u64; k * l];
    for i in 0..n {
        for p in 0..k {
            for q in 0..l {
                out[p * l + q] =
                    out[p * l + q].wrapping_add(a[i * k + p].wrapping_mul(b[i * l + q]));
            }
        }
    }
    out
}

proptest! {
    #[test]
    fn ring_laws_u64(a: u64, b: u64, c: u64) {
        check_laws(a, b, c);
    }

    #[test]
    fn ring_laws_bits64(a: u64, b: u64, c: u64) {
        check_laws(Bits64(a), Bits64(b), Bits64(c));
    }

    #[test]
    fn elementwise_match_scalar(v in proptest::collection::vec((any::<u64>(), any::<u64>()), 0..300), s: u64) {
        let a: Vec<u64> = v.iter().map(|p| p.0).collect();
        let b: Vec<u64> = v.iter().map(|p| p.1).collect();
        let add_ = add(&a, &b).unwrap();
        let sub_ = sub(&a, &b).unwrap();
        let mul_ = mul(&a, &b).unwrap();
        for i in 0..a.len() {
            prop_assert_eq!(add_[i], a[i].wrapping_add(b[i]));
            prop_assert_eq!(sub_[i], a[i].wrapping_sub(b[i]));
            prop_assert_eq!(mul_[i], a[i].wrapping_mul(b[i]));
        }
        prop_assert_eq!(neg(&a), a.iter().map(|x| x.wrapping_neg()).collect::<Vec<_>>());
        prop_assert_eq!(scale(&a, s), a.iter().map(|x| x.wrapping_mul(s)).collect::<Vec<_>>());
        prop_assert_eq!(sum(&a), a.iter().fold(0u64, |s, x| s.wrapping_add(*x)));
        prop_assert_eq!(dot(&a, &b).unwrap(), mul_.iter().fold(0u64, |s, x| s.wrapping_add(*x)));
    }

    #[test]
    fn matmul_tn_matches_naive(n in 0usize..40, k in 1usize..20, l in 1usize..20, seed: u64) {
        let mut p = crate::prg::Prg::new(&crate::prg::Seed::from_bytes([seed as u8; 32]), &seed.to_le_bytes());
        let a = p.u64s(n * k);
        let b = p.u64s(n * l);
        prop_assert_eq!(matmul_tn(&a, &b, n, k, l).unwrap(), naive_tn(&a, &b, n, k, l));
        // A·B with A = aᵀ (k×n)
        let at = transpose(&a, n, k);
        prop_assert_eq!(matmul(&at, &b, k, n, l).unwrap(), naive_tn(&a, &b, n, k, l));
    }
}

#[test]
fn large_kernels_match_scalar_in_parallel_path() {
    let n = PAR_THRESHOLD + 1001;
    let mut p = crate::prg::Prg::new(&crate::prg::Seed::from_bytes([5; 32]), b"big");
    let a = p.u64s(n);
    let b = p.u64s(n);
    let s = add(&a, &b).unwrap();
    assert!(s
        .iter()
        .zip(a.iter().zip(&b))
        .all(|(s, (x, y))| *s == x.wrapping_add(*y)));
    let m = mul(&a, &b).unwrap();
    assert!(m
        .iter()
        .zip(a.iter().zip(&b))
        .all(|(s, (x, y))| *s == x.wrapping_mul(*y)));
    assert_eq!(sum(&a), a.iter().fold(0u64, |s, x| s.wrapping_add(*x)));
    assert_eq!(dot(&a, &b).unwrap(), sum(&m));
    // parallel matmul_tn with a tail block, k=12, l=3
    let rows = TN_ROWS_PER_TASK * 2 + 77;
    let a = p.u64s(rows * 12);
    let b = p.u64s(rows * 3);
    assert_eq!(
        matmul_tn(&a, &b, rows, 12, 3).unwrap(),
        naive_tn(&a, &b, rows, 12, 3)
    );
    let b = p.u64s(rows * 20);
    let a = p.u64s(rows * 2);
    assert_eq!(
        matmul_tn(&a, &b, rows, 2, 20).unwrap(),
        naive_tn(&a, &b, rows, 2, 20)
    );
}

#[test]
fn shape_errors() {
    assert!(matches!(
        add(&[1], &[1, 2]),
        Err(RingError::LengthMismatch { left: 1, right: 2 })
    ));
    assert!(matches!(
        matmul_tn(&[1, 2, 3], &[1], 2, 2, 1),
        Err(RingError::Shape { which: "a", .. })
    ));
    assert!(matmul_tn(&[], &[], 0, 3, 2).unwrap() == vec![0; 6]);
    assert!(matches!(
        matmul(&[1], &[1], usize::MAX, 2, 1),
        Err(RingError::Shape { .. })
    ));
}
