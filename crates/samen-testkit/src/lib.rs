//! Test support shared by samen's test suites, benches and examples: one seeded generator, free
//! loopback ports, the `samen` command line and the parties section of a study file.
//!
//! This crate is a development dependency only; no product crate depends on it. Its helpers
//! panic on a broken test environment (a port that cannot be bound, a command that cannot be
//! started), which is the right failure for a test.
#![forbid(unsafe_code)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test support code

use std::fmt::Write as _;
use std::net::TcpListener;
use std::process::{Command, Output};

/// SplitMix64: a small seeded generator, so that test data is reproducible and the tests need
/// no random-number crate. Not for keys or seeds: product code draws those from the OS RNG.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator started at `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (up to a negligible modulo bias); `n` must be positive.
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "Rng::below(0)");
        self.next_u64() % n
    }

    /// Uniform in `min..=max`, for any `min <= max` in the range of `i64`.
    pub fn range(&mut self, min: i64, max: i64) -> i64 {
        assert!(min <= max, "Rng::range({min}, {max})");
        let span = (i128::from(max) - i128::from(min) + 1) as u128;
        let offset = u128::from(self.next_u64()) % span;
        (i128::from(min) + offset as i128) as i64
    }

    /// `n` values of 64 random bits.
    pub fn words(&mut self, n: usize) -> Vec<u64> {
        (0..n).map(|_| self.next_u64()).collect()
    }
}

/// A free loopback port: bound, then released (the small race with other processes is
/// acceptable in tests).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind a loopback port")
        .port()
}

/// `n` distinct free loopback ports.
pub fn free_ports(n: usize) -> Vec<u16> {
    let mut ports = Vec::with_capacity(n);
    while ports.len() < n {
        let p = free_port();
        if !ports.contains(&p) {
            ports.push(p);
        }
    }
    ports
}

/// The `samen` binary at `path` (a test passes `env!("CARGO_BIN_EXE_samen")`), with `RUST_LOG`
/// removed so that its output does not depend on the caller's environment.
pub fn samen(path: &str) -> Command {
    let mut c = Command::new(path);
    c.env_remove("RUST_LOG");
    c
}

/// Panics with the command's standard error unless it exited successfully.
pub fn assert_success(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The start of a study file: the `[study]` table named `name` (with `join = "<join>"` when
/// given), two data parties and a helper, each `(name, port)` on loopback.
pub fn study_head(
    name: &str,
    join: Option<&str>,
    data: [(&str, u16); 2],
    helper: (&str, u16),
) -> String {
    let mut s = format!("[study]\nname = \"{name}\"\n");
    if let Some(join) = join {
        writeln!(s, "join = \"{join}\"").unwrap();
    }
    for (party, port) in data {
        write!(s, "\n[parties.{party}]\naddress = \"127.0.0.1:{port}\"\n").unwrap();
    }
    let (party, port) = helper;
    write!(
        s,
        "\n[parties.{party}]\naddress = \"127.0.0.1:{port}\"\nrole = \"helper\"\n"
    )
    .unwrap();
    s
}

/// [`study_head`] with the parties of the CLI suites: data parties `bureau` and `portal`, helper
/// `trustee`, on `ports` in that order; the default join method.
pub fn cli_study_head(name: &str, ports: [u16; 3]) -> String {
    let [bureau, portal, trustee] = ports;
    study_head(
        name,
        None,
        [("bureau", bureau), ("portal", portal)],
        ("trustee", trustee),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_covers_its_ends_and_stays_inside() {
        let mut rng = Rng::new(7);
        let draws: Vec<i64> = (0..2_000).map(|_| rng.range(-2, 2)).collect();
        assert!(draws.iter().all(|d| (-2..=2).contains(d)));
        for v in -2..=2 {
            assert!(draws.contains(&v), "{v} never drawn");
        }
        let extreme = rng.range(i64::MIN, i64::MAX);
        let _ = extreme; // the full range must not overflow
    }

    #[test]
    fn same_seed_same_stream() {
        assert_eq!(Rng::new(3).words(8), Rng::new(3).words(8));
        assert_ne!(Rng::new(3).words(8), Rng::new(4).words(8));
    }

    #[test]
    fn ports_are_distinct() {
        let p = free_ports(5);
        for (i, a) in p.iter().enumerate() {
            assert!(!p[i + 1..].contains(a));
        }
    }

    #[test]
    fn study_head_parses_as_toml_shape() {
        let s = study_head("s", Some("helper"), [("a", 1), ("b", 2)], ("h", 3));
        assert!(s.starts_with("[study]\nname = \"s\"\njoin = \"helper\"\n"));
        assert!(s.contains("[parties.h]\naddress = \"127.0.0.1:3\"\nrole = \"helper\"\n"));
    }
}
