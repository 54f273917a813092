//! Full-duplex bulk transfer and channel semantics over TLS on loopback.
// Test and benchmark code: a failed unwrap, expect or index is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use std::time::{Duration, Instant};

use samen_core::channel::{Channel, ChannelError, ChannelExt};

#[test]
fn both_parties_send_large_vectors_at_the_same_time() {
    let dir = tempfile::tempdir().unwrap();
    samen_net::generate_certs(&["alpha".into(), "beta".into(), "gamma".into()], dir.path())
        .unwrap();
    let cfgs = common::configs(
        &["alpha", "beta", "gamma"],
        dir.path(),
        Duration::from_secs(30),
    );
    let mut all: Vec<_> = common::connect_threads(cfgs)
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(all[0].keys().collect::<Vec<_>>(), ["beta", "gamma"]);
    assert_eq!(all[2].keys().collect::<Vec<_>>(), ["alpha", "beta"]);
    let mut a = all[0].remove("beta").unwrap();
    let mut b = all[1].remove("alpha").unwrap();
    // 128 MiB each way, both send before either receives.
    let n = 16 << 20;
    let va = samen_testkit::Rng::new(1).words(n);
    let vb = samen_testkit::Rng::new(2).words(n);
    let (va2, vb2) = (va.clone(), vb.clone());
    let start = Instant::now();
    let tb = std::thread::spawn(move || {
        b.send_u64s(&vb2).unwrap();
        let got = b.recv_u64s(n).unwrap();
        (got, b)
    });
    a.send_u64s(&va2).unwrap();
    let got_a = a.recv_u64s(n).unwrap();
    let (got_b, b) = tb.join().unwrap();
    eprintln!("256 MiB full duplex in {:?}", start.elapsed());
    assert!(got_a == vb && got_b == va);
    assert_eq!(a.stats().bytes_sent, (n * 8) as u64);
    assert_eq!(a.stats().bytes_received, (n * 8) as u64);
    assert_eq!(b.stats().rounds, 1);
    // A third pair member still works.
    let mut ag = all[0].remove("gamma").unwrap();
    let mut ga = all[2].remove("alpha").unwrap();
    let hello = common::hello("alpha", "gamma");
    ag.send_msg(&hello).unwrap();
    assert_eq!(ga.recv_msg::<samen_net::hello::Hello>().unwrap(), hello);
    drop(b);
    assert!(matches!(a.recv(8), Err(ChannelError::Closed { .. })));
}

#[test]
fn parties_can_start_in_any_order() {
    let dir = tempfile::tempdir().unwrap();
    samen_net::generate_certs(&["alpha".into(), "beta".into()], dir.path()).unwrap();
    for listener_late in [true, false] {
        let cfgs = common::configs(&["alpha", "beta"], dir.path(), Duration::from_secs(20));
        let (first, second) = if listener_late {
            (cfgs[1].clone(), cfgs[0].clone())
        } else {
            (cfgs[0].clone(), cfgs[1].clone())
        };
        let early = std::thread::spawn(move || samen_net::connect_all(&first).unwrap());
        std::thread::sleep(Duration::from_millis(700));
        let mut late = samen_net::connect_all(&second).unwrap();
        let mut early = early.join().unwrap();
        let (a, b) = if listener_late {
            (
                late.get_mut("beta").unwrap(),
                early.get_mut("alpha").unwrap(),
            )
        } else {
            (
                early.get_mut("beta").unwrap(),
                late.get_mut("alpha").unwrap(),
            )
        };
        a.send_u64(11).unwrap();
        assert_eq!(b.recv_u64().unwrap(), 11);
        assert_eq!((a.peer(), b.peer()), ("beta", "alpha"));
    }
}
