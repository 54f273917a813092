//! Traffic accounting of a channel.

use super::ChannelError;

/// Traffic counters of one channel.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChannelStats {
    /// Payload bytes sent.
    pub bytes_sent: u64,
    /// Payload bytes received.
    pub bytes_received: u64,
    /// Frames sent.
    pub messages_sent: u64,
    /// Frames received.
    pub messages_received: u64,
    /// Communication rounds: the number of times this party started sending after having
    /// received (the first send counts as a round).
    pub rounds: u64,
}

/// Traffic accounting shared by every [`Channel`](super::Channel) implementation: payload bytes and frames in
/// each direction, and rounds (a round starts with the first send after a receive).
#[derive(Clone, Copy, Debug, Default)]
pub struct TrafficCounter {
    stats: ChannelStats,
    recv_since_send: bool,
}

impl TrafficCounter {
    /// Account for one frame of `len` payload bytes sent.
    pub fn on_send(&mut self, len: usize) {
        if self.stats.messages_sent == 0 || self.recv_since_send {
            self.stats.rounds += 1;
        }
        self.recv_since_send = false;
        self.stats.bytes_sent += len as u64;
        self.stats.messages_sent += 1;
    }

    /// Accept one received frame from `peer`: a frame longer than the receiver's bound
    /// `max_len` is [`ChannelError::FrameTooLarge`] (and not counted); otherwise it is counted
    /// and returned.
    pub fn accept(
        &mut self,
        peer: &str,
        bytes: Vec<u8>,
        max_len: usize,
    ) -> Result<Vec<u8>, ChannelError> {
        if bytes.len() > max_len {
            return Err(ChannelError::FrameTooLarge {
                peer: peer.to_string(),
                len: bytes.len(),
                max: max_len,
            });
        }
        self.on_recv(bytes.len());
        Ok(bytes)
    }

    /// Account for one frame of `len` payload bytes received.
    pub fn on_recv(&mut self, len: usize) {
        self.recv_since_send = true;
        self.stats.bytes_received += len as u64;
        self.stats.messages_received += 1;
    }

    /// The counters so far.
    pub fn stats(&self) -> ChannelStats {
        self.stats
    }
}
