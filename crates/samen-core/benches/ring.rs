//! Ring kernels: element-wise add / multiply (elements/s), single core vs rayon to justify
//! `ring::PAR_THRESHOLD`, and the transposed matrix product of the cross-party product.
// Test and benchmark code: a failed unwrap, expect or index is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
use criterion::{criterion_main, BenchmarkId, Criterion, Throughput};
use samen_core::prg::{Prg, Seed};
use samen_core::ring;

fn data(n: usize) -> (Vec<u64>, Vec<u64>) {
    let mut p = Prg::new(&Seed::from_bytes([1; 32]), b"bench-ring");
    (p.u64s(n), p.u64s(n))
}

fn elementwise(c: &mut Criterion) {
    let mut g = c.benchmark_group("ring");
    for &n in &[10_000usize, 100_000, 1_000_000, 10_000_000] {
        let (a, b) = data(n);
        let mut dst = a.clone();
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::new("add_assign", n), &n, |bch, _| {
            bch.iter(|| ring::add_assign(&mut dst, &b).unwrap())
        });
        g.bench_with_input(BenchmarkId::new("add_assign_one_core", n), &n, |bch, _| {
            bch.iter(|| {
                for (d, s) in dst.iter_mut().zip(&b) {
                    *d = d.wrapping_add(*s);
                }
            })
        });
        g.bench_with_input(BenchmarkId::new("add_alloc", n), &n, |bch, _| {
            bch.iter(|| ring::add(&a, &b).unwrap())
        });
        g.bench_with_input(BenchmarkId::new("mul_assign", n), &n, |bch, _| {
            bch.iter(|| ring::mul_assign(&mut dst, &b).unwrap())
        });
        g.bench_with_input(BenchmarkId::new("mul_assign_one_core", n), &n, |bch, _| {
            bch.iter(|| {
                for (d, s) in dst.iter_mut().zip(&b) {
                    *d = d.wrapping_mul(*s);
                }
            })
        });
    }
    g.finish();
}

fn matmul_tn(c: &mut Criterion) {
    let mut g = c.benchmark_group("matmul_tn");
    g.sample_size(10);
    for &(n, k, l) in &[
        (1_000_000usize, 12usize, 3usize),
        (1_000_000, 40, 10),
        (10_000, 12, 3),
    ] {
        let mut p = Prg::new(&Seed::from_bytes([2; 32]), b"bench-tn");
        let a = p.u64s(n * k);
        let b = p.u64s(n * l);
        g.throughput(Throughput::Elements((n * k * l) as u64));
        g.bench_with_input(
            BenchmarkId::new("multiply_adds", format!("{n}x{k}x{l}")),
            &n,
            |bch, _| bch.iter(|| ring::matmul_tn(&a, &b, n, k, l).unwrap()),
        );
        g.bench_with_input(
            BenchmarkId::new("multiply_adds_one_core", format!("{n}x{k}x{l}")),
            &n,
            |bch, _| {
                bch.iter(|| {
                    let mut acc = vec![0u64; k * l];
                    ring::matmul_tn_acc(&a, &b, k, l, &mut acc).unwrap();
                    acc
                })
            },
        );
    }
    g.finish();
}

// `criterion_group!` defines a public function; keeping it in a private module keeps
// `missing_docs` quiet without allowing undocumented items.
mod group {
    use super::*;
    criterion::criterion_group!(benches, elementwise, matmul_tn);
}
criterion_main!(group::benches);
