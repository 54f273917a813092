//! The reader thread: socket → TLS → frames → queue.

use super::*;

/// The background half: socket → TLS → frames → queue.
pub(super) struct Reader {
    pub(super) peer: String,
    pub(super) conn: Arc<Mutex<rustls::Connection>>,
    pub(super) sock: TcpStream,
    pub(super) decoder: FrameDecoder,
    pub(super) tx: mpsc::Sender<Incoming>,
    pub(super) window: Arc<Window>,
    pub(super) stop: StopSignal,
    /// Dropped when the reader ends.
    pub(super) _done: mpsc::Sender<()>,
}

/// What ended the reader.
pub(super) enum Stop {
    /// Peer closed cleanly (TLS close at a frame boundary) or the receiving channel is gone.
    Closed,
    /// Peer sent an abort.
    Aborted,
    /// Anything else, including a connection that ended without a TLS close.
    Failed(ChannelError),
}

impl Reader {
    pub(super) fn run(mut self) {
        let mut raw = vec![0u8; READ_BUF];
        let mut plain = vec![0u8; READ_BUF];
        // Plaintext left in the connection by the set-up phase.
        let mut stop = self.process(&[], &mut plain).err();
        while stop.is_none() {
            self.window.wait_for_room(&self.stop);
            let n = match self.sock.read(&mut raw) {
                // The connection ended without a TLS close: the peer's process ended or the
                // network failed.
                Ok(0) => {
                    stop = Some(Stop::Failed(ChannelError::Closed {
                        peer: self.peer.clone(),
                    }));
                    break;
                }
                Ok(n) => {
                    if let Ok(mut t) = self.window.last_read.lock() {
                        *t = Instant::now();
                    }
                    n
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    stop = Some(Stop::Failed(io_to_channel(&self.peer, &e, Duration::ZERO)));
                    break;
                }
            };
            stop = self
                .process(raw.get(..n).unwrap_or_default(), &mut plain)
                .err();
        }
        if let Some(Stop::Failed(e)) = stop {
            if !self.window.dropped.load(Ordering::SeqCst) {
                self.stop.stop(stop_reason_for(&self.peer, &e));
            }
            let _ = self.tx.send(Incoming::Failed(e));
        }
        // Dropping `tx` makes further receives report `Closed`.
    }

    pub(super) fn eof(&self) -> Stop {
        match self.decoder.finish() {
            Ok(()) => Stop::Closed,
            Err(e) => Stop::Failed(frame_to_channel(&self.peer, e)),
        }
    }

    /// Decrypt `raw` and queue the frames it completes.
    pub(super) fn process(&mut self, mut raw: &[u8], plain: &mut [u8]) -> Result<(), Stop> {
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
                    // TLS close from the peer.
                    Ok(0) => return Err(self.eof()),
                    Ok(k) => self.frames(plain.get(..k).unwrap_or_default())?,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => {
                        return Err(Stop::Failed(io_to_channel(&self.peer, &e, Duration::ZERO)))
                    }
                }
            }
            if raw.is_empty() {
                return Ok(());
            }
        }
    }

    pub(super) fn frames(&mut self, mut bytes: &[u8]) -> Result<(), Stop> {
        while !bytes.is_empty() {
            let (used, frame) = self
                .decoder
                .decode(bytes)
                .map_err(|e| Stop::Failed(frame_to_channel(&self.peer, e)))?;
            bytes = bytes.get(used..).unwrap_or_default();
            let Some(frame) = frame else { continue };
            let item = match frame.kind {
                FrameKind::Data if self.window.dropped.load(Ordering::SeqCst) => continue,
                FrameKind::Data => {
                    let len = frame.payload.len();
                    let queued = self.window.queued.fetch_add(len, Ordering::SeqCst) + len;
                    let max = self.window.max.load(Ordering::SeqCst);
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
                    let message = Abort::receive(&frame.payload);
                    if !self.window.dropped.load(Ordering::SeqCst) {
                        self.stop.stop(message.stop_reason(&self.peer));
                    }
                    let _ = self.tx.send(Incoming::Abort(message));
                    return Err(Stop::Aborted);
                }
                FrameKind::Hello => {
                    return Err(Stop::Failed(ChannelError::Protocol {
                        peer: self.peer.clone(),
                        detail: "unexpected second hello".to_string(),
                    }))
                }
            };
            // After the channel is dropped the reader only drains until the peer closes.
            let _ = self.tx.send(item);
        }
        Ok(())
    }
}
