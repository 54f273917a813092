//! HMAC-SHA-256 pseudonymisation throughput on one core: the raw MAC, and the hex pseudonym of
//! a normalised BSN as `samen pseudonymise` writes it.
//!
//! ```text
//! cargo bench -p samen --bench pseudonymise
//! ```
//!
//! Fixed key and inputs (the first `n` valid BSNs); throughput in identifiers per second.
//! `crates/samen-pseudonym/benches/pseudonym.rs` has the multi-core and CSV end-to-end numbers.
// Test and benchmark code: a failed unwrap, expect or index is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput};
use samen::pseudonym::key::PseudonymKey;
use samen::pseudonym::normalise::{bsn_digits_from_index, normalise_bytes, IdKind};
use samen::pseudonym::pseudonym::{Pseudonymiser, PSEUDONYM_HEX_LEN};

fn bench_pseudonymise(c: &mut Criterion) {
    let key = match PseudonymKey::from_parts([0x42; 32], "bench-2026", 1, "2026-01-01T00:00:00Z") {
        Ok(k) => k,
        Err(e) => panic!("bench key: {e}"),
    };
    let p = Pseudonymiser::new(&key);
    let mut g = c.benchmark_group("pseudonymise/one_core");
    g.sample_size(10);
    g.warm_up_time(std::time::Duration::from_secs(1));
    g.measurement_time(std::time::Duration::from_secs(3));
    for n in [10_000u64, 100_000, 1_000_000] {
        let ids: Vec<[u8; 9]> = (0..n).filter_map(bsn_digits_from_index).collect();
        g.throughput(Throughput::Elements(ids.len() as u64));
        g.bench_with_input(BenchmarkId::new("hmac", n), &ids, |b, ids| {
            b.iter(|| {
                for id in ids {
                    black_box(p.mac(black_box(id)));
                }
            })
        });
        g.bench_with_input(BenchmarkId::new("normalise_hex", n), &ids, |b, ids| {
            let mut out = [0u8; PSEUDONYM_HEX_LEN];
            b.iter(|| {
                for id in ids {
                    if let Ok(norm) = normalise_bytes(IdKind::Bsn, black_box(id)) {
                        p.hex_into(norm.as_bytes(), &mut out);
                    }
                    black_box(&out);
                }
            })
        });
    }
    g.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench_pseudonymise(&mut c);
    c.final_summary();
}
