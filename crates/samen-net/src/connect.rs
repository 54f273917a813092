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
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use rustls::pki_types::{CertificateDer, ServerName};
use rustls::server::{ParsedCertificate, WebPkiClientVerifier};
use rustls::{AlertDescription, CertificateError, ClientConfig, ServerConfig};
use samen_core::channel::Channel;

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
/// Returns one [`TlsChannel`] per peer, keyed by peer name. Fails if the configuration or the
/// certificate files are invalid, if a peer's certificate or hello does not match, if a peer
/// refuses this party, or if some peer has not connected within `cfg.connect_timeout` (the
/// error then names the peer and the last refused connection or connection error).
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
        tls: &tls,
        deadline,
        cancel: AtomicBool::new(false),
    };
    let results: Vec<Result<Vec<(String, TlsChannel)>, NetError>> = thread::scope(|s| {
        let setup = &setup;
        let mut handles = Vec::new();
        if let Some(listener) = listener {
            let accept_from = &accept_from;
            handles.push(s.spawn(move || setup.guard(setup.accept_all(listener, accept_from))));
        }
        for (peer, addr) in &dial_to {
            handles.push(s.spawn(move || setup.guard(setup.dial(peer, addr).map(|c| vec![c]))));
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
    if let Some(e) = first_error {
        for ch in channels.values_mut() {
            ch.abort(&format!(
                "party '{}' could not connect to all parties",
                cfg.me
            ));
        }
        return Err(e);
    }
    Ok(channels)
}

struct Setup<'a> {
    cfg: &'a NetConfig,
    tls: &'a Tls,
    deadline: Instant,
    cancel: AtomicBool,
}

/// How one connection attempt ended, when it did not produce a channel.
enum Attempt {
    /// Try again (dialer) or keep listening (listener), remembering why.
    Retry(String),
    /// Listener side: a refused connection.
    Refused(Refusal),
    /// Give up the whole set-up.
    Fatal(NetError),
}

impl Setup<'_> {
    fn guard<T>(&self, r: Result<T, NetError>) -> Result<T, NetError> {
        if r.is_err() {
            self.cancel.store(true, Ordering::SeqCst);
        }
        r
    }

    fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    fn hello_to(&self, peer: &str) -> Hello {
        Hello {
            version: PROTOCOL_VERSION,
            study_name: self.cfg.study_name.clone(),
            study_hash: self.cfg.study_hash,
            sender: self.cfg.me.clone(),
            receiver: peer.to_string(),
        }
    }

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

    fn dial(&self, peer: &str, addr: &str) -> Result<(String, TlsChannel), NetError> {
        let mut last_problem = None;
        loop {
            if self.cancel.load(Ordering::SeqCst) {
                return Err(NetError::Cancelled {
                    peer: peer.to_string(),
                });
            }
            let remaining = self.remaining();
            if remaining.is_zero() {
                return Err(NetError::ConnectTimeout {
                    peer: peer.to_string(),
                    secs: self.cfg.connect_timeout.as_secs(),
                    last_problem,
                });
            }
            match self.dial_once(peer, addr, remaining) {
                Ok(ch) => return Ok((peer.to_string(), ch)),
                Err(Attempt::Retry(problem)) => {
                    tracing::debug!(peer, addr, problem = %problem, "dial attempt failed; retrying");
                    last_problem = Some(problem);
                    thread::sleep(RETRY_EVERY.min(self.remaining()));
                }
                Err(Attempt::Refused(r)) => {
                    last_problem = Some(r.to_string());
                    thread::sleep(RETRY_EVERY.min(self.remaining()));
                }
                Err(Attempt::Fatal(e)) => return Err(e),
            }
        }
    }

    fn dial_once(
        &self,
        peer: &str,
        addr: &str,
        remaining: Duration,
    ) -> Result<TlsChannel, Attempt> {
        let targets: Vec<SocketAddr> = addr
            .to_socket_addrs()
            .map_err(|e| Attempt::Retry(format!("cannot resolve {addr}: {e}")))?
            .collect();
        let mut last = Attempt::Retry(format!("{addr} resolves to no address"));
        let mut sock = None;
        for target in targets {
            match TcpStream::connect_timeout(&target, remaining.min(HANDSHAKE_TIMEOUT)) {
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
        let ours = self.hello_to(peer);
        io.exchange_hello(peer, &ours)
            .map_err(|e| client_failure(peer, addr, e))?;
        TlsChannel::start(
            peer.to_string(),
            io.conn,
            io.sock,
            io.decoder,
            self.cfg.io_timeout,
        )
        .map_err(|e| Attempt::Fatal(e.into()))
    }

    fn accept_all(
        &self,
        listener: TcpListener,
        expected: &[String],
    ) -> Result<Vec<(String, TlsChannel)>, NetError> {
        let mut got: BTreeMap<String, TlsChannel> = BTreeMap::new();
        let mut last_refusal: Option<Refusal> = None;
        let mut last_problem: Option<String> = None;
        loop {
            let missing = expected.iter().find(|p| !got.contains_key(*p));
            let Some(missing) = missing else {
                return Ok(got.into_iter().collect());
            };
            if self.cancel.load(Ordering::SeqCst) {
                return Err(NetError::Cancelled {
                    peer: missing.clone(),
                });
            }
            if self.remaining().is_zero() {
                let secs = self.cfg.connect_timeout.as_secs();
                return Err(match last_refusal {
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
                });
            }
            match listener.accept() {
                Ok((sock, from)) => match self.accept_one(sock, from, expected, &got) {
                    Ok((name, ch)) => {
                        got.insert(name, ch);
                    }
                    Err(Attempt::Refused(refusal)) => {
                        tracing::warn!(me = %self.cfg.me, "{refusal}");
                        last_refusal = Some(refusal);
                    }
                    Err(Attempt::Retry(problem)) => {
                        tracing::debug!(me = %self.cfg.me, problem = %problem, "incoming connection failed");
                        last_problem = Some(problem);
                    }
                    Err(Attempt::Fatal(e)) => return Err(e),
                },
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    thread::sleep(ACCEPT_POLL.min(self.remaining()));
                }
                Err(e) => {
                    last_problem = Some(format!("accept failed: {e}"));
                    thread::sleep(ACCEPT_POLL.min(self.remaining()));
                }
            }
        }
    }

    fn accept_one(
        &self,
        sock: TcpStream,
        from: SocketAddr,
        expected: &[String],
        got: &BTreeMap<String, TlsChannel>,
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
            Ok(peer) if got.contains_key(&peer) => {
                let r = Refusal::Duplicate { from, party: peer };
                io.send_abort(&r.to_string());
                return Err(Attempt::Refused(r));
            }
            Ok(peer) => peer,
            Err(()) => {
                let r = Refusal::NotAnExpectedParty {
                    from,
                    expected: expected.join(", "),
                };
                io.send_abort(&format!(
                    "party '{}' accepts connections only from {} (checked by certificate name)",
                    self.cfg.me,
                    expected.join(", ")
                ));
                return Err(Attempt::Refused(r));
            }
        };
        let ours = self.hello_to(&peer);
        match io.exchange_hello(&peer, &ours) {
            Ok(()) => {}
            Err(SetupError::Hello(e)) => return Err(Attempt::Fatal(e.into())),
            Err(SetupError::Aborted(reason)) => {
                return Err(Attempt::Fatal(NetError::RefusedByPeer { peer, reason }))
            }
            Err(e) => return Err(Attempt::Refused(server_refusal(from, e))),
        }
        TlsChannel::start(
            peer.clone(),
            io.conn,
            io.sock,
            io.decoder,
            self.cfg.io_timeout,
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
        SetupError::Aborted(reason) => refused(reason),
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
