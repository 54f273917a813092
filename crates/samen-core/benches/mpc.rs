//! Online MPC primitives over in-process channels, with First and Second on two threads.
//!
//! For the online numbers the dealer's messages are produced (untimed) before the clock starts,
//! as they would be in a preprocessing phase; the timed part is everything the two computing
//! parties do, including expanding their seeds. The dealer's own generation rate is measured
//! separately.
// Test and benchmark code: a failed unwrap, expect or index is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
use std::time::{Duration, Instant};

use criterion::{criterion_main, BenchmarkId, Criterion, Throughput};
use samen_core::channel::{local_pair, LocalChannel};
use samen_core::mpc::{Computer, Dealer};
use samen_core::prg::{Prg, Seed};
use samen_core::Role;

struct Parties {
    f_peer: LocalChannel,
    f_dealer: LocalChannel,
    s_peer: LocalChannel,
    s_dealer: LocalChannel,
}

/// The dealer of every benchmark, with fixed seeds.
fn new_dealer<'a>(h_f: &'a mut LocalChannel, h_s: &'a mut LocalChannel) -> Dealer<'a> {
    Dealer::with_seeds(
        h_f,
        h_s,
        Seed::from_bytes([1; 32]),
        Seed::from_bytes([2; 32]),
    )
    .unwrap()
}

/// Run the dealer's part (untimed), then time both computing parties.
fn online<R: Send>(
    dealer: &(dyn Fn(&mut Dealer) + Sync),
    first: &(dyn Fn(&mut Computer) -> R + Sync),
    second: &(dyn Fn(&mut Computer) -> R + Sync),
) -> Duration {
    let (f_peer, s_peer) = local_pair("first", "second");
    let (mut h_f, f_dealer) = local_pair("helper", "first");
    let (mut h_s, s_dealer) = local_pair("helper", "second");
    {
        let mut d = new_dealer(&mut h_f, &mut h_s);
        dealer(&mut d);
    }
    let mut p = Parties {
        f_peer,
        f_dealer,
        s_peer,
        s_dealer,
    };
    let start = Instant::now();
    std::thread::scope(|sc| {
        let (s_peer, s_dealer) = (&mut p.s_peer, &mut p.s_dealer);
        let h = sc.spawn(move || {
            let mut c = Computer::new(Role::Second, s_peer, s_dealer).unwrap();
            second(&mut c)
        });
        let mut c = Computer::new(Role::First, &mut p.f_peer, &mut p.f_dealer).unwrap();
        let r = first(&mut c);
        let r2 = h.join().unwrap();
        criterion::black_box((r, r2));
    });
    start.elapsed()
}

/// Time the dealer's generation only (the receiving ends just buffer).
fn dealer_only(dealer: &(dyn Fn(&mut Dealer) + Sync)) -> Duration {
    let (mut h_f, _f) = local_pair("helper", "first");
    let (mut h_s, _s) = local_pair("helper", "second");
    let mut d = new_dealer(&mut h_f, &mut h_s);
    let start = Instant::now();
    dealer(&mut d);
    start.elapsed()
}

fn repeat(iters: u64, f: impl Fn() -> Duration) -> Duration {
    (0..iters).map(|_| f()).sum()
}

/// `iters` multiplications of `n` elements in one long-lived session (the `Computer`s and the
/// channels are set up once, as in a study), timing only the computing parties: the dealer's
/// messages for each batch are produced (untimed) before the batch runs. Unlike `online`, which
/// sets up a fresh session (threads, hellos) for every multiplication, this is the throughput
/// of the multiplication alone.
fn beaver_in_session(n: usize, iters: u64, [x0, y0, x1, y1]: [&[u64]; 4]) -> Duration {
    use std::sync::mpsc;
    let (f_peer, s_peer) = local_pair("first", "second");
    let (mut h_f, f_dealer) = local_pair("helper", "first");
    let (mut h_s, s_dealer) = local_pair("helper", "second");
    // At most ~80 MB of dealer corrections buffered per batch.
    let batch = (10_000_000 / n).max(1) as u64;
    let party = |role: Role,
                 mut peer: LocalChannel,
                 mut dealer: LocalChannel,
                 (x, y): (&[u64], &[u64]),
                 go: mpsc::Receiver<u64>,
                 done: mpsc::Sender<()>| {
        let mut c = Computer::new(role, &mut peer, &mut dealer).unwrap();
        while let Ok(k) = go.recv() {
            for _ in 0..k {
                criterion::black_box(c.mul(x, y).unwrap());
            }
            done.send(()).unwrap();
        }
    };
    let mut total = Duration::ZERO;
    std::thread::scope(|sc| {
        let mut d = new_dealer(&mut h_f, &mut h_s);
        let (go_f, go_f_rx) = mpsc::channel();
        let (go_s, go_s_rx) = mpsc::channel();
        let (done_tx, done) = mpsc::channel();
        let done_s = done_tx.clone();
        sc.spawn(move || party(Role::First, f_peer, f_dealer, (x0, y0), go_f_rx, done_tx));
        sc.spawn(move || party(Role::Second, s_peer, s_dealer, (x1, y1), go_s_rx, done_s));
        let mut left = iters;
        while left > 0 {
            let k = left.min(batch);
            for _ in 0..k {
                d.mul(n).unwrap();
            }
            let start = Instant::now();
            go_f.send(k).unwrap();
            go_s.send(k).unwrap();
            done.recv().unwrap();
            done.recv().unwrap();
            total += start.elapsed();
            left -= k;
        }
    });
    total
}

fn beaver(c: &mut Criterion) {
    let mut g = c.benchmark_group("beaver_mul");
    g.sample_size(10);
    for &n in &[10_000usize, 1_000_000, 10_000_000] {
        let mut p = Prg::new(&Seed::from_bytes([5; 32]), b"bench-mul");
        let (x0, y0, x1, y1) = (p.u64s(n), p.u64s(n), p.u64s(n), p.u64s(n));
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::new("online", n), &n, |b, _| {
            b.iter_custom(|iters| {
                repeat(iters, || {
                    online(
                        &|d| d.mul(n).unwrap(),
                        &|c| c.mul(&x0, &y0).unwrap(),
                        &|c| c.mul(&x1, &y1).unwrap(),
                    )
                })
            })
        });
        g.bench_with_input(BenchmarkId::new("online_in_session", n), &n, |b, _| {
            b.iter_custom(|iters| beaver_in_session(n, iters, [&x0, &y0, &x1, &y1]))
        });
        g.bench_with_input(BenchmarkId::new("dealer_triples", n), &n, |b, _| {
            b.iter_custom(|iters| repeat(iters, || dealer_only(&|d| d.mul(n).unwrap())))
        });
    }
    g.finish();
}

fn cross_product(c: &mut Criterion) {
    let mut g = c.benchmark_group("cross_product");
    g.sample_size(10);
    for &(n, k, l) in &[(1_000_000usize, 12usize, 3usize), (100_000, 40, 10)] {
        let mut p = Prg::new(&Seed::from_bytes([6; 32]), b"bench-cross");
        let (a, bm) = (p.u64s(n * k), p.u64s(n * l));
        let id = format!("{n}x{k}x{l}");
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::new("online_rows", &id), &n, |b, _| {
            b.iter_custom(|iters| {
                repeat(iters, || {
                    online(
                        &|d| d.cross_product(n, k, l).unwrap(),
                        &|c| c.cross_product(&a, n, k, l).unwrap(),
                        &|c| c.cross_product(&bm, n, k, l).unwrap(),
                    )
                })
            })
        });
        g.bench_with_input(BenchmarkId::new("dealer_rows", &id), &n, |b, _| {
            b.iter_custom(|iters| {
                repeat(iters, || {
                    dealer_only(&|d| d.cross_product(n, k, l).unwrap())
                })
            })
        });
    }
    g.finish();
}

fn comparison(c: &mut Criterion) {
    let mut g = c.benchmark_group("ge_public");
    g.sample_size(10);
    for &n in &[1_000usize, 100_000, 1_000_000] {
        let mut p = Prg::new(&Seed::from_bytes([7; 32]), b"bench-cmp");
        let (x0, x1) = (p.u64s(n), p.u64s(n));
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::new("online", n), &n, |b, _| {
            b.iter_custom(|iters| {
                repeat(iters, || {
                    online(
                        &|d| d.ge_public(n).unwrap(),
                        &|c| c.ge_public(&x0, 10).unwrap(),
                        &|c| c.ge_public(&x1, 10).unwrap(),
                    )
                })
            })
        });
        g.bench_with_input(BenchmarkId::new("dealer", n), &n, |b, _| {
            b.iter_custom(|iters| repeat(iters, || dealer_only(&|d| d.ge_public(n).unwrap())))
        });
    }
    g.finish();
}

// `criterion_group!` defines a public function; keeping it in a private module keeps
// `missing_docs` quiet without allowing undocumented items.
mod group {
    use super::*;
    criterion::criterion_group!(benches, beaver, cross_product, comparison);
}
criterion_main!(group::benches);
