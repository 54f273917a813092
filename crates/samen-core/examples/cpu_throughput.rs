//! Throughput per CPU-second of the core kernels and protocols (Linux only).
//!
//! Criterion measures wall-clock time, which on a shared, loaded machine says more about the
//! other processes than about samen. This example divides work by the CPU time this process
//! actually received (user + system, from `/proc/self/stat`, in clock ticks of 10 ms), so its
//! numbers stay comparable under load. Run with
//! `cargo run --release -p samen-core --example cpu_throughput`.
// Test and benchmark code: a failed unwrap, expect or index is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::time::Instant;

use samen_core::channel::local_pair;
use samen_core::mpc::{Computer, Dealer};
use samen_core::prg::{Prg, Seed};
use samen_core::ring;
use samen_core::Role;

/// CPU time of this process (all threads) in seconds; `None` where `/proc` is unavailable.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // the command name may contain spaces: fields after the closing parenthesis
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// Run `f` (which reports its own CPU seconds) until 1 CPU-second has been spent; print
/// `units` per CPU-second and per wall-second.
fn measure(name: &str, units: f64, unit: &str, mut f: impl FnMut() -> f64) {
    f();
    let (mut cpu, mut reps) = (0.0, 0u32);
    let wall = Instant::now();
    while cpu < 1.0 {
        cpu += f();
        reps += 1;
    }
    let wall = wall.elapsed().as_secs_f64();
    let per_cpu = units * f64::from(reps) / cpu;
    let per_wall = units * f64::from(reps) / wall;
    println!("{name:44} {per_cpu:9.1} {unit}/CPU-s   {per_wall:9.1} {unit}/wall-s");
}

/// Time a closure in CPU seconds.
fn cpu_of(f: impl FnOnce()) -> f64 {
    let c0 = cpu_seconds().unwrap_or(0.0);
    f();
    cpu_seconds().unwrap_or(0.0) - c0
}

/// One protocol run: the dealer's part untimed, then both computing parties timed.
fn protocol(
    dealer: &(dyn Fn(&mut Dealer) + Sync),
    first: &(dyn Fn(&mut Computer) + Sync),
    second: &(dyn Fn(&mut Computer) + Sync),
) -> (f64, f64) {
    let (mut f_peer, mut s_peer) = local_pair("first", "second");
    let (mut h_f, mut f_dealer) = local_pair("helper", "first");
    let (mut h_s, mut s_dealer) = local_pair("helper", "second");
    let d_cpu = cpu_of(|| {
        if let Ok(mut d) = Dealer::with_seeds(
            &mut h_f,
            &mut h_s,
            Seed::from_bytes([1; 32]),
            Seed::from_bytes([2; 32]),
        ) {
            dealer(&mut d);
        }
    });
    let o_cpu = cpu_of(|| {
        std::thread::scope(|sc| {
            sc.spawn(|| {
                if let Ok(mut c) = Computer::new(Role::Second, &mut s_peer, &mut s_dealer) {
                    second(&mut c);
                }
            });
            if let Ok(mut c) = Computer::new(Role::First, &mut f_peer, &mut f_dealer) {
                first(&mut c);
            }
        })
    });
    (d_cpu, o_cpu)
}

fn main() {
    if cpu_seconds().is_none() {
        eprintln!("/proc/self/stat is not available: this example needs Linux");
        return;
    }
    println!("(protocol rows: the online CPU time is that of both computing parties together)");
    let seed = Seed::from_bytes([42; 32]);
    let mut prg = Prg::new(&seed, b"cpu-throughput");
    let mut buf = vec![0u64; 1 << 20];
    measure(
        "PRG fill, one thread (ChaCha12)",
        8.0 * buf.len() as f64 / 1e9,
        "GB",
        || cpu_of(|| prg.fill_u64_seq(&mut buf)),
    );
    for n in [10_000usize, 1_000_000, 10_000_000] {
        let a = prg.u64s(n);
        let mut d = prg.u64s(n);
        // repeat small kernels so that one timed call is long compared with reading /proc
        let inner = (10_000_000 / n).max(1);
        let units = (n * inner) as f64 / 1e9;
        measure(&format!("add, one thread, n={n}"), units, "Gelem", || {
            cpu_of(|| {
                for _ in 0..inner {
                    for (x, y) in d.iter_mut().zip(&a) {
                        *x = x.wrapping_add(*y);
                    }
                    std::hint::black_box(&mut d);
                }
            })
        });
        measure(
            &format!("element-wise mul, one thread, n={n}"),
            units,
            "Gelem",
            || {
                cpu_of(|| {
                    for _ in 0..inner {
                        for (x, y) in d.iter_mut().zip(&a) {
                            *x = x.wrapping_mul(*y);
                        }
                        std::hint::black_box(&mut d);
                    }
                })
            },
        );
    }
    for (n, k, l) in [(1_000_000usize, 12usize, 3usize), (100_000, 40, 10)] {
        let a = prg.u64s(n * k);
        let b = prg.u64s(n * l);
        measure(
            &format!("AᵀB one thread {n}×{k}·{n}×{l}"),
            (n * k * l) as f64 / 1e9,
            "Gmadd",
            || {
                cpu_of(|| {
                    let mut acc = vec![0u64; k * l];
                    let _ = ring::matmul_tn_acc(&a, &b, k, l, &mut acc);
                    std::hint::black_box(acc);
                })
            },
        );
    }
    for n in [10_000usize, 1_000_000, 10_000_000] {
        let (x0, y0, x1, y1) = (prg.u64s(n), prg.u64s(n), prg.u64s(n), prg.u64s(n));
        let run = || {
            protocol(
                &|d| {
                    let _ = d.mul(n);
                },
                &|c| {
                    let _ = std::hint::black_box(c.mul(&x0, &y0));
                },
                &|c| {
                    let _ = std::hint::black_box(c.mul(&x1, &y1));
                },
            )
        };
        measure(
            &format!("Beaver mul online, n={n}"),
            n as f64 / 1e6,
            "Melem",
            || run().1,
        );
        measure(
            &format!("Beaver mul dealer, n={n}"),
            n as f64 / 1e6,
            "Melem",
            || run().0,
        );
    }
    let (n, k, l) = (1_000_000usize, 12usize, 3usize);
    let (a, b) = (prg.u64s(n * k), prg.u64s(n * l));
    let run = || {
        protocol(
            &|d| {
                let _ = d.cross_product(n, k, l);
            },
            &|c| {
                let _ = std::hint::black_box(c.cross_product(&a, n, k, l));
            },
            &|c| {
                let _ = std::hint::black_box(c.cross_product(&b, n, k, l));
            },
        )
    };
    measure(
        "cross product online, 10^6 rows, 12×3",
        n as f64 / 1e6,
        "Mrows",
        || run().1,
    );
    measure(
        "cross product dealer, 10^6 rows, 12×3",
        n as f64 / 1e6,
        "Mrows",
        || run().0,
    );
    for n in [1_000usize, 100_000] {
        let (x0, x1) = (prg.u64s(n), prg.u64s(n));
        let run = || {
            protocol(
                &|d| {
                    let _ = d.ge_public(n);
                },
                &|c| {
                    let _ = std::hint::black_box(c.ge_public(&x0, 10));
                },
                &|c| {
                    let _ = std::hint::black_box(c.ge_public(&x1, 10));
                },
            )
        };
        measure(
            &format!("comparison online, n={n}"),
            n as f64 / 1e6,
            "Mval",
            || run().1,
        );
        measure(
            &format!("comparison dealer, n={n}"),
            n as f64 / 1e6,
            "Mval",
            || run().0,
        );
    }
}
