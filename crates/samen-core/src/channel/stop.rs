//! The stop signal shared by all channels of one party, and the reason a run stopped.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::ChannelError;

/// Why a run stopped: the party whose failure started it and a reason in words that may be
/// told to every party (no file paths, line numbers or data; the details stay in the local
/// error of the party that failed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StopReason {
    /// The party that failed, refused or went away.
    pub party: String,
    /// What happened, e.g. "its input failed validation".
    pub reason: String,
    /// The peer this party learned it from; `None` if this party saw it itself.
    pub via: Option<String>,
}

impl StopReason {
    /// A stop noticed by this party itself.
    pub fn new(party: &str, reason: &str) -> StopReason {
        StopReason {
            party: party.to_string(),
            reason: reason.to_string(),
            via: None,
        }
    }
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "party '{}' stopped: {}", self.party, self.reason)?;
        match &self.via {
            Some(via) if *via != self.party => write!(f, " (reported by party '{via}')"),
            _ => Ok(()),
        }
    }
}

/// The "stopped" state shared by all channels of one party: set once, by the first failure
/// any of them sees (a peer's abort, a lost connection) or by the party itself, after which
/// every send and receive on every channel of the party fails at once with
/// [`ChannelError::Stopped`]. Cloning shares the state.
///
/// ```
/// use samen_core::channel::{StopReason, StopSignal};
/// let signal = StopSignal::new();
/// let seen_by_other_channel = signal.clone();
/// assert!(signal.stop(StopReason::new("ttp", "its process ended")));
/// assert!(!signal.stop(StopReason::new("cbs", "later failure")));
/// assert_eq!(seen_by_other_channel.reason().unwrap().party, "ttp");
/// ```
#[derive(Clone, Debug, Default)]
pub struct StopSignal {
    inner: Arc<StopInner>,
}

#[derive(Debug, Default)]
struct StopInner {
    stopped: AtomicBool,
    reason: Mutex<Option<StopReason>>,
}

impl StopSignal {
    /// A signal that is not set.
    pub fn new() -> StopSignal {
        StopSignal::default()
    }

    /// Set the signal; returns false (and keeps the first reason) if it was already set.
    pub fn stop(&self, reason: StopReason) -> bool {
        let mut slot = match self.inner.reason.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        if slot.is_some() {
            return false;
        }
        *slot = Some(reason);
        self.inner.stopped.store(true, Ordering::SeqCst);
        true
    }

    /// True once the signal is set.
    pub fn is_stopped(&self) -> bool {
        self.inner.stopped.load(Ordering::SeqCst)
    }

    /// The first reason, once set.
    pub fn reason(&self) -> Option<StopReason> {
        if !self.is_stopped() {
            return None;
        }
        match self.inner.reason.lock() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// `Err(ChannelError::Stopped)` once the signal is set.
    pub fn check(&self) -> Result<(), ChannelError> {
        match self.reason() {
            Some(r) => Err(ChannelError::Stopped(r)),
            None => Ok(()),
        }
    }
}
