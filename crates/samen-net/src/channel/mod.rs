//! [`TlsChannel`]: a full-duplex [`Channel`] over one TLS connection.
//!
//! A background reader thread owns the receiving half of the socket: it reads raw bytes
//! (without holding any lock), then briefly locks the shared rustls connection to decrypt them,
//! parses frames and pushes them into an in-memory queue that [`Channel::recv`] pops with the
//! I/O timeout. [`Channel::send`] encrypts on the caller's thread under the same lock and writes
//! the ciphertext to the socket after releasing it. Neither side ever blocks on the socket
//! while holding the TLS lock, so both parties can send large vectors at the same time.
//!
//! **Keep-alive.** A party may compute for a long time without sending (the helper, say, waits
//! through the whole private join of the data parties). So that a waiting peer can tell "busy"
//! from "gone", a keep-alive thread sends an empty [`FrameKind::KeepAlive`] frame whenever the
//! channel has sent nothing for [`MAX_KEEPALIVE_INTERVAL`] (half a second; a quarter of this side's
//! I/O timeout if that is shorter). The interval does not depend on the peer's settings, so any
//! peer whose I/O timeout is a second or more does not mistake "busy" for "gone". The receiver
//! drops keep-alives and restarts its wait (as it does whenever bytes of a frame arrive, so a
//! large frame on a slow link is not mistaken for silence), so the I/O timeout bounds how long
//! a peer may stay *silent*: it fires when the peer process is hung, gone or unreachable, not
//! while it is alive and computing. Keep-alives are not counted in [`Channel::stats`] and are
//! not protocol messages (transcripts do not list them); they reveal only when a party was not
//! sending, which the TCP traffic shows anyway.
//!
//! **Stop.** All channels of one party share a [`StopSignal`]. A reader thread that sees its
//! peer abort, or its connection end without a TLS close (process killed, network failure),
//! sets it; from then on every send and receive on *every* channel of the party fails at once
//! with the true reason ([`ChannelError::Stopped`] naming the party that stopped), so a party
//! busy with a third party stops within one frame. A waiting receive and a send blocked on a
//! full socket look at the signal every 50 ms. A clean TLS close (the peer finished) does not
//! stop anything.
//!
//! **Backpressure.** The reader stops reading the socket while the frames received but not yet
//! read hold [`DEFAULT_WINDOW`] bytes or more ([`TlsChannel::set_window`]), so TCP flow control
//! makes a sender that runs ahead block instead of growing the receiver's memory. The window
//! is lifted only while a write of this party has made no progress for a poll interval (50
//! ms): then the peer is not reading either, and reading on is what keeps two parties that
//! both send before they receive from deadlocking. A write that progresses means the peer
//! reads, so a peer that merely runs ahead is held at the window whatever the scheduling. A
//! hard cap ([`DEFAULT_MAX_QUEUED`], 1 GiB, or [`TlsChannel::set_max_queued`]) applies while
//! the window is lifted, and a peer exceeding it is reported as [`ChannelError::Protocol`].
//!
//! **A stalled write is not a silent peer.** A write blocked by the peer's full receive window
//! (the peer computes before it reads) waits as long as the peer's keep-alives or data keep
//! arriving on the same channel; it fails with [`ChannelError::Timeout`] only when the write
//! made no progress *and* nothing arrived from the peer for the I/O timeout.

use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use samen_core::channel::{
    Abort, Channel, ChannelError, ChannelStats, StopReason, StopSignal, TrafficCounter, MAX_FRAME,
};

use samen_core::codec;

use crate::frame::{self, FrameDecoder, FrameError, FrameKind};

mod errors;
mod reader;
mod window;
mod writer;

use errors::{frame_to_channel, io_to_channel, lock_failed, stop_reason_for};
use reader::Reader;
use window::Window;
use writer::{keep_alive, Writer};

/// Plaintext encrypted per lock acquisition when sending.
const SEND_CHUNK: usize = 256 << 10;
/// Size of the reader thread's socket and plaintext buffers.
const READ_BUF: usize = 256 << 10;
/// How long `abort` and closing may block on a peer that does not read, and how long a
/// dropped channel keeps draining the peer's last bytes so that closing does not reset the
/// connection under data the peer has not read yet.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);
/// How often a waiting receive, a blocked send and a paused reader look at the stop signal.
const STOP_POLL: Duration = Duration::from_millis(50);
/// Longest pause between keep-alives of an idle channel (shorter for short I/O timeouts: a
/// quarter of the timeout). A peer's I/O timeout must be longer than this, with a margin for
/// scheduling delays on a loaded machine: a few seconds.
pub const MAX_KEEPALIVE_INTERVAL: Duration = Duration::from_millis(500);
/// Default hard cap on bytes received from a peer but not yet read by this party (1 GiB),
/// reached only while a write of this party is blocked (otherwise the window applies).
pub const DEFAULT_MAX_QUEUED: usize = 1 << 30;
/// Default receive window: the reader stops reading the socket while this many bytes of
/// received frames wait to be read (32 MiB).
pub const DEFAULT_WINDOW: usize = 32 << 20;

/// Shortest pause between keep-alives.
const MIN_KEEPALIVE_INTERVAL: Duration = Duration::from_millis(20);

/// The keep-alive interval for an I/O timeout: a quarter of it, within
/// [20 ms, [`MAX_KEEPALIVE_INTERVAL`]].
pub fn keepalive_interval(io_timeout: Duration) -> Duration {
    (io_timeout / 4).clamp(MIN_KEEPALIVE_INTERVAL, MAX_KEEPALIVE_INTERVAL)
}

/// What a peer is told when this party's connection to it ends without a TLS close.
pub(crate) const LOST: &str = "its connection was lost (its process ended or the network failed)";

enum Incoming {
    Data(Vec<u8>),
    KeepAlive,
    Abort(Abort),
    Failed(ChannelError),
}

/// One end of a mutually authenticated TLS connection to a peer, created by
/// [`crate::connect_all`]. Full duplex: sends never wait for the peer to receive, except
/// when the peer's receive window is full (backpressure).
///
/// Dropping the channel sends a TLS close, shuts down the sending direction and drains what
/// the peer still sends for up to two seconds; the peer then sees [`ChannelError::Closed`]
/// once it has read everything sent before.
pub struct TlsChannel {
    peer: String,
    writer: Arc<Mutex<Writer>>,
    rx: mpsc::Receiver<Incoming>,
    io_timeout: Duration,
    traffic: TrafficCounter,
    /// Receive window and queue accounting, shared with the reader.
    window: Arc<Window>,
    /// The party's stop signal, shared by all its channels.
    stop: StopSignal,
    /// Dropping it stops the keep-alive thread at once.
    _keepalive_stop: mpsc::Sender<()>,
    /// Disconnected when the reader thread has ended.
    reader_done: mpsc::Receiver<()>,
}

impl std::fmt::Debug for TlsChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsChannel")
            .field("peer", &self.peer)
            .field("stats", &self.traffic.stats())
            .finish_non_exhaustive()
    }
}

impl TlsChannel {
    /// Wrap an established connection whose handshake and hello exchange are done. `decoder`
    /// holds any partial frame already read during set-up; `stop` is the party's stop signal.
    pub(crate) fn start(
        peer: String,
        mut conn: rustls::Connection,
        sock: TcpStream,
        decoder: FrameDecoder,
        io_timeout: Duration,
        stop: StopSignal,
    ) -> Result<TlsChannel, ChannelError> {
        let io_err = |e: io::Error| ChannelError::Transport {
            peer: peer.clone(),
            detail: e.to_string(),
        };
        sock.set_nodelay(true).map_err(io_err)?;
        sock.set_read_timeout(None).map_err(io_err)?;
        sock.set_write_timeout(Some(STOP_POLL)).map_err(io_err)?;
        conn.set_buffer_limit(None);
        let reader_sock = sock.try_clone().map_err(io_err)?;
        let conn = Arc::new(Mutex::new(conn));
        let (tx, rx) = mpsc::channel();
        let window = Arc::new(Window {
            queued: AtomicUsize::new(0),
            window: AtomicUsize::new(DEFAULT_WINDOW),
            max: AtomicUsize::new(DEFAULT_MAX_QUEUED),
            blocked: AtomicBool::new(false),
            dropped: AtomicBool::new(false),
            last_read: Mutex::new(Instant::now()),
            lock: Mutex::new(()),
            changed: Condvar::new(),
        });
        let (done_tx, reader_done) = mpsc::channel();
        let reader = Reader {
            peer: peer.clone(),
            conn: Arc::clone(&conn),
            sock: reader_sock,
            decoder,
            tx,
            window: Arc::clone(&window),
            stop: stop.clone(),
            _done: done_tx,
        };
        thread::Builder::new()
            .name(format!("samen-net-read-{peer}"))
            .spawn(move || reader.run())
            .map_err(io_err)?;
        let writer = Arc::new(Mutex::new(Writer {
            peer: peer.clone(),
            conn,
            sock,
            out: Vec::with_capacity(SEND_CHUNK + 4096),
            io_timeout,
            last_send: Instant::now(),
            closed: false,
            stop: stop.clone(),
            window: Arc::clone(&window),
        }));
        let (stop_tx, stop_rx) = mpsc::channel();
        let shared = Arc::clone(&writer);
        thread::Builder::new()
            .name(format!("samen-net-keepalive-{peer}"))
            .spawn(move || keep_alive(&shared, &stop_rx))
            .map_err(io_err)?;
        Ok(TlsChannel {
            peer,
            writer,
            rx,
            io_timeout,
            traffic: TrafficCounter::default(),
            window,
            stop,
            _keepalive_stop: stop_tx,
            reader_done,
        })
    }

    /// Set how long a receive waits for a silent peer (one that sends not even keep-alives),
    /// and how long a blocked send waits without progress, before failing with
    /// [`ChannelError::Timeout`]. Also sets this side's keep-alive interval to a quarter of it
    /// if that is under half a second.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.io_timeout = timeout;
        if let Ok(mut w) = self.writer.lock() {
            w.io_timeout = timeout;
        }
    }

    /// Cap the bytes this channel holds received but not yet read while a write of this party
    /// is blocked (default [`DEFAULT_MAX_QUEUED`]); a peer that sends further ahead makes
    /// the next receives fail with [`ChannelError::Protocol`].
    pub fn set_max_queued(&mut self, bytes: usize) {
        self.window.max.store(bytes, Ordering::SeqCst);
    }

    /// Set the receive window (default [`DEFAULT_WINDOW`]): while received frames of at least
    /// this many bytes wait to be read, and no write of this party is blocked, the
    /// reader stops reading the socket and the peer's sends block.
    pub fn set_window(&mut self, bytes: usize) {
        self.window.window.store(bytes.max(1), Ordering::SeqCst);
        self.window.notify();
    }

    /// The stop signal shared by all channels of this party (see the module documentation).
    pub fn stop_signal(&self) -> StopSignal {
        self.stop.clone()
    }

    fn lock_writer(&self) -> Result<std::sync::MutexGuard<'_, Writer>, ChannelError> {
        self.writer.lock().map_err(|_| lock_failed(&self.peer))
    }

    /// The error to report if the party has stopped. A stop that came from this channel's
    /// own peer is reported as that peer's abort or failure (after the frames it sent before,
    /// when receiving).
    fn stopped(&mut self, receiving: bool) -> Result<(), ChannelError> {
        match self.stop.reason() {
            None => Ok(()),
            Some(r) if r.via.as_deref() == Some(self.peer.as_str()) => {
                if receiving {
                    Ok(())
                } else {
                    Err(self.explain_send_failure(ChannelError::Stopped(r)))
                }
            }
            Some(r) => Err(ChannelError::Stopped(r)),
        }
    }

    fn send_frame(&mut self, kind: FrameKind, payload: &[u8]) -> Result<(), ChannelError> {
        let result = self
            .lock_writer()
            .and_then(|mut w| w.send_frame(kind, payload));
        result.map_err(|e| self.explain_send_failure(e))
    }

    /// True if the reader got bytes from the peer after `since` (part of a frame counts).
    fn heard_since(&self, since: Instant) -> bool {
        self.window.last_heard().is_some_and(|t| t > since)
    }

    /// A send failed (typically because the peer went away): if the peer's abort already
    /// arrived, report that instead, since it names the real cause. The channel is unusable
    /// after a failed send, so queued frames may be discarded.
    fn explain_send_failure(&mut self, e: ChannelError) -> ChannelError {
        while let Ok(item) = self.rx.try_recv() {
            match item {
                Incoming::Abort(message) => {
                    return ChannelError::PeerAborted {
                        peer: self.peer.clone(),
                        message,
                    }
                }
                Incoming::Failed(failed) => return failed,
                Incoming::Data(_) | Incoming::KeepAlive => {}
            }
        }
        match (&e, self.stop.reason()) {
            (ChannelError::Stopped(_), _) => e,
            // The socket broke because the party stopped: report why it stopped.
            (_, Some(r)) => ChannelError::Stopped(r),
            _ => e,
        }
    }
}

impl Channel for TlsChannel {
    fn peer(&self) -> &str {
        &self.peer
    }

    fn send(&mut self, payload: &[u8]) -> Result<(), ChannelError> {
        if payload.len() > MAX_FRAME {
            return Err(ChannelError::FrameTooLarge {
                peer: self.peer.clone(),
                len: payload.len(),
                max: MAX_FRAME,
            });
        }
        self.stopped(false)?;
        self.send_frame(FrameKind::Data, payload)?;
        self.traffic.on_send(payload.len());
        Ok(())
    }

    fn recv(&mut self, max_len: usize) -> Result<Vec<u8>, ChannelError> {
        let mut waiting_since = Instant::now();
        loop {
            self.stopped(true)?;
            let left = self.io_timeout.saturating_sub(waiting_since.elapsed());
            return match self.rx.recv_timeout(left.min(STOP_POLL)) {
                Ok(Incoming::Data(bytes)) => {
                    self.window.queued.fetch_sub(bytes.len(), Ordering::SeqCst);
                    self.window.notify();
                    self.traffic.accept(&self.peer, bytes, max_len)
                }
                // The peer is alive: wait a full timeout again.
                Ok(Incoming::KeepAlive) => {
                    waiting_since = Instant::now();
                    continue;
                }
                Ok(Incoming::Abort(message)) => Err(ChannelError::PeerAborted {
                    peer: self.peer.clone(),
                    message,
                }),
                Ok(Incoming::Failed(e)) => Err(e),
                Err(mpsc::RecvTimeoutError::Timeout) if !left.is_zero() => continue,
                // Bytes of a frame still arriving (a large frame on a slow link): alive.
                Err(mpsc::RecvTimeoutError::Timeout) if self.heard_since(waiting_since) => {
                    waiting_since = self.window.last_heard().unwrap_or_else(Instant::now);
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Timeout) => Err(ChannelError::Timeout {
                    peer: self.peer.clone(),
                    secs: self.io_timeout.as_secs(),
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
        if let Ok(mut w) = self.writer.lock() {
            let _ = w.send_frame(FrameKind::Abort, &codec::encode_to_vec(message));
            w.closed = true;
        }
    }

    /// Send the TLS close, then wait until the peer closes too (its keep-alives reset the
    /// I/O timeout meanwhile). Data from the peer after this party's end is a protocol
    /// violation; an abort, a lost connection or the party's stop is reported as such.
    fn finish(&mut self) -> Result<(), ChannelError> {
        if let Ok(mut w) = self.writer.lock() {
            w.close();
        }
        let mut waiting_since = Instant::now();
        loop {
            self.stopped(true)?;
            let left = self.io_timeout.saturating_sub(waiting_since.elapsed());
            match self.rx.recv_timeout(left.min(STOP_POLL)) {
                Ok(Incoming::Data(_)) => {
                    return Err(ChannelError::Protocol {
                        peer: self.peer.clone(),
                        detail: "it sent data after this party's last step".to_string(),
                    })
                }
                Ok(Incoming::KeepAlive) => waiting_since = Instant::now(),
                Ok(Incoming::Abort(message)) => {
                    return Err(ChannelError::PeerAborted {
                        peer: self.peer.clone(),
                        message,
                    })
                }
                Ok(Incoming::Failed(e)) => return Err(e),
                Err(mpsc::RecvTimeoutError::Timeout) if !left.is_zero() => {}
                Err(mpsc::RecvTimeoutError::Timeout) if self.heard_since(waiting_since) => {
                    waiting_since = self.window.last_heard().unwrap_or_else(Instant::now);
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    return Err(ChannelError::Timeout {
                        peer: self.peer.clone(),
                        secs: self.io_timeout.as_secs(),
                    })
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(()),
            }
        }
    }
}

impl Drop for TlsChannel {
    fn drop(&mut self) {
        if thread::panicking() {
            self.abort(&Abort::own("it ended unexpectedly (a thread panicked)"));
        }
        if let Ok(mut w) = self.writer.lock() {
            w.close();
        }
        self.window.dropped.store(true, Ordering::SeqCst);
        self.window.notify();
        // Let the reader drain the peer's last bytes until the peer closes too or has been
        // quiet for a moment (it stops its keep-alives when it sees the close), so that
        // closing the socket does not reset the connection under data the peer still reads.
        let start = Instant::now();
        while start.elapsed() < CLOSE_TIMEOUT {
            match self.reader_done.recv_timeout(STOP_POLL) {
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                _ => return,
            }
            let quiet = self
                .window
                .last_read
                .lock()
                .map(|t| t.elapsed() >= 2 * STOP_POLL)
                .unwrap_or(true);
            if quiet {
                return;
            }
        }
    }
}
