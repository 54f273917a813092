//! Both private joins in one process, 50 % overlap: the two-party join (both parties in
//! threads over `local_pair`) at 10^3 and 10^4 rows per party, and the helper-assisted join
//! (First, Second and the helper in three threads) at 10^5 and 10^6.
//!
//! Run: `cargo bench -p samen-join --bench join -- --warm-up-time 1 --measurement-time 3`.
//! Both parties share the machine's cores, as in the two-process benchmark
//! (`examples/join_two_process.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test and benchmark code

use std::thread;

use criterion::{BenchmarkId, Criterion, Throughput};
use samen_core::channel::local_pair;
use samen_join::{helper_join, private_join, serve_helper_join, JoinRole};
use samen_pseudonym::normalise::bsn_from_index;

fn ids(range: std::ops::Range<u64>) -> Vec<Vec<u8>> {
    range
        .filter_map(bsn_from_index)
        .map(String::into_bytes)
        .collect()
}

fn bench_join(c: &mut Criterion) {
    let mut g = c.benchmark_group("private_join/in_process_50pct");
    g.sample_size(10);
    for n in [1_000u64, 10_000] {
        // Fixed inputs: A = 0..n, B = n/2..3n/2 (indices into valid BSNs).
        let a = ids(0..n);
        let b = ids(n / 2..n + n / 2);
        g.throughput(Throughput::Elements(2 * n));
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |bench, _| {
            bench.iter(|| {
                let (mut ca, mut cb) = local_pair("first", "second");
                let b = b.clone();
                let t = thread::spawn(move || {
                    let refs: Vec<&[u8]> = b.iter().map(Vec::as_slice).collect();
                    private_join(JoinRole::Second, &refs, &mut cb).map(|o| o.union_size)
                });
                let refs: Vec<&[u8]> = a.iter().map(Vec::as_slice).collect();
                let ua = private_join(JoinRole::First, &refs, &mut ca).map(|o| o.union_size);
                let ub = t.join().map_err(|_| "thread panicked");
                assert_eq!(ua.ok(), ub.ok().and_then(|r| r.ok()));
            })
        });
    }
    g.finish();
}

fn bench_helper_join(c: &mut Criterion) {
    let mut g = c.benchmark_group("helper_join/in_process_50pct");
    g.sample_size(10);
    for n in [100_000u64, 1_000_000] {
        // Fixed inputs: A = 0..n, B = n/2..3n/2 (indices into valid BSNs).
        let a = ids(0..n);
        let b = std::sync::Arc::new(ids(n / 2..n + n / 2));
        g.throughput(Throughput::Elements(2 * n));
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |bench, _| {
            bench.iter(|| {
                let (mut a_b, mut b_a) = local_pair("first", "second");
                let (mut a_h, mut h_a) = local_pair("first", "helper");
                let (mut b_h, mut h_b) = local_pair("second", "helper");
                let helper = thread::spawn(move || serve_helper_join(&mut h_a, &mut h_b));
                let b = b.clone();
                let second = thread::spawn(move || {
                    let refs: Vec<&[u8]> = b.iter().map(Vec::as_slice).collect();
                    helper_join(JoinRole::Second, &refs, &mut b_a, &mut b_h).map(|o| o.union_size)
                });
                let refs: Vec<&[u8]> = a.iter().map(Vec::as_slice).collect();
                let ua =
                    helper_join(JoinRole::First, &refs, &mut a_b, &mut a_h).map(|o| o.union_size);
                let ub = second.join().map_err(|_| "thread panicked");
                let sizes = helper.join().map_err(|_| "thread panicked");
                assert_eq!(ua.ok(), ub.ok().and_then(|r| r.ok()));
                assert!(sizes.is_ok_and(|s| s.is_ok()));
            })
        });
    }
    g.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench_join(&mut c);
    bench_helper_join(&mut c);
    c.final_summary();
}
