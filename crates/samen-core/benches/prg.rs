//! PRG throughput: bulk fill of `u64` slices, single core and parallel.
// Test and benchmark code: a failed unwrap, expect or index is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
use criterion::{criterion_main, BenchmarkId, Criterion, Throughput};
use samen_core::prg::{Prg, Seed};

fn prg_fill(c: &mut Criterion) {
    let seed = Seed::from_bytes([42; 32]);
    let mut g = c.benchmark_group("prg_fill");
    for &n in &[1usize << 14, 1 << 20, 1 << 23] {
        let mut buf = vec![0u64; n];
        g.throughput(Throughput::Bytes(8 * n as u64));
        g.bench_with_input(BenchmarkId::new("one_core", n * 8), &n, |b, _| {
            let mut prg = Prg::new(&seed, b"bench");
            b.iter(|| prg.fill_u64_seq(&mut buf));
        });
        g.bench_with_input(BenchmarkId::new("parallel", n * 8), &n, |b, _| {
            let mut prg = Prg::new(&seed, b"bench");
            b.iter(|| prg.fill_u64(&mut buf));
        });
    }
    g.finish();
}

// `criterion_group!` defines a public function; keeping it in a private module keeps
// `missing_docs` quiet without allowing undocumented items.
mod group {
    use super::*;
    criterion::criterion_group!(benches, prg_fill);
}
criterion_main!(group::benches);
