//! Two-party share / reconstruct of vectors (elements/s).
// Test and benchmark code: a failed unwrap, expect or index is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
use criterion::{criterion_main, BenchmarkId, Criterion, Throughput};
use samen_core::prg::{Prg, Seed};
use samen_core::share;

fn share_reconstruct(c: &mut Criterion) {
    let mut g = c.benchmark_group("share");
    for &n in &[10_000usize, 1_000_000, 10_000_000] {
        let x = Prg::new(&Seed::from_bytes([3; 32]), b"bench-x").u64s(n);
        let mut prg = Prg::new(&Seed::from_bytes([4; 32]), b"bench-share");
        let shares = share::share_with_prg(&x, 2, &mut prg).unwrap();
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::new("share_2", n), &n, |b, _| {
            b.iter(|| share::share_with_prg(&x, 2, &mut prg).unwrap())
        });
        g.bench_with_input(BenchmarkId::new("reconstruct_2", n), &n, |b, _| {
            b.iter(|| share::reconstruct(&shares).unwrap())
        });
        g.bench_with_input(BenchmarkId::new("share_with_seeds_2", n), &n, |b, _| {
            b.iter(|| share::share_with_seeds(&x, 2, b"bench").unwrap())
        });
    }
    g.finish();
}

// `criterion_group!` defines a public function; keeping it in a private module keeps
// `missing_docs` quiet without allowing undocumented items.
mod group {
    use super::*;
    criterion::criterion_group!(benches, share_reconstruct);
}
criterion_main!(group::benches);
