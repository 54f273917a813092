//! Auditor transcripts: one JSON line per frame sent or received, never the payload.
//!
//! Each line is `{"step": ..., "peer": ..., "direction": "sent"|"received", "bytes": n,
//! "sha256": hex}`. The step label is shared by all channels of a party and follows the phases
//! of the run (`join`, `sizes`, `shares`, `products`, `comparison`, `open`) and the finer labels
//! the protocols set with [`Channel::set_step`].
//!
//! ```
//! use samen_core::channel::{local_pair, Channel, ChannelExt};
//! use samen_study::transcript::Transcript;
//! let t = Transcript::in_memory();
//! let (a, mut b) = local_pair("alice", "bob");
//! let mut a = t.wrap(a);
//! a.set_step("hello");
//! a.send_u64s(&[1, 2]).unwrap();
//! b.recv_u64s(2).unwrap();
//! let lines = t.lines();
//! assert_eq!(lines.len(), 1);
//! assert!(lines[0].contains("\"direction\":\"sent\"") && lines[0].contains("\"bytes\":16"));
//! ```

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

use samen_core::channel::{Channel, ChannelError, ChannelStats};
use sha2::{Digest, Sha256};

#[derive(Clone)]
enum Sink {
    Memory(Arc<Mutex<Vec<String>>>),
    Writer(Arc<Mutex<Box<dyn Write + Send>>>),
}

/// A transcript shared by all channels of one party.
#[derive(Clone)]
pub struct Transcript {
    sink: Sink,
    step: Arc<Mutex<String>>,
    failed: Arc<Mutex<Option<String>>>,
}

impl std::fmt::Debug for Transcript {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transcript").finish_non_exhaustive()
    }
}

impl Transcript {
    /// A transcript kept in memory (read it with [`Transcript::lines`]).
    pub fn in_memory() -> Transcript {
        Transcript {
            sink: Sink::Memory(Arc::default()),
            step: Arc::new(Mutex::new("start".into())),
            failed: Arc::default(),
        }
    }

    /// A transcript written to `w` (e.g. a buffered file).
    pub fn to_writer(w: Box<dyn Write + Send>) -> Transcript {
        Transcript {
            sink: Sink::Writer(Arc::new(Mutex::new(w))),
            step: Arc::new(Mutex::new("start".into())),
            failed: Arc::default(),
        }
    }

    /// Wrap a channel so that its frames are recorded.
    pub fn wrap<C: Channel>(&self, inner: C) -> TranscriptChannel<C> {
        TranscriptChannel {
            inner,
            t: self.clone(),
        }
    }

    /// Set the step label of the frames that follow (on all channels of this party).
    pub fn set_step(&self, step: &str) {
        let mut s = self.step.lock().unwrap_or_else(PoisonError::into_inner);
        s.clear();
        s.push_str(step);
    }

    /// The lines recorded so far (in-memory transcripts only; empty otherwise).
    pub fn lines(&self) -> Vec<String> {
        match &self.sink {
            Sink::Memory(m) => m.lock().unwrap_or_else(PoisonError::into_inner).clone(),
            Sink::Writer(_) => Vec::new(),
        }
    }

    /// Flush the writer; report the first write error, if any.
    pub fn finish(&self) -> Result<(), std::io::Error> {
        if let Sink::Writer(w) = &self.sink {
            w.lock().unwrap_or_else(PoisonError::into_inner).flush()?;
        }
        match self
            .failed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            Some(e) => Err(std::io::Error::other(e)),
            None => Ok(()),
        }
    }

    fn record(&self, peer: &str, direction: &str, payload: &[u8]) {
        let step = self
            .step
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let line = serde_json::json!({
            "step": step,
            "peer": peer,
            "direction": direction,
            "bytes": payload.len(),
            "sha256": hex::encode(Sha256::digest(payload)),
        })
        .to_string();
        match &self.sink {
            Sink::Memory(m) => m.lock().unwrap_or_else(PoisonError::into_inner).push(line),
            Sink::Writer(w) => {
                let mut w = w.lock().unwrap_or_else(PoisonError::into_inner);
                if let Err(e) = writeln!(w, "{line}") {
                    let mut f = self.failed.lock().unwrap_or_else(PoisonError::into_inner);
                    if f.is_none() {
                        *f = Some(e.to_string());
                    }
                }
            }
        }
    }
}

/// A channel whose frames are recorded in a [`Transcript`].
pub struct TranscriptChannel<C> {
    inner: C,
    t: Transcript,
}

impl<C: Channel> Channel for TranscriptChannel<C> {
    fn peer(&self) -> &str {
        self.inner.peer()
    }

    fn send(&mut self, payload: &[u8]) -> Result<(), ChannelError> {
        self.t.record(self.inner.peer(), "sent", payload);
        self.inner.send(payload)
    }

    fn send_owned(&mut self, payload: Vec<u8>) -> Result<(), ChannelError> {
        self.t.record(self.inner.peer(), "sent", &payload);
        self.inner.send_owned(payload)
    }

    fn recv(&mut self, max_len: usize) -> Result<Vec<u8>, ChannelError> {
        let frame = self.inner.recv(max_len)?;
        self.t.record(self.inner.peer(), "received", &frame);
        Ok(frame)
    }

    fn flush(&mut self) -> Result<(), ChannelError> {
        self.inner.flush()
    }

    fn stats(&self) -> ChannelStats {
        self.inner.stats()
    }

    fn set_step(&mut self, step: &str) {
        self.t.set_step(step);
        self.inner.set_step(step);
    }

    fn abort(&mut self, message: &samen_core::channel::Abort) {
        self.inner.abort(message)
    }

    fn finish(&mut self) -> Result<(), ChannelError> {
        self.inner.finish()
    }
}
