//! The in-process study: both data parties and the helper as threads of this process, with
//! validated tables, a count by two columns (one from each side), a mean and a regression.
//!
//! ```text
//! cargo bench -p samen --bench study
//! ```
//!
//! Each data party holds `n` rows; half of each party's identifiers are shared. The
//! helper-assisted join runs at 10^4 and 10^5 rows per party, the two-party join at 10^4 (it
//! spends most of its time in ristretto255 scalar multiplications). Throughput counts the rows
//! of both parties. All three parties share the machine's cores.
// Test and benchmark code: a failed unwrap, expect or index is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use criterion::{BenchmarkId, Criterion, Throughput};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use samen::join::JoinMethod;
use samen::study::session::run_in_process;
use samen::{IdKind, InputTable, PartyTable, Statistic, Study, StudyBuilder};

const REGIONS: [&str; 4] = ["north", "east", "south", "west"];
const CHANNELS: [&str; 3] = ["app", "web", "phone"];

/// The study: users by region × channel, mean logins by region, logins on age and region.
fn study(method: JoinMethod) -> Study {
    let built = StudyBuilder::new("bench")
        .data_party("bureau", "127.0.0.1:7101")
        .data_party("portal", "127.0.0.1:7102")
        .helper("trustee", "127.0.0.1:7103")
        .join(method)
        .table("register", "bureau", "id", IdKind::Text)
        .category("register", "region", &REGIONS)
        .integer("register", "age", 0, 120)
        .table("usage", "portal", "id", IdKind::Text)
        .category("usage", "channel", &CHANNELS)
        .integer("usage", "logins", 0, 1_000)
        .output(
            "users",
            Statistic::Count,
            None,
            &["register.region", "usage.channel"],
            10,
        )
        .output(
            "logins",
            Statistic::Mean,
            Some("usage.logins"),
            &["register.region"],
            10,
        )
        .statistic_output(
            "logins_model",
            Statistic::Regression,
            &["usage.logins"],
            &["register.age", "register.region"],
            &[],
            10,
        )
        .build();
    match built {
        Ok(s) => s,
        Err(e) => panic!("bench study: {e}"),
    }
}

/// Both parties' validated tables, `n` rows each, identifiers `0..n` and `n/2..3n/2`.
fn tables(study: &Study, n: u64) -> [PartyTable; 2] {
    let mut rng = ChaCha8Rng::seed_from_u64(0x5a3e_2026);
    let mut register = InputTable::new(&["id", "region", "age"]);
    for i in 0..n {
        register.push(vec![
            format!("p{i}"),
            REGIONS[rng.random_range(0..REGIONS.len())].to_string(),
            rng.random_range(0..=120u32).to_string(),
        ]);
    }
    let mut usage = InputTable::new(&["id", "channel", "logins"]);
    for i in n / 2..n + n / 2 {
        usage.push(vec![
            format!("p{i}"),
            CHANNELS[rng.random_range(0..CHANNELS.len())].to_string(),
            rng.random_range(0..=1_000u32).to_string(),
        ]);
    }
    let validated = (
        register.validate(study, "register"),
        usage.validate(study, "usage"),
    );
    match validated {
        (Ok(a), Ok(b)) => [a, b],
        (Err(e), _) | (_, Err(e)) => panic!("bench tables: {e}"),
    }
}

fn bench_study(c: &mut Criterion) {
    let mut g = c.benchmark_group("study/in_process");
    g.sample_size(10);
    g.warm_up_time(std::time::Duration::from_secs(1));
    g.measurement_time(std::time::Duration::from_secs(3));
    let cases: [(JoinMethod, &[u64]); 2] = [
        (JoinMethod::Helper, &[10_000, 100_000]),
        (JoinMethod::TwoParty, &[10_000]),
    ];
    for (method, sizes) in cases {
        let study = study(method);
        for &n in sizes {
            let [a, b] = tables(&study, n);
            g.throughput(Throughput::Elements(2 * n));
            g.bench_with_input(BenchmarkId::new(method.as_str(), n), &n, |bench, _| {
                bench.iter(|| match run_in_process(&study, [&a, &b], false) {
                    Ok(run) => assert_eq!(run.sizes.union, n + n / 2),
                    Err(e) => panic!("study run failed: {e}"),
                })
            });
        }
    }
    g.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench_study(&mut c);
    c.final_summary();
}
