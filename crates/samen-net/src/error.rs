//! Errors of connection set-up and certificate handling.

use std::net::SocketAddr;
use std::path::PathBuf;

use samen_core::channel::{ChannelError, StopReason};
use thiserror::Error;

use crate::hello::HelloError;

/// Why this party (as listener) refused an incoming connection. Each refusal is also logged
/// with `tracing::warn!` on the refusing side.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// The dialer presented no client certificate.
    #[error("refused a connection from {from}: it presented no client certificate")]
    NoClientCertificate {
        /// Where the connection came from.
        from: SocketAddr,
    },
    /// The dialer's certificate does not chain to the study CA (another CA, expired, ...).
    #[error("refused a connection from {from}: its certificate is not issued by this study's CA ({detail})")]
    UntrustedCertificate {
        /// Where the connection came from.
        from: SocketAddr,
        /// rustls' reason.
        detail: String,
    },
    /// The certificate chains to the study CA but is not issued to a party that should dial
    /// this party.
    #[error(
        "refused a connection from {from}: its certificate is issued by this study's CA but \
         not to any party expected to connect here ({expected})"
    )]
    NotAnExpectedParty {
        /// Where the connection came from.
        from: SocketAddr,
        /// The parties this listener waits for, comma-separated.
        expected: String,
    },
    /// The dialer's key is not the key pinned for any peer in the study file.
    #[error("refused a connection from {from}: it presented {detail}")]
    UnpinnedKey {
        /// Where the connection came from.
        from: SocketAddr,
        /// Which key it presented and which party its certificate names.
        detail: String,
    },
    /// A second connection from a party that is already connected.
    #[error("refused a connection from {from}: party '{party}' is already connected")]
    Duplicate {
        /// Where the connection came from.
        from: SocketAddr,
        /// The party.
        party: String,
    },
    /// The TLS handshake or the hello exchange failed for another reason (e.g. not TLS,
    /// timeout, connection closed).
    #[error("refused a connection from {from}: {detail}")]
    Handshake {
        /// Where the connection came from.
        from: SocketAddr,
        /// What went wrong.
        detail: String,
    },
}

/// An error setting up connections or certificates.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum NetError {
    /// This party's own name is missing from the party list.
    #[error("this party '{me}' is not in the list of parties ({parties})")]
    NotAParty {
        /// This party's name.
        me: String,
        /// The listed parties, comma-separated.
        parties: String,
    },
    /// A party name appears twice (names are compared ignoring case, as in certificates).
    #[error("party name '{name}' appears more than once (names are compared ignoring case)")]
    DuplicateParty {
        /// The repeated name.
        name: String,
    },
    /// A party name that cannot be used as a certificate name.
    #[error(
        "party name '{name}' is not allowed: use 1 to 63 letters, digits, '-' or '_', not \
         starting or ending with '-', not only digits, not 0x followed only by hex digits"
    )]
    InvalidPartyName {
        /// The offending name.
        name: String,
    },
    /// This party's own listening address cannot be resolved.
    #[error("cannot resolve the address '{addr}' of party '{party}': {detail}")]
    Address {
        /// The party.
        party: String,
        /// The address as configured.
        addr: String,
        /// The resolver's message.
        detail: String,
    },
    /// A certificate, key or CA file is missing or invalid.
    #[error("certificate file {}: {detail}", path.display())]
    Certificates {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },
    /// rustls refused the configuration built from the certificate files.
    #[error("cannot set up TLS with the certificates in {}: {detail}", dir.display())]
    TlsSetup {
        /// The certificate directory.
        dir: PathBuf,
        /// rustls' reason.
        detail: String,
    },
    /// Generating certificates failed.
    #[error("cannot generate certificates: {0}")]
    CertGeneration(#[from] rcgen::Error),
    /// Certificate generation will not overwrite an existing certificate or key file unless
    /// asked to ([`crate::certs::Existing::Overwrite`], `samen certs --force`).
    #[error(
        "{} already exists; refusing to overwrite certificates and keys (use `samen certs \
         --force` to replace them, or choose another directory)",
        path.display()
    )]
    CertsExist {
        /// The existing file.
        path: PathBuf,
    },
    /// `samen keys` will not overwrite an existing key or certificate file unless asked to
    /// ([`crate::certs::Existing::Overwrite`], `samen keys --force`).
    #[error(
        "{} already exists; refusing to overwrite a party key (use `samen keys --force` to \
         replace it, and publish the new fingerprint in the study file)",
        path.display()
    )]
    KeyExists {
        /// The existing file.
        path: PathBuf,
    },
    /// This party's own key is not the key pinned for it in the study file.
    #[error(
        "the key of party '{party}' in {} has fingerprint {actual}, but the study file pins \
         {pinned} for '{party}': use the key directory made for this study (`samen keys`) or \
         the study file that pins this key",
        dir.display()
    )]
    OwnKeyNotPinned {
        /// This party.
        party: String,
        /// The key directory.
        dir: PathBuf,
        /// The pin in the study file.
        pinned: crate::pin::Fingerprint,
        /// The fingerprint of the key found in the directory.
        actual: crate::pin::Fingerprint,
    },
    /// Pinned mode without a pin for some party.
    #[error("no key is pinned for party '{party}' (every party needs key = \"sha256:…\")")]
    MissingPin {
        /// The party.
        party: String,
    },
    /// A private key file can be read by its group or by other users (Unix mode bits `0o077`).
    #[error(
        "private key file {} has mode {mode:03o}: its group or other users can read it; run \
         `chmod 600 {}` (and consider whether the key was exposed)",
        path.display(),
        path.display()
    )]
    KeyShared {
        /// The key file.
        path: PathBuf,
        /// The file's permission bits.
        mode: u32,
    },
    /// Writing a file failed.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// This party cannot listen on its own address.
    #[error("cannot listen on {addr} (address of this party '{me}'): {source}")]
    Bind {
        /// This party's name.
        me: String,
        /// The address.
        addr: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Not all peers connected within `connect_timeout`.
    #[error(
        "gave up after {secs} s waiting for a connection with party '{peer}'{}",
        last_problem.as_ref().map(|p| format!("; last problem: {p}")).unwrap_or_default()
    )]
    ConnectTimeout {
        /// The (first) missing peer.
        peer: String,
        /// The connect timeout, in seconds.
        secs: u64,
        /// The last refusal or connection error seen, if any.
        last_problem: Option<String>,
    },
    /// A listener refused connections and no acceptable one arrived in time.
    #[error(
        "gave up after {secs} s waiting for party '{peer}' to connect; last refused \
         connection: {refusal}"
    )]
    Refused {
        /// The missing peer.
        peer: String,
        /// The connect timeout, in seconds.
        secs: u64,
        /// Why the last connection was refused.
        refusal: Refusal,
    },
    /// The party at a peer's address presented a certificate that is not the peer's.
    #[error("the server at {addr} does not hold a valid certificate of party '{peer}': {detail}")]
    PeerCertificate {
        /// The expected party.
        peer: String,
        /// Its address.
        addr: String,
        /// rustls' reason.
        detail: String,
    },
    /// The peer refused this party's connection (TLS alert or abort during set-up).
    #[error("party '{peer}' refused the connection: {reason}")]
    RefusedByPeer {
        /// The peer.
        peer: String,
        /// The reason it gave.
        reason: String,
    },
    /// The TLS handshake failed for another reason.
    #[error("TLS handshake with party '{peer}' failed: {detail}")]
    Handshake {
        /// The peer.
        peer: String,
        /// What failed.
        detail: String,
    },
    /// The hellos differ (version, study name, study hash or party names).
    #[error(transparent)]
    Hello(#[from] HelloError),
    /// A channel failure during set-up.
    #[error(transparent)]
    Channel(#[from] ChannelError),
    /// A peer reported that some party stopped (a refusal, a failed check or a lost
    /// connection), directly or relayed by another party.
    #[error("{0}")]
    Stopped(StopReason),
    /// Set-up stopped because the connection to another peer failed.
    #[error("stopped connecting to party '{peer}' because another connection failed")]
    Cancelled {
        /// The peer.
        peer: String,
    },
}
