//! Leakage checks: what a party receives during the join, for two different inputs with the
//! same sizes and intersection size, passes every distinguishing check we can run.
// Test and benchmark code: a failed unwrap, expect or index is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::collections::HashSet;
use std::thread;

use curve25519_dalek::ristretto::RistrettoPoint;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use samen_core::channel::{local_pair, LocalChannel};
use samen_core::Role;
use samen_join::{private_join_with_keys, JoinKeys, JoinOutput};
use samen_pseudonym::joint::{decompress, hash_to_group, Encoded, SecretScalar};

#[path = "common/recorder.rs"]
mod recorder;
use recorder::{make_sets, Recorder};

struct View {
    ids: Vec<Vec<u8>>,
    keys: JoinKeys,
    received: Vec<(String, Vec<u8>)>,
    sent: Vec<(String, Vec<u8>)>,
    out: JoinOutput,
}

fn refs(v: &[Vec<u8>]) -> Vec<&[u8]> {
    v.iter().map(|x| x.as_slice()).collect()
}

fn recorder(c: LocalChannel) -> Recorder {
    Recorder {
        inner: c,
        step: String::new(),
        received: vec![],
        sent: vec![],
    }
}

fn run(a: Vec<Vec<u8>>, b: Vec<Vec<u8>>) -> (View, View) {
    let (ca, cb) = local_pair("first", "second");
    let mut seed_rng = ChaCha20Rng::from_os_rng();
    let (sa, sb): ([u8; 32], [u8; 32]) = (seed_rng.random(), seed_rng.random());
    let t = thread::spawn(move || {
        let keys = JoinKeys::random().unwrap();
        let mut rb = recorder(cb);
        let out = private_join_with_keys(Role::Second, &refs(&b), &mut rb, &keys, &sb).unwrap();
        View {
            ids: b,
            keys,
            received: rb.received,
            sent: rb.sent,
            out,
        }
    });
    let keys = JoinKeys::random().unwrap();
    let mut ra = recorder(ca);
    let out = private_join_with_keys(Role::First, &refs(&a), &mut ra, &keys, &sa).unwrap();
    let va = View {
        ids: a,
        keys,
        received: ra.received,
        sent: ra.sent,
        out,
    };
    (va, t.join().unwrap())
}

fn points(frames: &[(String, Vec<u8>)], step: &str) -> Vec<Encoded> {
    frames
        .iter()
        .filter(|(s, _)| s == step)
        .flat_map(|(_, f)| {
            assert_eq!(f.len() % 32, 0);
            f.chunks_exact(32).map(|c| {
                let mut e = [0u8; 32];
                e.copy_from_slice(c);
                e
            })
        })
        .collect()
}

fn enc(p: &RistrettoPoint) -> Encoded {
    p.compress().to_bytes()
}

/// Spearman-style rank correlation of (index, row) pairs; both are permutations of 0..n.
fn rank_correlation(rows: &[usize]) -> f64 {
    let n = rows.len() as f64;
    let mean = (n - 1.0) / 2.0;
    let (mut cov, mut var) = (0.0, 0.0);
    for (j, &r) in rows.iter().enumerate() {
        cov += (j as f64 - mean) * (r as f64 - mean);
        var += (j as f64 - mean) * (j as f64 - mean);
    }
    cov / var
}

/// Map each point of `received` to the row of `ids` whose `H(id)^key` it is.
fn rows_of(received: &[Encoded], ids: &[Vec<u8>], key: &SecretScalar) -> Vec<usize> {
    let index: std::collections::HashMap<Encoded, usize> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (enc(&key.blind(&hash_to_group(id))), i))
        .collect();
    received
        .iter()
        .map(|p| *index.get(p).expect("labelled point of an unknown row"))
        .collect()
}

/// Every check on one party's view; `peer` is the other party's view (the test knows both).
fn check_view(me: &View, peer: &View) {
    // 1. All received points are valid and distinct.
    let mut all = HashSet::new();
    let mut total = 0;
    for (step, frame) in &me.received {
        if step == "join/hello" {
            assert_eq!(frame.len(), 10);
            continue;
        }
        for c in frame.chunks_exact(32) {
            let mut e = [0u8; 32];
            e.copy_from_slice(c);
            assert!(decompress(&e).is_some(), "invalid point received");
            all.insert(e);
            total += 1;
        }
    }
    assert_eq!(all.len(), total, "a point was received twice");

    // 2. Nothing received equals a value this party can derive from its inputs, keys and
    //    own messages alone.
    let (k, l) = (&me.keys.blind, &me.keys.label);
    let kl = k.mul(l);
    let mut derivable = HashSet::new();
    for id in &me.ids {
        let h = hash_to_group(id);
        for p in [
            h,
            k.blind(&h),
            l.blind(&h),
            kl.blind(&h),
            k.blind(&k.blind(&h)),
        ] {
            derivable.insert(enc(&p));
        }
    }
    assert!(
        all.is_disjoint(&derivable),
        "a received value is derivable from own data"
    );
    // The only received values equal to values this party sent are the matched identifiers in
    // the comparison space H^(ab): exactly the intersection size of them, which is allowed.
    let mut sent = HashSet::new();
    for (step, frame) in &me.sent {
        if step == "join/hello" {
            continue;
        }
        for c in frame.chunks_exact(32) {
            let mut e = [0u8; 32];
            e.copy_from_slice(c);
            sent.insert(e);
        }
    }
    assert_eq!(all.intersection(&sent).count(), me.out.intersection_size());

    // 3. Received orders carry no information about row orders.
    // Blinded identifiers of the peer: H(v)^k' in the peer's secret shuffle.
    let blinded = points(&me.received, "join/1-blinded");
    assert_eq!(blinded.len(), peer.ids.len());
    let rows = rows_of(&blinded, &peer.ids, &peer.keys.blind);
    if rows.len() > 100 {
        assert!(rank_correlation(&rows).abs() < 0.25, "peer's order leaks");
    }
    // Own labelled values H(u)^(k k' l') in this party's own shuffle: the party cannot tell
    // which row each is (DDH), and even their order is independent of the row order.
    let labelled = points(&me.received, "join/2-labelled");
    assert_eq!(labelled.len(), me.ids.len());
    let kk = k.mul(&peer.keys.blind).mul(&peer.keys.label);
    let rows = rows_of(&labelled, &me.ids, &kk);
    let mut sorted = rows.clone();
    sorted.sort_unstable();
    assert!(sorted.iter().enumerate().all(|(i, &r)| i == r));
    if rows.len() > 100 {
        assert!(
            rank_correlation(&rows).abs() < 0.25,
            "own labelled order leaks"
        );
    }
    // Unlabelled sets arrive in increasing (canonical) order: a function of the set only.
    for step in ["join/2-sets", "join/3-only"] {
        let s = points(&me.received, step);
        assert!(s.windows(2).all(|w| w[0] < w[1]), "{step} not canonical");
    }
    assert_eq!(
        points(&me.received, "join/3-only").len(),
        me.out.peer_size - me.out.intersection_size()
    );
}

fn frame_shape(v: &View) -> Vec<(String, usize)> {
    v.received
        .iter()
        .map(|(s, f)| (s.clone(), f.len()))
        .collect()
}

#[test]
fn received_messages_are_indistinguishable_for_equal_sizes() {
    let mut rng = ChaCha20Rng::seed_from_u64(2026);
    // Run 1: random sets, matches spread out. Run 2: other sets, matches in the first rows of
    // both tables, in the same order (the worst case for an order leak).
    let (a1, b1) = make_sets(&mut rng, 600, 450, 200, true);
    let (a2, b2) = make_sets(&mut rng, 600, 450, 200, false);
    let (fa1, sb1) = run(a1, b1);
    let (fa2, sb2) = run(a2, b2);
    for (me, peer) in [(&fa1, &sb1), (&sb1, &fa1), (&fa2, &sb2), (&sb2, &fa2)] {
        check_view(me, peer);
    }
    // Identical message shapes (steps, frame count and sizes) across the two inputs.
    assert_eq!(frame_shape(&fa1), frame_shape(&fa2));
    assert_eq!(frame_shape(&sb1), frame_shape(&sb2));
    // Outputs carry only the sizes.
    for v in [&fa1, &fa2] {
        assert_eq!(
            (v.out.own_size, v.out.peer_size, v.out.union_size),
            (600, 450, 850)
        );
    }
    // In run 2 the matched rows are rows 0..200 of both tables; their positions must not be the
    // first positions of the union order (which is a pseudo-random order).
    let first_positions: Vec<usize> = fa2.out.positions[..200].to_vec();
    assert!(first_positions.iter().any(|&p| p >= 200));
}
