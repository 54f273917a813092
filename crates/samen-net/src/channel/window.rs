//! The receive window: how many received bytes may wait in the queue before the reader
//! pauses, and the queue accounting the reader and the channel share.

use super::*;

/// Shared between the reader thread (which adds and may pause), the channel (which
/// subtracts) and the writer (which lifts the window while its write is blocked).
#[derive(Debug)]
pub(super) struct Window {
    pub(super) queued: AtomicUsize,
    pub(super) window: AtomicUsize,
    pub(super) max: AtomicUsize,
    /// Set while a write of this party to the socket has made no progress for a poll interval
    /// (the peer's receive window is full, or the link is slower than the sender): only
    /// then does the reader read past the window, so that two parties that both send before
    /// they receive never deadlock. A write that progresses means the peer reads, so the
    /// window holds whatever the scheduling.
    pub(super) blocked: AtomicBool,
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

    /// Block the reader while the window is full, no write of this party is blocked, the
    /// channel is alive and the party has not stopped.
    pub(super) fn wait_for_room(&self, stop: &StopSignal) {
        let mut guard = match self.lock.lock() {
            Ok(g) => g,
            Err(_) => return,
        };
        while self.queued.load(Ordering::SeqCst) >= self.window.load(Ordering::SeqCst)
            && !self.blocked.load(Ordering::SeqCst)
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

impl Window {
    /// Mark this party's write as blocked (or no longer blocked), waking a paused reader.
    pub(super) fn set_blocked(&self, blocked: bool) {
        if self.blocked.swap(blocked, Ordering::SeqCst) != blocked {
            self.notify();
        }
    }

    /// When the reader last received bytes from the peer.
    pub(super) fn last_heard(&self) -> Option<Instant> {
        self.last_read.lock().ok().map(|t| *t)
    }

    /// True if the reader received bytes from the peer within `within` (keep-alives
    /// included): the peer is alive.
    pub(super) fn heard_within(&self, within: Duration) -> bool {
        self.last_read
            .lock()
            .map(|t| t.elapsed() < within)
            .unwrap_or(false)
    }
}
