//! Protocol tests: the three roles run as threads over in-process channels, and every output is
//! compared with the plaintext computation.
// Test and benchmark code: a failed unwrap, expect or index is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::collections::BTreeMap;

use proptest::prelude::*;
use samen_core::channel::{local_mesh, Channel, ChannelError, ChannelStats, LocalChannel};
use samen_core::dp::{self, DpError, Mechanism, Ratio};
use samen_core::mpc::{Computer, Dealer, MpcError};
use samen_core::prg::{Prg, Seed};
use samen_core::share;
use samen_core::Role;

type Mesh = BTreeMap<String, LocalChannel>;

fn mesh() -> (Mesh, Mesh, Mesh) {
    let mut m = local_mesh(&["first", "second", "helper"]);
    let h = m.pop().unwrap();
    let s = m.pop().unwrap();
    let f = m.pop().unwrap();
    (f, s, h)
}

/// Run First, Second and the dealer as three threads; return First's and Second's results.
fn run3<A: Send, B: Send>(
    first: impl FnOnce(&mut Computer) -> A + Send,
    second: impl FnOnce(&mut Computer) -> B + Send,
    dealer: impl FnOnce(&mut Dealer) + Send,
) -> (A, B) {
    let (mut f, mut s, mut h) = mesh();
    std::thread::scope(|sc| {
        let hd = sc.spawn(move || {
            let mut to_f = h.remove("first").unwrap();
            let mut to_s = h.remove("second").unwrap();
            let mut d = Dealer::with_seeds(
                &mut to_f,
                &mut to_s,
                Seed::from_bytes([1; 32]),
                Seed::from_bytes([2; 32]),
            )
            .unwrap();
            dealer(&mut d);
        });
        let sd = sc.spawn(move || {
            let mut peer = s.remove("first").unwrap();
            let mut dl = s.remove("helper").unwrap();
            let mut c = Computer::new(Role::Second, &mut peer, &mut dl).unwrap();
            second(&mut c)
        });
        let mut peer = f.remove("second").unwrap();
        let mut dl = f.remove("helper").unwrap();
        let mut c = Computer::new(Role::First, &mut peer, &mut dl).unwrap();
        let a = first(&mut c);
        hd.join().unwrap();
        (a, sd.join().unwrap())
    })
}

fn split(x: &[u64], seed: u8) -> (Vec<u64>, Vec<u64>) {
    let mut prg = Prg::new(&Seed::from_bytes([seed; 32]), b"test-split");
    let mut s = share::share_with_prg(x, 2, &mut prg).unwrap();
    let b = s.pop().unwrap();
    let a = s.pop().unwrap();
    (a, b)
}

fn add(a: &[u64], b: &[u64]) -> Vec<u64> {
    samen_core::ring::add(a, b).unwrap()
}

fn check_mul(x: Vec<u64>, y: Vec<u64>) {
    let n = x.len();
    let (x0, x1) = split(&x, 3);
    let (y0, y1) = split(&y, 4);
    let (z0, z1) = run3(
        |c| c.mul(&x0, &y0).unwrap(),
        |c| c.mul(&x1, &y1).unwrap(),
        |d| d.mul(n).unwrap(),
    );
    let want: Vec<u64> = x.iter().zip(&y).map(|(a, b)| a.wrapping_mul(*b)).collect();
    assert_eq!(add(&z0, &z1), want);
}

fn check_cross(a: Vec<u64>, b: Vec<u64>, n: usize, k: usize, l: usize) {
    let (s0, s1) = run3(
        |c| c.cross_product(&a, n, k, l).unwrap(),
        |c| c.cross_product(&b, n, k, l).unwrap(),
        |d| d.cross_product(n, k, l).unwrap(),
    );
    // The plaintext product by the ring kernel (itself checked against the textbook triple loop).
    let want = samen_core::ring::matmul_tn(&a, &b, n, k, l).unwrap();
    assert_eq!(add(&s0, &s1), want);
}

fn check_ge(x: Vec<u64>, t: u64) {
    let n = x.len();
    let (x0, x1) = split(&x, 5);
    let (r0, r1) = run3(
        |c| c.ge_public(&x0, t).unwrap(),
        |c| c.ge_public(&x1, t).unwrap(),
        |d| d.ge_public(n).unwrap(),
    );
    let got = add(&r0, &r1);
    for (i, xi) in x.iter().enumerate() {
        let want = ((*xi as i64) >= (t as i64)) as u64;
        assert_eq!(got[i], want, "x = {} t = {}", *xi as i64, t as i64);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

    #[test]
    fn beaver_equals_plaintext(v in proptest::collection::vec((any::<u64>(), any::<u64>()), 0..40)) {
        check_mul(v.iter().map(|p| p.0).collect(), v.iter().map(|p| p.1).collect());
    }

    #[test]
    fn cross_product_equals_plaintext(n in 0usize..30, k in 1usize..7, l in 1usize..7, seed: u8) {
        let mut p = Prg::new(&Seed::from_bytes([seed; 32]), b"cp");
        check_cross(p.u64s(n * k), p.u64s(n * l), n, k, l);
    }

    #[test]
    fn comparison_equals_plaintext(x in proptest::collection::vec(-(1i64 << 62)..(1i64 << 62), 0..40), t in -(1i64 << 62)..(1i64 << 62)) {
        check_ge(x.iter().map(|v| *v as u64).collect(), t as u64);
    }
}

#[test]
fn beaver_large_batch_uses_parallel_paths() {
    let mut p = Prg::new(&Seed::from_bytes([9; 32]), b"big");
    let n = 300_000;
    check_mul(p.u64s(n), p.u64s(n));
}

#[test]
fn comparison_over_several_batches() {
    // One full batch plus a few values: two dealer operations, results in input order, with
    // the values around the threshold at both ends and across the batch boundary.
    let n = samen_core::mpc::CMP_BATCH + 3;
    let t = 7u64;
    let mut p = Prg::new(&Seed::from_bytes([4; 32]), b"cmp-batches");
    let mut x: Vec<u64> = p.u64s(n).iter().map(|v| (*v as i64 >> 2) as u64).collect();
    for (i, v) in [6u64, 7, 8].into_iter().enumerate() {
        x[i] = v;
        x[n - 1 - i] = v;
        x[samen_core::mpc::CMP_BATCH - 1 + i] = v;
    }
    check_ge(x, t);
}

#[test]
fn cross_product_shapes() {
    let mut p = Prg::new(&Seed::from_bytes([8; 32]), b"shapes");
    for &(n, k, l) in &[
        (0, 1, 1),
        (0, 12, 3),
        (1, 1, 1),
        (5, 1, 1),
        (7, 3, 1),
        (3, 1, 9),
    ] {
        check_cross(p.u64s(n * k), p.u64s(n * l), n, k, l);
    }
    // large enough for several frames (First's E spans 2 frames) and the parallel kernel
    let (n, k, l) = (100_000, 12, 3);
    check_cross(p.u64s(n * k), p.u64s(n * l), n, k, l);
    // realistic one-hot inputs
    let n = 1000;
    let a: Vec<u64> = (0..n * 4)
        .map(|i| ((i % 4) == (i / 4) % 4) as u64)
        .collect();
    let b: Vec<u64> = (0..n * 3)
        .map(|i| (i as u64 % 97) * ((i / 3) % 2) as u64)
        .collect();
    check_cross(a, b, n, 4, 3);
}

#[test]
fn comparison_edge_values() {
    let m = i64::MAX as u64;
    for &t in &[
        0u64,
        1,
        5,
        (-5i64) as u64,
        1 << 40,
        (-(1i64 << 40)) as u64,
        100,
    ] {
        let ti = t as i64;
        let mut xs: Vec<u64> = vec![
            0,
            t.wrapping_sub(1),
            t,
            t.wrapping_add(1),
            1,
            u64::MAX, // −1
            (-(1i64 << 61)) as u64,
            1 << 61,
        ];
        if ti >= 0 {
            xs.push(m); // 2^63 − 1
            xs.push((ti - (i64::MAX - 1) / 2) as u64);
        } else {
            xs.push((i64::MIN + 1) as u64);
            xs.push((ti + i64::MAX) as u64); // 2^63 − 1 + t: |x − t| < 2^63
        }
        check_ge(xs, t);
    }
    // a batch that spans several packed words and parallel blocks
    let mut p = Prg::new(&Seed::from_bytes([7; 32]), b"cmp");
    let xs: Vec<u64> = p
        .u64s(20_000)
        .into_iter()
        .map(|v| ((v as i64) >> 2) as u64)
        .collect();
    check_ge(xs, 12345);
}

#[test]
fn sequence_of_mixed_operations() {
    let x = vec![3u64, 10, 0, (-4i64) as u64];
    let y = vec![5u64, 7, 9, 2];
    let (x0, x1) = split(&x, 11);
    let (y0, y1) = split(&y, 12);
    let run = |c: &mut Computer, x: Vec<u64>, y: Vec<u64>, m: Vec<u64>| {
        let z = c.mul(&x, &y).unwrap();
        let cp = c.cross_product(&m, 4, 1, 1).unwrap();
        let b = c.ge_public(&z, 20).unwrap();
        let masked = c.mul(&z, &b).unwrap();
        (
            c.open(&masked).unwrap(),
            c.open(&cp).unwrap(),
            c.operations(),
        )
    };
    let (a, b) = run3(
        |c| run(c, x0, y0, vec![1, 2, 3, 4]),
        |c| run(c, x1, y1, vec![1, 1, 1, 1]),
        |d| {
            d.mul(4).unwrap();
            d.cross_product(4, 1, 1).unwrap();
            d.ge_public(4).unwrap();
            d.mul(4).unwrap();
        },
    );
    assert_eq!(a, b);
    assert_eq!(a.0, vec![0, 70, 0, 0]);
    assert_eq!(a.1, vec![10]);
    assert_eq!(a.2, 4);
}

#[test]
fn dealer_out_of_sync_is_detected() {
    let (_, second) = run3(
        |c| c.operations(),
        |c| c.mul(&[1, 2, 3, 4], &[1, 2, 3, 4]).map(|_| ()),
        |d| {
            // Second stops at the mismatched header, so the rest of this send may fail.
            let _ = d.mul(3);
        },
    );
    assert!(
        matches!(second, Err(MpcError::OutOfSync { .. })),
        "{second:?}"
    );
}

#[test]
fn role_mismatch_and_bad_hello_are_detected() {
    let (mut f, _s, mut h) = mesh();
    let mut to_f = h.remove("first").unwrap();
    let mut to_s = h.remove("second").unwrap();
    Dealer::new(&mut to_f, &mut to_s).unwrap();
    let mut peer = f.remove("second").unwrap();
    let mut dl = f.remove("helper").unwrap();
    // First's channel received the hello for First; claiming Second is an error
    assert!(matches!(
        Computer::new(Role::Second, &mut peer, &mut dl),
        Err(MpcError::RoleMismatch {
            expected: Role::Second,
            assigned: Role::First
        })
    ));
    // the helper's role is refused before anything is read: the next hello stays queued
    to_f.send(&[1, 2, 3]).unwrap();
    assert!(matches!(
        Computer::new(Role::Helper, &mut peer, &mut dl),
        Err(MpcError::NotADataRole(Role::Helper))
    ));
    // a short frame and a frame with a foreign tag are rejected
    assert!(matches!(
        Computer::new(Role::First, &mut peer, &mut dl),
        Err(MpcError::BadHello(_))
    ));
    to_f.send(&[0u8; 49]).unwrap();
    assert!(matches!(
        Computer::new(Role::First, &mut peer, &mut dl),
        Err(MpcError::BadHello(_))
    ));
    // a dealer that went away is a channel error
    drop(to_f);
    assert!(matches!(
        Computer::new(Role::First, &mut peer, &mut dl),
        Err(MpcError::Channel(ChannelError::Closed { .. }))
    ));
}

#[test]
fn length_errors_are_local() {
    let (a, _) = run3(|c| c.mul(&[1, 2], &[1]).map(|_| ()), |_| (), |_| ());
    assert!(matches!(a, Err(MpcError::Length { .. })));
    let (a, _) = run3(
        |c| c.cross_product(&[1, 2, 3], 2, 2, 1).map(|_| ()),
        |_| (),
        |_| (),
    );
    assert!(matches!(a, Err(MpcError::Length { .. })));
}

// ---------------------------------------------------------------------------------------------
// Leakage: what a party receives is uniform whatever the secret.

/// A channel that records every frame it receives.
struct Recording {
    inner: LocalChannel,
    log: Vec<Vec<u8>>,
}

impl Channel for Recording {
    fn peer(&self) -> &str {
        self.inner.peer()
    }
    fn send(&mut self, p: &[u8]) -> Result<(), ChannelError> {
        self.inner.send(p)
    }
    fn send_owned(&mut self, p: Vec<u8>) -> Result<(), ChannelError> {
        self.inner.send_owned(p)
    }
    fn recv(&mut self, max: usize) -> Result<Vec<u8>, ChannelError> {
        let f = self.inner.recv(max)?;
        self.log.push(f.clone());
        Ok(f)
    }
    fn stats(&self) -> ChannelStats {
        self.inner.stats()
    }
}

/// Pearson's chi-square statistic of the byte histogram against the uniform distribution
/// (255 degrees of freedom: mean 255, standard deviation 22.6).
fn chi_square(bytes: &[u8]) -> f64 {
    let mut h = [0u64; 256];
    for b in bytes {
        h[*b as usize] += 1;
    }
    let e = bytes.len() as f64 / 256.0;
    h.iter().map(|c| (*c as f64 - e).powi(2) / e).sum()
}

/// About 7 standard deviations above the mean: a uniform source exceeds it with probability
/// below 10^-9; a share equal to its secret (a constant) gives a statistic of ~2·10^7.
const CHI2_LIMIT: f64 = 420.0;

/// Run one operation with both computing parties' received frames recorded: `dealer` plays the
/// helper, `first`/`second` the computing parties. Returns (bytes Second received from First,
/// bytes Second received from the dealer after its hello and the operation header, bytes First
/// received from Second).
fn views(
    dealer: impl FnOnce(&mut Dealer) + Send,
    first: impl FnOnce(&mut Computer),
    second: impl FnOnce(&mut Computer) + Send,
) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let (mut f, mut s, mut h) = mesh();
    std::thread::scope(|sc| {
        sc.spawn(move || {
            let mut to_f = h.remove("first").unwrap();
            let mut to_s = h.remove("second").unwrap();
            dealer(&mut Dealer::new(&mut to_f, &mut to_s).unwrap());
        });
        let second = sc.spawn(move || {
            let mut peer = Recording {
                inner: s.remove("first").unwrap(),
                log: vec![],
            };
            let mut dl = Recording {
                inner: s.remove("helper").unwrap(),
                log: vec![],
            };
            second(&mut Computer::new(Role::Second, &mut peer, &mut dl).unwrap());
            // skip the hello (seed) and the operation header: not data-dependent
            (peer.log.concat(), dl.log[2..].concat())
        });
        let mut peer = Recording {
            inner: f.remove("second").unwrap(),
            log: vec![],
        };
        let mut dl = f.remove("helper").unwrap();
        first(&mut Computer::new(Role::First, &mut peer, &mut dl).unwrap());
        let (a, b) = second.join().unwrap();
        (a, b, peer.log.concat())
    })
}

/// [`views`] of one Beaver multiplication of the secret vectors.
fn beaver_views(x: &[u64], y: &[u64]) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let n = x.len();
    let (x0, x1) = split(x, 21);
    let (y0, y1) = split(y, 22);
    views(
        |d| d.mul(n).unwrap(),
        |c| {
            c.mul(&x0, &y0).unwrap();
        },
        |c| {
            c.mul(&x1, &y1).unwrap();
        },
    )
}

#[test]
fn messages_are_uniform_for_any_secret() {
    let n = 10_000;
    let secrets: [(Vec<u64>, Vec<u64>); 2] = [
        (vec![0; n], vec![0; n]),
        (
            vec![u64::MAX; n],
            (0..n as u64).map(|i| i << 32 | 0xABCD).collect(),
        ),
    ];
    for (x, y) in &secrets {
        // a single share of the secret, either one, is uniform
        let (s0, s1) = split(x, 31);
        for s in [&s0, &s1] {
            let bytes: Vec<u8> = s.iter().flat_map(|v| v.to_le_bytes()).collect();
            let chi = chi_square(&bytes);
            assert!(chi < CHI2_LIMIT, "share not uniform: chi2 = {chi}");
        }
        let (from_first, from_dealer, from_second) = beaver_views(x, y);
        assert_eq!(from_first.len(), 16 * n);
        assert_eq!(from_dealer.len(), 8 * n);
        assert_eq!(from_second.len(), 16 * n);
        for (what, bytes) in [
            ("First→Second", from_first),
            ("dealer→Second", from_dealer),
            ("Second→First", from_second),
        ] {
            let chi = chi_square(&bytes);
            assert!(chi < CHI2_LIMIT, "{what} not uniform: chi2 = {chi}");
        }
    }
    // the test has teeth: a "share" equal to the secret fails it
    let bytes: Vec<u8> = secrets[1].1.iter().flat_map(|v| v.to_le_bytes()).collect();
    assert!(chi_square(&bytes) > CHI2_LIMIT);
    let bytes: Vec<u8> = secrets[0].0.iter().flat_map(|v| v.to_le_bytes()).collect();
    assert!(chi_square(&bytes) > CHI2_LIMIT);
}

/// [`views`] of one secure comparison with threshold `t`.
fn comparison_views(x: &[u64], t: u64) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let n = x.len();
    let (x0, x1) = split(x, 23);
    views(
        |d| d.ge_public(n).unwrap(),
        |c| {
            c.ge_public(&x0, t).unwrap();
        },
        |c| {
            c.ge_public(&x1, t).unwrap();
        },
    )
}

#[test]
fn comparison_messages_are_uniform_for_any_secret() {
    let n = 4_096;
    let secrets: [Vec<u64>; 2] = [vec![0; n], (0..n as u64).map(|i| (i << 40) | 7).collect()];
    for x in &secrets {
        let (from_first, from_dealer, from_second) = comparison_views(x, 1000);
        // m (n words), 11 AND gates (2 words each), the packed daBit opening (n/64 words)
        assert_eq!(from_first.len(), 8 * (23 * n + n / 64));
        assert_eq!(from_dealer.len(), 8 * 13 * n);
        assert_eq!(from_second.len(), from_first.len());
        for (what, bytes) in [
            ("First→Second", from_first),
            ("dealer→Second", from_dealer),
            ("Second→First", from_second),
        ] {
            let chi = chi_square(&bytes);
            assert!(chi < CHI2_LIMIT, "{what} not uniform: chi2 = {chi}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Differential-privacy noise drawn by each computing party.

fn laplace(num: u64, den: u64) -> Mechanism {
    Mechanism::DiscreteLaplace {
        scale: Ratio::new(num, den).unwrap(),
    }
}

fn mean_var(v: &[i64]) -> (f64, f64) {
    let k = v.len() as f64;
    let mean = v.iter().map(|x| *x as f64).sum::<f64>() / k;
    let var = v.iter().map(|x| (*x as f64 - mean).powi(2)).sum::<f64>() / k;
    (mean, var)
}

/// One noisy opening of the secret `x` (shared as `x0`, `x1`): each party adds its own draw and
/// the sum is opened. Returns (First's draws, Second's draws, opened values).
fn noisy_open(x: &[u64], mechanisms: &[Mechanism]) -> (Vec<u64>, Vec<u64>, Vec<u64>) {
    let (x0, x1) = split(x, 9);
    let ((zf, opened), zs) = run3(
        |c| {
            let z = c.noise(mechanisms).unwrap();
            let opened = c.open(&add(&x0, &z)).unwrap();
            (z, opened)
        },
        |c| {
            let z = c.noise(mechanisms).unwrap();
            c.open(&add(&x1, &z)).unwrap();
            z
        },
        |_| {},
    );
    (zf, zs, opened)
}

#[test]
fn own_noise_has_the_mechanisms_distribution() {
    use rand::SeedableRng;
    let half = 20_000;
    let lap = laplace(3, 1);
    let gauss = Mechanism::DiscreteGaussian {
        sigma2: Ratio::new(9, 1).unwrap(),
    };
    let mut mechanisms = vec![lap; half];
    mechanisms.extend(vec![gauss; half]);
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(11);
    let z: Vec<i64> = samen_core::mpc::own_noise(&mechanisms, &mut rng)
        .unwrap()
        .iter()
        .map(|v| *v as i64)
        .collect();
    for (part, m) in [(&z[..half], lap), (&z[half..], gauss)] {
        let k = part.len() as f64;
        let want = dp::variance(&m);
        let (mean, var) = mean_var(part);
        assert!(mean.abs() < 5.0 * (want / k).sqrt(), "{m:?}: mean {mean}");
        assert!(
            (var / want - 1.0).abs() < 0.08,
            "{m:?}: variance {var}, want {want}"
        );
    }
}

#[test]
fn no_single_party_can_remove_the_noise() {
    // A fixed secret, opened with noise many times. The helper dealt nothing, so its best
    // estimate of the secret is the opened value: the error has the variance of two draws.
    // Each data party subtracts its own draw: the error left has the variance of the other
    // party's draw, one full draw of the mechanism.
    let m = laplace(4, 1);
    let n = 20_000;
    let x: Vec<u64> = (0..n as u64).map(|i| i * 1_000_003).collect();
    let (zf, zs, opened) = noisy_open(&x, &vec![m; n]);
    let err = |minus: &[&[u64]]| -> Vec<i64> {
        (0..n)
            .map(|i| {
                let mut v = opened[i].wrapping_sub(x[i]);
                for z in minus {
                    v = v.wrapping_sub(z[i]);
                }
                v as i64
            })
            .collect()
    };
    let one = dp::variance(&m);
    for (who, e, want) in [
        ("helper or public", err(&[]), 2.0 * one),
        ("First", err(&[&zf]), one),
        ("Second", err(&[&zs]), one),
    ] {
        let (mean, var) = mean_var(&e);
        assert!(
            mean.abs() < 6.0 * (want / n as f64).sqrt(),
            "{who}: mean {mean}"
        );
        // the sample variance of 2·10^4 Laplace-like draws is within 10 % with overwhelming
        // probability (its relative standard deviation is about 2.3 %)
        assert!(
            (var / want - 1.0).abs() < 0.12,
            "{who}: error variance {var}, want {want}"
        );
    }
    // the two contributions are independent draws
    assert_ne!(zf, zs);
}

#[test]
fn noise_is_fresh_in_every_run_and_needs_no_dealer() {
    let (zf1, zs1, o1) = noisy_open(&[0; 64], &[laplace(10, 1); 64]);
    let (zf2, zs2, o2) = noisy_open(&[0; 64], &[laplace(10, 1); 64]);
    assert_ne!(zf1, zf2);
    assert_ne!(zs1, zs2);
    assert_ne!(o1, o2);
    assert_eq!(o1, add(&zf1, &zs1));
}

#[test]
fn noise_refuses_unsupported_parameters_before_drawing() {
    let huge = Mechanism::DiscreteGaussian {
        sigma2: Ratio::new(u64::MAX, 1).unwrap(),
    };
    let mut rng = <rand_chacha::ChaCha20Rng as rand::SeedableRng>::from_seed([3; 32]);
    let r = samen_core::mpc::own_noise(&[laplace(1, 1), huge], &mut rng);
    assert!(
        matches!(r, Err(MpcError::Noise(DpError::ParameterTooLarge { .. }))),
        "{r:?}"
    );
}

#[test]
fn equal_seeds_are_refused() {
    let (mut f, _s, mut h) = mesh();
    let mut to_f = h.remove("first").unwrap();
    let mut to_s = h.remove("second").unwrap();
    let r = Dealer::with_seeds(
        &mut to_f,
        &mut to_s,
        Seed::from_bytes([9; 32]),
        Seed::from_bytes([9; 32]),
    );
    assert!(matches!(r, Err(MpcError::EqualSeeds)), "{r:?}");
    // nothing was sent: First finds a closed channel, not a hello
    drop((to_f, to_s));
    let mut peer = f.remove("second").unwrap();
    let mut dl = f.remove("helper").unwrap();
    assert!(matches!(
        Computer::new(Role::First, &mut peer, &mut dl),
        Err(MpcError::Channel(ChannelError::Closed { .. }))
    ));
}
