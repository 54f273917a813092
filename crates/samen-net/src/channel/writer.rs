//! The sending half and the keep-alive thread.

use super::*;

/// The sending half, shared by the caller's thread and the keep-alive thread. It is locked for
/// a whole frame, so frames never interleave and ciphertext reaches the socket in the order
/// rustls produced it.
pub(super) struct Writer {
    pub(super) peer: String,
    pub(super) conn: Arc<Mutex<rustls::Connection>>,
    pub(super) sock: TcpStream,
    pub(super) out: Vec<u8>,
    pub(super) io_timeout: Duration,
    pub(super) last_send: Instant,
    /// After a failed send, an abort or the close nothing more may be written.
    pub(super) closed: bool,
    pub(super) stop: StopSignal,
    /// The channel's receive window: lifted while a write is blocked, and the time the peer
    /// was last heard from.
    pub(super) window: Arc<Window>,
}

impl Writer {
    pub(super) fn send_frame(
        &mut self,
        kind: FrameKind,
        payload: &[u8],
    ) -> Result<(), ChannelError> {
        if self.closed {
            return Err(ChannelError::Closed {
                peer: self.peer.clone(),
            });
        }
        let header = frame::encode_header(kind, payload.len())
            .map_err(|e| frame_to_channel(&self.peer, e))?;
        let limit = if kind == FrameKind::Abort {
            CLOSE_TIMEOUT.min(self.io_timeout)
        } else {
            self.io_timeout
        };
        if let Err(e) = self.write_frame(&header, payload, kind != FrameKind::Abort, limit) {
            self.closed = true;
            return Err(e);
        }
        self.last_send = Instant::now();
        Ok(())
    }

    pub(super) fn write_frame(
        &mut self,
        header: &[u8],
        payload: &[u8],
        watch_stop: bool,
        limit: Duration,
    ) -> Result<(), ChannelError> {
        let mut first = true;
        let mut rest = payload;
        loop {
            let take = rest.len().min(SEND_CHUNK);
            let (chunk, tail) = rest.split_at(take);
            self.out.clear();
            {
                let mut conn = self.conn.lock().map_err(|_| lock_failed(&self.peer))?;
                let with_header = [IoSlice::new(header), IoSlice::new(chunk)];
                let without_header = [IoSlice::new(chunk)];
                let parts: &[IoSlice<'_>] = if first { &with_header } else { &without_header };
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
            self.write_out(watch_stop, limit)?;
            first = false;
            rest = tail;
            if rest.is_empty() {
                return Ok(());
            }
        }
    }

    /// Write `self.out` to the socket. The socket's write timeout is [`STOP_POLL`]: a blocked
    /// write lifts the receive window, looks at the stop signal (if `watch_stop`) that often
    /// and fails after `limit` without progress, or (if `watch_stop`, i.e. for data and
    /// keep-alives) after `limit` without progress during which nothing arrived from the peer
    /// either: a peer whose keep-alives keep arriving is alive and will read.
    pub(super) fn write_out(
        &mut self,
        watch_stop: bool,
        limit: Duration,
    ) -> Result<(), ChannelError> {
        let result = self.write_out_inner(watch_stop, limit);
        self.window.set_blocked(false);
        result
    }

    fn write_out_inner(&mut self, watch_stop: bool, limit: Duration) -> Result<(), ChannelError> {
        let mut done = 0;
        let mut progress = Instant::now();
        while done < self.out.len() {
            match self.sock.write(self.out.get(done..).unwrap_or_default()) {
                Ok(0) => {
                    return Err(ChannelError::Closed {
                        peer: self.peer.clone(),
                    })
                }
                Ok(n) => {
                    done += n;
                    progress = Instant::now();
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) =>
                {
                    self.window.set_blocked(true);
                    if watch_stop {
                        self.stop.check()?;
                    }
                    let peer_alive = watch_stop && self.window.heard_within(limit);
                    if progress.elapsed() >= limit && !peer_alive {
                        return Err(ChannelError::Timeout {
                            peer: self.peer.clone(),
                            secs: limit.as_secs(),
                        });
                    }
                }
                Err(e) => return Err(io_to_channel(&self.peer, &e, self.io_timeout)),
            }
        }
        Ok(())
    }

    /// Send the TLS close and shut the sending direction (once).
    pub(super) fn close(&mut self) {
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
            let _ = self.write_out(false, CLOSE_TIMEOUT);
        }
        // Only the sending direction: shutting down reading with unread data would reset the
        // connection and could destroy data the peer has not read yet. The reader thread
        // drains until the peer closes its side.
        let _ = self.sock.shutdown(Shutdown::Write);
    }
}

/// The keep-alive thread: while the channel lives, send an empty keep-alive frame whenever
/// nothing was sent for one interval. Ends when `stop`'s sender is dropped, when the channel
/// is closed, or after a failed write (which also marks the
/// channel closed).
pub(super) fn keep_alive(writer: &Mutex<Writer>, stop: &mpsc::Receiver<()>) {
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
