use super::sanitize::is_printable;

use super::*;

#[test]
fn bulk_round_trip_across_frames() {
    let (mut a, mut b) = local_pair("a", "b");
    let v: Vec<u64> = (0..(BULK_FRAME as u64 / 8) * 2 + 5).collect();
    a.send_u64s(&v).unwrap();
    assert_eq!(b.recv_u64s(v.len()).unwrap(), v);
    assert_eq!(a.stats().messages_sent, 3);
    assert_eq!(a.stats().rounds, 1);
    b.send_u64(9).unwrap();
    assert_eq!(a.recv_u64().unwrap(), 9);
    a.send_u64(1).unwrap();
    assert_eq!(a.stats().rounds, 2);
}

#[test]
fn oversized_and_misaligned_frames_are_errors() {
    let (mut a, mut b) = local_pair("a", "b");
    a.send(&[0u8; 17]).unwrap();
    assert!(matches!(
        b.recv_u64s(1),
        Err(ChannelError::FrameTooLarge { .. })
    ));
    a.send(&[0u8; 7]).unwrap();
    assert!(matches!(b.recv_u64s(1), Err(ChannelError::Protocol { .. })));
}

#[test]
fn abort_and_close_are_reported() {
    let (mut a, mut b) = local_pair("a", "b");
    a.abort(&Abort::own("input invalid"));
    match b.recv(10) {
        Err(ChannelError::PeerAborted { peer, message }) => {
            assert_eq!(peer, "a");
            assert_eq!(message, Abort::own("input invalid"));
        }
        other => panic!("unexpected {other:?}"),
    }
    drop(a);
    assert!(matches!(b.recv(10), Err(ChannelError::Closed { .. })));
}

/// Printable on one line: no control or invisible formatting characters.
fn printable_line(s: &str) -> bool {
    s.chars().all(is_printable)
}

#[test]
fn peer_text_is_bounded_and_printable() {
    assert_eq!(sanitize_peer_text("input invalid"), "input invalid");
    assert_eq!(sanitize_peer_text(""), "");
    assert_eq!(
        sanitize_peer_text("a\x1b[31mred\x1b[0m\r\nb\tc\0d\u{7f}e\u{9b}f"),
        "a?[31mred?[0m??b?c?d?e?f"
    );
    assert_eq!(
        sanitize_peer_text("x\u{202E}gnp.exe\u{2028}y\u{200B}z\u{FEFF}"),
        "x?gnp.exe?y?z?"
    );
    // Exactly the limit is kept whole; one more byte is cut.
    let exact = "a".repeat(MAX_PEER_TEXT);
    assert_eq!(sanitize_peer_text(&exact), exact);
    let over = sanitize_peer_text(&"a".repeat(MAX_PEER_TEXT + 1));
    assert_eq!(over.len(), MAX_PEER_TEXT);
    assert!(over.ends_with("..."));
    // 64 KiB of mixed multi-byte text, controls and escapes.
    let big: String = "ü\x1b[2J€\n𝄞\u{202E}\u{7}x"
        .chars()
        .cycle()
        .scan(0usize, |n, c| {
            *n += c.len_utf8();
            (*n <= 64 << 10).then_some(c)
        })
        .collect();
    assert!(big.len() > 65_000);
    let s = sanitize_peer_text(&big);
    assert!(
        s.len() <= MAX_PEER_TEXT && s.len() > MAX_PEER_TEXT - 8,
        "{}",
        s.len()
    );
    assert!(printable_line(&s), "{s:?}");
    assert!(s.ends_with("..."));
    assert_eq!(sanitize_peer_text(&s), s, "idempotent");
}

#[test]
fn local_abort_reasons_are_sanitised() {
    let (mut a, mut b) = local_pair("a", "b");
    a.abort(&Abort::own(&format!(
        "\x1b]0;pwned\x07{}",
        "x".repeat(64 << 10)
    )));
    match b.recv(10) {
        Err(ChannelError::PeerAborted { message, .. }) => {
            let reason = message.to_string();
            assert!(reason.len() <= MAX_PEER_TEXT, "{}", reason.len());
            assert!(reason.starts_with("?]0;pwned?x"), "{reason}");
            assert!(printable_line(&reason));
        }
        other => panic!("unexpected {other:?}"),
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
    #[test]
    fn sanitised_text_is_bounded_printable_and_idempotent(text in ".{0,700}") {
        let s = sanitize_peer_text(&text);
        proptest::prop_assert!(s.len() <= MAX_PEER_TEXT);
        proptest::prop_assert!(printable_line(&s));
        proptest::prop_assert_eq!(sanitize_peer_text(&s), s.clone());
        if text.len() <= MAX_PEER_TEXT && text.chars().all(is_printable) {
            proptest::prop_assert_eq!(s, text);
        }
    }
}

#[test]
fn an_abort_stops_the_third_party_of_a_mesh() {
    let mut mesh = local_mesh(&["a", "b", "c"]);
    let mut c = mesh.pop().unwrap();
    let mut b = mesh.pop().unwrap();
    let mut a = mesh.pop().unwrap();
    // c fails and aborts its channels; b, busy with a, stops at its next receive.
    for ch in c.values_mut() {
        ch.abort(&Abort::from(&StopReason::new(
            "c",
            "its input failed validation",
        )));
    }
    let b_to_a = b.get_mut("a").unwrap();
    match b_to_a.recv(8) {
        Err(ChannelError::Stopped(r)) => {
            assert_eq!((r.party.as_str(), r.via.as_deref()), ("c", Some("c")));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(a.get_mut("b").unwrap().send(&[1]).is_err());
    // On the channel to c itself the abort arrives as the peer's abort.
    assert!(matches!(
        b.get_mut("c").unwrap().recv(8),
        Err(ChannelError::PeerAborted { .. })
    ));
}

#[test]
fn stop_reasons_round_trip_through_the_abort_message() {
    let r = StopReason::new("ttp", "its connection was lost");
    let back = Abort::receive(&codec::encode_to_vec(&Abort::from(&r))).stop_reason("cbs");
    assert_eq!(
        (back.party.as_str(), back.reason.as_str()),
        ("ttp", "its connection was lost")
    );
    assert_eq!(
        back.to_string(),
        "party 'ttp' stopped: its connection was lost (reported by party 'cbs')"
    );
    let own = Abort::receive(&codec::encode_to_vec(&Abort::own("helper lost its seed")));
    let plain = own.stop_reason("cbs");
    assert_eq!(
        (plain.party.as_str(), plain.reason.as_str()),
        ("cbs", "helper lost its seed")
    );
    assert_eq!(own.to_string(), "helper lost its seed");
}

#[test]
fn golden_abort_messages() {
    codec::golden::check(
        &Abort::own("no"),
        "01 02000000 6e6f".replace(' ', "").as_str(),
    );
    codec::golden::check(
        &Abort::from(&StopReason::new("ttp", "lost")),
        "02 03000000 747470 04000000 6c6f7374"
            .replace(' ', "")
            .as_str(),
    );
}

#[test]
fn received_aborts_are_checked_and_sanitised() {
    // Unknown kind, truncated, trailing bytes: the sender's own, unreadable abort.
    for bad in [
        &b"\x03\x00\x00\x00\x00"[..],
        b"\x01\x05\x00\x00\x00ab",
        b"\x01\x00\x00\x00\x00\x00",
        b"",
    ] {
        match Abort::receive(bad) {
            Abort::Own { reason } => assert!(reason.contains("cannot read"), "{reason}"),
            other => panic!("{other:?}"),
        }
    }
    // A party name that no party can have is not believed.
    let evil = Abort::Stopped {
        party: "a b\n".into(),
        reason: "x".into(),
    };
    assert!(matches!(
        Abort::receive(&codec::encode_to_vec(&evil)),
        Abort::Own { .. }
    ));
    // Control characters in the reason arrive as '?', and a long reason is cut before sending.
    let heard = Abort::receive(&codec::encode_to_vec(&Abort::own("a\x1b[2Jb\nc")));
    assert_eq!(heard.to_string(), "a?[2Jb?c");
    let long = Abort::own(&"é".repeat(MAX_ABORT_REASON));
    let Abort::Own { reason } = &long else {
        unreachable!()
    };
    assert!(reason.len() <= MAX_ABORT_REASON && reason.len() >= MAX_ABORT_REASON - 1);
    assert_eq!(
        codec::decode_exact::<Abort>(&codec::encode_to_vec(&long)).unwrap(),
        long
    );
}

proptest::proptest! {
    /// Any bytes: an error or exactly the encoding of the abort they decode to.
    #[test]
    fn abort_decoder_is_strict(bytes in crate::fuzzing::bytes(64)) {
        if let Ok(msg) = codec::decode_exact::<Abort>(&bytes) {
            proptest::prop_assert_eq!(codec::encode_to_vec(&msg), bytes);
        }
    }
}

#[test]
fn an_abort_built_with_oversized_texts_is_cut_and_still_decodes() {
    let long = Abort::Stopped {
        party: "p".repeat(100),
        reason: "é".repeat(2000),
    };
    let bytes = codec::encode_to_vec(&long);
    assert_eq!(Some(bytes.len()), long.encoded_len());
    match codec::decode_exact::<Abort>(&bytes).unwrap() {
        Abort::Stopped { party, reason } => {
            assert_eq!(party.len(), 63);
            assert!(reason.len() <= MAX_ABORT_REASON && reason.chars().all(|c| c == 'é'));
        }
        other => panic!("{other:?}"),
    }
    // What the receiver makes of it: a party name of 63 letters is valid.
    assert!(matches!(Abort::receive(&bytes), Abort::Stopped { .. }));
}

proptest::proptest! {
    /// Any abort this party can build encodes to bytes that decode to it (texts cut to fit).
    #[test]
    fn aborts_round_trip(party in "[a-z]{1,63}", reason in ".{0,300}") {
        for msg in [Abort::own(&reason), Abort::from(&StopReason::new(&party, &reason))] {
            let bytes = codec::encode_to_vec(&msg);
            proptest::prop_assert_eq!(Some(bytes.len()), msg.encoded_len());
            proptest::prop_assert_eq!(codec::decode_exact::<Abort>(&bytes).unwrap(), msg);
        }
    }
}
