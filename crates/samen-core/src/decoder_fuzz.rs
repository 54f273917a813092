//! Fuzz tests of every decoder in this crate that reads peer data: the control-message codec,
//! the dealer's hello and operation header (through [`Computer`] over a local channel), and the
//! bulk framing of [`ChannelExt::recv_u64s`]. Random bytes and mutations of valid messages must
//! give a value or an error, never a panic, and the outcome is checked against a model.

use proptest::prelude::*;

use crate::channel::{local_pair, Channel, ChannelError, ChannelExt, BULK_FRAME};
use crate::codec::{self, CodecError, MAX_CONTROL_MESSAGE};
use crate::fuzzing::{bytes, mutated};
use crate::mpc::wire::{header, HELLO_LEN, HELLO_TAG, KIND_MUL};
use crate::mpc::{Computer, MpcError, Role};

/// A control message with the field types samen sends (strings, fixed arrays, vectors,
/// options, enums, booleans).
#[derive(Clone, Debug, PartialEq, bincode::Encode, bincode::Decode)]
struct Message {
    version: u32,
    name: String,
    hash: [u8; 32],
    sizes: Vec<u64>,
    parties: Option<Vec<String>>,
    flag: bool,
    kind: Kind,
}

#[derive(Clone, Debug, PartialEq, bincode::Encode, bincode::Decode)]
enum Kind {
    Start { n: u64 },
    Stop(String),
    Nothing,
}

fn valid_message() -> Vec<u8> {
    let m = Message {
        version: 1,
        name: "visits-2026".into(),
        hash: [0xab; 32],
        sizes: vec![0, 250, 251, 1 << 20, u64::MAX],
        parties: Some(vec!["bureau".into(), "portal".into()]),
        flag: true,
        kind: Kind::Stop("input invalid".into()),
    };
    codec::encode(&m).unwrap_or_default()
}

/// Decode as a [`Message`]; a decoded message must survive a re-encode.
fn check_codec(input: &[u8]) -> Result<(), TestCaseError> {
    match codec::decode::<Message>(input) {
        Ok(m) => {
            let again = codec::encode(&m).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(codec::decode::<Message>(&again).ok(), Some(m));
        }
        Err(CodecError::TooLarge(n)) => prop_assert!(n > MAX_CONTROL_MESSAGE),
        Err(_) => {}
    }
    // Other shapes the same bytes might be read as.
    let _ = codec::decode::<Vec<String>>(input);
    let _ = codec::decode::<(u64, [u8; 32], bool)>(input);
    let _ = codec::decode::<Option<char>>(input);
    Ok(())
}

fn valid_hello(role: Role) -> Vec<u8> {
    let mut h = HELLO_TAG.to_vec();
    h.push(role.code());
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
        Ok(_) => prop_assert!(well_formed && role_byte == Some(role.code())),
        Err(MpcError::RoleMismatch { .. }) => {
            prop_assert!(well_formed && role_byte == Some(role.other().code()))
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
    header(KIND_MUL, 1, n, 0, 0)
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .collect()
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
    match result {
        Ok(_) => prop_assert!(
            false,
            "a multiplication without the dealer's data succeeded"
        ),
        Err(MpcError::OutOfSync { .. }) => prop_assert!(frame.len() == 40 && !is_valid),
        // Short frames that are whole words make the header read wait for the next frame.
        Err(MpcError::Channel(ChannelError::Closed { .. })) => {
            prop_assert!(
                is_valid || (frame.len() < 40 && !frame.is_empty() && frame.len() % 8 == 0)
            )
        }
        Err(MpcError::Channel(ChannelError::Protocol { .. })) => {
            prop_assert!(frame.is_empty() || frame.len() % 8 != 0)
        }
        Err(MpcError::Channel(ChannelError::FrameTooLarge { .. })) => {
            prop_assert!(frame.len() > 40)
        }
        Err(e) => prop_assert!(false, "unexpected error {e}"),
    }
    Ok(())
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
        out.extend(f.chunks_exact(8).map(|c| {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            u64::from_le_bytes(w)
        }));
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
    fn dealer_hello_random_bytes(input in bytes(2 * HELLO_LEN), second in any::<bool>()) {
        let role = if second { Role::Second } else { Role::First };
        check_dealer_hello(role, &input)?;
    }

    #[test]
    fn dealer_hello_mutated(input in mutated(valid_hello(Role::First)), second in any::<bool>()) {
        let role = if second { Role::Second } else { Role::First };
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
    assert!(codec::decode::<Message>(&valid_message()).is_ok());
    check_dealer_hello(Role::First, &valid_hello(Role::First)).unwrap();
    check_dealer_hello(Role::Second, &valid_hello(Role::First)).unwrap();
    check_operation_header(3, &valid_header(3)).unwrap();
    check_recv_u64s(&[vec![1; 16], vec![2; 8]], 3).unwrap();
    assert_eq!(
        recv_u64s_model(&[vec![1; 16], vec![2; 8]], 3).map(|v| v.len()),
        Ok(3)
    );
}
