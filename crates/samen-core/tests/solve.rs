//! The field conversion and the masked solve against plaintext computations: three roles as
//! threads over in-process channels, seeded, with the bytes each data party receives recorded.
// Test and benchmark code: a failed unwrap, expect or index is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use num_bigint::BigInt;
use num_integer::Integer;
use num_rational::BigRational;
use num_traits::{Signed, Zero};
use samen_core::channel::{local_mesh, Channel, ChannelError, ChannelStats, LocalChannel};
use samen_core::mpc::field::{primes_for, Modulus};
use samen_core::mpc::solve::{solve_words, LinearSolution, Solution};
use samen_core::mpc::{Computer, Dealer};
use samen_core::prg::{Prg, Seed};
use samen_core::Role;

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

fn words(log: &[Vec<u8>]) -> Vec<u64> {
    log.concat()
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

/// Run First, Second and the dealer; return both results and the words each data party
/// received from the other.
fn run3<A: Send, B: Send>(
    first: impl FnOnce(&mut Computer) -> A + Send,
    second: impl FnOnce(&mut Computer) -> B + Send,
    dealer: impl FnOnce(&mut Dealer) + Send,
) -> ((A, Vec<u64>), (B, Vec<u64>)) {
    let mut m = local_mesh(&["first", "second", "helper"]);
    let mut h = m.pop().unwrap();
    let mut s = m.pop().unwrap();
    let mut f = m.pop().unwrap();
    std::thread::scope(|sc| {
        sc.spawn(move || {
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
            let mut peer = Recording {
                inner: s.remove("first").unwrap(),
                log: vec![],
            };
            let mut dl = s.remove("helper").unwrap();
            let mut c = Computer::new(Role::Second, &mut peer, &mut dl).unwrap();
            let out = second(&mut c);
            drop(c);
            (out, words(&peer.log))
        });
        let mut peer = Recording {
            inner: f.remove("second").unwrap(),
            log: vec![],
        };
        let mut dl = f.remove("helper").unwrap();
        let mut c = Computer::new(Role::First, &mut peer, &mut dl).unwrap();
        let out = first(&mut c);
        drop(c);
        ((out, words(&peer.log)), sd.join().unwrap())
    })
}

/// Additive shares of `x` in Z_2^64 from a seeded stream.
fn split(x: &[u64], seed: u8) -> (Vec<u64>, Vec<u64>) {
    let r = Prg::new(&Seed::from_bytes([seed; 32]), b"test-solve-split").u64s(x.len());
    let other = x.iter().zip(&r).map(|(x, r)| x.wrapping_sub(*r)).collect();
    (r, other)
}

#[test]
fn field_conversion_equals_the_residues_of_the_secrets() {
    let bound = 1i64 << 62;
    let mut x: Vec<i64> = vec![0, 1, -1, bound - 1, -(bound - 1), 12345, -987_654_321];
    let mut prg = Prg::new(&Seed::from_bytes([5; 32]), b"test-field-values");
    x.extend(prg.u64s(500).into_iter().map(|v| (v >> 1) as i64 % bound));
    let raw: Vec<u64> = x.iter().map(|v| *v as u64).collect();
    for seed in [3u8, 4, 5] {
        let (a, b) = split(&raw, seed);
        let m = 3;
        let n = raw.len();
        let ((fa, seen_f), (fb, seen_s)) = run3(
            |c| c.to_field(&a, m).unwrap(),
            |c| c.to_field(&b, m).unwrap(),
            |d| d.to_field(n, m).unwrap(),
        );
        assert_eq!(seen_f.len(), m * n);
        assert_eq!(seen_s.len(), m * n);
        for (i, md) in Modulus::first(m).into_iter().enumerate() {
            for (j, v) in x.iter().enumerate() {
                let got = md.add(fa[i * n + j], fb[i * n + j]);
                assert_eq!(got, md.from_i128(i128::from(*v)), "prime {i}, value {v}");
            }
        }
    }
}

/// Exact least squares on the Gram matrix in the clear (Gauss–Jordan over the rationals).
fn exact(rows: &[Vec<i64>]) -> Option<LinearSolution> {
    let d = rows[0].len();
    let q = d - 1;
    let g = |i: usize, j: usize| -> BigRational {
        BigRational::from_integer(rows.iter().map(|r| BigInt::from(r[i] * r[j])).sum())
    };
    // [A | b | I]
    let mut m: Vec<Vec<BigRational>> = (0..q)
        .map(|i| {
            let mut row: Vec<BigRational> = (0..d).map(|j| g(i, j)).collect();
            row.extend((0..q).map(|j| BigRational::from_integer(BigInt::from(u8::from(i == j)))));
            row
        })
        .collect();
    for k in 0..q {
        let p = (k..q).find(|&r| !m[r][k].is_zero())?;
        m.swap(k, p);
        let piv = m[k][k].clone();
        for x in m[k].iter_mut() {
            *x = &*x / &piv;
        }
        let pr = m[k].clone();
        for (i, row) in m.iter_mut().enumerate() {
            if i != k {
                let f = row[k].clone();
                for (x, y) in row.iter_mut().zip(&pr) {
                    *x = &*x - &f * y;
                }
            }
        }
    }
    let beta: Vec<BigRational> = (0..q).map(|j| m[j][q].clone()).collect();
    let inv_diag = (0..q).map(|j| m[j][d + j].clone()).collect();
    let n = g(0, 0);
    let rss = g(q, q) - (0..q).map(|j| &beta[j] * g(j, q)).sum::<BigRational>();
    let n_tss = &n * g(q, q) - g(0, q) * g(0, q);
    Some(LinearSolution {
        beta,
        inv_diag,
        rss,
        n_tss,
    })
}

/// The upper triangle of the Gram matrix of the rows, row by row, as ring elements.
fn gram_upper(rows: &[Vec<i64>]) -> Vec<u64> {
    let d = rows[0].len();
    let mut out = Vec::new();
    for i in 0..d {
        for j in i..d {
            out.push(rows.iter().map(|r| r[i] * r[j]).sum::<i64>() as u64);
        }
    }
    out
}

fn random_rows(seed: u8, n: usize, p: usize) -> Vec<Vec<i64>> {
    let mut prg = Prg::new(&Seed::from_bytes([seed; 32]), b"test-solve-rows");
    (0..n)
        .map(|_| {
            let mut r = vec![1i64];
            let xs: Vec<i64> = (0..p)
                .map(|k| {
                    let v = prg.next_u64();
                    if k % 3 == 2 {
                        (v & 1) as i64 // a dummy
                    } else {
                        (v % 2001) as i64 - 1000
                    }
                })
                .collect();
            let y = xs
                .iter()
                .enumerate()
                .map(|(k, x)| (k as i64 + 1) * x)
                .sum::<i64>()
                + (prg.next_u64() % 201) as i64
                - 100;
            r.extend(xs);
            r.push(y);
            r
        })
        .collect()
}

fn solve(rows: &[Vec<i64>]) -> ((Solution, Vec<u64>), (Solution, Vec<u64>)) {
    let d = rows[0].len();
    let n = rows.len() as u64;
    let (a, b) = split(&gram_upper(rows), 9);
    run3(
        |c| c.solve_gram(&a, d, n).unwrap(),
        |c| c.solve_gram(&b, d, n).unwrap(),
        |dl| dl.solve_gram(d).unwrap(),
    )
}

#[test]
fn masked_solve_equals_the_exact_fit() {
    for (seed, n, p) in [(1u8, 10usize, 1usize), (2, 40, 3), (3, 200, 8), (4, 60, 12)] {
        let rows = random_rows(seed, n, p);
        let want = exact(&rows).expect("a nonsingular design");
        let ((sa, _), (sb, _)) = solve(&rows);
        assert_eq!(sa, sb, "both parties open the same model");
        assert_eq!(sa, Solution::Solved(want), "seed {seed}, p = {p}");
    }
}

#[test]
fn singular_designs_are_reported() {
    let mut rows = random_rows(7, 30, 3);
    for r in &mut rows {
        r[3] = 2 * r[1] - r[2] + 5; // collinear with the intercept and two predictors
    }
    assert!(exact(&rows).is_none());
    let ((sa, _), (sb, _)) = solve(&rows);
    assert_eq!((sa, sb), (Solution::Singular, Solution::Singular));
}

/// Every word a data party receives in the solve is one of the documented messages: the
/// count is exactly the documented one; the opened values of the last two rounds are the
/// residues of the outputs; the masked messages (F = A − B, b − v, e, R·A) contain no Gram
/// entry.
#[test]
fn a_party_receives_only_masks_and_the_outputs() {
    let rows = random_rows(11, 50, 4);
    let d = rows[0].len();
    let q = d - 1;
    let e = d * (d + 1) / 2;
    let m = primes_for(d).unwrap();
    let ((sol, from_second), (_, from_first)) = solve(&rows);
    let (sent, _) = solve_words(d).unwrap();
    assert_eq!(from_second.len(), sent);
    assert_eq!(from_first.len(), sent);
    let Solution::Solved(sol) = sol else {
        panic!("nonsingular")
    };
    let mods = Modulus::first(m);
    // Segments after the conversion (e·m words): (elements per prime) of each opened vector.
    let segments = [q * q, q, 1, q * q, q, q, 1, 1];
    let mut at = e * m;
    let mut opened: Vec<Vec<u64>> = Vec::new();
    for per in segments {
        let mut v = Vec::with_capacity(per * m);
        for (i, md) in mods.iter().enumerate() {
            for j in 0..per {
                let k = at + i * per + j;
                v.push(md.add(from_second[k], from_first[k]));
            }
        }
        at += per * m;
        opened.push(v);
    }
    assert_eq!(at, sent);
    let residue = |md: &Modulus, r: &BigRational| {
        let p = BigInt::from(md.p());
        let num = r.numer().mod_floor(&p);
        let den = r.denom().mod_floor(&p);
        let num = num.iter_u64_digits().next().unwrap_or(0);
        let den = den.iter_u64_digits().next().unwrap_or(0);
        md.mul(num, md.inv_vartime(den).unwrap())
    };
    let outputs: [(&[BigRational], usize); 4] = [
        (&sol.beta, 4),
        (&sol.inv_diag, 5),
        (std::slice::from_ref(&sol.n_tss), 6),
        (std::slice::from_ref(&sol.rss), 7),
    ];
    for (values, seg) in outputs {
        let per = values.len();
        for (i, md) in mods.iter().enumerate() {
            for (j, v) in values.iter().enumerate() {
                assert_eq!(opened[seg][i * per + j], residue(md, v), "segment {seg}");
            }
        }
    }
    let gram: Vec<i64> = gram_upper(&rows).into_iter().map(|v| v as i64).collect();
    for (seg, per) in segments.iter().enumerate().take(4) {
        for (i, md) in mods.iter().enumerate() {
            let entries: Vec<u64> = gram.iter().map(|g| md.from_i128(i128::from(*g))).collect();
            for j in 0..*per {
                let v = opened[seg][i * per + j];
                assert!(!entries.contains(&v), "segment {seg} opens a Gram entry");
            }
        }
    }
    assert!(sol.rss.is_positive() && sol.n_tss.is_positive());
}

/// Skipping a solve keeps the parties and the dealer in step: a multiplication after it is
/// still correct.
#[test]
fn a_skipped_solve_stays_in_step() {
    let ((za, _), (zb, _)) = run3(
        |c| {
            c.skip_solve_gram(5).unwrap();
            c.mul(&[3], &[4]).unwrap()
        },
        |c| {
            c.skip_solve_gram(5).unwrap();
            c.mul(&[2], &[1]).unwrap()
        },
        |d| {
            d.solve_gram(5).unwrap();
            d.mul(1).unwrap();
        },
    );
    assert_eq!(za[0].wrapping_add(zb[0]), 25);
}
