//! Connection set-up: who listens, who dials, TLS identities, hellos.
//!
//! For every pair of parties the one whose name sorts lower listens on its own address (or
//! its `listen` address) and the higher one dials, retrying every 100 ms until
//! `connect_timeout` has passed in total, so parties may start in any order. A dial attempt
//! resolves the peer's address anew, so a DNS name that resolves only later (a container or
//! host that comes up late) is waited for the same way; every ten seconds of waiting the
//! dialer logs a warning naming the peer, its address and the last problem. The listener identifies each dialer by the name in its
//! client certificate and refuses connections without one, from another CA, from a party that
//! should not dial it, or from a party that is already connected; refusals are logged and the
//! listener keeps waiting for the right peer.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use rustls::pki_types::{CertificateDer, ServerName};
use rustls::server::{ParsedCertificate, WebPkiClientVerifier};
use rustls::{AlertDescription, CertificateError, ClientConfig, ServerConfig};
use samen_core::channel::{Abort, Channel, StopReason, StopSignal};
use samen_core::codec;

use crate::certs::{load_identity, validate_party_name, Identity};
use crate::channel::TlsChannel;
use crate::error::{NetError, Refusal};
use crate::frame::{self, FrameDecoder, FrameKind};
use crate::hello::{Hello, HelloError, PROTOCOL_VERSION};
use crate::pin::{
    load_own_key, pin_mismatch, Fingerprint, PinnedClientVerifier, PinnedServerVerifier,
};
mod accept;
mod dial;
mod handshake;

/// The reason a party gives when its set-up fails without another party having stopped.
const COULD_NOT_CONNECT: &str = "it could not connect to all parties";

use handshake::{aborted_by, is_self_connection, SetupError, SetupIo};

/// Pause between two dial attempts.
const RETRY_EVERY: Duration = Duration::from_millis(100);
/// How often a party that keeps waiting for a peer says so (a warning on stderr).
const WAIT_NOTICE_EVERY: Duration = Duration::from_secs(10);
/// Pause between two polls of a listening socket.
const ACCEPT_POLL: Duration = Duration::from_millis(10);
/// Longest a single TLS handshake + hello exchange may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How the parties authenticate each other.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum PeerAuth {
    /// Every party holds a certificate issued by one study CA (`ca.pem`, made by
    /// [`crate::generate_certs`]) whose name is the party name. For demos and tests: whoever
    /// holds the CA key can impersonate every party.
    #[default]
    StudyCa,
    /// Every party holds only its own key and self-signed certificate ([`crate::pin`]); each
    /// peer's key must hash to its pin (party name → fingerprint, all parties included).
    Pinned(BTreeMap<String, Fingerprint>),
}

/// Everything a party needs to connect to the others.
#[derive(Clone, Debug)]
pub struct NetConfig {
    /// This party's name.
    pub me: String,
    /// Name and `host:port` of ALL parties, this one included: the address at which the
    /// others reach each party (an IP address, `[IPv6]:port` or a DNS name, resolved anew at
    /// every dial attempt). A party listens (on [`NetConfig::listen`], by default its own
    /// address) for every party whose name sorts higher.
    pub parties: Vec<(String, String)>,
    /// Where this party's listener binds, if not at its own address in `parties` (e.g.
    /// `0.0.0.0:7101` or `[::]:7101` behind NAT, port forwarding or in a container).
    pub listen: Option<String>,
    /// With [`PeerAuth::StudyCa`]: the directory holding `ca.pem`, `<me>.pem` and `<me>.key`.
    /// With [`PeerAuth::Pinned`]: the directory holding this party's own `<me>.pem` and
    /// `<me>.key` as `samen keys` wrote them.
    pub certs_dir: PathBuf,
    /// How peers are authenticated.
    pub auth: PeerAuth,
    /// Name of the study (compared in the hello).
    pub study_name: String,
    /// SHA-256 of the study file bytes (compared in the hello).
    pub study_hash: [u8; 32],
    /// Total time to wait until every peer is connected.
    pub connect_timeout: Duration,
    /// A receive waiting longer than this fails with a timeout.
    pub io_timeout: Duration,
}

struct Tls {
    client: Arc<ClientConfig>,
    server: Arc<ServerConfig>,
    /// Pinned mode: the verifier that names the dialer by its key.
    pinned: Option<Arc<PinnedClientVerifier>>,
}

fn tls_configs(cfg: &NetConfig) -> Result<Tls, NetError> {
    match &cfg.auth {
        PeerAuth::StudyCa => ca_tls_configs(cfg, load_identity(&cfg.certs_dir, &cfg.me)?),
        PeerAuth::Pinned(pins) => pinned_tls_configs(cfg, pins),
    }
}

/// TLS 1.3, mutual authentication by pinned keys, no resumption.
fn pinned_tls_configs(
    cfg: &NetConfig,
    pins: &BTreeMap<String, Fingerprint>,
) -> Result<Tls, NetError> {
    for (name, _) in &cfg.parties {
        if !pins.contains_key(name) {
            return Err(NetError::MissingPin {
                party: name.clone(),
            });
        }
    }
    let own = load_own_key(&cfg.certs_dir, &cfg.me)?;
    let my_pin = pins
        .get(&cfg.me)
        .copied()
        .ok_or_else(|| NetError::MissingPin {
            party: cfg.me.clone(),
        })?;
    if !own.fingerprint.ct_eq(&my_pin) {
        return Err(NetError::OwnKeyNotPinned {
            party: cfg.me.clone(),
            dir: cfg.certs_dir.clone(),
            pinned: my_pin,
            actual: own.fingerprint,
        });
    }
    let peers: BTreeMap<String, Fingerprint> = pins
        .iter()
        .filter(|(name, _)| **name != cfg.me)
        .map(|(n, f)| (n.clone(), *f))
        .collect();
    let err = |e: &dyn std::fmt::Display| NetError::TlsSetup {
        dir: cfg.certs_dir.clone(),
        detail: e.to_string(),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let client_verifier = Arc::new(PinnedClientVerifier::new(peers.clone()));
    let mut server = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| err(&e))?
        .with_client_cert_verifier(Arc::clone(&client_verifier) as Arc<_>)
        .with_single_cert(own.chain.clone(), own.key.clone_key())
        .map_err(|e| err(&e))?;
    server.send_tls13_tickets = 0;
    let mut client = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| err(&e))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinnedServerVerifier::new(peers)))
        .with_client_auth_cert(own.chain, own.key)
        .map_err(|e| err(&e))?;
    client.resumption = rustls::client::Resumption::disabled();
    client.enable_sni = false;
    Ok(Tls {
        client: Arc::new(client),
        server: Arc::new(server),
        pinned: Some(client_verifier),
    })
}

fn ca_tls_configs(cfg: &NetConfig, id: Identity) -> Result<Tls, NetError> {
    let err = |e: &dyn std::fmt::Display| NetError::TlsSetup {
        dir: cfg.certs_dir.clone(),
        detail: e.to_string(),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = Arc::new(id.roots);
    let verifier =
        WebPkiClientVerifier::builder_with_provider(Arc::clone(&roots), Arc::clone(&provider))
            .build()
            .map_err(|e| err(&e))?;
    let mut server = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| err(&e))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(id.chain.clone(), id.key.clone_key())
        .map_err(|e| err(&e))?;
    server.send_tls13_tickets = 0;
    let mut client = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| err(&e))?
        .with_root_certificates(Arc::clone(&roots))
        .with_client_auth_cert(id.chain, id.key)
        .map_err(|e| err(&e))?;
    client.resumption = rustls::client::Resumption::disabled();
    // The listener has one certificate; sending the party name in clear is not needed.
    client.enable_sni = false;
    Ok(Tls {
        client: Arc::new(client),
        server: Arc::new(server),
        pinned: None,
    })
}

/// Connect to every other party of `cfg.parties` with mutual TLS and exchange hellos.
///
/// Returns one [`TlsChannel`] per peer, keyed by peer name; all of them share one
/// [`StopSignal`] ([`TlsChannel::stop_signal`]). Fails if the configuration or the
/// certificate files are invalid, if a peer's certificate or hello does not match, if a peer
/// refuses this party or reports that some party stopped, or if some peer has not connected
/// within `cfg.connect_timeout` (the error then names the peer and the last refused
/// connection or connection error).
///
/// When set-up fails after it started, this party tells every peer why before returning:
/// established connections get an abort, and for up to three seconds it keeps dialing (or
/// accepting) the peers it has not reached yet, answering their handshake with the abort
/// instead of a hello, so that no party waits out its timeout for a party that stopped.
///
/// ```
/// use std::time::Duration;
/// use samen_core::channel::{Channel, ChannelExt};
/// let dir = tempfile::tempdir().unwrap();
/// samen_net::generate_certs(&["alice".into(), "bob".into()], dir.path()).unwrap();
/// let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
/// let cfg = |me: &str| samen_net::NetConfig {
///     me: me.into(),
///     parties: vec![("alice".into(), format!("127.0.0.1:{port}")), ("bob".into(), "127.0.0.1:1".into())],
///     listen: None,
///     certs_dir: dir.path().to_path_buf(),
///     auth: samen_net::PeerAuth::StudyCa,
///     study_name: "demo".into(),
///     study_hash: [7; 32],
///     connect_timeout: Duration::from_secs(20),
///     io_timeout: Duration::from_secs(20),
/// };
/// let (ca, cb) = (cfg("alice"), cfg("bob"));
/// let bob = std::thread::spawn(move || samen_net::connect_all(&cb).unwrap());
/// let mut alice = samen_net::connect_all(&ca).unwrap();
/// let mut bob = bob.join().unwrap();
/// alice.get_mut("bob").unwrap().send_u64s(&[1, 2, 3]).unwrap();
/// assert_eq!(bob.get_mut("alice").unwrap().recv_u64s(3).unwrap(), vec![1, 2, 3]);
/// ```
pub fn connect_all(cfg: &NetConfig) -> Result<BTreeMap<String, TlsChannel>, NetError> {
    let mut seen = BTreeSet::new();
    for (name, _) in &cfg.parties {
        validate_party_name(name)?;
        if !seen.insert(name.to_ascii_lowercase()) {
            return Err(NetError::DuplicateParty { name: name.clone() });
        }
    }
    let my_addr = cfg
        .parties
        .iter()
        .find(|(name, _)| *name == cfg.me)
        .map(|(_, addr)| addr.clone())
        .ok_or_else(|| NetError::NotAParty {
            me: cfg.me.clone(),
            parties: cfg
                .parties
                .iter()
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })?;
    let tls = tls_configs(cfg)?;
    let deadline = Instant::now() + cfg.connect_timeout;
    let accept_from: Vec<String> = cfg
        .parties
        .iter()
        .filter(|(name, _)| *name > cfg.me)
        .map(|(name, _)| name.clone())
        .collect();
    let dial_to: Vec<(String, String)> = cfg
        .parties
        .iter()
        .filter(|(name, _)| *name < cfg.me)
        .cloned()
        .collect();
    let listener = if accept_from.is_empty() {
        None
    } else {
        let bind_addr = cfg.listen.clone().unwrap_or_else(|| my_addr.clone());
        let bind_err = |source| NetError::Bind {
            me: cfg.me.clone(),
            addr: bind_addr.clone(),
            source,
        };
        let listener = TcpListener::bind(bind_addr.as_str()).map_err(bind_err)?;
        listener.set_nonblocking(true).map_err(bind_err)?;
        Some(listener)
    };
    let setup = Setup {
        cfg,
        hs: Handshaker {
            tls: Arc::new(tls),
            me: cfg.me.clone(),
            study_name: cfg.study_name.clone(),
            study_hash: cfg.study_hash,
            io_timeout: cfg.io_timeout,
            deadline,
            stop: StopSignal::new(),
            claimed: Arc::new(Mutex::new(BTreeSet::new())),
        },
        done_with: Mutex::new(BTreeSet::new()),
    };
    let (channels, first_error) = setup.run_all(listener.as_ref(), &accept_from, &dial_to, None);
    let stop = setup.hs.stop.reason();
    if first_error.is_none() && stop.is_none() {
        return Ok(channels);
    }
    let reason = stop.unwrap_or_else(|| StopReason::new(&cfg.me, COULD_NOT_CONNECT));
    let error = match first_error {
        Some(e) => e,
        None => NetError::Stopped(reason.clone()),
    };
    let message = Abort::from(&reason);
    let mut channels = channels;
    for ch in channels.values_mut() {
        ch.abort(&message);
    }
    // Tell the peers not reached yet, for a few seconds at most, so that none waits out its
    // timeout for a party that has stopped.
    let mut skip = setup
        .done_with
        .lock()
        .map(|s| s.clone())
        .unwrap_or_default();
    skip.extend(channels.keys().cloned());
    skip.insert(reason.party.clone());
    skip.extend(reason.via.clone());
    let accept_rest: Vec<String> = accept_from
        .into_iter()
        .filter(|p| !skip.contains(p))
        .collect();
    let dial_rest: Vec<(String, String)> = dial_to
        .into_iter()
        .filter(|(p, _)| !skip.contains(p))
        .collect();
    if !accept_rest.is_empty() || !dial_rest.is_empty() {
        let notify = Setup {
            cfg,
            hs: Handshaker {
                deadline: deadline.min(Instant::now() + NOTIFY_WINDOW),
                stop: StopSignal::new(),
                claimed: Arc::new(Mutex::new(BTreeSet::new())),
                ..setup.hs.clone()
            },
            done_with: Mutex::new(BTreeSet::new()),
        };
        let _ = notify.run_all(listener.as_ref(), &accept_rest, &dial_rest, Some(&message));
    }
    Err(error)
}

/// How long a party that stopped during set-up keeps trying to tell the peers it has not
/// reached yet.
const NOTIFY_WINDOW: Duration = Duration::from_secs(3);
/// Most incoming handshakes served at the same time; further connections wait in the
/// listen backlog.
const MAX_PENDING_HANDSHAKES: usize = 16;

/// What one party needs to run a handshake on its own thread.
#[derive(Clone)]
struct Handshaker {
    tls: Arc<Tls>,
    me: String,
    study_name: String,
    study_hash: [u8; 32],
    io_timeout: Duration,
    deadline: Instant,
    stop: StopSignal,
    /// Listener side: parties with a handshake past identification (or connected).
    claimed: Arc<Mutex<BTreeSet<String>>>,
}

struct Setup<'a> {
    cfg: &'a NetConfig,
    hs: Handshaker,
    /// Peers that refused this party, aborted or stopped: no need to tell them anything.
    done_with: Mutex<BTreeSet<String>>,
}

/// How one connection attempt ended, when it did not produce a channel.
enum Attempt {
    /// Try again (dialer) or keep listening (listener), remembering why.
    Retry(String),
    /// Listener side: a refused connection.
    Refused(Refusal),
    /// Give up the whole set-up.
    Fatal(NetError),
    /// Notify mode: the peer was told that this party stopped.
    Notified(String),
}

/// The reason told to the other parties when set-up fails with `e` on the connection with
/// `peer` (no local paths: only what the peer needs to know).
fn stop_reason(me: &str, peer: &str, e: &NetError) -> StopReason {
    let mine = |reason: String| StopReason::new(me, &reason);
    match e {
        NetError::Stopped(r) => r.clone(),
        NetError::RefusedByPeer { peer, reason } => StopReason {
            via: Some(peer.clone()),
            ..StopReason::new(peer, reason)
        },
        NetError::Hello(HelloError::Version { peer, .. }) => mine(format!(
            "it runs another samen protocol version than party '{peer}'"
        )),
        NetError::Hello(
            HelloError::StudyName { peer, .. } | HelloError::StudyHash { peer, .. },
        ) => mine(format!(
            "its study file differs from the study file of party '{peer}'"
        )),
        NetError::Hello(_) => mine(format!(
            "the hello of party '{peer}' does not match its own"
        )),
        NetError::PeerCertificate { peer, .. } => mine(format!(
            "the certificate of party '{peer}' was not accepted"
        )),
        NetError::ConnectTimeout { peer, .. } | NetError::Refused { peer, .. } => {
            mine(format!("it could not connect to party '{peer}' in time"))
        }
        _ => mine(format!("it could not connect to party '{peer}'")),
    }
}

impl Setup<'_> {
    /// Run the listener and the dialers until all connected or one failed. With `notify`,
    /// every handshake that completes answers with this abort message instead of a hello.
    fn run_all(
        &self,
        listener: Option<&TcpListener>,
        accept_from: &[String],
        dial_to: &[(String, String)],
        notify: Option<&Abort>,
    ) -> (BTreeMap<String, TlsChannel>, Option<NetError>) {
        let results: Vec<Result<Vec<(String, TlsChannel)>, NetError>> = thread::scope(|s| {
            let mut handles = Vec::new();
            if let Some(listener) = listener.filter(|_| !accept_from.is_empty()) {
                handles.push(s.spawn(move || self.accept_all(listener, accept_from, notify)));
            }
            for (peer, addr) in dial_to {
                handles.push(s.spawn(move || {
                    self.dial(peer, addr, notify)
                        .map(|c| c.into_iter().collect::<Vec<_>>())
                }));
            }
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(NetError::Handshake {
                            peer: String::new(),
                            detail: "connection thread panicked".to_string(),
                        })
                    })
                })
                .collect()
        });
        let mut channels = BTreeMap::new();
        let mut first_error = None;
        for result in results {
            match result {
                Ok(list) => channels.extend(list),
                Err(NetError::Cancelled { .. }) => {}
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        (channels, first_error)
    }

    /// Record a fatal error with `peer`: stop the other attempts with a reason for the peers.
    fn fail(&self, peer: &str, e: NetError) -> NetError {
        if !matches!(e, NetError::Cancelled { .. }) {
            if let Ok(mut done) = self.done_with.lock() {
                done.insert(peer.to_string());
            }
            self.hs.stop.stop(stop_reason(&self.cfg.me, peer, &e));
        }
        e
    }

    fn cancelled(&self, peer: &str, notify: Option<&Abort>) -> Option<NetError> {
        if notify.is_some() {
            return None;
        }
        self.hs.stop.reason().map(|_| NetError::Cancelled {
            peer: peer.to_string(),
        })
    }
}

/// The peer a set-up error is about, if it names one.
fn net_error_peer(e: &NetError) -> Option<String> {
    match e {
        NetError::RefusedByPeer { peer, .. }
        | NetError::PeerCertificate { peer, .. }
        | NetError::Handshake { peer, .. }
        | NetError::ConnectTimeout { peer, .. }
        | NetError::Refused { peer, .. }
        | NetError::Cancelled { peer } => Some(peer.clone()),
        NetError::Stopped(r) => r.via.clone(),
        NetError::Hello(
            HelloError::Version { peer, .. }
            | HelloError::StudyName { peer, .. }
            | HelloError::StudyHash { peer, .. }
            | HelloError::Sender { peer, .. }
            | HelloError::Receiver { peer, .. }
            | HelloError::Malformed { peer, .. },
        ) => Some(peer.clone()),
        _ => None,
    }
}
