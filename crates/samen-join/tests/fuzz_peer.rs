//! A malicious or broken peer: random frames and mutations of a valid peer's frames, fed to
//! the first party of a private join by a scripted peer. Every outcome must be an error or a
//! result, never a panic; damaged opening messages and wrongly sized frames must be errors.
// Test and benchmark code: a failed unwrap, expect or index is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::collections::VecDeque;
use std::sync::OnceLock;
use std::thread;

use proptest::prelude::*;
use samen_core::channel::{local_pair, Channel, ChannelError, ChannelStats, TrafficCounter};
use samen_core::fuzzing::{bytes, mutation};
use samen_core::Role;
use samen_join::{private_join_with_keys, JoinError, JoinKeys, JoinOutput};

const FIRST_IDS: [&[u8]; 3] = [b"111222333", b"123456782", b"012345672"];
const SECOND_IDS: [&[u8]; 4] = [b"123456782", b"999999990", b"111222333", b"888888880"];
const SEED_FIRST: [u8; 32] = [1; 32];
const SEED_SECOND: [u8; 32] = [2; 32];

/// The second party as a script: its frames are replayed in order, what the first party sends
/// is counted and discarded, and the script running out is a closed connection.
struct ScriptedPeer {
    frames: VecDeque<Vec<u8>>,
    traffic: TrafficCounter,
}

impl Channel for ScriptedPeer {
    fn peer(&self) -> &str {
        "second"
    }
    fn send(&mut self, payload: &[u8]) -> Result<(), ChannelError> {
        self.traffic.on_send(payload.len());
        Ok(())
    }
    fn recv(&mut self, max_len: usize) -> Result<Vec<u8>, ChannelError> {
        let frame = self.frames.pop_front().ok_or(ChannelError::Closed {
            peer: "second".into(),
        })?;
        self.traffic.accept("second", frame, max_len)
    }
    fn stats(&self) -> ChannelStats {
        self.traffic.stats()
    }
}

/// Passes frames through and records what this side sends.
struct Recorder<C> {
    inner: C,
    sent: Vec<Vec<u8>>,
}

impl<C: Channel> Channel for Recorder<C> {
    fn peer(&self) -> &str {
        self.inner.peer()
    }
    fn send(&mut self, payload: &[u8]) -> Result<(), ChannelError> {
        self.sent.push(payload.to_vec());
        self.inner.send(payload)
    }
    fn recv(&mut self, max_len: usize) -> Result<Vec<u8>, ChannelError> {
        self.inner.recv(max_len)
    }
    fn flush(&mut self) -> Result<(), ChannelError> {
        self.inner.flush()
    }
    fn stats(&self) -> ChannelStats {
        self.inner.stats()
    }
}

/// The first party's keys, and the frames an honest second party sends to it (opening
/// message, then one frame per round), with the first party's output of that honest run.
struct Honest {
    keys_first: JoinKeys,
    frames: Vec<Vec<u8>>,
    output: JoinOutput,
}

fn honest() -> &'static Honest {
    static HONEST: OnceLock<Honest> = OnceLock::new();
    HONEST.get_or_init(|| {
        let keys_first = JoinKeys::random().unwrap();
        let keys_second = JoinKeys::random().unwrap();
        let (mut ca, cb) = local_pair("second", "first");
        let t = thread::spawn(move || {
            let mut rec = Recorder {
                inner: cb,
                sent: Vec::new(),
            };
            private_join_with_keys(
                Role::Second,
                &SECOND_IDS,
                &mut rec,
                &keys_second,
                &SEED_SECOND,
            )
            .unwrap();
            rec.sent
        });
        let output =
            private_join_with_keys(Role::First, &FIRST_IDS, &mut ca, &keys_first, &SEED_FIRST)
                .unwrap();
        let frames = t.join().unwrap();
        Honest {
            keys_first,
            frames,
            output,
        }
    })
}

/// Run the first party against a scripted second party.
fn first_against(frames: Vec<Vec<u8>>) -> Result<JoinOutput, JoinError> {
    let h = honest();
    let mut peer = ScriptedPeer {
        frames: frames.into(),
        traffic: TrafficCounter::default(),
    };
    private_join_with_keys(
        Role::First,
        &FIRST_IDS,
        &mut peer,
        &h.keys_first,
        &SEED_FIRST,
    )
}

#[test]
fn the_honest_script_replays() {
    let h = honest();
    // Opening message, round 1, round 2 (labelled, sets), round 3.
    assert_eq!(h.frames.len(), 5);
    assert_eq!(h.frames[0].len(), 10);
    assert_eq!(first_against(h.frames.clone()).unwrap(), h.output);
    assert_eq!(h.output.union_size, 5);
}

/// Frames whose length is a whole number of points, so that they reach point decoding.
fn point_frames() -> impl Strategy<Value = Vec<Vec<u8>>> {
    let frame = (0usize..5).prop_flat_map(|n| proptest::collection::vec(any::<u8>(), n * 32));
    proptest::collection::vec(frame, 1..5)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(5_000))]

    #[test]
    fn random_opening_messages_are_errors(first in bytes(24), rest in proptest::collection::vec(bytes(200), 0..4)) {
        let mut frames = vec![first];
        frames.extend(rest);
        prop_assert!(first_against(frames).is_err());
    }

    #[test]
    fn mutated_opening_messages_are_errors(m in mutation(16)) {
        let mut frames = honest().frames.clone();
        frames[0] = m.apply(&frames[0]);
        prop_assert!(first_against(frames).is_err(), "{:?}", m);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn random_points_are_errors(frames in point_frames()) {
        let mut script = vec![honest().frames[0].clone()];
        script.extend(frames);
        prop_assert!(first_against(script).is_err());
    }

    #[test]
    fn mutated_point_frames_never_panic(which in 1usize..5, m in mutation(40)) {
        let mut frames = honest().frames.clone();
        let before = frames[which].clone();
        frames[which] = m.apply(&before);
        let changes_length = frames[which].len() != before.len();
        let result = first_against(frames);
        // A different number of bytes is always caught; a changed point may decode to another
        // valid point, which a semi-honest protocol cannot always detect.
        if changes_length {
            prop_assert!(result.is_err(), "{:?}", m);
        }
        if let Ok(out) = result {
            prop_assert_eq!(out.own_size, FIRST_IDS.len());
        }
    }
}
