//! In-process end-to-end study (join, product, suppression, reveal) for growing table sizes.
//!
//! `cargo bench -p samen-study --bench engine -- --warm-up-time 1 --measurement-time 3`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test and benchmark code

use criterion::{criterion_main, BenchmarkId, Criterion, Throughput};
use samen_study::input::InputTable;
use samen_study::session::run_in_process;
use samen_study::spec::{IdKind, Statistic, StudyBuilder};

fn bench(c: &mut Criterion) {
    let regions: Vec<String> = (0..12).map(|i| format!("r{i}")).collect();
    let region_refs: Vec<&str> = regions.iter().map(String::as_str).collect();
    let study = StudyBuilder::new("bench")
        .data_party("bureau", "x:1")
        .data_party("portal", "x:2")
        .helper("trustee", "x:3")
        .table("register", "bureau", "id", IdKind::Text)
        .category("register", "region", &region_refs)
        .table("usage", "portal", "id", IdKind::Text)
        .category("usage", "channel", &["app", "web", "other"])
        .integer("usage", "logins", 0, 10_000)
        .output(
            "n",
            Statistic::Count,
            None,
            &["register.region", "usage.channel"],
            10,
        )
        .output(
            "m",
            Statistic::Mean,
            Some("usage.logins"),
            &["register.region"],
            10,
        )
        .build()
        .expect("study");
    let mut group = c.benchmark_group("study_in_process");
    group.sample_size(10);
    for &n in &[1_000usize, 10_000] {
        let mut reg = InputTable::new(&["id", "region"]);
        let mut usage = InputTable::new(&["id", "channel", "logins"]);
        for i in 0..n {
            reg.push(vec![format!("p{i}"), format!("r{}", i * 7 % 12)]);
        }
        for j in 0..n * 2 / 5 {
            let id = if j % 10 == 9 {
                format!("q{j}")
            } else {
                format!("p{}", j * 2)
            };
            let channel = ["app", "web", "other"][j % 3].to_string();
            usage.push(vec![id, channel, (j * 13 % 500).to_string()]);
        }
        let a = reg.validate(&study, "register").expect("register");
        let b = usage.validate(&study, "usage").expect("usage");
        group.throughput(Throughput::Elements((n + n * 2 / 5) as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |bench, _| {
            bench.iter(|| run_in_process(&study, [&a, &b], false).expect("run"))
        });
    }
    group.finish();
}

// `criterion_group!` defines a public function; a private module keeps it out of the
// missing-docs lint.
mod group {
    use super::*;
    criterion::criterion_group!(benches, bench);
}

criterion_main!(group::benches);
