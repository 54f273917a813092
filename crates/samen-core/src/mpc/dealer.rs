//! The helper's session state (see [`crate::dealer`] for what it sends).

use subtle::ConstantTimeEq;

use super::wire::send_hello;
use super::{MpcError, Role};
use crate::channel::Channel;
use crate::prg::Seed;

/// The helper's session: mirrors the calls of the computing parties with shapes only.
///
/// The dealer must be asked for the same operations, with the same shapes and in the same order,
/// as the computing parties perform them (`open` needs nothing from the dealer).
pub struct Dealer<'a> {
    pub(super) first: &'a mut dyn Channel,
    pub(super) second: &'a mut dyn Channel,
    pub(super) seed_first: Seed,
    pub(super) seed_second: Seed,
    pub(super) op: u64,
}

impl std::fmt::Debug for Dealer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dealer")
            .field("first", &self.first.peer())
            .field("second", &self.second.peer())
            .field("op", &self.op)
            .finish_non_exhaustive()
    }
}

impl<'a> Dealer<'a> {
    /// Start a dealer session: draw a seed for each computing party from the OS RNG and send
    /// it. `first` is the channel to [`Role::First`], `second` to [`Role::Second`].
    pub fn new(first: &'a mut dyn Channel, second: &'a mut dyn Channel) -> Result<Self, MpcError> {
        Self::with_seeds(first, second, Seed::random(), Seed::random())
    }

    /// Like [`Dealer::new`] with given seeds (for reproducible tests and benchmarks only: the
    /// security of every operation rests on these seeds being secret and independent).
    ///
    /// Two equal seeds are refused ([`MpcError::EqualSeeds`]), before anything is sent: with
    /// them each data party could derive the other's pads. The comparison is constant time.
    pub fn with_seeds(
        first: &'a mut dyn Channel,
        second: &'a mut dyn Channel,
        seed_first: Seed,
        seed_second: Seed,
    ) -> Result<Self, MpcError> {
        if bool::from(seed_first.ct_eq(&seed_second)) {
            return Err(MpcError::EqualSeeds);
        }
        first.set_step("dealer-seed");
        second.set_step("dealer-seed");
        send_hello(first, Role::First, &seed_first)?;
        send_hello(second, Role::Second, &seed_second)?;
        Ok(Dealer {
            first,
            second,
            seed_first,
            seed_second,
            op: 0,
        })
    }

    pub(super) fn next_op(&mut self) -> u64 {
        self.op += 1;
        self.op
    }

    /// Number of operations served so far.
    pub fn operations(&self) -> u64 {
        self.op
    }
}
