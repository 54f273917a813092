//! A recording channel shared by the leakage tests.

use samen_core::channel::{Channel, ChannelError, ChannelStats, LocalChannel};

/// A channel that records every frame it sends and receives, labelled with the current step.
pub struct Recorder {
    /// The wrapped channel.
    pub inner: LocalChannel,
    /// The current step label.
    pub step: String,
    /// Frames received, with their step.
    pub received: Vec<(String, Vec<u8>)>,
    /// Frames sent, with their step.
    pub sent: Vec<(String, Vec<u8>)>,
}

impl Channel for Recorder {
    fn peer(&self) -> &str {
        self.inner.peer()
    }
    fn send(&mut self, payload: &[u8]) -> Result<(), ChannelError> {
        self.send_owned(payload.to_vec())
    }
    fn send_owned(&mut self, payload: Vec<u8>) -> Result<(), ChannelError> {
        self.sent.push((self.step.clone(), payload.clone()));
        self.inner.send_owned(payload)
    }
    fn recv(&mut self, max_len: usize) -> Result<Vec<u8>, ChannelError> {
        let f = self.inner.recv(max_len)?;
        self.received.push((self.step.clone(), f.clone()));
        Ok(f)
    }
    fn stats(&self) -> ChannelStats {
        self.inner.stats()
    }
    fn set_step(&mut self, step: &str) {
        self.step = step.to_string();
    }
}
