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
//! peer whose I/O timeout is a second or more does not mistake "busy" for "gone". The receiver drops keep-alives and restarts its wait, so the I/O
//! timeout bounds how long a peer may stay *silent*: it fires when the peer process is hung,
//! gone or unreachable, not while it is alive and computing. Keep-alives are not counted in
//! [`Channel::stats`] and are not protocol messages (transcripts do not list them); they reveal
//! only when a party was not sending, which the TCP traffic shows anyway.
//!
//! The queue is not bounded in frames (a bound would deadlock two parties that both send
//! before they receive); each frame is at most [`MAX_FRAME`] bytes and the protocols bound how
//! much a peer may send before it must wait for an answer (a few frames). As a safety net the
//! bytes received but not yet read are capped ([`DEFAULT_MAX_QUEUED`], 1 GiB, or
//! [`TlsChannel::set_max_queued`]): a peer that sends more than that ahead is a protocol
//! violation, reported as [`ChannelError::Protocol`] instead of exhausting this party's memory.

use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use samen_core::channel::{Channel, ChannelError, ChannelStats, TrafficCounter, MAX_FRAME};

use crate::frame::{self, FrameDecoder, FrameError, FrameKind};

/// Plaintext encrypted per lock acquisition when sending.
const SEND_CHUNK: usize = 256 << 10;
/// Size of the reader thread's socket and plaintext buffers.
const READ_BUF: usize = 256 << 10;
/// Longest abort reason sent, in bytes.
const MAX_REASON: usize = 1024;
/// How long `abort` and closing may block on a peer that does not read.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);
/// Longest pause between keep-alives of an idle channel (shorter for short I/O timeouts: a
/// quarter of the timeout). A peer's I/O timeout must be longer than this, with a margin for
/// scheduling delays on a loaded machine: a few seconds.
pub const MAX_KEEPALIVE_INTERVAL: Duration = Duration::from_millis(500);
/// Default cap on bytes received from a peer but not yet read by this party (1 GiB).
pub const DEFAULT_MAX_QUEUED: usize = 1 << 30;

/// Shortest pause between keep-alives.
const MIN_KEEPALIVE_INTERVAL: Duration = Duration::from_millis(20);

/// The keep-alive interval for an I/O timeout: a quarter of it, within
/// [20 ms, [`MAX_KEEPALIVE_INTERVAL`]].
pub fn keepalive_interval(io_timeout: Duration) -> Duration {
    (io_timeout / 4).clamp(MIN_KEEPALIVE_INTERVAL, MAX_KEEPALIVE_INTERVAL)
}

enum Incoming {
    Data(Vec<u8>),
    KeepAlive,
    Abort(String),
    Failed(ChannelError),
}

/// One end of a mutually authenticated TLS connection to a peer, created by
/// [`crate::connect_all`]. Full duplex: sends never wait for the peer to receive.
///
/// Dropping the channel sends a TLS close and shuts down the sending direction; the peer then
/// sees [`ChannelError::Closed`] once it has read everything sent before.
pub struct TlsChannel {
    peer: String,
    writer: Arc<Mutex<Writer>>,
    rx: mpsc::Receiver<Incoming>,
    io_timeout: Duration,
    traffic: TrafficCounter,
    /// Bytes queued by the reader and not yet read, and the cap on them.
    queue: Arc<QueueBudget>,
    /// Dropping it stops the keep-alive thread at once.
    _keepalive_stop: mpsc::Sender<()>,
}

/// Shared between the reader thread (which adds) and [`Channel::recv`] (which subtracts).
#[derive(Debug)]
struct QueueBudget {
    queued: std::sync::atomic::AtomicUsize,
    max: std::sync::atomic::AtomicUsize,
}

/// The sending half, shared by the caller's thread and the keep-alive thread. It is locked for
/// a whole frame, so frames never interleave and ciphertext reaches the socket in the order
/// rustls produced it.
struct Writer {
    peer: String,
    conn: Arc<Mutex<rustls::Connection>>,
    sock: TcpStream,
    out: Vec<u8>,
    io_timeout: Duration,
    last_send: Instant,
    /// After a failed send, an abort or the close nothing more may be written.
    closed: bool,
}

impl std::fmt::Debug for TlsChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsChannel")
            .field("peer", &self.peer)
            .field("stats", &self.traffic.stats())
            .finish_non_exhaustive()
    }
}

fn lock_failed(peer: &str) -> ChannelError {
    ChannelError::Transport {
        peer: peer.to_string(),
        detail: "TLS state lock poisoned (a thread panicked)".to_string(),
    }
}

fn io_to_channel(peer: &str, e: &io::Error, timeout: Duration) -> ChannelError {
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

fn frame_to_channel(peer: &str, e: FrameError) -> ChannelError {
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

impl TlsChannel {
    /// Wrap an established connection whose handshake and hello exchange are done. `decoder`
    /// holds any partial frame already read during set-up.
    pub(crate) fn start(
        peer: String,
        mut conn: rustls::Connection,
        sock: TcpStream,
        decoder: FrameDecoder,
        io_timeout: Duration,
    ) -> Result<TlsChannel, ChannelError> {
        let io_err = |e: io::Error| ChannelError::Transport {
            peer: peer.clone(),
            detail: e.to_string(),
        };
        sock.set_nodelay(true).map_err(io_err)?;
        sock.set_read_timeout(None).map_err(io_err)?;
        sock.set_write_timeout(Some(io_timeout)).map_err(io_err)?;
        conn.set_buffer_limit(None);
        let reader_sock = sock.try_clone().map_err(io_err)?;
        let conn = Arc::new(Mutex::new(conn));
        let (tx, rx) = mpsc::channel();
        let queue = Arc::new(QueueBudget {
            queued: std::sync::atomic::AtomicUsize::new(0),
            max: std::sync::atomic::AtomicUsize::new(DEFAULT_MAX_QUEUED),
        });
        let reader = Reader {
            peer: peer.clone(),
            conn: Arc::clone(&conn),
            sock: reader_sock,
            decoder,
            tx,
            queue: Arc::clone(&queue),
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
            queue,
            _keepalive_stop: stop_tx,
        })
    }

    /// Set how long a receive waits for a silent peer (one that sends not even keep-alives),
    /// and how long a blocked send waits, before failing with [`ChannelError::Timeout`]. Also
    /// sets this side's keep-alive interval to a quarter of it if that is under half a second.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.io_timeout = timeout;
        if let Ok(mut w) = self.writer.lock() {
            w.io_timeout = timeout;
            let _ = w.sock.set_write_timeout(Some(timeout));
        }
    }

    /// Cap the bytes this channel holds received but not yet read (default
    /// [`DEFAULT_MAX_QUEUED`]); a peer that sends further ahead makes the next receives fail
    /// with [`ChannelError::Protocol`]. Raise it only for own protocols that send more than
    /// 1 GiB before waiting for an answer.
    pub fn set_max_queued(&mut self, bytes: usize) {
        self.queue
            .max
            .store(bytes, std::sync::atomic::Ordering::Relaxed);
    }

    fn lock_writer(&self) -> Result<std::sync::MutexGuard<'_, Writer>, ChannelError> {
        self.writer.lock().map_err(|_| lock_failed(&self.peer))
    }

    fn send_frame(&mut self, kind: FrameKind, payload: &[u8]) -> Result<(), ChannelError> {
        let result = self.lock_writer()?.send_frame(kind, payload);
        result.map_err(|e| self.explain_send_failure(e))
    }

    /// A send failed (typically because the peer went away): if the peer's abort already
    /// arrived, report that instead, since it names the real cause. The channel is unusable
    /// after a failed send, so queued frames may be discarded.
    fn explain_send_failure(&mut self, e: ChannelError) -> ChannelError {
        while let Ok(item) = self.rx.try_recv() {
            if let Incoming::Abort(reason) = item {
                return ChannelError::PeerAborted {
                    peer: self.peer.clone(),
                    reason,
                };
            }
        }
        e
    }
}

impl Writer {
    fn send_frame(&mut self, kind: FrameKind, payload: &[u8]) -> Result<(), ChannelError> {
        if self.closed {
            return Err(ChannelError::Closed {
                peer: self.peer.clone(),
            });
        }
        let header = frame::encode_header(kind, payload.len())
            .map_err(|e| frame_to_channel(&self.peer, e))?;
        if let Err(e) = self.write_frame(&header, payload) {
            self.closed = true;
            return Err(e);
        }
        self.last_send = Instant::now();
        Ok(())
    }

    fn write_frame(&mut self, header: &[u8], payload: &[u8]) -> Result<(), ChannelError> {
        let mut first = true;
        let mut rest = payload;
        loop {
            let take = rest.len().min(SEND_CHUNK);
            let (chunk, tail) = rest.split_at(take);
            self.out.clear();
            {
                let mut conn = self.conn.lock().map_err(|_| lock_failed(&self.peer))?;
                let mut parts: &[IoSlice<'_>] = &[IoSlice::new(header), IoSlice::new(chunk)];
                if !first {
                    parts = &parts[1..];
                }
                let want: usize = parts.iter().map(|p| p.len()).sum();
                let written = conn
                    .writer()
                    .write_vectored(parts)
                    .map_err(|e| io_to_channel(&self.peer, &e, self.io_timeout))?;
                if written != want {
                    return Err(ChannelError::Transport {
                        peer: self.peer.clone(),
                        detail: format!("TLS layer accepted {written} of {want} bytes"),
                    });
                }
                while conn.wants_write() {
                    conn.write_tls(&mut self.out)
                        .map_err(|e| io_to_channel(&self.peer, &e, self.io_timeout))?;
                }
            }
            self.sock
                .write_all(&self.out)
                .map_err(|e| io_to_channel(&self.peer, &e, self.io_timeout))?;
            first = false;
            rest = tail;
            if rest.is_empty() {
                return Ok(());
            }
        }
    }

    /// Send the TLS close and shut the sending direction (once).
    fn close(&mut self) {
        let _ = self.sock.set_write_timeout(Some(CLOSE_TIMEOUT));
        if !self.closed {
            self.closed = true;
            self.out.clear();
            if let Ok(mut conn) = self.conn.lock() {
                conn.send_close_notify();
                while conn.wants_write() {
                    if conn.write_tls(&mut self.out).is_err() {
                        break;
                    }
                }
            }
            let _ = self.sock.write_all(&self.out);
        }
        // Only the sending direction: shutting down reading with unread data would reset the
        // connection and could destroy data the peer has not read yet. The reader thread ends
        // when the peer closes its side.
        let _ = self.sock.shutdown(Shutdown::Write);
    }
}

/// The keep-alive thread: while the channel lives, send an empty keep-alive frame whenever
/// nothing was sent for one interval. Ends when `stop`'s sender is dropped, when the channel
/// is closed, or after a failed write (which also marks the channel closed).
fn keep_alive(writer: &Mutex<Writer>, stop: &mpsc::Receiver<()>) {
    loop {
        let interval = match writer.lock() {
            Ok(w) if !w.closed => keepalive_interval(w.io_timeout),
            _ => return,
        };
        match stop.recv_timeout(interval) {
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            _ => return,
        }
        let Ok(mut w) = writer.lock() else { return };
        if w.closed {
            return;
        }
        if w.last_send.elapsed() >= interval && w.send_frame(FrameKind::KeepAlive, &[]).is_err() {
            return;
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
        self.send_frame(FrameKind::Data, payload)?;
        self.traffic.on_send(payload.len());
        Ok(())
    }

    fn recv(&mut self, max_len: usize) -> Result<Vec<u8>, ChannelError> {
        loop {
            return match self.rx.recv_timeout(self.io_timeout) {
                Ok(Incoming::Data(bytes)) => {
                    self.queue
                        .queued
                        .fetch_sub(bytes.len(), std::sync::atomic::Ordering::Relaxed);
                    self.traffic.accept(&self.peer, bytes, max_len)
                }
                // The peer is alive: wait a full timeout again.
                Ok(Incoming::KeepAlive) => continue,
                Ok(Incoming::Abort(reason)) => Err(ChannelError::PeerAborted {
                    peer: self.peer.clone(),
                    reason,
                }),
                Ok(Incoming::Failed(e)) => Err(e),
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

    fn abort(&mut self, reason: &str) {
        let mut end = reason.len().min(MAX_REASON);
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        if let Ok(mut w) = self.writer.lock() {
            let _ = w.sock.set_write_timeout(Some(CLOSE_TIMEOUT));
            let _ = w.send_frame(FrameKind::Abort, &reason.as_bytes()[..end]);
            w.closed = true;
        }
    }
}

impl Drop for TlsChannel {
    fn drop(&mut self) {
        if let Ok(mut w) = self.writer.lock() {
            w.close();
        }
    }
}

/// The background half: socket → TLS → frames → queue.
struct Reader {
    peer: String,
    conn: Arc<Mutex<rustls::Connection>>,
    sock: TcpStream,
    decoder: FrameDecoder,
    tx: mpsc::Sender<Incoming>,
    queue: Arc<QueueBudget>,
}

/// What ended the reader.
enum Stop {
    /// Peer closed (EOF, close_notify or reset) or the receiving channel is gone.
    Closed,
    /// Peer sent an abort.
    Aborted,
    /// Anything else.
    Failed(ChannelError),
}

impl Reader {
    fn run(mut self) {
        let mut raw = vec![0u8; READ_BUF];
        let mut plain = vec![0u8; READ_BUF];
        // Plaintext left in the connection by the set-up phase.
        let mut stop = self.process(&[], &mut plain).err();
        while stop.is_none() {
            let n = match self.sock.read(&mut raw) {
                Ok(0) => {
                    stop = Some(self.eof());
                    break;
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    stop = Some(match io_to_channel(&self.peer, &e, Duration::ZERO) {
                        ChannelError::Closed { .. } => self.eof(),
                        other => Stop::Failed(other),
                    });
                    break;
                }
            };
            stop = self.process(&raw[..n], &mut plain).err();
        }
        if let Some(Stop::Failed(e)) = stop {
            let _ = self.tx.send(Incoming::Failed(e));
        }
        // Dropping `tx` makes further receives report `Closed`.
    }

    fn eof(&self) -> Stop {
        match self.decoder.finish() {
            Ok(()) => Stop::Closed,
            Err(e) => Stop::Failed(frame_to_channel(&self.peer, e)),
        }
    }

    /// Decrypt `raw` and queue the frames it completes.
    fn process(&mut self, mut raw: &[u8], plain: &mut [u8]) -> Result<(), Stop> {
        let shared = Arc::clone(&self.conn);
        let mut conn = shared
            .lock()
            .map_err(|_| Stop::Failed(lock_failed(&self.peer)))?;
        loop {
            if !raw.is_empty() {
                conn.read_tls(&mut raw).map_err(|e| {
                    Stop::Failed(ChannelError::Transport {
                        peer: self.peer.clone(),
                        detail: e.to_string(),
                    })
                })?;
                conn.process_new_packets().map_err(|e| {
                    Stop::Failed(ChannelError::Transport {
                        peer: self.peer.clone(),
                        detail: format!("TLS error: {e}"),
                    })
                })?;
            }
            loop {
                match conn.reader().read(plain) {
                    Ok(0) => return Err(self.eof()),
                    Ok(k) => self.frames(&plain[..k])?,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => {
                        return Err(match io_to_channel(&self.peer, &e, Duration::ZERO) {
                            ChannelError::Closed { .. } => self.eof(),
                            other => Stop::Failed(other),
                        })
                    }
                }
            }
            if raw.is_empty() {
                return Ok(());
            }
        }
    }

    fn frames(&mut self, mut bytes: &[u8]) -> Result<(), Stop> {
        while !bytes.is_empty() {
            let (used, frame) = self
                .decoder
                .decode(bytes)
                .map_err(|e| Stop::Failed(frame_to_channel(&self.peer, e)))?;
            bytes = &bytes[used..];
            let Some(frame) = frame else { continue };
            let item = match frame.kind {
                FrameKind::Data => {
                    use std::sync::atomic::Ordering::Relaxed;
                    let len = frame.payload.len();
                    let queued = self.queue.queued.fetch_add(len, Relaxed) + len;
                    let max = self.queue.max.load(Relaxed);
                    if queued > max {
                        return Err(Stop::Failed(ChannelError::Protocol {
                            peer: self.peer.clone(),
                            detail: format!(
                                "it sent more than {} KiB that this party has not read yet \
                                 (no samen protocol sends that far ahead)",
                                max >> 10
                            ),
                        }));
                    }
                    Incoming::Data(frame.payload)
                }
                FrameKind::KeepAlive => Incoming::KeepAlive,
                FrameKind::Abort => {
                    let reason = String::from_utf8_lossy(&frame.payload).into_owned();
                    let _ = self.tx.send(Incoming::Abort(reason));
                    return Err(Stop::Aborted);
                }
                FrameKind::Hello => {
                    return Err(Stop::Failed(ChannelError::Protocol {
                        peer: self.peer.clone(),
                        detail: "unexpected second hello".to_string(),
                    }))
                }
            };
            if self.tx.send(item).is_err() {
                return Err(Stop::Closed);
            }
        }
        Ok(())
    }
}
