//! # samen-core
//!
//! The arithmetic core of samen: additive secret sharing over the ring Z_2^64 (wrapping `u64`),
//! share vectors with vectorisable kernels and rayon parallelism, a ChaCha
//! pseudo-random generator whose seeds compress shares and correlated randomness, the helper's
//! (dealer's) correlated randomness, the online primitives every joint protocol uses (open,
//! Beaver multiplication, the cross-party matrix product and secure comparison), the exact
//! least-squares solve modulo many primes that opens only a model ([`mpc::field`],
//! [`mpc::solve`]) and files written atomically ([`atomic`]).
//!
//! Every party of a protocol has one [`Role`]: the two data parties and the helper.
//!
//! Protocol code talks to its peers through the [`channel::Channel`] trait, so the same code runs
//! in one process over [`channel::local_pair`] and across processes over the TLS transport of
//! `samen-net`.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod atomic;
pub mod channel;
pub mod codec;
pub mod dealer;
#[cfg(test)]
mod decoder_fuzz;
pub mod dp;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
pub mod mpc;
pub mod names;
pub mod prg;
pub mod ring;
mod role;
pub mod share;

pub use role::Role;
