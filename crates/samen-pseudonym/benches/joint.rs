//! ristretto255 primitives of the private join: hash-to-group, variable-base scalar
//! multiplication, compression and decompression, one at a time and in rayon batches (single
//! core and all cores).
//!
//! Run: `cargo bench -p samen-pseudonym --bench joint -- --warm-up-time 1 --measurement-time 3`
// Test and benchmark code: a failed unwrap, expect or index is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use criterion::{black_box, BenchmarkId, Criterion, Throughput};
use samen_pseudonym::joint::{
    blind_encoded_batch, compress_batch, decompress, decompress_batch, hash_blind_compress_batch,
    hash_to_group, Encoded, SecretScalar,
};

const BATCH: usize = 1 << 13;

fn key(seed: u8) -> SecretScalar {
    SecretScalar::from_wide_bytes(&[seed; 64]).expect("nonzero")
}

fn ids(n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| format!("{:09}", 100_000_000 + i * 7919).into_bytes())
        .collect()
}

fn single(c: &mut Criterion) {
    let mut g = c.benchmark_group("ristretto255/single");
    g.throughput(Throughput::Elements(1));
    let a = key(3);
    let p = hash_to_group(b"123456782");
    let e: Encoded = p.compress().to_bytes();
    g.bench_function("hash_to_group", |b| {
        b.iter(|| hash_to_group(black_box(b"123456782")))
    });
    g.bench_function("scalar_mul", |b| b.iter(|| a.blind(black_box(&p))));
    g.bench_function("compress", |b| b.iter(|| black_box(&p).compress()));
    g.bench_function("decompress", |b| b.iter(|| decompress(black_box(&e))));
    g.finish();
}

fn batches(c: &mut Criterion) {
    let a = key(5);
    let idv = ids(BATCH);
    let pts: Vec<_> = idv.iter().map(|i| hash_to_group(i)).collect();
    let enc = compress_batch(&pts);
    let cores = rayon::current_num_threads();
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("pool");
    let mut g = c.benchmark_group("ristretto255/batch");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.sample_size(10);
    for (label, threads) in [("1core", 1usize), ("allcores", cores)] {
        let run = |f: &mut (dyn FnMut() + Send)| {
            if threads == 1 {
                one.install(f)
            } else {
                f()
            }
        };
        g.bench_function(BenchmarkId::new("hash_blind_compress", label), |b| {
            b.iter(|| run(&mut || drop(black_box(hash_blind_compress_batch(&idv, &a)))))
        });
        g.bench_function(BenchmarkId::new("decompress_blind_compress", label), |b| {
            b.iter(|| run(&mut || drop(black_box(blind_encoded_batch(&enc, &a)))))
        });
        g.bench_function(BenchmarkId::new("compress", label), |b| {
            b.iter(|| run(&mut || drop(black_box(compress_batch(&pts)))))
        });
        g.bench_function(BenchmarkId::new("decompress", label), |b| {
            b.iter(|| run(&mut || drop(black_box(decompress_batch(&enc)))))
        });
    }
    g.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    single(&mut c);
    batches(&mut c);
    c.final_summary();
}
