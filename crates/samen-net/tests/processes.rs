//! The same protocol (open of an additively shared 10^6-element vector) in one process over
//! `local_pair` and between two OS processes over TLS on loopback; a peer process that exits
//! mid-protocol makes the other fail promptly.
//!
//! The second process is this test binary itself, started with `SAMEN_NET_CHILD` set so that
//! only `child_party` runs (it does nothing in a normal test run).
// Test and benchmark code: a failed unwrap, expect or index is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use samen_core::channel::{local_pair, Channel, ChannelError, ChannelExt};
use sha2::{Digest, Sha256};

const N: usize = 1_000_000;

/// x = secret vector; party 0 holds `share0`, party 1 holds `x - share0`.
fn shares() -> (Vec<u64>, Vec<u64>, Vec<u64>) {
    let x = samen_testkit::Rng::new(42).words(N);
    let s0 = samen_testkit::Rng::new(7).words(N);
    let s1 = x.iter().zip(&s0).map(|(x, s)| x.wrapping_sub(*s)).collect();
    (x, s0, s1)
}

/// The protocol: send my share, receive the peer's, add (both parties send first).
fn open(ch: &mut dyn Channel, mine: &[u64]) -> Result<Vec<u64>, ChannelError> {
    ch.send_u64s(mine)?;
    let theirs = ch.recv_u64s(mine.len())?;
    Ok(mine
        .iter()
        .zip(&theirs)
        .map(|(a, b)| a.wrapping_add(*b))
        .collect())
}

fn digest(v: &[u64]) -> String {
    let mut h = Sha256::new();
    for x in v {
        h.update(x.to_le_bytes());
    }
    hex::encode(h.finalize())
}

fn config_from_env() -> samen_net::NetConfig {
    let var = |k: &str| std::env::var(k).unwrap();
    samen_net::NetConfig {
        me: var("SAMEN_NET_ME"),
        parties: var("SAMEN_NET_PARTIES")
            .split(',')
            .map(|p| {
                let (n, a) = p.split_once('=').unwrap();
                (n.to_string(), a.to_string())
            })
            .collect(),
        listen: None,
        certs_dir: var("SAMEN_NET_CERTS").into(),
        auth: samen_net::PeerAuth::StudyCa,
        study_name: "test-study".into(),
        study_hash: [0x5a; 32],
        connect_timeout: Duration::from_secs(30),
        io_timeout: Duration::from_secs(30),
    }
}

/// Entry point of the child process.
#[test]
fn child_party() {
    let Ok(role) = std::env::var("SAMEN_NET_CHILD") else {
        return;
    };
    let cfg = config_from_env();
    let mut chans = samen_net::connect_all(&cfg).unwrap();
    let mut ch = chans.remove("alpha").unwrap();
    let (_, _, s1) = shares();
    match role.as_str() {
        "open" => {
            let out = open(&mut ch, &s1).unwrap();
            println!("RESULT {}", digest(&out));
            println!(
                "STATS {} {}",
                ch.stats().bytes_sent,
                ch.stats().bytes_received
            );
        }
        "die" => {
            // Send half of the share, then the process dies without closing anything.
            ch.send_u64s(&s1[..N / 2]).unwrap();
            std::process::exit(3);
        }
        other => panic!("unknown role {other}"),
    }
}

fn spawn_child(role: &str, cfg: &samen_net::NetConfig) -> std::process::Child {
    let parties = cfg
        .parties
        .iter()
        .map(|(n, a)| format!("{n}={a}"))
        .collect::<Vec<_>>()
        .join(",");
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_party", "--nocapture", "--test-threads=1"])
        .env("SAMEN_NET_CHILD", role)
        .env("SAMEN_NET_ME", "beta")
        .env("SAMEN_NET_PARTIES", parties)
        .env("SAMEN_NET_CERTS", &cfg.certs_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

#[test]
fn open_gives_the_same_result_in_process_and_between_processes() {
    let (x, s0, s1) = shares();

    // In process.
    let (mut a, mut b) = local_pair("alpha", "beta");
    let s1c = s1.clone();
    let tb = std::thread::spawn(move || open(&mut b, &s1c).unwrap());
    let local_a = open(&mut a, &s0).unwrap();
    let local_b = tb.join().unwrap();
    assert!(local_a == x && local_b == x);
    let local_stats = a.stats();

    // Two processes over TLS: this process is alpha, the child is beta.
    let dir = tempfile::tempdir().unwrap();
    samen_net::generate_certs(&["alpha".into(), "beta".into()], dir.path()).unwrap();
    let cfgs = common::configs(&["alpha", "beta"], dir.path(), Duration::from_secs(30));
    let child = spawn_child("open", &cfgs[1]);
    let mut chans = samen_net::connect_all(&cfgs[0]).unwrap();
    let mut ch = chans.remove("beta").unwrap();
    let tls_a = open(&mut ch, &s0).unwrap();
    assert_eq!(tls_a, x);
    assert_eq!(ch.stats(), local_stats);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains(&format!("RESULT {}", digest(&x))),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("STATS {} {}", N * 8, N * 8)),
        "{stdout}"
    );
}

#[test]
fn peer_process_exiting_mid_protocol_fails_fast() {
    let dir = tempfile::tempdir().unwrap();
    samen_net::generate_certs(&["alpha".into(), "beta".into()], dir.path()).unwrap();
    // A timeout far beyond the test: `Closed` (not `Timeout`) shows that the exit was noticed
    // from the connection, without a wall-clock bound that a loaded machine could break.
    let cfgs = common::configs(&["alpha", "beta"], dir.path(), Duration::from_secs(300));
    let mut child = spawn_child("die", &cfgs[1]);
    let mut chans = samen_net::connect_all(&cfgs[0]).unwrap();
    let mut ch = chans.remove("beta").unwrap();
    let err = ch.recv_u64s(N).unwrap_err();
    assert!(
        matches!(err, ChannelError::Closed { ref peer } if peer == "beta"),
        "{err}"
    );
    assert_eq!(child.wait().unwrap().code(), Some(3));
}
