//! What the leakage tests of both join methods share: a recording channel and test sets.

use std::collections::HashSet;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
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

/// Two sets of distinct 9-digit identifiers of sizes `na` and `nb` sharing `common`; the
/// shared ones come first in both unless `shuffle`.
pub fn make_sets(
    rng: &mut ChaCha20Rng,
    na: usize,
    nb: usize,
    common: usize,
    shuffle: bool,
) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let mut seen = HashSet::new();
    let mut fresh = || loop {
        let id = format!("{:09}", rng.random_range(0..1_000_000_000u32)).into_bytes();
        if seen.insert(id.clone()) {
            return id;
        }
    };
    let shared: Vec<Vec<u8>> = (0..common).map(|_| fresh()).collect();
    let mut a = shared.clone();
    a.extend((common..na).map(|_| fresh()));
    let mut b = shared;
    b.extend((common..nb).map(|_| fresh()));
    if shuffle {
        let mut r2 = ChaCha20Rng::seed_from_u64(99);
        a.shuffle(&mut r2);
        b.shuffle(&mut r2);
    }
    (a, b)
}
