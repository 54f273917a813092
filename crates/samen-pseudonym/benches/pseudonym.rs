//! Pseudonymisation throughput: the SHA-256 compression bound, pseudonyms per second (one core
//! and all cores) and CSV rows per second end to end.
//!
//! ```text
//! cargo bench -p samen-pseudonym --bench pseudonym -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! The CSV benchmark writes its 10^6-row input to
//! `$CARGO_TARGET_TMPDIR/samen-pseudonym-bench-1000000.csv` and keeps it, so that
//! `benches/python_baseline.py` can be timed on the same file.
// Test and benchmark code: a failed unwrap, expect or index is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::hint::black_box;
use std::io::Write;
use std::path::PathBuf;

use criterion::{criterion_main, BenchmarkId, Criterion, Throughput};
use rayon::prelude::*;
use samen_pseudonym::csv_bulk::{pseudonymise_csv, BulkOptions};
use samen_pseudonym::key::PseudonymKey;
use samen_pseudonym::normalise::{bsn_digits_from_index, normalise_bytes, IdKind};
use samen_pseudonym::pseudonym::Pseudonymiser;
use sha2::{Digest, Sha256};

const KEY_BYTES: [u8; 32] = [0x42; 32];

fn key() -> PseudonymKey {
    PseudonymKey::from_parts(KEY_BYTES, "cbs-2026", 1, "2026-11-29T17:00:00Z").expect("key")
}

/// Raw SHA-256 compression speed: hashing 1 MiB costs 16384 compressions (+1 for padding).
fn sha256_bound(c: &mut Criterion) {
    let mut g = c.benchmark_group("sha256_compressions");
    let data = vec![0x5au8; 1 << 20];
    g.throughput(Throughput::Elements((data.len() / 64) as u64));
    g.bench_function(BenchmarkId::new("one_core", "1MiB"), |b| {
        b.iter(|| black_box(Sha256::digest(black_box(&data))))
    });
    let threads = rayon::current_num_threads();
    g.throughput(Throughput::Elements((threads * data.len() / 64) as u64));
    g.bench_function(
        BenchmarkId::new("all_cores", format!("{threads}x1MiB")),
        |b| {
            b.iter(|| {
                (0..threads)
                    .into_par_iter()
                    .map(|_| Sha256::digest(black_box(&data))[0])
                    .collect::<Vec<u8>>()
            })
        },
    );
    g.finish();
}

fn pseudonyms(c: &mut Criterion) {
    let p = Pseudonymiser::new(&key());
    let mut g = c.benchmark_group("pseudonyms");
    for n in [1_000usize, 100_000] {
        let ids: Vec<[u8; 9]> = (0..n as u64)
            .map(|i| bsn_digits_from_index(i).expect("bsn"))
            .collect();
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::new("one_core_hex", n), &ids, |b, ids| {
            let mut out = [0u8; 64];
            b.iter(|| {
                for id in ids {
                    p.hex_into(id, &mut out);
                    black_box(&out);
                }
            })
        });
        g.bench_with_input(
            BenchmarkId::new("one_core_normalise_hex", n),
            &ids,
            |b, ids| {
                let mut out = [0u8; 64];
                b.iter(|| {
                    for id in ids {
                        if let Ok(n) = normalise_bytes(IdKind::Bsn, id) {
                            p.hex_into(n.as_bytes(), &mut out);
                        }
                        black_box(&out);
                    }
                })
            },
        );
        g.bench_with_input(BenchmarkId::new("all_cores_hex", n), &ids, |b, ids| {
            b.iter(|| {
                ids.par_chunks(4096).for_each(|chunk| {
                    let mut out = [0u8; 64];
                    for id in chunk {
                        p.hex_into(id, &mut out);
                        black_box(&out);
                    }
                })
            })
        });
    }
    g.finish();
}

/// The benchmark input: `bsn,region,age,income` with valid BSNs, deterministic.
fn bench_csv(rows: u64) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("samen-pseudonym-bench-{rows}.csv"));
    if path.exists() {
        return path;
    }
    let tmp = path.with_extension("partial");
    let file = std::fs::File::create(&tmp).expect("create bench input");
    let mut w = std::io::BufWriter::new(file);
    writeln!(w, "bsn,region,age,income").expect("write");
    for i in 0..rows {
        let d = bsn_digits_from_index(i).expect("bsn");
        let bsn = std::str::from_utf8(&d).expect("ascii");
        // Every 10th BSN has its leading zero dropped, as spreadsheets do, when it has one.
        let bsn = if i % 10 == 0 {
            bsn.strip_prefix('0').unwrap_or(bsn)
        } else {
            bsn
        };
        writeln!(
            w,
            "{bsn},R{:02},{},{}",
            i % 12,
            18 + (i * 7919) % 80,
            (i * 104_729) % 90_000
        )
        .expect("write");
    }
    w.into_inner().expect("flush").sync_all().expect("sync");
    std::fs::rename(&tmp, &path).expect("rename");
    path
}

fn csv_end_to_end(c: &mut Criterion) {
    let rows = 1_000_000u64;
    let input = bench_csv(rows);
    let dir = tempfile::tempdir().expect("tempdir");
    let output = dir.path().join("out.csv");
    let k = key();
    let mut g = c.benchmark_group("csv_end_to_end");
    g.sample_size(10);
    g.throughput(Throughput::Elements(rows));
    for durable in [false, true] {
        let mut opts = BulkOptions::new("bsn");
        opts.durable = durable;
        let name = if durable { "rows_fsync" } else { "rows" };
        g.bench_with_input(BenchmarkId::new(name, rows), &opts, |b, opts| {
            b.iter(|| {
                pseudonymise_csv(&input, &output, &k, None, opts, &mut |_| {}).expect("bulk run")
            })
        });
    }
    g.finish();
}

// `criterion_group!` defines a public function without docs; a private module keeps
// `missing_docs` quiet without allowing it.
mod group {
    criterion::criterion_group!(
        benches,
        super::sha256_bound,
        super::pseudonyms,
        super::csv_end_to_end
    );
}
criterion_main!(group::benches);
