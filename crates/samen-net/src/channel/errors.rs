//! Transport failures as channel errors, and the reasons told to the other parties.

use super::*;

pub(super) fn lock_failed(peer: &str) -> ChannelError {
    ChannelError::Transport {
        peer: peer.to_string(),
        detail: "TLS state lock poisoned (a thread panicked)".to_string(),
    }
}

pub(super) fn io_to_channel(peer: &str, e: &io::Error, timeout: Duration) -> ChannelError {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => ChannelError::Timeout {
            peer: peer.to_string(),
            secs: timeout.as_secs(),
        },
        io::ErrorKind::BrokenPipe
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::UnexpectedEof
        | io::ErrorKind::NotConnected => ChannelError::Closed {
            peer: peer.to_string(),
        },
        _ => ChannelError::Transport {
            peer: peer.to_string(),
            detail: e.to_string(),
        },
    }
}

pub(super) fn frame_to_channel(peer: &str, e: FrameError) -> ChannelError {
    match e {
        FrameError::TooLarge { len, max, .. } => ChannelError::FrameTooLarge {
            peer: peer.to_string(),
            len,
            max,
        },
        other => ChannelError::Protocol {
            peer: peer.to_string(),
            detail: other.to_string(),
        },
    }
}

/// What the other parties are told when the channel to `peer` failed with `e`.
pub(super) fn stop_reason_for(peer: &str, e: &ChannelError) -> StopReason {
    let reason = match e {
        ChannelError::Closed { .. } | ChannelError::Timeout { .. } => LOST,
        ChannelError::Transport { .. } => "its connection failed (TLS or I/O error)",
        _ => "it violated the protocol",
    };
    StopReason {
        party: peer.to_string(),
        reason: reason.to_string(),
        via: Some(peer.to_string()),
    }
}
