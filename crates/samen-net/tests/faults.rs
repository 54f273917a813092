//! Misbehaving or silent peers: oversized, truncated and garbage frames over TLS, timeouts,
//! aborts.
// Test and benchmark code: a failed unwrap, expect or index is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use std::io::Write;
use std::time::{Duration, Instant};

use samen_core::channel::{Abort, Channel, ChannelError, ChannelExt, StopReason, MAX_FRAME};
use samen_net::frame::{encode_frame, FrameKind};

/// alpha listens via `connect_all`; the test plays beta by hand (valid certificate and hello)
/// and returns alpha's channel plus the raw stream.
/// A time no correct run comes near even on a loaded machine: timeouts set to it never fire in a
/// passing test, and as an upper bound it only catches a hang.
const HANG: Duration = Duration::from_secs(120);

fn alpha_and_raw_beta(
    io_timeout: Duration,
) -> (
    samen_net::TlsChannel,
    rustls::StreamOwned<rustls::ClientConnection, std::net::TcpStream>,
    tempfile::TempDir,
) {
    let dir = tempfile::tempdir().unwrap();
    samen_net::generate_certs(&["alpha".into(), "beta".into()], dir.path()).unwrap();
    let mut cfgs = common::configs(&["alpha", "beta"], dir.path(), Duration::from_secs(20));
    cfgs[0].io_timeout = io_timeout;
    let addr = cfgs[0].parties[0].1.clone();
    let alpha = cfgs[0].clone();
    let h = std::thread::spawn(move || samen_net::connect_all(&alpha));
    let mut raw =
        common::raw_client(&addr, dir.path(), Some((dir.path(), "beta")), "alpha").unwrap();
    let hello = common::hello("beta", "alpha").encode().unwrap();
    raw.write_all(&encode_frame(FrameKind::Hello, &hello).unwrap())
        .unwrap();
    let theirs = common::read_frame(&mut raw).unwrap();
    assert_eq!(theirs.kind, FrameKind::Hello);
    let mut chans = h.join().unwrap().unwrap();
    (chans.remove("beta").unwrap(), raw, dir)
}

/// alpha and beta connected over TLS; alpha's I/O timeout is `alpha_timeout`, beta's 20 s.
fn connected_pair(
    alpha_timeout: Duration,
) -> (
    samen_net::TlsChannel,
    samen_net::TlsChannel,
    tempfile::TempDir,
) {
    let dir = tempfile::tempdir().unwrap();
    samen_net::generate_certs(&["alpha".into(), "beta".into()], dir.path()).unwrap();
    let mut cfgs = common::configs(&["alpha", "beta"], dir.path(), Duration::from_secs(20));
    cfgs[0].io_timeout = alpha_timeout;
    let mut all: Vec<_> = common::connect_threads(cfgs)
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    let a = all[0].remove("beta").unwrap();
    let b = all[1].remove("alpha").unwrap();
    (a, b, dir)
}

#[test]
fn oversized_frame_announcement_is_an_error() {
    let (mut alpha, mut raw, _dir) = alpha_and_raw_beta(Duration::from_secs(10));
    let mut header = vec![2u8];
    header.extend_from_slice(&(MAX_FRAME as u32 + 1).to_le_bytes());
    raw.write_all(&header).unwrap();
    match alpha.recv(MAX_FRAME) {
        Err(ChannelError::FrameTooLarge { peer, len, max }) => {
            assert_eq!(
                (peer.as_str(), len, max),
                ("beta", MAX_FRAME + 1, MAX_FRAME)
            );
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn frame_longer_than_the_receiver_expects_is_an_error() {
    let (mut alpha, mut raw, _dir) = alpha_and_raw_beta(Duration::from_secs(10));
    raw.write_all(&encode_frame(FrameKind::Data, &[1u8; 24]).unwrap())
        .unwrap();
    assert!(matches!(
        alpha.recv_u64s(2),
        Err(ChannelError::FrameTooLarge {
            len: 24,
            max: 16,
            ..
        })
    ));
}

#[test]
fn truncated_frame_is_an_error() {
    let (mut alpha, mut raw, _dir) = alpha_and_raw_beta(Duration::from_secs(10));
    let frame = encode_frame(FrameKind::Data, &[9u8; 100]).unwrap();
    raw.write_all(&frame[..40]).unwrap();
    raw.conn.send_close_notify();
    raw.flush().unwrap();
    drop(raw);
    let err = alpha.recv(1000).unwrap_err();
    assert!(
        matches!(err, ChannelError::Protocol { .. })
            && err.to_string().contains("middle of a frame"),
        "{err}"
    );
}

#[test]
fn garbage_is_an_error() {
    let (mut alpha, mut raw, _dir) = alpha_and_raw_beta(Duration::from_secs(10));
    raw.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
    let err = alpha.recv(1000).unwrap_err();
    assert!(err.to_string().contains("unknown frame kind 71"), "{err}");
}

#[test]
fn garbage_below_tls_is_an_error() {
    let (mut alpha, raw, _dir) = alpha_and_raw_beta(Duration::from_secs(10));
    let (_, mut sock) = (raw.conn, raw.sock);
    sock.write_all(&[0x17, 0x03, 0x03, 0x00, 0x20]).unwrap();
    sock.write_all(&[0xee; 32]).unwrap();
    let err = alpha.recv(1000).unwrap_err();
    assert!(matches!(err, ChannelError::Transport { .. }), "{err}");
}

#[test]
fn silent_peer_times_out() {
    let (mut alpha, _raw, _dir) = alpha_and_raw_beta(Duration::from_millis(500));
    let start = Instant::now();
    assert!(matches!(alpha.recv(8), Err(ChannelError::Timeout { .. })));
    let took = start.elapsed();
    // Not before the timeout; the upper bound only catches a hang (a loaded machine may wake
    // the waiting thread late, so no tighter bound is deterministic).
    assert!(
        took >= Duration::from_millis(450) && took < HANG,
        "{took:?}"
    );
}

#[test]
fn abort_reaches_the_peer_with_its_reason() {
    let (mut a, mut b, _dir) = connected_pair(Duration::from_secs(20));
    a.send_u64(5).unwrap();
    a.abort(&Abort::own("input file failed validation"));
    assert_eq!(b.recv_u64().unwrap(), 5);
    match b.recv(8) {
        Err(ChannelError::PeerAborted { peer, message }) => {
            assert_eq!(peer, "alpha");
            assert_eq!(message, Abort::own("input file failed validation"));
        }
        other => panic!("unexpected {other:?}"),
    }
    // Nothing more can be sent after an abort.
    assert!(a.send_u64(1).is_err());
    assert!(b.recv(8).is_err());
}

#[test]
fn abort_while_the_other_side_sends_bulk() {
    // The I/O timeout is far beyond the test: the error below comes from the abort, never from
    // the clock (which a loaded machine would make a race).
    let (mut a, mut b, _dir) = connected_pair(HANG);
    b.abort(&Abort::own("helper lost its seed"));
    drop(b);
    let sent = a.send_u64s(&vec![3u64; 4 << 20]);
    let err = match sent {
        Ok(()) => a.recv_u64s(1).unwrap_err(),
        Err(e) => e,
    };
    assert!(
        matches!(err, ChannelError::PeerAborted { ref message, .. } if *message == Abort::own("helper lost its seed")),
        "{err}"
    );
}

#[test]
fn busy_peer_keeps_the_channel_alive_past_the_io_timeout() {
    // alpha gives up after 2 s of silence; beta keeps its long timeout: the keep-alive interval
    // (0.5 s) does not depend on the peer's setting.
    let (mut a, mut b, _dir) = connected_pair(Duration::from_secs(2));
    let tb = std::thread::spawn(move || {
        // "Computing" for more than two of alpha's I/O timeouts without sending anything.
        std::thread::sleep(Duration::from_millis(4500));
        b.send_u64s(&[1, 2, 3]).unwrap();
        b
    });
    let start = Instant::now();
    assert_eq!(a.recv_u64s(3).unwrap(), vec![1, 2, 3]);
    assert!(start.elapsed() >= Duration::from_millis(4400));
    let b = tb.join().unwrap();
    // Keep-alives are transport overhead: neither side counts them as traffic.
    assert_eq!(a.stats().bytes_received, 24);
    assert_eq!(a.stats().bytes_sent, 0);
    assert_eq!(b.stats().bytes_sent, 24);
    assert_eq!(b.stats().bytes_received, 0);
    // Once the peer is gone, the waiting side still fails promptly.
    drop(b);
    assert!(matches!(a.recv(8), Err(ChannelError::Closed { .. })));
}

#[test]
fn idle_channel_sends_empty_keepalives_and_they_are_never_delivered() {
    let (mut alpha, mut raw, _dir) = alpha_and_raw_beta(Duration::from_millis(400));
    // alpha sends nothing: within 1 s the raw peer sees several empty keep-alive frames
    // (one per quarter of alpha's I/O timeout).
    raw.get_ref()
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let start = Instant::now();
    let mut keepalives = 0;
    while start.elapsed() < Duration::from_secs(1) {
        match common::read_frame(&mut raw) {
            Ok(f) => {
                assert_eq!((f.kind, f.payload.len()), (FrameKind::KeepAlive, 0));
                keepalives += 1;
            }
            Err(e) => assert!(
                matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ),
                "{e}"
            ),
        }
    }
    assert!((3..=12).contains(&keepalives), "{keepalives} keep-alives");
    // The raw peer sends keep-alives for three of alpha's timeouts, then data: alpha's receive
    // waits through them and returns the data only.
    let t = std::thread::spawn(move || {
        for _ in 0..12 {
            std::thread::sleep(Duration::from_millis(100));
            raw.write_all(&encode_frame(FrameKind::KeepAlive, &[]).unwrap())
                .unwrap();
        }
        raw.write_all(&encode_frame(FrameKind::Data, b"payload").unwrap())
            .unwrap();
        raw.flush().unwrap();
        raw
    });
    assert_eq!(alpha.recv(100).unwrap(), b"payload");
    let _raw = t.join().unwrap();
    assert_eq!(alpha.stats().bytes_received, 7);
}

#[test]
fn a_frame_arriving_slowly_is_not_mistaken_for_silence() {
    // The raw peer sends one 3000-byte frame in 100-byte pieces, one every 100 ms: three of
    // alpha's 1 s I/O timeouts pass before the frame is complete, but bytes keep arriving,
    // as with a large frame on a slow link, so alpha waits and gets the frame.
    let (mut alpha, mut raw, _dir) = alpha_and_raw_beta(Duration::from_secs(1));
    let payload: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
    let frame = encode_frame(FrameKind::Data, &payload).unwrap();
    let t = std::thread::spawn(move || {
        for piece in frame.chunks(100) {
            raw.write_all(piece).unwrap();
            raw.flush().unwrap();
            std::thread::sleep(Duration::from_millis(100));
        }
        raw
    });
    let start = Instant::now();
    assert_eq!(alpha.recv(4000).unwrap(), payload);
    assert!(start.elapsed() >= Duration::from_secs(2));
    let _raw = t.join().unwrap();
}

#[test]
fn a_peer_that_sends_too_far_ahead_is_stopped() {
    let (mut a, mut b, _dir) = connected_pair(Duration::from_secs(20));
    a.set_max_queued(48 << 10);
    // Five frames of 16 KiB before alpha reads anything (small enough for the socket buffers):
    // the fourth exceeds alpha's 48 KiB cap, and alpha gets the first three, then the error.
    for _ in 0..5 {
        b.send(&vec![7u8; 16 << 10]).unwrap();
    }
    b.flush().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let mut got = 0;
    let err = loop {
        match a.recv(16 << 10) {
            Ok(frame) => got += frame.len(),
            Err(e) => break e,
        }
    };
    assert_eq!(got, 48 << 10);
    assert!(
        matches!(&err, ChannelError::Protocol { detail, .. } if detail.contains("not read yet")),
        "{err}"
    );
}

#[test]
fn a_small_window_makes_a_far_ahead_sender_wait_instead_of_failing() {
    // Each side first sends everything, then reads: beta sends 3 MiB, alpha 16 KiB. With a
    // 64 KiB window alpha's reader pauses and TCP makes beta's send wait, so alpha never
    // holds more than the window plus socket buffers, far below the 1 MiB cap that would
    // otherwise stop the run.
    let (mut a, mut b, _dir) = connected_pair(Duration::from_secs(20));
    a.set_window(64 << 10);
    a.set_max_queued(1 << 20);
    let big: Vec<u64> = (0..(3u64 << 20) / 8).collect();
    let expected = big.clone();
    let tb = std::thread::spawn(move || {
        for chunk in big.chunks(2048) {
            b.send_u64s(chunk).unwrap();
        }
        let small = b.recv_u64s(2048).unwrap();
        (b, small)
    });
    a.send_u64s(&[9u64; 2048]).unwrap();
    // Give beta time to run far ahead before alpha reads anything.
    std::thread::sleep(Duration::from_millis(300));
    let got = a.recv_u64s(expected.len()).unwrap();
    assert_eq!(got, expected);
    let (_b, small) = tb.join().unwrap();
    assert_eq!(small, vec![9u64; 2048]);
}

#[test]
fn a_write_stalled_by_a_busy_peer_waits_while_its_keepalives_arrive() {
    // beta reads nothing for three of alpha's I/O timeouts (it "computes") with a small
    // receive window, so alpha's 96 MiB send (more than the socket buffers of both sides can
    // hold) stalls under TCP flow control. beta's
    // keep-alives keep arriving on the same channel: alpha's send waits instead of timing out
    // and blaming beta, and completes once beta reads.
    let (mut a, mut b, _dir) = connected_pair(Duration::from_secs(2));
    b.set_window(64 << 10);
    let chunk = vec![5u8; 1 << 20];
    let tb = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(6500));
        let mut got = 0usize;
        for _ in 0..96 {
            let frame = b.recv(1 << 20).unwrap();
            assert!(frame.iter().all(|&x| x == 5));
            got += frame.len();
        }
        (b, got)
    });
    let start = Instant::now();
    for _ in 0..96 {
        a.send(&chunk).unwrap();
    }
    a.flush().unwrap();
    // The send could not have finished before beta started reading.
    assert!(start.elapsed() >= Duration::from_secs(6));
    let (_b, got) = tb.join().unwrap();
    assert_eq!(got, 96 << 20);
}

#[test]
fn an_abort_on_one_channel_stops_the_other_channels_of_the_party() {
    // alpha waits for beta; gamma (which alpha is not talking to) aborts: alpha's receive
    // from beta fails within moments with gamma's reason, and so does a send.
    let dir = tempfile::tempdir().unwrap();
    let names = ["alpha".to_string(), "beta".to_string(), "gamma".to_string()];
    samen_net::generate_certs(&names, dir.path()).unwrap();
    // The stop below comes from gamma's abort (its reason is checked), never from a timeout.
    let cfgs = common::configs(&["alpha", "beta", "gamma"], dir.path(), HANG);
    let mut all: Vec<_> = common::connect_threads(cfgs)
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    let mut gamma = all.pop().unwrap();
    let _beta = all.pop().unwrap();
    let mut alpha = all.pop().unwrap();
    let mut to_beta = alpha.remove("beta").unwrap();
    gamma
        .get_mut("alpha")
        .unwrap()
        .abort(&Abort::from(&StopReason::new(
            "gamma",
            "its input failed validation",
        )));
    let err = to_beta.recv(8).unwrap_err();
    match &err {
        ChannelError::Stopped(r) => {
            assert_eq!(
                (r.party.as_str(), r.reason.as_str()),
                ("gamma", "its input failed validation")
            );
            assert_eq!(r.via.as_deref(), Some("gamma"));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(matches!(to_beta.send(&[1]), Err(ChannelError::Stopped(_))));
    assert_eq!(
        err.to_string(),
        "party 'gamma' stopped: its input failed validation"
    );
}
