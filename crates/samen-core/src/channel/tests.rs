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
    a.abort("input invalid");
    match b.recv(10) {
        Err(ChannelError::PeerAborted { peer, reason }) => {
            assert_eq!(peer, "a");
            assert_eq!(reason, "input invalid");
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
    a.abort(&format!("\x1b]0;pwned\x07{}", "x".repeat(64 << 10)));
    match b.recv(10) {
        Err(ChannelError::PeerAborted { reason, .. }) => {
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
        ch.abort("party 'c' stopped: its input failed validation");
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
fn stop_reasons_round_trip_through_the_wire_text() {
    let r = StopReason::new("ttp", "its connection was lost");
    let back = StopReason::from_wire("cbs", &r.to_wire());
    assert_eq!(
        (back.party.as_str(), back.reason.as_str()),
        ("ttp", "its connection was lost")
    );
    assert_eq!(
        back.to_string(),
        "party 'ttp' stopped: its connection was lost (reported by party 'cbs')"
    );
    let plain = StopReason::from_wire("cbs", "helper lost its seed");
    assert_eq!(
        (plain.party.as_str(), plain.reason.as_str()),
        ("cbs", "helper lost its seed")
    );
}
