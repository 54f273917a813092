//! Connection set-up: who listens, who dials, TLS identities, hellos.
//!
//! For every pair of parties the one whose name sorts lower listens on its own address and the
//! higher one dials, retrying every 100 ms until `connect_timeout` has passed in total, so
//! parties may start in any order. The listener identifies each dialer by the name in its
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
use samen_core::channel::{Channel, StopReason, StopSignal};

use crate::certs::{load_identity, validate_party_name, Identity};
use crate::channel::TlsChannel;
use crate::error::{NetError, Refusal};
use crate::frame::{self, FrameDecoder, FrameKind};
use crate::hello::{Hello, HelloError, PROTOCOL_VERSION};

/// Pause between two dial attempts.
const RETRY_EVERY: Duration = Duration::from_millis(100);
/// Pause between two polls of a listening socket.
const ACCEPT_POLL: Duration = Duration::from_millis(10);
/// Longest a single TLS handshake + hello exchange may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Everything a party needs to connect to the others.
#[derive(Clone, Debug)]
pub struct NetConfig {
    /// This party's name.
    pub me: String,
    /// Name and `host:port` of ALL parties, this one included. A party listens on its own
    /// address (so it must be an address of this machine) for every party whose name sorts
    /// higher.
    pub parties: Vec<(String, String)>,
    /// Directory holding `ca.pem`, `<me>.pem` and `<me>.key`.
    pub certs_dir: PathBuf,
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
}

fn tls_configs(cfg: &NetConfig, id: Identity) -> Result<Tls, NetError> {
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
///     certs_dir: dir.path().to_path_buf(),
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
    let tls = tls_configs(cfg, load_identity(&cfg.certs_dir, &cfg.me)?)?;
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
        let bind_err = |source| NetError::Bind {
            me: cfg.me.clone(),
            addr: my_addr.clone(),
            source,
        };
        let listener = TcpListener::bind(my_addr.as_str()).map_err(bind_err)?;
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
    let reason =
        stop.unwrap_or_else(|| StopReason::new(&cfg.me, "it could not connect to all parties"));
    let error = match first_error {
        Some(e) => e,
        None => NetError::Stopped(reason.clone()),
    };
    let wire = reason.to_wire();
    let mut channels = channels;
    for ch in channels.values_mut() {
        ch.abort(&wire);
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
        let _ = notify.run_all(listener.as_ref(), &accept_rest, &dial_rest, Some(&wire));
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
        NetError::RefusedByPeer { peer, reason } => StopReason::from_wire(peer, reason),
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
    /// every handshake that completes answers with this abort text instead of a hello.
    fn run_all(
        &self,
        listener: Option<&TcpListener>,
        accept_from: &[String],
        dial_to: &[(String, String)],
        notify: Option<&str>,
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

    fn cancelled(&self, peer: &str, notify: Option<&str>) -> Option<NetError> {
        if notify.is_some() {
            return None;
        }
        self.hs.stop.reason().map(|_| NetError::Cancelled {
            peer: peer.to_string(),
        })
    }

    fn dial(
        &self,
        peer: &str,
        addr: &str,
        notify: Option<&str>,
    ) -> Result<Option<(String, TlsChannel)>, NetError> {
        let mut last_problem = None;
        loop {
            if let Some(e) = self.cancelled(peer, notify) {
                return Err(e);
            }
            let remaining = self.hs.remaining();
            if remaining.is_zero() {
                return Err(self.fail(
                    peer,
                    NetError::ConnectTimeout {
                        peer: peer.to_string(),
                        secs: self.cfg.connect_timeout.as_secs(),
                        last_problem,
                    },
                ));
            }
            match self.hs.dial_once(peer, addr, remaining, notify) {
                Ok(ch) => return Ok(Some((peer.to_string(), ch))),
                Err(Attempt::Notified(_)) => return Ok(None),
                Err(Attempt::Retry(problem)) => {
                    tracing::debug!(peer, addr, problem = %problem, "dial attempt failed; retrying");
                    last_problem = Some(problem);
                    thread::sleep(RETRY_EVERY.min(self.hs.remaining()));
                }
                Err(Attempt::Refused(r)) => {
                    last_problem = Some(r.to_string());
                    thread::sleep(RETRY_EVERY.min(self.hs.remaining()));
                }
                Err(Attempt::Fatal(e)) => return Err(self.fail(peer, e)),
            }
        }
    }

    fn accept_all(
        &self,
        listener: &TcpListener,
        expected: &[String],
        notify: Option<&str>,
    ) -> Result<Vec<(String, TlsChannel)>, NetError> {
        let mut got: BTreeMap<String, TlsChannel> = BTreeMap::new();
        let mut notified: BTreeSet<String> = BTreeSet::new();
        let mut last_refusal: Option<Refusal> = None;
        let mut last_problem: Option<String> = None;
        let (tx, rx) = mpsc::channel::<Result<(String, TlsChannel), Attempt>>();
        let pending = Arc::new(AtomicUsize::new(0));
        let abort_got = |got: BTreeMap<String, TlsChannel>, reason: Option<StopReason>| {
            let wire = reason.map(|r| r.to_wire()).unwrap_or_default();
            for (_, mut ch) in got {
                ch.abort(&wire);
            }
        };
        loop {
            while let Ok(done) = rx.try_recv() {
                match done {
                    Ok((name, ch)) => {
                        got.insert(name, ch);
                    }
                    Err(Attempt::Notified(name)) => {
                        notified.insert(name);
                    }
                    Err(Attempt::Refused(refusal)) => {
                        tracing::warn!(me = %self.cfg.me, "{refusal}");
                        last_refusal = Some(refusal);
                    }
                    Err(Attempt::Retry(problem)) => {
                        tracing::debug!(me = %self.cfg.me, problem = %problem, "incoming connection failed");
                        last_problem = Some(problem);
                    }
                    Err(Attempt::Fatal(e)) => {
                        let peer = net_error_peer(&e).unwrap_or_default();
                        let e = self.fail(&peer, e);
                        abort_got(got, self.hs.stop.reason());
                        return Err(e);
                    }
                }
            }
            let missing = expected
                .iter()
                .find(|p| !got.contains_key(*p) && !notified.contains(*p));
            let Some(missing) = missing else {
                return Ok(got.into_iter().collect());
            };
            if let Some(e) = self.cancelled(missing, notify) {
                abort_got(got, self.hs.stop.reason());
                return Err(e);
            }
            if self.hs.remaining().is_zero() {
                let secs = self.cfg.connect_timeout.as_secs();
                let e = match last_refusal {
                    Some(refusal) => NetError::Refused {
                        peer: missing.clone(),
                        secs,
                        refusal,
                    },
                    None => NetError::ConnectTimeout {
                        peer: missing.clone(),
                        secs,
                        last_problem,
                    },
                };
                let e = self.fail(&missing.clone(), e);
                abort_got(got, self.hs.stop.reason());
                return Err(e);
            }
            match listener.accept() {
                Ok((sock, from)) => {
                    if pending.load(Ordering::SeqCst) >= MAX_PENDING_HANDSHAKES {
                        last_problem = Some(format!(
                            "dropped a connection from {from}: too many handshakes at once"
                        ));
                        continue;
                    }
                    pending.fetch_add(1, Ordering::SeqCst);
                    let (hs, tx, in_flight) = (self.hs.clone(), tx.clone(), Arc::clone(&pending));
                    let expected = expected.to_vec();
                    let notify = notify.map(str::to_string);
                    let spawned = thread::Builder::new()
                        .name("samen-net-accept".to_string())
                        .spawn(move || {
                            let r = hs.accept_one(sock, from, &expected, notify.as_deref());
                            in_flight.fetch_sub(1, Ordering::SeqCst);
                            // After set-up ended nobody listens; the channel is dropped.
                            let _ = tx.send(r);
                        });
                    if spawned.is_err() {
                        pending.fetch_sub(1, Ordering::SeqCst);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    thread::sleep(ACCEPT_POLL.min(self.hs.remaining()));
                }
                Err(e) => {
                    last_problem = Some(format!("accept failed: {e}"));
                    thread::sleep(ACCEPT_POLL.min(self.hs.remaining()));
                }
            }
        }
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

impl Handshaker {
    fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    fn hello_to(&self, peer: &str) -> Hello {
        Hello {
            version: PROTOCOL_VERSION,
            study_name: self.study_name.clone(),
            study_hash: self.study_hash,
            sender: self.me.clone(),
            receiver: peer.to_string(),
        }
    }

    /// Each handshake has its own deadline: at most [`HANDSHAKE_TIMEOUT`], never past the
    /// set-up deadline (but at least 200 ms).
    fn prepare(&self, sock: &TcpStream) -> io::Result<()> {
        sock.set_nonblocking(false)?;
        sock.set_nodelay(true)?;
        let limit = self
            .remaining()
            .min(HANDSHAKE_TIMEOUT)
            .max(Duration::from_millis(200));
        sock.set_read_timeout(Some(limit))?;
        sock.set_write_timeout(Some(limit))
    }

    /// After the TLS handshake: in notify mode, or once this party has stopped, answer with
    /// an abort instead of a hello. Returns the abort text if one was sent.
    fn abort_instead_of_hello(&self, io: &mut SetupIo, notify: Option<&str>) -> Option<String> {
        let text = match notify {
            Some(t) => t.to_string(),
            None => self.stop.reason()?.to_wire(),
        };
        io.send_abort(&text);
        Some(text)
    }

    fn dial_once(
        &self,
        peer: &str,
        addr: &str,
        remaining: Duration,
        notify: Option<&str>,
    ) -> Result<TlsChannel, Attempt> {
        let targets: Vec<SocketAddr> = addr
            .to_socket_addrs()
            .map_err(|e| Attempt::Retry(format!("cannot resolve {addr}: {e}")))?
            .collect();
        let mut last = Attempt::Retry(format!("{addr} resolves to no address"));
        let mut sock = None;
        for target in targets {
            match TcpStream::connect_timeout(&target, remaining.min(HANDSHAKE_TIMEOUT)) {
                // A dial to a port in the ephemeral range that nobody listens on yet can
                // connect the socket to itself (TCP simultaneous open): refuse and retry.
                Ok(s) if is_self_connection(&s) => {
                    last = Attempt::Retry(format!(
                        "{addr}: the connection looped back to this socket (nobody listens yet)"
                    ));
                }
                Ok(s) => {
                    sock = Some(s);
                    break;
                }
                Err(e) => last = Attempt::Retry(format!("cannot connect to {addr}: {e}")),
            }
        }
        let sock = sock.ok_or(last)?;
        self.prepare(&sock)
            .map_err(|e| Attempt::Retry(format!("socket set-up for {addr} failed: {e}")))?;
        let name = ServerName::try_from(peer.to_string()).map_err(|_| {
            Attempt::Fatal(NetError::InvalidPartyName {
                name: peer.to_string(),
            })
        })?;
        let conn =
            rustls::ClientConnection::new(Arc::clone(&self.tls.client), name).map_err(|e| {
                Attempt::Fatal(NetError::Handshake {
                    peer: peer.to_string(),
                    detail: e.to_string(),
                })
            })?;
        let mut io = SetupIo {
            conn: conn.into(),
            sock,
            decoder: FrameDecoder::new(),
        };
        io.handshake().map_err(|e| client_failure(peer, addr, e))?;
        if let Some(_text) = self.abort_instead_of_hello(&mut io, notify) {
            return Err(match notify {
                Some(_) => Attempt::Notified(peer.to_string()),
                None => Attempt::Fatal(NetError::Cancelled {
                    peer: peer.to_string(),
                }),
            });
        }
        let ours = self.hello_to(peer);
        io.exchange_hello(peer, &ours)
            .map_err(|e| client_failure(peer, addr, e))?;
        TlsChannel::start(
            peer.to_string(),
            io.conn,
            io.sock,
            io.decoder,
            self.io_timeout,
            self.stop.clone(),
        )
        .map_err(|e| Attempt::Fatal(e.into()))
    }

    fn accept_one(
        &self,
        sock: TcpStream,
        from: SocketAddr,
        expected: &[String],
        notify: Option<&str>,
    ) -> Result<(String, TlsChannel), Attempt> {
        let refused = |detail: String| Attempt::Refused(Refusal::Handshake { from, detail });
        self.prepare(&sock)
            .map_err(|e| refused(format!("socket set-up failed: {e}")))?;
        let conn = rustls::ServerConnection::new(Arc::clone(&self.tls.server))
            .map_err(|e| refused(e.to_string()))?;
        let mut io = SetupIo {
            conn: conn.into(),
            sock,
            decoder: FrameDecoder::new(),
        };
        if let Err(e) = io.handshake() {
            return Err(Attempt::Refused(server_refusal(from, e)));
        }
        let peer = match self.identify(&io, expected) {
            Ok(peer) => peer,
            Err(()) => {
                let r = Refusal::NotAnExpectedParty {
                    from,
                    expected: expected.join(", "),
                };
                io.send_abort(&format!(
                    "party '{}' accepts connections only from {} (checked by certificate name)",
                    self.me,
                    expected.join(", ")
                ));
                return Err(Attempt::Refused(r));
            }
        };
        if self.abort_instead_of_hello(&mut io, notify).is_some() {
            return Err(Attempt::Notified(peer));
        }
        let fresh = self
            .claimed
            .lock()
            .map(|mut c| c.insert(peer.clone()))
            .unwrap_or(false);
        if !fresh {
            let r = Refusal::Duplicate { from, party: peer };
            io.send_abort(&r.to_string());
            return Err(Attempt::Refused(r));
        }
        let unclaim = |peer: &str| {
            if let Ok(mut c) = self.claimed.lock() {
                c.remove(peer);
            }
        };
        let ours = self.hello_to(&peer);
        match io.exchange_hello(&peer, &ours) {
            Ok(()) => {}
            Err(SetupError::Hello(e)) => return Err(Attempt::Fatal(e.into())),
            Err(SetupError::Aborted(reason)) => {
                return Err(Attempt::Fatal(aborted_by(&peer, reason)))
            }
            Err(e) => {
                unclaim(&peer);
                return Err(Attempt::Refused(server_refusal(from, e)));
            }
        }
        TlsChannel::start(
            peer.clone(),
            io.conn,
            io.sock,
            io.decoder,
            self.io_timeout,
            self.stop.clone(),
        )
        .map(|ch| (peer, ch))
        .map_err(|e| Attempt::Fatal(e.into()))
    }

    /// The expected party the verified client certificate is issued to.
    fn identify(&self, io: &SetupIo, expected: &[String]) -> Result<String, ()> {
        let cert: &CertificateDer<'_> = io
            .conn
            .peer_certificates()
            .and_then(|c| c.first())
            .ok_or(())?;
        let parsed = ParsedCertificate::try_from(cert).map_err(|_| ())?;
        expected
            .iter()
            .find(|name| {
                ServerName::try_from(name.as_str())
                    .ok()
                    .is_some_and(|sn| rustls::client::verify_server_name(&parsed, &sn).is_ok())
            })
            .cloned()
            .ok_or(())
    }
}

/// True if a connected socket is connected to itself.
fn is_self_connection(sock: &TcpStream) -> bool {
    matches!((sock.local_addr(), sock.peer_addr()), (Ok(l), Ok(p)) if l == p)
}

/// The error for an abort received from `peer` during set-up: a report that some party
/// stopped, or the peer's refusal.
fn aborted_by(peer: &str, reason: String) -> NetError {
    let parsed = StopReason::from_wire(peer, &reason);
    if parsed.reason != reason {
        NetError::Stopped(parsed)
    } else {
        NetError::RefusedByPeer {
            peer: peer.to_string(),
            reason,
        }
    }
}

/// What went wrong on one connection during set-up.
enum SetupError {
    Io(io::Error),
    Eof,
    Tls(rustls::Error),
    Frame(frame::FrameError),
    Hello(HelloError),
    Aborted(String),
    Unexpected(FrameKind),
}

impl std::fmt::Display for SetupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SetupError::Io(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                write!(f, "timed out during the TLS handshake")
            }
            SetupError::Io(e) => write!(f, "I/O error during the TLS handshake: {e}"),
            SetupError::Eof => write!(f, "connection closed during the TLS handshake"),
            SetupError::Tls(e) => write!(f, "TLS error: {e}"),
            SetupError::Frame(e) => write!(f, "malformed first frame: {e}"),
            SetupError::Hello(e) => write!(f, "{e}"),
            SetupError::Aborted(r) => write!(f, "aborted: {r}"),
            SetupError::Unexpected(k) => write!(f, "expected a hello, got a {k:?} frame"),
        }
    }
}

fn server_refusal(from: SocketAddr, e: SetupError) -> Refusal {
    match e {
        SetupError::Tls(rustls::Error::NoCertificatesPresented) => {
            Refusal::NoClientCertificate { from }
        }
        SetupError::Tls(rustls::Error::InvalidCertificate(ce)) => Refusal::UntrustedCertificate {
            from,
            detail: format!("{ce:?}"),
        },
        other => Refusal::Handshake {
            from,
            detail: other.to_string(),
        },
    }
}

fn client_failure(peer: &str, addr: &str, e: SetupError) -> Attempt {
    let refused = |reason: String| {
        Attempt::Fatal(NetError::RefusedByPeer {
            peer: peer.to_string(),
            reason,
        })
    };
    match e {
        SetupError::Tls(rustls::Error::InvalidCertificate(ce)) => {
            let detail = match ce {
                CertificateError::NotValidForName
                | CertificateError::NotValidForNameContext { .. } => {
                    format!("its certificate is issued by the study CA but not to party '{peer}'")
                }
                CertificateError::UnknownIssuer | CertificateError::BadSignature => {
                    "its certificate is not issued by this study's CA".to_string()
                }
                other => format!("{other:?}"),
            };
            Attempt::Fatal(NetError::PeerCertificate {
                peer: peer.to_string(),
                addr: addr.to_string(),
                detail,
            })
        }
        SetupError::Tls(rustls::Error::AlertReceived(alert)) => refused(match alert {
            AlertDescription::CertificateRequired => "it requires a client certificate".to_string(),
            AlertDescription::UnknownCA
            | AlertDescription::BadCertificate
            | AlertDescription::CertificateUnknown
            | AlertDescription::DecryptError
            | AlertDescription::AccessDenied => format!(
                "it does not accept this party's certificate (TLS alert {alert:?}); check that \
                 the certificate directory holds this party's certificate issued by the study CA"
            ),
            other => format!("TLS alert {other:?}"),
        }),
        SetupError::Tls(other) => Attempt::Fatal(NetError::Handshake {
            peer: peer.to_string(),
            detail: other.to_string(),
        }),
        SetupError::Hello(e) => Attempt::Fatal(e.into()),
        SetupError::Aborted(reason) => Attempt::Fatal(aborted_by(peer, reason)),
        other => Attempt::Retry(format!("{addr}: {other}")),
    }
}

/// Blocking I/O on a not-yet-shared connection during set-up.
struct SetupIo {
    conn: rustls::Connection,
    sock: TcpStream,
    decoder: FrameDecoder,
}

impl SetupIo {
    fn flush(&mut self) -> Result<(), SetupError> {
        while self.conn.wants_write() {
            self.conn
                .write_tls(&mut self.sock)
                .map_err(SetupError::Io)?;
        }
        Ok(())
    }

    /// Read once from the socket and process it; on a TLS error, send the alert rustls queued.
    fn read_some(&mut self) -> Result<(), SetupError> {
        match self.conn.read_tls(&mut self.sock) {
            Ok(0) => return Err(SetupError::Eof),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(()),
            Err(e) => return Err(SetupError::Io(e)),
        }
        if let Err(e) = self.conn.process_new_packets() {
            let _ = self.flush();
            return Err(SetupError::Tls(e));
        }
        Ok(())
    }

    fn handshake(&mut self) -> Result<(), SetupError> {
        while self.conn.is_handshaking() {
            self.flush()?;
            if self.conn.is_handshaking() && self.conn.wants_read() {
                self.read_some()?;
            }
        }
        self.flush()
    }

    fn write_frame(&mut self, kind: FrameKind, payload: &[u8]) -> Result<(), SetupError> {
        let bytes = frame::encode_frame(kind, payload).map_err(SetupError::Frame)?;
        self.conn
            .writer()
            .write_all(&bytes)
            .map_err(SetupError::Io)?;
        self.flush()
    }

    fn send_abort(&mut self, reason: &str) {
        let _ = self.write_frame(FrameKind::Abort, reason.as_bytes());
        self.conn.send_close_notify();
        let _ = self.flush();
    }

    fn read_frame(&mut self) -> Result<frame::Frame, SetupError> {
        let mut plain = [0u8; 4096];
        loop {
            // Decode only as far as the first frame; leave the rest in rustls for the reader
            // thread (the decoder keeps a partial frame).
            loop {
                // Peek: read at most the bytes still missing from the current frame.
                let n = match self.conn.reader().read(&mut plain[..1]) {
                    Ok(0) => return Err(SetupError::Eof),
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(SetupError::Io(e)),
                };
                let (_, frame) = self
                    .decoder
                    .decode(&plain[..n])
                    .map_err(SetupError::Frame)?;
                if let Some(frame) = frame {
                    return Ok(frame);
                }
            }
            self.read_some()?;
        }
    }

    fn exchange_hello(&mut self, peer: &str, ours: &Hello) -> Result<(), SetupError> {
        let bytes = ours.encode().map_err(|e| {
            SetupError::Hello(HelloError::Malformed {
                peer: peer.to_string(),
                detail: e.to_string(),
            })
        })?;
        self.write_frame(FrameKind::Hello, &bytes)?;
        let frame = self.read_frame()?;
        match frame.kind {
            FrameKind::Hello => {}
            FrameKind::Abort => {
                return Err(SetupError::Aborted(
                    String::from_utf8_lossy(&frame.payload).into_owned(),
                ))
            }
            other => return Err(SetupError::Unexpected(other)),
        }
        let checked = Hello::decode(peer, &frame.payload).and_then(|theirs| ours.check(&theirs));
        if let Err(e) = checked {
            // The peer usually detects the same mismatch itself; the abort makes sure it stops
            // with a reason even when it does not.
            self.send_abort(&format!("party '{}' refused the hello: {e}", ours.sender));
            return Err(SetupError::Hello(e));
        }
        Ok(())
    }
}
