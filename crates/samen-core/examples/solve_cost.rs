//! Cost of the exact secure solve of a regression model (`samen_core::mpc::solve`): wall time
//! and bytes for models of 10 and 100 terms (three roles as threads in one process, over
//! in-process channels, so the time is computation only; the CPU time of all three parties is
//! printed too, as the wall time depends on the machine's load). Run with
//! `cargo run --release -p samen-core --example solve_cost`.
// Test and benchmark code: a failed unwrap, expect or index is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::time::Instant;

use samen_core::channel::{local_mesh, Channel};
use samen_core::mpc::field::primes_for;
use samen_core::mpc::solve::{solve_words, Solution};
use samen_core::mpc::{Computer, Dealer};
use samen_core::prg::{Prg, Seed};
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

fn main() {
    for terms in [10usize, 100] {
        let d = terms + 2;
        let rows = 4 * d;
        let mut prg = Prg::new(&Seed::from_bytes([3; 32]), b"solve-cost");
        let data: Vec<Vec<i64>> = (0..rows)
            .map(|_| {
                let mut r = vec![1i64];
                r.extend((0..d - 1).map(|_| (prg.next_u64() % 20001) as i64 - 10000));
                r
            })
            .collect();
        let mut upper = Vec::new();
        for i in 0..d {
            for j in i..d {
                upper.push(data.iter().map(|r| r[i] * r[j]).sum::<i64>() as u64);
            }
        }
        let mask = prg.u64s(upper.len());
        let second: Vec<u64> = upper
            .iter()
            .zip(&mask)
            .map(|(x, r)| x.wrapping_sub(*r))
            .collect();
        let mut mesh = local_mesh(&["first", "second", "helper"]);
        let mut h = mesh.pop().unwrap();
        let mut s = mesh.pop().unwrap();
        let mut f = mesh.pop().unwrap();
        let start = Instant::now();
        let cpu0 = cpu_seconds();
        let (sent, dealer_bytes, ok) = std::thread::scope(|sc| {
            let dealer = sc.spawn(move || {
                let mut to_f = h.remove("first").unwrap();
                let mut to_s = h.remove("second").unwrap();
                let mut dl = Dealer::new(&mut to_f, &mut to_s).unwrap();
                dl.solve_gram(d).unwrap();
                drop(dl);
                to_s.stats().bytes_sent
            });
            let sec = sc.spawn(move || {
                let mut peer = s.remove("first").unwrap();
                let mut dl = s.remove("helper").unwrap();
                let mut c = Computer::new(Role::Second, &mut peer, &mut dl).unwrap();
                c.solve_gram(&second, d, rows as u64).unwrap()
            });
            let mut peer = f.remove("second").unwrap();
            let mut dl = f.remove("helper").unwrap();
            let mut c = Computer::new(Role::First, &mut peer, &mut dl).unwrap();
            let a = c.solve_gram(&mask, d, rows as u64).unwrap();
            drop(c);
            let b = sec.join().unwrap();
            (
                peer.stats().bytes_sent,
                dealer.join().unwrap(),
                a == b && matches!(a, Solution::Solved(_)),
            )
        });
        let secs = start.elapsed().as_secs_f64();
        let cpu = cpu_seconds()
            .zip(cpu0)
            .map_or("n/a".to_string(), |(b, a)| format!("{:.2} s", b - a));
        let (words, dealt) = solve_words(d).unwrap();
        println!(
            "{terms} terms (d = {d}, {} primes): {secs:.3} s wall, {cpu} CPU (all three parties); each data party sends {sent} bytes \
             ({} words documented); the helper sends Second {dealer_bytes} bytes ({} words \
             documented, plus headers and the seed); solved: {ok}",
            primes_for(d).unwrap(),
            words,
            dealt
        );
    }
}
