//! The two private-join methods side by side, in one process: First, Second and the helper as
//! threads over in-process channels, 50 % overlap (First holds identifiers `0..n`, Second
//! `n/2..3n/2`, as valid BSNs).
//!
//! ```text
//! cargo bench -p samen --bench join
//! ```
//!
//! The helper-assisted join at 10^4, 10^5 and 10^6 rows per party, the two-party join at 10^4
//! and 10^5. Throughput counts the rows of both parties. All three parties share the machine's
//! cores.
// Test and benchmark code: a failed unwrap, expect or index is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::sync::Arc;
use std::thread;

use criterion::{BenchmarkId, Criterion, Throughput};
use samen::core::channel::local_pair;
use samen::join::JoinMethod;
use samen::pseudonym::normalise::bsn_from_index;
use samen::Role;

fn ids(range: std::ops::Range<u64>) -> Vec<Vec<u8>> {
    range
        .filter_map(bsn_from_index)
        .map(String::into_bytes)
        .collect()
}

/// One join of `a` and `b` by `method`; returns the union size both parties computed.
fn join(method: JoinMethod, a: &[Vec<u8>], b: &Arc<Vec<Vec<u8>>>) -> usize {
    let (mut a_b, mut b_a) = local_pair("first", "second");
    let (mut a_h, mut h_a) = local_pair("first", "helper");
    let (mut b_h, mut h_b) = local_pair("second", "helper");
    let helper = thread::spawn(move || method.run_helper(&mut h_a, &mut h_b));
    let b = Arc::clone(b);
    let second = thread::spawn(move || {
        let refs: Vec<&[u8]> = b.iter().map(Vec::as_slice).collect();
        method
            .run_data_party(Role::Second, &refs, &mut b_a, &mut b_h, &|_| {})
            .map(|o| o.union_size)
    });
    let refs: Vec<&[u8]> = a.iter().map(Vec::as_slice).collect();
    let first = method
        .run_data_party(Role::First, &refs, &mut a_b, &mut a_h, &|_| {})
        .map(|o| o.union_size);
    let second = second.join();
    let helper = helper.join();
    match (first, second, helper) {
        (Ok(u1), Ok(Ok(u2)), Ok(Ok(_))) if u1 == u2 => u1,
        _ => panic!("{method} join failed or the parties disagree on the union size"),
    }
}

fn bench_join(c: &mut Criterion) {
    let mut g = c.benchmark_group("join/in_process_50pct");
    g.sample_size(10);
    g.warm_up_time(std::time::Duration::from_secs(1));
    g.measurement_time(std::time::Duration::from_secs(3));
    let cases: [(JoinMethod, &[u64]); 2] = [
        (JoinMethod::Helper, &[10_000, 100_000, 1_000_000]),
        (JoinMethod::TwoParty, &[10_000, 100_000]),
    ];
    for (method, sizes) in cases {
        for &n in sizes {
            let a = ids(0..n);
            let b = Arc::new(ids(n / 2..n + n / 2));
            let union = ids(0..n + n / 2).len();
            g.throughput(Throughput::Elements((a.len() + b.len()) as u64));
            g.bench_with_input(BenchmarkId::new(method.as_str(), n), &n, |bench, _| {
                bench.iter(|| assert_eq!(join(method, &a, &b), union))
            });
        }
    }
    g.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench_join(&mut c);
    c.final_summary();
}
