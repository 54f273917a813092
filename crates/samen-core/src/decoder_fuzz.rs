//! Fuzz tests of every decoder in this crate that reads peer data: the control-message codec
//! ([`Reader`] over a message with every field type), the dealer's hello and operation header
//! (directly and through [`Computer`] over a local channel), and the bulk framing of
//! [`ChannelExt::recv_u64s`]. Random bytes and mutations of valid messages must give a value
//! or an error, never a panic, and the outcome is checked against a model; valid values
//! round-trip.

use proptest::prelude::*;

use crate::channel::{local_pair, Channel, ChannelError, ChannelExt, BULK_FRAME};
use crate::codec::{self, CodecError, Decode, Encode, Reader, MAX_CONTROL_MESSAGE};
use crate::fuzzing::{bytes, mutated};
use crate::mpc::wire::{
    header, role_code, DealerHello, OpHeader, OpKind, HEADER_LEN, HELLO_LEN, HELLO_TAG,
};
use crate::mpc::{Computer, MpcError};
use crate::prg::Seed;
use crate::Role;

/// A control message with the field types samen sends (strings, fixed arrays, vectors, tags).
#[derive(Clone, Debug, PartialEq)]
struct Message {
    version: u32,
    name: String,
    hash: [u8; 32],
    sizes: Vec<u64>,
    parties: Vec<String>,
    flag: bool,
}

impl Encode for Message {
    fn encode(&self, out: &mut Vec<u8>) {
        self.version.encode(out);
        codec::put_str(out, &self.name);
        self.hash.encode(out);
        codec::put_len(out, self.sizes.len());
        for x in &self.sizes {
            x.encode(out);
        }
        codec::put_len(out, self.parties.len());
        for p in &self.parties {
            codec::put_str(out, p);
        }
        u8::from(self.flag).encode(out);
    }
}

impl Decode for Message {
    const WHAT: &'static str = "fuzz message";
    fn read(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        Ok(Message {
            version: r.u32()?,
            name: r.string("name", 64)?,
            hash: r.array()?,
            sizes: r.vec("sizes", 16, |r| r.u64())?,
            parties: r.vec("parties", 4, |r| r.string("party", 63))?,
            flag: match r.u8()? {
                0 => false,
                1 => true,
                other => return Err(r.bad_value("flag", u64::from(other))),
            },
        })
    }
}

fn valid_message() -> Vec<u8> {
    codec::encode_to_vec(&Message {
        version: 1,
        name: "visits-2026".into(),
        hash: [0xab; 32],
        sizes: vec![0, 250, 251, 1 << 20, u64::MAX],
        parties: vec!["bureau".into(), "portal".into()],
        flag: true,
    })
}

/// Decode `input` as `T`: an accepted input is exactly the encoding of what it decodes to (the
/// layouts are canonical); oversized input is refused as such.
fn check_canonical<T: Encode + Decode + std::fmt::Debug>(
    input: &[u8],
) -> Result<(), TestCaseError> {
    match codec::decode_exact::<T>(input) {
        Ok(m) => prop_assert_eq!(codec::encode_to_vec(&m), input.to_vec(), "{:?}", m),
        Err(CodecError::TooLarge { len, .. }) => prop_assert!(len > MAX_CONTROL_MESSAGE),
        Err(_) => {}
    }
    Ok(())
}

fn check_codec(input: &[u8]) -> Result<(), TestCaseError> {
    check_canonical::<Message>(input)?;
    check_canonical::<DealerHello>(input)?;
    check_canonical::<OpHeader>(input)
}

fn valid_hello(role: Role) -> Vec<u8> {
    let mut h = HELLO_TAG.to_vec();
    h.extend(role_code(role));
    h.extend((0..32u8).map(|i| i.wrapping_mul(37)));
    h
}

/// Start a computing party of `role` whose dealer sends `hello`; the expected outcome is
/// computed from the format (tag, role byte, 32 seed bytes).
fn check_dealer_hello(role: Role, hello: &[u8]) -> Result<(), TestCaseError> {
    let (mut dealer_end, mut dealer) = local_pair("helper", "party");
    let (mut peer, _other) = local_pair("party", "peer");
    dealer_end
        .send(hello)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    drop(dealer_end);
    let result = Computer::new(role, &mut peer, &mut dealer);
    let well_formed = hello.len() == HELLO_LEN && hello.starts_with(HELLO_TAG);
    let role_byte = hello.get(HELLO_TAG.len()).copied();
    match result {
        Ok(_) => prop_assert!(well_formed && role_byte == role_code(role)),
        Err(MpcError::RoleMismatch { .. }) => {
            prop_assert!(well_formed && role_byte == role.other().and_then(role_code))
        }
        Err(MpcError::Channel(ChannelError::FrameTooLarge { .. })) => {
            prop_assert!(hello.len() > HELLO_LEN)
        }
        Err(MpcError::BadHello(_)) => prop_assert!(!well_formed || role_byte.unwrap_or(9) > 1),
        Err(e) => prop_assert!(false, "unexpected error {e}"),
    }
    Ok(())
}

fn valid_header(n: usize) -> Vec<u8> {
    codec::encode_to_vec(&header(OpKind::Mul, 1, n, 0, 0))
}

/// The second computing party receives `frame` as the dealer's header of its first
/// multiplication (of `n` elements); only the valid header may get past the header check.
fn check_operation_header(n: usize, frame: &[u8]) -> Result<(), TestCaseError> {
    let (mut dealer_end, mut dealer) = local_pair("helper", "second");
    let (mut peer, other) = local_pair("second", "first");
    drop(other);
    dealer_end
        .send(&valid_hello(Role::Second))
        .and_then(|()| dealer_end.send(frame))
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    drop(dealer_end);
    let mut c = Computer::new(Role::Second, &mut peer, &mut dealer)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let x = vec![3u64; n];
    let result = c.mul(&x, &x);
    let is_valid = frame == valid_header(n).as_slice();
    let known_kind =
        frame.len() == HEADER_LEN && (1..=6).contains(&frame[0]) && frame[1..8] == [0; 7];
    match result {
        Ok(_) => prop_assert!(
            false,
            "a multiplication without the dealer's data succeeded"
        ),
        Err(MpcError::OutOfSync { .. }) => prop_assert!(known_kind && !is_valid),
        // The valid header is followed by nothing: the dealer's data never comes.
        Err(MpcError::Channel(ChannelError::Closed { .. })) => prop_assert!(is_valid),
        Err(MpcError::BadHeader(_)) => prop_assert!(frame.len() < HEADER_LEN || !known_kind),
        Err(MpcError::Channel(ChannelError::FrameTooLarge { .. })) => {
            prop_assert!(frame.len() > HEADER_LEN)
        }
        Err(e) => prop_assert!(false, "unexpected error {e}"),
    }
    Ok(())
}

fn role() -> impl Strategy<Value = Role> {
    any::<bool>().prop_map(|second| if second { Role::Second } else { Role::First })
}

fn op_kind() -> impl Strategy<Value = OpKind> {
    prop_oneof![
        Just(OpKind::Mul),
        Just(OpKind::Cross),
        Just(OpKind::Cmp),
        Just(OpKind::Noise),
        Just(OpKind::Field),
        Just(OpKind::Solve)
    ]
}

/// What `recv_u64s(n)` must return for these frames (then the channel closes).
fn recv_u64s_model(frames: &[Vec<u8>], n: usize) -> Result<Vec<u64>, &'static str> {
    let mut out = Vec::new();
    let mut frames = frames.iter();
    while out.len() < n {
        let want = ((n - out.len()) * 8).min(BULK_FRAME);
        let Some(f) = frames.next() else {
            return Err("closed");
        };
        if f.len() > want {
            return Err("too large");
        }
        if f.is_empty() || f.len() % 8 != 0 {
            return Err("protocol");
        }
        out.extend(f.as_chunks::<8>().0.iter().map(|c| u64::from_le_bytes(*c)));
    }
    Ok(out)
}

fn check_recv_u64s(frames: &[Vec<u8>], n: usize) -> Result<(), TestCaseError> {
    let (mut tx, mut rx) = local_pair("sender", "receiver");
    for f in frames {
        tx.send(f).map_err(|e| TestCaseError::fail(e.to_string()))?;
    }
    drop(tx);
    let got = rx.recv_u64s(n).map_err(|e| match e {
        ChannelError::Closed { .. } => "closed",
        ChannelError::FrameTooLarge { .. } => "too large",
        ChannelError::Protocol { .. } => "protocol",
        _ => "other",
    });
    prop_assert_eq!(got, recv_u64s_model(frames, n));
    Ok(())
}

/// Frames that are mostly whole words (so that reads go on to later frames), sometimes not.
fn word_frames() -> impl Strategy<Value = Vec<Vec<u8>>> {
    let frame = prop_oneof![
        4 => (0usize..6).prop_flat_map(|w| proptest::collection::vec(any::<u8>(), w * 8)),
        1 => bytes(50),
    ];
    proptest::collection::vec(frame, 0..6)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    #[test]
    fn codec_random_bytes(input in bytes(256)) {
        check_codec(&input)?;
    }

    #[test]
    fn codec_mutated_messages(input in mutated(valid_message())) {
        check_codec(&input)?;
    }

    #[test]
    fn codec_mutated_dealer_messages(
        input in prop_oneof![mutated(valid_hello(Role::Second)), mutated(valid_header(9))]
    ) {
        check_codec(&input)?;
    }

    #[test]
    fn dealer_messages_round_trip(
        role in role(), seed in any::<[u8; 32]>(),
        kind in op_kind(), words in any::<[u64; 4]>(),
    ) {
        let hello = DealerHello { role, seed: Seed::from_bytes(seed) };
        let bytes = codec::encode_to_vec(&hello);
        prop_assert_eq!(bytes.len(), HELLO_LEN);
        prop_assert_eq!(codec::decode_exact::<DealerHello>(&bytes).ok(), Some(hello));
        let h = OpHeader { kind, op: words[0], n: words[1], k: words[2], l: words[3] };
        let bytes = codec::encode_to_vec(&h);
        prop_assert_eq!(bytes.len(), HEADER_LEN);
        prop_assert_eq!(codec::decode_exact::<OpHeader>(&bytes).ok(), Some(h));
    }

    #[test]
    fn dealer_hello_random_bytes(input in bytes(2 * HELLO_LEN), role in role()) {
        check_dealer_hello(role, &input)?;
    }

    #[test]
    fn dealer_hello_mutated(input in mutated(valid_hello(Role::First)), role in role()) {
        check_dealer_hello(role, &input)?;
    }

    #[test]
    fn recv_u64s_framing(frames in word_frames(), n in 0usize..40) {
        check_recv_u64s(&frames, n)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(5_000))]

    #[test]
    fn operation_header_random_bytes(input in bytes(64), n in 1usize..4) {
        check_operation_header(n, &input)?;
    }

    #[test]
    fn operation_header_mutated(input in mutated(valid_header(3))) {
        check_operation_header(3, &input)?;
    }
}

#[test]
fn the_models_accept_the_valid_messages() {
    check_codec(&valid_message()).unwrap();
    assert!(codec::decode_exact::<Message>(&valid_message()).is_ok());
    check_dealer_hello(Role::First, &valid_hello(Role::First)).unwrap();
    check_dealer_hello(Role::Second, &valid_hello(Role::First)).unwrap();
    check_operation_header(3, &valid_header(3)).unwrap();
    check_operation_header(3, &valid_header(4)).unwrap();
    check_recv_u64s(&[vec![1; 16], vec![2; 8]], 3).unwrap();
    assert_eq!(
        recv_u64s_model(&[vec![1; 16], vec![2; 8]], 3).map(|v| v.len()),
        Ok(3)
    );
}
