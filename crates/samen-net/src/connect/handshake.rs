//! One connection's TLS handshake and hello exchange, shared by dialer and listener.

use super::*;

impl Handshaker {
    pub(super) fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    pub(super) fn hello_to(&self, peer: &str) -> Hello {
        Hello {
            version: PROTOCOL_VERSION,
            study_name: self.study_name.clone(),
            study_hash: self.study_hash,
            sender: self.me.clone(),
            receiver: peer.to_string(),
        }
    }

    /// Each handshake has its own deadline: at most [`HANDSHAKE_TIMEOUT`], never past the
    /// set-up deadline (but at least 200 ms).
    pub(super) fn prepare(&self, sock: &TcpStream) -> io::Result<()> {
        sock.set_nonblocking(false)?;
        sock.set_nodelay(true)?;
        let limit = self
            .remaining()
            .min(HANDSHAKE_TIMEOUT)
            .max(Duration::from_millis(200));
        sock.set_read_timeout(Some(limit))?;
        sock.set_write_timeout(Some(limit))
    }

    /// After the TLS handshake: in notify mode, or once this party has stopped, answer with
    /// an abort instead of a hello. Returns whether an abort was sent.
    pub(super) fn abort_instead_of_hello(&self, io: &mut SetupIo, notify: Option<&Abort>) -> bool {
        let message = notify
            .cloned()
            .or_else(|| self.stop.reason().map(|r| Abort::from(&r)));
        if let Some(m) = &message {
            io.send_abort(m);
        }
        message.is_some()
    }
}

/// The error for an abort received from `peer` during set-up: a report that some party
/// stopped, or the peer's own refusal.
pub(super) fn aborted_by(peer: &str, message: Abort) -> NetError {
    match message {
        Abort::Stopped { .. } => NetError::Stopped(message.stop_reason(peer)),
        Abort::Own { reason } => NetError::RefusedByPeer {
            peer: peer.to_string(),
            reason,
        },
    }
}

/// What went wrong on one connection during set-up.
pub(super) enum SetupError {
    Io(io::Error),
    Eof,
    Tls(rustls::Error),
    Frame(frame::FrameError),
    Hello(HelloError),
    Aborted(Abort),
    Unexpected(FrameKind),
}

impl std::fmt::Display for SetupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SetupError::Io(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                write!(f, "timed out during the TLS handshake")
            }
            SetupError::Io(e) => write!(f, "I/O error during the TLS handshake: {e}"),
            SetupError::Eof => write!(f, "connection closed during the TLS handshake"),
            SetupError::Tls(e) => write!(f, "TLS error: {e}"),
            SetupError::Frame(e) => write!(f, "malformed first frame: {e}"),
            SetupError::Hello(e) => write!(f, "{e}"),
            SetupError::Aborted(r) => write!(f, "aborted: {r}"),
            SetupError::Unexpected(k) => write!(f, "expected a hello, got a {k:?} frame"),
        }
    }
}

/// Blocking I/O on a not-yet-shared connection during set-up.
pub(super) struct SetupIo {
    pub(super) conn: rustls::Connection,
    pub(super) sock: TcpStream,
    pub(super) decoder: FrameDecoder,
}

impl SetupIo {
    pub(super) fn flush(&mut self) -> Result<(), SetupError> {
        while self.conn.wants_write() {
            self.conn
                .write_tls(&mut self.sock)
                .map_err(SetupError::Io)?;
        }
        Ok(())
    }

    /// Read once from the socket and process it; on a TLS error, send the alert rustls queued.
    pub(super) fn read_some(&mut self) -> Result<(), SetupError> {
        match self.conn.read_tls(&mut self.sock) {
            Ok(0) => return Err(SetupError::Eof),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(()),
            Err(e) => return Err(SetupError::Io(e)),
        }
        if let Err(e) = self.conn.process_new_packets() {
            let _ = self.flush();
            return Err(SetupError::Tls(e));
        }
        Ok(())
    }

    pub(super) fn handshake(&mut self) -> Result<(), SetupError> {
        while self.conn.is_handshaking() {
            self.flush()?;
            if self.conn.is_handshaking() && self.conn.wants_read() {
                self.read_some()?;
            }
        }
        self.flush()
    }

    pub(super) fn write_frame(
        &mut self,
        kind: FrameKind,
        payload: &[u8],
    ) -> Result<(), SetupError> {
        let bytes = frame::encode_frame(kind, payload).map_err(SetupError::Frame)?;
        self.conn
            .writer()
            .write_all(&bytes)
            .map_err(SetupError::Io)?;
        self.flush()
    }

    pub(super) fn send_abort(&mut self, message: &Abort) {
        let _ = self.write_frame(FrameKind::Abort, &codec::encode_to_vec(message));
        self.conn.send_close_notify();
        let _ = self.flush();
    }

    pub(super) fn read_frame(&mut self) -> Result<frame::Frame, SetupError> {
        let mut plain = [0u8; 4096];
        loop {
            // Decode only as far as the first frame; leave the rest in rustls for the reader
            // thread (the decoder keeps a partial frame).
            loop {
                // Peek: read at most the bytes still missing from the current frame.
                let n = match self.conn.reader().read(&mut plain[..1]) {
                    Ok(0) => return Err(SetupError::Eof),
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(SetupError::Io(e)),
                };
                let (_, frame) = self
                    .decoder
                    .decode(plain.get(..n).unwrap_or_default())
                    .map_err(SetupError::Frame)?;
                if let Some(frame) = frame {
                    return Ok(frame);
                }
            }
            self.read_some()?;
        }
    }

    pub(super) fn exchange_hello(&mut self, peer: &str, ours: &Hello) -> Result<(), SetupError> {
        let bytes = ours.encode().map_err(|e| {
            SetupError::Hello(HelloError::Malformed {
                peer: peer.to_string(),
                detail: e.to_string(),
            })
        })?;
        self.write_frame(FrameKind::Hello, &bytes)?;
        let frame = self.read_frame()?;
        match frame.kind {
            FrameKind::Hello => {}
            FrameKind::Abort => return Err(SetupError::Aborted(Abort::receive(&frame.payload))),
            other => return Err(SetupError::Unexpected(other)),
        }
        let checked = Hello::decode(peer, &frame.payload).and_then(|theirs| ours.check(&theirs));
        if let Err(e) = checked {
            // The peer usually detects the same mismatch itself; the abort makes sure it stops
            // with a reason even when it does not.
            self.send_abort(&Abort::own(&format!(
                "party '{}' refused the hello: {e}",
                ours.sender
            )));
            return Err(SetupError::Hello(e));
        }
        Ok(())
    }
}

/// True if a connected socket is connected to itself.
pub(super) fn is_self_connection(sock: &TcpStream) -> bool {
    matches!((sock.local_addr(), sock.peer_addr()), (Ok(l), Ok(p)) if l == p)
}
