//! Leakage checks for the helper-assisted join: what the helper receives, for two different
//! inputs with the same sizes and intersection size, passes every distinguishing check we can
//! run; the positions a data party receives form a uniformly random order; the tags are fresh
//! per run.
// Test and benchmark code: a failed unwrap, expect or index is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::collections::{HashMap, HashSet};
use std::thread;

use hmac::{Hmac, Mac};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use samen_core::channel::{local_pair, LocalChannel};
use samen_core::Role;
use samen_join::helper::wire::TAG_LEN;
use samen_join::helper::HELPER_TAG_DST;
use samen_join::{helper_join, serve_helper_join, JoinOutput, JoinSizes};
use sha2::{Digest, Sha256};

#[path = "common/recorder.rs"]
mod recorder;
use recorder::{make_sets, Recorder};

fn recorder(c: LocalChannel) -> Recorder {
    Recorder {
        inner: c,
        step: String::new(),
        received: vec![],
        sent: vec![],
    }
}

fn refs(v: &[Vec<u8>]) -> Vec<&[u8]> {
    v.iter().map(|x| x.as_slice()).collect()
}

/// Everything one run shows: the helper's received frames from each party, the key First sent
/// to Second (known to the test only), the outputs.
struct Run {
    a: Vec<Vec<u8>>,
    b: Vec<Vec<u8>>,
    from_first: Vec<(String, Vec<u8>)>,
    from_second: Vec<(String, Vec<u8>)>,
    key: [u8; 32],
    out_a: JoinOutput,
    out_b: JoinOutput,
    sizes: JoinSizes,
}

fn run(a: Vec<Vec<u8>>, b: Vec<Vec<u8>>) -> Run {
    let (a_b, mut b_a) = local_pair("first", "second");
    let (mut a_h, h_a) = local_pair("first", "helper");
    let (mut b_h, h_b) = local_pair("second", "helper");
    let helper = thread::spawn(move || {
        let (mut ra, mut rb) = (recorder(h_a), recorder(h_b));
        let sizes = serve_helper_join(&mut ra, &mut rb).unwrap();
        (sizes, ra.received, rb.received)
    });
    let b2 = b.clone();
    let second = thread::spawn(move || helper_join(Role::Second, &refs(&b2), &mut b_a, &mut b_h));
    let mut peer = recorder(a_b);
    let out_a = helper_join(Role::First, &refs(&a), &mut peer, &mut a_h).unwrap();
    let out_b = second.join().unwrap().unwrap();
    let (sizes, from_first, from_second) = helper.join().unwrap();
    // The key message: version, kind, k.
    assert_eq!(peer.sent.len(), 1);
    let key_msg = &peer.sent[0].1;
    assert_eq!(key_msg.len(), 34);
    let mut key = [0u8; 32];
    key.copy_from_slice(&key_msg[2..]);
    Run {
        a,
        b,
        from_first,
        from_second,
        key,
        out_a,
        out_b,
        sizes,
    }
}

fn tags(frames: &[(String, Vec<u8>)]) -> Vec<[u8; TAG_LEN]> {
    frames
        .iter()
        .filter(|(s, _)| s == "join/helper-tags")
        .flat_map(|(_, f)| {
            assert_eq!(&f[..2], &[1, 4]);
            f[2..].chunks_exact(TAG_LEN).map(|c| {
                let mut t = [0u8; TAG_LEN];
                t.copy_from_slice(c);
                t
            })
        })
        .collect()
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

/// The tag of `id` under `key`, recomputed from the documented definition.
fn tag_of(key: &[u8; 32], id: &[u8]) -> [u8; TAG_LEN] {
    let full = hmac(key, &[&[HELPER_TAG_DST.len() as u8], HELPER_TAG_DST, id]);
    let mut t = [0u8; TAG_LEN];
    t.copy_from_slice(&full[..TAG_LEN]);
    t
}

/// Pearson correlation of `ys` with their index.
fn index_correlation(ys: &[usize]) -> f64 {
    let n = ys.len() as f64;
    let mx = (n - 1.0) / 2.0;
    let my = ys.iter().sum::<usize>() as f64 / n;
    let (mut cov, mut vx, mut vy) = (0.0, 0.0, 0.0);
    for (i, &y) in ys.iter().enumerate() {
        let (dx, dy) = (i as f64 - mx, y as f64 - my);
        cov += dx * dy;
        vx += dx * dx;
        vy += dy * dy;
    }
    cov / (vx * vy).sqrt()
}

fn windows(frames: &[(String, Vec<u8>)], len: usize) -> HashSet<Vec<u8>> {
    frames
        .iter()
        .flat_map(|(_, f)| f.windows(len).map(<[u8]>::to_vec))
        .collect()
}

/// Every check on the helper's view of one run.
fn check_helper_view(r: &Run) {
    let ta = tags(&r.from_first);
    let tb = tags(&r.from_second);
    assert_eq!((ta.len(), tb.len()), (r.a.len(), r.b.len()));
    // Distinct within each party; exactly the intersection size in common.
    let sa: HashSet<_> = ta.iter().collect();
    let sb: HashSet<_> = tb.iter().collect();
    assert_eq!((sa.len(), sb.len()), (ta.len(), tb.len()));
    assert_eq!(sa.intersection(&sb).count(), r.out_a.intersection_size());
    // Pseudorandom-looking: bits balanced, bytes spread over all values.
    let bits: u32 = ta.iter().chain(&tb).flatten().map(|b| b.count_ones()).sum();
    let total = ((ta.len() + tb.len()) * TAG_LEN * 8) as f64;
    let ones = f64::from(bits) / total;
    assert!((ones - 0.5).abs() < 0.01, "{ones}");
    let bytes: HashSet<u8> = ta.iter().flatten().copied().collect();
    assert_eq!(bytes.len(), 256);
    // Each tag is the keyed tag of one row; the order they arrive in is unrelated to row order.
    for (ids, got) in [(&r.a, &ta), (&r.b, &tb)] {
        let index: HashMap<[u8; TAG_LEN], usize> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| (tag_of(&r.key, id), i))
            .collect();
        let rows: Vec<usize> = got.iter().map(|t| index[t]).collect();
        assert!(
            index_correlation(&rows).abs() < 0.2,
            "tag order follows row order"
        );
    }
    // Hellos carry only the role and the size.
    let hello = |frames: &[(String, Vec<u8>)]| -> Vec<u8> {
        let h: Vec<&Vec<u8>> = frames
            .iter()
            .filter(|(s, _)| s == "join/helper-hello")
            .map(|(_, f)| f)
            .collect();
        assert_eq!(h.len(), 1);
        h[0].clone()
    };
    let mut ha = vec![1, 3, 1];
    ha.extend_from_slice(&(r.a.len() as u64).to_le_bytes());
    let mut hb = vec![1, 3, 2];
    hb.extend_from_slice(&(r.b.len() as u64).to_le_bytes());
    assert_eq!((hello(&r.from_first), hello(&r.from_second)), (ha, hb));
    // No identifier, no unkeyed hash of one, and not the key occur anywhere in the bytes.
    let all: Vec<(String, Vec<u8>)> = r.from_first.iter().chain(&r.from_second).cloned().collect();
    let w9 = windows(&all, 9);
    let w16 = windows(&all, 16);
    let w32 = windows(&all, 32);
    for id in r.a.iter().chain(&r.b) {
        assert_eq!(id.len(), 9);
        assert!(!w9.contains(id), "an identifier reached the helper");
        let sha: [u8; 32] = Sha256::digest(id).into();
        let sha_dst: [u8; 32] = Sha256::digest([HELPER_TAG_DST, id].concat()).into();
        for h in [
            sha,
            sha_dst,
            hmac(&[], &[id]),
            hmac(&[], &[&[HELPER_TAG_DST.len() as u8], HELPER_TAG_DST, id]),
        ] {
            assert!(!w16.contains(&h[..16]) && !w16.contains(&h[16..]));
            assert!(!w32.contains(&h[..]));
        }
    }
    assert!(!w32.contains(&r.key[..]), "the key reached the helper");
    assert!(!w16.contains(&r.key[..16]) && !w16.contains(&r.key[16..]));
}

fn shape(frames: &[(String, Vec<u8>)]) -> Vec<(String, usize)> {
    frames.iter().map(|(s, f)| (s.clone(), f.len())).collect()
}

#[test]
fn helper_view_is_indistinguishable_for_equal_sizes() {
    let mut rng = ChaCha20Rng::seed_from_u64(2027);
    // Run 1: random sets, matches spread out. Run 2: other sets, matches in the first rows of
    // both tables, in the same order (the worst case for an order leak).
    let (a1, b1) = make_sets(&mut rng, 900, 700, 300, true);
    let (a2, b2) = make_sets(&mut rng, 900, 700, 300, false);
    let r1 = run(a1, b1);
    let r2 = run(a2, b2);
    for r in [&r1, &r2] {
        check_helper_view(r);
        assert_eq!(
            r.sizes,
            JoinSizes {
                first: 900,
                second: 700,
                union: 1300
            }
        );
    }
    // Identical message shapes (steps, frame count and sizes) across the two inputs.
    assert_eq!(shape(&r1.from_first), shape(&r2.from_first));
    assert_eq!(shape(&r1.from_second), shape(&r2.from_second));
    // The helper's view of run 2 does not single out the matched rows 0..300: the common tags
    // are spread over the stream like any others.
    let ta = tags(&r2.from_first);
    let tb: HashSet<_> = tags(&r2.from_second).into_iter().collect();
    let common_at: Vec<usize> = (0..ta.len()).filter(|&i| tb.contains(&ta[i])).collect();
    assert_eq!(common_at.len(), 300);
    assert!(
        common_at.iter().any(|&i| i >= 600),
        "matched tags come first"
    );
}

#[test]
fn positions_form_a_uniformly_random_order() {
    // A: 6 rows, B: 5 rows, rows 0..3 shared (A's row 0 is B's row 0): N = 8. Over many runs
    // the position of a matched row and of an unmatched row is uniform on 0..8 (chi-square,
    // 7 degrees of freedom, p = 10^-4 critical value 29.9).
    let id = |i: u32| format!("{:09}", 100_000_000 + i).into_bytes();
    let a: Vec<Vec<u8>> = (0..6).map(id).collect();
    let b: Vec<Vec<u8>> = [0, 1, 2, 10, 11].into_iter().map(id).collect();
    const RUNS: usize = 480;
    let mut matched = [0usize; 8];
    let mut unmatched = [0usize; 8];
    for _ in 0..RUNS {
        let r = run(a.clone(), b.clone());
        assert_eq!(r.out_a.union_size, 8);
        assert_eq!(r.out_a.positions[0], r.out_b.positions[0]);
        matched[r.out_a.positions[0]] += 1;
        unmatched[r.out_a.positions[5]] += 1;
    }
    let expected = RUNS as f64 / 8.0;
    for counts in [matched, unmatched] {
        let chi2: f64 = counts
            .iter()
            .map(|&c| (c as f64 - expected).powi(2) / expected)
            .sum();
        assert!(
            chi2 < 29.9,
            "positions not uniform: {counts:?} (chi2 {chi2:.1})"
        );
    }
    // In one larger run the positions are uncorrelated with the row index.
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    let (a, b) = make_sets(&mut rng, 2000, 1500, 700, false);
    let r = run(a, b);
    assert!(index_correlation(&r.out_a.positions).abs() < 0.15);
    assert!(index_correlation(&r.out_b.positions).abs() < 0.15);
    // Matched rows 0..700 are not placed first.
    assert!(r.out_a.positions[..700].iter().any(|&p| p >= 2000));
}

#[test]
fn tags_are_fresh_per_run() {
    let mut rng = ChaCha20Rng::seed_from_u64(11);
    let (a, b) = make_sets(&mut rng, 300, 200, 100, true);
    let r1 = run(a.clone(), b.clone());
    let r2 = run(a, b);
    assert_ne!(r1.key, r2.key);
    let t1: HashSet<_> = tags(&r1.from_first).into_iter().collect();
    let t2: HashSet<_> = tags(&r2.from_first).into_iter().collect();
    assert!(t1.is_disjoint(&t2), "a tag repeats across runs");
    // Same data, same outcome up to the random order.
    assert_eq!(r1.sizes, r2.sizes);
}
