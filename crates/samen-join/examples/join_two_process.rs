//! The private join alone, between two OS processes over the TLS transport on loopback.
//!
//! ```text
//! cargo run --release -p samen-join --example join_two_process -- [N] [OVERLAP_PERCENT]
//! ```
//!
//! The parent process writes a study CA and party certificates to a temporary directory, picks
//! a free loopback port and starts itself twice (`first` and `second`). Each party holds `N`
//! valid BSNs, `OVERLAP_PERCENT` % (default 50) of them shared, connects with
//! `samen_net::connect_all`, runs [`samen_join::private_join`] and reports its wall time, CPU
//! time and peak resident memory (`VmHWM`); the parent checks the sizes and prints a summary.
// Test and benchmark code: a failed unwrap, expect or index is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use samen_core::Role;
use samen_join::private_join;
use samen_pseudonym::normalise::bsn_from_index;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let result = if args.get(1).map(String::as_str) == Some("--party") {
        party(&args[2..])
    } else {
        parent(&args[1..])
    };
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn parse_n_overlap(args: &[String]) -> Res<(usize, usize)> {
    let n = args
        .first()
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(100_000);
    let overlap = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(50);
    if overlap > 100 {
        return Err("OVERLAP_PERCENT must be at most 100".into());
    }
    Ok((n, overlap))
}

/// CPU seconds per operation of scalar multiplication, hash-to-group and decompression, on one
/// thread of this process (measured before the parties start, under the same machine load).
fn calibrate() -> (f64, f64, f64) {
    use samen_pseudonym::joint::{decompress, hash_to_group, SecretScalar};
    const REPS: u32 = 10_000;
    let k = SecretScalar::from_wide_bytes(&[7; 64]).unwrap_or_else(|| unreachable!());
    let mut p = hash_to_group(b"calibrate");
    let c0 = cpu_seconds().unwrap_or(0.0);
    for _ in 0..REPS {
        p = k.blind(&p);
    }
    let c1 = cpu_seconds().unwrap_or(0.0);
    let mut acc = 0u8;
    for i in 0..REPS {
        acc ^= hash_to_group(&i.to_le_bytes()).compress().as_bytes()[0];
    }
    let c2 = cpu_seconds().unwrap_or(0.0);
    let e = p.compress().to_bytes();
    for _ in 0..REPS {
        acc ^= u8::from(decompress(std::hint::black_box(&e)).is_some());
    }
    let c3 = cpu_seconds().unwrap_or(0.0);
    std::hint::black_box(acc);
    let per = |a: f64, b: f64| (b - a) / f64::from(REPS);
    (per(c0, c1), per(c1, c2), per(c2, c3))
}

fn parent(args: &[String]) -> Res<()> {
    let (n, overlap) = parse_n_overlap(args)?;
    let (t_mul, t_hash, t_dec) = calibrate();
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    let dir = std::env::temp_dir().join(format!("samen-join-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let names = vec!["first".to_string(), "second".to_string()];
    samen_net::generate_certs(&names, &dir)?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let exe = std::env::current_exe()?;
    let t0 = Instant::now();
    let children: Vec<_> = names
        .iter()
        .map(|name| {
            Command::new(&exe)
                .args(["--party", name, &port.to_string()])
                .arg(&dir)
                .args([n.to_string(), overlap.to_string()])
                .stdout(Stdio::piped())
                .spawn()
        })
        .collect::<Result<_, _>>()?;
    let mut reports = Vec::new();
    for c in children {
        let out = c.wait_with_output()?;
        if !out.status.success() {
            return Err(format!("a party process failed ({})", out.status).into());
        }
        reports.push(String::from_utf8(out.stdout)?);
    }
    let wall = t0.elapsed();
    let _ = std::fs::remove_dir_all(&dir);
    let common = n * overlap / 100;
    println!("private join, two processes over TLS on loopback: {n} x {n} ids, {common} shared");
    let mut cpu_total = 0.0;
    for r in &reports {
        for line in r.lines() {
            match line.strip_prefix("CPU_SECONDS ") {
                Some(v) => cpu_total += v.parse::<f64>()?,
                None => println!("{line}"),
            }
        }
    }
    println!(
        "wall time for both processes (incl. start-up and TLS set-up): {:.2} s",
        wall.as_secs_f64()
    );
    let only = n - common;
    let mults = 2 * n + 2 * n + 2 * only;
    println!(
        "per party: {n} hashes to the group and {mults} scalar multiplications ({:.2} per own row)",
        mults as f64 / n as f64
    );
    println!(
        "calibration (one thread, CPU time): scalar mult {:.1} us, hash-to-group+compress {:.1} us, decompress {:.1} us",
        t_mul * 1e6,
        t_hash * 1e6,
        t_dec * 1e6
    );
    let bound = 2.0 * mults as f64 * t_mul / cores as f64;
    println!(
        "bound: 2 parties x {mults} mults x {:.1} us / {cores} cores = {bound:.2} s; measured wall / bound = {:.2}",
        t_mul * 1e6,
        wall.as_secs_f64() / bound
    );
    println!(
        "CPU of both parties in the join / cores = {:.2} s (= the wall time on an otherwise idle machine); / bound = {:.2}",
        cpu_total / cores as f64,
        cpu_total / cores as f64 / bound
    );
    Ok(())
}

fn ids_for(role: Role, n: usize, overlap: usize) -> Vec<Vec<u8>> {
    let common = n * overlap / 100;
    // First holds indices 0..n; Second holds the last `common` of them and n.. for the rest.
    let range: Box<dyn Iterator<Item = usize>> = match role {
        Role::First => Box::new(0..n),
        Role::Second | Role::Helper => Box::new((n - common)..(2 * n - common)),
    };
    range
        .filter_map(|i| bsn_from_index(i as u64))
        .map(String::into_bytes)
        .collect()
}

fn proc_status_kib(field: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// User + system CPU seconds of this process (from /proc/self/stat, 100 ticks per second).
fn cpu_seconds() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after = s.rsplit(')').next()?;
    let f: Vec<&str> = after.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

fn party(args: &[String]) -> Res<()> {
    let name = args.first().ok_or("missing party name")?.clone();
    let port: u16 = args.get(1).ok_or("missing port")?.parse()?;
    let dir = PathBuf::from(args.get(2).ok_or("missing certificate directory")?);
    let (n, overlap) = parse_n_overlap(args.get(3..).unwrap_or(&[]))?;
    let role = if name == "first" {
        Role::First
    } else {
        Role::Second
    };
    let ids = ids_for(role, n, overlap);
    let refs: Vec<&[u8]> = ids.iter().map(Vec::as_slice).collect();
    let t0 = Instant::now();
    let mut chans = connect(&name, port, &dir)?;
    let peer = if role == Role::First {
        "second"
    } else {
        "first"
    };
    let chan = chans.get_mut(peer).ok_or("no channel to the peer")?;
    let t_conn = t0.elapsed();
    let cpu0 = cpu_seconds().unwrap_or(0.0);
    let t1 = Instant::now();
    let out = private_join(role, &refs, chan)?;
    let t_join = t1.elapsed();
    let cpu = cpu_seconds().unwrap_or(0.0) - cpu0;
    use samen_core::channel::Channel;
    let stats = chan.stats();
    let expect_union = 2 * n - n * overlap / 100;
    if out.union_size != expect_union {
        return Err(format!("union size {} instead of {expect_union}", out.union_size).into());
    }
    println!(
        "{name:>6}: join {:.2} s wall, {:.2} s CPU (connect {:.2} s), peak RSS {:.0} MiB, sent {:.1} MiB in {} frames, union {}",
        t_join.as_secs_f64(),
        cpu,
        t_conn.as_secs_f64(),
        proc_status_kib("VmHWM:").unwrap_or(0) as f64 / 1024.0,
        stats.bytes_sent as f64 / (1 << 20) as f64,
        stats.messages_sent,
        out.union_size
    );
    println!("CPU_SECONDS {cpu}");
    Ok(())
}

fn connect(
    name: &str,
    port: u16,
    dir: &Path,
) -> Res<std::collections::BTreeMap<String, samen_net::TlsChannel>> {
    let cfg = samen_net::NetConfig {
        me: name.to_string(),
        parties: vec![
            ("first".to_string(), format!("127.0.0.1:{port}")),
            ("second".to_string(), "127.0.0.1:1".to_string()),
        ],
        listen: None,
        certs_dir: dir.to_path_buf(),
        auth: samen_net::PeerAuth::StudyCa,
        study_name: "join-bench".to_string(),
        study_hash: [0; 32],
        connect_timeout: Duration::from_secs(60),
        io_timeout: Duration::from_secs(3600),
    };
    Ok(samen_net::connect_all(&cfg)?)
}
