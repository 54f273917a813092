//! In-process channels: a pair of ends or a full mesh between named parties.

use std::sync::mpsc;
use std::time::Duration;

use super::{
    Abort, Channel, ChannelError, ChannelStats, StopReason, StopSignal, TrafficCounter,
    DEFAULT_TIMEOUT, MAX_FRAME,
};

/// An in-process channel end (one half of [`local_pair`]).
///
/// Each end carries its party's [`StopSignal`] and its peer's: [`Channel::abort`] (and dropping
/// an end while its thread panics) sets the peer party's signal, so a third party that is not
/// talking to the failed one stops too, at its next send or receive on any channel.
pub struct LocalChannel {
    me: String,
    peer: String,
    tx: mpsc::Sender<Frame>,
    rx: mpsc::Receiver<Frame>,
    timeout: Duration,
    traffic: TrafficCounter,
    own_stop: StopSignal,
    peer_stop: StopSignal,
}

enum Frame {
    Data(Vec<u8>),
    /// An encoded [`Abort`] message, decoded by the receiver as a network peer's would be.
    Abort(Vec<u8>),
}

/// How often a waiting in-process receive looks at the stop signal.
const STOP_POLL: Duration = Duration::from_millis(50);

/// Create a connected pair of in-process channels: the first end belongs to party `a` (its peer
/// is `b`), the second to party `b`. Each end has a fresh stop signal (see [`local_mesh`] for
/// shared ones).
pub fn local_pair(a: &str, b: &str) -> (LocalChannel, LocalChannel) {
    local_pair_with(a, b, StopSignal::new(), StopSignal::new())
}

fn local_pair_with(
    a: &str,
    b: &str,
    stop_a: StopSignal,
    stop_b: StopSignal,
) -> (LocalChannel, LocalChannel) {
    let (tx_ab, rx_ab) = mpsc::channel();
    let (tx_ba, rx_ba) = mpsc::channel();
    let end_a = LocalChannel {
        me: a.to_string(),
        peer: b.to_string(),
        tx: tx_ab,
        rx: rx_ba,
        timeout: DEFAULT_TIMEOUT,
        traffic: TrafficCounter::default(),
        own_stop: stop_a.clone(),
        peer_stop: stop_b.clone(),
    };
    let end_b = LocalChannel {
        me: b.to_string(),
        peer: a.to_string(),
        tx: tx_ba,
        rx: rx_ab,
        timeout: DEFAULT_TIMEOUT,
        traffic: TrafficCounter::default(),
        own_stop: stop_b,
        peer_stop: stop_a,
    };
    (end_a, end_b)
}

/// Fully connect `names.len()` in-process parties. Entry `i` of the result holds party
/// `names[i]`'s channels, keyed by peer name. All channels of one party share one
/// [`StopSignal`] (see [`LocalChannel::stop_signal`]).
pub fn local_mesh(names: &[&str]) -> Vec<std::collections::BTreeMap<String, LocalChannel>> {
    let stops: Vec<StopSignal> = names.iter().map(|_| StopSignal::new()).collect();
    let mut out: Vec<std::collections::BTreeMap<String, LocalChannel>> =
        names.iter().map(|_| Default::default()).collect();
    for (i, (a, stop_a)) in names.iter().zip(&stops).enumerate() {
        for (j, (b, stop_b)) in names.iter().zip(&stops).enumerate().skip(i + 1) {
            let (ci, cj) = local_pair_with(a, b, stop_a.clone(), stop_b.clone());
            if let Some(channels) = out.get_mut(i) {
                channels.insert(b.to_string(), ci);
            }
            if let Some(channels) = out.get_mut(j) {
                channels.insert(a.to_string(), cj);
            }
        }
    }
    out
}

impl LocalChannel {
    /// Set how long a receive waits before failing.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// The stop signal of the party this end belongs to.
    pub fn stop_signal(&self) -> StopSignal {
        self.own_stop.clone()
    }

    fn count_send(&mut self, len: usize) {
        self.traffic.on_send(len);
    }

    /// The error for a stopped party, unless the stop came from this channel's own peer (then
    /// its frames sent before the abort are still delivered, followed by the abort).
    fn stopped_elsewhere(&self) -> Result<(), ChannelError> {
        match self.own_stop.reason() {
            Some(r) if r.via.as_deref() != Some(self.peer.as_str()) => {
                Err(ChannelError::Stopped(r))
            }
            _ => Ok(()),
        }
    }
}

impl Channel for LocalChannel {
    fn peer(&self) -> &str {
        &self.peer
    }

    fn send(&mut self, payload: &[u8]) -> Result<(), ChannelError> {
        self.send_owned(payload.to_vec())
    }

    fn send_owned(&mut self, payload: Vec<u8>) -> Result<(), ChannelError> {
        if payload.len() > MAX_FRAME {
            return Err(ChannelError::FrameTooLarge {
                peer: self.peer.clone(),
                len: payload.len(),
                max: MAX_FRAME,
            });
        }
        self.stopped_elsewhere()?;
        self.count_send(payload.len());
        self.tx
            .send(Frame::Data(payload))
            .map_err(|_| ChannelError::Closed {
                peer: self.peer.clone(),
            })
    }

    fn recv(&mut self, max_len: usize) -> Result<Vec<u8>, ChannelError> {
        let start = std::time::Instant::now();
        loop {
            self.stopped_elsewhere()?;
            let left = self.timeout.saturating_sub(start.elapsed());
            return match self.rx.recv_timeout(left.min(STOP_POLL)) {
                Ok(Frame::Data(bytes)) => self.traffic.accept(&self.peer, bytes, max_len),
                Ok(Frame::Abort(bytes)) => Err(ChannelError::PeerAborted {
                    peer: self.peer.clone(),
                    message: Abort::receive(&bytes),
                }),
                Err(mpsc::RecvTimeoutError::Timeout) if !left.is_zero() => continue,
                Err(mpsc::RecvTimeoutError::Timeout) => Err(ChannelError::Timeout {
                    peer: self.peer.clone(),
                    secs: self.timeout.as_secs(),
                }),
                Err(mpsc::RecvTimeoutError::Disconnected) => Err(ChannelError::Closed {
                    peer: self.peer.clone(),
                }),
            };
        }
    }

    fn stats(&self) -> ChannelStats {
        self.traffic.stats()
    }

    fn abort(&mut self, message: &Abort) {
        let bytes = crate::codec::encode_to_vec(message);
        let heard = Abort::receive(&bytes).stop_reason(&self.me);
        let _ = self.tx.send(Frame::Abort(bytes));
        self.peer_stop.stop(heard);
    }
}

impl Drop for LocalChannel {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.peer_stop.stop(StopReason {
                party: self.me.clone(),
                reason: "it ended unexpectedly (its thread panicked)".to_string(),
                via: Some(self.me.clone()),
            });
        }
    }
}
