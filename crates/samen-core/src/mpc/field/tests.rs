//! Tests of the field arithmetic: the prime list, reduction, ring and field laws, matrices,
//! CRT and rational reconstruction.

use super::*;
use crate::ring::Ring;
use proptest::prelude::*;

/// Deterministic Miller–Rabin for n < 3.3·10^24 (bases 2 … 37).
fn is_prime(n: u64) -> bool {
    const BASES: [u64; 12] = [2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37];
    if n < 2 {
        return false;
    }
    for p in BASES {
        if n.is_multiple_of(p) {
            return n == p;
        }
    }
    let mulm = |a: u64, b: u64| ((u128::from(a) * u128::from(b)) % u128::from(n)) as u64;
    let powm = |mut a: u64, mut e: u64| {
        let mut r = 1u64;
        while e > 0 {
            if e & 1 == 1 {
                r = mulm(r, a);
            }
            a = mulm(a, a);
            e >>= 1;
        }
        r
    };
    let s = (n - 1).trailing_zeros();
    let d = (n - 1) >> s;
    'bases: for a in BASES {
        let mut x = powm(a, d);
        if x == 1 || x == n - 1 {
            continue;
        }
        for _ in 1..s {
            x = mulm(x, x);
            if x == n - 1 {
                continue 'bases;
            }
        }
        return false;
    }
    true
}

#[test]
fn primes_are_the_largest_below_2_62() {
    assert!(!is_prime(1 << 62) && is_prime(97) && !is_prime(91));
    let mut above = 1u64 << 62;
    for &p in PRIMES.iter() {
        assert!(p < above && is_prime(p), "{p:#x}");
        assert!(
            ((p + 1)..above).all(|x| !is_prime(x)),
            "a prime between {p:#x} and {above:#x} is missing"
        );
        above = p;
    }
}

/// A residue of prime `I` as a ring element, to check the ring laws with the shared test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Fp<const I: usize>(u64);

impl<const I: usize> Fp<I> {
    fn md() -> Modulus {
        Modulus::nth(I).unwrap()
    }
    fn of(x: u64) -> Self {
        Fp(Self::md().reduce(x))
    }
}

impl<const I: usize> Ring for Fp<I> {
    const ZERO: Self = Fp(0);
    const ONE: Self = Fp(1);
    fn add(self, rhs: Self) -> Self {
        Fp(Self::md().add(self.0, rhs.0))
    }
    fn sub(self, rhs: Self) -> Self {
        Fp(Self::md().sub(self.0, rhs.0))
    }
    fn neg(self) -> Self {
        Fp(Self::md().neg(self.0))
    }
    fn mul(self, rhs: Self) -> Self {
        Fp(Self::md().mul(self.0, rhs.0))
    }
}

fn edge() -> impl Strategy<Value = u64> {
    prop_oneof![
        any::<u64>(),
        Just(0u64),
        Just(1),
        Just(PRIMES[0] - 1),
        Just(PRIMES[431] - 1),
        Just(u64::MAX)
    ]
}

proptest! {
    #[test]
    fn ring_laws_of_the_fields(a in edge(), b in edge(), c in edge()) {
        crate::ring::tests::check_laws(Fp::<0>::of(a), Fp::<0>::of(b), Fp::<0>::of(c));
        crate::ring::tests::check_laws(Fp::<431>::of(a), Fp::<431>::of(b), Fp::<431>::of(c));
        crate::ring::tests::check_laws(Fp::<17>::of(a), Fp::<17>::of(b), Fp::<17>::of(c));
    }

    #[test]
    fn reduction_and_inverse_match_plain_division(x: u128, i in 0usize..432, a in edge()) {
        let md = Modulus::nth(i).unwrap();
        let p = md.p();
        prop_assert_eq!(md.reduce_wide(x), (x % u128::from(p)) as u64);
        prop_assert_eq!(md.reduce_wide(u128::MAX), (u128::MAX % u128::from(p)) as u64);
        let a = md.reduce(a);
        match md.inv_vartime(a) {
            None => prop_assert_eq!(a, 0),
            Some(inv) => prop_assert_eq!(md.mul(a, inv), 1),
        }
        let s = i128::from(a as i64) * 3;
        prop_assert_eq!(u128::from(md.from_i128(s)), s.rem_euclid(i128::from(p)) as u128);
    }

    #[test]
    fn dot_is_the_reduced_sum_of_products(v in proptest::collection::vec((edge(), edge()), 0..70), i in 0usize..432) {
        let md = Modulus::nth(i).unwrap();
        let a: Vec<u64> = v.iter().map(|x| md.reduce(x.0)).collect();
        let b: Vec<u64> = v.iter().map(|x| md.reduce(x.1)).collect();
        let want = a.iter().zip(&b).fold(0u64, |s, (x, y)| md.add(s, md.mul(*x, *y)));
        prop_assert_eq!(md.dot(a.iter().copied(), b.iter().copied()), want);
    }

    #[test]
    fn rational_reconstruction_recovers_bounded_fractions(n: i64, d in 1u64..u64::MAX, m in 3usize..6) {
        let crt = Crt::new(m).unwrap();
        let want = BigRational::new(BigInt::from(n), BigInt::from(d));
        let res = Modulus::first(m).into_iter().map(|md| {
            let num = md.from_i128(i128::from(n));
            md.mul(num, md.inv_vartime(md.reduce(d)).unwrap())
        });
        prop_assert_eq!(crt.rational(res), Some(want));
    }
}

#[test]
fn inverse_and_product_of_random_matrices() {
    let mut prg = Prg::new(&Seed::from_bytes([9; 32]), b"test-field-matrices");
    for (i, q) in [(0usize, 1usize), (3, 2), (100, 7), (431, 12)] {
        let md = Modulus::nth(i).unwrap();
        let a: Vec<u64> = prg.u64s(q * q).into_iter().map(|x| md.reduce(x)).collect();
        let inv = md.invert_vartime(&a, q).unwrap().unwrap();
        let id = md.matmul(&a, &inv, q, q, q).unwrap();
        for r in 0..q {
            for c in 0..q {
                assert_eq!(id[r * q + c], u64::from(r == c));
            }
        }
        // a rank-deficient matrix: the last row repeats the first
        let mut s = a.clone();
        for c in 0..q {
            s[(q - 1) * q + c] = s[c];
        }
        if q > 1 {
            assert_eq!(md.invert_vartime(&s, q).unwrap(), None);
        }
    }
    let md = Modulus::nth(5).unwrap();
    assert_eq!(md.invert_vartime(&[0], 1).unwrap(), None);
    // zero pivots force row swaps, undone as column swaps
    for a in [
        vec![0u64, 1, 2, 3, 0, 4, 5, 6, 0],
        vec![0, 0, 1, 0, 1, 0, 1, 0, 0],
        vec![0, 2, 0, 0, 0, 3, 4, 0, 0],
    ] {
        let inv = md.invert_vartime(&a, 3).unwrap().unwrap();
        for (x, y) in [(&a, &inv), (&inv, &a)] {
            let id = md.matmul(x, y, 3, 3, 3).unwrap();
            assert_eq!(id, vec![1, 0, 0, 0, 1, 0, 0, 0, 1], "{a:?}");
        }
    }
    assert_eq!(
        md.matmul(&[1, 2, 3, 4, 5, 6], &[1, 0, 1, 1, 0, 2], 2, 3, 2)
            .unwrap(),
        vec![3, 8, 9, 17]
    );
}

#[test]
fn primes_cover_the_hadamard_bound() {
    for d in [2usize, 3, 12, 102, 202] {
        let m = primes_for(d).unwrap();
        let crt = Crt::new(m).unwrap();
        let h = BigUint::from(d).pow(d as u32) << (124 * d); // H² (H = √d^d · 2^62d)
        assert!(crt.bound() * crt.bound() >= h, "d = {d}");
        let fewer: BigUint = PRIMES[..m - 1].iter().map(|&p| BigUint::from(p)).product();
        assert!(fewer <= h * 2u8, "d = {d}: {m} primes is not the fewest");
    }
    assert!(primes_for(203).is_some());
    assert_eq!(primes_for(204), None);
    // a determinant-sized rational near the bound is recovered
    let d = 3;
    let crt = Crt::new(primes_for(d).unwrap()).unwrap();
    let num: BigInt = -(BigInt::from(crt.bound().clone()) - 5i32);
    let den: BigInt = BigInt::from(crt.bound().clone()) - 2i32;
    let want = BigRational::new(num.clone(), den.clone());
    let res = Modulus::first(crt.primes()).into_iter().map(|md| {
        let r = |x: &BigInt| {
            let v = x.mod_floor(&BigInt::from(md.p()));
            v.iter_u64_digits().next().unwrap_or(0)
        };
        md.mul(r(&num), md.inv_vartime(r(&den)).unwrap())
    });
    assert_eq!(crt.rational(res), Some(want));
}
