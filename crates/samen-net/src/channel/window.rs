//! The receive window: how many received bytes may wait in the queue before the reader
//! pauses, and the queue accounting the reader and the channel share.

use super::*;

/// Shared between the reader thread (which adds and may pause) and the channel (which
/// subtracts, and lifts the window while sending).
#[derive(Debug)]
pub(super) struct Window {
    pub(super) queued: AtomicUsize,
    pub(super) window: AtomicUsize,
    pub(super) max: AtomicUsize,
    pub(super) sending: AtomicBool,
    pub(super) dropped: AtomicBool,
    /// When the reader last got bytes from the socket.
    pub(super) last_read: Mutex<Instant>,
    pub(super) lock: Mutex<()>,
    pub(super) changed: Condvar,
}

impl Window {
    pub(super) fn notify(&self) {
        let _guard = self.lock.lock();
        self.changed.notify_all();
    }

    /// Block the reader while the window is full, this party is not sending, the channel is
    /// alive and the party has not stopped.
    pub(super) fn wait_for_room(&self, stop: &StopSignal) {
        let mut guard = match self.lock.lock() {
            Ok(g) => g,
            Err(_) => return,
        };
        while self.queued.load(Ordering::SeqCst) >= self.window.load(Ordering::SeqCst)
            && !self.sending.load(Ordering::SeqCst)
            && !self.dropped.load(Ordering::SeqCst)
            && !stop.is_stopped()
        {
            guard = match self.changed.wait_timeout(guard, STOP_POLL) {
                Ok((g, _)) => g,
                Err(_) => return,
            };
        }
    }
}
