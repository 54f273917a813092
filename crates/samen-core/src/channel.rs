//! The channel abstraction every protocol is written against.
//!
//! A [`Channel`] connects this party to one peer and moves whole messages (frames) of bytes.
//! Implementations: [`LocalChannel`] (in-process, for tests, simulation and the library API) and
//! the TLS transport of `samen-net` (deployment). Typed helpers in [`ChannelExt`] send share
//! vectors and byte blocks as raw little-endian bytes in large frames and control messages
//! through [`crate::codec`]; every receive is bounded by a length the receiver already expects.
//!
//! ```
//! use samen_core::channel::{local_pair, Channel, ChannelExt};
//! let (mut a, mut b) = local_pair("alice", "bob");
//! a.send_u64s(&[1, 2, 3]).unwrap();
//! assert_eq!(b.recv_u64s(3).unwrap(), vec![1, 2, 3]);
//! assert_eq!(a.stats().bytes_sent, 24);
//! ```

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use thiserror::Error;

use crate::codec::{self, CodecError};

/// Hard maximum size of one frame (message) on any channel, in bytes.
pub const MAX_FRAME: usize = 16 << 20;

/// Bulk data is split into frames of at most this many bytes (a multiple of 8 and of 32).
pub const BULK_FRAME: usize = 4 << 20;

/// Default time a receive waits before failing with [`ChannelError::Timeout`].
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// An error on a channel. Peer misbehaviour ([`ChannelError::Protocol`],
/// [`ChannelError::PeerAborted`]) is kept apart from transport failures.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ChannelError {
    /// The peer closed the connection or its process ended.
    #[error("connection to party '{peer}' closed unexpectedly")]
    Closed {
        /// The peer's party name.
        peer: String,
    },
    /// A receive waited longer than the configured timeout.
    #[error("party '{peer}' sent nothing for {secs} s (timeout)")]
    Timeout {
        /// The peer's party name.
        peer: String,
        /// The timeout, in seconds.
        secs: u64,
    },
    /// The peer sent an abort message.
    #[error("party '{peer}' aborted: {reason}")]
    PeerAborted {
        /// The peer's party name.
        peer: String,
        /// The reason the peer gave, passed through [`sanitize_peer_text`] (one line of at
        /// most [`MAX_PEER_TEXT`] printable bytes).
        reason: String,
    },
    /// The peer sent a frame that does not fit the protocol (wrong length, bad encoding,
    /// invalid curve point, ...).
    #[error("party '{peer}' violated the protocol: {detail}")]
    Protocol {
        /// The peer's party name.
        peer: String,
        /// What was wrong.
        detail: String,
    },
    /// A frame was larger than the limit the receiver allows.
    #[error("party '{peer}' sent a frame of {len} bytes, more than the limit of {max} bytes")]
    FrameTooLarge {
        /// The peer's party name.
        peer: String,
        /// Announced or actual length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// An I/O or TLS failure in the transport.
    #[error("transport failure talking to party '{peer}': {detail}")]
    Transport {
        /// The peer's party name.
        peer: String,
        /// What failed.
        detail: String,
    },
    /// This party tried to send a message that cannot be encoded or is too large.
    #[error("cannot send to party '{peer}': {source}")]
    Encode {
        /// The peer's party name.
        peer: String,
        /// The codec error.
        #[source]
        source: CodecError,
    },
    /// The run stopped because some party failed or went away, seen on another channel of
    /// this party (see [`StopSignal`]).
    #[error("{0}")]
    Stopped(StopReason),
}

/// Why a run stopped: the party whose failure started it and a reason in words that may be
/// told to every party (no file paths, line numbers or data; the details stay in the local
/// error of the party that failed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StopReason {
    /// The party that failed, refused or went away.
    pub party: String,
    /// What happened, e.g. "its input failed validation".
    pub reason: String,
    /// The peer this party learned it from; `None` if this party saw it itself.
    pub via: Option<String>,
}

impl StopReason {
    /// A stop noticed by this party itself.
    pub fn new(party: &str, reason: &str) -> StopReason {
        StopReason {
            party: party.to_string(),
            reason: reason.to_string(),
            via: None,
        }
    }

    /// The abort text sent to peers: `party '<party>' stopped: <reason>`.
    pub fn to_wire(&self) -> String {
        format!("party '{}' stopped: {}", self.party, self.reason)
    }

    /// Read an abort text received from `sender`. A text of the form
    /// `party '<x>' stopped: <reason>` names the party that stopped first (possibly relayed
    /// by `sender`); any other text is `sender`'s own reason.
    pub fn from_wire(sender: &str, text: &str) -> StopReason {
        let parsed = text.strip_prefix("party '").and_then(|rest| {
            let (party, reason) = rest.split_once("' stopped: ")?;
            (!party.is_empty() && !party.contains('\'')).then_some((party, reason))
        });
        let (party, reason) = parsed.unwrap_or((sender, text));
        StopReason {
            party: party.to_string(),
            reason: reason.to_string(),
            via: Some(sender.to_string()),
        }
    }
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "party '{}' stopped: {}", self.party, self.reason)?;
        match &self.via {
            Some(via) if *via != self.party => write!(f, " (reported by party '{via}')"),
            _ => Ok(()),
        }
    }
}

/// The "stopped" state shared by all channels of one party: set once, by the first failure
/// any of them sees (a peer's abort, a lost connection) or by the party itself, after which
/// every send and receive on every channel of the party fails at once with
/// [`ChannelError::Stopped`]. Cloning shares the state.
///
/// ```
/// use samen_core::channel::{StopReason, StopSignal};
/// let signal = StopSignal::new();
/// let seen_by_other_channel = signal.clone();
/// assert!(signal.stop(StopReason::new("ttp", "its process ended")));
/// assert!(!signal.stop(StopReason::new("cbs", "later failure")));
/// assert_eq!(seen_by_other_channel.reason().unwrap().party, "ttp");
/// ```
#[derive(Clone, Debug, Default)]
pub struct StopSignal {
    inner: Arc<StopInner>,
}

#[derive(Debug, Default)]
struct StopInner {
    stopped: AtomicBool,
    reason: Mutex<Option<StopReason>>,
}

impl StopSignal {
    /// A signal that is not set.
    pub fn new() -> StopSignal {
        StopSignal::default()
    }

    /// Set the signal; returns false (and keeps the first reason) if it was already set.
    pub fn stop(&self, reason: StopReason) -> bool {
        let mut slot = match self.inner.reason.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        if slot.is_some() {
            return false;
        }
        *slot = Some(reason);
        self.inner.stopped.store(true, Ordering::SeqCst);
        true
    }

    /// True once the signal is set.
    pub fn is_stopped(&self) -> bool {
        self.inner.stopped.load(Ordering::SeqCst)
    }

    /// The first reason, once set.
    pub fn reason(&self) -> Option<StopReason> {
        if !self.is_stopped() {
            return None;
        }
        match self.inner.reason.lock() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// `Err(ChannelError::Stopped)` once the signal is set.
    pub fn check(&self) -> Result<(), ChannelError> {
        match self.reason() {
            Some(r) => Err(ChannelError::Stopped(r)),
            None => Ok(()),
        }
    }
}

/// Most bytes of peer-supplied text (an abort reason, a name in a hello) kept for printing.
pub const MAX_PEER_TEXT: usize = 512;

/// Make text received from a peer safe to print: at most [`MAX_PEER_TEXT`] bytes (cut on a
/// character boundary, ending in `...` when cut), on one line, with every control character
/// (C0, DEL, C1: newlines, tabs, the escape of ANSI terminal sequences) and every invisible
/// formatting or direction-changing character (zero-width, bidi overrides, line and paragraph
/// separators, byte order mark) replaced by `?`. Idempotent.
///
/// Every channel implementation applies it to an abort reason before it enters
/// [`ChannelError::PeerAborted`]; a peer therefore cannot flood logs or rewrite a terminal.
///
/// ```
/// use samen_core::channel::{sanitize_peer_text, MAX_PEER_TEXT};
/// assert_eq!(sanitize_peer_text("bad input\n\x1b[2Jgone"), "bad input??[2Jgone");
/// let long = sanitize_peer_text(&"é".repeat(100_000));
/// assert!(long.len() <= MAX_PEER_TEXT && long.ends_with("..."));
/// ```
pub fn sanitize_peer_text(text: &str) -> String {
    const CUT: &str = "...";
    let mut out = String::with_capacity(text.len().min(MAX_PEER_TEXT));
    for (i, c) in text.char_indices() {
        let c = if is_printable(c) { c } else { '?' };
        if out.len() + c.len_utf8() > MAX_PEER_TEXT - CUT.len() {
            // Only cut if the rest does not fit as it is.
            let rest = text.get(i..).unwrap_or("");
            let rest_len: usize = rest
                .chars()
                .map(|c| if is_printable(c) { c.len_utf8() } else { 1 })
                .sum();
            if out.len() + rest_len > MAX_PEER_TEXT {
                out.push_str(CUT);
                return out;
            }
        }
        out.push(c);
    }
    out
}

/// Whether `c` shows as itself on one line: not a control character and not an invisible
/// formatting or direction-changing character.
fn is_printable(c: char) -> bool {
    !(c.is_control()
        || matches!(c,
            '\u{00AD}'                      // soft hyphen
            | '\u{061C}'                    // Arabic letter mark
            | '\u{180E}'                    // Mongolian vowel separator
            | '\u{200B}'..='\u{200F}'       // zero-width characters, LRM, RLM
            | '\u{2028}'..='\u{202E}'       // line/paragraph separators, bidi embeddings
            | '\u{2060}'..='\u{206F}'       // word joiner, invisible operators, bidi isolates
            | '\u{FEFF}'                    // byte order mark
            | '\u{FFF9}'..='\u{FFFB}')) // interlinear annotations
}

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

/// Traffic accounting shared by every [`Channel`] implementation: payload bytes and frames in
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

/// A bidirectional, message-oriented link from this party to one peer.
///
/// Implementations must bound every receive by `max_len`, fail (never panic) on malformed
/// input from the peer, and count traffic in [`ChannelStats`].
pub trait Channel: Send {
    /// The peer's party name (used in error messages and transcripts).
    fn peer(&self) -> &str;

    /// Send one frame.
    fn send(&mut self, payload: &[u8]) -> Result<(), ChannelError>;

    /// Send one frame that the caller no longer needs (lets in-process channels avoid a copy).
    fn send_owned(&mut self, payload: Vec<u8>) -> Result<(), ChannelError> {
        self.send(&payload)
    }

    /// Receive one frame of at most `max_len` bytes; a longer frame is
    /// [`ChannelError::FrameTooLarge`].
    fn recv(&mut self, max_len: usize) -> Result<Vec<u8>, ChannelError>;

    /// Flush buffered frames to the peer.
    fn flush(&mut self) -> Result<(), ChannelError> {
        Ok(())
    }

    /// Traffic counters so far.
    fn stats(&self) -> ChannelStats;

    /// Label the frames that follow with a protocol step (used by transcripts); no-op by default.
    fn set_step(&mut self, _step: &str) {}

    /// Tell the peer, if still possible, that this party is stopping and why. Best effort:
    /// errors are ignored. The reason must not contain data or identifiers.
    fn abort(&mut self, _reason: &str) {}

    /// End a successful run: tell the peer this party is done and wait until the peer is
    /// done too, so that a peer that fails after this party's last message is still noticed.
    /// `Ok` if the peer ended cleanly; the default (in-process channels) does nothing.
    fn finish(&mut self) -> Result<(), ChannelError> {
        Ok(())
    }
}

impl<C: Channel + ?Sized> Channel for Box<C> {
    fn peer(&self) -> &str {
        (**self).peer()
    }
    fn send(&mut self, payload: &[u8]) -> Result<(), ChannelError> {
        (**self).send(payload)
    }
    fn send_owned(&mut self, payload: Vec<u8>) -> Result<(), ChannelError> {
        (**self).send_owned(payload)
    }
    fn recv(&mut self, max_len: usize) -> Result<Vec<u8>, ChannelError> {
        (**self).recv(max_len)
    }
    fn flush(&mut self) -> Result<(), ChannelError> {
        (**self).flush()
    }
    fn stats(&self) -> ChannelStats {
        (**self).stats()
    }
    fn set_step(&mut self, step: &str) {
        (**self).set_step(step)
    }
    fn abort(&mut self, reason: &str) {
        (**self).abort(reason)
    }
    fn finish(&mut self) -> Result<(), ChannelError> {
        (**self).finish()
    }
}

impl<C: Channel + ?Sized> Channel for &mut C {
    fn peer(&self) -> &str {
        (**self).peer()
    }
    fn send(&mut self, payload: &[u8]) -> Result<(), ChannelError> {
        (**self).send(payload)
    }
    fn send_owned(&mut self, payload: Vec<u8>) -> Result<(), ChannelError> {
        (**self).send_owned(payload)
    }
    fn recv(&mut self, max_len: usize) -> Result<Vec<u8>, ChannelError> {
        (**self).recv(max_len)
    }
    fn flush(&mut self) -> Result<(), ChannelError> {
        (**self).flush()
    }
    fn stats(&self) -> ChannelStats {
        (**self).stats()
    }
    fn set_step(&mut self, step: &str) {
        (**self).set_step(step)
    }
    fn abort(&mut self, reason: &str) {
        (**self).abort(reason)
    }
    fn finish(&mut self) -> Result<(), ChannelError> {
        (**self).finish()
    }
}

/// Typed helpers on every [`Channel`]: bulk vectors as raw little-endian bytes, control
/// messages through [`crate::codec`].
pub trait ChannelExt: Channel {
    /// Send a vector of ring elements as little-endian bytes, split into frames of at most
    /// [`BULK_FRAME`] bytes. Sends nothing for an empty slice.
    fn send_u64s(&mut self, v: &[u64]) -> Result<(), ChannelError> {
        for chunk in v.chunks(BULK_FRAME / 8) {
            let mut bytes = vec![0u8; chunk.len() * 8];
            for (out, x) in bytes.chunks_exact_mut(8).zip(chunk) {
                out.copy_from_slice(&x.to_le_bytes());
            }
            self.send_owned(bytes)?;
        }
        Ok(())
    }

    /// Receive exactly `n` ring elements sent with [`ChannelExt::send_u64s`].
    fn recv_u64s(&mut self, n: usize) -> Result<Vec<u64>, ChannelError> {
        let mut out = Vec::with_capacity(n.min(BULK_FRAME));
        while out.len() < n {
            let want = ((n - out.len()) * 8).min(BULK_FRAME);
            let frame = self.recv(want)?;
            if frame.is_empty() || frame.len() % 8 != 0 {
                return Err(ChannelError::Protocol {
                    peer: self.peer().to_string(),
                    detail: format!(
                        "bulk frame of {} bytes is not a whole number of ring elements",
                        frame.len()
                    ),
                });
            }
            out.extend(
                frame
                    .chunks_exact(8)
                    .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8]))),
            );
        }
        Ok(out)
    }

    /// Send one ring element.
    fn send_u64(&mut self, x: u64) -> Result<(), ChannelError> {
        self.send(&x.to_le_bytes())
    }

    /// Receive one ring element.
    fn recv_u64(&mut self) -> Result<u64, ChannelError> {
        let frame = self.recv(8)?;
        let arr: [u8; 8] = frame
            .as_slice()
            .try_into()
            .map_err(|_| ChannelError::Protocol {
                peer: self.peer().to_string(),
                detail: format!("expected an 8-byte value, got {} bytes", frame.len()),
            })?;
        Ok(u64::from_le_bytes(arr))
    }

    /// Send a block of bytes (e.g. compressed curve points), split into frames of at most
    /// [`BULK_FRAME`] bytes. Sends nothing for an empty slice.
    fn send_bulk(&mut self, bytes: &[u8]) -> Result<(), ChannelError> {
        for chunk in bytes.chunks(BULK_FRAME) {
            self.send(chunk)?;
        }
        Ok(())
    }

    /// Receive exactly `n` bytes sent with [`ChannelExt::send_bulk`].
    fn recv_bulk(&mut self, n: usize) -> Result<Vec<u8>, ChannelError> {
        let mut out = Vec::with_capacity(n.min(BULK_FRAME));
        while out.len() < n {
            let want = (n - out.len()).min(BULK_FRAME);
            let frame = self.recv(want)?;
            if frame.is_empty() {
                return Err(ChannelError::Protocol {
                    peer: self.peer().to_string(),
                    detail: "empty bulk frame".to_string(),
                });
            }
            out.extend_from_slice(&frame);
        }
        Ok(out)
    }

    /// Send a control message through the codec.
    fn send_msg<T: bincode::Encode>(&mut self, msg: &T) -> Result<(), ChannelError> {
        let bytes = codec::encode(msg).map_err(|source| ChannelError::Encode {
            peer: self.peer().to_string(),
            source,
        })?;
        self.send_owned(bytes)
    }

    /// Receive a control message through the codec.
    fn recv_msg<T: bincode::Decode<()>>(&mut self) -> Result<T, ChannelError> {
        let frame = self.recv(codec::MAX_CONTROL_MESSAGE)?;
        codec::decode(&frame).map_err(|e| ChannelError::Protocol {
            peer: self.peer().to_string(),
            detail: e.to_string(),
        })
    }
}

impl<C: Channel + ?Sized> ChannelExt for C {}

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
    Abort(String),
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
    for i in 0..names.len() {
        for j in (i + 1)..names.len() {
            let (ci, cj) = local_pair_with(names[i], names[j], stops[i].clone(), stops[j].clone());
            out[i].insert(names[j].to_string(), ci);
            out[j].insert(names[i].to_string(), cj);
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
                Ok(Frame::Abort(reason)) => Err(ChannelError::PeerAborted {
                    peer: self.peer.clone(),
                    reason: sanitize_peer_text(&reason),
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

    fn abort(&mut self, reason: &str) {
        let _ = self.tx.send(Frame::Abort(reason.to_string()));
        self.peer_stop.stop(StopReason::from_wire(&self.me, reason));
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

#[cfg(test)]
mod tests {
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
}
