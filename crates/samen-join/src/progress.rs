//! Progress reports of a running join.

/// Progress of a running join: `done` units of work so far and `total` expected; `total`
/// never grows. For [`private_join`](crate::private_join) the unit is a variable-base scalar multiplication (its
/// dominant cost) and `total` is an upper bound until the unmatched elements are known (after
/// the sets are compared), then exact. For [`helper_join`](crate::helper_join) the unit is a tag computed or a
/// position received, and `total` is `2 · |own|` from the start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JoinProgress {
    /// Scalar multiplications done.
    pub done: u64,
    /// Scalar multiplications expected in all.
    pub total: u64,
}

/// Tracks [`JoinProgress`] and reports it to a callback after every frame.
pub(crate) struct Meter<'a> {
    done: u64,
    total: u64,
    report: &'a dyn Fn(JoinProgress),
}

impl<'a> Meter<'a> {
    /// A meter expecting `total` units, reporting the start at once.
    pub(crate) fn start(total: u64, report: &'a dyn Fn(JoinProgress)) -> Self {
        let mut meter = Meter {
            done: 0,
            total,
            report,
        };
        meter.set_total(total);
        meter
    }

    pub(crate) fn add(&mut self, mults: usize) {
        self.done = self.done.saturating_add(mults as u64);
        self.total = self.total.max(self.done);
        (self.report)(JoinProgress {
            done: self.done,
            total: self.total,
        });
    }

    pub(crate) fn set_total(&mut self, total: u64) {
        self.total = total.max(self.done);
        (self.report)(JoinProgress {
            done: self.done,
            total: self.total,
        });
    }
}
