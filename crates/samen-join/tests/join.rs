//! Both private-join methods (two-party and helper-assisted) reconstruct the plaintext full
//! outer join exactly, and fail cleanly on bad input from the peer or from the caller.
// Test and benchmark code: a failed unwrap, expect or index is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::collections::{BTreeSet, HashMap, HashSet};
use std::thread;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use samen_core::channel::{
    local_mesh, local_pair, Abort, Channel, ChannelError, ChannelStats, LocalChannel, StopReason,
};
use samen_core::Role;
use samen_join::helper::wire::ITEMS_PER_FRAME;
use samen_join::{
    helper_join, private_join, serve_helper_join, JoinError, JoinMethod, JoinOutput, JoinProgress,
    JoinSizes, CHUNK_POINTS,
};
use samen_pseudonym::normalise::{bsn_from_index, normalise, IdKind};

type Ids = Vec<Vec<u8>>;

fn refs(v: &[Vec<u8>]) -> Vec<&[u8]> {
    v.iter().map(|x| x.as_slice()).collect()
}

/// One run of a join: both data parties' outputs and progress reports, and the helper's sizes.
struct Run {
    a: JoinOutput,
    b: JoinOutput,
    progress_a: Vec<JoinProgress>,
    progress_b: Vec<JoinProgress>,
    sizes: Option<JoinSizes>,
}

/// One data party's half, recording every progress report.
fn party(
    method: JoinMethod,
    role: Role,
    ids: &[Vec<u8>],
    peer: &mut LocalChannel,
    helper: &mut LocalChannel,
) -> (JoinOutput, Vec<JoinProgress>) {
    let seen = std::sync::Mutex::new(Vec::new());
    let out = method
        .run_data_party(role, &refs(ids), peer, helper, &|p| {
            seen.lock().unwrap().push(p)
        })
        .unwrap();
    (out, seen.into_inner().unwrap())
}

/// Run First with `a` and Second with `b` by `method`: three parties (First, Second, helper)
/// in threads over local channel pairs. The two-party method leaves the helper idle.
fn run_join(method: JoinMethod, a: Vec<Vec<u8>>, b: Vec<Vec<u8>>) -> Run {
    let (mut a_b, mut b_a) = local_pair("first", "second");
    let (mut a_h, mut h_a) = local_pair("first", "helper");
    let (mut b_h, mut h_b) = local_pair("second", "helper");
    let helper = thread::spawn(move || method.run_helper(&mut h_a, &mut h_b).unwrap());
    let second = thread::spawn(move || party(method, Role::Second, &b, &mut b_a, &mut b_h));
    let (oa, pa) = party(method, Role::First, &a, &mut a_b, &mut a_h);
    let (ob, pb) = second.join().unwrap();
    let sizes = helper.join().unwrap();
    match method {
        JoinMethod::Helper => assert_eq!(
            sizes,
            Some(JoinSizes {
                first: oa.own_size as u64,
                second: ob.own_size as u64,
                union: oa.union_size as u64
            })
        ),
        JoinMethod::TwoParty => assert_eq!(sizes, None),
    }
    Run {
        a: oa,
        b: ob,
        progress_a: pa,
        progress_b: pb,
        sizes,
    }
}

fn join_pair(method: JoinMethod, a: Vec<Vec<u8>>, b: Vec<Vec<u8>>) -> (JoinOutput, JoinOutput) {
    let r = run_join(method, a, b);
    (r.a, r.b)
}

/// Check the outputs against the plaintext full outer join of `a` and `b`.
fn check_outer_join(a: &[Vec<u8>], b: &[Vec<u8>], oa: &JoinOutput, ob: &JoinOutput) {
    let sa: HashSet<&Vec<u8>> = a.iter().collect();
    let sb: HashSet<&Vec<u8>> = b.iter().collect();
    let union = sa.union(&sb).count();
    let inter = sa.intersection(&sb).count();
    for (o, own, peer) in [(oa, a, b), (ob, b, a)] {
        assert_eq!(o.own_size, own.len());
        assert_eq!(o.peer_size, peer.len());
        assert_eq!(o.union_size, union);
        assert_eq!(o.intersection_size(), inter);
        assert_eq!(o.positions.len(), own.len());
        let distinct: BTreeSet<usize> = o.positions.iter().copied().collect();
        assert_eq!(distinct.len(), own.len(), "own rows share a position");
        assert!(o.positions.iter().all(|&p| p < union));
        assert_eq!(o.presence().iter().sum::<u64>(), own.len() as u64);
    }
    // Position -> id for each side; matched ids share a position, unmatched ones are alone.
    let pos_a: HashMap<usize, &Vec<u8>> = oa.positions.iter().copied().zip(a).collect();
    let pos_b: HashMap<usize, &Vec<u8>> = ob.positions.iter().copied().zip(b).collect();
    for p in 0..union {
        match (pos_a.get(&p), pos_b.get(&p)) {
            (Some(x), Some(y)) => assert_eq!(x, y, "different ids at one position"),
            (Some(x), None) => assert!(!sb.contains(x), "matched id of A alone at a position"),
            (None, Some(y)) => assert!(!sa.contains(y), "matched id of B alone at a position"),
            (None, None) => panic!("position {p} holds no row"),
        }
    }
}

/// Two random sets of distinct 9-digit BSNs with the given sizes and overlap.
fn random_sets(seed: u64, na: usize, nb: usize, common: usize) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let mut seen = HashSet::new();
    let mut fresh = |rng: &mut ChaCha20Rng| loop {
        let id = bsn_from_index(rng.random_range(0..50_000_000))
            .unwrap()
            .into_bytes();
        if seen.insert(id.clone()) {
            return id;
        }
    };
    let shared: Vec<Vec<u8>> = (0..common).map(|_| fresh(&mut rng)).collect();
    let mut a: Vec<Vec<u8>> = shared.clone();
    a.extend((common..na).map(|_| fresh(&mut rng)));
    let mut b: Vec<Vec<u8>> = shared;
    b.extend((common..nb).map(|_| fresh(&mut rng)));
    a.shuffle(&mut rng);
    b.shuffle(&mut rng);
    (a, b)
}

#[test]
fn outer_join_with_0_1_50_100_percent_overlap() {
    for method in JoinMethod::ALL {
        for (seed, common) in [(1, 0), (2, 10), (3, 500), (4, 1000)] {
            let (a, b) = random_sets(seed, 1000, 1000, common);
            let (oa, ob) = join_pair(method, a.clone(), b.clone());
            check_outer_join(&a, &b, &oa, &ob);
            assert_eq!(oa.intersection_size(), common, "{method}");
        }
    }
}

/// Reports come after every frame, `done` never falls, `total` never grows, and the last report
/// is all of `total`: `2|own| + 2|peer| + |A_only| + |B_only|` scalar multiplications for the
/// two-party join, `2|own|` tags and positions for the helper join.
fn check_progress(method: JoinMethod, out: &JoinOutput, seen: &[JoinProgress]) {
    let only = (out.union_size - out.peer_size) + (out.union_size - out.own_size);
    let (mults, frame) = match method {
        JoinMethod::TwoParty => (
            (2 * out.own_size + 2 * out.peer_size + only) as u64,
            CHUNK_POINTS,
        ),
        JoinMethod::Helper => ((2 * out.own_size) as u64, ITEMS_PER_FRAME),
    };
    assert_eq!(
        seen.last(),
        Some(&JoinProgress {
            done: mults,
            total: mults
        })
    );
    assert!(seen
        .windows(2)
        .all(|w| w[0].done <= w[1].done && w[0].total >= w[1].total));
    assert!(seen.iter().all(|p| p.done <= p.total));
    assert!(
        seen.len() >= out.own_size.div_ceil(frame) + 2,
        "{}",
        seen.len()
    );
}

#[test]
fn outer_join_unequal_sizes_over_several_frames() {
    // More than one frame in the larger party's streams; sizes not multiples of the frame.
    for (method, frame) in [
        (JoinMethod::TwoParty, CHUNK_POINTS),
        (JoinMethod::Helper, ITEMS_PER_FRAME),
    ] {
        let (a, b) = random_sets(5, frame + 17, 3000, 1000);
        let r = run_join(method, a.clone(), b.clone());
        check_outer_join(&a, &b, &r.a, &r.b);
        check_progress(method, &r.a, &r.progress_a);
        check_progress(method, &r.b, &r.progress_b);
    }
}

#[test]
fn helper_join_of_200k_by_100k_rows_over_several_frames() {
    let (a, b) = random_sets(10, 200_000, 100_000, 30_000);
    let r = run_join(JoinMethod::Helper, a.clone(), b.clone());
    check_outer_join(&a, &b, &r.a, &r.b);
    assert_eq!(
        r.sizes,
        Some(JoinSizes {
            first: 200_000,
            second: 100_000,
            union: 270_000
        })
    );
    check_progress(JoinMethod::Helper, &r.a, &r.progress_a);
    check_progress(JoinMethod::Helper, &r.b, &r.progress_b);
}

#[test]
fn empty_and_one_row_tables() {
    let one = |s: &str| vec![s.as_bytes().to_vec()];
    let cases: Vec<(Ids, Ids)> = vec![
        (vec![], vec![]),
        (vec![], random_sets(6, 7, 0, 0).0),
        (random_sets(7, 7, 0, 0).0, vec![]),
        (one("123456782"), one("123456782")),
        (one("123456782"), one("111222333")),
        (one("123456782"), random_sets(8, 0, 50, 0).1),
    ];
    for method in JoinMethod::ALL {
        for (a, b) in &cases {
            let (oa, ob) = join_pair(method, a.clone(), b.clone());
            check_outer_join(a, b, &oa, &ob);
        }
    }
}

#[test]
fn eight_digit_bsns_match_after_normalisation() {
    // A spreadsheet dropped the leading zero on A's side.
    let raw_a = ["12345672", " 111222333 ", "123456782"];
    let raw_b = ["012345672", "111222333", "999999990"];
    let norm = |raw: &[&str]| -> Vec<Vec<u8>> {
        raw.iter()
            .map(|r| normalise(IdKind::Bsn, r).unwrap().into_bytes())
            .collect()
    };
    let (a, b) = (norm(&raw_a), norm(&raw_b));
    for method in JoinMethod::ALL {
        let (oa, ob) = join_pair(method, a.clone(), b.clone());
        check_outer_join(&a, &b, &oa, &ob);
        assert_eq!(oa.intersection_size(), 2);
        assert_eq!(oa.positions[0], ob.positions[0]);
        assert_eq!(oa.positions[1], ob.positions[1]);
        // Without normalisation the 8-digit id would not match.
        let raw: Vec<Vec<u8>> = raw_a.iter().map(|r| r.as_bytes().to_vec()).collect();
        let (oa, _) = join_pair(method, raw, b.clone());
        assert_eq!(oa.intersection_size(), 0);
    }
}

#[test]
fn duplicate_ids_are_refused_before_sending() {
    for method in JoinMethod::ALL {
        let (mut ca, mut cb) = local_pair("first", "second");
        let (mut ch, mut hc) = local_pair("first", "helper");
        let ids: Vec<&[u8]> = vec![b"1", b"2", b"1"];
        match method.run_data_party(Role::First, &ids, &mut ca, &mut ch, &|_| {}) {
            Err(JoinError::DuplicateId { row, earlier_row }) => {
                assert_eq!((row, earlier_row), (2, 0))
            }
            other => panic!("expected DuplicateId, got {other:?}"),
        }
        nothing_sent_and_the_others_told(method, [&ca, &ch], &mut cb, &mut hc);
    }
}

/// The refusing party sent no data, and its peer (and the helper, if the method has one) was
/// told to abort.
fn nothing_sent_and_the_others_told(
    method: JoinMethod,
    own: [&LocalChannel; 2],
    peer: &mut LocalChannel,
    helper: &mut LocalChannel,
) {
    for c in own {
        assert_eq!(c.stats().bytes_sent, 0);
    }
    assert!(matches!(
        peer.recv(100),
        Err(ChannelError::PeerAborted { .. })
    ));
    if method == JoinMethod::Helper {
        assert!(matches!(
            helper.recv(100),
            Err(ChannelError::PeerAborted { .. })
        ));
    }
}

#[test]
fn the_helper_role_is_refused_before_sending() {
    for method in JoinMethod::ALL {
        let (mut ca, mut cb) = local_pair("trustee", "second");
        let (mut ch, mut hc) = local_pair("trustee", "helper");
        let ids: Vec<&[u8]> = vec![b"1", b"2"];
        match method.run_data_party(Role::Helper, &ids, &mut ca, &mut ch, &|_| {}) {
            Err(e @ JoinError::NotADataRole(Role::Helper)) => {
                assert!(e.to_string().contains("'helper'"), "{e}")
            }
            other => panic!("expected NotADataRole, got {other:?}"),
        }
        nothing_sent_and_the_others_told(method, [&ca, &ch], &mut cb, &mut hc);
    }
}

/// A channel that replaces the payload of the `target`-th sent frame using `f`.
struct Tamper<F: FnMut(Vec<u8>) -> Vec<u8> + Send> {
    inner: LocalChannel,
    sent: usize,
    target: usize,
    f: F,
}

impl<F: FnMut(Vec<u8>) -> Vec<u8> + Send> Channel for Tamper<F> {
    fn peer(&self) -> &str {
        self.inner.peer()
    }
    fn send(&mut self, payload: &[u8]) -> Result<(), ChannelError> {
        self.send_owned(payload.to_vec())
    }
    fn send_owned(&mut self, payload: Vec<u8>) -> Result<(), ChannelError> {
        let p = if self.sent == self.target {
            (self.f)(payload)
        } else {
            payload
        };
        self.sent += 1;
        self.inner.send_owned(p)
    }
    fn recv(&mut self, max_len: usize) -> Result<Vec<u8>, ChannelError> {
        self.inner.recv(max_len)
    }
    fn stats(&self) -> ChannelStats {
        self.inner.stats()
    }
    fn abort(&mut self, message: &samen_core::channel::Abort) {
        self.inner.abort(message)
    }
}

/// Run an honest First against a Second whose `target`-th frame is rewritten by `f`; return
/// First's result.
fn against_tampered(
    target: usize,
    f: impl FnMut(Vec<u8>) -> Vec<u8> + Send + 'static,
) -> Result<JoinOutput, JoinError> {
    let (a, b) = random_sets(9, 300, 200, 100);
    let (mut ca, cb) = local_pair("first", "second");
    let t = thread::spawn(move || {
        let mut cb = Tamper {
            inner: cb,
            sent: 0,
            target,
            f,
        };
        let _ = private_join(Role::Second, &refs(&b), &mut cb);
    });
    let r = private_join(Role::First, &refs(&a), &mut ca);
    drop(ca);
    t.join().unwrap();
    r
}

#[test]
fn malformed_points_from_the_peer_are_errors() {
    // Second's frames: 0 hello, 1 blinded ids, 2 labelled values, 3 set, 4 own-only points.
    let garbage = |p: Vec<u8>| vec![0xffu8; p.len()];
    let flip_sign = |mut p: Vec<u8>| {
        p[32 * 7] ^= 1; // an odd s is not a canonical encoding
        p
    };
    for (target, step) in [
        (1, "join/1-blinded"),
        (2, "join/2-labelled"),
        (4, "join/3-only"),
    ] {
        for f in [garbage, flip_sign] {
            match against_tampered(target, f) {
                Err(JoinError::InvalidPoint { peer, step: s, .. }) => {
                    assert_eq!(peer, "second");
                    assert_eq!(s, step);
                }
                Err(JoinError::Inconsistent { peer, .. }) => assert_eq!(peer, "second"),
                other => panic!("frame {target}: expected an error, got {other:?}"),
            }
        }
    }
    // An unsorted or repeated set, or a garbage set point, is detected.
    for f in [garbage, flip_sign] {
        let r = against_tampered(3, f);
        assert!(
            matches!(
                r,
                Err(JoinError::Inconsistent { .. } | JoinError::InvalidPoint { .. })
            ),
            "{r:?}"
        );
    }
    // Truncated frames.
    let r = against_tampered(1, |mut p: Vec<u8>| {
        p.truncate(p.len() - 5);
        p
    });
    assert!(
        matches!(r, Err(JoinError::Channel(ChannelError::Protocol { .. }))),
        "{r:?}"
    );
}

#[test]
fn bad_opening_messages_are_errors() {
    let cases: Vec<(Vec<u8>, &str)> = vec![
        ([9u8, 2, 5, 0, 0, 0, 0, 0, 0, 0].to_vec(), "version"),
        ([1u8, 1, 5, 0, 0, 0, 0, 0, 0, 0].to_vec(), "role"),
        (
            [1u8, 2, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0].to_vec(),
            "size",
        ),
        ([1u8, 2, 5].to_vec(), "length"),
    ];
    for (hello, what) in cases {
        let (mut ca, mut fake) = local_pair("first", "fake");
        fake.send(&hello).unwrap();
        let ids: Vec<&[u8]> = vec![b"123456782"];
        let r = private_join(Role::First, &ids, &mut ca);
        match (what, r) {
            ("size", Err(JoinError::PeerTooLarge { size, .. })) => assert_eq!(size, 0xffff_ffff),
            ("size", other) => panic!("{other:?}"),
            (_, Err(JoinError::Handshake { peer, .. })) => assert_eq!(peer, "fake"),
            (w, other) => panic!("{w}: {other:?}"),
        }
    }
}

#[test]
fn garbage_peer_never_panics() {
    // A fake peer that sends a plausible opening message and then random bytes of the right
    // sizes (random 32-byte strings are mostly invalid encodings).
    let mut rng = ChaCha20Rng::seed_from_u64(77);
    for round in 0..4 {
        let (mut ca, mut fake) = local_pair("first", "fake");
        let n = 40usize;
        let mut hello = vec![1u8, 2];
        hello.extend_from_slice(&(n as u64).to_le_bytes());
        fake.send(&hello).unwrap();
        for _ in 0..=round {
            let junk: Vec<u8> = (0..32 * n).map(|_| rng.random()).collect();
            fake.send(&junk).unwrap();
        }
        let ids: Vec<Vec<u8>> = (0..n).map(|i| format!("{i}").into_bytes()).collect();
        let r = private_join(Role::First, &refs(&ids), &mut ca);
        drop(fake);
        assert!(r.is_err(), "round {round}");
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
    /// Arbitrary small sets of arbitrary byte strings (not only BSNs) join exactly.
    #[test]
    fn small_random_sets_join_exactly(
        a in proptest::collection::hash_set(proptest::collection::vec(proptest::prelude::any::<u8>(), 0..12), 0..24),
        b_extra in proptest::collection::hash_set(proptest::collection::vec(proptest::prelude::any::<u8>(), 0..12), 0..24),
        take in 0usize..24,
    ) {
        let a: Vec<Vec<u8>> = a.into_iter().collect();
        let mut b: Vec<Vec<u8>> = a.iter().take(take).cloned().collect();
        b.extend(b_extra.into_iter().filter(|x| !a.contains(x)));
        for method in JoinMethod::ALL {
            let (oa, ob) = join_pair(method, a.clone(), b.clone());
            check_outer_join(&a, &b, &oa, &ob);
        }
    }
}

/// When a third party's stop reaches a joining party first, the party it relays to learns who
/// stopped (the origin), not that its peer "violated the protocol" or stopped of its own.
#[test]
fn a_third_partys_stop_is_relayed_with_its_origin() {
    let ids: Vec<&[u8]> = vec![b"x", b"y", b"z"];

    // Two-party join: the helper h stops and tells only a; b learns it from a.
    let mut mesh = local_mesh(&["a", "b", "h"]);
    let mut h = mesh.pop().unwrap();
    let mut b = mesh.pop().unwrap();
    let mut a = mesh.pop().unwrap();
    let stop = StopReason::new("h", "its input failed validation");
    h.get_mut("a").unwrap().abort(&Abort::from(&stop));
    let (ra, rb) = thread::scope(|s| {
        let ta = s.spawn(|| private_join(Role::First, &ids, a.get_mut("b").unwrap()));
        let tb = s.spawn(|| private_join(Role::Second, &ids, b.get_mut("a").unwrap()));
        (ta.join().unwrap(), tb.join().unwrap())
    });
    for r in [ra, rb] {
        match r {
            Err(JoinError::Channel(c)) => assert_eq!(c.stopped_party().unwrap(), stop, "{c}"),
            other => panic!("{other:?}"),
        }
    }

    // Helper join: b stops and tells only a; the helper learns it from a.
    let mut mesh = local_mesh(&["a", "b", "h"]);
    let mut h = mesh.pop().unwrap();
    let mut b = mesh.pop().unwrap();
    let mut a = mesh.pop().unwrap();
    let stop = StopReason::new("b", "its input failed validation");
    b.get_mut("a").unwrap().abort(&Abort::from(&stop));
    let (mut ab, mut ah) = (a.remove("b").unwrap(), a.remove("h").unwrap());
    let (mut ha, mut hb) = (h.remove("a").unwrap(), h.remove("b").unwrap());
    let (ra, rh) = thread::scope(|s| {
        let ta = s.spawn(|| helper_join(Role::First, &ids, &mut ab, &mut ah));
        let th = s.spawn(|| serve_helper_join(&mut ha, &mut hb));
        (
            ta.join().unwrap().map(|_| ()),
            th.join().unwrap().map(|_| ()),
        )
    });
    for r in [ra, rh] {
        match r {
            Err(JoinError::Channel(c)) => assert_eq!(c.stopped_party().unwrap(), stop, "{c}"),
            other => panic!("{other:?}"),
        }
    }
}
