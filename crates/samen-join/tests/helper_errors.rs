//! The helper-assisted join against scripted misbehaving parties: malformed, repeated,
//! out-of-range, short, extra and trailing-byte messages from the peer, the helper or a data
//! party are errors naming that party, never a panic.
// Test and benchmark code: a failed unwrap, expect or index is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::thread;
use std::time::Duration;

use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use samen_core::channel::{local_pair, Channel, ChannelError, LocalChannel};
use samen_core::codec::{self, CodecError};
use samen_core::Role;
use samen_join::helper::wire::{self, Hello, Key, PeerHello, Tag};
use samen_join::{
    helper_join, serve_helper_join, JoinError, JoinOutput, JoinSizes, MAX_PARTY_SIZE,
};

/// The party an error blames.
fn blamed(e: &JoinError) -> &str {
    match e {
        JoinError::Handshake { peer, .. }
        | JoinError::PeerTooLarge { peer, .. }
        | JoinError::Malformed { peer, .. }
        | JoinError::RepeatedTag { peer, .. }
        | JoinError::SizeNotEchoed { peer, .. }
        | JoinError::UnionOutOfRange { peer, .. }
        | JoinError::PositionOutOfRange { peer, .. }
        | JoinError::RepeatedPosition { peer, .. } => peer,
        JoinError::Channel(
            ChannelError::FrameTooLarge { peer, .. }
            | ChannelError::Protocol { peer, .. }
            | ChannelError::Closed { peer }
            | ChannelError::PeerAborted { peer, .. },
        ) => peer,
        other => panic!("error without a party: {other:?}"),
    }
}

const IDS: [&[u8]; 3] = [b"111222333", b"123456782", b"999999990"];

fn sizes(first: u64, second: u64, union: u64) -> Vec<u8> {
    codec::encode_to_vec(&JoinSizes {
        first,
        second,
        union,
    })
}

/// An honest First (3 rows) against a fake Second that only answers the key, and a fake helper
/// that reads First's hello and tags and then sends `script`.
fn first_against_fake_helper(script: Vec<Vec<u8>>) -> Result<JoinOutput, JoinError> {
    let (mut a_b, mut fake_b) = local_pair("first", "second");
    let (mut a_h, mut fake_h) = local_pair("first", "helper");
    fake_b.send(&peer_hello()).unwrap();
    let helper = thread::spawn(move || {
        let hello = fake_h.recv(100).unwrap();
        assert_eq!(
            codec::decode_exact::<Hello>(&hello).unwrap(),
            Hello {
                role: Role::First,
                size: 3
            }
        );
        let tags = fake_h.recv(100).unwrap();
        assert_eq!(tags.len(), wire::tags_len(3));
        for m in script {
            fake_h.send(&m).unwrap();
        }
        // Dropping the channel ends a First still waiting for more.
    });
    let r = helper_join(Role::First, &IDS, &mut a_b, &mut a_h);
    helper.join().unwrap();
    drop(fake_b);
    r
}

#[test]
fn an_honest_script_is_accepted() {
    let out = first_against_fake_helper(vec![sizes(3, 2, 4), wire::encode_positions(&[3, 0, 1])])
        .unwrap();
    assert_eq!((out.own_size, out.peer_size, out.union_size), (3, 2, 4));
    let mut p = out.positions.clone();
    p.sort_unstable();
    assert_eq!(p, vec![0, 1, 3]);
}

#[test]
fn bad_sizes_and_positions_from_the_helper_are_errors_naming_it() {
    let mut trailing = wire::encode_positions(&[0, 1, 2]);
    trailing.push(0);
    let mut sizes_trailing = sizes(3, 2, 4);
    sizes_trailing.push(0);
    let mut sizes_v2 = sizes(3, 2, 4);
    sizes_v2[0] = 2;
    let big = MAX_PARTY_SIZE + 1;
    let cases: Vec<(&str, Vec<Vec<u8>>)> = vec![
        (
            "out of range",
            vec![sizes(3, 2, 4), wire::encode_positions(&[0, 1, 4])],
        ),
        (
            "repeated",
            vec![sizes(3, 2, 4), wire::encode_positions(&[2, 0, 2])],
        ),
        ("own size echoed wrongly", vec![sizes(4, 2, 5)]),
        ("union too large", vec![sizes(3, 2, 6)]),
        ("union too small", vec![sizes(3, 2, 2)]),
        ("peer too large", vec![sizes(3, big, big)]),
        (
            "short positions",
            vec![sizes(3, 2, 4), wire::encode_positions(&[0, 1])],
        ),
        ("trailing byte in positions", vec![sizes(3, 2, 4), trailing]),
        ("trailing byte in sizes", vec![sizes_trailing]),
        ("short sizes", vec![sizes(3, 2, 4)[..25].to_vec()]),
        ("sizes version", vec![sizes_v2]),
        (
            "positions instead of sizes",
            vec![wire::encode_positions(&[0, 1, 2])],
        ),
        ("sizes, then nothing", vec![sizes(3, 2, 4)]),
        ("nothing", vec![]),
    ];
    for (what, script) in cases {
        match first_against_fake_helper(script) {
            Err(e) => {
                assert_eq!(blamed(&e), "helper", "{what}: {e}");
                let expected = match what {
                    "out of range" => {
                        matches!(e, JoinError::PositionOutOfRange { position: 4, .. })
                    }
                    "repeated" => matches!(
                        e,
                        JoinError::RepeatedPosition {
                            position: 2,
                            index: 2,
                            ..
                        }
                    ),
                    "own size echoed wrongly" => matches!(
                        e,
                        JoinError::SizeNotEchoed {
                            announced: 3,
                            echoed: 4,
                            ..
                        }
                    ),
                    "union too large" | "union too small" => {
                        matches!(e, JoinError::UnionOutOfRange { .. })
                    }
                    "peer too large" => matches!(e, JoinError::PeerTooLarge { .. }),
                    "short positions" | "short sizes" => matches!(
                        e,
                        JoinError::Malformed {
                            source: CodecError::Truncated { .. },
                            ..
                        }
                    ),
                    "sizes version" => matches!(
                        e,
                        JoinError::Malformed {
                            source: CodecError::Version { got: 2, .. },
                            ..
                        }
                    ),
                    "positions instead of sizes" => matches!(
                        e,
                        JoinError::Malformed {
                            source: CodecError::BadValue {
                                field: "kind",
                                value: 6,
                                ..
                            },
                            ..
                        }
                    ),
                    _ => matches!(e, JoinError::Channel(_)),
                };
                assert!(expected, "{what}: unexpected error {e:?}");
            }
            Ok(o) => panic!("{what}: accepted {o:?}"),
        }
    }
}

#[test]
fn garbage_from_the_helper_never_panics() {
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    for _ in 0..50 {
        let mut script = Vec::new();
        // Sometimes a plausible sizes message, then random frames of random lengths.
        if rng.random_bool(0.5) {
            script.push(sizes(3, rng.random_range(0..4), rng.random_range(0..8)));
        }
        for _ in 0..rng.random_range(0..3) {
            let len = rng.random_range(0..40);
            script.push((0..len).map(|_| rng.random()).collect());
        }
        if let Err(e) = first_against_fake_helper(script) {
            assert_eq!(blamed(&e), "helper");
        }
    }
}

/// An honest data party of `role` against a fake peer that sends `msg` for the key step.
fn against_fake_peer(role: Role, msg: &[u8]) -> JoinError {
    let name = role.other().unwrap().as_str();
    let (mut me_peer, mut fake) = local_pair("me", name);
    let (mut me_h, _h) = local_pair("me", "helper");
    fake.send(msg).unwrap();
    let e = helper_join(role, &IDS, &mut me_peer, &mut me_h).unwrap_err();
    assert_eq!(blamed(&e), name, "{e}");
    // Nothing was sent to the helper, and the peer is told to abort.
    assert_eq!(me_h.stats().bytes_sent, 0);
    let _ = fake.recv(100); // the key or the peer-hello
    assert!(matches!(
        fake.recv(100),
        Err(ChannelError::PeerAborted { .. })
    ));
    e
}

#[test]
fn bad_key_messages_from_the_peer_are_errors_naming_it() {
    let key = wire::encode_key(&Key(zeroize::Zeroizing::new([7; 32]))).to_vec();
    let mut trailing = key.clone();
    trailing.push(0);
    let mut v2 = key.clone();
    v2[0] = 2;
    // To Second, from a fake First.
    for (msg, handshake) in [
        (key[..33].to_vec(), false),
        (trailing, false),
        (v2, false),
        (vec![], false),
        (peer_hello(), true),
    ] {
        let e = against_fake_peer(Role::Second, &msg);
        assert_eq!(matches!(e, JoinError::Handshake { .. }), handshake, "{e:?}");
    }
    // To First, from a fake Second.
    for (msg, handshake) in [
        (vec![1, 2, 1], true),
        (key, true),
        (vec![2, 2, 2], false),
        (vec![1, 2, 3], false),
        (vec![1, 2], false),
        (vec![1, 2, 2, 0], false),
    ] {
        let e = against_fake_peer(Role::First, &msg);
        assert_eq!(matches!(e, JoinError::Handshake { .. }), handshake, "{e:?}");
    }
}

#[test]
fn two_parties_with_the_same_role_both_fail() {
    for role in [Role::First, Role::Second] {
        let (mut x, mut y) = local_pair("x", "y");
        let (mut xh, _hx) = local_pair("x", "helper");
        let (mut yh, _hy) = local_pair("y", "helper");
        let t = thread::spawn(move || helper_join(role, &IDS, &mut y, &mut yh));
        let rx = helper_join(role, &IDS, &mut x, &mut xh);
        let ry = t.join().unwrap();
        for r in [rx, ry] {
            assert!(matches!(r, Err(JoinError::Handshake { .. })), "{r:?}");
        }
    }
}

/// The helper against two fake data parties whose frames are `to_first` and `to_second`
/// (sent before the helper starts); channels stay open until it returns.
fn helper_against(
    from_first: Vec<Vec<u8>>,
    from_second: Vec<Vec<u8>>,
) -> (Result<JoinSizes, JoinError>, LocalChannel, LocalChannel) {
    let (mut fa, mut ha) = local_pair("first", "helper");
    let (mut fb, mut hb) = local_pair("second", "helper");
    // Safety net only: every script here is long enough to reach its error.
    ha.set_timeout(Duration::from_secs(10));
    hb.set_timeout(Duration::from_secs(10));
    let (mut ha, mut hb) = (rename(ha, "first"), rename(hb, "second"));
    for m in from_first {
        fa.send(&m).unwrap();
    }
    for m in from_second {
        fb.send(&m).unwrap();
    }
    let r = serve_helper_join(&mut ha, &mut hb);
    (r, fa, fb)
}

/// `local_pair("first", "helper")` gives the helper's end the peer name "first" already.
fn rename(c: LocalChannel, name: &str) -> LocalChannel {
    assert_eq!(c.peer(), name);
    c
}

fn hello(role: Role, size: u64) -> Vec<u8> {
    codec::encode_to_vec(&Hello { role, size })
}

fn peer_hello() -> Vec<u8> {
    codec::encode_to_vec(&PeerHello { role: Role::Second })
}

#[test]
fn the_helper_role_has_no_role_byte() {
    // Written as 0, which every decoder refuses: no message can claim the helper's role.
    let m = codec::encode_to_vec(&PeerHello { role: Role::Helper });
    assert!(matches!(
        codec::decode_exact::<PeerHello>(&m),
        Err(CodecError::BadValue { value: 0, .. })
    ));
    let m = hello(Role::Helper, 3);
    assert!(matches!(
        codec::decode_exact::<Hello>(&m),
        Err(CodecError::BadValue { value: 0, .. })
    ));
}

fn tags(seed: u8, n: usize) -> Vec<Tag> {
    (0..n)
        .map(|i| {
            let mut t = [seed; 16];
            t[..8].copy_from_slice(&(i as u64).to_le_bytes());
            t
        })
        .collect()
}

#[test]
fn the_helper_serves_a_full_overlap() {
    let t = tags(1, 5);
    let (r, mut fa, mut fb) = helper_against(
        vec![hello(Role::First, 5), wire::encode_tags(&t)],
        vec![
            hello(Role::Second, 5),
            wire::encode_tags(&t.iter().rev().copied().collect::<Vec<_>>()),
        ],
    );
    assert_eq!(
        r.unwrap(),
        JoinSizes {
            first: 5,
            second: 5,
            union: 5
        }
    );
    let read = |c: &mut LocalChannel| -> Vec<u32> {
        assert_eq!(
            codec::decode_exact::<JoinSizes>(&c.recv(100).unwrap())
                .unwrap()
                .union,
            5
        );
        wire::decode_positions(&c.recv(100).unwrap(), 5)
            .unwrap()
            .collect()
    };
    let pa = read(&mut fa);
    let mut pb = read(&mut fb);
    pb.reverse();
    // Equal tags share a position.
    assert_eq!(pa, pb);
}

/// Frames a fake party sends.
type Script = Vec<Vec<u8>>;

#[test]
fn bad_hellos_and_tags_are_errors_naming_the_sender() {
    let mut t = tags(2, 3);
    t[2] = t[0];
    let repeated = wire::encode_tags(&t);
    let good = wire::encode_tags(&tags(3, 3));
    let mut trailing = good.clone();
    trailing.push(0);
    let mut hello_v9 = hello(Role::First, 3);
    hello_v9[0] = 9;
    let mut hello_long = hello(Role::First, 3);
    hello_long.push(0);
    let mut wrong_kind = good.clone();
    wrong_kind[1] = 3;
    let f_ok = || vec![hello(Role::First, 3), wire::encode_tags(&tags(4, 3))];
    let s_hello = || hello(Role::Second, 3);
    let cases: Vec<(&str, Script, Script, &str)> = vec![
        (
            "role on the wrong channel",
            vec![hello(Role::Second, 3)],
            vec![s_hello()],
            "first",
        ),
        (
            "second claims First",
            f_ok(),
            vec![hello(Role::First, 3)],
            "second",
        ),
        (
            "too large",
            f_ok(),
            vec![hello(Role::Second, MAX_PARTY_SIZE + 1)],
            "second",
        ),
        (
            "short hello",
            vec![hello(Role::First, 3)[..10].to_vec()],
            vec![],
            "first",
        ),
        ("long hello", vec![hello_long], vec![], "first"),
        ("hello version", vec![hello_v9], vec![], "first"),
        (
            "repeated tag",
            vec![hello(Role::First, 3), repeated],
            vec![s_hello(), good.clone()],
            "first",
        ),
        (
            "short tags",
            f_ok(),
            vec![s_hello(), wire::encode_tags(&tags(3, 2))],
            "second",
        ),
        ("trailing byte", f_ok(), vec![s_hello(), trailing], "second"),
        ("wrong kind", f_ok(), vec![s_hello(), wrong_kind], "second"),
    ];
    for (what, from_first, from_second, culprit) in cases {
        let (r, mut fa, mut fb) = helper_against(from_first, from_second);
        let e = r.expect_err(what);
        assert_eq!(blamed(&e), culprit, "{what}: {e}");
        if what == "repeated tag" {
            assert!(
                matches!(e, JoinError::RepeatedTag { index: 2, .. }),
                "{e:?}"
            );
        }
        if what == "too large" {
            assert!(matches!(e, JoinError::PeerTooLarge { .. }), "{e:?}");
        }
        // Both data parties are told to abort; neither receives any result.
        for c in [&mut fa, &mut fb] {
            assert!(matches!(c.recv(100), Err(ChannelError::PeerAborted { .. })));
        }
    }
}

#[test]
fn a_party_that_stops_sending_is_an_error_naming_it() {
    let (mut fa, mut ha) = local_pair("first", "helper");
    let (mut fb, mut hb) = local_pair("second", "helper");
    fa.send(&hello(Role::First, 3)).unwrap();
    fa.send(&wire::encode_tags(&tags(4, 3))).unwrap();
    fb.send(&hello(Role::Second, 3)).unwrap();
    drop(fb);
    let e = serve_helper_join(&mut ha, &mut hb).unwrap_err();
    assert!(
        matches!(&e, JoinError::Channel(ChannelError::Closed { peer }) if peer == "second"),
        "{e:?}"
    );
    assert!(matches!(
        fa.recv(100),
        Err(ChannelError::PeerAborted { .. })
    ));
}

#[test]
fn garbage_to_the_helper_never_panics() {
    let mut rng = ChaCha20Rng::seed_from_u64(4);
    for _ in 0..50 {
        let junk = |rng: &mut ChaCha20Rng| -> Vec<u8> {
            let len = rng.random_range(0..60);
            (0..len).map(|_| rng.random()).collect()
        };
        let mut from_first = vec![hello(Role::First, rng.random_range(0..4))];
        from_first.push(junk(&mut rng));
        let from_second = vec![hello(Role::Second, 2), junk(&mut rng)];
        let (r, _, _) = helper_against(from_first, from_second);
        if let Err(e) = r {
            assert!(["first", "second"].contains(&blamed(&e)), "{e}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]
    /// Every decoder takes any bytes without panicking, and whatever it accepts re-encodes to
    /// exactly those bytes (fixed layouts: no two encodings of one message).
    #[test]
    fn decoders_accept_only_canonical_bytes(
        bytes in proptest::collection::vec(any::<u8>(), 0..80),
        count in 0usize..6,
        header in any::<bool>(),
    ) {
        let mut bytes = bytes;
        if header && bytes.len() >= 2 {
            // Often a valid header, so the body checks are reached.
            bytes[0] = wire::WIRE_VERSION;
            bytes[1] = (bytes[1] % 6) + 1;
        }
        if let Ok(k) = codec::decode_exact::<Key>(&bytes) {
            prop_assert_eq!(wire::encode_key(&k).to_vec(), bytes.clone());
        }
        if let Ok(r) = codec::decode_exact::<PeerHello>(&bytes) {
            prop_assert_eq!(codec::encode_to_vec(&r), bytes.clone());
        }
        if let Ok(h) = codec::decode_exact::<Hello>(&bytes) {
            prop_assert_eq!(codec::encode_to_vec(&h), bytes.clone());
        }
        if let Ok(s) = codec::decode_exact::<JoinSizes>(&bytes) {
            prop_assert_eq!(codec::encode_to_vec(&s), bytes.clone());
        }
        if let Ok(t) = wire::decode_tags(&bytes, count) {
            let t: Vec<Tag> = t.collect();
            prop_assert_eq!(wire::encode_tags(&t), bytes.clone());
        }
        if let Ok(p) = wire::decode_positions(&bytes, count) {
            let p: Vec<u32> = p.collect();
            prop_assert_eq!(wire::encode_positions(&p), bytes.clone());
        };
    }
}
