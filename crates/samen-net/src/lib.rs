//! samen transport: framed, versioned channels over TCP with mutual TLS (rustls 0.23, ring).
//!
//! Protocols are written against [`samen_core::channel::Channel`]; this crate provides the
//! deployment implementation, [`TlsChannel`], and [`connect_all`], which connects one party to
//! every other party of a study:
//!
//! - **Identity.** Every party holds only its own key; the study file pins every party's key
//!   by the SHA-256 of its public key ([`pin`], [`PeerAuth::Pinned`]), and both sides of every
//!   connection check the other's key against its pin. For demos and tests, one study CA
//!   ([`generate_certs`], [`PeerAuth::StudyCa`]) issues a certificate per party instead.
//! - **Deterministic set-up.** For each pair the party whose name sorts lower listens (on its
//!   `listen` address, or its advertised one) and the other dials with retries, resolving the
//!   address anew each time, so parties can start in any order.
//! - **Hello.** The first frame each way carries the protocol version, the study name, the
//!   study hash and both party names ([`hello`]); any mismatch stops both sides with an error
//!   that says what differs.
//! - **Framing.** kind byte + `u32` length + payload, with a hard maximum per kind ([`frame`],
//!   sans-IO, fuzzed).
//! - **Full duplex.** A reader thread per connection, so both parties may send 100+ MB at the
//!   same time before either receives.
//! - **Keep-alive.** An idle sender sends an empty keep-alive frame every 0.5 s, so the I/O
//!   timeout measures how long a peer has been *silent* (hung, gone, unreachable), not how
//!   long it has been computing.
//!
//! See `docs/protocols/transport.md` for the wire format, the identity rules, what an
//! eavesdropper learns and the failure behaviour.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod certs;
mod channel;
mod connect;
pub mod error;
pub mod frame;
pub mod hello;
pub mod pin;

pub use certs::generate_certs;
pub use channel::{
    keepalive_interval, TlsChannel, DEFAULT_MAX_QUEUED, DEFAULT_WINDOW, MAX_KEEPALIVE_INTERVAL,
};
pub use connect::{connect_all, NetConfig, PeerAuth};
pub use error::{NetError, Refusal};
