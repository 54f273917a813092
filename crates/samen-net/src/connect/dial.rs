//! The dialing side: connect to the peers whose names sort higher, retrying until the deadline.

use super::*;

impl Setup<'_> {
    pub(super) fn dial(
        &self,
        peer: &str,
        addr: &str,
        notify: Option<&Abort>,
    ) -> Result<Option<(String, TlsChannel)>, NetError> {
        let mut last_problem = None;
        let mut next_notice = Instant::now() + WAIT_NOTICE_EVERY;
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
                    if Instant::now() >= next_notice {
                        // Not started yet, not reachable yet, or its name does not resolve
                        // yet: all are waited for, and the operator sees why.
                        tracing::warn!(
                            "still waiting for party '{peer}' at {addr} ({problem}); retrying \
                             every {} ms for up to {} s in total (--connect-timeout)",
                            RETRY_EVERY.as_millis(),
                            self.cfg.connect_timeout.as_secs()
                        );
                        next_notice = Instant::now() + WAIT_NOTICE_EVERY;
                    }
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
}

impl Handshaker {
    pub(super) fn dial_once(
        &self,
        peer: &str,
        addr: &str,
        remaining: Duration,
        notify: Option<&Abort>,
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
        if self.abort_instead_of_hello(&mut io, notify) {
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
}

pub(super) fn client_failure(peer: &str, addr: &str, e: SetupError) -> Attempt {
    let refused = |reason: String| {
        Attempt::Fatal(NetError::RefusedByPeer {
            peer: peer.to_string(),
            reason,
        })
    };
    match e {
        SetupError::Tls(rustls::Error::InvalidCertificate(ce)) => {
            let detail = match ce {
                CertificateError::Other(_) if pin_mismatch(&ce).is_some() => {
                    pin_mismatch(&ce).unwrap_or_default()
                }
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
                 the key directory holds this party's key pinned in the study file (or, with \
                 --certs, its certificate issued by the study CA)"
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
