//! # samen-core
//!
//! The arithmetic core of samen: additive secret sharing over the ring Z_2^64 (wrapping `u64`),
//! share vectors with vectorisable kernels and rayon parallelism, fixed-point reals, a ChaCha
//! pseudo-random generator whose seeds compress shares and correlated randomness, the helper's
//! (dealer's) correlated randomness, and the online primitives every joint protocol uses
//! (open, Beaver multiplication, the cross-party matrix product and secure comparison).
//!
//! Protocol code talks to its peers through the [`channel::Channel`] trait, so the same code runs
//! in one process over [`channel::local_pair`] and across processes over the TLS transport of
//! `samen-net`.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod channel;
pub mod codec;
pub mod dealer;
#[cfg(test)]
mod decoder_fuzz;
pub mod dp;
pub mod fixed;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
pub mod mpc;
pub mod names;
pub mod prg;
pub mod ring;
pub mod share;
