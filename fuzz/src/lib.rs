//! The checks behind the cargo-fuzz targets in `fuzz_targets/`, one function per decoder of
//! network data. Each takes arbitrary bytes and panics only if the decoder misbehaves (a panic
//! inside the decoder, or an outcome that contradicts the format). `cargo test --lib` in this
//! directory runs every check over pseudo-random and mutated inputs on a stable toolchain.
#![forbid(unsafe_code)]

use std::collections::VecDeque;

use samen_core::channel::{
    local_pair, Abort, Channel, ChannelError, ChannelExt, ChannelStats, TrafficCounter,
    MAX_PEER_TEXT,
};
use samen_core::codec::{decode_exact, encode_to_vec, Decode, Encode};
use samen_core::mpc::Computer;
use samen_core::Role;
use samen_join::helper::wire;
use samen_join::{private_join_with_keys, JoinKeys, JoinSizes};
use samen_net::frame::{decode_all, FrameDecoder, FrameKind};
use samen_net::hello::Hello;

/// Frame decoder: the first byte is the piece size; the rest, fed whole and in pieces, must
/// give the same frames or error, no frame over its kind's limit, abort payloads sanitised.
pub fn frame_decoder(data: &[u8]) {
    let Some((&split, bytes)) = data.split_first() else {
        return;
    };
    let whole = decode_all(bytes);
    let piece = usize::from(split).max(1);
    let mut decoder = FrameDecoder::new();
    let mut frames = Vec::new();
    let mut outcome = Ok(());
    'outer: for chunk in bytes.chunks(piece) {
        let mut rest = chunk;
        while !rest.is_empty() {
            match decoder.decode(rest) {
                Ok((used, frame)) => {
                    assert!(used > 0 && used <= rest.len());
                    frames.extend(frame);
                    rest = rest.get(used..).unwrap_or_default();
                }
                Err(e) => {
                    outcome = Err(e);
                    break 'outer;
                }
            }
        }
    }
    let pieces = outcome.and_then(|()| decoder.finish()).map(|()| frames);
    assert_eq!(whole, pieces);
    if let Ok(frames) = whole {
        for f in frames {
            assert!(f.payload.len() <= f.kind.max_len());
            if f.kind == FrameKind::Abort {
                // Whatever an abort frame holds, what its receiver reads is safe to print.
                let (Abort::Own { reason } | Abort::Stopped { reason, .. }) =
                    Abort::receive(&f.payload);
                assert!(reason.len() <= MAX_PEER_TEXT && !reason.chars().any(char::is_control));
            }
        }
    }
}

/// Hello decoder: a hello or an error; a decoded hello survives a re-encode, and the error
/// comparing it with this party's hello prints no control characters.
pub fn hello_decoder(data: &[u8]) {
    if let Ok(hello) = Hello::decode("fuzz", data) {
        let again = hello.encode().expect("a decoded hello re-encodes");
        assert_eq!(Hello::decode("fuzz", &again).expect("round trip"), hello);
        let ours = Hello {
            version: samen_net::hello::PROTOCOL_VERSION,
            study_name: "study".into(),
            study_hash: [1; 32],
            sender: "a".into(),
            receiver: "b".into(),
        };
        if let Err(e) = ours.check(&hello) {
            assert!(!e.to_string().chars().any(char::is_control));
        }
    }
}

/// Decode `data` as a `T`: whatever is accepted is exactly the encoding of what it decodes
/// to (every layout is canonical).
fn canonical<T: Encode + Decode>(data: &[u8]) {
    if let Ok(m) = decode_exact::<T>(data) {
        assert_eq!(encode_to_vec(&m), data, "{} is not canonical", T::WHAT);
    }
}

/// Control-message codec (`samen_core::codec`): every public control message kind decodes
/// the bytes to a message or an error, and accepts only canonical encodings.
pub fn codec_decoder(data: &[u8]) {
    canonical::<Hello>(data);
    canonical::<wire::PeerHello>(data);
    canonical::<wire::Hello>(data);
    canonical::<JoinSizes>(data);
    canonical::<samen_study::Sizes>(data);
    canonical::<Abort>(data);
    if let Ok(key) = decode_exact::<wire::Key>(data) {
        assert_eq!(wire::encode_key(&key).as_slice(), data);
    }
}

/// Dealer hello: the first byte picks the role, the rest is the dealer's first frame to a
/// computing party (`Computer::new`). Only `samen-dealer-v1:` + the party's role byte + 32
/// bytes may be accepted.
pub fn dealer_hello(data: &[u8]) {
    let Some((&r, hello)) = data.split_first() else {
        return;
    };
    let role = if r & 1 == 0 {
        Role::First
    } else {
        Role::Second
    };
    let (mut dealer_end, mut dealer) = local_pair("helper", "party");
    let (mut peer, _other) = local_pair("party", "peer");
    dealer_end.send(hello).expect("local send");
    drop(dealer_end);
    let ok = Computer::new(role, &mut peer, &mut dealer).is_ok();
    let role_byte = if role == Role::First { 0 } else { 1 };
    let valid = hello.len() == 49
        && hello.starts_with(b"samen-dealer-v1:")
        && hello.get(16) == Some(&role_byte);
    assert_eq!(ok, valid);
}

/// Bulk framing of `recv_u64s`: the first byte is the element count, the rest is cut into
/// frames at every 0xff byte (a frame boundary marker); the result must match the format.
pub fn recv_u64s(data: &[u8]) {
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let n = usize::from(n);
    let frames: Vec<&[u8]> = rest.split(|&b| b == 0xff).collect();
    let (mut tx, mut rx) = local_pair("sender", "receiver");
    for f in &frames {
        tx.send(f).expect("local send");
    }
    drop(tx);
    let got = rx.recv_u64s(n);
    // Model: whole words only, never more than asked for, closed when frames run out.
    let mut have = 0usize;
    let mut expected_ok = true;
    for f in &frames {
        if have >= n {
            break;
        }
        if f.is_empty() || f.len() % 8 != 0 || f.len() > (n - have) * 8 {
            expected_ok = false;
            break;
        }
        have += f.len() / 8;
    }
    expected_ok &= have >= n;
    assert_eq!(got.map(|v| v.len()).ok(), expected_ok.then_some(n));
}

/// The second party of a private join as a script of frames.
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

/// Private join against a scripted peer: the first 10 bytes are its opening message, then
/// each frame is a length byte `l` (`l & 0x7f` points of 32 bytes if the top bit is set, else
/// `l` bytes) and its bytes. Must end in a result or an error, never a panic.
pub fn join_peer(data: &[u8]) {
    let (hello, mut rest) = data.split_at(data.len().min(10));
    let mut frames = VecDeque::from([hello.to_vec()]);
    while let Some((&l, tail)) = rest.split_first() {
        let len = if l & 0x80 != 0 {
            usize::from(l & 0x7f) * 32
        } else {
            usize::from(l)
        };
        let (frame, tail) = tail.split_at(len.min(tail.len()));
        frames.push_back(frame.to_vec());
        rest = tail;
    }
    let mut peer = ScriptedPeer {
        frames,
        traffic: TrafficCounter::default(),
    };
    let keys = JoinKeys::random().expect("OS randomness");
    let ids: [&[u8]; 3] = [b"111222333", b"123456782", b"012345672"];
    let _ = private_join_with_keys(Role::First, &ids, &mut peer, &keys, &[7; 32]);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// xorshift64*: a fixed, dependency-free source of test inputs.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn bytes(&mut self, max: usize) -> Vec<u8> {
            let n = (self.next() as usize) % (max + 1);
            (0..n).map(|_| self.next() as u8).collect()
        }
        /// `seed` with a few bit flips, a truncation or an extension.
        fn mutate(&mut self, seed: &[u8]) -> Vec<u8> {
            let mut v = seed.to_vec();
            for _ in 0..1 + self.next() % 3 {
                let at = (self.next() as usize) % (v.len() + 1);
                match self.next() % 4 {
                    0 | 1 if !v.is_empty() => {
                        let (i, bit) = (at % v.len(), self.next() % 8);
                        v[i] ^= 1 << bit;
                    }
                    2 => v.truncate(at),
                    _ => v.splice(at..at, self.bytes(16)).for_each(drop),
                }
            }
            v
        }
    }

    fn run(check: fn(&[u8]), seeds: &[Vec<u8>], cases: usize, max: usize) {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for i in 0..cases {
            let input = match seeds.get(i % (seeds.len() + 1)) {
                Some(seed) => rng.mutate(seed),
                None => rng.bytes(max),
            };
            check(&input);
        }
    }

    #[test]
    fn frame_decoder_runs() {
        let mut wire = vec![3u8];
        for (kind, payload) in [
            (FrameKind::Hello, &b"hi"[..]),
            (FrameKind::Data, &[7u8; 24][..]),
            (
                FrameKind::Abort,
                &encode_to_vec(&Abort::own("stop\x1b[2J"))[..],
            ),
        ] {
            wire.extend(samen_net::frame::encode_frame(kind, payload).unwrap());
        }
        run(frame_decoder, &[wire], 20_000, 300);
    }

    #[test]
    fn hello_decoder_runs() {
        let hello = Hello {
            version: samen_net::hello::PROTOCOL_VERSION,
            study_name: "s".into(),
            study_hash: [1; 32],
            sender: "a".into(),
            receiver: "b".into(),
        };
        run(hello_decoder, &[hello.encode().unwrap()], 20_000, 120);
    }

    #[test]
    fn codec_decoder_runs() {
        let hello = Hello {
            version: samen_net::hello::PROTOCOL_VERSION,
            study_name: "x".into(),
            study_hash: [2; 32],
            sender: "a".into(),
            receiver: "b".into(),
        };
        let sizes = JoinSizes {
            first: 1,
            second: 300,
            union: 301,
        };
        let seeds = [
            hello.encode().unwrap(),
            encode_to_vec(&wire::Hello {
                role: Role::Second,
                size: 7,
            }),
            encode_to_vec(&sizes),
            encode_to_vec(&samen_study::Sizes {
                first: 1,
                second: 2,
                union: 3,
            }),
            encode_to_vec(&Abort::own("its input failed validation")),
            encode_to_vec(&Abort::from(&samen_core::channel::StopReason::new(
                "ttp",
                "it was stopped",
            ))),
        ];
        run(codec_decoder, &seeds, 20_000, 120);
    }

    #[test]
    fn dealer_hello_runs() {
        let mut hello = vec![1u8];
        hello.extend_from_slice(b"samen-dealer-v1:");
        hello.push(1);
        hello.extend([5u8; 32]);
        dealer_hello(&hello);
        run(dealer_hello, &[hello], 20_000, 100);
    }

    #[test]
    fn recv_u64s_runs() {
        run(
            recv_u64s,
            &[vec![
                3, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2,
            ]],
            20_000,
            60,
        );
    }

    #[test]
    fn join_peer_runs() {
        let mut script = vec![1u8, 2, 4, 0, 0, 0, 0, 0, 0, 0];
        script.push(0x84);
        script.extend([0x11u8; 128]);
        run(join_peer, &[script], 2_000, 300);
    }
}
